//! A claiming round for one county of 20 townships × 300 items: opening it, one
//! township's bulk answer of 300 items, a department's bulk confirmation, statistics and
//! a power set.
//!
//! `cargo bench --bench claims` (SQLite); set `QUANZE_TEST_DATABASE_URL` for PostgreSQL.

#[allow(dead_code, reason = "the bench uses part of the test harness")]
#[path = "../tests/api/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::Value;

const TOWNSHIPS: usize = 20;
const ITEMS: usize = 300;
const COUNTY: &str = "510524000000";
const STATS_RUNS: usize = 50;

fn summarise(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "| {name:<52} | {:>4} | {:>9.2} | {:>9.2} | {:>9.2} |",
        samples.len(),
        ms(p(0.5)),
        ms(p(0.95)),
        ms(*samples.last().unwrap())
    );
}

fn township(i: usize) -> String {
    format!("510524{:03}000", 100 + i)
}

fn setup(app: &TestApp) {
    let admin = app.admin();
    let mut regions = vec![json!({"code": COUNTY, "name": "叙永县", "parent": "510500000000"})];
    let mut orgs = vec![json!({"code": "xuyong-zhzf", "name": "叙永县综合行政执法局", "kind": "department", "sector": "comprehensive_enforcement", "region": COUNTY})];
    for i in 0..TOWNSHIPS {
        regions.push(json!({"code": township(i), "name": format!("第{i}镇")}));
        orgs.push(json!({"code": format!("xuyong-{i}-zfd"), "name": format!("第{i}镇综合行政执法队"), "kind": "township_unit", "sector": "comprehensive_enforcement", "region": township(i)}));
    }
    expect_json(app.post("/api/v1/regions/import", &admin, &json!(regions)), 200);
    expect_json(app.post("/api/v1/organisations/import", &admin, &json!(orgs)), 200);
    let items: Vec<Value> = (0..ITEMS + 40)
        .map(|i| {
            let mut it = item(&format!("ZF-{i:04}"), &format!("对违反市容环境卫生管理规定行为的处罚（第{i}项）"));
            it["category"] = json!(["01", "02", "02", "03", "06", "07", "20"][i % 7]);
            it["domain"] = json!(["市容环境", "城乡建设", "生态环境", "农业农村", "安全生产"][i % 5]);
            if i >= ITEMS {
                it["source"] = json!("statutory");
                it["delegation_mode"] = Value::Null;
            }
            it
        })
        .collect();
    let etag = draft(app, "bench");
    let response = app
        .request(Method::POST, "/api/v1/catalogue/editions/bench/import", Some(&admin))
        .header("If-Match", etag)
        .json(&json!({"items": items}))
        .send()
        .unwrap();
    expect_json(response, 200);
    let etag = app.etag("/api/v1/catalogue/editions/bench", &admin);
    expect_json(app.send(Method::POST, "/api/v1/catalogue/editions/bench/publish", &admin, Some(&etag), &json!({})), 200);
}

fn main() {
    let backend = if std::env::var("QUANZE_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) { "PostgreSQL" } else { "SQLite" };
    let app = TestApp::with_demo();
    setup(&app);
    let compiler = app.token(&["county_compiler"], COUNTY, "xuyong-gov");
    let officer = app.token(&["department_officer"], COUNTY, "xuyong-zhzf");
    println!("claims benchmark on {backend}: {TOWNSHIPS} townships × {ITEMS} items");
    println!("| {:<52} | {:>4} | {:>9} | {:>9} | {:>9} |", "operation", "runs", "p50 ms", "p95 ms", "max ms");
    println!("|{:-<54}|{:->6}|{:->11}|{:->11}|{:->11}|", "", "", "", "", "");

    let started = Instant::now();
    let round = expect_json(
        app.post(&format!("/api/v1/counties/{COUNTY}/claim-rounds"), &compiler, &json!({"edition": "bench", "title": "叙永县赋权事项认领", "deadline": "2099-12-31"})),
        201,
    );
    summarise("open a round (6,000 claims)", vec![started.elapsed()]);
    assert_eq!(round["claims"], TOWNSHIPS * ITEMS);
    let round = round["id"].as_i64().unwrap();

    let mut answers = Vec::new();
    let mut confirmations = Vec::new();
    for t in 0..TOWNSHIPS {
        let code = township(t);
        let clerk = app.token(&["township_clerk"], &code, "clerk");
        let claims = expect_json(app.get_as(&format!("/api/v1/claim-rounds/{round}/claims?township={code}&page_size=500"), &clerk), 200);
        let body: Vec<Value> = claims["items"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, c)| match i % 10 {
                0 => json!({"item": c["item"], "answer": "defer", "reason": "暂无持证执法人员", "revision": c["revision"]}),
                1 if i % 20 == 1 => json!({"item": c["item"], "answer": "decline", "reason": "辖区内无此类事项", "revision": c["revision"]}),
                _ => json!({"item": c["item"], "answer": "claim", "unit": format!("xuyong-{t}-zfd"), "revision": c["revision"]}),
            })
            .collect();
        let started = Instant::now();
        let response = app.post(&format!("/api/v1/claim-rounds/{round}/answers"), &clerk, &json!({"township": code, "answers": body}));
        answers.push(started.elapsed());
        let changed = expect_json(response, 200);
        assert_eq!(changed["changed"], ITEMS);

        let decisions: Vec<Value> = changed["claims"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["state"] == "claimed")
            .map(|c| json!({"township": code, "item": c["item"], "decision": "confirm", "revision": c["revision"]}))
            .collect();
        let started = Instant::now();
        let response = app.post(&format!("/api/v1/claim-rounds/{round}/confirmations"), &officer, &json!({"decisions": decisions}));
        confirmations.push(started.elapsed());
        expect_json(response, 200);
    }
    summarise("bulk answer of 300 items by one township", answers);
    summarise("bulk confirmation of ~255 items by a department", confirmations);

    let timed = |path: &str, token: &str, runs: usize| {
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                let response = app.get_as(path, token);
                assert_eq!(response.status(), 200);
                let _ = response.bytes().unwrap();
                started.elapsed()
            })
            .collect::<Vec<_>>()
    };
    summarise("round statistics (6,000 claims)", timed(&format!("/api/v1/claim-rounds/{round}/statistics"), &compiler, STATS_RUNS));
    summarise("one township's power set (40 + ~255 items)", timed(&format!("/api/v1/townships/{}/power-set", township(0)), &compiler, 20));
    summarise("one page of 50 claims, filtered by state", timed(&format!("/api/v1/claim-rounds/{round}/claims?state=deferred&page_size=50"), &compiler, 20));
    summarise("CSV export of the round", timed(&format!("/api/v1/claim-rounds/{round}/export"), &compiler, 5));
}
