//! A 70-matter responsibility list and 1,000 dispatch lookups, on the working copy and on
//! the published version in force.
//!
//! `cargo bench --bench duties` (SQLite); set `QUANZE_TEST_DATABASE_URL` for PostgreSQL.

#[allow(dead_code, reason = "the bench uses part of the test harness")]
#[path = "../tests/api/common.rs"]
mod common;
#[allow(dead_code, reason = "shared by several benchmarks")]
mod support;

use std::time::Instant;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use support::*;

const MATTERS: usize = 70;
const DOMAINS: [&str; 4] = ["生态环境", "城乡建设", "市场监管", "农业农村"];
const LOOKUPS: usize = 1000;
const DEPARTMENTS: [&str; 10] = [
    "luxian-zrzy",
    "luxian-sthj",
    "luxian-zjj",
    "luxian-nync",
    "luxian-scjg",
    "luxian-yjj",
    "luxian-zhzf",
    "luxian-swj",
    "luxian-wjj",
    "luxian-mzj",
];
const SUBJECTS: [&str; 10] = [
    "油烟污染",
    "建筑垃圾",
    "违法建设",
    "秸秆焚烧",
    "占道经营",
    "噪声扰民",
    "河道采砂",
    "食品摊贩",
    "安全生产",
    "养犬管理",
];

fn matters() -> Vec<Value> {
    (0..MATTERS)
        .map(|i| {
            let lead = DEPARTMENTS[i % DEPARTMENTS.len()];
            let supporters: Vec<Value> = (1..=2)
                .map(|k| json!({"department": DEPARTMENTS[(i + k * 3) % DEPARTMENTS.len()], "duties": ["配合调查取证", "提供专业支持"]}))
                .collect();
            json!({
                "code": format!("SD-{i:03}"),
                "name": format!("{}的监督管理（第{i}项）", SUBJECTS[i % SUBJECTS.len()]),
                "domain": DOMAINS[i % DOMAINS.len()],
                "legal_basis": [{"law": "《中华人民共和国大气污染防治法》", "article": "第八十一条"}],
                "lead": {"department": lead, "duties": ["依法审批", "监督检查", "查处违法行为"]},
                "supporters": supporters,
                "township_duties": ["日常巡查", "发现报告", "劝阻制止", "配合执法"],
                "one_matter": i % 6 == 0,
                "lead_response_minutes": 30,
                "support_arrival_minutes": 60
            })
        })
        .collect()
}

fn main() {
    let app = TestApp::with_demo();
    let compiler = app.token(&["county_compiler"], LUXIAN, "luxian-gov");
    println!(
        "duties benchmark on {}: {MATTERS} matters, {LOOKUPS} lookups",
        backend()
    );
    header();
    let started = Instant::now();
    let response = app
        .request(
            Method::POST,
            &format!("/api/v1/counties/{LUXIAN}/duty-list/import"),
            Some(&compiler),
        )
        .header("If-Match", "\"0\"")
        .json(&json!({"matters": matters()}))
        .send()
        .unwrap();
    let imported = started.elapsed();
    assert_eq!(expect_json(response, 200)["created"], MATTERS);
    summarise("import a 70-matter list (JSON)", vec![imported]);
    let queries = [
        "油烟",
        "油煙",
        "建筑垃圾",
        "違法建設",
        "占道",
        "噪声 扰民",
        "采砂",
        "摊贩",
    ];
    let paths: Vec<String> = (0..LOOKUPS)
        .map(|i| {
            format!(
                "/api/v1/lookup?township={YUCHAN}&q={}",
                queries[i % queries.len()]
            )
        })
        .collect();
    let samples = paths
        .iter()
        .map(|p| {
            let started = Instant::now();
            let response = app.get_as(p, &compiler);
            assert_eq!(response.status(), 200);
            let _ = response.bytes().unwrap();
            started.elapsed()
        })
        .collect();
    summarise("lookup on the working copy (token)", samples);
    summarise(
        "statistics of the list",
        time_gets(
            &app,
            &format!("/api/v1/counties/{LUXIAN}/duty-list/statistics"),
            Some(&compiler),
            100,
        ),
    );

    // Publish the list and look up on the version in force.
    let base = format!("/api/v1/counties/{LUXIAN}/lists/duty/versions");
    let version = expect_json(
        app.post(
            &base,
            &compiler,
            &json!({"title": "泸县属地管理事项责任清单", "change_summary": "首次发布"}),
        ),
        201,
    );
    let hash = version["content_hash"].as_str().unwrap().to_string();
    for (role, stage) in [
        ("staffing_reviewer", "staffing"),
        ("legality_reviewer", "legality"),
        ("approval_reviewer", "approval"),
    ] {
        let token = app.token(&[role], LUXIAN, "reviewer");
        expect_json(
            app.post(
                &format!("{base}/1/reviews"),
                &token,
                &json!({"stage": stage, "decision": "approve", "hash": hash}),
            ),
            201,
        );
    }
    let etag = app.etag(&format!("{base}/1"), &compiler);
    expect_json(
        app.send(
            Method::POST,
            &format!("{base}/1/publish"),
            &compiler,
            Some(&etag),
            &json!({}),
        ),
        200,
    );
    let samples = (0..LOOKUPS)
        .map(|i| {
            let path = format!(
                "/public/v1/lookup?township={YUCHAN}&q={}",
                queries[i % queries.len()]
            );
            let started = Instant::now();
            let response = app.get(&path);
            assert_eq!(response.status(), 200);
            let _ = response.bytes().unwrap();
            started.elapsed()
        })
        .collect();
    summarise("lookup on the version in force (public)", samples);
}
