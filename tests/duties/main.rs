//! Responsibility lists (屬地管理事項責任清單) over HTTP on a real database: matters with one
//! lead and their supporters, every rule refused with its field and nothing written,
//! import and export (JSON and CSV), the list's figures on a Cixi-shaped list, the
//! script-agnostic dispatch lookup, filters, duty admission (職責準入) and who may do what.

#[path = "../api/common.rs"]
#[allow(dead_code, reason = "each test target uses part of the harness")]
mod common;

mod access;
mod admissions;
mod lookup;
mod matters;
mod transfer;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::Value;

/// 餐饮服务业油烟污染的监管, in simplified script.
const OILY: &str = "餐饮服务业油烟污染的监管";
/// A township of 合江县.
const HEJIANG_TOWN: &str = "510522100000";

// --- paths and tokens -------------------------------------------------------------

fn list_path(county: &str) -> String {
    format!("/api/v1/counties/{county}/duty-list")
}

fn matters_path(county: &str) -> String {
    format!("/api/v1/counties/{county}/duty-list/matters")
}

fn matter_path(county: &str, code: &str) -> String {
    format!("/api/v1/counties/{county}/duty-list/matters/{code}")
}

fn admissions_path(county: &str) -> String {
    format!("/api/v1/counties/{county}/duty-admissions")
}

/// The 合江县 list compiler.
fn hejiang_compiler(app: &TestApp) -> String {
    app.token(&["county_compiler"], HEJIANG, "hejiang-gov")
}

/// Reads anything of the province (every county's list).
fn auditor(app: &TestApp) -> String {
    app.token_for("auditor", PROVINCE)
}

// --- bodies -----------------------------------------------------------------------

/// A valid matter: `lead` leads, each of `supporters` supports, the township patrols.
fn matter(code: &str, name: &str, lead: &str, supporters: &[&str]) -> Value {
    json!({
        "code": code,
        "name": name,
        "domain": "生态环境",
        "legal_basis": [{
            "law": "《中华人民共和国大气污染防治法》",
            "article": "第一百一十八条",
            "excerpt": "排放油烟的餐饮服务业经营者未安装油烟净化设施的，由县级以上地方人民政府确定的监督管理部门责令改正"
        }],
        "lead": {"department": lead, "duties": ["负责日常监管", "依法查处违法行为"]},
        "supporters": supporters
            .iter()
            .map(|s| json!({"department": s, "duties": ["配合牵头部门开展联合执法"]}))
            .collect::<Vec<_>>(),
        "township_duties": ["日常巡查", "发现问题及时报告", "劝阻制止"],
        "one_matter": false,
        "lead_response_minutes": 30,
        "support_arrival_minutes": 60,
        "notes": null
    })
}

/// `body` with the value at a JSON pointer replaced.
fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    *body
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the body")) = value;
    body
}

// --- responses --------------------------------------------------------------------

fn create(app: &TestApp, county: &str, token: &str, body: &Value) -> Value {
    expect_json(app.post(&matters_path(county), token, body), 201)
}

/// The list's ETag, read by the auditor of the province.
fn list_etag(app: &TestApp, county: &str) -> String {
    app.etag(&list_path(county), &auditor(app))
}

/// Every matter of a county's list, in code order.
fn matters_of(app: &TestApp, county: &str) -> Vec<Value> {
    let page = expect_json(
        app.get_as(
            &format!("{}?page_size=500", matters_path(county)),
            &auditor(app),
        ),
        200,
    );
    page["items"].as_array().unwrap().clone()
}

fn codes(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|m| m["code"].as_str().unwrap().to_string())
        .collect()
}

fn departments_of(roles: &Value) -> Vec<String> {
    roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["department"].as_str().unwrap().to_string())
        .collect()
}

fn sorted(mut fields: Vec<String>) -> Vec<String> {
    fields.sort();
    fields
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

/// What a refused write must leave alone: the audit trail, the lists of both counties
/// (revision and every matter as read) and the admission requests.
#[derive(Debug, PartialEq)]
struct Written {
    audit: i64,
    luxian_etag: String,
    luxian: Vec<Value>,
    hejiang_etag: String,
    hejiang: Vec<Value>,
    admissions: Value,
}

fn written(app: &TestApp) -> Written {
    let admissions = expect_json(
        app.get_as(
            &format!("{}?page_size=500", admissions_path(LUXIAN)),
            &auditor(app),
        ),
        200,
    );
    Written {
        audit: app.audit_count(),
        luxian_etag: list_etag(app, LUXIAN),
        luxian: matters_of(app, LUXIAN),
        hejiang_etag: list_etag(app, HEJIANG),
        hejiang: matters_of(app, HEJIANG),
        admissions: admissions["items"].clone(),
    }
}

// --- imports ----------------------------------------------------------------------

fn import(
    app: &TestApp,
    county: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
    if_match: Option<&str>,
    dry_run: bool,
) -> Response {
    let path = format!(
        "/api/v1/counties/{county}/duty-list/import{}",
        if dry_run { "?dry_run=true" } else { "" }
    );
    let mut builder = app
        .request(Method::POST, &path, Some(token))
        .header("Content-Type", content_type)
        .body(body);
    if let Some(etag) = if_match {
        builder = builder.header("If-Match", etag);
    }
    builder.send().unwrap()
}

fn import_json(
    app: &TestApp,
    county: &str,
    matters: &[Value],
    if_match: Option<&str>,
    dry_run: bool,
) -> Response {
    let token = if county == LUXIAN {
        app.compiler()
    } else {
        hejiang_compiler(app)
    };
    import(
        app,
        county,
        &token,
        "application/json",
        serde_json::to_vec(&json!({ "matters": matters })).unwrap(),
        if_match,
        dry_run,
    )
}

fn import_csv(app: &TestApp, csv: Vec<u8>, if_match: Option<&str>, dry_run: bool) -> Response {
    import(
        app,
        LUXIAN,
        &app.compiler(),
        "text/csv",
        csv,
        if_match,
        dry_run,
    )
}

/// (rows, created, updated, unchanged, removed) of an import report.
fn counts(report: &Value) -> (u64, u64, u64, u64, u64) {
    let n = |k: &str| {
        report[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {report}"))
    };
    (
        n("rows"),
        n("created"),
        n("updated"),
        n("unchanged"),
        n("removed"),
    )
}

/// The (row, field) pairs of a problem's errors.
fn row_fields(problem: &Value) -> Vec<(Option<u64>, String)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64(), e["field"].as_str().unwrap().to_string()))
        .collect()
}

const CSV_HEADER: [&str; 12] = [
    "code",
    "name",
    "domain",
    "legal_basis",
    "lead_department",
    "lead_duties",
    "supporters",
    "township_duties",
    "one_matter",
    "lead_response_minutes",
    "support_arrival_minutes",
    "notes",
];

/// One CSV record of a valid matter, with `overrides` by column name.
fn csv_record(
    code: &str,
    name: &str,
    lead: &str,
    supporters: &str,
    overrides: &[(&str, &str)],
) -> Vec<String> {
    let mut cells: BTreeMap<&str, String> = BTreeMap::from([
        ("code", code.to_string()),
        ("name", name.to_string()),
        ("domain", "生态环境".to_string()),
        (
            "legal_basis",
            "《中华人民共和国大气污染防治法》|第一百一十八条|责令改正，处五千元以上五万元以下的罚款\n《四川省环境保护条例》|第五十条"
                .to_string(),
        ),
        ("lead_department", lead.to_string()),
        ("lead_duties", "负责日常监管\n依法查处违法行为".to_string()),
        ("supporters", supporters.to_string()),
        ("township_duties", "日常巡查\n发现问题及时报告".to_string()),
        ("one_matter", "否".to_string()),
        ("lead_response_minutes", "30".to_string()),
        ("support_arrival_minutes", "".to_string()),
        ("notes", "".to_string()),
    ]);
    for (column, value) in overrides {
        assert!(cells.contains_key(column), "no column {column}");
        cells.insert(column, value.to_string());
    }
    CSV_HEADER.iter().map(|c| cells[c].clone()).collect()
}

fn csv_file(records: &[Vec<String>]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER).unwrap();
    for record in records {
        writer.write_record(record).unwrap();
    }
    writer.into_inner().unwrap()
}
