//! A claiming round for one county of 20 townships × 300 items: opening it, one
//! township's bulk answer of 300 items, a department's bulk confirmation, statistics and
//! a power set.
//!
//! `cargo bench --bench claims` (SQLite); set `QUANZE_TEST_DATABASE_URL` for PostgreSQL.

#[allow(dead_code, reason = "the bench uses part of the test harness")]
#[path = "../tests/api/common.rs"]
mod common;
#[allow(dead_code, reason = "shared by several benchmarks")]
mod support;

use std::time::Instant;

use support::*;

const STATS_RUNS: usize = 50;

fn main() {
    let app = common::TestApp::with_demo();
    county_and_edition(&app);
    let compiler = compiler(&app);
    println!(
        "claims benchmark on {}: {TOWNSHIPS} townships × {ITEMS} items",
        backend()
    );
    header();
    let started = Instant::now();
    let round = open_round(&app);
    summarise("open a round (6,000 claims)", vec![started.elapsed()]);
    let (answers, confirmations): (Vec<_>, Vec<_>) = (0..TOWNSHIPS)
        .map(|t| answer_and_confirm(&app, round, t))
        .unzip();
    summarise("bulk answer of 300 items by one township", answers);
    summarise(
        "bulk confirmation of ~255 items by a department",
        confirmations,
    );
    let c = Some(compiler.as_str());
    summarise(
        "round statistics (6,000 claims)",
        time_gets(
            &app,
            &format!("/api/v1/claim-rounds/{round}/statistics"),
            c,
            STATS_RUNS,
        ),
    );
    summarise(
        "one township's power set (40 + 255 items)",
        time_gets(
            &app,
            &format!("/api/v1/townships/{}/power-set", township(0)),
            c,
            20,
        ),
    );
    summarise(
        "one page of 50 claims, filtered by state",
        time_gets(
            &app,
            &format!("/api/v1/claim-rounds/{round}/claims?state=deferred&page_size=50"),
            c,
            20,
        ),
    );
    summarise(
        "CSV export of the round",
        time_gets(&app, &format!("/api/v1/claim-rounds/{round}/export"), c, 5),
    );
}
