//! Publishing a county power list of 20 townships × 300 items, and serving one
//! township's slice of the version in force.
//!
//! `cargo bench --bench publication` (SQLite); set `QUANZE_TEST_DATABASE_URL` for PostgreSQL.

#[allow(dead_code, reason = "the bench uses part of the test harness")]
#[path = "../tests/api/common.rs"]
mod common;
#[allow(dead_code, reason = "shared by several benchmarks")]
mod support;

use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::json;
use support::*;

const RUNS: usize = 3;
const READS: usize = 1000;

fn main() {
    let app = TestApp::with_demo();
    county_and_edition(&app);
    let round = open_round(&app);
    for t in 0..TOWNSHIPS {
        answer_and_confirm(&app, round, t);
    }
    let compiler = compiler(&app);
    let legality = app.token(&["legality_reviewer"], COUNTY, "xuyong-sfj");
    let government = app.token(&["government_approver"], COUNTY, "xuyong-gov");
    let base = format!("/api/v1/counties/{COUNTY}/lists/power/versions");
    println!(
        "publication benchmark on {}: {TOWNSHIPS} townships × {ITEMS} offered items",
        backend()
    );
    header();
    let (mut submits, mut reviews, mut publishes, mut totals) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut size = 0;
    for run in 1..=RUNS {
        let started = Instant::now();
        let version = expect_json(app.post(&base, &compiler, &json!({"title": format!("叙永县乡镇权责清单 第{run}版"), "change_summary": "基准测试"})), 201);
        let submitted = started.elapsed();
        submits.push(submitted);
        size = version["item_count"].as_i64().unwrap();
        let hash = version["content_hash"].as_str().unwrap().to_string();
        let n = version["number"].as_i64().unwrap();
        let review_start = Instant::now();
        for (token, stage) in [(&legality, "legality"), (&government, "government")] {
            expect_json(
                app.post(
                    &format!("{base}/{n}/reviews"),
                    token,
                    &json!({"stage": stage, "decision": "approve", "hash": hash}),
                ),
                201,
            );
        }
        reviews.push(review_start.elapsed() / 2);
        let etag = app.etag(&format!("{base}/{n}"), &compiler);
        let publish_start = Instant::now();
        expect_json(
            app.send(
                Method::POST,
                &format!("{base}/{n}/publish"),
                &compiler,
                Some(&etag),
                &json!({}),
            ),
            200,
        );
        publishes.push(publish_start.elapsed());
        totals.push(submitted + publish_start.elapsed());
    }
    summarise(&format!("submit: compile and freeze {size} items"), submits);
    summarise("one review (legality, government)", reviews);
    summarise("publish (supersedes the previous version)", publishes);
    summarise("submit + publish", totals);

    let slice = format!("/public/v1/townships/{}/power-list", township(3));
    let started = Instant::now();
    let first = app.get(&slice);
    let cold = started.elapsed();
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let bytes = first.bytes().unwrap().len();
    summarise(
        &format!("township slice, first read ({} KiB)", bytes / 1024),
        vec![cold],
    );
    summarise(
        "township slice in force, warm",
        time_gets(&app, &slice, None, READS),
    );
    let revalidations: Vec<Duration> = (0..READS)
        .map(|_| {
            let started = Instant::now();
            let response = app
                .request(Method::GET, &slice, None)
                .header("If-None-Match", &etag)
                .send()
                .unwrap();
            assert_eq!(response.status(), 304);
            started.elapsed()
        })
        .collect();
    summarise("township slice with If-None-Match (304)", revalidations);
    // The first filtered read indexes the slice's items; later ones reuse the index.
    summarise(
        "township slice filtered, first read",
        time_gets(&app, &format!("{slice}?high_frequency=true"), None, 1),
    );
    summarise(
        "township slice filtered (category=02)",
        time_gets(&app, &format!("{slice}?category=02"), None, READS / 4),
    );
    summarise(
        "whole county document by version number",
        time_gets(
            &app,
            &format!("/public/v1/counties/{COUNTY}/lists/power/versions/1"),
            None,
            20,
        ),
    );
    // What signing adds: a county's document is signed once when published, each slice
    // once when its version is rendered (and a filtered slice per answer).
    let keys = quanze::keys::SigningKeys::new(
        quanze::keys::read_signing_key(
            &std::path::Path::new(&app.config.keys.dev_dir).join(quanze::keys::DEV_SIGNING_KEY),
        )
        .expect("the test server's signing key"),
        Vec::new(),
    );
    let document = app
        .get(&format!(
            "/public/v1/counties/{COUNTY}/lists/power/versions/1"
        ))
        .bytes()
        .unwrap();
    let slice_bytes = app.get(&slice).bytes().unwrap();
    for (what, bytes, runs) in [
        ("document", &document, 20),
        ("township slice", &slice_bytes, READS / 4),
    ] {
        let times = (0..runs)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(keys.sign_detached(bytes));
                started.elapsed()
            })
            .collect();
        summarise(
            &format!("sign a {what} ({} KiB)", bytes.len() / 1024),
            times,
        );
    }
    summarise(
        "diff of two published versions",
        time_gets(
            &app,
            &format!("/public/v1/counties/{COUNTY}/lists/power/diff?from=1&to=2"),
            None,
            5,
        ),
    );
}
