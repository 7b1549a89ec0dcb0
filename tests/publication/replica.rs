//! Public reads from a PostgreSQL streaming replica the test starts itself (a primary and
//! a replica made with pg_basebackup, each a cluster of its own on a free port): served
//! from the replica while it keeps up, from the primary while it lags past
//! `read_max_lag_ms` or is down. Runs with the PostgreSQL tests, when the server
//! binaries are installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::*;

/// The directory of the PostgreSQL server binaries, if installed.
fn server_binaries() -> Option<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"));
    from_pg_config
        .into_iter()
        .chain(debian)
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_basebackup").exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two clusters in a temporary directory, stopped when dropped.
struct Pair {
    bin: PathBuf,
    dir: tempfile::TempDir,
    as_root: bool,
    primary: u16,
    replica: u16,
}

impl Pair {
    /// Runs a server binary, as the `postgres` user when this process is root (the server
    /// refuses to run as root).
    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let output = if self.as_root {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }
        .expect("run a PostgreSQL binary");
        assert!(
            output.status.success(),
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn start() -> Option<Pair> {
        let bin = server_binaries()?;
        let uid = Command::new("id").arg("-u").output().ok()?;
        let as_root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let dir = tempfile::tempdir().unwrap();
        if as_root {
            let chown = Command::new("chown")
                .args(["postgres:postgres", &dir.path().to_string_lossy()])
                .status()
                .unwrap();
            assert!(chown.success());
        }
        let pair = Pair {
            bin,
            dir,
            as_root,
            primary: free_port(),
            replica: free_port(),
        };
        let primary = pair.path("primary");
        pair.run(
            "initdb",
            &[
                "-D",
                &primary,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        let settings = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             wal_level = replica\nmax_wal_senders = 4\nfsync = off\n",
            pair.primary,
            pair.dir.path().display()
        );
        append(&Path::new(&primary).join("postgresql.conf"), &settings);
        pair.run(
            "pg_ctl",
            &[
                "-D",
                &primary,
                "-l",
                &pair.path("primary.log"),
                "-w",
                "start",
            ],
        );
        let replica = pair.path("replica");
        let port = pair.primary.to_string();
        pair.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &replica,
                "-R",
                "-X",
                "stream",
            ],
        );
        append(
            &Path::new(&replica).join("postgresql.conf"),
            &format!("\nport = {}\n", pair.replica),
        );
        pair.run(
            "pg_ctl",
            &[
                "-D",
                &replica,
                "-l",
                &pair.path("replica.log"),
                "-w",
                "start",
            ],
        );
        Some(pair)
    }

    fn url(port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    fn on_replica(&self, sql: &str) {
        let db =
            quanze::db::Db::connect(&Pair::url(self.replica), 1, Duration::from_secs(5)).unwrap();
        let mut conn = db.get().unwrap();
        let conn: &mut quanze::db::DbConnection = &mut conn;
        diesel::connection::SimpleConnection::batch_execute(conn, sql).unwrap();
    }

    /// Whether the replica has replayed the marker row `n`.
    fn replayed(&self, n: i64) -> bool {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let db =
            quanze::db::Db::connect(&Pair::url(self.replica), 1, Duration::from_secs(5)).unwrap();
        let mut conn = db.get().unwrap();
        let conn: &mut quanze::db::DbConnection = &mut conn;
        let query = format!("SELECT count(*) AS n FROM replay_marker WHERE x = {n}");
        diesel::RunQueryDsl::get_result::<Count>(diesel::sql_query(query), conn)
            .is_ok_and(|c| c.n == 1)
    }

    fn stop_replica(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.path("replica"), "-m", "immediate", "stop"],
        );
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for cluster in ["replica", "primary"] {
            let data = self.path(cluster);
            let _ = if self.as_root {
                Command::new("runuser")
                    .args(["-u", "postgres", "--"])
                    .arg(self.bin.join("pg_ctl"))
                    .args(["-D", &data, "-m", "immediate", "stop"])
                    .output()
            } else {
                Command::new(self.bin.join("pg_ctl"))
                    .args(["-D", &data, "-m", "immediate", "stop"])
                    .output()
            };
        }
    }
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut conf = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    conf.write_all(text.as_bytes()).unwrap();
}

fn public_reads(app: &TestApp) -> String {
    expect_json(app.get("/readyz"), 200)["public_reads"]
        .as_str()
        .unwrap()
        .to_string()
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
    start.elapsed()
}

#[test]
fn public_reads_come_from_a_replica_that_keeps_up_and_from_the_primary_otherwise() {
    if std::env::var("QUANZE_TEST_DATABASE_URL").map_or(true, |u| u.is_empty()) {
        eprintln!("skipped: runs with the PostgreSQL tests (QUANZE_TEST_DATABASE_URL)");
        return;
    }
    let Some(pair) = Pair::start() else {
        eprintln!(
            "skipped: the PostgreSQL server binaries (initdb, pg_basebackup) are not installed"
        );
        return;
    };
    let max_lag = Duration::from_millis(3000);
    let app = TestApp::with_demo_configured(|config| {
        config.database.url = Pair::url(pair.primary);
        config.database.read_url = Pair::url(pair.replica);
        config.database.read_max_lag_ms = max_lag.as_millis() as u64;
        config.publication.in_force_cache_ms = 100;
    });
    let round = open_round(&app);
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    let slice_path = format!("/public/v1/townships/{YUCHAN}/power-list");
    let served = |app: &TestApp| {
        let response = app.get(&slice_path);
        assert_eq!(response.status(), 200);
        header(&response, "content-location").unwrap()
    };
    let (v1, v2) = (
        public_version_path("power", 1),
        public_version_path("power", 2),
    );
    wait_for("the replica serves", Duration::from_secs(20), || {
        public_reads(&app) == "replica"
    });
    wait_for("version 1 replayed", Duration::from_secs(20), || {
        served(&app) == v1
    });

    // The replica stops replaying, just after a commit it replayed (its lag counts from
    // there): version 2 is on the primary only. While the replica is less than the
    // allowed lag behind, the public still reads version 1 from it...
    app.sql("CREATE TABLE replay_marker (x INT); INSERT INTO replay_marker VALUES (1)");
    wait_for("the marker replayed", Duration::from_secs(20), || {
        pair.replayed(1)
    });
    pair.on_replica("SELECT pg_wal_replay_pause()");
    reopen_claim(&app, round, YUCHAN, "CF-0001");
    submitted(&app, "power", "收回一项");
    approve_and_publish(&app, "power", 2, None);
    let published = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(served(&app), v1, "read from the paused replica");
    // ...and from the primary once it is further behind than that.
    wait_for("version 2 from the primary", max_lag * 3, || {
        served(&app) == v2
    });
    assert!(
        published.elapsed() >= max_lag / 2,
        "not before the replica fell behind"
    );
    assert_eq!(public_reads(&app), "primary");

    // Replaying again, it serves again, version 2 now.
    pair.on_replica("SELECT pg_wal_replay_resume()");
    wait_for("the replica serves again", Duration::from_secs(20), || {
        public_reads(&app) == "replica"
    });
    assert_eq!(served(&app), v2);

    // Down: every read is still answered, from the primary.
    pair.stop_replica();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        let response = app.get(&format!("{slice_path}?category=02"));
        assert_eq!(response.status(), 200, "while the replica is down");
        assert_eq!(served(&app), v2);
    }
    assert_eq!(public_reads(&app), "primary");
}
