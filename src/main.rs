//! The `quanze` command: serve, migrate, mint development tokens, import files.

use std::net::TcpListener;
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

fn run(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Token {
            sub,
            org,
            region,
            roles,
            ttl_hours,
        } => {
            RegionCode::parse(&region)?;
            if let Some(bad) = roles.iter().find(|r| Role::parse(r).is_none()) {
                let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                return Err(format!(
                    "unknown role {bad:?}; roles are {}",
                    known.join(", ")
                ));
            }
            let keys = quanze::auth::TokenKeys::from_config(&config.jwt)?;
            println!(
                "{}",
                keys.mint(&sub, &org, &region, &roles, ttl_hours * 3600)?
            );
            Ok(())
        }
        Command::Openapi => {
            print!("{}", quanze::openapi::document());
            Ok(())
        }
        Command::Migrate { revert: None } => {
            let service = Service::from_config(&config)?;
            let applied = service.state.db.migrate().map_err(|e| e.to_string())?;
            eprintln!("quanze: {applied} migration(s) applied");
            Ok(())
        }
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
            let report =
                quanze::generate::generate(db, seed, &scale, &service.state.publication.workflow)
                    .map_err(|e| explain(&e))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            Ok(())
        }
        Command::Serve { demo } => serve(config, demo),
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

/// The problem's detail and each bad field, one per line.
fn explain(error: &quanze::error::AppError) -> String {
    let problem = error.problem();
    let mut text = problem.detail;
    for e in problem.errors {
        let row = e.row.map(|r| format!("row {r}, ")).unwrap_or_default();
        text.push_str(&format!("\n  {row}{}: {}", e.field, e.message));
    }
    text
}

fn serve(config: Config, demo: bool) -> Result<(), String> {
    let service = Service::from_config(&config)?;
    let applied = service
        .state
        .db
        .migrate()
        .map_err(|e| format!("cannot prepare the database: {e}"))?;
    tracing::info!(applied, backend = ?service.state.db.backend(), "database ready");
    if demo && demo::load_if_empty(&service.state.db).map_err(|e| explain(&e))? {
        tracing::info!("demo data loaded: province 510000000000, counties 510521000000 and 510522000000, edition 2026");
    }
    let listener = TcpListener::bind(&config.server.bind)
        .map_err(|e| format!("cannot listen on {}: {e}", config.server.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if config.uses_dev_secret() {
        if addr.ip().is_loopback() {
            tracing::warn!("using the public development JWT secret; set QUANZE_JWT_SECRET before exposing this service");
        } else {
            tracing::error!(
                %addr,
                "DANGER: listening on a non-loopback address with the PUBLIC development JWT secret: \
                 anyone can mint tokens for any role. Set QUANZE_JWT_SECRET (or use RS256/ES256) now."
            );
            eprintln!("\n!!! quanze: the public development JWT secret is in use on {addr}. Anyone can mint tokens. Set QUANZE_JWT_SECRET. !!!\n");
        }
    }
    tracing::info!(%addr, "quanze listening; API docs at http://{addr}/docs/");
    actix_web::rt::System::new()
        .block_on(async move { quanze::http_server(service, listener, &config)?.await })
        .map_err(|e| e.to_string())
}
