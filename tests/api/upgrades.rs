//! Safe upgrades: every migration's `down.sql` runs on a populated database and leaves the
//! schema exactly as it was before its `up.sql`, and rolling back the upgrades whose down
//! keeps data keeps the record (what the service answers, signatures, the audit chain).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use quanze::db::{Db, DbConnection};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::*;

/// What rolling a migration back does to the data.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Down {
    /// Keeps the record: the down drops only what its up makes again from what is kept
    /// (an index, derived counts, rendered bytes) or a short-lived replay memory.
    Keeps,
    /// Loses what the migration's up made: tables or columns whose content nothing else
    /// holds, and that the (immutable) up would not accept if the down kept them.
    Loses,
}

/// Every migration, oldest first: its version and what its down does to the data. A new
/// migration is added here with what its down keeps (until it is, the first test fails).
const MIGRATIONS: [(&str, Down); 11] = [
    // Drops regions, organisations, the catalogue, the audit chain.
    ("20261121000001", Down::Loses),
    // Drops claim rounds, claims and their history.
    ("20261121000002", Down::Loses),
    // Drops the responsibility lists and duty admissions.
    ("20261121000003", Down::Loses),
    // Drops list versions, reviews and findings.
    ("20261121000004", Down::Loses),
    // Moves each version's document back into its row.
    ("20261121000005", Down::Keeps),
    // Drops an index.
    ("20261121000006", Down::Keeps),
    // Drops the audit anchors, the signatures and anchors of publications, the reviewing
    // organisations' names and the event from which the chain is keyed (the up would take
    // every event already written as unkeyed, and none would verify).
    ("20261127000007", Down::Loses),
    // Drops the idempotency keys: the replay memory of a day, not part of the record (a
    // retry of a write sent before the rollback is no longer replayed).
    ("20261127000008", Down::Keeps),
    // Drops the rendered bytes of published versions: made again from the kept content
    // (and signed again by the same key) on the first read.
    ("20261202000009", Down::Keeps),
    // Drops the claim counts and the round's count of items: the up counts them again
    // from the claims.
    ("20261202000010", Down::Keeps),
    // Drops the kinds of township of statutory items after keeping them aside in
    // rollback_township_kinds, which the up puts back.
    ("20261202000011", Down::Keeps),
];

/// The newest migrations, newest first, whose rollback keeps the record: the ones a
/// rolled-back upgrade can pass without losing anything.
fn keeping() -> Vec<&'static str> {
    MIGRATIONS
        .iter()
        .rev()
        .take_while(|(_, down)| *down == Down::Keeps)
        .map(|(version, _)| *version)
        .collect()
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgresql");

/// The tables that hold the record, counted in every fingerprint (after its reads, which
/// make a published power list's slices again when a rollback dropped them). Left out:
/// the replay memory (`idempotency_keys`).
const RECORD_TABLES: [&str; 22] = [
    "regions",
    "sectors",
    "item_categories",
    "organisations",
    "catalogue_editions",
    "catalogue_items",
    "audit_events",
    "audit_head",
    "audit_anchors",
    "claim_rounds",
    "claims",
    "claim_events",
    "claim_counts",
    "duty_lists",
    "duty_matters",
    "duty_departments",
    "duty_admissions",
    "list_versions",
    "version_reviews",
    "review_findings",
    "version_contents",
    "version_slices",
];

// ---------------------------------------------------------------------------------------
// The database, directly

fn postgres(app: &TestApp) -> bool {
    app.db_url.starts_with("postgres")
}

fn database(app: &TestApp) -> Db {
    Db::connect(&app.db_url, 1, Duration::from_secs(10)).expect("the test database")
}

/// Undoes the newest applied migration and names it.
fn revert(app: &TestApp) -> String {
    database(app)
        .revert_last_migration()
        .unwrap_or_else(|e| panic!("a down migration failed on the populated database: {e}"))
}

/// Undoes the newest migrations, asserting they are `versions` (newest first).
fn revert_all(app: &TestApp, versions: &[&str]) {
    for version in versions {
        assert_eq!(revert(app), *version, "reverted out of order");
    }
}

/// Applies every pending migration the service knows; how many it applied.
fn migrate(app: &TestApp) -> usize {
    database(app)
        .migrate()
        .unwrap_or_else(|e| panic!("migrating up again failed: {e}"))
}

/// Applies the next pending migration and names it.
fn migrate_one(app: &TestApp) -> String {
    let db = database(app);
    let mut conn = db.get().unwrap();
    match &mut *conn {
        DbConnection::Sqlite(c) => c.run_next_migration(SQLITE_MIGRATIONS),
        DbConnection::Postgresql(c) => c.run_next_migration(POSTGRES_MIGRATIONS),
    }
    .unwrap_or_else(|e| panic!("an up migration failed: {e}"))
    .to_string()
}

/// The text rows (column `line`) a query answers, read directly.
fn lines(app: &TestApp, sql: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        line: String,
    }
    let db = database(app);
    let mut conn = db.get().unwrap();
    let conn: &mut DbConnection = &mut conn;
    diesel::sql_query(sql)
        .load::<Line>(conn)
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .into_iter()
        .map(|l| l.line)
        .collect()
}

/// The schema, one line per column, constraint, index, trigger, function and sequence,
/// sorted: equal when two databases were left in the same shape. (SQLite's column
/// defaults are left out: it cannot add a NOT NULL column without one, nor drop one
/// without rebuilding the table, so a down that restores a column keeps its default.)
fn schema(app: &TestApp) -> Vec<String> {
    let sql = if postgres(app) {
        "SELECT 'column ' || c.relname || '.' || a.attname || ' ' \
           || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull::text \
           || ' storage=' || a.attstorage::text \
           || ' default=' || COALESCE(pg_get_expr(d.adbin, d.adrelid), '') AS line \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' \
           AND a.attnum > 0 AND NOT a.attisdropped \
         UNION ALL \
         SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' \
           || pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE connamespace = 'public'::regnamespace \
         UNION ALL \
         SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes \
         WHERE schemaname = 'public' \
         UNION ALL \
         SELECT 'trigger ' || t.tgname || ' ' || pg_get_triggerdef(t.oid) \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal \
         UNION ALL \
         SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) \
         FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace \
         UNION ALL \
         SELECT 'relation ' || relkind::text || ' ' || relname FROM pg_class \
         WHERE relnamespace = 'public'::regnamespace AND relkind NOT IN ('r', 'i') \
         ORDER BY 1"
    } else {
        "SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type \
           || ' notnull=' || p.\"notnull\" || ' pk=' || p.pk AS line \
         FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name <> 'sqlite_sequence' \
         UNION ALL \
         SELECT 'foreign key ' || m.name || ' ' || f.id || '/' || f.seq || ' ' || f.\"from\" \
           || ' -> ' || f.\"table\" || '.' || COALESCE(f.\"to\", '') \
           || ' ' || f.on_update || ' ' || f.on_delete \
         FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' \
         UNION ALL \
         SELECT m.type || ' ' || m.name || ' on ' || m.tbl_name || ' ' || COALESCE(m.sql, '') \
         FROM sqlite_master m WHERE m.type IN ('index', 'trigger', 'view') \
         ORDER BY 1"
    };
    // What a rollback keeps aside for the next upgrade (rollback_*) is data, not schema.
    lines(app, sql)
        .into_iter()
        .filter(|line| !line.contains("rollback_"))
        .collect()
}

/// Asserts a schema is `expected`, else fails with `what` and the lines left behind (in
/// `actual` only) and missing (in `expected` only).
fn assert_same_schema(expected: &[String], actual: &[String], what: &str) {
    let left_behind: Vec<&String> = actual.iter().filter(|l| !expected.contains(l)).collect();
    let missing: Vec<&String> = expected.iter().filter(|l| !actual.contains(l)).collect();
    assert!(
        left_behind.is_empty() && missing.is_empty(),
        "{what}: left behind {left_behind:#?}, missing {missing:#?}"
    );
}

/// The tables of the service (not diesel's own, not SQLite's).
fn tables(app: &TestApp) -> Vec<String> {
    lines(
        app,
        if postgres(app) {
            "SELECT tablename AS line FROM pg_tables WHERE schemaname = 'public' \
             AND tablename <> '__diesel_schema_migrations' \
             AND tablename NOT LIKE 'rollback\\_%' ORDER BY 1"
        } else {
            "SELECT name AS line FROM sqlite_master WHERE type = 'table' \
             AND name NOT IN ('__diesel_schema_migrations', 'sqlite_sequence') \
             AND name NOT LIKE 'rollback\\_%' ESCAPE '\\' ORDER BY 1"
        },
    )
}

fn rows(app: &TestApp, table: &str) -> i64 {
    app.count(&format!("SELECT count(*) AS n FROM {table}"))
}

/// The rows of every table that holds the record.
fn record_rows(app: &TestApp) -> BTreeMap<&'static str, i64> {
    RECORD_TABLES
        .iter()
        .map(|table| (*table, rows(app, table)))
        .collect()
}

// ---------------------------------------------------------------------------------------
// A populated database, over HTTP

fn claims_of(app: &TestApp, round: i64, township: &str) -> Vec<Value> {
    expect_json(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/claims?township={township}&page_size=500"),
            &app.compiler(),
        ),
        200,
    )["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn revision_of(claims: &[Value], item: &str) -> Value {
    claims
        .iter()
        .find(|c| c["item"] == item)
        .unwrap_or_else(|| panic!("no claim of {item}"))["revision"]
        .clone()
}

/// `township`'s clerk answers its claims: `(item, answer)` pairs, each at its current
/// revision; a claim is taken on by the township's law-enforcement team.
fn answer(app: &TestApp, round: i64, township: &str, answers: &[(&str, &str)], key: &str) {
    let claims = claims_of(app, round, township);
    let unit = match township {
        YUCHAN => "luxian-yuchan-zfd",
        FUJI => "luxian-fuji-zfd",
        other => panic!("no law-enforcement team for {other}"),
    };
    let answers: Vec<Value> = answers
        .iter()
        .map(|(item, answer)| {
            let mut one =
                json!({"item": item, "answer": answer, "revision": revision_of(&claims, item)});
            match *answer {
                "claim" => one["unit"] = json!(unit),
                _ => one["reason"] = json!("暂无持证执法人员"),
            }
            one
        })
        .collect();
    // Sent with an Idempotency-Key, so that its answer is kept for a retry to replay.
    let response = app
        .request(
            Method::POST,
            &format!("/api/v1/claim-rounds/{round}/answers"),
            Some(&app.clerk(township)),
        )
        .header("Idempotency-Key", key)
        .json(&json!({"township": township, "answers": answers}))
        .send()
        .unwrap();
    expect_json(response, 200);
}

/// The comprehensive-enforcement bureau decides claims of `township`: `(item, decision)`.
fn decide(app: &TestApp, round: i64, township: &str, decisions: &[(&str, &str)]) {
    let claims = claims_of(app, round, township);
    let decisions: Vec<Value> = decisions
        .iter()
        .map(|(item, decision)| {
            let mut one = json!({"township": township, "item": item, "decision": decision, "revision": revision_of(&claims, item)});
            if *decision == "return" {
                one["note"] = json!("承接单位不具备执法资格");
            }
            one
        })
        .collect();
    expect_json(
        app.post(
            &format!("/api/v1/claim-rounds/{round}/confirmations"),
            &app.officer("luxian-zhzf"),
            &json!({"decisions": decisions}),
        ),
        200,
    );
}

fn matter(code: &str, name: &str, lead: &str, supporter: &str) -> Value {
    json!({
        "code": code,
        "name": name,
        "domain": "生态环境",
        "legal_basis": [{"law": "《中华人民共和国大气污染防治法》", "article": "第一百一十八条", "excerpt": "责令改正，处五千元以上五万元以下的罚款"}],
        "lead": {"department": lead, "duties": ["依法查处违法行为", "组织专项整治"]},
        "supporters": [{"department": supporter, "duties": ["配合调查取证"]}],
        "township_duties": ["日常巡查", "发现报告", "劝阻制止"],
        "one_matter": false,
        "lead_response_minutes": 30,
        "support_arrival_minutes": null,
        "notes": null
    })
}

fn version_path(kind: &str) -> String {
    format!("/api/v1/counties/{LUXIAN}/lists/{kind}/versions/1")
}

/// Version 1 of a list of 泸县 submitted, approved at every stage (the first with an
/// advisory finding) and published.
fn publish_list(app: &TestApp, kind: &str) {
    let mut submission = json!({"title": format!("泸县{kind}清单"), "change_summary": "首次编制"});
    if kind == "power" {
        submission["edition"] = json!("2026");
        submission["allow_incomplete"] = json!(true);
        submission["incomplete_reason"] = json!("已确认事项先行公布");
    }
    let submitted = expect_json(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/lists/{kind}/versions"),
            &app.compiler(),
            &submission,
        ),
        201,
    );
    let hash = submitted["content_hash"].as_str().unwrap();
    let stages: &[(&str, &str, &str)] = match kind {
        "power" => &[
            ("legality", "legality_reviewer", "luxian-sfj"),
            ("government", "government_approver", "luxian-gov"),
        ],
        _ => &[
            ("staffing", "staffing_reviewer", "luxian-bb"),
            ("legality", "legality_reviewer", "luxian-sfj"),
            ("approval", "approval_reviewer", "luxian-spj"),
        ],
    };
    for (n, (stage, role, org)) in stages.iter().enumerate() {
        let item = if kind == "power" { "XK-0002" } else { "SD-001" };
        let findings = if n == 0 {
            json!([{"item_code": item, "problem": "法律依据不足", "law": "《中华人民共和国行政处罚法》第二十四条", "severity": "advisory", "change_required": "补充承接条件评估"}])
        } else {
            json!([])
        };
        expect_json(
            app.post(
                &format!("{}/reviews", version_path(kind)),
                &app.token(&[role], LUXIAN, org),
                &json!({"stage": stage, "decision": "approve", "comments": "审查意见见附件", "hash": hash, "findings": findings}),
            ),
            201,
        );
    }
    let etag = app.etag(&version_path(kind), &app.compiler());
    let published = expect_json(
        app.send(
            Method::POST,
            &format!("{}/publish", version_path(kind)),
            &app.compiler(),
            Some(&etag),
            &json!({}),
        ),
        200,
    );
    assert_eq!(published["status"], "published");
}

/// The demo data, a claiming round of 泸县 with answers of every kind, confirmations and a
/// return, a responsibility list with a pending admission request, and both lists
/// published after reviews with findings: a row in every table. Returns the round.
fn populate(app: &TestApp) -> i64 {
    let (round, _) = demo_round_claims(app, YUCHAN);
    answer(
        app,
        round,
        YUCHAN,
        &[
            ("CF-0001", "claim"),
            ("CF-0002", "claim"),
            ("CF-0003", "defer"),
            ("CF-0008", "decline"),
        ],
        "populate-yuchan",
    );
    decide(
        app,
        round,
        YUCHAN,
        &[("CF-0001", "confirm"), ("CF-0002", "return")],
    );
    answer(app, round, FUJI, &[("CF-0001", "claim")], "populate-fuji");
    decide(app, round, FUJI, &[("CF-0001", "confirm")]);

    let matters = format!("/api/v1/counties/{LUXIAN}/duty-list/matters");
    let oily = matter(
        "SD-001",
        "餐饮服务业油烟污染的监管",
        "luxian-sthj",
        "luxian-scjg",
    );
    expect_json(app.post(&matters, &app.compiler(), &oily), 201);
    let straw = matter("SD-002", "违规焚烧秸秆的处置", "luxian-sthj", "luxian-nync");
    expect_json(app.post(&matters, &app.compiler(), &straw), 201);
    let asked = matter(
        "SD-050",
        "电动自行车违规停放充电的处置",
        "luxian-zjj",
        "luxian-zhzf",
    );
    expect_json(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/duty-admissions"),
            &app.officer("luxian-zjj"),
            &json!({"proposal": asked, "justification": "住宅小区电动自行车充电引发火灾隐患，需明确牵头部门"}),
        ),
        201,
    );

    publish_list(app, "power");
    publish_list(app, "duty");
    round
}

// ---------------------------------------------------------------------------------------
// The record as the service answers it

/// The record as the service answers it, by name.
type Fingerprint = BTreeMap<String, Value>;

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks a detached JWS with `ed25519-compact`, not the code that signed: the header
/// names the key, the key comes from the JWK Set, the payload is the body's bytes.
fn verify_signature(keys: &Value, jws: &str, body: &[u8]) -> Result<(), String> {
    let parts: Vec<&str> = jws.split('.').collect();
    let [header, "", signature] = parts[..] else {
        return Err(format!("not a detached compact JWS: {jws}"));
    };
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    let key = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .ok_or("the key set lacks the signature's kid")?;
    let public = ed25519_compact::PublicKey::from_slice(
        &URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap(),
    )
    .map_err(|e| e.to_string())?;
    let signature =
        ed25519_compact::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap())
            .map_err(|e| e.to_string())?;
    let input = format!("{}.{}", parts[0], URL_SAFE_NO_PAD.encode(body));
    public
        .verify(input.as_bytes(), &signature)
        .map_err(|e| e.to_string())
}

/// A signed public answer: its body's hash, its entity tag and its signature, which must
/// verify against the service's key set.
fn signed(app: &TestApp, keys: &Value, path: &str) -> (Value, Vec<u8>) {
    let response = app.get(path);
    assert_eq!(response.status(), 200, "GET {path}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (etag, jws) = (header("etag"), header("x-jws-signature"));
    let body = response.bytes().unwrap().to_vec();
    let jws = jws.unwrap_or_else(|| panic!("{path} is served unsigned"));
    verify_signature(keys, &jws, &body)
        .unwrap_or_else(|e| panic!("{path}: its signature does not verify: {e}"));
    let seen = json!({"sha256": sha256(&body), "etag": etag, "signature": jws});
    (seen, body)
}

/// What the record looks like from outside, entry by entry: the published lists (bytes,
/// hashes, signatures, reviews, the feed), the catalogue, the round's claims, history and
/// statistics, the responsibility list and its admissions, the audit trail and its
/// verification, and the rows of the tables that hold it. Every signature served is
/// checked as it is read, and every document against the hash it was published with.
fn fingerprint(app: &TestApp, round: i64) -> Fingerprint {
    let mut print = BTreeMap::new();
    let compiler = app.compiler();
    let auditor = app.token_for("auditor", PROVINCE);
    let keys = expect_json(app.get("/public/v1/keys"), 200);
    let mut read = |name: &str, value: Value| {
        print.insert(name.to_string(), value);
    };

    for kind in ["power", "duty"] {
        let versions = expect_json(
            app.get(&format!(
                "/public/v1/counties/{LUXIAN}/lists/{kind}/versions"
            )),
            200,
        );
        let path = format!("/public/v1/counties/{LUXIAN}/lists/{kind}/versions/1");
        let (document, _) = signed(app, &keys, &path);
        assert_eq!(
            document["sha256"], versions[0]["content_hash"],
            "the {kind} list is served as it was published"
        );
        let path = format!("/public/v1/counties/{LUXIAN}/lists/{kind}");
        read(
            &format!("the {kind} list in force"),
            signed(app, &keys, &path).0,
        );
        read(&format!("the {kind} list, version 1"), document);
        read(&format!("the {kind} list's versions"), versions);
    }
    let (slice, body) = signed(
        app,
        &keys,
        &format!("/public/v1/townships/{YUCHAN}/power-list"),
    );
    let slice_of: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        slice_of["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["code"] == "CF-0001"),
        "玉蟾's confirmed claim is in its power list: {slice_of}"
    );
    read("玉蟾's power list", slice);
    read(
        "the publication feed",
        expect_json(app.get("/public/v1/publications.json"), 200),
    );

    let catalogue = app.get("/public/v1/catalogue/editions/2026/export");
    assert_eq!(catalogue.status(), 200);
    read("the catalogue", json!(sha256(&catalogue.bytes().unwrap())));
    read(
        "the catalogue's items",
        expect_json(
            app.get_as(
                "/api/v1/catalogue/editions/2026/items?page_size=500",
                &compiler,
            ),
            200,
        ),
    );

    let round_path = format!("/api/v1/claim-rounds/{round}");
    read(
        "the round",
        expect_json(app.get_as(&round_path, &compiler), 200),
    );
    read(
        "the round's statistics",
        expect_json(
            app.get_as(&format!("{round_path}/statistics"), &compiler),
            200,
        ),
    );
    read(
        "玉蟾's statistics",
        expect_json(
            app.get_as(&format!("{round_path}/statistics"), &app.clerk(YUCHAN)),
            200,
        ),
    );
    read(
        "the round's claims",
        expect_json(app.get_as(&format!("{round_path}/export"), &compiler), 200),
    );
    let claims = claims_of(app, round, YUCHAN);
    let confirmed = claims.iter().find(|c| c["item"] == "CF-0001").unwrap();
    read(
        "玉蟾's CF-0001 and its history",
        expect_json(
            app.get_as(&format!("/api/v1/claims/{}", confirmed["id"]), &compiler),
            200,
        ),
    );
    read(
        "玉蟾's power set",
        expect_json(
            app.get_as(&format!("/api/v1/townships/{YUCHAN}/power-set"), &compiler),
            200,
        ),
    );

    read(
        "the responsibility list",
        expect_json(
            app.get_as(
                &format!("/api/v1/counties/{LUXIAN}/duty-list/export"),
                &auditor,
            ),
            200,
        ),
    );
    read(
        "the duty admissions",
        expect_json(
            app.get_as(
                &format!("/api/v1/counties/{LUXIAN}/duty-admissions?page_size=500"),
                &auditor,
            ),
            200,
        ),
    );

    read(
        "the audit chain's verification",
        expect_json(app.get_as("/api/v1/audit/verify", &auditor), 200),
    );
    let events = expect_json(app.get_as("/api/v1/audit?page_size=500", &auditor), 200);
    assert_eq!(
        events["total"].as_u64(),
        Some(events["items"].as_array().unwrap().len() as u64),
        "every audit event on one page"
    );
    read("the audit events", events);

    read("rows", json!(record_rows(app)));
    print
}

/// The trust a fingerprint shows: each list served with the signature it was published
/// with and anchored in the audit chain, and the chain (with its anchors) verifying.
fn assert_trusted(print: &Fingerprint) {
    for kind in ["power", "duty"] {
        let document = &print[&format!("the {kind} list, version 1")];
        let published = &print[&format!("the {kind} list's versions")][0];
        assert_eq!(
            document["signature"], published["signature"],
            "the {kind} list is served with the signature it was published with"
        );
        assert!(
            published["audit_anchor"]["audit_seq"].as_i64().is_some(),
            "the {kind} list is anchored in the audit chain: {published}"
        );
    }
    let report = &print["the audit chain's verification"];
    assert_eq!(report["valid"], true, "the audit chain verifies: {report}");
    assert!(
        report["anchors_checked"].as_i64().unwrap() > 0,
        "against its anchors: {report}"
    );
}

/// Asserts two fingerprints are the same, entry by entry, naming what `after` changed.
fn assert_same(before: &Fingerprint, after: &Fingerprint, after_what: &str) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (name, was) in before {
        assert_eq!(&after[name], was, "{name} changed after {after_what}");
    }
}

// ---------------------------------------------------------------------------------------
// Tests

/// Every down migration must run on a database in use, not only on an empty one: each is
/// reverted on a populated database down to none, each must leave the schema exactly as it
/// was before its up (nothing left behind for the up to trip over, nothing more dropped),
/// and the service must work on the database migrated up again.
#[test]
fn every_down_migration_runs_on_a_populated_database_and_up_works_again() {
    let app = TestApp::with_demo();
    populate(&app);
    let empty: Vec<String> = tables(&app)
        .into_iter()
        .filter(|table| rows(&app, table) == 0)
        .collect();
    assert!(empty.is_empty(), "tables left empty by populate: {empty:?}");

    // Down, one at a time, recording the schema at each level.
    let mut down = vec![schema(&app)];
    for (version, _) in MIGRATIONS.iter().rev() {
        assert_eq!(revert(&app), *version, "reverted out of order");
        down.push(schema(&app));
    }
    down.reverse();
    assert_eq!(tables(&app), Vec::<String>::new(), "every table dropped");
    assert!(
        down[0]
            .iter()
            .all(|line| line.contains("__diesel_schema_migrations")),
        "nothing but the migration log left behind: {:#?}",
        down[0]
    );

    // Up, one at a time, recording the schema at each level.
    let mut up = vec![schema(&app)];
    for (version, _) in MIGRATIONS.iter() {
        assert_eq!(migrate_one(&app), *version, "applied out of order");
        up.push(schema(&app));
    }
    // Each down left the schema its up found, the newest first: below a down that left
    // something behind, the levels differ too.
    for level in (0..MIGRATIONS.len()).rev() {
        let version = MIGRATIONS[level].0;
        assert_same_schema(
            &up[level],
            &down[level],
            &format!("{version}'s down did not leave the schema its up found"),
        );
    }
    assert_eq!(migrate(&app), 0, "the service's migrations are all applied");

    // The empty database takes the demo again, and the service answers over it.
    let service = quanze::Service::from_config(&app.config).expect("a service");
    assert!(quanze::demo::load_if_empty(&service.state.db).expect("the demo loads"));
    let upgraded = app.beside(|_| {});
    let items = expect_json(
        upgraded.get_as(
            "/api/v1/catalogue/editions/2026/items?page_size=500",
            &upgraded.compiler(),
        ),
        200,
    );
    assert!(items["total"].as_i64().unwrap() > 0, "{items}");
    let report = expect_json(
        upgraded.get_as(
            "/api/v1/audit/verify",
            &upgraded.token_for("auditor", PROVINCE),
        ),
        200,
    );
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["events_checked"], upgraded.audit_count());
    // It writes too: a round opens, is answered, and counted.
    let round = populate(&upgraded);
    assert_trusted(&fingerprint(&upgraded, round));
}

/// A rolled-back upgrade must not lose the record: the newest migrations whose down keeps
/// data are reverted together on a populated database and applied again, and a server
/// started afresh over it answers exactly as before (the published lists with the same
/// bytes, hash and verifying signatures, the same statistics, a valid audit chain).
#[test]
fn rolling_back_the_upgrades_that_keep_data_keeps_the_record() {
    let app = TestApp::with_demo();
    let round = populate(&app);
    let before = fingerprint(&app, round);
    assert_trusted(&before);
    let shape = schema(&app);
    let kept = record_rows(&app);
    let keeping = keeping();
    assert!(
        keeping.len() >= 3,
        "claim counts, rendered bytes and idempotency keys roll back keeping the record"
    );

    revert_all(&app, &keeping);
    // Rolled back, the record's tables still there hold every row they held.
    let still_there: Vec<&str> = tables(&app)
        .iter()
        .filter_map(|table| RECORD_TABLES.iter().find(|t| *t == table).copied())
        .collect();
    for table in still_there {
        assert_eq!(
            rows(&app, table),
            kept[table],
            "rows of {table} rolled back"
        );
    }

    assert_eq!(migrate(&app), keeping.len());
    let what = "the schema changed by rolling back and upgrading again";
    assert_same_schema(&shape, &schema(&app), what);
    let upgraded = app.beside(|_| {});
    let after = fingerprint(&upgraded, round);
    assert_trusted(&after);
    assert_same(
        &before,
        &after,
        &format!("rolling back {keeping:?} and upgrading again"),
    );
}

/// Each upgrade that keeps data must keep it on its own, not only as part of a set: from
/// the newest down to the oldest that keeps data, one more migration is rolled back and
/// applied again each time, and the record holds after each; between rollbacks the
/// service writes (a claim is answered), so each rollback meets counts moved by the
/// service, not only those its own up made.
#[test]
fn each_upgrade_that_keeps_data_rolls_back_and_forward_keeping_it() {
    let app = TestApp::with_demo();
    let round = populate(&app);
    let mut before = fingerprint(&app, round);
    assert_trusted(&before);
    let shape = schema(&app);
    let keeping = keeping();
    let answered = ["CF-0007", "CF-0009", "CF-0010", "CF-0004", "CF-0006"];
    assert!(
        keeping.len() <= answered.len(),
        "a claim to answer per rollback"
    );

    let mut server: Option<TestApp> = None;
    for (depth, item) in (1..=keeping.len()).zip(answered) {
        // The previous server is stopped, as for a rollback.
        drop(server.take());
        let rolled = &keeping[..depth];
        revert_all(&app, rolled);
        assert_eq!(migrate(&app), depth, "{rolled:?} applied again");
        let what = format!("the schema changed by rolling back {rolled:?} and upgrading again");
        assert_same_schema(&shape, &schema(&app), &what);
        let upgraded = app.beside(|_| {});
        let after = fingerprint(&upgraded, round);
        assert_trusted(&after);
        assert_same(
            &before,
            &after,
            &format!("rolling back {rolled:?} and upgrading again"),
        );
        // The service moves a claim (and its counts); that is the record from now on.
        answer(
            &upgraded,
            round,
            YUCHAN,
            &[(item, "claim")],
            &format!("after-{depth}"),
        );
        before = fingerprint(&upgraded, round);
        assert_ne!(
            before["the round's statistics"], after["the round's statistics"],
            "answering {item} moved the statistics"
        );
        server = Some(upgraded);
    }
}

/// Rolling back past the trust upgrade (000007) cannot keep what that upgrade added, but
/// must keep everything else: it and the migrations above it are rolled back, the
/// documents must be back in their versions' rows intact (000005's down), and once up
/// again every list, claim, count and audit event is as before. What is lost is exactly
/// what 000007 made, pinned here so that a rollback losing more fails: the stored
/// signatures and anchors of publications, the reviewing organisations' names, and where
/// the audit chain's keyed events begin (every event written before no longer verifies).
#[test]
fn rolling_back_past_the_trust_upgrade_loses_only_what_it_added() {
    let app = TestApp::with_demo();
    let round = populate(&app);
    let before = fingerprint(&app, round);
    assert_trusted(&before);
    let kept = record_rows(&app);
    let trust = MIGRATIONS
        .iter()
        .position(|(version, _)| *version == "20261127000007")
        .unwrap();
    // Down to the oldest migration below the trust upgrade that keeps data.
    let bottom = (0..trust)
        .rev()
        .take_while(|&level| MIGRATIONS[level].1 == Down::Keeps)
        .last()
        .expect("migrations below the trust upgrade that keep data");
    let rolled: Vec<&str> = MIGRATIONS[bottom..]
        .iter()
        .rev()
        .map(|(version, _)| *version)
        .collect();
    revert_all(&app, &rolled);

    let documents = lines(
        &app,
        "SELECT content_hash || ' ' || content AS line FROM list_versions",
    );
    assert_eq!(documents.len() as i64, kept["list_versions"]);
    for document in &documents {
        let (hash, content) = document.split_once(' ').unwrap();
        assert_eq!(
            sha256(content.as_bytes()),
            hash,
            "a version's document moved back into its row intact"
        );
    }

    assert_eq!(migrate(&app), rolled.len());
    let upgraded = app.beside(|_| {});
    let after = fingerprint(&upgraded, round);
    let what = format!("rolling back {rolled:?} and upgrading again");
    let mut lost = vec!["the publication feed".to_string(), "rows".to_string()];
    for kind in ["power", "duty"] {
        let versions = format!("the {kind} list's versions");
        let published = &after[&versions][0];
        assert!(
            published["signature"].is_null() && published["audit_anchor"].is_null(),
            "the trust upgrade's rollback drops the stored signature and anchor: {published}"
        );
        assert_eq!(
            without_trust(&after[&versions]),
            without_trust(&before[&versions]),
            "the {kind} list's versions changed after {what}, besides their trust"
        );
        lost.push(versions);
    }
    assert_eq!(
        without_trust(&after["the publication feed"]["items"]),
        without_trust(&before["the publication feed"]["items"]),
        "the publication feed changed after {what}, besides its trust"
    );
    let mut rows = before["rows"].clone();
    rows["audit_anchors"] = json!(0);
    assert_eq!(after["rows"], rows, "rows changed after {what}");
    let events = kept["audit_events"];
    let report = &after["the audit chain's verification"];
    assert_eq!(
        (
            &report["valid"],
            &report["first_bad_seq"],
            &report["keyed_from"]
        ),
        (&json!(false), &json!(1), &json!(events + 1)),
        "the chain's keyed events are taken as unkeyed: {report}"
    );
    lost.push("the audit chain's verification".to_string());
    for (name, was) in &before {
        if !lost.contains(name) {
            assert_eq!(&after[name], was, "{name} changed after {what}");
        }
    }
}

/// Published versions (or feed entries) without what the trust upgrade added: the stored
/// signature, the anchor, the reviewing organisations' names.
fn without_trust(versions: &Value) -> Value {
    let mut versions = versions.clone();
    for version in versions.as_array_mut().unwrap() {
        let version = version.as_object_mut().unwrap();
        version.remove("signature");
        version.remove("audit_anchor");
        for review in version["reviews"].as_array_mut().unwrap() {
            review["organisation"]
                .as_object_mut()
                .unwrap()
                .remove("name");
        }
    }
    versions
}
