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

// ---------------------------------------------------------------------------------------
// 1. The full path, power list

#[test]
fn the_power_list_goes_from_submission_through_return_and_approval_to_two_publications() {
    let app = TestApp::with_demo();
    let round = open_round(&app);
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    confirm_claim(&app, round, YUCHAN, "CF-0009", "luxian-yuchan-zfd");
    confirm_claim(&app, round, FUJI, "CF-0001", "luxian-fuji-zfd");

    // Version 1: submitted; its hash is the SHA-256 of the document the reviewers read.
    let v1 = submitted(&app, "power", "首次编制");
    assert_eq!(v1["number"], 1);
    assert_eq!(v1["county"], LUXIAN);
    assert_eq!(v1["kind"], "power");
    assert_eq!(v1["answered_findings"], json!([]));
    assert_eq!(
        v1["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (
                s["stage"].as_str().unwrap(),
                s["approved"].as_bool().unwrap()
            ))
            .collect::<Vec<_>>(),
        vec![("legality", false), ("government", false)]
    );
    let response = app.get_as(
        &format!("{}/document", version_path("power", 1)),
        &app.compiler(),
    );
    let etag = header(&response, "etag").unwrap();
    let bytes = response.bytes().unwrap();
    let h1 = v1["content_hash"].as_str().unwrap().to_string();
    assert_eq!(sha256(&bytes), h1);
    assert_eq!(etag, format!("\"{h1}\""));
    let doc1: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc1["kind"], "power");
    assert_eq!(doc1["edition"], "2026");
    assert_eq!(doc1["townships"].as_array().unwrap().len(), 3);
    let yuchan1 = &doc1["townships"][0];
    assert_eq!(yuchan1["code"], YUCHAN);
    let codes: Vec<&str> = yuchan1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"CF-0001") && codes.contains(&"CF-0009") && codes.contains(&"XK-0002"));
    assert!(!codes.contains(&"CF-0002"));
    let total_items: usize = doc1["townships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["items"].as_array().unwrap().len())
        .sum();
    assert_eq!(v1["item_count"], total_items);

    // The legality review passes with an advisory finding; the government returns it
    // with blocking findings.
    let reviewed = expect_json(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "approve",
            &h1,
            json!([finding("XK-0002", "advisory")]),
        ),
        201,
    );
    assert_eq!(reviewed["status"], "in_review");
    assert_eq!(reviewed["stages"][0]["approved"], true);
    let returned = expect_json(
        review_as(
            &app,
            &reviewer(&app, "government"),
            "power",
            1,
            "government",
            "return",
            &h1,
            json!([
                finding(&format!("{YUCHAN}/CF-0009"), "blocking"),
                finding("CF-0001", "blocking")
            ]),
        ),
        201,
    );
    assert_eq!(returned["status"], "returned");
    assert!(returned["ended_at"].is_string());
    let reviews = returned["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 2);
    assert_eq!(reviews[1]["decision"], "return");
    assert_eq!(reviews[1]["reviewer_org"], "luxian-gov");
    assert_eq!(reviews[1]["reviewed_hash"], h1.as_str());
    assert_eq!(reviews[1]["findings"].as_array().unwrap().len(), 2);
    assert_eq!(reviews[1]["findings"][0]["severity"], "blocking");
    assert_eq!(
        reviews[1]["findings"][0]["law"],
        "《中华人民共和国行政处罚法》第二十四条"
    );

    // The compiler answers: 玉蟾 exercises CF-0009 through another unit, 福集 gives
    // CF-0001 back, 玉蟾 takes CF-0002 on.
    reopen_claim(&app, round, YUCHAN, "CF-0009");
    confirm_claim(&app, round, YUCHAN, "CF-0009", "luxian-yuchan-bmzx");
    reopen_claim(&app, round, FUJI, "CF-0001");
    confirm_claim(&app, round, YUCHAN, "CF-0002", "luxian-yuchan-zfd");
    let v2 = submitted(&app, "power", "根据审查意见调整：玉蟾街道新增CF-0002");
    assert_eq!(v2["number"], 2);
    let h2 = v2["content_hash"].as_str().unwrap().to_string();
    assert_ne!(h1, h2);
    let mut answers = answered(&v2);
    answers.sort();
    assert_eq!(
        answers,
        vec![
            (
                "510521001000/CF-0009".to_string(),
                "blocking".to_string(),
                "changed".to_string(),
                vec![format!("{YUCHAN}/CF-0009")]
            ),
            (
                "CF-0001".to_string(),
                "blocking".to_string(),
                "removed".to_string(),
                vec![format!("{YUCHAN}/CF-0001"), format!("{FUJI}/CF-0001")]
            ),
            (
                "XK-0002".to_string(),
                "advisory".to_string(),
                "unchanged".to_string(),
                vec![
                    format!("{YUCHAN}/XK-0002"),
                    format!("{FUJI}/XK-0002"),
                    format!("{JIAMING}/XK-0002")
                ]
            ),
        ]
    );
    assert!(v2["answered_findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["version"] == 1 && a["problem"] == "法律依据不足"));
    // The history is the same when read again.
    assert_eq!(
        version(&app, "power", 2).0["answered_findings"],
        v2["answered_findings"]
    );

    // Legality, then the government; published from 2024-03-01.
    let after_legality = approve(&app, "power", 2, "legality");
    assert_eq!(after_legality["status"], "in_review");
    let after_government = approve(&app, "power", 2, "government");
    assert_eq!(after_government["status"], "approved");
    assert!(after_government["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["approved"] == true && s["approved_at"].is_string()));
    let published = expect_json(publish(&app, "power", 2, Some("2024-03-01")), 200);
    assert_eq!(published["status"], "published");
    assert_eq!(published["effective_from"], "2024-03-01");
    assert_eq!(published["effective_to"], Value::Null);
    assert!(published["published_at"].is_string());

    // Version 3: 玉蟾 takes CF-0007 on, gives CF-0002 back, and CF-0009 returns to the
    // enforcement team.
    confirm_claim(&app, round, YUCHAN, "CF-0007", "luxian-yuchan-zfd");
    reopen_claim(&app, round, YUCHAN, "CF-0002");
    reopen_claim(&app, round, YUCHAN, "CF-0009");
    confirm_claim(&app, round, YUCHAN, "CF-0009", "luxian-yuchan-zfd");
    let v3 = submitted(&app, "power", "2024年下半年调整");
    assert_eq!(v3["number"], 3);
    let h3 = v3["content_hash"].as_str().unwrap().to_string();
    approve(&app, "power", 3, "legality");
    approve(&app, "power", 3, "government");
    // A later version cannot start before the one in force.
    let problem = expect_problem(publish(&app, "power", 3, Some("2024-02-01")), 422);
    assert_eq!(error_fields(&problem), vec!["effective_from"]);
    expect_json(publish(&app, "power", 3, Some("2024-09-01")), 200);

    // Both published versions by number, exactly as reviewed.
    for (n, hash) in [(2, &h2), (3, &h3)] {
        let response = app.get(&public_version_path("power", n));
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "etag").unwrap(), format!("\"{hash}\""));
        let bytes = response.bytes().unwrap();
        assert_eq!(&sha256(&bytes), hash);
    }
    expect_problem(app.get(&public_version_path("power", 1)), 404);

    // The published versions, newest first, with dates and change summaries.
    let list = expect_json(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/power/versions"
        )),
        200,
    );
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["number"], 3);
    assert_eq!(list[0]["status"], "published");
    assert_eq!(list[0]["change_summary"], "2024年下半年调整");
    assert_eq!(list[0]["effective_from"], "2024-09-01");
    assert_eq!(list[0]["effective_to"], Value::Null);
    assert_eq!(list[0]["content_hash"], h3.as_str());
    assert_eq!(list[0]["url"], public_version_path("power", 3));
    assert_eq!(list[1]["number"], 2);
    assert_eq!(list[1]["status"], "superseded");
    assert_eq!(
        list[1]["change_summary"],
        "根据审查意见调整：玉蟾街道新增CF-0002"
    );
    assert_eq!(list[1]["effective_from"], "2024-03-01");
    assert_eq!(list[1]["effective_to"], "2024-09-01");
    assert_eq!(version(&app, "power", 2).0["status"], "superseded");

    // What changed between them, item by item and field by field.
    let diff = expect_json(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/power/diff?from=2&to=3"
        )),
        200,
    );
    assert_eq!(keys(&diff["added"]), vec![format!("{YUCHAN}/CF-0007")]);
    assert_eq!(
        diff["added"][format!("{YUCHAN}/CF-0007")]["code"],
        "CF-0007"
    );
    assert_eq!(keys(&diff["removed"]), vec![format!("{YUCHAN}/CF-0002")]);
    assert_eq!(diff["changed"].as_array().unwrap().len(), 1, "{diff}");
    assert_eq!(
        changed_fields(&diff, &format!("{YUCHAN}/CF-0009")),
        vec!["unit"]
    );
    let change = &diff["changed"][0]["changes"][0];
    assert_eq!(change["from"]["code"], "luxian-yuchan-bmzx");
    assert_eq!(change["to"]["code"], "luxian-yuchan-zfd");
    let v3_total = v3["item_count"].as_u64().unwrap();
    assert_eq!(diff["unchanged"].as_u64().unwrap(), v3_total - 2);
    // Only published versions can be compared.
    expect_problem(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/power/diff?from=1&to=3"
        )),
        404,
    );

    // Point in time.
    let in_force = format!("/public/v1/counties/{LUXIAN}/lists/power");
    expect_problem(app.get(&format!("{in_force}?at=2024-02-29")), 404);
    for (at, n, hash) in [
        ("2024-03-01", 2, &h2),
        ("2024-08-31", 2, &h2),
        ("2024-09-01", 3, &h3),
        ("2025-01-01", 3, &h3),
    ] {
        let response = app.get(&format!("{in_force}?at={at}"));
        assert_eq!(response.status(), 200, "at {at}");
        assert_eq!(
            header(&response, "content-location").unwrap(),
            public_version_path("power", n),
            "at {at}"
        );
        assert_eq!(header(&response, "etag").unwrap(), format!("\"{hash}\""));
        assert_eq!(&sha256(&response.bytes().unwrap()), hash, "at {at}");
    }
    let today = app.get(&in_force);
    assert_eq!(
        header(&today, "content-location").unwrap(),
        public_version_path("power", 3)
    );
    expect_problem(app.get(&format!("{in_force}?at=yesterday")), 422);

    let (v3_history, _) = version(&app, "power", 3);
    assert_eq!(v3_history["status"], "published");
    assert_eq!(v3_history["reviews"].as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------
// 1. The full path, responsibility list

#[test]
fn the_duty_list_goes_from_submission_through_return_and_approval_to_two_publications() {
    let app = TestApp::with_demo();
    for m in [sd001(), sd002(), sd003(), sd004()] {
        add_matter(&app, m);
    }
    let v1 = submitted(&app, "duty", "首次编制");
    let h1 = v1["content_hash"].as_str().unwrap().to_string();
    assert_eq!(v1["item_count"], 4);
    assert_eq!(
        v1["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stage"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["staffing", "legality", "approval"]
    );
    let response = app.get_as(
        &format!("{}/document", version_path("duty", 1)),
        &app.compiler(),
    );
    assert_eq!(header(&response, "etag").unwrap(), format!("\"{h1}\""));
    let bytes = response.bytes().unwrap();
    assert_eq!(sha256(&bytes), h1);
    let doc1: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc1["kind"], "duty");
    assert_eq!(doc1["county"]["name"], "泸县");
    let codes: Vec<&str> = doc1["matters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["SD-001", "SD-002", "SD-003", "SD-004"]);
    assert_eq!(
        doc1["matters"][0]["lead"]["name"],
        "泸州市生态环境局泸县分局"
    );

    // Staffing passes with an advisory finding; legality returns with blocking ones.
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "duty",
            1,
            "staffing",
            "approve",
            &h1,
            json!([finding("SD-003", "advisory")]),
        ),
        201,
    );
    let returned = expect_json(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "duty",
            1,
            "legality",
            "return",
            &h1,
            json!([finding("SD-001", "blocking"), finding("SD-002", "blocking")]),
        ),
        201,
    );
    assert_eq!(returned["status"], "returned");

    // The compiler edits SD-001 and drops SD-002.
    let mut edited = sd001();
    edited["township_duties"] = json!(["日常巡查", "发现报告", "劝阻制止", "配合联合执法"]);
    replace_matter(&app, edited);
    delete_matter(&app, "SD-002");
    let v2 = submitted(&app, "duty", "根据合法性审查意见修改");
    let h2 = v2["content_hash"].as_str().unwrap().to_string();
    assert_eq!(v2["item_count"], 3);
    assert_eq!(
        answered(&v2),
        vec![
            (
                "SD-003".to_string(),
                "advisory".to_string(),
                "unchanged".to_string(),
                vec!["SD-003".to_string()]
            ),
            (
                "SD-001".to_string(),
                "blocking".to_string(),
                "changed".to_string(),
                vec!["SD-001".to_string()]
            ),
            (
                "SD-002".to_string(),
                "blocking".to_string(),
                "removed".to_string(),
                vec!["SD-002".to_string()]
            ),
        ]
    );

    // Any order: approval bureau, legality, staffing.
    assert_eq!(approve(&app, "duty", 2, "approval")["status"], "in_review");
    assert_eq!(approve(&app, "duty", 2, "legality")["status"], "in_review");
    assert_eq!(approve(&app, "duty", 2, "staffing")["status"], "approved");
    expect_json(publish(&app, "duty", 2, Some("2024-03-01")), 200);

    // Version 3: SD-005 added, SD-004 removed, SD-003 changed.
    add_matter(&app, sd005());
    delete_matter(&app, "SD-004");
    let mut changed = sd003();
    changed["township_duties"] = json!(["日常巡查", "发现报告"]);
    changed["lead_response_minutes"] = json!(60);
    replace_matter(&app, changed);
    let v3 = submitted(&app, "duty", "2024年下半年调整");
    let h3 = v3["content_hash"].as_str().unwrap().to_string();
    approve_and_publish(&app, "duty", 3, Some("2024-09-01"));

    for (n, hash) in [(2, &h2), (3, &h3)] {
        let response = app.get(&public_version_path("duty", n));
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "etag").unwrap(), format!("\"{hash}\""));
        assert_eq!(&sha256(&response.bytes().unwrap()), hash);
    }
    expect_problem(app.get(&public_version_path("duty", 1)), 404);

    let list = expect_json(
        app.get(&format!("/public/v1/counties/{LUXIAN}/lists/duty/versions")),
        200,
    );
    let summary: Vec<(i64, &str, &str, &str, Value)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["number"].as_i64().unwrap(),
                v["status"].as_str().unwrap(),
                v["change_summary"].as_str().unwrap(),
                v["effective_from"].as_str().unwrap(),
                v["effective_to"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                3,
                "published",
                "2024年下半年调整",
                "2024-09-01",
                Value::Null
            ),
            (
                2,
                "superseded",
                "根据合法性审查意见修改",
                "2024-03-01",
                json!("2024-09-01")
            ),
        ]
    );

    let diff = expect_json(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/duty/diff?from=2&to=3"
        )),
        200,
    );
    assert_eq!(keys(&diff["added"]), vec!["SD-005"]);
    assert_eq!(diff["added"]["SD-005"]["name"], "河道垃圾倾倒的查处");
    assert_eq!(keys(&diff["removed"]), vec!["SD-004"]);
    assert_eq!(diff["changed"].as_array().unwrap().len(), 1, "{diff}");
    assert_eq!(
        changed_fields(&diff, "SD-003"),
        vec!["lead_response_minutes", "township_duties"]
    );
    let change = &diff["changed"][0]["changes"][0];
    assert_eq!(
        (change["from"].clone(), change["to"].clone()),
        (json!(30), json!(60))
    );
    assert_eq!(diff["unchanged"], 1);

    let in_force = format!("/public/v1/counties/{LUXIAN}/lists/duty");
    expect_problem(app.get(&format!("{in_force}?at=2024-02-29")), 404);
    for (at, n, hash) in [
        ("2024-03-01", 2, &h2),
        ("2024-08-31", 2, &h2),
        ("2024-09-01", 3, &h3),
    ] {
        let response = app.get(&format!("{in_force}?at={at}"));
        assert_eq!(response.status(), 200, "at {at}");
        assert_eq!(
            header(&response, "content-location").unwrap(),
            public_version_path("duty", n)
        );
        assert_eq!(&sha256(&response.bytes().unwrap()), hash, "at {at}");
    }
    let today = app.get(&in_force);
    assert_eq!(
        header(&today, "content-location").unwrap(),
        public_version_path("duty", 3)
    );
}

#[test]

fn a_submission_after_a_publication_answers_no_earlier_findings() {
    let app = TestApp::with_demo();
    for m in [sd001(), sd002()] {
        add_matter(&app, m);
    }
    let v1 = submitted(&app, "duty", "首次编制");
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "duty",
            1,
            "legality",
            "return",
            v1["content_hash"].as_str().unwrap(),
            json!([finding("SD-001", "blocking")]),
        ),
        201,
    );
    let mut edited = sd001();
    edited["notes"] = json!("已根据审查意见修改");
    replace_matter(&app, edited);
    let v2 = submitted(&app, "duty", "根据审查意见修改");
    assert_eq!(answered(&v2).len(), 1, "version 2 answers version 1");
    approve_and_publish(&app, "duty", 2, None);
    add_matter(&app, sd003());
    let v3 = submitted(&app, "duty", "新增事项");
    assert_eq!(
        v3["answered_findings"],
        json!([]),
        "version 3 follows the published version 2, not the returned version 1"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Refusals

#[test]
fn publication_names_each_missing_stage_and_enforces_the_power_lists_order() {
    let app = TestApp::with_demo();
    submitted(&app, "power", "首次编制");
    let detail = |response: Response| {
        expect_problem(response, 409)["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let d = detail(publish(&app, "power", 1, None));
    assert!(d.contains("legality has not approved"), "{d}");
    assert!(d.contains("government has not approved"), "{d}");
    // The government approves first: still refused for legality.
    assert_eq!(
        approve(&app, "power", 1, "government")["status"],
        "in_review"
    );
    let d = detail(publish(&app, "power", 1, None));
    assert!(d.contains("legality has not approved"), "{d}");
    assert!(!d.contains("government has not approved"), "{d}");
    // Legality approves after it: both approved, but in the wrong order.
    let history = approve(&app, "power", 1, "legality");
    assert_eq!(
        history["status"], "in_review",
        "out of order is not approved"
    );
    let d = detail(publish(&app, "power", 1, None));
    assert!(d.contains("government approved before legality"), "{d}");
    // The government approves again, after legality: now it can be published.
    assert_eq!(
        approve(&app, "power", 1, "government")["status"],
        "approved"
    );
    let published = expect_json(publish(&app, "power", 1, None), 200);
    assert_eq!(published["status"], "published");
    // By default in force from today in China Standard Time.
    let today = (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string();
    assert_eq!(published["effective_from"], today.as_str());

    // The responsibility list: each missing stage is named, in any order of approval.
    add_matter(&app, sd001());
    submitted(&app, "duty", "首次编制");
    let d = detail(publish(&app, "duty", 1, None));
    for stage in ["staffing", "legality", "approval"] {
        assert!(d.contains(&format!("{stage} has not approved")), "{d}");
    }
    approve(&app, "duty", 1, "legality");
    let d = detail(publish(&app, "duty", 1, None));
    assert!(d.contains("staffing has not approved"), "{d}");
    assert!(d.contains("approval has not approved"), "{d}");
    assert!(!d.contains("legality has not approved"), "{d}");
    approve(&app, "duty", 1, "approval");
    let d = detail(publish(&app, "duty", 1, None));
    assert!(d.contains("staffing has not approved"), "{d}");
    assert!(!d.contains("approval has not approved"), "{d}");
    approve(&app, "duty", 1, "staffing");
    expect_json(publish(&app, "duty", 1, None), 200);
}

#[test]
fn a_stage_that_returns_after_approving_takes_its_approval_back() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    let v1 = submitted(&app, "duty", "首次编制");
    for stage in stages_of("duty") {
        approve(&app, "duty", 1, stage);
    }
    assert_eq!(version(&app, "duty", 1).0["status"], "approved");
    // An approved version may still be returned; it ends there.
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "approval"),
            "duty",
            1,
            "approval",
            "return",
            v1["content_hash"].as_str().unwrap(),
            json!([finding("SD-001", "blocking")]),
        ),
        201,
    );
    assert_eq!(version(&app, "duty", 1).0["status"], "returned");
    let problem = expect_problem(publish(&app, "duty", 1, None), 409);
    assert!(
        problem["detail"].as_str().unwrap().contains("returned"),
        "{problem}"
    );
}

#[test]
fn reviews_are_refused_when_wrong() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    let power = submitted(&app, "power", "首次编制");
    let duty = submitted(&app, "duty", "首次编制");
    let ph = power["content_hash"].as_str().unwrap().to_string();
    let dh = duty["content_hash"].as_str().unwrap().to_string();
    let before = audit_events(&app).len();

    // An approval cannot carry a blocking finding.
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "approve",
            &ph,
            json!([
                finding("CF-0005", "advisory"),
                finding("XK-0002", "blocking")
            ]),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["findings[1].severity"]);
    // The reviewer must have read this version's content.
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "approve",
            &"0".repeat(64),
            json!([]),
        ),
        409,
    );
    assert!(
        problem["detail"].as_str().unwrap().contains(&ph),
        "{problem}"
    );
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "duty",
            1,
            "staffing",
            "approve",
            &ph,
            json!([]),
        ),
        409,
    );
    assert!(
        problem["detail"].as_str().unwrap().contains(&dh),
        "{problem}"
    );
    // A finding must concern an item of the version.
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "return",
            &ph,
            json!([finding("CF-0001", "blocking")]),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["findings[0].item_code"]);
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "duty",
            1,
            "staffing",
            "return",
            &dh,
            json!([finding("SD-001", "blocking"), finding("SD-999", "blocking")]),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["findings[1].item_code"]);
    // A reviewer of another county.
    let other = app.token(&["legality_reviewer"], HEJIANG, "hejiang-sfj");
    expect_problem(
        review_as(
            &app,
            &other,
            "power",
            1,
            "legality",
            "approve",
            &ph,
            json!([]),
        ),
        403,
    );
    // The wrong role for the stage.
    expect_problem(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "duty",
            1,
            "legality",
            "approve",
            &dh,
            json!([]),
        ),
        403,
    );
    expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "government",
            "approve",
            &ph,
            json!([]),
        ),
        403,
    );
    // A compiler is no reviewer.
    expect_problem(
        review_as(
            &app,
            &app.compiler(),
            "power",
            1,
            "legality",
            "approve",
            &ph,
            json!([]),
        ),
        403,
    );
    // A stage not in the plan, even for a reviewer holding its role.
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "power",
            1,
            "staffing",
            "approve",
            &ph,
            json!([]),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["stage"]);
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "government"),
            "duty",
            1,
            "government",
            "approve",
            &dh,
            json!([]),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["stage"]);
    // A return says what must change.
    expect_problem(
        app.post(
            &format!("{}/reviews", version_path("power", 1)),
            &reviewer(&app, "legality"),
            &json!({"stage": "legality", "decision": "return", "hash": ph}),
        ),
        422,
    );
    // No such version.
    expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            9,
            "legality",
            "approve",
            &ph,
            json!([]),
        ),
        404,
    );
    // Nothing of that was written.
    let (history, _) = version(&app, "power", 1);
    assert_eq!(history["reviews"], json!([]));
    assert_eq!(history["revision"], power["revision"]);
    assert_eq!(audit_events(&app).len(), before);

    // Publication needs If-Match, and the current one.
    approve(&app, "power", 1, "legality");
    approve(&app, "power", 1, "government");
    expect_problem(publish_with(&app, "power", 1, None, None), 428);
    expect_problem(publish_with(&app, "power", 1, Some("\"1\""), None), 412);
    let (_, etag) = version(&app, "power", 1);
    // Only the compiler publishes.
    expect_problem(
        app.send(
            Method::POST,
            &format!("{}/publish", version_path("power", 1)),
            &reviewer(&app, "government"),
            Some(&etag),
            &json!({}),
        ),
        403,
    );
    assert_eq!(version(&app, "power", 1).0["status"], "approved");

    // A returned version is no longer reviewed.
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "duty",
            1,
            "staffing",
            "return",
            &dh,
            json!([finding("SD-001", "blocking")]),
        ),
        201,
    );
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "duty",
            1,
            "legality",
            "approve",
            &dh,
            json!([]),
        ),
        409,
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("returned"),
        "{problem}"
    );
    // Nor is a published one.
    expect_json(publish(&app, "power", 1, None), 200);
    expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "approve",
            &ph,
            json!([]),
        ),
        409,
    );
}

// ---------------------------------------------------------------------------------------
// 3. One version under review at a time

#[test]
fn at_most_one_version_is_under_review_and_only_an_open_one_can_be_withdrawn() {
    let app = TestApp::with_demo();
    let v1 = submitted(&app, "power", "首次编制");
    let problem = expect_problem(submit(&app, "power", "再次报送"), 409);
    assert!(
        problem["detail"].as_str().unwrap().contains("in_review"),
        "{problem}"
    );
    approve(&app, "power", 1, "legality");
    approve(&app, "power", 1, "government");
    assert_eq!(version(&app, "power", 1).0["status"], "approved");
    let problem = expect_problem(submit(&app, "power", "再次报送"), 409);
    assert!(
        problem["detail"].as_str().unwrap().contains("approved"),
        "{problem}"
    );
    // Only the compiler submits; the other county's compiler neither.
    expect_problem(
        submit_as(&app, LUXIAN, "power", &app.clerk(YUCHAN), "x"),
        403,
    );
    expect_problem(
        submit_as(
            &app,
            LUXIAN,
            "power",
            &app.token(&["county_compiler"], HEJIANG, "hejiang-gov"),
            "x",
        ),
        403,
    );
    // The other kind of list has its own version under review.
    add_matter(&app, sd001());
    submitted(&app, "duty", "首次编制");

    // Withdrawal needs the current ETag.
    expect_problem(withdraw(&app, "power", 1, None), 428);
    expect_problem(withdraw(&app, "power", 1, Some("\"1\"")), 412);
    let (_, etag) = version(&app, "power", 1);
    assert_ne!(etag, "\"1\"");
    let withdrawn = expect_json(withdraw(&app, "power", 1, Some(&etag)), 200);
    assert_eq!(withdrawn["status"], "withdrawn");
    assert!(withdrawn["ended_at"].is_string());
    expect_problem(publish(&app, "power", 1, None), 409);
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "approve",
            v1["content_hash"].as_str().unwrap(),
            json!([]),
        ),
        409,
    );
    assert!(problem["detail"].as_str().unwrap().contains("withdrawn"));

    // Now another may be submitted; it gets the next number.
    let v2 = submitted(&app, "power", "撤回后重新报送");
    assert_eq!(v2["number"], 2);
    assert_eq!(
        v2["content_hash"], v1["content_hash"],
        "same working copy, same hash"
    );
    approve_and_publish(&app, "power", 2, None);
    let (_, etag) = version(&app, "power", 2);
    let problem = expect_problem(withdraw(&app, "power", 2, Some(&etag)), 409);
    assert!(
        problem["detail"].as_str().unwrap().contains("published"),
        "{problem}"
    );
    let (_, etag) = version(&app, "power", 1);
    expect_problem(withdraw(&app, "power", 1, Some(&etag)), 409);
    // After publication a new version may be submitted.
    assert_eq!(submitted(&app, "power", "下一版")["number"], 3);

    let listed = expect_json(
        app.get_as(&versions_path(LUXIAN, "power"), &app.compiler()),
        200,
    );
    let states: Vec<(i64, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["number"].as_i64().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        vec![(3, "in_review"), (2, "published"), (1, "withdrawn")]
    );
}

#[test]
fn nothing_to_submit_is_a_conflict() {
    let app = TestApp::with_demo();
    // The responsibility list has no matters yet.
    expect_problem(submit(&app, "duty", "首次编制"), 409);
    // A duty list is not compiled under a catalogue edition.
    add_matter(&app, sd001());
    expect_problem(
        app.post(
            &versions_path(LUXIAN, "duty"),
            &app.compiler(),
            &json!({"title": "t", "change_summary": "s", "edition": "2026"}),
        ),
        422,
    );
    // A power list without a round needs an edition.
    expect_problem(
        app.post(
            &versions_path(LUXIAN, "power"),
            &app.compiler(),
            &json!({"title": "t", "change_summary": "s"}),
        ),
        404,
    );
    expect_problem(
        app.post(
            &versions_path(LUXIAN, "power"),
            &app.compiler(),
            &json!({"title": "", "change_summary": "s", "edition": "2026"}),
        ),
        422,
    );
    expect_problem(
        app.post(
            &versions_path(LUXIAN, "lists"),
            &app.compiler(),
            &json!({"title": "t", "change_summary": "s"}),
        ),
        404,
    );
}

// ---------------------------------------------------------------------------------------
// 4. The public sees only published material

#[test]
fn anonymous_readers_see_only_published_versions() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    let public_routes = |app: &TestApp| {
        for kind in ["power", "duty"] {
            expect_problem(
                app.get(&format!("/public/v1/counties/{LUXIAN}/lists/{kind}")),
                404,
            );
            assert_eq!(
                expect_json(
                    app.get(&format!(
                        "/public/v1/counties/{LUXIAN}/lists/{kind}/versions"
                    )),
                    200
                ),
                json!([])
            );
            for n in 1..=3 {
                expect_problem(app.get(&public_version_path(kind, n)), 404);
            }
            expect_problem(
                app.get(&format!(
                    "/public/v1/counties/{LUXIAN}/lists/{kind}/diff?from=1&to=2"
                )),
                404,
            );
        }
        expect_problem(
            app.get(&format!("/public/v1/townships/{YUCHAN}/power-list")),
            404,
        );
        expect_problem(
            app.get(&format!("/public/v1/lookup?township={YUCHAN}&q=油烟")),
            404,
        );
        let feed = expect_json(app.get("/public/v1/publications.json"), 200);
        assert_eq!(feed["items"], json!([]));
        assert_eq!(feed["next_since"], Value::Null);
    };
    public_routes(&app);

    // In review, returned, withdrawn: none of it is public.
    let v1 = submitted(&app, "power", "首次编制");
    submitted(&app, "duty", "首次编制");
    public_routes(&app);
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "return",
            v1["content_hash"].as_str().unwrap(),
            json!([finding("XK-0002", "blocking")]),
        ),
        201,
    );
    let (_, etag) = version(&app, "duty", 1);
    expect_json(withdraw(&app, "duty", 1, Some(&etag)), 200);
    submitted(&app, "power", "第二次报送");
    approve(&app, "power", 2, "legality");
    approve(&app, "power", 2, "government");
    public_routes(&app);

    // Authenticated version routes need a token.
    for path in [
        versions_path(LUXIAN, "power"),
        version_path("power", 1),
        format!("{}/document", version_path("power", 1)),
    ] {
        expect_problem(app.request(Method::GET, &path, None).send().unwrap(), 401);
    }
    for (path, body) in [
        (
            versions_path(LUXIAN, "power"),
            json!({"title": "t", "change_summary": "s"}),
        ),
        (
            format!("{}/reviews", version_path("power", 2)),
            json!({"stage": "legality", "decision": "approve", "hash": "x"}),
        ),
        (format!("{}/publish", version_path("power", 2)), json!({})),
        (format!("{}/withdraw", version_path("power", 2)), json!({})),
    ] {
        expect_problem(
            app.request(Method::POST, &path, None)
                .header("If-Match", "\"1\"")
                .json(&body)
                .send()
                .unwrap(),
            401,
        );
    }
    // A township clerk of the county reads versions; another county's compiler does not;
    // the province catalogue team neither.
    let k = app.clerk(YUCHAN);
    let listed = expect_json(app.get_as(&versions_path(LUXIAN, "power"), &k), 200);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(
        expect_json(app.get_as(&version_path("power", 1), &k), 200)["status"],
        "returned"
    );
    let response = app.get_as(&format!("{}/document", version_path("power", 1)), &k);
    assert_eq!(response.status(), 200);
    assert_eq!(
        sha256(&response.bytes().unwrap()),
        v1["content_hash"].as_str().unwrap()
    );
    let stranger = app.token(&["county_compiler"], HEJIANG, "hejiang-gov");
    for path in [
        versions_path(LUXIAN, "power"),
        version_path("power", 1),
        format!("{}/document", version_path("power", 1)),
    ] {
        expect_problem(app.get_as(&path, &stranger), 403);
        expect_problem(app.get_as(&path, &app.admin()), 403);
    }
    expect_problem(app.get_as(&version_path("power", 9), &app.compiler()), 404);

    // Published: version 2 is public, 1 (returned) is not; the duty list is still not.
    expect_json(publish(&app, "power", 2, None), 200);
    assert_eq!(app.get(&public_version_path("power", 2)).status(), 200);
    expect_problem(app.get(&public_version_path("power", 1)), 404);
    expect_problem(app.get(&public_version_path("duty", 1)), 404);
    expect_problem(
        app.get(&format!("/public/v1/counties/{LUXIAN}/lists/duty")),
        404,
    );
    expect_problem(
        app.get(&format!("/public/v1/lookup?township={YUCHAN}&q=油烟")),
        404,
    );
    let versions = expect_json(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/power/versions"
        )),
        200,
    );
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["number"], 2);
    // Another county has published nothing.
    expect_problem(
        app.get(&format!("/public/v1/counties/{HEJIANG}/lists/power")),
        404,
    );
    expect_problem(app.get("/public/v1/townships/510522100000/power-list"), 404);
    // Not a county, not a kind.
    expect_problem(
        app.get(&format!("/public/v1/counties/{YUCHAN}/lists/power")),
        404,
    );
    expect_problem(
        app.get(&format!("/public/v1/counties/{LUXIAN}/lists/other")),
        404,
    );
}

// ---------------------------------------------------------------------------------------
// 5. Caching

#[test]
fn published_documents_and_township_slices_are_cacheable_by_their_hash() {
    let app = TestApp::with_demo();
    let round = open_round(&app);
    for item in ["CF-0001", "CF-0002", "CF-0009", "CF-0010"] {
        confirm_claim(&app, round, YUCHAN, item, "luxian-yuchan-zfd");
    }
    confirm_claim(&app, round, FUJI, "CF-0007", "luxian-fuji-zfd");
    let v1 = submitted(&app, "power", "首次编制");
    let hash = v1["content_hash"].as_str().unwrap().to_string();
    approve_and_publish(&app, "power", 1, None);
    let quoted = format!("\"{hash}\"");

    // The list in force.
    let in_force = format!("/public/v1/counties/{LUXIAN}/lists/power");
    let (document, bytes, response) = public_document(&app, &in_force);
    assert_eq!(sha256(&bytes), hash);
    assert_eq!(header(&response, "etag").unwrap(), quoted);
    assert_eq!(
        header(&response, "content-location").unwrap(),
        public_version_path("power", 1)
    );
    assert_eq!(
        header(&response, "content-type").unwrap(),
        "application/json"
    );
    let cache_control = header(&response, "cache-control").unwrap();
    assert!(!cache_control.contains("immutable"), "{cache_control}");
    assert!(cache_control.contains("public"), "{cache_control}");
    let not_modified = get_with(&app, &in_force, &[("If-None-Match", &quoted)]);
    assert_eq!(not_modified.status(), 304);
    assert_eq!(header(&not_modified, "etag").unwrap(), quoted);
    assert!(not_modified.bytes().unwrap().is_empty());
    // Another ETag gets the document.
    let other = get_with(&app, &in_force, &[("If-None-Match", "\"0000\"")]);
    assert_eq!(other.status(), 200);
    assert_eq!(sha256(&other.bytes().unwrap()), hash);

    // The version by number: the same bytes, immutable.
    let by_number = public_version_path("power", 1);
    let response = app.get(&by_number);
    assert_eq!(header(&response, "etag").unwrap(), quoted);
    let cache_control = header(&response, "cache-control").unwrap();
    assert!(cache_control.contains("immutable"), "{cache_control}");
    assert!(cache_control.contains("max-age="), "{cache_control}");
    assert_eq!(response.bytes().unwrap().to_vec(), bytes);
    let not_modified = get_with(
        &app,
        &by_number,
        &[("If-None-Match", &format!("\"abc\", {quoted}"))],
    );
    assert_eq!(not_modified.status(), 304);
    assert!(not_modified.bytes().unwrap().is_empty());
    // If-None-Match compares weakly (RFC 9110 13.1.2), and `*` matches any.
    for held in [format!("W/{quoted}"), "*".to_string()] {
        let response = get_with(&app, &by_number, &[("If-None-Match", &held)]);
        assert_eq!(response.status(), 304, "{held}");
    }
    let near_miss = get_with(&app, &by_number, &[("If-None-Match", &quoted[..20])]);
    assert_eq!(near_miss.status(), 200, "a tag is compared whole");

    // A township's slice: its own ETag, only its items.
    let slice_path = format!("/public/v1/townships/{YUCHAN}/power-list");
    let (slice, slice_bytes, response) = public_document(&app, &slice_path);
    let slice_etag = header(&response, "etag").unwrap();
    assert_eq!(slice_etag, format!("\"{}\"", sha256(&slice_bytes)));
    assert_ne!(slice_etag, quoted);
    assert_eq!(
        header(&response, "content-location").unwrap(),
        public_version_path("power", 1)
    );
    assert_eq!(slice["township"]["code"], YUCHAN);
    assert_eq!(slice["township"]["name"], "玉蟾街道");
    assert_eq!(slice["version"], 1);
    assert_eq!(slice["content_hash"], hash.as_str());
    let yuchan = document["townships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == YUCHAN)
        .unwrap();
    assert_eq!(slice["items"], yuchan["items"]);
    assert_eq!(
        slice["item_count"],
        yuchan["items"].as_array().unwrap().len()
    );
    let codes: Vec<&str> = slice["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"CF-0001") && codes.contains(&"XK-0002"));
    assert!(!codes.contains(&"CF-0007"), "福集's claim is not 玉蟾's");
    let fuji = expect_json(
        app.get(&format!("/public/v1/townships/{FUJI}/power-list")),
        200,
    );
    assert!(fuji["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == "CF-0007"));
    assert_ne!(fuji["items"], slice["items"]);
    let not_modified = get_with(&app, &slice_path, &[("If-None-Match", &slice_etag)]);
    assert_eq!(not_modified.status(), 304);
    assert!(not_modified.bytes().unwrap().is_empty());
    // The whole list's ETag is not the slice's.
    let response = get_with(&app, &slice_path, &[("If-None-Match", &quoted)]);
    assert_eq!(response.status(), 200);

    // A portal that accepts gzip gets the slice's cached gzip copy: its own strong ETag,
    // `Vary`, the same bytes once decompressed, and the same copy every time.
    let get_encoded = |path: &str, accept: &str, if_none_match: Option<&str>| {
        let mut headers = vec![("Accept-Encoding", accept)];
        headers.extend(if_none_match.map(|etag| ("If-None-Match", etag)));
        get_with(&app, path, &headers)
    };
    let gzipped = get_encoded(&slice_path, "br;q=1.0, gzip;q=0.8", None);
    assert_eq!(gzipped.status(), 200);
    assert_eq!(header(&gzipped, "content-encoding").unwrap(), "gzip");
    assert_eq!(header(&gzipped, "vary").unwrap(), "accept-encoding");
    let gzip_etag = header(&gzipped, "etag").unwrap();
    assert_eq!(gzip_etag, format!("\"{}-gzip\"", sha256(&slice_bytes)));
    let compressed = gzipped.bytes().unwrap().to_vec();
    assert!(compressed.len() < slice_bytes.len());
    assert_eq!(gunzip(&compressed), slice_bytes);
    let again = get_encoded(&slice_path, "gzip", None);
    assert_eq!(again.bytes().unwrap().to_vec(), compressed);
    let fresh = get_encoded(&slice_path, "gzip, deflate", Some(&gzip_etag));
    assert_eq!(fresh.status(), 304);
    assert_eq!(header(&fresh, "etag").unwrap(), gzip_etag);
    // The gzip copy's ETag does not validate the plain bytes, nor the reverse.
    let plain = get_encoded(&slice_path, "identity", Some(&gzip_etag));
    assert_eq!(plain.status(), 200);
    assert!(header(&plain, "content-encoding").is_none());
    assert_eq!(header(&plain, "vary").unwrap(), "accept-encoding");
    assert_eq!(plain.bytes().unwrap().to_vec(), slice_bytes);
    assert_eq!(
        get_encoded(&slice_path, "gzip", Some(&slice_etag)).status(),
        200
    );
    // gzip refused with q=0 (even with `*`): the plain bytes.
    let refused = get_encoded(&slice_path, "*, gzip;q=0", None);
    assert!(header(&refused, "content-encoding").is_none());
    assert_eq!(refused.bytes().unwrap().to_vec(), slice_bytes);
    // A filtered slice is made per request: `Compress` encodes it, and it varies too.
    let filtered = format!("{slice_path}?high_frequency=true");
    let encoded = get_encoded(&filtered, "gzip", None);
    assert_eq!(header(&encoded, "content-encoding").unwrap(), "gzip");
    assert!(encoded
        .headers()
        .get_all("vary")
        .iter()
        .all(|v| v == "accept-encoding"));
    let plain = get_encoded(&filtered, "identity", None);
    assert!(header(&plain, "content-encoding").is_none());
    assert_eq!(header(&plain, "vary").unwrap(), "accept-encoding");
    // The whole version by number too.
    let whole = get_encoded(&by_number, "gzip", None);
    assert_eq!(header(&whole, "content-encoding").unwrap(), "gzip");
    assert_eq!(header(&whole, "etag").unwrap(), format!("\"{hash}-gzip\""));
    assert_eq!(gunzip(&whole.bytes().unwrap()), bytes);

    // Filters narrow the slice.
    let all_items = slice["items"].as_array().unwrap().clone();
    let filtered = |query: &str, keep: &dyn Fn(&Value) -> bool| {
        let response = app.get(&format!("{slice_path}?{query}"));
        let etag = header(&response, "etag").unwrap();
        let body = expect_json(response, 200);
        let expected: Vec<Value> = all_items.iter().filter(|i| keep(i)).cloned().collect();
        assert!(
            !expected.is_empty() && expected.len() < all_items.len(),
            "{query}"
        );
        assert_eq!(body["items"], json!(expected), "{query}");
        assert_eq!(body["item_count"], expected.len(), "{query}");
        assert_ne!(etag, slice_etag, "{query}");
        let again = get_with(
            &app,
            &format!("{slice_path}?{query}"),
            &[("If-None-Match", &etag)],
        );
        assert_eq!(again.status(), 304, "{query}");
        body
    };
    let category = filtered("category=02", &|i| i["category"] == "02");
    assert!(category["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == "CF-0005"));
    let domain = filtered("domain=市容环境", &|i| i["domain"] == "市容环境");
    let mut codes: Vec<&str> = domain["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["CF-0001", "CF-0002", "CF-0009"]);
    let frequent = filtered("high_frequency=true", &|i| i["high_frequency"] == true);
    assert!(frequent["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == "XK-0002"));
    filtered("high_frequency=false", &|i| i["high_frequency"] == false);
    let both = filtered("category=02&high_frequency=true", &|i| {
        i["category"] == "02" && i["high_frequency"] == true
    });
    let mut codes: Vec<&str> = both["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["CF-0001", "CF-0009"]);
    // A filter nothing matches gives an empty slice.
    let none = expect_json(app.get(&format!("{slice_path}?category=99")), 200);
    assert_eq!(none["items"], json!([]));
    assert_eq!(none["item_count"], 0);
    // Not a township; a township the list does not have.
    expect_problem(app.get("/public/v1/townships/510521000000/power-list"), 404);
    expect_problem(app.get("/public/v1/townships/510521102000/power-list"), 404);
    expect_problem(app.get(&format!("{slice_path}?at=2000-01-01")), 404);

    // A new publication changes what is in force, and its ETags.
    confirm_claim(&app, round, YUCHAN, "CF-0007", "luxian-yuchan-zfd");
    let v2 = submitted(&app, "power", "新增CF-0007");
    approve_and_publish(&app, "power", 2, None);
    let h2 = v2["content_hash"].as_str().unwrap();
    let response = get_with(&app, &in_force, &[("If-None-Match", &quoted)]);
    assert_eq!(response.status(), 200, "the old ETag no longer matches");
    assert_eq!(header(&response, "etag").unwrap(), format!("\"{h2}\""));
    assert_eq!(
        header(&response, "content-location").unwrap(),
        public_version_path("power", 2)
    );
    let response = get_with(&app, &slice_path, &[("If-None-Match", &slice_etag)]);
    assert_eq!(response.status(), 200);
    let slice2 = expect_json(response, 200);
    assert_eq!(slice2["version"], 2);
    assert!(slice2["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == "CF-0007"));
    // The older version by number is still served, unchanged.
    let response = app.get(&by_number);
    assert_eq!(header(&response, "etag").unwrap(), quoted);
    assert_eq!(response.bytes().unwrap().to_vec(), bytes);
}

// ---------------------------------------------------------------------------------------
// 6. The public lookup answers from the published responsibility list

#[test]
fn the_public_lookup_answers_from_the_published_version_not_the_working_copy() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    add_matter(&app, sd003());
    let v1 = submitted(&app, "duty", "首次编制");
    approve_and_publish(&app, "duty", 1, None);

    let lookup = |q: &str| {
        expect_json(
            app.get(&format!("/public/v1/lookup?township={YUCHAN}&q={q}")),
            200,
        )
    };
    let codes = |answer: &Value| -> Vec<String> {
        answer["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["code"].as_str().unwrap().to_string())
            .collect()
    };
    for q in ["油煙", "油烟", "餐飲 油煙", "生態環境"] {
        let answer = lookup(q);
        assert_eq!(codes(&answer), vec!["SD-001"], "{q}");
        assert_eq!(answer["version"], 1);
        assert_eq!(answer["content_hash"], v1["content_hash"]);
        assert_eq!(answer["township"], YUCHAN);
        assert_eq!(answer["township_name"], "玉蟾街道");
        assert_eq!(answer["county"], LUXIAN);
    }
    let answer = lookup("油煙");
    let matter = &answer["matches"][0];
    assert_eq!(matter["lead"]["department"], "luxian-sthj");
    assert_eq!(matter["supporters"][0]["department"], "luxian-scjg");
    assert_eq!(
        matter["township_duties"],
        json!(["日常巡查", "发现报告", "劝阻制止"])
    );
    assert_eq!(codes(&lookup("无此事项")), Vec::<String>::new());

    // The working copy moves on; the public answer does not until it is published.
    add_matter(
        &app,
        matter_named("SD-006", "夜市摊点油烟扰民的处置", "luxian-zhzf"),
    );
    let mut renamed = sd003();
    renamed["name"] = json!("占道经营及油烟扰民的整治");
    replace_matter(&app, renamed);
    let working = expect_json(
        app.get_as(
            &format!("/api/v1/lookup?township={YUCHAN}&q=油煙"),
            &app.compiler(),
        ),
        200,
    );
    assert_eq!(working["source"], "working_copy");
    assert_eq!(working["matches"].as_array().unwrap().len(), 3);
    for q in ["油煙", "油烟"] {
        let answer = lookup(q);
        assert_eq!(codes(&answer), vec!["SD-001"], "{q}");
        assert_eq!(answer["version"], 1);
    }
    assert_eq!(codes(&lookup("夜市")), Vec::<String>::new());
    assert_eq!(lookup("占道")["matches"][0]["name"], "占道经营的整治");

    // Submitted but not published: still version 1.
    let v2 = submitted(&app, "duty", "新增夜市油烟事项");
    for stage in stages_of("duty") {
        approve(&app, "duty", 2, stage);
    }
    assert_eq!(codes(&lookup("油烟")), vec!["SD-001"]);
    expect_json(publish(&app, "duty", 2, None), 200);
    for q in ["油煙", "油烟"] {
        let answer = lookup(q);
        assert_eq!(codes(&answer), vec!["SD-001", "SD-003", "SD-006"], "{q}");
        assert_eq!(answer["version"], 2);
        assert_eq!(answer["content_hash"], v2["content_hash"]);
    }
    assert_eq!(codes(&lookup("夜市")), vec!["SD-006"]);
    // Point in time: before the first publication nothing answers.
    expect_problem(
        app.get(&format!(
            "/public/v1/lookup?township={YUCHAN}&q=油烟&at=2000-01-01"
        )),
        404,
    );

    // Bad questions.
    expect_problem(
        app.get(&format!("/public/v1/lookup?township={YUCHAN}&q=%20")),
        422,
    );
    expect_problem(
        app.get("/public/v1/lookup?township=510521000000&q=油烟"),
        422,
    );
    expect_problem(
        app.get("/public/v1/lookup?township=510521102000&q=油烟"),
        404,
    );
    // Another county's township: that county published nothing.
    expect_problem(
        app.get("/public/v1/lookup?township=510522100000&q=油烟"),
        404,
    );
}

fn matter_named(code: &str, name: &str, lead: &str) -> Value {
    let mut m = matter(code, name, "生态环境", lead, &["luxian-sthj"]);
    if lead == "luxian-sthj" {
        m["supporters"] = json!([]);
    }
    m
}

// ---------------------------------------------------------------------------------------
// 7. The publication log

#[test]
fn the_publication_log_lists_every_publication_oldest_first_with_delta_sync() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    let p1 = submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, Some("2025-01-01"));
    let d1 = submitted(&app, "duty", "首次编制");
    approve_and_publish(&app, "duty", 1, None);
    // 合江县 publishes its responsibility list too.
    let hejiang = app.token(&["county_compiler"], HEJIANG, "hejiang-gov");
    let mut m = matter(
        "HJ-001",
        "餐饮服务业油烟污染的监管",
        "生态环境",
        "hejiang-sthj",
        &["hejiang-scjg"],
    );
    m["notes"] = json!("合江县");
    expect_json(app.post(&matters_path(HEJIANG), &hejiang, &m), 201);
    let h1 = expect_json(
        submit_as(&app, HEJIANG, "duty", &hejiang, "合江县首次编制"),
        201,
    );
    for (role, stage, org) in [
        ("staffing_reviewer", "staffing", "hejiang-bb"),
        ("legality_reviewer", "legality", "hejiang-sfj"),
        ("approval_reviewer", "approval", "hejiang-spj"),
    ] {
        expect_json(
            app.post(
                &format!("{}/1/reviews", versions_path(HEJIANG, "duty")),
                &app.token(&[role], HEJIANG, org),
                &json!({"stage": stage, "decision": "approve", "hash": h1["content_hash"]}),
            ),
            201,
        );
    }
    let etag = app.etag(&format!("{}/1", versions_path(HEJIANG, "duty")), &hejiang);
    expect_json(
        app.send(
            Method::POST,
            &format!("{}/1/publish", versions_path(HEJIANG, "duty")),
            &hejiang,
            Some(&etag),
            &json!({}),
        ),
        200,
    );
    // A second power version, whose summary needs escaping in XML.
    let round = open_round(&app);
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    let p2 = submitted(&app, "power", "新增<赋权>事项 & 调整");
    approve_and_publish(&app, "power", 2, Some("2025-06-01"));
    // Versions that were never published are not in the log.
    submitted(&app, "duty", "未发布的版本");

    let feed = expect_json(app.get("/public/v1/publications.json"), 200);
    let items = feed["items"].as_array().unwrap();
    let seen: Vec<(&str, &str, i64)> = items
        .iter()
        .map(|v| {
            (
                v["county"].as_str().unwrap(),
                v["kind"].as_str().unwrap(),
                v["number"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (LUXIAN, "power", 1),
            (LUXIAN, "duty", 1),
            (HEJIANG, "duty", 1),
            (LUXIAN, "power", 2)
        ]
    );
    let published_at: Vec<&str> = items
        .iter()
        .map(|v| v["published_at"].as_str().unwrap())
        .collect();
    let mut sorted = published_at.clone();
    sorted.sort();
    assert_eq!(published_at, sorted, "oldest first");
    assert_eq!(feed["next_since"], items[3]["published_at"]);
    assert_eq!(items[0]["content_hash"], p1["content_hash"]);
    assert_eq!(items[0]["change_summary"], "首次编制");
    assert_eq!(items[0]["effective_from"], "2025-01-01");
    assert_eq!(items[0]["effective_to"], "2025-06-01");
    assert_eq!(items[0]["status"], "superseded");
    assert_eq!(items[0]["url"], public_version_path("power", 1));
    assert_eq!(items[1]["content_hash"], d1["content_hash"]);
    assert!(items[1]["effective_from"].is_string());
    assert_eq!(items[2]["change_summary"], "合江县首次编制");
    assert_eq!(
        items[2]["url"],
        format!("/public/v1/counties/{HEJIANG}/lists/duty/versions/1")
    );
    assert_eq!(items[3]["content_hash"], p2["content_hash"]);
    assert_eq!(items[3]["change_summary"], "新增<赋权>事项 & 调整");
    assert_eq!(items[3]["status"], "published");

    // Delta sync: since= the previous answer's next_since gives only later ones.
    let first = expect_json(app.get("/public/v1/publications.json?limit=2"), 200);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let since = first["next_since"].as_str().unwrap().to_string();
    assert_eq!(since, published_at[1]);
    let rest = expect_json(
        app.get(&format!("/public/v1/publications.json?since={since}")),
        200,
    );
    let rest_items = rest["items"].as_array().unwrap();
    assert_eq!(rest_items.len(), 2);
    assert_eq!(rest_items[0]["county"], HEJIANG);
    assert_eq!(rest_items[1]["number"], 2);
    let since = rest["next_since"].as_str().unwrap().to_string();
    let nothing = expect_json(
        app.get(&format!("/public/v1/publications.json?since={since}")),
        200,
    );
    assert_eq!(nothing["items"], json!([]));
    assert_eq!(
        nothing["next_since"],
        since.as_str(),
        "next_since stays put"
    );
    let with_z = expect_json(
        app.get(&format!(
            "/public/v1/publications.json?since={}",
            published_at[2].replace('Z', "%2B00:00")
        )),
        200,
    );
    assert_eq!(with_z["items"].as_array().unwrap().len(), 1);
    let by_date = expect_json(
        app.get("/public/v1/publications.json?since=2000-01-01"),
        200,
    );
    assert_eq!(by_date["items"].as_array().unwrap().len(), 4);
    for bad in ["yesterday", "2026-13-01", "1700000000"] {
        let problem = expect_problem(
            app.get(&format!("/public/v1/publications.json?since={bad}")),
            422,
        );
        assert_eq!(error_fields(&problem), vec!["since"], "{bad}");
        expect_problem(
            app.get(&format!("/public/v1/publications.atom?since={bad}")),
            422,
        );
    }
    for bad in ["0", "1001", "-1"] {
        expect_problem(
            app.get(&format!("/public/v1/publications.json?limit={bad}")),
            422,
        );
    }

    // The same log as Atom.
    let response = app.get("/public/v1/publications.atom");
    assert_eq!(response.status(), 200);
    let content_type = header(&response, "content-type").unwrap();
    assert!(
        content_type.starts_with("application/atom+xml"),
        "{content_type}"
    );
    let xml = response.text().unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"),
        "{xml}"
    );
    assert_eq!(xml.matches("<entry>").count(), 4, "{xml}");
    assert_eq!(xml.matches("</entry>").count(), 4, "{xml}");
    let order: Vec<usize> = [
        format!("urn:quanze:{LUXIAN}:power:1"),
        format!("urn:quanze:{LUXIAN}:duty:1"),
        format!("urn:quanze:{HEJIANG}:duty:1"),
        format!("urn:quanze:{LUXIAN}:power:2"),
    ]
    .iter()
    .map(|id| {
        xml.find(&format!("<id>{id}</id>"))
            .unwrap_or_else(|| panic!("{id}: {xml}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "oldest first: {xml}");
    for v in [&p1, &d1, &h1, &p2] {
        assert!(xml.contains(v["content_hash"].as_str().unwrap()), "{xml}");
    }
    assert!(xml.contains("新增&lt;赋权&gt;事项 &amp; 调整"), "{xml}");
    assert!(!xml.contains("新增<赋权>"), "{xml}");
    let later = app
        .get(&format!(
            "/public/v1/publications.atom?since={}",
            published_at[1]
        ))
        .text()
        .unwrap();
    assert_eq!(later.matches("<entry>").count(), 2, "{later}");
}

// ---------------------------------------------------------------------------------------
// 8. The audit trail

#[test]
fn the_audit_trail_records_submission_each_review_publication_and_withdrawal() {
    let app = TestApp::with_demo();
    let v1 = submitted(&app, "power", "首次编制");
    let h1 = v1["content_hash"].as_str().unwrap().to_string();
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "return",
            &h1,
            json!([
                finding("XK-0002", "blocking"),
                finding("CF-0005", "advisory")
            ]),
        ),
        201,
    );
    submitted(&app, "power", "第二次报送");
    approve_and_publish(&app, "power", 2, Some("2025-01-01"));
    submitted(&app, "power", "第三次报送");
    let (_, etag) = version(&app, "power", 3);
    expect_json(withdraw(&app, "power", 3, Some(&etag)), 200);

    let events = audit_events(&app);
    let trail: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["entity_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let entity = |n: i64| format!("{LUXIAN}/power/{n}");
    assert_eq!(
        trail,
        vec![
            ("publication.submit".to_string(), entity(1)),
            ("publication.review".to_string(), entity(1)),
            ("publication.submit".to_string(), entity(2)),
            ("publication.review".to_string(), entity(2)),
            ("publication.review".to_string(), entity(2)),
            ("publication.publish".to_string(), entity(2)),
            ("publication.submit".to_string(), entity(3)),
            ("publication.withdraw".to_string(), entity(3)),
        ]
    );
    assert!(events
        .iter()
        .all(|e| e["entity_type"] == "list_version" && e["region_code"] == LUXIAN));
    assert!(
        events[0]["summary"].as_str().unwrap().contains(&h1),
        "{}",
        events[0]
    );
    assert_eq!(events[0]["actor_org"], "luxian-gov");
    let review = &events[1];
    assert_eq!(review["actor_org"], "luxian-sfj");
    assert_eq!(review["actor_roles"], "legality_reviewer");
    let summary = review["summary"].as_str().unwrap();
    assert!(
        summary.contains("legality") && summary.contains("returned"),
        "{summary}"
    );
    assert!(summary.contains("2 finding"), "{summary}");
    assert_eq!(events[4]["actor_org"], "luxian-gov");
    assert!(events[4]["actor_roles"]
        .as_str()
        .unwrap()
        .contains("government_approver"));
    let publish = events[5]["summary"].as_str().unwrap();
    assert!(publish.contains("2025-01-01"), "{publish}");
    assert_eq!(events[5]["actor_roles"], "county_compiler");
    // Filtered to one version.
    let one = expect_json(
        app.get_as(
            &format!(
                "/api/v1/audit?entity_type=list_version&entity_id={}",
                entity(2)
            ),
            &auditor(&app),
        ),
        200,
    );
    assert_eq!(one["total"], 4);
    // The chain still verifies.
    let report = expect_json(app.get_as("/api/v1/audit/verify", &auditor(&app)), 200);
    assert_eq!(report["valid"], true, "{report}");
}

// ---------------------------------------------------------------------------------------
// Concurrency

#[test]
fn concurrent_submissions_let_exactly_one_through() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    let barrier = std::sync::Barrier::new(4);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (app, barrier) = (&app, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    submit(app, "duty", &format!("并发报送 {i}"))
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, vec![201, 409, 409, 409], "{statuses:?}");
    let listed = expect_json(
        app.get_as(&versions_path(LUXIAN, "duty"), &app.compiler()),
        200,
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["number"], 1);
}

#[test]

fn concurrent_reviews_of_different_stages_are_all_recorded() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    for round in 1..=5 {
        let submission = submitted(&app, "duty", &format!("第{round}次报送"));
        let n = submission["number"].as_i64().unwrap();
        let hash = submission["content_hash"].as_str().unwrap().to_string();
        let tokens: Vec<(String, String)> = stages_of("duty")
            .iter()
            .map(|stage| (stage.to_string(), reviewer(&app, stage)))
            .collect();
        let barrier = std::sync::Barrier::new(tokens.len());
        let answers: Vec<(u16, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = tokens
                .iter()
                .map(|(stage, token)| {
                    let (app, barrier, hash) = (&app, &barrier, &hash);
                    s.spawn(move || {
                        barrier.wait();
                        let response =
                            review_as(app, token, "duty", n, stage, "approve", hash, json!([]));
                        (response.status().as_u16(), response.text().unwrap())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            answers.iter().all(|(status, _)| *status == 201),
            "round {round}: every stage's review is recorded: {answers:?}"
        );
        let (history, _) = version(&app, "duty", n);
        assert_eq!(history["reviews"].as_array().unwrap().len(), 3);
        assert_eq!(history["status"], "approved", "round {round}");
        let (_, etag) = version(&app, "duty", n);
        expect_json(withdraw(&app, "duty", n, Some(&etag)), 200);
    }
}

// ---------------------------------------------------------------------------------------
// Canonical content

/// Re-serialises a value with every object's keys sorted, without whitespace.
fn canonical(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: std::collections::BTreeMap<String, Value> =
                    map.iter().map(|(k, v)| (k.clone(), sort(v))).collect();
                Value::Object(sorted.into_iter().collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sort(value)).unwrap()
}

#[test]
fn versions_are_canonical_json_whose_hash_depends_only_on_the_content() {
    let app = TestApp::with_demo();
    let round = open_round(&app);
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    add_matter(&app, sd001());
    add_matter(&app, sd003());
    let power = submitted(&app, "power", "首次编制");
    let duty = submitted(&app, "duty", "首次编制");
    for (kind, version) in [("power", &power), ("duty", &duty)] {
        let bytes = app
            .get_as(
                &format!("{}/document", version_path(kind, 1)),
                &app.compiler(),
            )
            .bytes()
            .unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            text,
            canonical(&value),
            "{kind}: sorted keys, no whitespace"
        );
        assert_eq!(sha256(&bytes), version["content_hash"].as_str().unwrap());
        assert!(
            !text.contains("revision") && !text.contains("updated_at"),
            "{kind}"
        );
    }
    // Withdraw both; touch the working copies without changing their content.
    for kind in ["power", "duty"] {
        let (_, etag) = version(&app, kind, 1);
        expect_json(withdraw(&app, kind, 1, Some(&etag)), 200);
    }
    replace_matter(&app, sd001());
    reopen_claim(&app, round, YUCHAN, "CF-0001");
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    let power2 = submitted(&app, "power", "再次报送");
    let duty2 = submitted(&app, "duty", "再次报送");
    assert_eq!(power2["content_hash"], power["content_hash"]);
    assert_eq!(duty2["content_hash"], duty["content_hash"]);
    // A real change changes the hash.
    for kind in ["power", "duty"] {
        let (_, etag) = version(&app, kind, 2);
        expect_json(withdraw(&app, kind, 2, Some(&etag)), 200);
    }
    let mut edited = sd001();
    edited["notes"] = json!("夜间巡查");
    replace_matter(&app, edited);
    assert_ne!(
        submitted(&app, "duty", "第三次报送")["content_hash"],
        duty["content_hash"]
    );
}

#[test]

fn a_blank_title_or_change_summary_is_refused_naming_the_field() {
    let app = TestApp::with_demo();
    let answers: Vec<(&str, u16, String)> = [
        (
            json!({"title": "   ", "change_summary": "首次编制", "edition": "2026"}),
            "title",
        ),
        (
            json!({"title": "泸县权力清单", "change_summary": "  \n ", "edition": "2026"}),
            "change_summary",
        ),
    ]
    .into_iter()
    .map(|(body, field)| {
        let response = app.post(&versions_path(LUXIAN, "power"), &app.compiler(), &body);
        (field, response.status().as_u16(), response.text().unwrap())
    })
    .collect();
    for (field, status, body) in &answers {
        let problem: Value = serde_json::from_str(body).unwrap();
        assert!(
            *status == 422 && error_fields(&problem) == vec![field.to_string()],
            "a blank {field} is a validation error naming it: {answers:?}"
        );
    }
    let listed = expect_json(
        app.get_as(&versions_path(LUXIAN, "power"), &app.compiler()),
        200,
    );
    assert_eq!(listed, json!([]), "nothing was submitted");
}

// ---------------------------------------------------------------------------------------
// 5. Storage

/// Frozen documents moved to their own table (migration 000005); rolling that upgrade
/// back and forward again must keep every version's bytes, whatever its state.
#[test]
fn frozen_documents_survive_rolling_the_storage_migrations_back_and_forward() {
    let app = TestApp::with_demo();
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    add_matter(&app, sd001());
    submitted(&app, "duty", "首次编制");
    let document = |kind: &str| {
        let response = app.get_as(
            &format!("{}/document", version_path(kind, 1)),
            &app.compiler(),
        );
        assert_eq!(response.status(), 200, "the {kind} document");
        response.bytes().unwrap().to_vec()
    };
    let before = (document("power"), document("duty"));
    assert_eq!(sha256(&before.0), hash_of(&app, "power", 1));
    assert_eq!(sha256(&before.1), hash_of(&app, "duty", 1));

    let db = quanze::db::Db::connect(&app.db_url, 1, std::time::Duration::from_secs(5)).unwrap();
    let reverted: Vec<String> = (0..4)
        .map(|_| db.revert_last_migration().expect("revert"))
        .collect();
    assert_eq!(
        reverted,
        [
            "20261127000008",
            "20261127000007",
            "20261121000006",
            "20261121000005"
        ]
    );
    assert_eq!(db.migrate().expect("migrate again"), 4);

    assert_eq!(document("power"), before.0, "the published power list");
    assert_eq!(document("duty"), before.1, "the duty list under review");
    let (_, bytes, _) = public_document(&app, &public_version_path("power", 1));
    assert_eq!(bytes, before.0, "the public copy");
}

/// With memory for no more than one version, each read of the other list evicts the
/// first, which is then fetched and rendered again: the same canonical bytes, the same
/// ETag, and revalidation still answers 304.
#[test]
fn an_evicted_version_renders_again_to_the_same_bytes() {
    let app = TestApp::with_demo_configured(|config| config.publication.cache_bytes = 1);
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    add_matter(&app, sd001());
    submitted(&app, "duty", "首次编制");
    approve_and_publish(&app, "duty", 1, None);
    let slice_path = format!("/public/v1/townships/{YUCHAN}/power-list");
    let lookup_path = format!("/public/v1/lookup?township={YUCHAN}&q=油烟");

    let (slice, bytes, response) = public_document(&app, &slice_path);
    let etag = header(&response, "etag").unwrap();
    assert_eq!(etag, format!("\"{}\"", sha256(&bytes)));
    assert_eq!(
        canonical(&slice).as_bytes(),
        bytes,
        "a slice is canonical JSON"
    );
    assert!(slice["item_count"].as_u64().unwrap() > 0);
    for _ in 0..2 {
        let lookup = expect_json(app.get(&lookup_path), 200);
        assert_eq!(lookup["version"], 1, "the duty list, rendered");
        let (_, again, response) = public_document(&app, &slice_path);
        assert_eq!(again, bytes, "rendered again, the same bytes");
        assert_eq!(header(&response, "etag").unwrap(), etag);
    }
    let not_modified = get_with(&app, &slice_path, &[("If-None-Match", &etag)]);
    assert_eq!(not_modified.status(), 304);

    // The reads above did come from the database: a stored document changed behind the
    // service's back shows once the duty list has pushed the power list out again.
    app.sql("UPDATE version_contents SET content = replace(content, '玉蟾街道', '玉蟾镇')");
    expect_json(app.get(&lookup_path), 200);
    let reread = expect_json(app.get(&slice_path), 200);
    assert_eq!(reread["township"]["name"], "玉蟾镇");
}

#[test]
fn published_documents_and_slices_are_what_the_contract_says() {
    let app = TestApp::with_demo();
    let spec: Value =
        serde_json::from_slice(&app.get("/api-docs/openapi.json").bytes().unwrap()).unwrap();
    let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let round = open_round(&app);
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    for m in [sd001(), sd002()] {
        add_matter(&app, m);
    }
    submitted(&app, "duty", "首次编制");
    approve_and_publish(&app, "duty", 1, None);
    let mut checked = Vec::new();
    for (path, name) in [
        (
            format!("/public/v1/counties/{LUXIAN}/lists/power"),
            "ListDocument",
        ),
        (
            format!("/public/v1/counties/{LUXIAN}/lists/duty"),
            "ListDocument",
        ),
        (public_version_path("power", 1), "ListDocument"),
        (
            format!("/public/v1/townships/{YUCHAN}/power-list"),
            "TownshipPowerList",
        ),
        (
            format!("/public/v1/townships/{YUCHAN}/power-list?category=02"),
            "TownshipPowerList",
        ),
        (
            format!("{}/document", version_path("duty", 1)),
            "ListDocument",
        ),
    ] {
        let token = app.compiler();
        let body = expect_json(app.get_as(&path, &token), 200);
        let problems = nonconformities(&spec, &schema(name), &body, "$");
        assert!(problems.is_empty(), "{path}: {problems:#?}");
        checked.push(path);
    }
    // The checker itself refuses what the schema does not say.
    let body = expect_json(
        app.get(&format!("/public/v1/townships/{YUCHAN}/power-list")),
        200,
    );
    let mut wrong = body.clone();
    wrong["items"][0]["unexpected"] = json!(1);
    wrong.as_object_mut().unwrap().remove("version");
    assert_eq!(
        nonconformities(&spec, &schema("TownshipPowerList"), &wrong, "$").len(),
        2
    );
}
