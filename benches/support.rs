//! What the benchmarks share: timing tables and a county of 20 townships × 300 items.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

/// Townships in the benchmark county.
pub const TOWNSHIPS: usize = 20;
/// Delegable items offered to each.
pub const ITEMS: usize = 300;
const CATEGORIES: [&str; 7] = ["01", "02", "02", "03", "06", "07", "20"];
const DOMAINS: [&str; 5] = ["市容环境", "城乡建设", "生态环境", "农业农村", "安全生产"];

/// The benchmark county (叙永县).
pub const COUNTY: &str = "510524000000";

/// The backend the run uses.
pub fn backend() -> &'static str {
    if std::env::var("QUANZE_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        "PostgreSQL"
    } else {
        "SQLite"
    }
}

/// Prints a table header.
pub fn header() {
    println!(
        "| {:<52} | {:>5} | {:>9} | {:>9} | {:>9} |",
        "operation", "runs", "p50 ms", "p95 ms", "max ms"
    );
    println!(
        "|{:-<54}|{:->7}|{:->11}|{:->11}|{:->11}|",
        "", "", "", "", ""
    );
}

/// Prints one row: median, 95th percentile and maximum.
pub fn summarise(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "| {name:<52} | {:>5} | {:>9.2} | {:>9.2} | {:>9.2} |",
        samples.len(),
        ms(p(0.5)),
        ms(p(0.95)),
        ms(*samples.last().unwrap())
    );
}

/// Times `runs` GETs of `path`.
pub fn time_gets(app: &TestApp, path: &str, token: Option<&str>, runs: usize) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            let response = app.request(Method::GET, path, token).send().unwrap();
            assert!(
                response.status().is_success(),
                "GET {path}: {}",
                response.status()
            );
            let _ = response.bytes().unwrap();
            started.elapsed()
        })
        .collect()
}

/// The code of township `i` of the benchmark county.
pub fn township(i: usize) -> String {
    format!("510524{:03}000", 100 + i)
}

/// Registers the county, its townships and units, and publishes edition `bench` with
/// `ITEMS` delegable and 40 statutory items.
pub fn county_and_edition(app: &TestApp) {
    let admin = app.admin();
    let mut regions = vec![json!({"code": COUNTY, "name": "叙永县", "parent": "510500000000"})];
    let mut orgs = vec![
        json!({"code": "xuyong-zhzf", "name": "叙永县综合行政执法局", "kind": "department", "sector": "comprehensive_enforcement", "region": COUNTY}),
        json!({"code": "xuyong-sfj", "name": "叙永县司法局", "kind": "justice_bureau", "region": COUNTY}),
        json!({"code": "xuyong-gov", "name": "叙永县人民政府", "kind": "county_government", "region": COUNTY}),
    ];
    for i in 0..TOWNSHIPS {
        regions.push(json!({"code": township(i), "name": format!("第{i}镇")}));
        orgs.push(json!({"code": format!("xuyong-{i}-zfd"), "name": format!("第{i}镇综合行政执法队"), "kind": "township_unit", "sector": "comprehensive_enforcement", "region": township(i)}));
    }
    expect_json(
        app.post("/api/v1/regions/import", &admin, &json!(regions)),
        200,
    );
    expect_json(
        app.post("/api/v1/organisations/import", &admin, &json!(orgs)),
        200,
    );
    let items: Vec<Value> = (0..ITEMS + 40)
        .map(|i| {
            let mut it = item(
                &format!("ZF-{i:04}"),
                &format!("对违反市容环境卫生管理规定行为的处罚（第{i}项）"),
            );
            it["category"] = json!(CATEGORIES[i % CATEGORIES.len()]);
            it["domain"] = json!(DOMAINS[i % DOMAINS.len()]);
            it["high_frequency"] = json!(i % 10 == 0);
            if i >= ITEMS {
                it["source"] = json!("statutory");
                it["delegation_mode"] = Value::Null;
            }
            it
        })
        .collect();
    let etag = draft(app, "bench");
    let response = app
        .request(
            Method::POST,
            "/api/v1/catalogue/editions/bench/import",
            Some(&admin),
        )
        .header("If-Match", etag)
        .json(&json!({"items": items}))
        .send()
        .unwrap();
    expect_json(response, 200);
    let etag = app.etag("/api/v1/catalogue/editions/bench", &admin);
    expect_json(
        app.send(
            Method::POST,
            "/api/v1/catalogue/editions/bench/publish",
            &admin,
            Some(&etag),
            &json!({}),
        ),
        200,
    );
}

/// The compiler of the benchmark county.
pub fn compiler(app: &TestApp) -> String {
    app.token(&["county_compiler"], COUNTY, "xuyong-gov")
}

/// Opens a round of every delegable item for every township; returns its id.
pub fn open_round(app: &TestApp) -> i64 {
    let round = expect_json(
        app.post(
            &format!("/api/v1/counties/{COUNTY}/claim-rounds"),
            &compiler(app),
            &json!({"edition": "bench", "title": "叙永县赋权事项认领", "deadline": "2099-12-31"}),
        ),
        201,
    );
    assert_eq!(round["claims"], TOWNSHIPS * ITEMS);
    round["id"].as_i64().unwrap()
}

/// One township answers all its items (claim 85%, defer 10%, decline 5%); the department
/// confirms every claim. Returns the two requests' durations.
pub fn answer_and_confirm(app: &TestApp, round: i64, t: usize) -> (Duration, Duration) {
    let code = township(t);
    let clerk = app.token(&["township_clerk"], &code, &format!("xuyong-{t}-zfd"));
    let officer = app.token(&["department_officer"], COUNTY, "xuyong-zhzf");
    let claims = expect_json(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/claims?township={code}&page_size=500"),
            &clerk,
        ),
        200,
    );
    let body: Vec<Value> = claims["items"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, c)| match i % 20 {
            0 | 10 => json!({"item": c["item"], "answer": "defer", "reason": "暂无持证执法人员", "revision": c["revision"]}),
            5 => json!({"item": c["item"], "answer": "decline", "reason": "辖区内无此类事项", "revision": c["revision"]}),
            _ => json!({"item": c["item"], "answer": "claim", "unit": format!("xuyong-{t}-zfd"), "revision": c["revision"]}),
        })
        .collect();
    let started = Instant::now();
    let response = app.post(
        &format!("/api/v1/claim-rounds/{round}/answers"),
        &clerk,
        &json!({"township": code, "answers": body}),
    );
    let answered = started.elapsed();
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
    let response = app.post(
        &format!("/api/v1/claim-rounds/{round}/confirmations"),
        &officer,
        &json!({"decisions": decisions}),
    );
    let confirmed = started.elapsed();
    expect_json(response, 200);
    (answered, confirmed)
}
