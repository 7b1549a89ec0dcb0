//! An anonymous burst against the release binary: 1,000 slow readers of a large diff of
//! two published catalogue editions, then three waves of 300 parallel expensive requests
//! (diffs, statistics, the audit check, the claims CSV). Throughout, `/healthz` is timed and
//! the server's resident memory sampled; 30 s after the burst the memory is read again.
//!
//! `cargo bench --bench burst` (SQLite in a temporary directory). Goals, checked at the end
//! (the command fails when one is missed): `/healthz` within 200 ms throughout, peak RSS
//! under 400 MB, RSS 30 s after the burst within 100 MB of where it started.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ITEMS: usize = 3000;
const SLOW_READERS: usize = 1000;
const WAVES: usize = 3;
const WAVE_SIZE: usize = 300;
const LUXIAN: &str = "510521000000";
const PROVINCE: &str = "510000000000";
const MIB: f64 = 1024.0 * 1024.0;

fn quanze(dir: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_quanze"))
        .args(args)
        .envs(environment(dir, 0))
        .stdout(Stdio::null())
        .status()
        .expect("run quanze");
    assert!(status.success(), "quanze {args:?}");
}

fn environment(dir: &Path, port: u16) -> Vec<(&'static str, String)> {
    vec![
        (
            "QUANZE_DATABASE_URL",
            dir.join("quanze.db").to_string_lossy().into_owned(),
        ),
        ("QUANZE_DEV_KEY_DIR", dir.to_string_lossy().into_owned()),
        ("QUANZE_BIND", format!("127.0.0.1:{port}")),
        ("QUANZE_METRICS_BIND", "127.0.0.1:0".into()),
        ("QUANZE_LOG_LEVEL", "error".into()),
    ]
}

/// Two editions of `ITEMS` items whose every name and duty differ: a diff of megabytes.
fn editions(dir: &Path) {
    let demo: Value =
        serde_json::from_str(include_str!("../demo/catalogue.json")).expect("the demo catalogue");
    let template = demo["items"][0].clone();
    for (edition, version) in [("2030", "甲"), ("2031", "乙")] {
        let items: Vec<Value> = (0..ITEMS)
            .map(|i| {
                let mut item = template.clone();
                item["code"] = json!(format!("BX-{i:05}"));
                item["name"] = json!(format!("第{i}项乡村建设规划许可（{version}稿）"));
                item["responsibilities"][0]["duty"] = json!(format!(
                    "一次性告知申请材料（{version}稿第{i}项），当场受理。"
                ));
                item
            })
            .collect();
        let file = dir.join(format!("{edition}.json"));
        std::fs::write(&file, json!({ "items": items }).to_string()).unwrap();
        quanze(
            dir,
            &[
                "import",
                "catalogue",
                file.to_str().unwrap(),
                "--edition",
                edition,
                "--province",
                PROVINCE,
                "--title",
                &format!("压力测试目录{edition}"),
                "--publish",
            ],
        );
    }
}

fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// One plain HTTP/1.1 GET on a new connection; the status and how long it took.
fn get(port: u16, path: &str, token: Option<&str>) -> (u16, Duration) {
    let started = Instant::now();
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, started.elapsed());
    };
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, started.elapsed());
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let status = std::str::from_utf8(&answer[..answer.len().min(12)])
        .ok()
        .and_then(|line| line.get(9..12))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The anchor: the smallest HTTP server, one thread per connection, answering every request
/// with `ok`. Run beside quanze on its core, it shows what the machine itself does to a
/// health check's latency during the burst.
fn anchor_server(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the anchor");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let mut stream = stream;
            let mut head = [0u8; 1024];
            let _ = stream.read(&mut head);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        });
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(port) = args
        .iter()
        .position(|a| a == "anchor-server")
        .and_then(|i| args.get(i + 1))
    {
        return anchor_server(port.parse().expect("a port"));
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    eprintln!("== burst: preparing two published editions of {ITEMS} items");
    quanze(dir.path(), &["demo"]);
    editions(dir.path());
    let port = free_port();
    // As the load benchmark does: quanze on core 0, this process (the 1,000 readers, the
    // waves and the watchers) on core 1, so /healthz times the server, not its client.
    let pinned = Command::new("taskset")
        .args(["-a", "-cp", "1", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut serve = if pinned {
        let mut command = Command::new("taskset");
        command.args(["-c", "0", env!("CARGO_BIN_EXE_quanze"), "serve"]);
        command
    } else {
        let mut command = Command::new(env!("CARGO_BIN_EXE_quanze"));
        command.arg("serve");
        command
    };
    let server = Server(
        serve
            .envs(environment(dir.path(), port))
            .spawn()
            .expect("start quanze"),
    );
    let pid = server.0.id();
    let anchor_port = free_port();
    let anchor_exe = std::env::current_exe().expect("this benchmark's path");
    let mut anchor = if pinned {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(&anchor_exe);
        command
    } else {
        Command::new(&anchor_exe)
    };
    let anchor = Server(
        anchor
            .args(["anchor-server", &anchor_port.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .expect("start the anchor"),
    );
    for _ in 0..100 {
        if get(port, "/healthz", None).0 == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let config = quanze::config::Config::defaults();
    let keys = quanze::auth::TokenKeys::from_config(&config.jwt).unwrap();
    let mint = |sub: &str, org: &str, region: &str, role: &str| {
        keys.mint(sub, org, region, &[role.to_string()], 3600)
            .unwrap()
    };
    let compiler = mint("bench-compiler", "luxian-gov", LUXIAN, "county_compiler");
    let auditor = mint("bench-auditor", "bench", PROVINCE, "auditor");
    let round: Value = reqwest::blocking::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/api/v1/counties/{LUXIAN}/claim-rounds"
        ))
        .bearer_auth(&compiler)
        .json(&json!({"edition": "2026", "title": "压力测试", "deadline": "2099-12-31"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let round = round["id"].as_i64().expect("a round");
    let diff = "/public/v1/catalogue/diff?from=2030&to=2031";
    std::thread::sleep(Duration::from_secs(2));
    let start_rss = rss_bytes(pid);

    // Watchers: /healthz every 20 ms, resident memory every 50 ms.
    let done = Arc::new(AtomicBool::new(false));
    // The slowest /healthz of each phase: slow readers, waves, idle.
    let phase = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let worst_by_phase: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    // The same probe of the anchor, beside it.
    let anchor_by_phase: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let (worst_health, peak_rss) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let failed_health = Arc::new(AtomicU64::new(0));
    let watchers = {
        let (stop, worst, failed) = (done.clone(), worst_health.clone(), failed_health.clone());
        let (phase, by_phase) = (phase.clone(), worst_by_phase.clone());
        let anchor_worst = anchor_by_phase.clone();
        let trace = std::env::var_os("BURST_TRACE").is_some();
        let health = std::thread::spawn(move || {
            let began = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let (status, took) = get(port, "/healthz", None);
                if trace && took > Duration::from_millis(100) {
                    eprintln!("   /healthz took {took:?} at {:?}", began.elapsed());
                }
                worst.fetch_max(took.as_micros() as u64, Ordering::Relaxed);
                by_phase[phase.load(Ordering::Relaxed)]
                    .fetch_max(took.as_micros() as u64, Ordering::Relaxed);
                if status != 200 {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                let (_, anchored) = get(anchor_port, "/", None);
                anchor_worst[phase.load(Ordering::Relaxed)]
                    .fetch_max(anchored.as_micros() as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let (stop, peak) = (done.clone(), peak_rss.clone());
        let memory = std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_bytes(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        [health, memory]
    };

    // 1. Slow readers: each asks for the diff, then reads 4 KB every 200 ms for 15 s.
    eprintln!("== {SLOW_READERS} slow readers of {diff}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (diff_bytes, read_by_readers) = runtime.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let readers = (0..SLOW_READERS).map(|_| async move {
            let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                return 0usize;
            };
            let request = format!("GET {diff} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).await.is_err() {
                return 0;
            }
            let mut buffer = vec![0u8; 4096];
            let mut read = 0;
            let until = Instant::now() + Duration::from_secs(15);
            while Instant::now() < until {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n,
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            read
        });
        let read: Vec<usize> = futures_util::future::join_all(readers).await;
        let whole = reqwest::get(format!("http://127.0.0.1:{port}{diff}"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len();
        (whole, read.iter().sum::<usize>())
    });
    let after_readers = rss_bytes(pid);
    phase.store(1, Ordering::Relaxed);

    // 2. Waves of expensive requests, all at once.
    let paths: Vec<(String, Option<String>)> = vec![
        (diff.to_string(), None),
        ("/public/v1/catalogue/diff?from=2026&to=2031".into(), None),
        (
            format!("/api/v1/claim-rounds/{round}/statistics"),
            Some(compiler.clone()),
        ),
        (
            format!("/api/v1/claim-rounds/{round}/export"),
            Some(compiler.clone()),
        ),
        ("/api/v1/audit/verify".into(), Some(auditor.clone())),
        (
            "/public/v1/catalogue/editions/2031/export?format=csv".into(),
            None,
        ),
    ];
    let mut statuses: std::collections::BTreeMap<u16, usize> = Default::default();
    for wave in 1..=WAVES {
        eprintln!("== wave {wave}: {WAVE_SIZE} expensive requests at once");
        let handles: Vec<_> = (0..WAVE_SIZE)
            .map(|i| {
                let (path, token) = paths[i % paths.len()].clone();
                std::thread::spawn(move || get(port, &path, token.as_deref()).0)
            })
            .collect();
        for handle in handles {
            *statuses.entry(handle.join().unwrap()).or_default() += 1;
        }
    }
    let after_waves = rss_bytes(pid);
    phase.store(2, Ordering::Relaxed);
    eprintln!("== idle for 30 s");
    std::thread::sleep(Duration::from_secs(30));
    let settled = rss_bytes(pid);
    done.store(true, Ordering::Relaxed);
    for watcher in watchers {
        watcher.join().unwrap();
    }

    let worst = worst_health.load(Ordering::Relaxed) as f64 / 1000.0;
    let peak = peak_rss.load(Ordering::Relaxed);
    let mb = |b: u64| b as f64 / MIB;
    println!(
        "burst benchmark on SQLite: a diff of {ITEMS} changed items ({:.2} MB); {}",
        diff_bytes as f64 / MIB,
        if pinned {
            "quanze on core 0, the clients on core 1"
        } else {
            "not pinned (no taskset): quanze and its clients share the cores"
        }
    );
    println!("| measure | value |");
    println!("|---|--:|");
    println!("| RSS at start | {:.0} MB |", mb(start_rss));
    println!(
        "| RSS after {SLOW_READERS} slow readers ({:.0} MB read) | {:.0} MB |",
        read_by_readers as f64 / MIB,
        mb(after_readers)
    );
    println!(
        "| RSS after {WAVES} waves of {WAVE_SIZE} | {:.0} MB |",
        mb(after_waves)
    );
    println!("| peak RSS | {:.0} MB |", mb(peak));
    println!(
        "| RSS 30 s after the burst | {:.0} MB ({:+.0} MB) |",
        mb(settled),
        mb(settled) - mb(start_rss)
    );
    println!(
        "| slowest /healthz | {worst:.1} ms ({} failed) |",
        failed_health.load(Ordering::Relaxed)
    );
    let phase_worst = |i: usize| worst_by_phase[i].load(Ordering::Relaxed) as f64 / 1000.0;
    let anchor_worst = |i: usize| anchor_by_phase[i].load(Ordering::Relaxed) as f64 / 1000.0;
    println!(
        "| slowest /healthz: readers, waves, idle | {:.1}, {:.1}, {:.1} ms |",
        phase_worst(0),
        phase_worst(1),
        phase_worst(2)
    );
    println!(
        "| slowest answer of the anchor (a minimal server on quanze's core), same phases | {:.1}, {:.1}, {:.1} ms |",
        anchor_worst(0),
        anchor_worst(1),
        anchor_worst(2)
    );
    println!("| wave answers by status | {statuses:?} |");
    let goals = [
        (
            "/healthz within 200 ms",
            worst < 200.0 && failed_health.load(Ordering::Relaxed) == 0,
        ),
        ("peak RSS under 400 MB", mb(peak) < 400.0),
        (
            "RSS after 30 s within 100 MB of the start",
            mb(settled) - mb(start_rss) < 100.0,
        ),
    ];
    let mut missed = false;
    for (goal, met) in goals {
        println!("| goal: {goal} | {} |", if met { "met" } else { "MISSED" });
        missed |= !met;
    }
    drop((server, anchor));
    if missed {
        std::process::exit(1);
    }
}
