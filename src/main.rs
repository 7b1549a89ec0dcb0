//! The `quanze` command: serve, migrate, mint development tokens, import files.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use quanze::auth::{Principal, Role};
use quanze::catalogue::{read_import_file, Edition, Items, NewEdition};
use quanze::config::Config;
use quanze::http::{parse_csv, Format, ImportBody};
use quanze::organisations::{parse_organisations, Organisation};
use quanze::regions::{Region, RegionCode, RegionInput};
use quanze::{demo, Service};

#[derive(Parser)]
#[command(
    name = "quanze",
    version,
    about = "權責: the registry of township powers and duties"
)]
struct Cli {
    /// Configuration file (default: config/default.toml if present, else built-in defaults).
    #[arg(long, global = true)]
    config: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve HTTP.
    Serve {
        /// Load the demo data set first when the database is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate {
        /// Undo the last N applied migrations instead (rolling an upgrade back).
        #[arg(long, value_name = "N")]
        revert: Option<usize>,
    },
    /// Mint a development token with the configured HS* secret and print it.
    Token {
        /// Subject (user id).
        #[arg(long)]
        sub: String,
        /// Organisation code.
        #[arg(long)]
        org: String,
        /// Region division code the token acts in.
        #[arg(long)]
        region: String,
        /// Role (repeat for several).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 12)]
        ttl_hours: i64,
    },
    /// Import regions, organisations or a catalogue edition from a file.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Load the demo data set into an empty database.
    Demo,
    /// Print the OpenAPI document.
    Openapi,
    /// The service's own keys: the publication signing key and the audit chain's key.
    Keys {
        #[command(subcommand)]
        what: KeysCommand,
    },
    /// Check a downloaded published document (or township slice) against its detached
    /// JWS signature (the `x-jws-signature` header, or a version's `signature`), offline.
    Verify {
        /// The document, byte for byte as served (decoded, if it came gzip-encoded).
        file: String,
        /// The detached JWS (`header..signature`).
        #[arg(long)]
        signature: String,
        /// The JWK Set: a file, or an http:// address such as
        /// http://host:8080/public/v1/keys (default: the configured keys).
        #[arg(long)]
        keys: Option<String>,
    },
    /// The audit trail, checked offline.
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Copy the live SQLite database into FILE (a new file), while the service keeps
    /// serving and writing; the copy is checked before it is named. For PostgreSQL, use
    /// pg_dump (see the README).
    Backup {
        /// The backup to write; never overwritten.
        file: String,
    },
    /// Put a backup made by `quanze backup` in place of the configured SQLite database
    /// (refused while a quanze uses it; the replaced database is kept beside it), then
    /// check its audit chain and every published version's bytes.
    Restore {
        /// The backup.
        file: String,
    },
    /// The configuration.
    Config {
        #[command(subcommand)]
        what: ConfigCommand,
    },
    /// Fill an empty database with a realistic, seeded province (about 3,000 townships)
    /// through the service's own domain code; prints a JSON report.
    Generate {
        /// The seed: the same seed builds the same data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// A small province (8 counties) instead of the full one.
        #[arg(long)]
        small: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write new keys to files that do not exist yet (never overwritten), then name them
    /// in [keys] of the configuration.
    Generate {
        /// Where to write a new Ed25519 signing key (PKCS#8 PEM).
        #[arg(long)]
        signing_key: Option<String>,
        /// Where to write a new audit key (hex).
        #[arg(long)]
        audit_key: Option<String>,
    },
    /// Print the public key (PEM) of a signing key, to list it in
    /// `keys.retired_signing_keys` once it is replaced.
    Public {
        /// The signing key file.
        file: String,
    },
    /// Print the JWK Set the service serves at /public/v1/keys.
    Jwks,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets masked) and every problem with it;
    /// exits 1 when one of them would stop `serve`.
    Check,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the chain in the configured database (or --database): every link and MAC,
    /// the head, and every signed anchor. Prints a report; exits 1 when it fails.
    Verify {
        /// A database file or postgres:// URL instead of the configured one.
        #[arg(long)]
        database: Option<String>,
        /// A publication feed saved outside the database (publications.json): its
        /// anchors are held against the chain too.
        #[arg(long)]
        feed: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Regions from CSV (code,name,level,parent) or a JSON array.
    Regions {
        /// The file (.csv or .json).
        file: String,
    },
    /// Organisations from CSV (code,name,kind,sector,region) or a JSON array.
    Organisations {
        /// The file (.csv or .json).
        file: String,
    },
    /// A catalogue edition's items from CSV or JSON, into a draft edition (created if new).
    Catalogue {
        /// The file (.csv or .json).
        file: String,
        /// Edition code.
        #[arg(long)]
        edition: String,
        /// Title, when the edition is new.
        #[arg(long)]
        title: Option<String>,
        /// Province division code, when the edition is new.
        #[arg(long)]
        province: String,
        /// Publish the edition after importing.
        #[arg(long)]
        publish: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("quanze: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    match run(cli.command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quanze: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn file_body(path: &str) -> Result<ImportBody, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let format = if path.ends_with(".csv") {
        Format::Csv
    } else {
        Format::Json
    };
    Ok(ImportBody {
        format,
        bytes: bytes.into(),
    })
}

/// Prints a development token, refusing what the service would refuse.
fn mint_token(
    config: &Config,
    sub: &str,
    org: &str,
    region: &str,
    roles: &[String],
    ttl_hours: i64,
) -> Result<(), String> {
    RegionCode::parse(region)?;
    if let Some(bad) = roles.iter().find(|r| Role::parse(r).is_none()) {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        return Err(format!(
            "unknown role {bad:?}; roles are {}",
            known.join(", ")
        ));
    }
    let lifetime = ttl_hours.saturating_mul(3600);
    if !(1..=config.jwt.max_lifetime_secs).contains(&lifetime) {
        return Err(format!(
            "--ttl-hours must give a lifetime of at most jwt.max_lifetime_secs ({} s): the service refuses longer tokens",
            config.jwt.max_lifetime_secs
        ));
    }
    let keys = quanze::auth::TokenKeys::from_config(&config.jwt)?;
    println!("{}", keys.mint(sub, org, region, roles, lifetime)?);
    Ok(())
}

fn run(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Token {
            sub,
            org,
            region,
            roles,
            ttl_hours,
        } => mint_token(&config, &sub, &org, &region, &roles, ttl_hours),
        Command::Openapi => {
            print!("{}", quanze::openapi::document());
            Ok(())
        }
        Command::Migrate { revert: None } => {
            let service = Service::from_config(&config)?;
            let applied = service.state.db.migrate().map_err(|e| explain(&e))?;
            eprintln!("quanze: {applied} migration(s) applied");
            Ok(())
        }
        Command::Backup { file } => backup(&config, &file),
        Command::Restore { file } => restore(config, &file),
        Command::Config {
            what: ConfigCommand::Check,
        } => check_config(&config),
        Command::Migrate {
            revert: Some(count),
        } => {
            let service = Service::from_config(&config)?;
            for _ in 0..count {
                let version = service
                    .state
                    .db
                    .revert_last_migration()
                    .map_err(|e| e.to_string())?;
                eprintln!("quanze: reverted migration {version}");
            }
            Ok(())
        }
        Command::Demo => {
            let service = Service::from_config(&config)?;
            service.state.db.migrate().map_err(|e| e.to_string())?;
            let loaded = demo::load_if_empty(&service.state.db).map_err(|e| e.to_string())?;
            eprintln!(
                "quanze: {}",
                if loaded {
                    "demo data loaded"
                } else {
                    "the database is not empty; nothing loaded"
                }
            );
            Ok(())
        }
        Command::Import { what } => import(what, &config),
        Command::Generate { seed, small } => {
            let service = Service::from_config(&config)?;
            let db = &service.state.db;
            db.migrate().map_err(|e| e.to_string())?;
            let empty = db
                .read_blocking(|conn| {
                    use diesel::prelude::*;
                    Ok(quanze::db::schema::regions::table
                        .count()
                        .get_result::<i64>(conn)?
                        == 0)
                })
                .map_err(|e| e.to_string())?;
            if !empty {
                return Err(
                    "generate fills an empty database; this one already holds regions".into(),
                );
            }
            let scale = if small {
                quanze::generate::Scale::small()
            } else {
                quanze::generate::Scale::province()
            };
            let report = quanze::generate::generate(db, seed, &scale, &service.state.publication)
                .map_err(|e| explain(&e))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            Ok(())
        }
        Command::Serve { demo } => serve(config, demo),
        Command::Keys { what } => keys(what, &config),
        Command::Verify {
            file,
            signature,
            keys,
        } => verify_document(&file, &signature, keys.as_deref(), &config),
        Command::Audit {
            what: AuditCommand::Verify { database, feed },
        } => verify_audit(config, database, &feed),
    }
}

/// The SQLite file the configuration names, or what to do instead on PostgreSQL.
fn sqlite_file(config: &Config, postgres_instead: &str) -> Result<std::path::PathBuf, String> {
    let url = &config.database.url;
    if quanze::db::Backend::from_url(url) == quanze::db::Backend::Postgres {
        return Err(format!(
            "the database is PostgreSQL: {postgres_instead} (see the README's operations section)"
        ));
    }
    Ok(std::path::PathBuf::from(
        url.trim_start_matches("sqlite://"),
    ))
}

fn backup(config: &Config, file: &str) -> Result<(), String> {
    let database = sqlite_file(
        config,
        "back it up with `pg_dump --format=custom --file=FILE DATABASE_URL`",
    )?;
    let summary = quanze::db::backup::backup(&database, std::path::Path::new(file))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn restore(config: Config, file: &str) -> Result<(), String> {
    let database = sqlite_file(
        &config,
        "restore with `pg_restore --clean --if-exists --no-owner --dbname=DATABASE_URL FILE`, then run `quanze audit verify`",
    )?;
    let restored = quanze::db::backup::restore(std::path::Path::new(file), &database)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&restored).map_err(|e| e.to_string())?
    );
    eprintln!("quanze: restored {}; checking it", database.display());
    verify_audit(config, None, &[])
}

fn check_config(config: &Config) -> Result<(), String> {
    use quanze::config::check;
    print!("{}", check::effective(config));
    let findings = check::check(config);
    println!();
    for finding in &findings {
        let severity = match finding.severity {
            check::Severity::Error => "error",
            check::Severity::Warning => "warning",
        };
        println!("# {severity}: {}: {}", finding.setting, finding.message);
    }
    let errors = check::errors(&findings).len();
    if errors > 0 {
        return Err(format!(
            "{errors} problem(s) in the configuration would stop `serve`"
        ));
    }
    println!("# the configuration is fit to serve");
    Ok(())
}

fn keys(what: KeysCommand, config: &Config) -> Result<(), String> {
    use quanze::keys;
    match what {
        KeysCommand::Generate {
            signing_key,
            audit_key,
        } => {
            if signing_key.is_none() && audit_key.is_none() {
                return Err("say which key to write: --signing-key FILE, --audit-key FILE".into());
            }
            if let Some(path) = signing_key {
                let path = std::path::Path::new(&path);
                keys::write_new_key_file(path, &keys::new_signing_key_pem()?)?;
                let public = keys::read_public_key(path)?;
                eprintln!(
                    "quanze: wrote signing key {} (kid {}); set keys.signing_key_file",
                    path.display(),
                    keys::Jwk::of(&public).kid
                );
            }
            if let Some(path) = audit_key {
                keys::write_new_key_file(std::path::Path::new(&path), &keys::new_audit_key_hex()?)?;
                eprintln!("quanze: wrote audit key {path}; set keys.audit_key_file and keep a copy apart from the database");
            }
            Ok(())
        }
        KeysCommand::Public { file } => {
            print!(
                "{}",
                keys::public_key_pem(&keys::read_public_key(std::path::Path::new(&file))?)?
            );
            Ok(())
        }
        KeysCommand::Jwks => {
            let loaded = keys::ServiceKeys::load(&config.keys)?;
            println!(
                "{}",
                serde_json::to_string_pretty(loaded.signing.jwk_set()).map_err(|e| e.to_string())?
            );
            Ok(())
        }
    }
}

/// A JWK Set from a file or a plain http:// address.
fn read_jwk_set(source: &str) -> Result<quanze::keys::JwkSet, String> {
    let bytes = if source.starts_with("http://") {
        http_get(source)?
    } else if source.contains("://") {
        return Err(format!(
            "{source}: only http:// is fetched here; download the key set and pass the file"
        ));
    } else {
        std::fs::read(source).map_err(|e| format!("cannot read {source}: {e}"))?
    };
    serde_json::from_slice(&bytes).map_err(|e| format!("{source} is not a JWK Set: {e}"))
}

/// A plain HTTP/1.1 GET, enough for a key set on a local network.
fn http_get(url: &str) -> Result<Vec<u8>, String> {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let address = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let mut stream = std::net::TcpStream::connect(&address)
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("cannot ask {url}: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("cannot read {url}: {e}"))?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{url} did not answer HTTP"))?;
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") && !head.starts_with("http/1.0 200") {
        return Err(format!(
            "{url} answered {}",
            head.lines().next().unwrap_or("")
        ));
    }
    let mut body = answer[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut decoded = Vec::new();
        let mut rest = &body[..];
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..end])
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim(),
                16,
            )
            .map_err(|_| format!("{url}: a bad chunk"))?;
            if size == 0 || rest.len() < end + 2 + size {
                break;
            }
            decoded.extend_from_slice(&rest[end + 2..end + 2 + size]);
            rest = &rest[(end + 4 + size).min(rest.len())..];
        }
        body = decoded;
    }
    Ok(body)
}

fn verify_document(
    file: &str,
    signature: &str,
    keys: Option<&str>,
    config: &Config,
) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let set = match keys {
        Some(source) => read_jwk_set(source)?,
        None => quanze::keys::ServiceKeys::load(&config.keys)?
            .signing
            .jwk_set()
            .clone(),
    };
    match set.verify_detached(signature, &bytes) {
        Ok(kid) => {
            println!("valid: {file} is signed by key {kid}");
            Ok(())
        }
        Err(problem) => Err(format!("NOT VALID: {file}: {problem}")),
    }
}

fn verify_audit(
    mut config: Config,
    database: Option<String>,
    feeds: &[String],
) -> Result<(), String> {
    if let Some(url) = database {
        config.database.url = url;
    }
    let mut outside = Vec::new();
    for feed in feeds {
        let text = std::fs::read(feed).map_err(|e| format!("cannot read {feed}: {e}"))?;
        let parsed: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| format!("{feed} is not JSON: {e}"))?;
        outside.extend(
            parsed["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item["audit_anchor"]["jws"].as_str())
                .map(String::from),
        );
    }
    let service = Service::from_config(&config)?;
    let db = &service.state.db;
    let key = db.audit_key().map_err(|e| explain(&e))?;
    let report = db
        .read_blocking(|conn| {
            quanze::audit::verify(
                conn,
                &key,
                service.state.publication.signing.jwk_set(),
                &outside,
            )
        })
        .map_err(|e| explain(&e))?;
    let stored = db
        .read_blocking(|conn| {
            quanze::publication::Rendered::check(conn, service.state.publication.signing.jwk_set())
        })
        .map_err(|e| explain(&e))?;
    // The chain's report as before, with the check of the published bytes beside it.
    let mut printed = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    printed["published_bytes"] = serde_json::to_value(&stored).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&printed).map_err(|e| e.to_string())?
    );
    if !stored.problems.is_empty() {
        return Err(format!(
            "published bytes do not match their hashes: {}",
            stored.problems.join("; ")
        ));
    }
    if report.valid {
        Ok(())
    } else {
        Err(format!(
            "the audit chain does not verify: {} (check {}, event {})",
            report.problem.unwrap_or_default(),
            report.check.unwrap_or_default(),
            report
                .first_bad_seq
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into())
        ))
    }
}

fn import(what: ImportCommand, config: &Config) -> Result<(), String> {
    let service = Service::from_config(config)?;
    let db = &service.state.db;
    db.migrate().map_err(|e| e.to_string())?;
    let report = match what {
        ImportCommand::Regions { file } => {
            let body = file_body(&file)?;
            let rows = match body.format {
                Format::Csv => parse_csv::<RegionInput>(&body.bytes),
                Format::Json => body
                    .json::<Vec<RegionInput>>()
                    .map(|v| v.into_iter().enumerate().map(|(i, r)| (i + 1, r)).collect()),
            }
            .map_err(|e| explain(&e))?;
            let actor = Principal::system(
                rows.first()
                    .and_then(|(_, r)| RegionCode::parse(&r.code).ok())
                    .map(|c| c.province())
                    .ok_or("the file has no regions")?,
            );
            db.write_blocking(|conn| Region::import(conn, &actor, None, rows, false))
        }
        ImportCommand::Organisations { file } => {
            let rows = parse_organisations(&file_body(&file)?).map_err(|e| explain(&e))?;
            let actor = Principal::system(
                rows.first()
                    .and_then(|(_, r)| RegionCode::parse(&r.region).ok())
                    .map(|c| c.province())
                    .ok_or("the file has no organisations")?,
            );
            db.write_blocking(|conn| Organisation::import(conn, &actor, None, rows, false))
        }
        ImportCommand::Catalogue {
            file,
            edition,
            title,
            province,
            publish,
        } => {
            let rows = read_import_file(&file).map_err(|e| explain(&e))?;
            let actor = Principal::system(RegionCode::parse(&province)?);
            db.write_blocking(|conn| {
                if Edition::find(conn, &edition).is_err() {
                    Edition::create(
                        conn,
                        &actor,
                        NewEdition {
                            code: edition.clone(),
                            title: title
                                .clone()
                                .unwrap_or_else(|| format!("Catalogue {edition}")),
                            province: Some(province.clone()),
                        },
                    )?;
                }
                let report = Items::import(conn, &actor, &edition, None, rows, false)?;
                if publish {
                    let current = Edition::find(conn, &edition)?;
                    Edition::publish(conn, &actor, &edition, current.revision)?;
                }
                Ok(report)
            })
        }
    }
    .map_err(|e| explain(&e))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    Ok(())
}

/// The problem's detail and each bad field, one per line; an internal failure in full
/// (the command line speaks to the operator, whom the API's answers keep it from).
fn explain(error: &quanze::error::AppError) -> String {
    if let quanze::error::AppError::Internal(detail) = error {
        return detail.clone();
    }
    let problem = error.problem();
    let mut text = problem.detail;
    for e in problem.errors {
        let row = e.row.map(|r| format!("row {r}, ")).unwrap_or_default();
        text.push_str(&format!("\n  {row}{}: {}", e.field, e.message));
    }
    text
}

/// Refuses a configuration with errors, logging every finding.
fn refuse_bad_configuration(config: &Config) -> Result<(), String> {
    use quanze::config::check;
    let findings = check::check(config);
    for finding in &findings {
        match finding.severity {
            check::Severity::Error => {
                tracing::error!(setting = %finding.setting, "{}", finding.message)
            }
            check::Severity::Warning => {
                tracing::warn!(setting = %finding.setting, "{}", finding.message)
            }
        }
    }
    let errors = check::errors(&findings);
    if errors.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = errors
        .iter()
        .map(|f| format!("  {}: {}", f.setting, f.message))
        .collect();
    Err(format!(
        "the configuration has {} problem(s); `quanze config check` lists them:\n{}",
        errors.len(),
        listed.join("\n")
    ))
}

/// Brings the schema up to this binary's, or refuses to serve what it cannot use.
fn prepare_schema(config: &Config, db: &quanze::db::Db) -> Result<(), String> {
    let status = db.schema_status().map_err(|e| explain(&e))?;
    quanze::db::refuse_unknown(&status)?;
    if status.pending.is_empty() {
        tracing::info!(schema = status.applied.last().map(String::as_str), backend = ?db.backend(), "database ready");
        return Ok(());
    }
    if !config.database.migrates_on_start() {
        return Err(format!(
            "the database needs {} migration(s) ({}) and database.migrate_on_start is off: \
             run `quanze migrate` once, then start the instances; or set QUANZE_MIGRATE_ON_START=true",
            status.pending.len(),
            status.pending.join(", ")
        ));
    }
    let applied = db
        .migrate()
        .map_err(|e| format!("cannot prepare the database: {}", explain(&e)))?;
    tracing::info!(applied, backend = ?db.backend(), "database migrated and ready");
    Ok(())
}

fn serve(config: Config, demo: bool) -> Result<(), String> {
    refuse_bad_configuration(&config)?;
    let service = Service::from_config(&config)?;
    prepare_schema(&config, &service.state.db)?;
    if demo && demo::load_if_empty(&service.state.db).map_err(|e| explain(&e))? {
        tracing::info!("demo data loaded: province 510000000000, counties 510521000000 and 510522000000, edition 2026");
    }
    let (db, publication) = (service.state.db.clone(), service.state.publication.clone());
    std::thread::spawn(move || {
        if let Err(error) = quanze::publication::render_missing(&db, &publication) {
            tracing::error!(%error, "making the bytes of published versions failed; reads will make them");
        }
    });
    let listener = quanze::listen(&config.server)
        .map_err(|e| format!("cannot listen on {}: {e}", config.server.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics_listener = if config.metrics.bind.is_empty() {
        None
    } else {
        let listener = std::net::TcpListener::bind(&config.metrics.bind)
            .map_err(|e| format!("cannot listen on {} for metrics: {e}", config.metrics.bind))?;
        let metrics_addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%metrics_addr, "metrics at http://{metrics_addr}/metrics");
        Some(listener)
    };
    tracing::info!(%addr, "quanze listening; API docs at http://{addr}/docs/");
    actix_web::rt::System::new()
        .block_on(async move {
            let metrics = metrics_listener
                .map(|listener| quanze::metrics::server(service.state.clone(), listener))
                .transpose()?;
            let metrics_handle = metrics.as_ref().map(|server| server.handle());
            if let Some(server) = metrics {
                actix_web::rt::spawn(server);
            }
            let served = quanze::http_server(service, listener, &config)?.await;
            if let Some(handle) = metrics_handle {
                handle.stop(true).await;
            }
            served
        })
        .map_err(|e| e.to_string())
}
