//! The province catalogue: editions and their lifecycle, items and their rules, import
//! and export, optimistic concurrency, lists and filters, diffs.

use std::collections::BTreeMap;

use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

mod concurrency;
mod items;
mod lifecycle;
mod lists;
mod transfer;

/// The demo edition (published, 32 items).
const DEMO: &str = "2026";
const DEMO_ITEMS: usize = 32;

/// The columns of a catalogue CSV, in export order.
const CSV_HEADER: &str = "code,name,category,source,delegation_mode,sector,domain,legal_basis,responsibilities,accountability,time_limit_days,high_frequency,service_guide,parent_code";

fn edition_path(edition: &str) -> String {
    format!("/api/v1/catalogue/editions/{edition}")
}

fn items_path(edition: &str) -> String {
    format!("/api/v1/catalogue/editions/{edition}/items")
}

fn item_path(edition: &str, code: &str) -> String {
    format!("/api/v1/catalogue/editions/{edition}/items/{code}")
}

/// A statutory item (no delegation mode).
fn statutory(code: &str, name: &str) -> Value {
    let mut body = item(code, name);
    body["source"] = json!("statutory");
    body["delegation_mode"] = Value::Null;
    body
}

/// A sub-item of `parent`.
fn sub_item(code: &str, name: &str, parent: &str) -> Value {
    let mut body = item(code, name);
    body["parent_code"] = json!(parent);
    body
}

/// An item with one responsibility, so that its CSV row fits on one line.
fn flat_item(code: &str, name: &str) -> Value {
    let mut body = item(code, name);
    body["responsibilities"] = json!([{"stage": "受理", "duty": "接收举报并登记"}]);
    body
}

/// The content of an item as read, i.e. what a client sends back to replace it.
fn content(read: &Value) -> Value {
    let mut body = read.clone();
    let map = body.as_object_mut().unwrap();
    for key in ["edition", "revision", "created_at", "updated_at"] {
        map.remove(key);
    }
    body
}

/// Adds an item to a draft, asserting 201, and returns the item and its ETag.
fn add_item(app: &TestApp, edition: &str, body: &Value) -> (Value, String) {
    let response = app.post(&items_path(edition), &app.admin(), body);
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let created = expect_json(response, 201);
    (created, etag.expect("an ETag on 201"))
}

/// The current ETag of an edition, read by the admin.
fn edition_etag(app: &TestApp, edition: &str) -> String {
    app.etag(&edition_path(edition), &app.admin())
}

/// The current ETag of an item, read by the admin.
fn item_etag(app: &TestApp, edition: &str, code: &str) -> String {
    app.etag(&item_path(edition, code), &app.admin())
}

/// The codes on a page of items (or of any list of objects with a `code`).
fn codes(list: &Value) -> Vec<String> {
    list.as_array()
        .or_else(|| list["items"].as_array())
        .expect("a list")
        .iter()
        .map(|i| i["code"].as_str().unwrap().to_string())
        .collect()
}

/// Every item code of an edition, as the admin sees it.
fn item_codes(app: &TestApp, edition: &str) -> Vec<String> {
    let page = expect_json(
        app.get_as(
            &format!("{}?page_size=500", items_path(edition)),
            &app.admin(),
        ),
        200,
    );
    codes(&page)
}

/// A DELETE with the admin token and an optional If-Match.
fn delete(app: &TestApp, path: &str, if_match: Option<&str>) -> Response {
    let mut builder = app.request(Method::DELETE, path, Some(&app.admin()));
    if let Some(etag) = if_match {
        builder = builder.header("If-Match", etag);
    }
    builder.send().unwrap()
}

/// A POST without a body (publish, retire) with the admin token and an optional If-Match.
fn action(app: &TestApp, edition: &str, verb: &str, if_match: Option<&str>) -> Response {
    let mut builder = app.request(
        Method::POST,
        &format!("{}/{verb}", edition_path(edition)),
        Some(&app.admin()),
    );
    if let Some(etag) = if_match {
        builder = builder.header("If-Match", etag);
    }
    builder.send().unwrap()
}

/// Publishes a draft at its current revision, asserting 200.
fn publish(app: &TestApp, edition: &str) -> Value {
    let etag = edition_etag(app, edition);
    expect_json(action(app, edition, "publish", Some(&etag)), 200)
}

/// Copies a published edition into a new draft, asserting 201; returns the new edition.
fn copy(app: &TestApp, from: &str, to: &str) -> Value {
    let response = app.post(
        &format!("{}/copy", edition_path(from)),
        &app.admin(),
        &json!({"code": to, "title": format!("测试目录 {to}")}),
    );
    expect_json(response, 201)
}

/// An import request with the admin token.
fn import(
    app: &TestApp,
    edition: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    if_match: Option<&str>,
    dry_run: bool,
) -> Response {
    let query = if dry_run { "?dry_run=true" } else { "" };
    let mut builder = app
        .request(
            Method::POST,
            &format!("{}/import{query}", edition_path(edition)),
            Some(&app.admin()),
        )
        .body(body);
    if let Some(content_type) = content_type {
        builder = builder.header("Content-Type", content_type);
    }
    if let Some(etag) = if_match {
        builder = builder.header("If-Match", etag);
    }
    builder.send().unwrap()
}

fn import_json(
    app: &TestApp,
    edition: &str,
    document: &Value,
    if_match: Option<&str>,
    dry_run: bool,
) -> Response {
    import(
        app,
        edition,
        Some("application/json"),
        serde_json::to_vec(document).unwrap(),
        if_match,
        dry_run,
    )
}

fn import_csv(
    app: &TestApp,
    edition: &str,
    csv: &str,
    if_match: Option<&str>,
    dry_run: bool,
) -> Response {
    import(
        app,
        edition,
        Some("text/csv"),
        csv.as_bytes().to_vec(),
        if_match,
        dry_run,
    )
}

/// One quoted CSV row: a valid delegable item like [`flat_item`], with `overrides` by
/// column name.
fn csv_row(code: &str, name: &str, overrides: &[(&str, &str)]) -> String {
    let mut cells: BTreeMap<&str, String> = BTreeMap::from([
        ("code", code.to_string()),
        ("name", name.to_string()),
        ("category", "02".into()),
        ("source", "delegable".into()),
        ("delegation_mode", "direct".into()),
        ("sector", "comprehensive_enforcement".into()),
        ("domain", "市容环境".into()),
        (
            "legal_basis",
            "《城市市容和环境卫生管理条例》|第三十四条|责令改正，可以并处罚款".into(),
        ),
        ("responsibilities", "受理|接收举报并登记".into()),
        ("accountability", "不依法履行职责的".into()),
        ("time_limit_days", String::new()),
        ("high_frequency", "否".into()),
        ("service_guide", String::new()),
        ("parent_code", String::new()),
    ]);
    for (column, value) in overrides {
        assert!(cells.contains_key(column), "unknown column {column}");
        cells.insert(column, value.to_string());
    }
    CSV_HEADER
        .split(',')
        .map(|column| format!("\"{}\"", cells[column].replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(",")
}

/// A CSV file: the header and `rows`.
fn csv_file(rows: &[String]) -> String {
    let mut file = String::from(CSV_HEADER);
    for row in rows {
        file.push('\n');
        file.push_str(row);
    }
    file.push('\n');
    file
}

/// The `(row, field)` pairs of a problem's errors.
fn row_fields(problem: &Value) -> Vec<(Option<u64>, String)> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["row"].as_u64(), e["field"].as_str().unwrap().to_string()))
        .collect()
}

/// The message of the first error on `field`.
fn message_for(problem: &Value, field: &str) -> String {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .find(|e| e["field"] == field)
        .unwrap_or_else(|| panic!("no error on {field}: {problem}"))["message"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The import report fields that count rows.
fn counts(report: &Value) -> (u64, u64, u64, u64, u64) {
    (
        report["rows"].as_u64().unwrap(),
        report["created"].as_u64().unwrap(),
        report["updated"].as_u64().unwrap(),
        report["unchanged"].as_u64().unwrap(),
        report["removed"].as_u64().unwrap(),
    )
}

/// Asserts that creating `body` in `edition` is a 422 naming exactly `fields`, and that
/// nothing was written. Returns the problem.
fn refused_item(app: &TestApp, edition: &str, body: &Value, fields: &[&str]) -> Value {
    let before_audit = app.audit_count();
    let before_items = item_codes(app, edition);
    let problem = expect_problem(app.post(&items_path(edition), &app.admin(), body), 422);
    assert_eq!(error_fields(&problem), fields, "{problem}");
    assert_eq!(app.audit_count(), before_audit, "nothing was written");
    assert_eq!(
        item_codes(app, edition),
        before_items,
        "nothing was written"
    );
    problem
}
