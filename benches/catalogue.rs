//! Importing a 400-item catalogue edition over HTTP, and listing it.
//!
//! `cargo bench --bench catalogue` (SQLite); set `QUANZE_TEST_DATABASE_URL` for PostgreSQL.

#[allow(dead_code, reason = "the bench uses part of the test harness")]
#[path = "../tests/api/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::Value;

const ITEMS: usize = 400;
const IMPORT_RUNS: usize = 10;
const LIST_RUNS: usize = 50;
const DOMAINS: [&str; 4] = ["城乡建设", "市容环境", "生态环境", "农业农村"];

fn edition_items() -> Value {
    let categories = [
        "01", "02", "02", "02", "03", "04", "05", "06", "07", "08", "09", "10", "20",
    ];
    let sectors = [
        "natural_resources",
        "ecology_environment",
        "housing_construction",
        "agriculture_rural",
        "market_regulation",
        "comprehensive_enforcement",
    ];
    let items: Vec<Value> = (0..ITEMS)
        .map(|i| {
            let delegable = i % 3 != 0;
            json!({
                "code": format!("BM-{i:04}"),
                "name": format!("对违反城乡规划管理规定行为的行政处罚（第{i}项）"),
                "category": categories[i % categories.len()],
                "source": if delegable { "delegable" } else { "statutory" },
                "delegation_mode": if delegable { Some(if i % 2 == 0 { "direct" } else { "entrusted" }) } else { None },
                "sector": sectors[i % sectors.len()],
                "domain": DOMAINS[i % DOMAINS.len()],
                "legal_basis": [
                    {"law": "《中华人民共和国城乡规划法》", "article": "第六十五条", "excerpt": "在乡、村庄规划区内未依法取得乡村建设规划许可证或者未按照乡村建设规划许可证的规定进行建设的，由乡、镇人民政府责令停止建设、限期改正"},
                    {"law": "《四川省城乡规划条例》", "article": "第七十二条", "excerpt": "由乡镇人民政府责令停止建设、限期改正；逾期不改正的，可以拆除"}
                ],
                "responsibilities": [
                    {"stage": "受理", "duty": "对举报、巡查发现的违法行为及时立案"},
                    {"stage": "审查", "duty": "调查取证，听取当事人陈述申辩"},
                    {"stage": "决定", "duty": "依法作出行政处罚决定"},
                    {"stage": "送达", "duty": "按规定送达行政处罚决定书"},
                    {"stage": "事后监管", "duty": "监督执行，建立执法档案"}
                ],
                "accountability": ["对应当予以制止和处罚的违法行为不予制止、处罚的", "违反法定程序实施行政处罚的"],
                "time_limit_days": if i % 4 == 0 { Some(20) } else { None },
                "high_frequency": i % 10 == 0,
                "service_guide": if i % 10 == 0 { Some("申请材料：身份证明、申请书。办理流程：受理—审查—决定—送达。") } else { None },
                "parent_code": if i % 50 == 49 { Some(format!("BM-{:04}", i - 1)) } else { None },
            })
        })
        .collect();
    json!({ "items": items })
}

fn summarise(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "| {name:<44} | {:>4} | {:>9.2} | {:>9.2} | {:>9.2} |",
        samples.len(),
        ms(p(0.5)),
        ms(p(0.95)),
        ms(*samples.last().unwrap())
    );
}

fn main() {
    let backend = if std::env::var("QUANZE_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let app = TestApp::with_demo();
    let admin = app.admin();
    let document = edition_items();
    let body = serde_json::to_vec(&document).unwrap();
    println!(
        "catalogue benchmark on {backend}: {ITEMS} items, {} KiB of JSON",
        body.len() / 1024
    );
    println!(
        "| {:<44} | {:>4} | {:>9} | {:>9} | {:>9} |",
        "operation", "runs", "p50 ms", "p95 ms", "max ms"
    );
    println!(
        "|{:-<46}|{:->6}|{:->11}|{:->11}|{:->11}|",
        "", "", "", "", ""
    );

    let mut imports = Vec::new();
    let mut csv_imports = Vec::new();
    let mut reimports = Vec::new();
    for run in 0..IMPORT_RUNS {
        let code = format!("bench-{run}");
        let etag = draft(&app, &code);
        let path = format!("/api/v1/catalogue/editions/{code}/import");
        let started = Instant::now();
        let response = app
            .request(Method::POST, &path, Some(&admin))
            .header("Content-Type", "application/json")
            .header("If-Match", &etag)
            .body(body.clone())
            .send()
            .unwrap();
        imports.push(started.elapsed());
        let report = expect_json(response, 200);
        assert_eq!(report["created"], ITEMS);

        // The same file again: every row compared, nothing written but the audit event.
        let etag = app.etag(&format!("/api/v1/catalogue/editions/{code}"), &admin);
        let started = Instant::now();
        let response = app
            .request(Method::POST, &path, Some(&admin))
            .header("Content-Type", "application/json")
            .header("If-Match", &etag)
            .body(body.clone())
            .send()
            .unwrap();
        reimports.push(started.elapsed());
        assert_eq!(expect_json(response, 200)["unchanged"], ITEMS);

        // CSV export of it, imported into a fresh draft.
        let csv = app
            .get_as(
                &format!("/api/v1/catalogue/editions/{code}/export?format=csv"),
                &admin,
            )
            .bytes()
            .unwrap();
        let csv_code = format!("bench-csv-{run}");
        let etag = draft(&app, &csv_code);
        let started = Instant::now();
        let response = app
            .request(
                Method::POST,
                &format!("/api/v1/catalogue/editions/{csv_code}/import"),
                Some(&admin),
            )
            .header("Content-Type", "text/csv")
            .header("If-Match", &etag)
            .body(csv.to_vec())
            .send()
            .unwrap();
        csv_imports.push(started.elapsed());
        assert_eq!(expect_json(response, 200)["created"], ITEMS);
    }
    summarise("import 400 items, JSON, new draft", imports);
    summarise("import 400 items, CSV, new draft", csv_imports);
    summarise("re-import the same 400 items (all unchanged)", reimports);

    let timed = |path: &str| {
        (0..LIST_RUNS)
            .map(|_| {
                let started = Instant::now();
                let response = app.get_as(path, &admin);
                assert_eq!(response.status(), 200);
                let _ = response.bytes().unwrap();
                started.elapsed()
            })
            .collect::<Vec<_>>()
    };
    summarise(
        "list all 400 items (page_size=500)",
        timed("/api/v1/catalogue/editions/bench-0/items?page_size=500"),
    );
    summarise(
        "list one page of 50 items",
        timed("/api/v1/catalogue/editions/bench-0/items?page_size=50&page=3"),
    );
    summarise(
        "list with filters (category, q)",
        timed("/api/v1/catalogue/editions/bench-0/items?category=02&q=%E5%9F%8E%E4%B9%A1"),
    );
    summarise(
        "export 400 items as CSV",
        timed("/api/v1/catalogue/editions/bench-0/export?format=csv"),
    );
    summarise(
        "diff two 400-item editions",
        timed("/api/v1/catalogue/diff?from=bench-0&to=bench-1"),
    );
}
