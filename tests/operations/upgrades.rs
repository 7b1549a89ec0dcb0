//! Upgrades that refuse what they cannot use: a schema newer than the binary, pending
//! migrations when `serve` is not to apply them; and instances starting together that
//! migrate once.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// A `quanze serve` process, killed when dropped.
pub struct Served {
    pub child: Child,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `serve` (with `extra` arguments) on a free port, logging to a file.
    pub fn start(
        mut command: std::process::Command,
        dir: &std::path::Path,
        extra: &[&str],
    ) -> Served {
        let address = free_address();
        let log = dir.join(format!("serve-{}.log", address.replace([':', '.'], "-")));
        let child = command
            .arg("serve")
            .args(extra)
            .env("QUANZE_BIND", &address)
            .env("QUANZE_METRICS_BIND", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start quanze serve");
        Served {
            child,
            base: format!("http://{address}"),
            log,
        }
    }

    /// Waits until `/readyz` answers 200; `Err` with the log when the process exits first.
    pub fn ready(&mut self) -> Result<(), String> {
        let client = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("exited {status}: {}", self.log_text()));
            }
            if let Ok(response) = client.get(format!("{}/readyz", self.base)).send() {
                if response.status() == 200 {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("quanze serve did not become ready: {}", self.log_text());
    }

    /// Waits for the process to exit on its own and returns its log.
    pub fn refused(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(!status.success());
                return self.log_text();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("quanze serve kept running: {}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

#[test]
fn a_database_upgraded_by_a_newer_quanze_is_refused_with_what_to_do() {
    let scratch = ScratchDatabase::migrated();
    let keys = scratch.dir.path();
    let db = quanze::db::Db::connect(&scratch.url, 1, Duration::from_secs(5)).unwrap();
    assert!(db.schema_status().unwrap().unknown.is_empty());
    {
        use diesel::connection::SimpleConnection;
        let mut conn = db.get().unwrap();
        let conn: &mut quanze::db::DbConnection = &mut conn;
        conn.batch_execute(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000011')",
        )
        .unwrap();
    }
    let status = db.schema_status().unwrap();
    assert_eq!(status.unknown, vec!["29991231000011".to_string()]);
    assert!(status.pending.is_empty());
    let refused = db.migrate().unwrap_err().to_string();
    assert!(refused.contains("newer than this quanze"), "{refused}");
    drop(db);

    let said = Served::start(quanze_command(&scratch.url, keys), keys, &[]).refused();
    assert!(said.contains("newer than this quanze"), "{said}");
    assert!(said.contains("migrate --revert 1"), "{said}");
    let migrate = quanze_command(&scratch.url, keys)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!migrate.status.success());
}

#[test]
fn serve_applies_pending_migrations_only_when_configured_to() {
    let scratch = ScratchDatabase::empty();
    let keys = scratch.dir.path();
    let mut told_not_to = quanze_command(&scratch.url, keys);
    told_not_to.env("QUANZE_MIGRATE_ON_START", "false");
    let said = Served::start(told_not_to, keys, &[]).refused();
    assert!(said.contains("quanze migrate"), "{said}");
    assert!(said.contains("QUANZE_MIGRATE_ON_START"), "{said}");

    let by_default = Served::start(quanze_command(&scratch.url, keys), keys, &[]);
    if scratch.is_postgres() {
        // Several instances start at once on PostgreSQL: one `quanze migrate` upgrades.
        let said = by_default.refused();
        assert!(said.contains("quanze migrate"), "{said}");
        let migrated = quanze_command(&scratch.url, keys)
            .arg("migrate")
            .output()
            .unwrap();
        assert!(migrated.status.success(), "{migrated:?}");
        let mut served = Served::start(quanze_command(&scratch.url, keys), keys, &[]);
        served.ready().unwrap();
    } else {
        let mut served = by_default;
        served.ready().unwrap();
        assert!(served.log_text().contains("database migrated and ready"));
    }
    let status = quanze::db::Db::connect(&scratch.url, 1, Duration::from_secs(5))
        .unwrap()
        .schema_status()
        .unwrap();
    assert!(status.pending.is_empty() && status.unknown.is_empty());
}

#[test]
fn instances_migrating_together_apply_each_migration_once() {
    let scratch = ScratchDatabase::empty();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
    let racers: Vec<_> = (0..3)
        .map(|_| {
            let (url, barrier) = (scratch.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let db = quanze::db::Db::connect(&url, 1, Duration::from_secs(30)).unwrap();
                barrier.wait();
                db.migrate().map_err(|e| e.to_string())
            })
        })
        .collect();
    let applied: Vec<usize> = racers
        .into_iter()
        .map(|r| r.join().unwrap().expect("every instance starts"))
        .collect();
    let db = quanze::db::Db::connect(&scratch.url, 1, Duration::from_secs(5)).unwrap();
    let status = db.schema_status().unwrap();
    assert!(status.pending.is_empty());
    assert_eq!(
        applied.iter().sum::<usize>(),
        status.applied.len(),
        "each migration applied once: {applied:?}"
    );
}
