//! Backups made while the service writes, restored, and checked: every write acknowledged
//! before the backup began is in it, the audit chain verifies, published bytes match
//! their hashes. SQLite through `quanze backup` / `quanze restore`; PostgreSQL through
//! `pg_dump` / `pg_restore`, as the README tells its operators.

use std::collections::BTreeSet;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

/// Claims acknowledged to a writer: (township, item).
type Acked = Arc<Mutex<BTreeSet<(String, String)>>>;

/// Four clerks answering their claims one request at a time until told to stop.
struct Writers {
    stop: Arc<AtomicBool>,
    acked: Acked,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Writers {
    fn start(app: &Arc<TestApp>, round: i64) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let acked: Acked = Arc::default();
        let mut threads = Vec::new();
        let lanes = [(YUCHAN, 0), (FUJI, 0), (JIAMING, 0), (YUCHAN, 1)];
        for (township, half) in lanes {
            let (app, stop, acked) = (app.clone(), stop.clone(), acked.clone());
            threads.push(std::thread::spawn(move || {
                let claims = claims_of(&app, round, township);
                for claim in claims.iter().skip(half).step_by(2) {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let item = claim["item"].as_str().unwrap().to_string();
                    let response = answer(
                        &app,
                        round,
                        township,
                        json!([{"item": item, "answer": "defer", "reason": "待条件成熟后承接", "revision": claim["revision"]}]),
                    );
                    assert_eq!(response.status(), 200, "{}", response.text().unwrap());
                    acked.lock().unwrap().insert((township.to_string(), item));
                }
            }));
        }
        Writers {
            stop,
            acked,
            threads,
        }
    }

    /// Waits until at least `n` answers were acknowledged.
    fn wait_for(&self, n: usize) {
        for _ in 0..600 {
            if self.acked.lock().unwrap().len() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the writers did not get going");
    }

    fn acknowledged(&self) -> BTreeSet<(String, String)> {
        self.acked.lock().unwrap().clone()
    }

    fn finish(self) -> BTreeSet<(String, String)> {
        for thread in self.threads {
            thread.join().expect("a writer failed");
        }
        self.stop.store(true, Ordering::Relaxed);
        self.acked.lock().unwrap().clone()
    }
}

fn run(command: &mut std::process::Command) -> Output {
    let output = command.output().expect("run the command");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A PostgreSQL client tool, or `None` (the test says it was skipped).
fn pg_tool(name: &str) -> Option<std::path::PathBuf> {
    let mut candidates: Vec<std::path::PathBuf> = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(name))
        .collect();
    if let Ok(versions) = std::fs::read_dir("/usr/lib/postgresql") {
        for version in versions.flatten() {
            candidates.push(version.path().join("bin").join(name));
        }
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Everything a restored copy must show, checked through a server over it.
fn check_restored(
    app: &TestApp,
    restored_url: &str,
    round: i64,
    before: &BTreeSet<(String, String)>,
    slice: &str,
) {
    // The audit chain and the published bytes, offline, with the service's keys.
    let keys = std::path::Path::new(&app.config.keys.dev_dir);
    let verified = run(quanze_command(restored_url, keys).args(["audit", "verify"]));
    let report: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(report["valid"], true, "{report}");
    assert!(
        report["published_bytes"]["slices"].as_i64().unwrap() >= 3,
        "{report}"
    );
    assert_eq!(report["published_bytes"]["problems"], json!([]), "{report}");

    let copy = app.beside(|config| config.database.url = restored_url.to_string());
    for township in [YUCHAN, FUJI, JIAMING] {
        let deferred: BTreeSet<String> = claims_of(&copy, round, township)
            .iter()
            .filter(|c| c["state"] == "deferred")
            .map(|c| c["item"].as_str().unwrap().to_string())
            .collect();
        for (_, item) in before.iter().filter(|(t, _)| t == township) {
            assert!(
                deferred.contains(item),
                "{township} {item}: acknowledged before the backup began, missing from it"
            );
        }
    }
    let original = app.get(slice);
    let restored = copy.get(slice);
    assert_eq!(restored.status(), 200);
    assert_eq!(
        original.headers()["etag"],
        restored.headers()["etag"],
        "the published slice is the same bytes"
    );
    assert_eq!(original.bytes().unwrap(), restored.bytes().unwrap());
    let chain = expect_json(copy.get_as("/api/v1/audit/verify", &auditor(&copy)), 200);
    assert_eq!(chain["valid"], true, "{chain}");
}

#[test]
fn a_backup_taken_while_four_clerks_write_restores_everything_acknowledged_before_it() {
    let app = Arc::new(TestApp::with_demo());
    let public = publish_power_list(&app, "首次公布");
    let slice = format!("/public/v1/townships/{YUCHAN}/power-list");
    assert_eq!(app.get(&public).status(), 200);
    let round = open_round(&app);
    let writers = Writers::start(&app, round);
    writers.wait_for(4);
    let before = writers.acknowledged();
    let scratch = ScratchDatabase::empty();
    let keys = std::path::PathBuf::from(&app.config.keys.dev_dir);
    if scratch.is_postgres() {
        let (Some(pg_dump), Some(pg_restore)) = (pg_tool("pg_dump"), pg_tool("pg_restore")) else {
            eprintln!("SKIPPED: pg_dump and pg_restore are not installed");
            writers.finish();
            return;
        };
        let dump = scratch.dir.path().join("quanze.dump");
        run(std::process::Command::new(pg_dump)
            .args(["--format=custom", "--file"])
            .arg(&dump)
            .arg(&app.db_url));
        let written = writers.finish();
        assert!(
            written.len() > before.len(),
            "the clerks kept writing during the backup"
        );
        run(std::process::Command::new(pg_restore)
            .args(["--no-owner", "--exit-on-error", "--dbname"])
            .arg(&scratch.url)
            .arg(&dump));
        check_restored(&app, &scratch.url, round, &before, &slice);
    } else {
        let backup = scratch.dir.path().join("backup.db");
        let made = run(quanze_command(&app.db_url, &keys)
            .arg("backup")
            .arg(&backup));
        let summary: Value = serde_json::from_slice(&made.stdout).unwrap();
        assert!(summary["audit_events"].as_i64().unwrap() > 0, "{summary}");
        let written = writers.finish();
        assert!(written.len() >= before.len());
        // The backup is named only once whole; it is never overwritten.
        let again = quanze_command(&app.db_url, &keys)
            .arg("backup")
            .arg(&backup)
            .output()
            .unwrap();
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));

        let restored = scratch.dir.path().join("restored.db");
        let restored_url = restored.to_string_lossy().into_owned();
        run(quanze_command(&restored_url, &keys)
            .arg("restore")
            .arg(&backup));
        check_restored(&app, &restored_url, round, &before, &slice);
    }
}

#[test]
fn a_restore_is_refused_over_a_database_in_use_and_keeps_the_one_it_replaces() {
    let app = TestApp::with_demo();
    let keys = std::path::PathBuf::from(&app.config.keys.dev_dir);
    let scratch = ScratchDatabase::empty();
    if scratch.is_postgres() {
        let refused = quanze_command(&app.db_url, &keys)
            .args(["backup", "x.db"])
            .output()
            .unwrap();
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("pg_dump"));
        return;
    }
    let backup = scratch.dir.path().join("backup.db");
    run(quanze_command(&app.db_url, &keys)
        .arg("backup")
        .arg(&backup));
    let before = app.audit_count();
    let refused = quanze_command(&app.db_url, &keys)
        .arg("restore")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("in use"), "{said}");
    assert_eq!(
        app.audit_count(),
        before,
        "the database in use is untouched"
    );

    // Over a database nobody uses: the one replaced is kept beside it.
    let target = scratch.dir.path().join("target.db");
    let target_url = target.to_string_lossy().into_owned();
    run(quanze_command(&target_url, &keys).arg("demo"));
    let restored = run(quanze_command(&target_url, &keys)
        .arg("restore")
        .arg(&backup));
    let text = String::from_utf8_lossy(&restored.stdout);
    let report: Value = serde_json::from_str(&text[..text.find("\n}\n").unwrap() + 2]).unwrap();
    let kept = report["replaced_kept_at"].as_str().unwrap();
    assert!(std::path::Path::new(kept).is_file(), "{report}");

    // Not a backup at all: refused, nothing replaced.
    let junk = scratch.dir.path().join("junk.db");
    std::fs::write(&junk, "not a database").unwrap();
    let refused = quanze_command(&target_url, &keys)
        .arg("restore")
        .arg(&junk)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a quanze backup"));
}
