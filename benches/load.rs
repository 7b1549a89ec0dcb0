//! The province-scale load benchmark (issue 6), one command:
//!
//! ```sh
//! cargo bench --bench load                       # SQLite
//! QUANZE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench load   # and PostgreSQL
//! ```
//!
//! For each backend it generates a province with the library's seeded generator into a
//! fresh database (a temporary SQLite file; a new PostgreSQL database `quanze_load_<pid>`,
//! dropped at the end), starts the real `quanze serve` on it as a child process pinned to
//! core 0, and drives it over loopback from this process pinned to core 1 (`taskset`, from
//! Debian's util-linux; without it nothing is pinned and the report says so):
//!
//! 1. one township's slice of the power list in force;
//! 2. the same with `If-None-Match` (304);
//! 3. a duty lookup by text (`油烟`, `油煙`, `违法建设`, `建筑垃圾`) in townships of 8 counties;
//! 4. the claims statistics of the rounds of 4 counties (county compiler tokens);
//! 5. a mixed read workload (slices, revalidations, lookups) with a paced trickle of claim
//!    answers from a township clerk, on claims a compiler reopened just before;
//! 6. the slice of (1) at half of its peak rate, from an open-loop client whose latency
//!    counts from the scheduled send time; in five rounds, each measuring the peak again
//!    just before (the machine's speed drifts) and alternating with the limit at that rate;
//! 7. slices of townships across the whole province (one per county, so every request
//!    wants a different county's published list): how the version cache copes.
//!
//! Beside it, in the same run and pinned the same way: **the limit**, a minimal actix-web
//! server answering the same bytes from memory (this binary re-executed as
//! `limit-server`; (1) and (2) alternate with it in five rounds, and their ratio to it is
//! the median of the rounds'), and on PostgreSQL **the peer**, the same slice assembled per request by
//! PostgreSQL with `json_build_object` + `json_agg` the way PostgREST builds responses,
//! served by that same minimal server over an r2d2 pool.
//!
//! Environment: `QUANZE_LOAD_SCALE=small|province` (default province),
//! `QUANZE_LOAD_SECONDS` (per scenario, default 10), `QUANZE_LOAD_CONNECTIONS` (default 32),
//! `QUANZE_LOAD_REQUESTS` (per scenario, default 1,000,000), `QUANZE_LOAD_WRITES_PER_SEC`
//! (the trickle in (5), default 20), `QUANZE_TEST_DATABASE_URL` (PostgreSQL as well).
//!
//! The report is written to `results/load-<UTC time>/` (`report.md`, `report.json`,
//! `latency.svg`, and the servers' logs); its path and tables are printed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use diesel::prelude::*;
use quanze::db::schema::{claim_rounds, claims, list_versions, regions};
use quanze::db::Db;
use quanze::generate::{GenerationReport, Scale};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The generator's seed: the same seed builds the same province.
const SEED: u64 = 2026;
const MIB: f64 = 1024.0 * 1024.0;
/// Goals from the issue.
const GOAL_RATIO: f64 = 0.8;
/// Rounds in which (1) and (2) alternate with the limit.
const ROUNDS: usize = 5;
const GOAL_P99_MS: f64 = 10.0;
const GOAL_RSS_MB: f64 = 300.0;
/// Searches of scenario (3): simplified, traditional (folded to the same), two more.
const LOOKUPS: [&str; 4] = ["油烟", "油煙", "违法建设", "建筑垃圾"];

fn main() {
    // `cargo bench` passes `--bench`; a filter may follow. Only `limit-server` matters.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("limit-server") => limit_server(&args[1..]),
        // Drives one running server open-loop and prints when its slow answers came.
        Some("drive") => drive(&args[1..]),
        // Draws `latency.svg` again beside a `report.json`.
        Some("chart") => {
            let path = PathBuf::from(args.get(1).expect("chart needs a report.json"));
            let report: Value = serde_json::from_slice(&std::fs::read(&path).expect("report.json"))
                .expect("a JSON report");
            let rows = report["backends"].as_array().cloned().unwrap_or_default();
            let svg = path.with_file_name("latency.svg");
            std::fs::write(&svg, chart(&rows)).expect("latency.svg");
            println!("{}", svg.display());
        }
        _ => orchestrate(),
    }
}

// ----------------------------------------------------------------------------------------
// Settings and the machine
// ----------------------------------------------------------------------------------------

struct Settings {
    scale_name: String,
    scale: Scale,
    seconds: f64,
    connections: usize,
    max_requests: u64,
    writes_per_sec: f64,
    postgres: Option<String>,
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        _ => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        let scale_name = std::env::var("QUANZE_LOAD_SCALE")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "province".into());
        let scale = match scale_name.trim() {
            "province" => Scale::province(),
            "small" => Scale::small(),
            other => panic!("QUANZE_LOAD_SCALE={other:?}: use small or province"),
        };
        let seconds: f64 = env_number("QUANZE_LOAD_SECONDS", 10.0);
        assert!(
            seconds > 0.0 && seconds <= 600.0,
            "QUANZE_LOAD_SECONDS must lie in (0, 600]"
        );
        Settings {
            scale_name: scale_name.trim().to_string(),
            scale,
            seconds,
            connections: env_number("QUANZE_LOAD_CONNECTIONS", 32usize).max(2),
            max_requests: env_number("QUANZE_LOAD_REQUESTS", 1_000_000u64).max(1),
            writes_per_sec: env_number("QUANZE_LOAD_WRITES_PER_SEC", 20.0f64).max(0.1),
            postgres: std::env::var("QUANZE_TEST_DATABASE_URL")
                .ok()
                .filter(|v| !v.trim().is_empty()),
        }
    }

    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
}

#[derive(Serialize)]
struct Machine {
    nproc: usize,
    cpu: String,
    memory_mb: u64,
    kernel: String,
    pinned: bool,
    pinning: String,
    /// The commit measured (`git describe --always --dirty`).
    commit: String,
}

impl Machine {
    fn describe(nproc: usize, pinned: bool, pinning: String) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let memory_mb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map(|kb| kb / 1024)
            .unwrap_or(0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            nproc,
            cpu,
            memory_mb,
            kernel,
            pinned,
            pinning,
            commit: String::new(),
        }
    }
}

/// Pins every thread of this process (the load generator) to core 1, before any other
/// thread exists; the servers are started on core 0.
fn pin_self(nproc: usize) -> (bool, String) {
    if nproc < 2 {
        return (
            false,
            format!("not pinned: only {nproc} core available, servers and load generator share it"),
        );
    }
    let pid = std::process::id().to_string();
    match Command::new("taskset")
        .args(["-a", "-cp", "1", &pid])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(out) if out.status.success() => (
            true,
            "quanze, the limit and the peer server on core 0 (taskset -c 0); the load \
             generator on core 1 (taskset -a -cp 1); PostgreSQL's own processes are not pinned"
                .into(),
        ),
        Ok(out) => (
            false,
            format!(
                "not pinned: taskset failed ({}); servers and load generator share the cores",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
        Err(e) => (
            false,
            format!(
                "not pinned: taskset is not available ({e}); install Debian's util-linux to pin"
            ),
        ),
    }
}

// ----------------------------------------------------------------------------------------
// Processes: the servers, their memory and CPU
// ----------------------------------------------------------------------------------------

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`).
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(key)?
            .strip_prefix(':')?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// User + system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A server this benchmark started; stopped (by its own pid) when dropped.
struct Server {
    name: String,
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(&str, String)],
        pinned: bool,
        log: PathBuf,
        port: u16,
    ) -> Server {
        let file = std::fs::File::create(&log).expect("server log file");
        let mut command = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().expect("log file")))
            .stderr(Stdio::from(file));
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.display()));
        Server {
            name: name.into(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the run, naming how the server ended, when it is gone.
    fn check_alive(&mut self, during: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} ended ({status}) during {during}; see {}",
                self.name,
                self.log.display()
            );
        }
    }

    fn wait_ready(&mut self, http: &reqwest::blocking::Client, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before it was ready; see {}",
                    self.name,
                    self.log.display()
                );
            }
            if let Ok(response) = http.get(format!("http://{}{path}", self.addr)).send() {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} was not ready within 3 minutes; see {}",
                self.name,
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then SIGKILL after 15 s.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Samples a process's resident memory every 50 ms while a scenario runs.
struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<u64>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut max = 0;
            loop {
                if let Some(kb) = status_kb(pid, "VmRSS") {
                    max = max.max(kb);
                }
                if flag.load(Ordering::Relaxed) {
                    break max;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler { stop, handle }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

/// Busy time of the whole machine (every core), in clock ticks, from `/proc/stat`.
fn machine_busy_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = fields.iter().take(8).sum();
    Some(total - fields.get(3)? - fields.get(4)?)
}

/// On a shared machine, waits (at most a minute) until other processes leave the cores
/// alone: less than a quarter of a core busy over one second. Returns the seconds waited
/// and the load seen last (in cores).
fn settle() -> (f64, f64) {
    let started = Instant::now();
    let ticks = clock_ticks_per_sec();
    loop {
        let before = machine_busy_ticks();
        std::thread::sleep(Duration::from_secs(1));
        let busy = match (before, machine_busy_ticks()) {
            (Some(b), Some(a)) => a.saturating_sub(b) as f64 / ticks,
            _ => 0.0,
        };
        if busy < 0.25 || started.elapsed() > Duration::from_secs(60) {
            return (started.elapsed().as_secs_f64() - 1.0, busy);
        }
    }
}

/// What a scenario cost the server, the load generator and everything else on the machine
/// (in cores: 1.0 is one core busy all along).
struct Usage {
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
    other_cpu: Option<f64>,
    rss_max_kb: u64,
    /// Seconds waited for a quiet machine first, and the load then seen (cores).
    settled: (f64, f64),
}

/// Runs `run`, measuring the server's CPU and peak resident memory, this process's CPU,
/// and the CPU that other processes (PostgreSQL, other people's builds) took meanwhile.
fn measured<T>(server: u32, ticks_per_sec: f64, run: impl FnOnce() -> T) -> (T, Usage) {
    let pid = server.to_string();
    let settled = settle();
    let before = (cpu_ticks(&pid), cpu_ticks("self"), machine_busy_ticks());
    let sampler = RssSampler::start(server);
    let started = Instant::now();
    let result = run();
    let seconds = started.elapsed().as_secs_f64();
    let rss_max_kb = sampler.finish();
    let after = (cpu_ticks(&pid), cpu_ticks("self"), machine_busy_ticks());
    let share = |before: Option<u64>, after: Option<u64>| {
        Some(after?.saturating_sub(before?) as f64 / ticks_per_sec / seconds)
    };
    let server_cpu = share(before.0, after.0);
    let client_cpu = share(before.1, after.1);
    let other_cpu = share(before.2, after.2)
        .map(|all| (all - server_cpu.unwrap_or(0.0) - client_cpu.unwrap_or(0.0)).max(0.0));
    let usage = Usage {
        server_cpu,
        client_cpu,
        other_cpu,
        rss_max_kb,
        settled,
    };
    (result, usage)
}

// ----------------------------------------------------------------------------------------
// The load generator: raw HTTP/1.1 keep-alive connections on tokio
// ----------------------------------------------------------------------------------------

/// What a run observed.
#[derive(Default)]
struct Raw {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    io_errors: u64,
    bytes: u64,
    elapsed: f64,
    /// Open loop only: when (seconds after the start) each answer slower than
    /// `SLOW_MS` was due, and its latency, to tell a few pauses from a spread-out tail.
    slow: Vec<(f64, u32)>,
}

/// An open-loop answer slower than this goes on the `slow` timeline.
const SLOW_MS: u32 = 10;

impl Raw {
    fn record(&mut self, latency: Duration, outcome: &io::Result<(u16, u64)>) {
        match outcome {
            Ok((status, bytes)) => {
                self.latencies_us
                    .push(latency.as_micros().min(u32::MAX as u128) as u32);
                *self.statuses.entry(*status).or_default() += 1;
                self.bytes += bytes;
            }
            Err(_) => self.io_errors += 1,
        }
    }

    fn merge(&mut self, other: Raw) {
        self.latencies_us.extend(other.latencies_us);
        self.slow.extend(other.slow);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.io_errors += other.io_errors;
        self.bytes += other.bytes;
    }

    /// Rounds of one scenario as one: their answers, time and the mean of their usage.
    fn combine(rounds: Vec<(Raw, Usage)>) -> (Raw, Usage) {
        let count = rounds.len().max(1) as f64;
        let mean = |pick: &dyn Fn(&Usage) -> Option<f64>, rounds: &[(Raw, Usage)]| {
            rounds
                .iter()
                .map(|(_, u)| pick(u))
                .sum::<Option<f64>>()
                .map(|total| total / count)
        };
        let usage = Usage {
            server_cpu: mean(&|u| u.server_cpu, &rounds),
            client_cpu: mean(&|u| u.client_cpu, &rounds),
            other_cpu: mean(&|u| u.other_cpu, &rounds),
            rss_max_kb: rounds.iter().map(|(_, u)| u.rss_max_kb).max().unwrap_or(0),
            settled: (
                rounds.iter().map(|(_, u)| u.settled.0).sum(),
                rounds.iter().map(|(_, u)| u.settled.1).fold(0.0, f64::max),
            ),
        };
        let mut raw = Raw::default();
        for (round, _) in rounds {
            raw.elapsed += round.elapsed;
            raw.merge(round);
        }
        (raw, usage)
    }

    fn errors(&self) -> u64 {
        self.io_errors
            + self
                .statuses
                .iter()
                .filter(|(s, _)| !((200..300).contains(*s) || **s == 304))
                .map(|(_, n)| n)
                .sum::<u64>()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

struct Head {
    status: u16,
    length: Option<u64>,
    chunked: bool,
    close: bool,
}

fn parse_head(bytes: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut head = Head {
        status,
        length: None,
        chunked: false,
        close: false,
    };
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                head.length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                head.close = value.eq_ignore_ascii_case("close");
            }
        }
    }
    Ok(head)
}

/// One keep-alive connection: writes a prepared request, reads the answer's head and
/// discards its body (sized or chunked) through one reused buffer.
struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            stream: None,
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
        }
    }

    /// Status and body length; on any failure the connection is dropped (and reopened
    /// by the next request).
    async fn exchange(&mut self, request: &[u8]) -> io::Result<(u16, u64)> {
        let result = match tokio::time::timeout(
            Duration::from_secs(60),
            self.exchange_once(request),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer within 60 s",
            )),
        };
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange_once(&mut self, request: &[u8]) -> io::Result<(u16, u64)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.start = 0;
            self.end = 0;
        }
        self.stream
            .as_mut()
            .expect("connected")
            .write_all(request)
            .await?;
        let head_end = loop {
            if let Some(at) = find(&self.buf[self.start..self.end], b"\r\n\r\n") {
                break self.start + at + 4;
            }
            self.fill().await?;
        };
        let head = parse_head(&self.buf[self.start..head_end])?;
        self.start = head_end;
        let body = if head.status < 200 || head.status == 204 || head.status == 304 {
            0
        } else if head.chunked {
            self.skip_chunked().await?
        } else if let Some(length) = head.length {
            self.skip(length).await?;
            length
        } else {
            let n = self.skip_to_end().await?;
            self.stream = None;
            n
        };
        if head.close {
            self.stream = None;
        }
        Ok((head.status, body))
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| invalid("not connected"))?;
        let n = stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.end += n;
        Ok(())
    }

    async fn skip(&mut self, n: u64) -> io::Result<()> {
        let mut remaining = n;
        loop {
            let available = (self.end - self.start) as u64;
            if available >= remaining {
                self.start += remaining as usize;
                return Ok(());
            }
            remaining -= available;
            self.start = 0;
            self.end = 0;
            self.fill().await?;
        }
    }

    async fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(at) = find(&self.buf[self.start..self.end], b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[self.start..self.start + at]);
                let line = line.into_owned();
                self.start += at + 2;
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    async fn skip_chunked(&mut self) -> io::Result<u64> {
        let mut total = 0;
        loop {
            let line = self.line().await?;
            let size = u64::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| invalid("bad chunk size"))?;
            if size == 0 {
                while !self.line().await?.is_empty() {}
                return Ok(total);
            }
            self.skip(size + 2).await?;
            total += size;
        }
    }

    async fn skip_to_end(&mut self) -> io::Result<u64> {
        let mut total = (self.end - self.start) as u64;
        self.start = 0;
        self.end = 0;
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| invalid("not connected"))?;
        loop {
            match stream.read(&mut self.buf).await? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    }
}

/// Prepared requests, used round-robin by request number.
type Requests = Arc<Vec<Vec<u8>>>;

/// A closed loop: `connections` clients each send their next request when the last one
/// is answered, until `max` requests or `duration`, whichever comes first.
async fn closed_loop(
    addr: SocketAddr,
    requests: Requests,
    connections: usize,
    max: u64,
    duration: Duration,
) -> Raw {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (requests, next) = (requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut conn = Conn::new(addr);
                let mut raw = Raw::default();
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= max {
                        break;
                    }
                    let request = &requests[(i % requests.len() as u64) as usize];
                    let sent = Instant::now();
                    let outcome = conn.exchange(request).await;
                    raw.record(sent.elapsed(), &outcome);
                    if outcome.is_err() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                raw
            })
        })
        .collect();
    let mut total = Raw::default();
    for task in tasks {
        total.merge(task.await.expect("a load task"));
    }
    total.elapsed = started.elapsed().as_secs_f64();
    total
}

/// An open loop: request `i` is due at `i / rate` seconds; a free connection sends it
/// then, and its latency counts from when it was due (so a queue behind a slow answer
/// is measured, not hidden).
async fn open_loop(
    addr: SocketAddr,
    requests: Requests,
    connections: usize,
    rate: f64,
    count: u64,
) -> Raw {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now() + Duration::from_millis(50);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (requests, next) = (requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut conn = Conn::new(addr);
                let mut raw = Raw::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
                    let request = &requests[(i % requests.len() as u64) as usize];
                    let outcome = conn.exchange(request).await;
                    let latency = due.elapsed();
                    if latency.as_millis() >= SLOW_MS as u128 {
                        let at = (due - started).as_secs_f64();
                        raw.slow.push((at, latency.as_micros() as u32));
                    }
                    raw.record(latency, &outcome);
                }
                raw
            })
        })
        .collect();
    let mut total = Raw::default();
    for task in tasks {
        total.merge(task.await.expect("a load task"));
    }
    total.elapsed = (Instant::now() - started).as_secs_f64();
    total
}

/// Groups a slow timeline into bursts: answers due within 100 ms of each other belong
/// to one. Each burst: when it began, how long it lasted, how many answers, the worst (ms).
fn bursts(slow: &[(f64, u32)]) -> Vec<(f64, f64, usize, f64)> {
    let mut sorted = slow.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64, usize, f64)> = Vec::new();
    for (at, us) in sorted {
        let ms = us as f64 / 1000.0;
        match out.last_mut() {
            Some(b) if at - (b.0 + b.1) < 0.1 => {
                b.1 = at - b.0;
                b.2 += 1;
                b.3 = b.3.max(ms);
            }
            _ => out.push((at, 0.0, 1, ms)),
        }
    }
    out
}

/// `drive ADDR PATH RATE SECONDS [CONNECTIONS]`: an open loop against a server already
/// running, from core 1; prints the latency percentiles and the bursts of slow answers.
fn drive(args: &[String]) {
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (_, pinning) = pin_self(nproc);
    let arg = |i: usize, name: &str| -> String {
        args.get(i)
            .cloned()
            .unwrap_or_else(|| panic!("drive ADDR PATH RATE SECONDS [CONNECTIONS]: no {name}"))
    };
    let addr: SocketAddr = arg(0, "ADDR").parse().expect("ADDR as 127.0.0.1:PORT");
    let path = arg(1, "PATH");
    let rate: f64 = arg(2, "RATE").parse().expect("RATE in requests/s");
    let seconds: f64 = arg(3, "SECONDS").parse().expect("SECONDS");
    let connections: usize = args.get(4).map_or(32, |c| c.parse().expect("CONNECTIONS"));
    let rt = load_runtime();
    let requests: Requests = Arc::new(vec![get(&addr.to_string(), &path, &[])]);
    let count = (rate * seconds) as u64;
    let mut raw = rt.block_on(open_loop(addr, requests, connections, rate, count));
    raw.latencies_us.sort_unstable();
    let l = &raw.latencies_us;
    println!(
        "{pinning}\n{} answers in {:.1} s ({:.0}/s), errors {}; p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms",
        l.len(),
        raw.elapsed,
        l.len() as f64 / raw.elapsed,
        raw.errors(),
        percentile(l, 0.5),
        percentile(l, 0.99),
        percentile(l, 0.999),
        l.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    for (at, lasted, n, worst) in bursts(&raw.slow) {
        println!(
            "  at {at:7.3} s for {:5.0} ms: {n:5} answers ≥ {SLOW_MS} ms, worst {worst:.1} ms",
            lasted * 1000.0
        );
    }
}

/// The load generator's runtime: one worker, on the core this process is pinned to.
fn load_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the load generator's runtime")
}

/// An HTTP/1.1 request, ready to write.
fn request(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        let _ = write!(text, "{name}: {value}\r\n");
    }
    if let Some(body) = body {
        let _ = write!(
            text,
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    if let Some(body) = body {
        bytes.extend_from_slice(body);
    }
    bytes
}

fn get(host: &str, path: &str, headers: &[(&str, String)]) -> Vec<u8> {
    request("GET", host, path, headers, None)
}

/// Percent-encodes a query value (UTF-8).
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

// ----------------------------------------------------------------------------------------
// Results
// ----------------------------------------------------------------------------------------

#[derive(Serialize, Clone)]
struct Scenario {
    key: String,
    name: String,
    target: String,
    mode: String,
    connections: usize,
    requests: u64,
    seconds: f64,
    throughput: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    mean_ms: f64,
    errors: u64,
    error_detail: String,
    statuses: BTreeMap<String, u64>,
    bytes_per_response: f64,
    ratio_to_limit: Option<f64>,
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
    other_cpu: Option<f64>,
    waited_for_quiet_s: f64,
    busy_before_cores: f64,
    server_rss_max_mb: f64,
    offered_rate: Option<f64>,
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index] as f64 / 1000.0
}

fn scenario(
    key: &str,
    name: &str,
    target: &str,
    mode: String,
    connections: usize,
    mut raw: Raw,
    usage: &Usage,
) -> Scenario {
    raw.latencies_us.sort_unstable();
    let responses = raw.latencies_us.len() as u64;
    let requests = responses + raw.io_errors;
    let mut error_detail: Vec<String> = raw
        .statuses
        .iter()
        .filter(|(s, _)| !((200..300).contains(*s) || **s == 304))
        .map(|(s, n)| format!("{n}× {s}"))
        .collect();
    if raw.io_errors > 0 {
        error_detail.push(format!("{}× connection error or timeout", raw.io_errors));
    }
    Scenario {
        key: key.into(),
        name: name.into(),
        target: target.into(),
        mode,
        connections,
        requests,
        seconds: raw.elapsed,
        throughput: if raw.elapsed > 0.0 {
            responses as f64 / raw.elapsed
        } else {
            0.0
        },
        p50_ms: percentile(&raw.latencies_us, 0.50),
        p90_ms: percentile(&raw.latencies_us, 0.90),
        p99_ms: percentile(&raw.latencies_us, 0.99),
        max_ms: raw.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        mean_ms: if responses > 0 {
            raw.latencies_us.iter().map(|&l| l as f64).sum::<f64>() / responses as f64 / 1000.0
        } else {
            0.0
        },
        errors: raw.errors(),
        error_detail: error_detail.join(", "),
        statuses: raw
            .statuses
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect(),
        bytes_per_response: if responses > 0 {
            raw.bytes as f64 / responses as f64
        } else {
            0.0
        },
        ratio_to_limit: None,
        server_cpu: usage.server_cpu,
        client_cpu: usage.client_cpu,
        other_cpu: usage.other_cpu,
        waited_for_quiet_s: usage.settled.0,
        busy_before_cores: usage.settled.1,
        server_rss_max_mb: usage.rss_max_kb as f64 / 1024.0,
        offered_rate: None,
    }
}

#[derive(Serialize)]
struct Goals {
    slice_ratio: Option<f64>,
    slice_ratio_met: bool,
    half_peak_p99_ms: f64,
    half_peak_met: bool,
    peak_rss_mb: f64,
    rss_met: bool,
    errors: u64,
    errors_met: bool,
}

#[derive(Serialize)]
struct BackendReport {
    backend: String,
    database: String,
    generation: GenerationReport,
    county: String,
    township: String,
    slice_bytes: usize,
    slice_items: u64,
    first_slice_ms: f64,
    rss_after_first_slice_mb: f64,
    scenarios: Vec<Scenario>,
    /// VmHWM after scenarios (1)–(6).
    peak_rss_mb: f64,
    /// VmHWM after the province-wide sweep (7) as well.
    peak_rss_with_sweep_mb: f64,
    reopened_claims: usize,
    reopen_seconds: f64,
    /// PostgreSQL: `VACUUM (ANALYZE)` after the generator, before the service starts.
    vacuum_seconds: Option<f64>,
    goals: Goals,
    notes: Vec<String>,
}

// ----------------------------------------------------------------------------------------
// The data: a fresh database, generated, and what the scenarios ask for
// ----------------------------------------------------------------------------------------

/// A PostgreSQL database created for this run, dropped when this goes.
struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    fn create(admin: &str) -> (PgDatabase, String) {
        use diesel::connection::SimpleConnection;
        let name = format!("quanze_load_{}", std::process::id());
        let mut conn = diesel::PgConnection::establish(admin)
            .unwrap_or_else(|e| panic!("cannot connect to {admin}: {e}"));
        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .expect("drop a leftover database");
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the load database");
        let (base, _) = admin.rsplit_once('/').expect("a database URL with a path");
        (
            PgDatabase {
                admin: admin.into(),
                name: name.clone(),
            },
            format!("{base}/{name}"),
        )
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.admin) {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// What the scenarios read and write, picked from the generated data.
struct Picked {
    /// The county of scenarios (1), (2), (5): the first with a second power version.
    county: String,
    edition: String,
    /// Its round.
    round: i64,
    /// The township of (1) and (2).
    township: String,
    county_townships: Vec<String>,
    /// One township in each of the first 8 counties, for (3).
    lookup_townships: Vec<String>,
    /// Rounds of the first 4 counties, for (4).
    rounds: Vec<(i64, String)>,
    /// One township per county, shuffled, for (7).
    sweep: Vec<String>,
    /// Answered claims of the county (not in the slice's township) to reopen for (5):
    /// id, township, item, revision.
    reopen: Vec<(i64, String, String, i64)>,
}

fn pick(db: &Db, writes: usize) -> Picked {
    db.read_blocking(|conn| {
        let counties: Vec<String> = regions::table
            .filter(regions::level.eq("county"))
            .order(regions::code.asc())
            .select(regions::code)
            .load(conn)?;
        let townships: Vec<(String, Option<String>)> = regions::table
            .filter(regions::level.eq("township"))
            .order(regions::code.asc())
            .select((regions::code, regions::parent_code))
            .load(conn)?;
        let mut by_county: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (code, parent) in townships {
            by_county
                .entry(parent.unwrap_or_default())
                .or_default()
                .push(code);
        }
        let twice: Option<String> = list_versions::table
            .filter(list_versions::kind.eq("power"))
            .filter(list_versions::number.eq(2))
            .order(list_versions::county_code.asc())
            .select(list_versions::county_code)
            .first(conn)
            .optional()?;
        let county = twice.unwrap_or_else(|| counties[0].clone());
        let county_townships = by_county.get(&county).cloned().unwrap_or_default();
        assert!(
            !county_townships.is_empty(),
            "county {county} has no townships"
        );
        let township = county_townships[1.min(county_townships.len() - 1)].clone();
        let all_rounds: Vec<(i64, String, String)> = claim_rounds::table
            .order(claim_rounds::id.asc())
            .select((
                claim_rounds::id,
                claim_rounds::county_code,
                claim_rounds::edition_code,
            ))
            .load(conn)?;
        let (round, edition) = all_rounds
            .iter()
            .find(|(_, c, _)| *c == county)
            .map(|(id, _, e)| (*id, e.clone()))
            .expect("the county has a claiming round");
        let first: Vec<&String> = counties.iter().take(4).collect();
        let rounds = all_rounds
            .iter()
            .filter(|(_, c, _)| first.contains(&c))
            .map(|(id, c, _)| (*id, c.clone()))
            .collect();
        let lookup_townships = counties
            .iter()
            .take(8)
            .filter_map(|c| by_county.get(c).and_then(|t| t.first().cloned()))
            .collect();
        let mut sweep: Vec<String> = counties
            .iter()
            .filter_map(|c| by_county.get(c).and_then(|t| t.first().cloned()))
            .collect();
        // A fixed shuffle (SplitMix64), so runs ask in the same order.
        let mut state = SEED;
        for i in (1..sweep.len()).rev() {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            sweep.swap(i, ((z ^ (z >> 31)) % (i as u64 + 1)) as usize);
        }
        let reopen = claims::table
            .filter(claims::round_id.eq(round))
            .filter(claims::township_code.ne(&township))
            .filter(claims::state.ne("offered"))
            .order((claims::township_code.asc(), claims::id.asc()))
            .select((
                claims::id,
                claims::township_code,
                claims::item_code,
                claims::revision,
            ))
            .limit(writes as i64)
            .load(conn)?;
        Ok(Picked {
            county,
            edition,
            round,
            township,
            county_townships,
            lookup_townships,
            rounds,
            sweep,
            reopen,
        })
    })
    .expect("pick townships, rounds and claims from the generated data")
}

/// A division code's leading digits (`510121` for a county, `510121101` for a township).
fn prefix(code: &str) -> &str {
    if code.ends_with("000000") {
        &code[..6]
    } else {
        &code[..9]
    }
}

// ----------------------------------------------------------------------------------------
// The run
// ----------------------------------------------------------------------------------------

struct Ctx {
    settings: Settings,
    pinned: bool,
    rt: tokio::runtime::Runtime,
    http: reqwest::blocking::Client,
    ticks_per_sec: f64,
    dir: PathBuf,
    config: quanze::config::Config,
}

fn orchestrate() {
    // Before any thread exists, so that every thread of the load generator inherits it.
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (pinned, pinning) = pin_self(nproc);
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("the package directory");
    let settings = Settings::from_env();
    let mut machine = Machine::describe(nproc, pinned, pinning);
    machine.commit = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let stamp = chrono::Utc::now();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("results")
        .join(format!("load-{}", stamp.format("%Y%m%dT%H%M%SZ")));
    std::fs::create_dir_all(&dir).expect("the results directory");
    eprintln!(
        "quanze load benchmark: {} scale, {} s per scenario, {} connections; {}",
        settings.scale_name, settings.seconds, settings.connections, machine.pinning
    );
    let rt = load_runtime();
    let ctx = Ctx {
        settings,
        pinned,
        rt,
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .expect("an HTTP client"),
        ticks_per_sec: clock_ticks_per_sec(),
        dir,
        config: quanze::config::Config::load(None).expect("the configuration"),
    };
    let started = Instant::now();
    let mut backends = Vec::new();
    backends.push(run_backend(&ctx, false));
    write_reports(&ctx, &machine, &stamp, &backends, started.elapsed());
    if let Some(_admin) = &ctx.settings.postgres {
        backends.push(run_backend(&ctx, true));
        write_reports(&ctx, &machine, &stamp, &backends, started.elapsed());
    }
    let report = ctx.dir.join("report.md");
    println!("\n{}", std::fs::read_to_string(&report).unwrap_or_default());
    println!("report: {}", report.display());
    println!("        {}", ctx.dir.join("report.json").display());
    println!("        {}", ctx.dir.join("latency.svg").display());
}

fn run_backend(ctx: &Ctx, postgres: bool) -> BackendReport {
    let s = &ctx.settings;
    let (label, tag) = if postgres {
        ("PostgreSQL", "postgresql")
    } else {
        ("SQLite", "sqlite")
    };
    let mut notes = Vec::new();

    // 1. Data: a fresh database, generated in this process through the domain code.
    let sqlite_dir = tempfile::tempdir().expect("a temporary directory");
    let (url, pg_database, database) = if postgres {
        let admin = s.postgres.as_deref().expect("a PostgreSQL URL");
        let (guard, url) = PgDatabase::create(admin);
        let described = format!("fresh PostgreSQL database {}", guard.name);
        (url, Some(guard), described)
    } else {
        let path = sqlite_dir.path().join("quanze.db");
        (
            path.to_string_lossy().into_owned(),
            None,
            "fresh SQLite file (WAL) in a temporary directory".to_string(),
        )
    };
    eprintln!(
        "== {label}: generating the {} province (seed {SEED})",
        s.scale_name
    );
    // The generator writes with the keys the server will run with, as `quanze generate`.
    let mut config = ctx.config.clone();
    config.database.url = url.clone();
    config.database.pool_size = 2;
    let service = quanze::Service::from_config(&config).expect("the service");
    let db = service.state.db.clone();
    db.migrate().expect("migrations");
    let generation = quanze::generate::generate(&db, SEED, &s.scale, &service.state.publication)
        .unwrap_or_else(|e| panic!("the generator failed: {e}"));
    eprintln!(
        "   generated in {:.1} s, database {:.0} MB",
        generation.seconds,
        generation.database_bytes as f64 / MIB
    );
    // What an operator does after a bulk load, so that autovacuum does not run during the
    // measurements: the generator updated every claim twice.
    let vacuum_seconds = postgres.then(|| {
        use diesel::connection::SimpleConnection;
        eprintln!("   VACUUM (ANALYZE)");
        let started = Instant::now();
        let mut conn = diesel::PgConnection::establish(&url).expect("connect for VACUUM");
        conn.batch_execute("VACUUM (ANALYZE)")
            .expect("VACUUM (ANALYZE)");
        started.elapsed().as_secs_f64()
    });
    let writes_wanted = (s.writes_per_sec * s.seconds).ceil() as usize + 5;
    let picked = pick(&db, writes_wanted);
    drop((db, service));

    // 2. The service, pinned to core 0.
    let port = free_port();
    let envs = [
        ("QUANZE_DATABASE_URL", url.clone()),
        ("QUANZE_BIND", format!("127.0.0.1:{port}")),
        ("QUANZE_LOG_LEVEL", "warn".to_string()),
        ("QUANZE_WORKERS", "1".to_string()),
    ];
    let mut quanze = Server::spawn(
        "quanze",
        Path::new(env!("CARGO_BIN_EXE_quanze")),
        &["serve".to_string()],
        &envs,
        ctx.pinned,
        ctx.dir.join(format!("quanze-{tag}.log")),
        port,
    );
    quanze.wait_ready(&ctx.http, "/readyz");
    let pid = quanze.pid();
    let base = format!("http://{}", quanze.addr);
    let host = quanze.addr.to_string();
    eprintln!("   quanze serve is up (pid {pid}) on {host}");

    // Warm-up: the slice (cold: its county's published version is loaded and rendered),
    // every township of that county, the lookups and the statistics.
    let slice_path = format!("/public/v1/townships/{}/power-list", picked.township);
    let started = Instant::now();
    let first = ctx
        .http
        .get(format!("{base}{slice_path}"))
        .send()
        .expect("the first slice");
    assert_eq!(first.status(), 200, "GET {slice_path}");
    let etag = first.headers()["etag"]
        .to_str()
        .expect("an ETag")
        .to_string();
    let location = first
        .headers()
        .get("content-location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let slice = first.bytes().expect("the slice").to_vec();
    let first_slice_ms = started.elapsed().as_secs_f64() * 1000.0;
    let slice_items = serde_json::from_slice::<Value>(&slice)
        .ok()
        .and_then(|v| v["item_count"].as_u64())
        .unwrap_or(0);
    let rss_after_first_slice_mb = status_kb(pid, "VmRSS").unwrap_or(0) as f64 / 1024.0;
    eprintln!(
        "   slice of {}: {} bytes, {slice_items} items, first read {first_slice_ms:.0} ms; RSS {rss_after_first_slice_mb:.0} MB",
        picked.township,
        slice.len()
    );
    let mut etags = BTreeMap::new();
    for t in &picked.county_townships {
        let response = ctx
            .http
            .get(format!("{base}/public/v1/townships/{t}/power-list"))
            .send()
            .expect("a slice");
        assert_eq!(response.status(), 200, "slice of {t}");
        etags.insert(
            t.clone(),
            response.headers()["etag"].to_str().unwrap().to_string(),
        );
    }
    let mut lookup_paths = Vec::new();
    for q in LOOKUPS {
        for t in &picked.lookup_townships {
            lookup_paths.push(format!("/public/v1/lookup?township={t}&q={}", encode(q)));
        }
    }
    let mut matches = BTreeMap::new();
    for path in &lookup_paths {
        let response = ctx
            .http
            .get(format!("{base}{path}"))
            .send()
            .expect("a lookup");
        assert_eq!(response.status(), 200, "GET {path}");
        let body: Value = response.json().expect("a lookup answer");
        *matches
            .entry(path.rsplit('=').next().unwrap_or("").to_string())
            .or_insert(0) += body["matches"].as_array().map_or(0, Vec::len);
    }
    notes.push(format!(
        "Lookups (3) found {} matters in total per pass over {} townships ({}).",
        matches.values().sum::<usize>(),
        picked.lookup_townships.len(),
        LOOKUPS.join(", ")
    ));
    let keys = quanze::auth::TokenKeys::from_config(&ctx.config.jwt).expect("token keys");
    let mint = |org: String, region: &str, role: &str| {
        keys.mint("load-bench", &org, region, &[role.to_string()], 6 * 3600)
            .expect("a token")
    };
    let mut stats_requests = Vec::new();
    for (round, county) in &picked.rounds {
        let token = mint(format!("{}-gov", prefix(county)), county, "county_compiler");
        let path = format!("/api/v1/claim-rounds/{round}/statistics");
        let response = ctx
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .expect("statistics");
        assert_eq!(response.status(), 200, "GET {path}");
        stats_requests.push(get(
            &host,
            &path,
            &[("Authorization", format!("Bearer {token}"))],
        ));
    }

    // The limit (and, on PostgreSQL, the peer): the same bytes from memory, pinned alike.
    let body_file = std::env::temp_dir().join(format!(
        "quanze-load-{}-{tag}-slice.json",
        std::process::id()
    ));
    std::fs::write(&body_file, &slice).expect("the slice's bytes");
    let limit_port = free_port();
    let mut args: Vec<String> = [
        "limit-server",
        "--port",
        &limit_port.to_string(),
        "--body",
        &body_file.to_string_lossy(),
        "--etag",
        etag.trim_matches('"'),
        "--location",
        &location,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    if postgres {
        args.extend([
            "--peer".into(),
            url.clone(),
            "--edition".into(),
            picked.edition.clone(),
        ]);
    }
    let mut limit = Server::spawn(
        "limit server",
        &std::env::current_exe().expect("this benchmark's executable"),
        &args,
        &[],
        ctx.pinned,
        ctx.dir.join(format!("limit-{tag}.log")),
        limit_port,
    );
    limit.wait_ready(&ctx.http, "/readyz");
    let limit_host = limit.addr.to_string();
    let from_limit = ctx
        .http
        .get(format!("http://{limit_host}{slice_path}"))
        .send()
        .expect("the limit's slice")
        .bytes()
        .expect("bytes");
    assert_eq!(
        from_limit.as_ref(),
        slice.as_slice(),
        "the limit serves the same bytes"
    );

    let n = s.connections;
    let closed = |addr: SocketAddr, requests: Vec<Vec<u8>>, connections: usize| {
        ctx.rt.block_on(closed_loop(
            addr,
            Arc::new(requests),
            connections,
            s.max_requests,
            s.duration(),
        ))
    };
    let closed_mode = |c: usize| format!("closed loop, {c} connections");
    let if_none_match = |t: &str| vec![("If-None-Match", etags[t].clone())];

    let mut peer = None;
    if postgres {
        let peer_path = format!("/peer/townships/{}/power-list", picked.township);
        let answer = ctx
            .http
            .get(format!("http://{limit_host}{peer_path}"))
            .send()
            .expect("the peer's slice");
        assert_eq!(answer.status(), 200, "GET {peer_path}");
        let answer = answer.bytes().expect("bytes");
        let items = serde_json::from_slice::<Value>(&answer)
            .ok()
            .and_then(|v| v["item_count"].as_u64())
            .unwrap_or(0);
        notes.push(format!(
            "The peer's slice (json_agg per request) has {items} items in {} bytes; quanze's has {slice_items} items in {} bytes.",
            answer.len(),
            slice.len()
        ));
        eprintln!("   peer: json_agg per request");
        let (raw, usage) = measured(limit.pid(), ctx.ticks_per_sec, || {
            closed(limit.addr, vec![get(&limit_host, &peer_path, &[])], n)
        });
        peer = Some(scenario(
            "P1",
            "peer: PostgreSQL builds the slice with json_agg per request (PostgREST-style)",
            "peer",
            closed_mode(n),
            n,
            raw,
            &usage,
        ));
    }

    // 3. The scenarios on quanze; (1) and (2) alternate with the limit in rounds, so that
    // whatever the machine does meanwhile (a VM's neighbours, the CPU's clock) weighs on
    // both alike: a limit measured minutes apart varied by a quarter between runs.
    eprintln!("   (1) slice and (2) revalidation, alternating with the limit in {ROUNDS} rounds");
    let round_length = s.duration() / ROUNDS as u32;
    let round_max = (s.max_requests / ROUNDS as u64).max(1);
    let (limit_pid, limit_addr, quanze_addr) = (limit.pid(), limit.addr, quanze.addr);
    // One quanze scenario and its limit, alternated; the quanze one carries the median
    // ratio, and a note lists the rounds'.
    let alternate = |(key, name): (&str, String),
                     (limit_key, limit_name): (&str, &str),
                     requests: Vec<u8>,
                     limit_requests: Vec<u8>| {
        let mut limit_side = Vec::new();
        let mut quanze_side = Vec::new();
        let round = |server: u32, addr: SocketAddr, request: &Vec<u8>| {
            measured(server, ctx.ticks_per_sec, || {
                let requests = Arc::new(vec![request.clone()]);
                ctx.rt
                    .block_on(closed_loop(addr, requests, n, round_max, round_length))
            })
        };
        for _ in 0..ROUNDS {
            limit_side.push(round(limit_pid, limit_addr, &limit_requests));
            quanze_side.push(round(pid, quanze_addr, &requests));
        }
        let mut ratios: Vec<f64> = limit_side
            .iter()
            .zip(&quanze_side)
            .map(|((l, _), (q, _))| {
                q.latencies_us.len() as f64
                    / q.elapsed.max(1e-9)
                    / (l.latencies_us.len() as f64 / l.elapsed.max(1e-9)).max(1e-9)
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let note = format!(
            "({key})/({limit_key}) per round, in order of size: {}; the ratio reported is their median.",
            ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let (limit_raw, limit_usage) = Raw::combine(limit_side);
        let (raw, usage) = Raw::combine(quanze_side);
        let limit_scenario = scenario(
            limit_key,
            limit_name,
            "limit",
            closed_mode(n),
            n,
            limit_raw,
            &limit_usage,
        );
        let mut quanze_scenario = scenario(key, &name, "quanze", closed_mode(n), n, raw, &usage);
        quanze_scenario.ratio_to_limit = Some(ratios[ratios.len() / 2]);
        (limit_scenario, quanze_scenario, note)
    };
    let (limit1, s1, note) = alternate(
        (
            "1",
            format!(
                "township slice of the power list in force ({} KB)",
                slice.len() / 1024
            ),
        ),
        ("L1", "limit: the same slice bytes from memory"),
        get(&host, &slice_path, &[]),
        get(&limit_host, &slice_path, &[]),
    );
    notes.push(note);
    quanze.check_alive("scenario (1)");
    limit.check_alive("scenario L1");
    let (limit2, s2, note) = alternate(
        ("2", "the same with If-None-Match (304)".to_string()),
        ("L2", "limit: the same with If-None-Match (304)"),
        get(&host, &slice_path, &if_none_match(&picked.township)),
        get(&limit_host, &slice_path, &if_none_match(&picked.township)),
    );
    notes.push(note);
    quanze.check_alive("scenario (2)");
    limit.check_alive("scenario L2");
    // (6) Half of the peak rate, open loop, alternating with the limit at the same rate:
    // what the machine itself does to the tail (a slow spell of the VM shows in both). The
    // machine's speed drifts by a quarter within minutes, so each round first measures the
    // peak again (a short closed loop on (1)) and offers half of that.
    let round_seconds = s.seconds / ROUNDS as f64;
    let probe_length = Duration::from_secs_f64((round_seconds / 2.0).max(0.5));
    eprintln!(
        "   (6) slice at half the peak, open loop, alternating with the limit in {ROUNDS} rounds"
    );
    let open = |addr: SocketAddr, request: Vec<u8>, rate: f64| {
        let count = ((rate * round_seconds) as u64).clamp(1, round_max);
        ctx.rt
            .block_on(open_loop(addr, Arc::new(vec![request]), n, rate, count))
    };
    let (mut quanze_side, mut limit_side, mut rates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let peak = ctx.rt.block_on(closed_loop(
            quanze_addr,
            Arc::new(vec![get(&host, &slice_path, &[])]),
            n,
            round_max,
            probe_length,
        ));
        let rate = (peak.latencies_us.len() as f64 / peak.elapsed.max(1e-9) / 2.0).max(1.0);
        rates.push(rate);
        limit_side.push(measured(limit_pid, ctx.ticks_per_sec, || {
            open(limit_addr, get(&limit_host, &slice_path, &[]), rate)
        }));
        quanze_side.push(measured(pid, ctx.ticks_per_sec, || {
            open(quanze_addr, get(&host, &slice_path, &[]), rate)
        }));
    }
    quanze.check_alive("scenario (6)");
    limit.check_alive("scenario L6");
    let rate = rates.iter().sum::<f64>() / rates.len() as f64;
    let rounds = |side: &[(Raw, Usage)]| {
        side.iter()
            .map(|(raw, _)| {
                let mut sorted = raw.latencies_us.clone();
                sorted.sort_unstable();
                let spells = bursts(&raw.slow);
                let p99 = percentile(&sorted, 0.99);
                match spells.len() {
                    0 => format!("{p99:.2}"),
                    count => format!(
                        "{p99:.2} ({count} spell{}, {:.0} ms, {} answers)",
                        if count == 1 { "" } else { "s" },
                        spells.iter().fold(0.0, |t, b| t + b.1 * 1000.0),
                        spells.iter().map(|b| b.2).sum::<usize>()
                    ),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    notes.push(format!(
        "(6) offered per round, requests/s (half of the peak measured just before): {}. \
         p99 per round, ms, with any spells of answers ≥ {SLOW_MS} ms (their total length and answers): {}; \
         the limit at the same rates (L6): {}.",
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        rounds(&quanze_side),
        rounds(&limit_side)
    ));
    let open_mode =
        format!("open loop at half the peak, {rate:.0} requests/s on average, {n} connections");
    let (raw, usage) = Raw::combine(quanze_side);
    let mut s6 = scenario(
        "6",
        "township slice at half of the peak rate of (1)",
        "quanze",
        open_mode.clone(),
        n,
        raw,
        &usage,
    );
    s6.offered_rate = Some(rate);
    let (raw, usage) = Raw::combine(limit_side);
    let mut limit6 = scenario(
        "L6",
        "limit: the same slice at the same rate",
        "limit",
        open_mode,
        n,
        raw,
        &usage,
    );
    limit6.offered_rate = Some(rate);

    limit.stop();
    let _ = std::fs::remove_file(&body_file);

    eprintln!("   (3) lookup, (4) statistics");
    let lookups: Vec<Vec<u8>> = lookup_paths.iter().map(|p| get(&host, p, &[])).collect();
    let (raw, usage) = measured(pid, ctx.ticks_per_sec, || {
        closed(quanze.addr, lookups.clone(), n)
    });
    quanze.check_alive("scenario (3)");
    let s3 = scenario(
        "3",
        &format!(
            "duty lookup by text, {} townships",
            picked.lookup_townships.len()
        ),
        "quanze",
        closed_mode(n),
        n,
        raw,
        &usage,
    );
    let (raw, usage) = measured(pid, ctx.ticks_per_sec, || {
        closed(quanze.addr, stats_requests.clone(), n)
    });
    quanze.check_alive("scenario (4)");
    let s4 = scenario(
        "4",
        &format!(
            "claims statistics, rounds of {} counties",
            picked.rounds.len()
        ),
        "quanze",
        closed_mode(n),
        n,
        raw,
        &usage,
    );

    // (5) Mixed: reads closed-loop, a paced trickle of claim answers. A compiler reopens
    // the claims the clerk will answer.
    eprintln!("   (5) mixed reads with a trickle of claim answers");
    let compiler = mint(
        format!("{}-gov", prefix(&picked.county)),
        &picked.county,
        "county_compiler",
    );
    let started = Instant::now();
    let mut writes = Vec::new();
    for (id, township, item, revision) in &picked.reopen {
        let response = ctx
            .http
            .post(format!("{base}/api/v1/claims/{id}/reopen"))
            .bearer_auth(&compiler)
            .header("If-Match", format!("\"{revision}\""))
            .json(&json!({"reason": "负载测试：重新认领"}))
            .send()
            .expect("reopen");
        assert_eq!(response.status(), 200, "reopen claim {id}");
        let claim: Value = response.json().expect("the reopened claim");
        let clerk = mint(
            format!("{}-bmzx", prefix(township)),
            township,
            "township_clerk",
        );
        let (answer, reason) = if writes.len() % 2 == 0 {
            ("defer", "暂无持证执法人员，暂缓承接")
        } else {
            ("decline", "辖区内无此类事项")
        };
        let body = json!({
            "township": township,
            "answers": [{"item": item, "answer": answer, "reason": reason, "revision": claim["revision"]}],
        });
        writes.push(request(
            "POST",
            &host,
            &format!("/api/v1/claim-rounds/{}/answers", picked.round),
            &[("Authorization", format!("Bearer {clerk}"))],
            Some(body.to_string().as_bytes()),
        ));
    }
    let reopen_seconds = started.elapsed().as_secs_f64();
    let write_count = ((s.writes_per_sec * s.seconds).round() as usize).min(writes.len());
    if write_count < (s.writes_per_sec * s.seconds).round() as usize {
        notes.push(format!(
            "Mixed (5): only {write_count} claims could be reopened for answers, fewer than {:.0} writes/s × {} s.",
            s.writes_per_sec, s.seconds
        ));
    }
    let mut mixed = Vec::new();
    for i in 0..60 {
        let t = &picked.county_townships[i % picked.county_townships.len()];
        let path = format!("/public/v1/townships/{t}/power-list");
        mixed.push(match i % 5 {
            0..=2 => get(&host, &path, &[]),
            3 => get(&host, &path, &if_none_match(t)),
            _ => lookups[i % lookups.len()].clone(),
        });
    }
    let readers = n - 1;
    let ((reads, written), usage) = measured(pid, ctx.ticks_per_sec, || {
        ctx.rt.block_on(async {
            tokio::join!(
                closed_loop(
                    quanze.addr,
                    Arc::new(mixed),
                    readers,
                    s.max_requests,
                    s.duration()
                ),
                open_loop(
                    quanze.addr,
                    Arc::new(writes),
                    1,
                    s.writes_per_sec,
                    write_count as u64
                ),
            )
        })
    });
    quanze.check_alive("scenario (5)");
    let mut s5 = scenario(
        "5",
        "mixed reads: 60% slices, 20% revalidations, 20% lookups",
        "quanze",
        format!("{} + a paced writer", closed_mode(readers)),
        readers,
        reads,
        &usage,
    );
    let mut s5w = scenario(
        "5w",
        "… with claim answers by a township clerk (one claim per request)",
        "quanze",
        format!("open loop at {} writes/s, 1 connection", s.writes_per_sec),
        1,
        written,
        &usage,
    );
    s5w.offered_rate = Some(s.writes_per_sec);
    s5.mode = format!(
        "{}; writes {:.2}% of requests",
        s5.mode,
        100.0 * s5w.requests as f64 / (s5.requests + s5w.requests).max(1) as f64
    );
    let peak_rss_mb = status_kb(pid, "VmHWM").unwrap_or(0) as f64 / 1024.0;

    // (7) The whole province: one township per county, every request another county.
    eprintln!("   (7) slices across the province");
    let sweep: Vec<Vec<u8>> = picked
        .sweep
        .iter()
        .map(|t| get(&host, &format!("/public/v1/townships/{t}/power-list"), &[]))
        .collect();
    let (raw, usage) = measured(pid, ctx.ticks_per_sec, || closed(quanze.addr, sweep, n));
    quanze.check_alive("scenario (7)");
    let s7 = scenario(
        "7",
        &format!(
            "township slices across the province ({} counties, shuffled)",
            picked.sweep.len()
        ),
        "quanze",
        closed_mode(n),
        n,
        raw,
        &usage,
    );
    let peak_rss_with_sweep_mb = status_kb(pid, "VmHWM").unwrap_or(0) as f64 / 1024.0;
    quanze.stop();
    drop(pg_database);
    drop(sqlite_dir);

    // Goals and notes.
    // The goals hold for the whole run, the province-wide sweep included.
    let core = [&s1, &s2, &s3, &s4, &s5, &s5w, &s6, &s7];
    let errors: u64 = core.iter().map(|c| c.errors).sum();
    let goals = Goals {
        slice_ratio: s1.ratio_to_limit,
        slice_ratio_met: s1.ratio_to_limit.is_some_and(|r| r >= GOAL_RATIO),
        half_peak_p99_ms: s6.p99_ms,
        half_peak_met: s6.p99_ms < GOAL_P99_MS && s6.errors == 0,
        peak_rss_mb: peak_rss_with_sweep_mb,
        rss_met: peak_rss_with_sweep_mb < GOAL_RSS_MB,
        errors,
        errors_met: errors == 0,
    };
    let mut scenarios: Vec<Scenario> =
        vec![s1, s2, s3, s4, s5, s5w, s6, s7, limit1, limit2, limit6];
    if let Some(mut p) = peer {
        p.ratio_to_limit = Some(p.throughput / scenarios[8].throughput.max(1e-9));
        scenarios.push(p);
    }
    for c in &scenarios {
        if c.busy_before_cores >= 0.25 {
            notes.push(format!(
                "({}) started on a busy machine: other processes kept {:.1} cores busy after a {:.0} s wait for quiet.",
                c.key, c.busy_before_cores, c.waited_for_quiet_s
            ));
        }
        if let (Some(client), Some(server)) = (c.client_cpu, c.server_cpu) {
            if client > 0.9 && server < 0.85 && c.mode.starts_with("closed") {
                notes.push(format!(
                    "({}) the load generator was busier ({:.0}% of its core) than the server ({:.0}%): this figure may be bounded by the client.",
                    c.key,
                    client * 100.0,
                    server * 100.0
                ));
            }
        }
    }
    if postgres {
        notes.push(
            "PostgreSQL's own processes are not pinned: they share both cores with the servers and the load generator."
                .into(),
        );
    }
    BackendReport {
        backend: label.into(),
        database,
        generation,
        county: picked.county,
        township: picked.township,
        slice_bytes: slice.len(),
        slice_items,
        first_slice_ms,
        rss_after_first_slice_mb,
        scenarios,
        peak_rss_mb,
        peak_rss_with_sweep_mb,
        reopened_claims: picked.reopen.len(),
        reopen_seconds,
        vacuum_seconds,
        goals,
        notes,
    }
}

// ----------------------------------------------------------------------------------------
// The limit and the peer: a minimal actix-web server
// ----------------------------------------------------------------------------------------

type PgPool = diesel::r2d2::Pool<diesel::r2d2::ConnectionManager<diesel::PgConnection>>;

struct LimitState {
    body: web::Bytes,
    etag: String,
    location: String,
    peer: Option<(PgPool, String)>,
}

/// The same bytes from memory, with the same validators: 304 when the client has them.
async fn limit_slice(req: HttpRequest, state: web::Data<LimitState>) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == state.etag.as_bytes());
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, state.etag.clone()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60, must-revalidate"))
        .insert_header((header::CONTENT_LOCATION, state.location.clone()));
    if fresh {
        response.finish()
    } else {
        response
            .content_type("application/json")
            .body(state.body.clone())
    }
}

/// PostgREST's way: the database assembles the whole JSON answer per request.
const PEER_SQL: &str = "\
WITH items AS (
  SELECT 'statutory' AS holding, ci.code, ci.name, ci.category, ci.source, ci.delegation_mode,
         ci.sector, ci.domain, ci.legal_basis::json AS legal_basis,
         ci.responsibilities::json AS responsibilities, ci.accountability::json AS accountability,
         ci.time_limit_days, ci.high_frequency, ci.service_guide, ci.parent_code,
         NULL::json AS unit, NULL::bigint AS round
    FROM catalogue_items ci
   WHERE ci.edition_code = $1 AND ci.source = 'statutory'
  UNION ALL
  SELECT 'delegated', ci.code, ci.name, ci.category, ci.source, ci.delegation_mode,
         ci.sector, ci.domain, ci.legal_basis::json, ci.responsibilities::json,
         ci.accountability::json, ci.time_limit_days, ci.high_frequency, ci.service_guide,
         ci.parent_code,
         CASE WHEN o.code IS NULL THEN NULL ELSE json_build_object('code', o.code, 'name', o.name) END,
         cl.round_id
    FROM claims cl
    JOIN claim_rounds r ON r.id = cl.round_id
    JOIN catalogue_items ci ON ci.id = cl.item_id
    LEFT JOIN organisations o ON o.code = cl.unit_code
   WHERE cl.township_code = $2 AND cl.state = 'confirmed' AND r.edition_code = $1
)
SELECT json_build_object(
         'county', json_build_object('code', c.code, 'name', c.name),
         'edition', $1::text,
         'kind', 'power',
         'township', json_build_object('code', t.code, 'kind', t.kind, 'name', t.name),
         'item_count', (SELECT count(*) FROM items),
         'items', (SELECT coalesce(json_agg(i ORDER BY i.code), '[]'::json) FROM items i)
       )::text AS body
  FROM regions t JOIN regions c ON c.code = t.parent_code
 WHERE t.code = $2";

#[derive(QueryableByName)]
struct PeerBody {
    #[diesel(sql_type = diesel::sql_types::Text)]
    body: String,
}

async fn peer_slice(state: web::Data<LimitState>, township: web::Path<String>) -> HttpResponse {
    let Some((pool, edition)) = state.peer.clone() else {
        return HttpResponse::NotFound().finish();
    };
    let township = township.into_inner();
    let answer = web::block(move || -> Result<Option<String>, String> {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        diesel::sql_query(PEER_SQL)
            .bind::<diesel::sql_types::Text, _>(&edition)
            .bind::<diesel::sql_types::Text, _>(&township)
            .get_result::<PeerBody>(&mut conn)
            .optional()
            .map(|b| b.map(|b| b.body))
            .map_err(|e| e.to_string())
    })
    .await;
    match answer {
        Ok(Ok(Some(body))) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        Ok(Ok(None)) => HttpResponse::NotFound().finish(),
        Ok(Err(e)) => HttpResponse::ServiceUnavailable().body(e),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

/// `limit-server --port P --body FILE --etag E --location L [--peer URL --edition E]`.
fn limit_server(args: &[String]) {
    let mut options = BTreeMap::new();
    let mut it = args.iter();
    while let Some(key) = it.next() {
        if let (Some(name), Some(value)) = (key.strip_prefix("--"), it.next()) {
            options.insert(name.to_string(), value.clone());
        }
    }
    let option = |name: &str| {
        options
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("limit-server needs --{name}"))
    };
    let port: u16 = option("port").parse().expect("a port");
    let body = web::Bytes::from(std::fs::read(option("body")).expect("the body file"));
    let peer = options.get("peer").map(|url| {
        let pool = diesel::r2d2::Pool::builder()
            .max_size(8)
            .build_unchecked(diesel::r2d2::ConnectionManager::<diesel::PgConnection>::new(url));
        (pool, option("edition"))
    });
    let state = web::Data::new(LimitState {
        body,
        etag: format!("\"{}\"", option("etag")),
        location: option("location"),
        peer,
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("the limit server's port");
    actix_web::rt::System::new()
        .block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .app_data(state.clone())
                    .route(
                        "/public/v1/townships/{township}/power-list",
                        web::get().to(limit_slice),
                    )
                    .route(
                        "/peer/townships/{township}/power-list",
                        web::get().to(peer_slice),
                    )
                    .route("/readyz", web::get().to(|| async { "ready" }))
            })
            .workers(1)
            .shutdown_timeout(1)
            .tcp_nodelay(true)
            .listen(listener)?
            .run()
            .await
        })
        .expect("the limit server");
}

// ----------------------------------------------------------------------------------------
// The report: Markdown, JSON, SVG
// ----------------------------------------------------------------------------------------

fn ms(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.3}")
    } else if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

fn yes(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**not met**"
    }
}

fn table(b: &BackendReport) -> String {
    let cores =
        |u: Option<f64>| u.map_or_else(|| "—".to_string(), |u| format!("{:.0}%", u * 100.0));
    let mut out = String::new();
    out.push_str("| scenario | requests | throughput (req/s) | p50 ms | p99 ms | max ms | errors | ratio to limit | CPU server / client / other | KB/answer |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for c in &b.scenarios {
        let _ = writeln!(
            out,
            "| ({}) {} | {} | {:.0} | {} | {} | {} | {} | {} | {} / {} / {} | {:.1} |",
            c.key,
            c.name,
            c.requests,
            c.throughput,
            ms(c.p50_ms),
            ms(c.p99_ms),
            ms(c.max_ms),
            if c.errors == 0 {
                "0".to_string()
            } else {
                format!("{} ({})", c.errors, c.error_detail)
            },
            c.ratio_to_limit
                .map_or_else(|| "—".to_string(), |r| format!("{r:.2}")),
            cores(c.server_cpu),
            cores(c.client_cpu),
            cores(c.other_cpu),
            c.bytes_per_response / 1024.0,
        );
    }
    out
}

fn markdown(
    ctx: &Ctx,
    machine: &Machine,
    stamp: &str,
    backends: &[BackendReport],
    total: Duration,
) -> String {
    let s = &ctx.settings;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# quanze load benchmark, {stamp}, commit {}\n",
        machine.commit
    );
    let _ = writeln!(
        out,
        "Machine: {} cores ({}), {} MB memory, Linux {}. Pinning: {}.\n",
        machine.nproc, machine.cpu, machine.memory_mb, machine.kernel, machine.pinning
    );
    let _ = writeln!(
        out,
        "Run: `{}` scale (seed {SEED}), at most {} s and {} requests per scenario, {} connections, \
         quanze with `QUANZE_WORKERS=1` and its default pool (8); the limit and the peer with one worker. \
         Latency is measured by the client from the send (closed loop) or from the scheduled send time \
         (open loop, scenario 6 and the writes of 5), to the last byte of the answer. Before each scenario the \
         run waits (at most a minute) for other processes to leave the machine quiet. CPU is a share \
         of one core: the server (quanze, or the limit/peer process), this load generator, and every \
         other process on the machine (PostgreSQL, other people's work). Total time {:.0} s.\n",
        s.scale_name, s.seconds, s.max_requests, s.connections, total.as_secs_f64()
    );
    for b in backends {
        let g = &b.generation;
        let _ = writeln!(out, "## {}\n", b.backend);
        let phases: Vec<String> = g
            .phases
            .iter()
            .map(|(name, secs)| format!("{name} {secs:.1} s"))
            .collect();
        let _ = writeln!(
            out,
            "Data: {}; generated in **{:.1} s** ({}); database size **{:.0} MB**; {} counties, {} townships, \
             {} organisations, {} catalogue items, {} claims answered, {} matters, {} versions published.{}\n",
            b.database,
            g.seconds,
            phases.join(", "),
            g.database_bytes as f64 / MIB,
            g.counties,
            g.townships,
            g.organisations,
            g.items,
            g.claims,
            g.matters,
            g.publications,
            b.vacuum_seconds.map_or_else(String::new, |v| format!(
                " Then `VACUUM (ANALYZE)` ({v:.1} s), as after any bulk load, so that autovacuum stays out of the measurements."
            ))
        );
        let _ = writeln!(
            out,
            "Slice: township {} of county {}, {} items, {} bytes; its first (cold) read took {:.0} ms; \
             quanze's RSS after it {:.0} MB.\n",
            b.township, b.county, b.slice_items, b.slice_bytes, b.first_slice_ms, b.rss_after_first_slice_mb
        );
        out.push_str(&table(b));
        let _ = writeln!(
            out,
            "\nPeak RSS of quanze (VmHWM): **{:.0} MB** over scenarios 1–6; {:.0} MB including the province-wide \
             sweep (7). {} claims reopened for (5) in {:.1} s.\n",
            b.peak_rss_mb, b.peak_rss_with_sweep_mb, b.reopened_claims, b.reopen_seconds
        );
        let slowest = b
            .scenarios
            .iter()
            .filter(|c| c.target == "quanze")
            .max_by(|x, y| x.p99_ms.total_cmp(&y.p99_ms));
        if let Some(c) = slowest {
            let _ = writeln!(
                out,
                "Slowest quanze path by p99: ({}) {}: p99 {} ms, {:.0} requests/s.\n",
                c.key,
                c.name,
                ms(c.p99_ms),
                c.throughput
            );
        }
        for note in &b.notes {
            let _ = writeln!(out, "- {note}");
        }
        out.push('\n');
    }
    out.push_str("## Goals\n\n| goal | ");
    out.push_str(
        &backends
            .iter()
            .map(|b| b.backend.clone())
            .collect::<Vec<_>>()
            .join(" | "),
    );
    out.push_str(" |\n|---|");
    out.push_str(&"---|".repeat(backends.len()));
    out.push('\n');
    let row = |label: &str, cell: &dyn Fn(&BackendReport) -> String| {
        let cells: Vec<String> = backends.iter().map(cell).collect();
        format!("| {label} | {} |\n", cells.join(" | "))
    };
    out.push_str(&row(
        "township slice ≥ 0.8 of the limit's throughput",
        &|b| {
            format!(
                "{} ({})",
                b.goals
                    .slice_ratio
                    .map_or_else(|| "—".into(), |r| format!("{r:.2}")),
                yes(b.goals.slice_ratio_met)
            )
        },
    ));
    out.push_str(&row("p99 < 10 ms at half the peak rate (6)", &|b| {
        format!(
            "{} ms ({})",
            ms(b.goals.half_peak_p99_ms),
            yes(b.goals.half_peak_met)
        )
    }));
    out.push_str(&row("RSS < 300 MB during the run (1–7)", &|b| {
        format!("{:.0} MB ({})", b.goals.peak_rss_mb, yes(b.goals.rss_met))
    }));
    out.push_str(&row("no errors in the run (1–7)", &|b| {
        format!("{} ({})", b.goals.errors, yes(b.goals.errors_met))
    }));
    out.push_str("\n![p50 and p99 per scenario](latency.svg)\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A scenario's name on the chart.
fn short_label(key: &str) -> &'static str {
    match key {
        "1" => "slice",
        "2" => "slice, 304",
        "3" => "lookup by text",
        "4" => "claims statistics",
        "5" => "mixed: reads",
        "5w" => "mixed: claim answers",
        "6" => "slice at half peak",
        "7" => "province-wide slices",
        "L1" => "limit: slice",
        "L2" => "limit: 304",
        "L6" => "limit: half peak",
        "P1" => "peer: json_agg",
        _ => "",
    }
}

/// p50 and p99 per scenario, one panel per backend, on a logarithmic axis.
fn chart(backends: &[Value]) -> String {
    let empty = Vec::new();
    let scenarios = |b: &Value| b["scenarios"].as_array().unwrap_or(&empty).clone();
    let number = |c: &Value, key: &str| c[key].as_f64().unwrap_or(0.0);
    let (width, left, right) = (1100.0, 80.0, 20.0);
    let (pad, plot, labels) = (50.0, 240.0, 110.0);
    let panel = pad + plot + labels;
    let height = 60.0 + panel * backends.len() as f64;
    let lo: f64 = 0.01;
    let top_value = backends
        .iter()
        .flat_map(|b| scenarios(b).into_iter().map(|c| number(&c, "p99_ms")))
        .fold(100.0, f64::max);
    let hi = 10f64.powf(top_value.log10().ceil());
    let decades = (hi / lo).log10();
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="24" font-size="16" font-weight="bold">quanze load benchmark: latency per scenario (log scale, ms)</text>"#
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{}" y="12" width="12" height="12" fill="#9ecae1"/><text x="{}" y="23">p50</text><rect x="{}" y="12" width="12" height="12" fill="#08519c"/><text x="{}" y="23">p99</text><line x1="{}" y1="18" x2="{}" y2="18" stroke="#d62728" stroke-dasharray="6 3"/><text x="{}" y="23">10 ms goal</text>"##,
        width - 330.0,
        width - 314.0,
        width - 270.0,
        width - 254.0,
        width - 210.0,
        width - 180.0,
        width - 175.0
    );
    for (n, b) in backends.iter().enumerate() {
        let top = 40.0 + panel * n as f64 + pad;
        let y = |v: f64| top + plot * (1.0 - (v.max(lo) / lo).log10() / decades);
        let _ = writeln!(
            svg,
            r#"<text x="{left}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
            top - 14.0,
            escape(b["backend"].as_str().unwrap_or(""))
        );
        let mut v = lo;
        while v <= hi * 1.0001 {
            let label = if v < 1.0 {
                format!("{v}")
            } else {
                format!("{v:.0}")
            };
            let _ = writeln!(
                svg,
                r##"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#dddddd"/><text x="{2}" y="{3:.1}" text-anchor="end">{label}</text>"##,
                y(v),
                width - right,
                left - 6.0,
                y(v) + 4.0
            );
            v *= 10.0;
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#d62728" stroke-dasharray="6 3"/>"##,
            y(GOAL_P99_MS),
            width - right
        );
        let bars = scenarios(b);
        let group = (width - left - right) / bars.len().max(1) as f64;
        for (i, c) in bars.iter().enumerate() {
            let key = c["key"].as_str().unwrap_or("");
            let (p50, p99) = (number(c, "p50_ms"), number(c, "p99_ms"));
            let x = left + group * i as f64;
            for (j, (value, colour)) in [(p50, "#9ecae1"), (p99, "#08519c")].iter().enumerate() {
                let bx = x + group * (0.15 + 0.35 * j as f64);
                let _ = writeln!(
                    svg,
                    r#"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>({}) {}: {} ms</title></rect>"#,
                    y(*value),
                    group * 0.33,
                    (top + plot - y(*value)).max(0.5),
                    escape(key),
                    if j == 0 { "p50" } else { "p99" },
                    ms(*value)
                );
            }
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                x + group * 0.5,
                y(p99) - 4.0,
                ms(p99)
            );
            let short = short_label(key);
            let cx = x + group * 0.5;
            let cy = top + plot + 14.0;
            let _ = writeln!(
                svg,
                r#"<text x="{cx:.1}" y="{cy:.1}" text-anchor="end" transform="rotate(-35 {cx:.1} {cy:.1})">({}) {}</text>"#,
                escape(key),
                escape(short)
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#333333"/>"##,
            top + plot,
            width - right
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn write_reports(
    ctx: &Ctx,
    machine: &Machine,
    stamp: &chrono::DateTime<chrono::Utc>,
    backends: &[BackendReport],
    total: Duration,
) {
    let when = stamp.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let s = &ctx.settings;
    let json = json!({
        "timestamp": when,
        "machine": machine,
        "settings": {
            "scale": s.scale_name,
            "seed": SEED,
            "seconds_per_scenario": s.seconds,
            "max_requests_per_scenario": s.max_requests,
            "connections": s.connections,
            "writes_per_sec": s.writes_per_sec,
            "quanze_workers": 1,
        },
        "total_seconds": total.as_secs_f64(),
        "backends": backends,
    });
    std::fs::write(
        ctx.dir.join("report.json"),
        serde_json::to_string_pretty(&json).expect("the report serialises"),
    )
    .expect("report.json");
    std::fs::write(
        ctx.dir.join("report.md"),
        markdown(ctx, machine, &when, backends, total),
    )
    .expect("report.md");
    let rows = json["backends"].as_array().cloned().unwrap_or_default();
    std::fs::write(ctx.dir.join("latency.svg"), chart(&rows)).expect("latency.svg");
}
