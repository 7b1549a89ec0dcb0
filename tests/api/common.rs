//! A real quanze server on a loopback port over a fresh database: a temporary SQLite
//! file by default, or a new PostgreSQL database when `QUANZE_TEST_DATABASE_URL` names
//! a server (`postgres://user@host:port/postgres`; each test creates and drops its own).

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use quanze::auth::TokenKeys;
use quanze::config::Config;
use quanze::{demo, Service};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::Method;
use serde_json::Value;

pub use serde_json::json;

/// The demo province, counties and townships.
pub const PROVINCE: &str = "510000000000";
pub const LUXIAN: &str = "510521000000";
pub const HEJIANG: &str = "510522000000";
pub const YUCHAN: &str = "510521001000";
pub const FUJI: &str = "510521100000";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

enum Database {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Another server's database: that server owns it.
    Borrowed,
}

/// The township unit a demo township's clerk acts for.
pub fn unit_of(township: &str) -> &'static str {
    match township {
        "510521001000" => "luxian-yuchan-bmzx",
        "510521100000" => "luxian-fuji-bmzx",
        "510521101000" => "luxian-jiaming-bmzx",
        "510522100000" => "hejiang-hejiang-bmzx",
        "510522101000" => "hejiang-baisha-bmzx",
        "510522200000" => "hejiang-zihuai-bmzx",
        other => panic!("no demo township {other}"),
    }
}

/// A running server and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// The metrics listener, `http://127.0.0.1:port`.
    pub metrics_base: String,
    /// The database URL the server uses.
    pub db_url: String,
    /// The configuration it runs with (development keys in `keys.dev_dir`).
    pub config: Config,
    _keys_dir: Option<tempfile::TempDir>,
    client: Client,
    keys: TokenKeys,
    handle: actix_web::dev::ServerHandle,
    metrics_handle: actix_web::dev::ServerHandle,
    database: Database,
}

/// The configuration every test server starts from.
pub fn test_config(db_url: &str) -> Config {
    let mut config = Config::defaults();
    config.database.url = db_url.to_string();
    config.database.pool_size = 4;
    config.server.workers = 1;
    config.server.body_limit = 64 * 1024;
    config.server.import_limit = 2 * 1024 * 1024;
    config.server.shutdown_timeout_secs = 1;
    // Development keys, made once per test process outside the working tree.
    config.keys.dev_dir = std::env::temp_dir()
        .join(format!("quanze-test-keys-{}", std::process::id()))
        .to_string_lossy()
        .into_owned();
    config
}

/// Serialises making and dropping templates across test processes (held exclusively);
/// held shared while a test database is copied from one, so that no process drops the
/// template being copied (another checkout's tests may run beside these).
const TEMPLATE_LOCK: i64 = 0x7175_616e_7a65;

/// The name of a database migrated to this tree's PostgreSQL migrations, made by the
/// first test process that needs it (one per set of migrations, named by their paths in
/// the tree and their content, so that checkouts with the same migrations share it; older
/// ones are dropped). Returns holding the template lock shared: release it once copied.
fn migrated_template(admin: &mut diesel::PgConnection, base: &str) -> String {
    use diesel::prelude::*;
    use sha2::{Digest, Sha256};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgresql");
    let mut files: Vec<_> = walk(&root);
    files.sort();
    let mut hash = Sha256::new();
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .expect("a file under the migrations");
        hash.update(relative.to_string_lossy().as_bytes());
        hash.update(std::fs::read(file).expect("a migration file"));
    }
    let name = format!("quanze_template_{}", &hex::encode(hash.finalize())[..16]);
    admin
        .batch_execute(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
        .expect("the template lock");
    #[derive(QueryableByName)]
    struct Named {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let templates: Vec<Named> = diesel::sql_query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'quanze\\_template\\_%'",
    )
    .load(admin)
    .expect("list templates");
    if !templates.iter().any(|t| t.datname == name) {
        for old in &templates {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                old.datname
            ));
        }
        let building = format!("{name}_building");
        for statement in [
            format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
            format!("CREATE DATABASE {building}"),
        ] {
            admin
                .batch_execute(&statement)
                .expect("create the template");
        }
        let db = quanze::db::Db::connect(&format!("{base}/{building}"), 1, Duration::from_secs(10))
            .expect("connect to the template");
        db.migrate().expect("migrate the template");
        drop(db);
        for statement in [
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{building}' AND pid <> pg_backend_pid()"
            ),
            format!("ALTER DATABASE {building} RENAME TO {name}"),
            format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"),
        ] {
            admin.batch_execute(&statement).expect("name the template");
        }
    }
    admin
        .batch_execute(&format!(
            "SELECT pg_advisory_lock_shared({TEMPLATE_LOCK}); SELECT pg_advisory_unlock({TEMPLATE_LOCK})"
        ))
        .expect("hold the template lock shared");
    name
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the migrations folder") {
        let path = entry.expect("a migrations entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A new test database's name, the admin connection and the server's base URL.
fn postgres_admin(admin_url: &str) -> (String, diesel::PgConnection, String) {
    let name = format!(
        "quanze_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let admin =
        diesel::PgConnection::establish(admin_url).expect("connect to the PostgreSQL test server");
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("a database URL with a path");
    (name, admin, base.to_string())
}

fn fresh_database() -> (String, Database) {
    match std::env::var("QUANZE_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let (name, mut admin, base) = postgres_admin(&admin_url);
            let base = base.as_str();
            // Copies of one migrated template: a test does not run every migration.
            let template = migrated_template(&mut admin, base);
            // (One statement per call: PostgreSQL runs a batch as one transaction, and
            // CREATE DATABASE refuses to run inside one.)
            for statement in [
                format!("DROP DATABASE IF EXISTS {name}"),
                format!("CREATE DATABASE {name} TEMPLATE {template}"),
                format!("SELECT pg_advisory_unlock_shared({TEMPLATE_LOCK})"),
            ] {
                admin
                    .batch_execute(&statement)
                    .expect("create a test database");
            }
            (
                format!("{base}/{name}"),
                Database::Postgres { admin_url, name },
            )
        }
        _ => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = dir.path().join("quanze.db").to_string_lossy().into_owned();
            (url, Database::Sqlite(dir))
        }
    }
}

/// A database of the test's own, outside any server: dropped with it.
pub struct ScratchDatabase {
    /// Its URL (an SQLite file path, or postgres://).
    pub url: String,
    /// Where an SQLite database's file lives (and what else a test writes beside it).
    pub dir: tempfile::TempDir,
    database: Database,
}

impl ScratchDatabase {
    /// A database migrated to this tree's schema.
    pub fn migrated() -> ScratchDatabase {
        let (url, database) = fresh_database();
        quanze::db::Db::connect(&url, 1, Duration::from_secs(10))
            .and_then(|db| db.migrate())
            .expect("migrate a scratch database");
        match database {
            Database::Sqlite(dir) => ScratchDatabase {
                url,
                dir,
                database: Database::Borrowed,
            },
            other => ScratchDatabase {
                url,
                dir: tempfile::tempdir().expect("temporary directory"),
                database: other,
            },
        }
    }

    /// A database with nothing in it, not even the migrations' table.
    pub fn empty() -> ScratchDatabase {
        let dir = tempfile::tempdir().expect("temporary directory");
        match std::env::var("QUANZE_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let (name, mut admin, base) = postgres_admin(&admin_url);
                for statement in [
                    format!("DROP DATABASE IF EXISTS {name}"),
                    format!("CREATE DATABASE {name}"),
                ] {
                    admin.batch_execute(&statement).expect("create a database");
                }
                ScratchDatabase {
                    url: format!("{base}/{name}"),
                    dir,
                    database: Database::Postgres { admin_url, name },
                }
            }
            _ => ScratchDatabase {
                url: dir.path().join("quanze.db").to_string_lossy().into_owned(),
                dir,
                database: Database::Borrowed,
            },
        }
    }

    /// True on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        drop_database(&self.database);
    }
}

fn drop_database(database: &Database) {
    if let Database::Postgres { admin_url, name } = database {
        if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// The `quanze` binary with a configuration of its own: the built-in defaults, `url` as
/// its database, development keys in `keys_dir`, nothing from the caller's environment.
pub fn quanze_command(url: &str, keys_dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_quanze"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("QUANZE_DATABASE_URL", url)
        .env("QUANZE_DEV_KEY_DIR", keys_dir)
        .current_dir(keys_dir);
    command
}

/// A free loopback address.
pub fn free_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().unwrap().to_string()
}

impl TestApp {
    /// A server over an empty (migrated) database.
    pub fn spawn() -> TestApp {
        Self::start(false, |_| {})
    }

    /// A server over the demo data set.
    pub fn with_demo() -> TestApp {
        Self::start(true, |_| {})
    }

    /// A server over the demo data set, its configuration adjusted first.
    #[allow(dead_code, reason = "the api target does not adjust the configuration")]
    pub fn with_demo_configured(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::start(true, adjust)
    }

    /// A second server over this one's database (an upgrade, a key rotation), its
    /// configuration adjusted from this one's.
    pub fn beside(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = self.config.clone();
        adjust(&mut config);
        Self::serve(config, Database::Borrowed, false, None)
    }

    fn start(with_demo: bool, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let (db_url, database) = fresh_database();
        let keys_dir = tempfile::tempdir().expect("temporary directory");
        let mut config = test_config(&db_url);
        config.keys.dev_dir = keys_dir.path().to_string_lossy().into_owned();
        adjust(&mut config);
        Self::serve(config, database, with_demo, Some(keys_dir))
    }

    fn serve(
        config: Config,
        database: Database,
        with_demo: bool,
        keys_dir: Option<tempfile::TempDir>,
    ) -> TestApp {
        let db_url = config.database.url.clone();
        let service = Service::from_config(&config).expect("service");
        service.state.db.migrate().expect("migrations");
        if with_demo {
            demo::load_if_empty(&service.state.db).expect("demo data");
        }
        let keys = TokenKeys::from_config(&config.jwt).expect("keys");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let metrics_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let metrics_base = format!("http://{}", metrics_listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        let server_config = config.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let metrics = quanze::metrics::server(service.state.clone(), metrics_listener)
                    .expect("metrics server");
                let server =
                    quanze::http_server(service, listener, &server_config).expect("server");
                tx.send((server.handle(), metrics.handle())).unwrap();
                actix_web::rt::spawn(metrics);
                let _ = server.await;
            })
        });
        let (handle, metrics_handle) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestApp {
            base,
            metrics_base,
            metrics_handle,
            db_url,
            config,
            _keys_dir: keys_dir,
            client,
            keys,
            handle,
            database,
        }
    }

    /// A token for `roles` acting for `org` in `region`; each combination of roles and
    /// organisation is its own person (`sub` is `roles@org`).
    pub fn token(&self, roles: &[&str], region: &str, org: &str) -> String {
        self.token_as(&format!("{}@{org}", roles.join("+")), roles, region, org)
    }

    /// A token for the person `sub`.
    pub fn token_as(&self, sub: &str, roles: &[&str], region: &str, org: &str) -> String {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        self.keys.mint(sub, org, region, &roles, 3600).unwrap()
    }

    /// A token with arbitrary claims, signed with the test secret.
    pub fn token_with_claims(&self, claims: &Value) -> String {
        jsonwebtoken_encode(&self.config, claims)
    }

    /// The clerk of a demo township, acting for one of its units.
    /// The 泸县 list compiler.
    pub fn compiler(&self) -> String {
        self.token(&["county_compiler"], LUXIAN, "luxian-gov")
    }

    /// An officer of a 泸县 organisation.
    pub fn officer(&self, org: &str) -> String {
        self.token(&["department_officer"], LUXIAN, org)
    }

    pub fn clerk(&self, township: &str) -> String {
        self.token(&["township_clerk"], township, unit_of(township))
    }

    /// A token with one role.
    pub fn token_for(&self, role: &str, region: &str) -> String {
        self.token(&[role], region, "test-org")
    }

    /// The province catalogue admin.
    pub fn admin(&self) -> String {
        self.token_for("catalogue_admin", PROVINCE)
    }

    /// A request builder for `path` (absolute path on the server).
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let mut builder = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        builder
    }

    /// GET without a token.
    pub fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).send().unwrap()
    }

    /// GET with a token.
    pub fn get_as(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token)).send().unwrap()
    }

    /// A JSON write with a token and an optional If-Match.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut builder = self.request(method, path, Some(token)).json(body);
        if let Some(etag) = if_match {
            builder = builder.header("If-Match", etag);
        }
        builder.send().unwrap()
    }

    /// POST JSON with a token.
    pub fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.send(Method::POST, path, token, None, body)
    }

    /// The ETag of a resource.
    pub fn etag(&self, path: &str, token: &str) -> String {
        let response = self.get_as(path, token);
        assert_eq!(response.status(), 200, "GET {path}");
        response.headers()["etag"].to_str().unwrap().to_string()
    }

    /// An insider with the database owner's rights lifts the audit tables' append-only
    /// triggers.
    pub fn lift_append_only(&self) {
        if self.db_url.starts_with("postgres") {
            self.sql("DROP TRIGGER audit_events_append_only ON audit_events; DROP TRIGGER audit_anchors_append_only ON audit_anchors");
        } else {
            self.sql("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; DROP TRIGGER audit_anchors_no_update; DROP TRIGGER audit_anchors_no_delete");
        }
    }

    /// Runs SQL directly on the test database (to simulate tampering); the database's
    /// own refusal comes back as an error.
    pub fn try_sql(&self, sql: &str) -> Result<(), String> {
        let db = quanze::db::Db::connect(&self.db_url, 1, Duration::from_secs(5)).unwrap();
        let mut conn = db.get().unwrap();
        let conn: &mut quanze::db::DbConnection = &mut conn;
        conn.batch_execute(sql).map_err(|e| e.to_string())
    }

    /// Runs SQL directly on the test database (to simulate tampering).
    pub fn sql(&self, sql: &str) {
        let db = quanze::db::Db::connect(&self.db_url, 1, Duration::from_secs(5)).unwrap();
        let mut conn = db.get().unwrap();
        let conn: &mut quanze::db::DbConnection = &mut conn;
        conn.batch_execute(sql).unwrap();
    }

    /// The number a `SELECT count(*) AS n …` statement answers, read directly.
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let db = quanze::db::Db::connect(&self.db_url, 1, Duration::from_secs(5)).unwrap();
        let mut conn = db.get().unwrap();
        let conn: &mut quanze::db::DbConnection = &mut conn;
        diesel::RunQueryDsl::get_result::<Count>(diesel::sql_query(sql), conn)
            .unwrap()
            .n
    }

    /// Number of audit events, read with an auditor token of the province.
    pub fn audit_count(&self) -> i64 {
        let token = self.token_for("auditor", PROVINCE);
        let body: Value = self
            .get_as("/api/v1/audit?page_size=1", &token)
            .json()
            .unwrap();
        body["total"].as_i64().unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let (handle, metrics) = (self.handle.clone(), self.metrics_handle.clone());
        let _ = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                metrics.stop(false).await;
                handle.stop(false).await;
            });
        })
        .join();
        drop_database(&self.database);
    }
}

/// Signs `claims` as a token with the configuration's HS secret.
fn jsonwebtoken_encode(config: &Config, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(config.jwt.secret.as_bytes()),
    )
    .unwrap()
}

/// The answer's ETag; panics when it has none.
pub fn etag_of(response: &Response) -> String {
    response
        .headers()
        .get("etag")
        .expect("an ETag header")
        .to_str()
        .unwrap()
        .to_string()
}

/// Asserts a 403 refusal by a named rule of the workflow, and returns its body.
pub fn expect_refusal(response: Response, rule: &str) -> Value {
    let body = expect_problem(response, 403);
    assert_eq!(body["rule"], rule, "refused by another rule: {body}");
    assert_eq!(body["type"], "/problems/refused-by-rule", "{body}");
    body
}

/// Reads a response as JSON, asserting the status first (printing the body if wrong).
pub fn expect_json(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.text().unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    if status >= 400 {
        assert_eq!(
            content_type, "application/problem+json",
            "errors are problem+json; body: {text}"
        );
    }
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a problem response with `status` and returns its body.
pub fn expect_problem(response: Response, status: u16) -> Value {
    let body = expect_json(response, status);
    assert_eq!(body["status"], status);
    assert!(
        body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The `field` names of a problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A valid item body.
pub fn item(code: &str, name: &str) -> Value {
    json!({
        "code": code,
        "name": name,
        "category": "02",
        "source": "delegable",
        "delegation_mode": "direct",
        "sector": "comprehensive_enforcement",
        "domain": "市容环境",
        "legal_basis": [{"law": "《城市市容和环境卫生管理条例》", "article": "第三十四条", "excerpt": "责令改正，可以并处罚款"}],
        "responsibilities": [{"stage": "受理", "duty": "接收举报并登记"}, {"stage": "决定", "duty": "依法作出处罚决定"}],
        "accountability": ["不依法履行职责的"],
        "time_limit_days": null,
        "high_frequency": false,
        "service_guide": null,
        "parent_code": null
    })
}

/// Opens a claiming round of the demo edition in 泸县 as its compiler; the round's id and
/// `township`'s claims.
pub fn demo_round_claims(app: &TestApp, township: &str) -> (i64, Vec<Value>) {
    let compiler = app.token(&["county_compiler"], LUXIAN, "luxian-gov");
    let round = expect_json(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
            &compiler,
            &json!({"edition": "2026", "title": "双向认领", "deadline": "2099-12-31"}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let claims = expect_json(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/claims?township={township}&page_size=500"),
            &compiler,
        ),
        200,
    )["items"]
        .as_array()
        .unwrap()
        .clone();
    (round, claims)
}

/// Creates a draft edition in the demo province and returns its ETag.
pub fn draft(app: &TestApp, code: &str) -> String {
    let response = app.post(
        "/api/v1/catalogue/editions",
        &app.admin(),
        &json!({"code": code, "title": format!("测试目录 {code}")}),
    );
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    expect_json(response, 201);
    etag.unwrap()
}

/// What in `value` breaks `schema` of the served OpenAPI document `spec`: every property
/// it lacks that the schema requires, every one the schema does not name, every value of
/// the wrong type. Enough of JSON Schema for the documents quanze serves.
pub fn nonconformities(spec: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = spec
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("no schema {reference}"));
        return nonconformities(spec, target, value, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            if options
                .iter()
                .any(|o| nonconformities(spec, o, value, at).is_empty())
            {
                return Vec::new();
            }
            return vec![format!("{at}: matches none of {key}")];
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let fits = types.is_empty()
        || types.contains(&kind)
        || (kind == "integer" && types.contains(&"number"));
    if !fits {
        return vec![format!("{at}: a {kind} where the schema says {types:?}")];
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            return vec![format!("{at}: {value} is not one of {allowed:?}")];
        }
    }
    let mut problems = Vec::new();
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for field in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let field = field.as_str().unwrap();
                if !map.contains_key(field) {
                    problems.push(format!("{at}: lacks {field}"));
                }
            }
            if let Some(properties) = properties {
                for (field, inner) in map {
                    match properties.get(field) {
                        Some(property) => problems.extend(nonconformities(
                            spec,
                            property,
                            inner,
                            &format!("{at}.{field}"),
                        )),
                        None if schema.get("additionalProperties").is_none() => {
                            problems.push(format!("{at}: {field} is not in the schema"))
                        }
                        None => {}
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(element) = schema.get("items") {
                for (i, item) in items.iter().enumerate().take(50) {
                    problems.extend(nonconformities(spec, element, item, &format!("{at}[{i}]")));
                }
            }
        }
        _ => {}
    }
    problems
}
