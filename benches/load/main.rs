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

mod client;
mod data;
mod limit;
mod nginx;
mod process;
mod province;
mod report;
mod run;
mod scenario;
use client::*;
use data::*;
use limit::*;
use nginx::*;
use process::*;
use province::*;
use report::*;
use run::*;
use scenario::*;

/// The generator's seed: the same seed builds the same province.
pub(crate) const SEED: u64 = 2026;
pub(crate) const MIB: f64 = 1024.0 * 1024.0;
/// Goals from the issue.
pub(crate) const GOAL_RATIO: f64 = 0.8;
/// Rounds in which (1) and (2) alternate with the limit.
pub(crate) const ROUNDS: usize = 5;
pub(crate) const GOAL_P99_MS: f64 = 10.0;
pub(crate) const GOAL_RSS_MB: f64 = 300.0;
/// Searches of scenario (3): simplified, traditional (folded to the same), two more.
pub(crate) const LOOKUPS: [&str; 4] = ["油烟", "油煙", "违法建设", "建筑垃圾"];

pub(crate) fn main() {
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

pub(crate) struct Settings {
    pub(crate) scale_name: String,
    pub(crate) scale: Scale,
    pub(crate) seconds: f64,
    pub(crate) connections: usize,
    pub(crate) max_requests: u64,
    pub(crate) writes_per_sec: f64,
    pub(crate) postgres: Option<String>,
}

pub(crate) fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        _ => default,
    }
}

impl Settings {
    pub(crate) fn from_env() -> Settings {
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

    pub(crate) fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
}

#[derive(Serialize)]
pub(crate) struct Machine {
    pub(crate) nproc: usize,
    pub(crate) cpu: String,
    pub(crate) memory_mb: u64,
    pub(crate) kernel: String,
    pub(crate) pinned: bool,
    pub(crate) pinning: String,
    /// The commit measured (`git describe --always --dirty`).
    pub(crate) commit: String,
}

impl Machine {
    pub(crate) fn describe(nproc: usize, pinned: bool, pinning: String) -> Machine {
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
pub(crate) fn pin_self(nproc: usize) -> (bool, String) {
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
