//! Versioned publication over HTTP on a real database: submission of frozen versions,
//! staged reviews with findings, publication and supersession, and the public read API
//! (point in time, diffs, township slices, lookup, caching, the publication log).

#[path = "../api/common.rs"]
#[allow(dead_code, reason = "each test target uses part of the harness")]
mod common;

use common::*;
use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

mod trust;

mod instances;
mod log;
mod paths;
mod public;
mod refusals;
mod replica;
mod storage;

const JIAMING: &str = "510521101000";

// ---------------------------------------------------------------------------------------
// Actors

/// The reviewer of a stage in 泸县.
fn reviewer(app: &TestApp, stage: &str) -> String {
    let (role, org) = match stage {
        "legality" => ("legality_reviewer", "luxian-sfj"),
        "government" => ("government_approver", "luxian-gov"),
        "staffing" => ("staffing_reviewer", "luxian-bb"),
        "approval" => ("approval_reviewer", "luxian-spj"),
        other => panic!("no stage {other}"),
    };
    app.token(&[role], LUXIAN, org)
}

fn auditor(app: &TestApp) -> String {
    app.token_for("auditor", PROVINCE)
}

// ---------------------------------------------------------------------------------------
// Versions

fn versions_path(county: &str, kind: &str) -> String {
    format!("/api/v1/counties/{county}/lists/{kind}/versions")
}

fn version_path(kind: &str, n: i64) -> String {
    format!("{}/{n}", versions_path(LUXIAN, kind))
}

fn public_version_path(kind: &str, n: i64) -> String {
    format!("/public/v1/counties/{LUXIAN}/lists/{kind}/versions/{n}")
}

fn submit_as(app: &TestApp, county: &str, kind: &str, token: &str, summary: &str) -> Response {
    let title = match kind {
        "power" => "泸县乡镇（街道）权力清单",
        _ => "泸县属地管理事项责任清单",
    };
    let mut body = json!({"title": title, "change_summary": summary});
    if kind == "power" {
        body["edition"] = json!("2026");
        // These tests publish while a round is open; readiness has tests of its own.
        body["allow_incomplete"] = json!(true);
        body["incomplete_reason"] = json!("已确认事项先行公布");
    }
    app.post(&versions_path(county, kind), token, &body)
}

fn submit(app: &TestApp, kind: &str, summary: &str) -> Response {
    submit_as(app, LUXIAN, kind, &app.compiler(), summary)
}

/// Submits and returns the version's history.
fn submitted(app: &TestApp, kind: &str, summary: &str) -> Value {
    let response = submit(app, kind, summary);
    let etag = response.headers().get("etag").cloned();
    let body = expect_json(response, 201);
    assert_eq!(
        etag.unwrap().to_str().unwrap(),
        format!("\"{}\"", body["revision"])
    );
    assert_eq!(body["status"], "in_review");
    body
}

/// A version's history and its ETag.
fn version(app: &TestApp, kind: &str, n: i64) -> (Value, String) {
    let response = app.get_as(&version_path(kind, n), &app.compiler());
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    (expect_json(response, 200), etag)
}

fn hash_of(app: &TestApp, kind: &str, n: i64) -> String {
    version(app, kind, n).0["content_hash"]
        .as_str()
        .unwrap()
        .to_string()
}

#[expect(
    clippy::too_many_arguments,
    reason = "a review is all of these; the tests read better with each spelled out"
)]
fn review_as(
    app: &TestApp,
    token: &str,
    kind: &str,
    n: i64,
    stage: &str,
    decision: &str,
    hash: &str,
    findings: Value,
) -> Response {
    app.post(
        &format!("{}/reviews", version_path(kind, n)),
        token,
        &json!({"stage": stage, "decision": decision, "comments": "审查意见见附件", "hash": hash, "findings": findings}),
    )
}

/// The stage's reviewer approves the version's current content.
fn approve(app: &TestApp, kind: &str, n: i64, stage: &str) -> Value {
    let hash = hash_of(app, kind, n);
    expect_json(
        review_as(
            app,
            &reviewer(app, stage),
            kind,
            n,
            stage,
            "approve",
            &hash,
            json!([]),
        ),
        201,
    )
}

fn stages_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "power" => &["legality", "government"],
        _ => &["staffing", "legality", "approval"],
    }
}

fn publish_with(
    app: &TestApp,
    kind: &str,
    n: i64,
    if_match: Option<&str>,
    effective_from: Option<&str>,
) -> Response {
    let body = match effective_from {
        Some(date) => json!({"effective_from": date}),
        None => json!({}),
    };
    app.send(
        Method::POST,
        &format!("{}/publish", version_path(kind, n)),
        &app.compiler(),
        if_match,
        &body,
    )
}

fn publish(app: &TestApp, kind: &str, n: i64, effective_from: Option<&str>) -> Response {
    let (_, etag) = version(app, kind, n);
    publish_with(app, kind, n, Some(&etag), effective_from)
}

/// Every stage approves, in plan order, and the compiler publishes.
fn approve_and_publish(app: &TestApp, kind: &str, n: i64, effective_from: Option<&str>) -> Value {
    for stage in stages_of(kind) {
        approve(app, kind, n, stage);
    }
    let published = expect_json(publish(app, kind, n, effective_from), 200);
    assert_eq!(published["status"], "published");
    published
}

fn withdraw(app: &TestApp, kind: &str, n: i64, if_match: Option<&str>) -> Response {
    app.send(
        Method::POST,
        &format!("{}/withdraw", version_path(kind, n)),
        &app.compiler(),
        if_match,
        &json!({}),
    )
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip stream");
    out
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn finding(item: &str, severity: &str) -> Value {
    json!({
        "item_code": item,
        "problem": "法律依据不足",
        "law": "《中华人民共和国行政处罚法》第二十四条",
        "severity": severity,
        "change_required": "补充承接条件评估并重新报送"
    })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

// ---------------------------------------------------------------------------------------
// Content: claims (power list) and matters (responsibility list)

/// Opens a round of every delegable item of the demo edition to every township of 泸县.
fn open_round(app: &TestApp) -> i64 {
    let round = expect_json(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
            &app.compiler(),
            &json!({"edition": "2026", "title": "2026年赋权事项双向认领", "deadline": "2099-12-31"}),
        ),
        201,
    );
    round["id"].as_i64().unwrap()
}

fn claim_of(app: &TestApp, round: i64, township: &str, item: &str) -> Value {
    let page = expect_json(
        app.get_as(
            &format!(
                "/api/v1/claim-rounds/{round}/claims?township={township}&item={item}&page_size=500"
            ),
            &app.compiler(),
        ),
        200,
    );
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["item"] == item)
        .unwrap_or_else(|| panic!("no claim of {item} for {township}: {page}"))
        .clone()
}

/// The township claims `item` for `unit` and the comprehensive-enforcement bureau
/// confirms it.
fn confirm_claim(app: &TestApp, round: i64, township: &str, item: &str, unit: &str) {
    let claim = claim_of(app, round, township, item);
    expect_json(
        app.post(
            &format!("/api/v1/claim-rounds/{round}/answers"),
            &app.clerk(township),
            &json!({"township": township, "answers": [
                {"item": item, "answer": "claim", "unit": unit, "revision": claim["revision"]}
            ]}),
        ),
        200,
    );
    let claim = claim_of(app, round, township, item);
    expect_json(
        app.post(
            &format!("/api/v1/claim-rounds/{round}/confirmations"),
            &app.officer("luxian-zhzf"),
            &json!({"decisions": [
                {"township": township, "item": item, "decision": "confirm", "revision": claim["revision"]}
            ]}),
        ),
        200,
    );
    assert_eq!(claim_of(app, round, township, item)["state"], "confirmed");
}

/// The compiler puts a decided claim back to offered.
fn reopen_claim(app: &TestApp, round: i64, township: &str, item: &str) {
    let claim = claim_of(app, round, township, item);
    let id = claim["id"].as_i64().unwrap();
    expect_json(
        app.send(
            Method::POST,
            &format!("/api/v1/claims/{id}/reopen"),
            &app.compiler(),
            Some(&format!("\"{}\"", claim["revision"])),
            &json!({"reason": "根据审查意见重新认领"}),
        ),
        200,
    );
}

fn matter(code: &str, name: &str, domain: &str, lead: &str, supporters: &[&str]) -> Value {
    json!({
        "code": code,
        "name": name,
        "domain": domain,
        "legal_basis": [{"law": "《中华人民共和国大气污染防治法》", "article": "第一百一十八条", "excerpt": "责令改正，处五千元以上五万元以下的罚款"}],
        "lead": {"department": lead, "duties": ["依法查处违法行为", "组织专项整治"]},
        "supporters": supporters.iter().map(|d| json!({"department": d, "duties": ["配合调查取证"]})).collect::<Vec<_>>(),
        "township_duties": ["日常巡查", "发现报告", "劝阻制止"],
        "one_matter": false,
        "lead_response_minutes": 30,
        "support_arrival_minutes": null,
        "notes": null
    })
}

fn matters_path(county: &str) -> String {
    format!("/api/v1/counties/{county}/duty-list/matters")
}

fn add_matter(app: &TestApp, body: Value) {
    expect_json(app.post(&matters_path(LUXIAN), &app.compiler(), &body), 201);
}

fn replace_matter(app: &TestApp, body: Value) {
    let path = format!(
        "{}/{}",
        matters_path(LUXIAN),
        body["code"].as_str().unwrap()
    );
    let etag = app.etag(&path, &app.compiler());
    expect_json(
        app.send(Method::PUT, &path, &app.compiler(), Some(&etag), &body),
        200,
    );
}

fn delete_matter(app: &TestApp, code: &str) {
    let path = format!("{}/{code}", matters_path(LUXIAN));
    let etag = app.etag(&path, &app.compiler());
    let response = app.send(
        Method::DELETE,
        &path,
        &app.compiler(),
        Some(&etag),
        &json!({}),
    );
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
}

fn sd001() -> Value {
    matter(
        "SD-001",
        "餐饮服务业油烟污染的监管",
        "生态环境",
        "luxian-sthj",
        &["luxian-scjg"],
    )
}

fn sd002() -> Value {
    matter(
        "SD-002",
        "食品小作坊的日常监管",
        "市场监管",
        "luxian-scjg",
        &["luxian-wjj"],
    )
}

fn sd003() -> Value {
    matter(
        "SD-003",
        "占道经营的整治",
        "市容环境",
        "luxian-zhzf",
        &["luxian-scjg"],
    )
}

fn sd004() -> Value {
    matter(
        "SD-004",
        "违规焚烧秸秆的处置",
        "生态环境",
        "luxian-sthj",
        &["luxian-nync"],
    )
}

fn sd005() -> Value {
    matter(
        "SD-005",
        "河道垃圾倾倒的查处",
        "水利",
        "luxian-swj",
        &["luxian-zhzf"],
    )
}

/// The answered findings of a history, as (item_code, severity, change, items).
fn answered(history: &Value) -> Vec<(String, String, String, Vec<String>)> {
    history["answered_findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no answered_findings: {history}"))
        .iter()
        .map(|a| {
            (
                a["item_code"].as_str().unwrap().to_string(),
                a["severity"].as_str().unwrap().to_string(),
                a["change"].as_str().unwrap().to_string(),
                strings(&a["items"]),
            )
        })
        .collect()
}

fn audit_events(app: &TestApp) -> Vec<Value> {
    let page = expect_json(
        app.get_as(
            "/api/v1/audit?entity_type=list_version&page_size=500",
            &auditor(app),
        ),
        200,
    );
    page["items"].as_array().unwrap().clone()
}

fn changed_fields(diff: &Value, key: &str) -> Vec<String> {
    let entry = diff["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("{key} not changed: {diff}"));
    entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap().to_string())
        .collect()
}

/// An anonymous GET with request headers.
fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Response {
    headers
        .iter()
        .fold(
            app.request(Method::GET, path, None),
            |request, (name, value)| request.header(*name, *value),
        )
        .send()
        .unwrap()
}

/// The published document and its headers, without a token.
fn public_document(app: &TestApp, path: &str) -> (Value, Vec<u8>, Response) {
    let response = app.get(path);
    assert_eq!(response.status(), 200, "GET {path}");
    let clone_headers = response.headers().clone();
    let bytes = response.bytes().unwrap().to_vec();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    // Re-request for the headers (a blocking response is consumed by reading it).
    let again = app.get(path);
    assert_eq!(again.headers().get("etag"), clone_headers.get("etag"));
    (value, bytes, again)
}
