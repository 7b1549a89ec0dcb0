//! The province catalogue: editions and their lifecycle, items and their rules, import
//! and export, optimistic concurrency, lists and filters, diffs.

use std::collections::BTreeMap;

use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

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

// ---------------------------------------------------------------------------------
// The lifecycle
// ---------------------------------------------------------------------------------

#[test]
fn a_draft_is_created_with_an_etag_and_its_items_are_added_read_and_replaced() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    let response = app.post(
        "/api/v1/catalogue/editions",
        &admin,
        &json!({"code": "2027", "title": "2027年版"}),
    );
    let edition_tag = etag_of(&response);
    let edition = expect_json(response, 201);
    assert_eq!(edition_tag, "\"1\"");
    assert_eq!(edition["code"], "2027");
    assert_eq!(edition["status"], "draft");
    assert_eq!(edition["province"], PROVINCE);
    assert_eq!(edition["revision"], 1);
    assert!(
        edition["published_at"].is_null() && edition["based_on"].is_null(),
        "{edition}"
    );

    // The code is taken now.
    expect_problem(
        app.post(
            "/api/v1/catalogue/editions",
            &admin,
            &json!({"code": "2027", "title": "again"}),
        ),
        409,
    );

    let (created, etag) = add_item(&app, "2027", &item("CF-0101", "对占道经营的处罚"));
    assert_eq!(etag, "\"1\"");
    assert_eq!(
        edition_etag(&app, "2027"),
        "\"2\"",
        "adding an item moves the edition's revision on"
    );
    assert_eq!(created["edition"], "2027");
    assert_eq!(created["revision"], 1);
    assert_eq!(
        content(&created),
        item("CF-0101", "对占道经营的处罚"),
        "stored as sent"
    );
    add_item(
        &app,
        "2027",
        &sub_item("CF-0101-01", "对占道经营逾期不改的处罚", "CF-0101"),
    );
    assert_eq!(edition_etag(&app, "2027"), "\"3\"");

    let response = app.get_as(&item_path("2027", "CF-0101"), &admin);
    assert_eq!(etag_of(&response), "\"1\"");
    let read = expect_json(response, 200);
    assert_eq!(read["name"], "对占道经营的处罚");

    let mut changed = content(&read);
    changed["name"] = json!("对占道经营行为的处罚");
    changed["time_limit_days"] = json!(30);
    changed["high_frequency"] = json!(true);
    let response = app.send(
        Method::PUT,
        &item_path("2027", "CF-0101"),
        &admin,
        Some("\"1\""),
        &changed,
    );
    let new_etag = etag_of(&response);
    let updated = expect_json(response, 200);
    assert_eq!(new_etag, "\"2\"");
    assert_eq!(updated["revision"], 2);
    assert_eq!(updated["created_at"], read["created_at"]);

    let response = app.get_as(&item_path("2027", "CF-0101"), &admin);
    assert_eq!(etag_of(&response), "\"2\"");
    let reread = expect_json(response, 200);
    assert_eq!(content(&reread), changed);

    let response = app.get_as(&edition_path("2027"), &admin);
    let current_tag = etag_of(&response);
    let view = expect_json(response, 200);
    assert_eq!(view["item_count"], 2);
    assert_eq!(
        (current_tag.as_str(), view["revision"].as_i64()),
        ("\"4\"", Some(4)),
        "replacing an item moves the edition's revision on too"
    );
    let stamp = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["updated_at"].as_str().unwrap()).unwrap()
    };
    assert!(
        stamp(&view) > stamp(&edition),
        "item writes move the edition's updated_at on: {view}"
    );
    assert_eq!(item_codes(&app, "2027"), vec!["CF-0101", "CF-0101-01"]);

    // The title of a draft can change, with the edition's current ETag; the one read
    // before the items changed is stale.
    expect_problem(
        app.send(
            Method::PUT,
            &edition_path("2027"),
            &admin,
            Some(&edition_tag),
            &json!({"title": "过时的标题"}),
        ),
        412,
    );
    let response = app.send(
        Method::PUT,
        &edition_path("2027"),
        &admin,
        Some(&current_tag),
        &json!({"title": "2027年版（征求意见稿）"}),
    );
    let retitled_tag = etag_of(&response);
    let retitled = expect_json(response, 200);
    assert_eq!(retitled["title"], "2027年版（征求意见稿）");
    assert_ne!(retitled_tag, current_tag);
    assert_eq!(edition_etag(&app, "2027"), retitled_tag);
}

#[test]
fn an_items_code_cannot_change_when_it_is_replaced() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "对占道经营的处罚"));
    let before = app.audit_count();
    let problem = expect_problem(
        app.send(
            Method::PUT,
            &item_path("d1", "CF-0101"),
            &app.admin(),
            Some("\"1\""),
            &item("CF-0102", "对占道经营的处罚"),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["code"]);
    assert_eq!(app.audit_count(), before);
    assert_eq!(item_codes(&app, "d1"), vec!["CF-0101"]);
}

#[test]
fn a_json_import_replaces_the_drafts_items_and_counts_what_changed() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    for code in ["CF-0101", "CF-0102", "CF-0103"] {
        add_item(&app, "d1", &item(code, &format!("处罚事项 {code}")));
    }
    let etag = edition_etag(&app, "d1");
    let before = app.audit_count();

    let mut changed = item("CF-0102", "处罚事项 CF-0102（修订）");
    changed["high_frequency"] = json!(true);
    let document = json!({
        "edition": {"code": "ignored", "title": "exports carry the edition; imports ignore it"},
        "items": [
            item("CF-0101", "处罚事项 CF-0101"),
            changed,
            sub_item("CF-0104", "处罚事项 CF-0104", "CF-0101"),
        ]
    });
    let report = expect_json(import_json(&app, "d1", &document, Some(&etag), false), 200);
    assert_eq!(report["dry_run"], false);
    assert_eq!(
        counts(&report),
        (3, 1, 1, 1, 1),
        "rows, created, updated, unchanged, removed: {report}"
    );

    assert_eq!(
        item_codes(&app, "d1"),
        vec!["CF-0101", "CF-0102", "CF-0104"]
    );
    let unchanged = expect_json(app.get_as(&item_path("d1", "CF-0101"), &app.admin()), 200);
    assert_eq!(
        unchanged["revision"], 1,
        "an unchanged item keeps its revision"
    );
    let updated = expect_json(app.get_as(&item_path("d1", "CF-0102"), &app.admin()), 200);
    assert_eq!(updated["revision"], 2);
    assert_eq!(updated["name"], "处罚事项 CF-0102（修订）");
    assert_eq!(updated["high_frequency"], true);
    let created = expect_json(app.get_as(&item_path("d1", "CF-0104"), &app.admin()), 200);
    assert_eq!(created["parent_code"], "CF-0101");
    expect_problem(app.get_as(&item_path("d1", "CF-0103"), &app.admin()), 404);

    assert_ne!(
        edition_etag(&app, "d1"),
        etag,
        "an import changes the edition's revision"
    );
    assert_eq!(
        app.audit_count(),
        before + 1,
        "one audit event for the import"
    );

    // A second import: the parent CF-0101 changes while its sub-item stays, and a new
    // sub-item comes before its new parent in code order.
    let etag = edition_etag(&app, "d1");
    let mut parent = item("CF-0101", "处罚事项 CF-0101（修订）");
    parent["time_limit_days"] = json!(30);
    let document = json!({"items": [
        sub_item("AB-0001", "排在上级前面的子项", "ZZ-0001"),
        parent,
        content(&updated),
        sub_item("CF-0104", "处罚事项 CF-0104", "CF-0101"),
        statutory("ZZ-0001", "排在最后的上级"),
    ]});
    let report = expect_json(import_json(&app, "d1", &document, Some(&etag), false), 200);
    assert_eq!(counts(&report), (5, 2, 1, 2, 0), "{report}");
    assert_eq!(
        item_codes(&app, "d1"),
        vec!["AB-0001", "CF-0101", "CF-0102", "CF-0104", "ZZ-0001"]
    );
    let parent = expect_json(app.get_as(&item_path("d1", "CF-0101"), &app.admin()), 200);
    assert_eq!(parent["revision"], 2);
    assert_eq!(parent["time_limit_days"], 30);
    let child = expect_json(app.get_as(&item_path("d1", "CF-0104"), &app.admin()), 200);
    assert_eq!(child["parent_code"], "CF-0101");
    assert_eq!(child["revision"], 1);
}

#[test]
fn a_csv_import_replaces_the_drafts_items_and_counts_what_changed() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    for code in ["CF-0101", "CF-0102", "CF-0103"] {
        add_item(&app, "d1", &flat_item(code, &format!("处罚事项 {code}")));
    }
    let etag = edition_etag(&app, "d1");
    let csv = csv_file(&[
        csv_row("CF-0101", "处罚事项 CF-0101", &[]),
        csv_row("CF-0102", "处罚事项 CF-0102（修订）", &[]),
        csv_row(
            "XK-0101",
            "临时占用道路许可",
            &[
                ("category", "01"),
                ("source", "statutory"),
                ("delegation_mode", ""),
                ("sector", "housing_construction"),
                ("domain", "城乡建设"),
                ("legal_basis", "《城市道路管理条例》|第三十一条|因特殊情况需要临时占用城市道路的，须经批准\n《四川省城市道路管理办法》"),
                ("responsibilities", "受理|一次性告知申请材料\n决定｜作出准予或者不予许可的决定"),
                ("accountability", "对符合条件的申请不予受理的\n超过法定期限作出决定的"),
                ("time_limit_days", " 15 "),
                ("high_frequency", "是"),
                ("service_guide", "  到便民服务中心办理  "),
            ],
        ),
        csv_row("XK-0101-01", "临时占用道路许可延续", &[("parent_code", "XK-0101"), ("high_frequency", "TRUE")]),
    ]);
    let report = expect_json(import_csv(&app, "d1", &csv, Some(&etag), false), 200);
    assert_eq!(
        counts(&report),
        (4, 2, 1, 1, 1),
        "rows, created, updated, unchanged, removed: {report}"
    );
    assert_eq!(
        item_codes(&app, "d1"),
        vec!["CF-0101", "CF-0102", "XK-0101", "XK-0101-01"]
    );

    let read = expect_json(app.get_as(&item_path("d1", "XK-0101"), &app.admin()), 200);
    assert_eq!(
        content(&read),
        json!({
            "code": "XK-0101",
            "name": "临时占用道路许可",
            "category": "01",
            "source": "statutory",
            "delegation_mode": null,
            "sector": "housing_construction",
            "domain": "城乡建设",
            "legal_basis": [
                {"law": "《城市道路管理条例》", "article": "第三十一条", "excerpt": "因特殊情况需要临时占用城市道路的，须经批准"},
                {"law": "《四川省城市道路管理办法》", "article": "", "excerpt": ""}
            ],
            "responsibilities": [
                {"stage": "受理", "duty": "一次性告知申请材料"},
                {"stage": "决定", "duty": "作出准予或者不予许可的决定"}
            ],
            "accountability": ["对符合条件的申请不予受理的", "超过法定期限作出决定的"],
            "time_limit_days": 15,
            "high_frequency": true,
            "service_guide": "到便民服务中心办理",
            "parent_code": null
        })
    );
    let sub = expect_json(
        app.get_as(&item_path("d1", "XK-0101-01"), &app.admin()),
        200,
    );
    assert_eq!(sub["parent_code"], "XK-0101");
    assert_eq!(sub["high_frequency"], true);
    let kept = expect_json(app.get_as(&item_path("d1", "CF-0101"), &app.admin()), 200);
    assert_eq!(kept["revision"], 1);
    expect_problem(app.get_as(&item_path("d1", "CF-0103"), &app.admin()), 404);
}

#[test]
fn publishing_makes_a_draft_public_under_both_prefixes() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "对占道经营的处罚"));
    add_item(&app, "d1", &statutory("JC-0101", "对辖区安全生产的检查"));

    // The items moved the edition on: publish with its ETag as it is now.
    let etag = edition_etag(&app, "d1");
    let published = action(&app, "d1", "publish", Some(&etag));
    let new_etag = etag_of(&published);
    let published = expect_json(published, 200);
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string(), "{published}");
    assert_eq!(new_etag, format!("\"{}\"", published["revision"]));
    assert_ne!(new_etag, etag);

    for prefix in ["/api/v1", "/public/v1"] {
        let view = expect_json(app.get(&format!("{prefix}/catalogue/editions/d1")), 200);
        assert_eq!(view["status"], "published");
        assert_eq!(view["item_count"], 2);
        let page = expect_json(
            app.get(&format!("{prefix}/catalogue/editions/d1/items")),
            200,
        );
        assert_eq!(codes(&page), vec!["CF-0101", "JC-0101"]);
        assert_eq!(page["total"], 2);
        let one = expect_json(
            app.get(&format!("{prefix}/catalogue/editions/d1/items/JC-0101")),
            200,
        );
        assert_eq!(one["source"], "statutory");
        let export = expect_json(
            app.get(&format!("{prefix}/catalogue/editions/d1/export")),
            200,
        );
        assert_eq!(export["edition"]["code"], "d1");
        assert_eq!(codes(&export["items"]), vec!["CF-0101", "JC-0101"]);
        let csv = app.get(&format!("{prefix}/catalogue/editions/d1/export?format=csv"));
        assert_eq!(csv.status(), 200);
        assert!(csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        assert!(csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("catalogue-d1.csv"));
        let text = csv.text().unwrap();
        let text = text.trim_start_matches('\u{feff}');
        assert!(text.starts_with(CSV_HEADER), "{text}");
        assert!(text.contains("JC-0101") && text.contains("CF-0101"));
        let listed = expect_json(app.get(&format!("{prefix}/catalogue/editions")), 200);
        assert!(codes(&listed).contains(&"d1".to_string()), "{listed}");
    }
    // Publishing again is a conflict.
    expect_problem(action(&app, "d1", "publish", Some(&new_etag)), 409);
}

#[test]
fn publishing_an_empty_draft_is_refused() {
    let app = TestApp::with_demo();
    let etag = draft(&app, "d1");
    let problem = expect_problem(action(&app, "d1", "publish", Some(&etag)), 409);
    assert!(
        problem["detail"].as_str().unwrap().contains("no items"),
        "{problem}"
    );
    assert_eq!(
        expect_json(app.get_as(&edition_path("d1"), &app.admin()), 200)["status"],
        "draft"
    );
}

#[test]
fn drafts_are_not_found_for_anonymous_readers() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "对占道经营的处罚"));
    for prefix in ["/api/v1", "/public/v1"] {
        for path in [
            "/catalogue/editions/d1",
            "/catalogue/editions/d1/items",
            "/catalogue/editions/d1/items/CF-0101",
            "/catalogue/editions/d1/export",
            "/catalogue/editions/d1/export?format=csv",
            "/catalogue/diff?from=2026&to=d1",
        ] {
            expect_problem(app.get(&format!("{prefix}{path}")), 404);
        }
        let listed = expect_json(app.get(&format!("{prefix}/catalogue/editions")), 200);
        assert_eq!(codes(&listed), vec![DEMO], "{listed}");
    }
    // The public API is for anonymous portals: a token does not open drafts there.
    expect_problem(
        app.get_as("/public/v1/catalogue/editions/d1", &app.admin()),
        404,
    );
    // The catalogue admin reads the draft under /api/v1.
    expect_json(app.get_as(&edition_path("d1"), &app.admin()), 200);
    let listed = expect_json(app.get_as("/api/v1/catalogue/editions", &app.admin()), 200);
    assert_eq!(listed["total"], 2);
    let draft_only = expect_json(
        app.get_as("/api/v1/catalogue/editions?status=draft", &app.admin()),
        200,
    );
    assert_eq!(codes(&draft_only), vec!["d1"]);
}

#[test]
fn published_editions_are_immutable() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    let edition_tag = edition_etag(&app, DEMO);
    let item_tag = item_etag(&app, DEMO, "CF-0001");
    let original = expect_json(app.get(&item_path(DEMO, "CF-0001")), 200);
    let before = app.audit_count();

    let problem = expect_problem(
        app.post(&items_path(DEMO), &admin, &item("CF-0999", "新增处罚")),
        409,
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("published"),
        "{problem}"
    );
    let mut changed = content(&original);
    changed["name"] = json!("改过的名称");
    expect_problem(
        app.send(
            Method::PUT,
            &item_path(DEMO, "CF-0001"),
            &admin,
            Some(&item_tag),
            &changed,
        ),
        409,
    );
    expect_problem(
        delete(
            &app,
            &item_path(DEMO, "QT-0001"),
            Some(&item_etag(&app, DEMO, "QT-0001")),
        ),
        409,
    );
    let document = json!({"items": [item("CF-0001", "只剩一项")]});
    expect_problem(
        import_json(&app, DEMO, &document, Some(&edition_tag), false),
        409,
    );
    expect_problem(import_json(&app, DEMO, &document, None, true), 409);
    expect_problem(
        app.send(
            Method::PUT,
            &edition_path(DEMO),
            &admin,
            Some(&edition_tag),
            &json!({"title": "新标题"}),
        ),
        409,
    );
    expect_problem(delete(&app, &edition_path(DEMO), Some(&edition_tag)), 409);

    assert_eq!(app.audit_count(), before, "nothing was written");
    assert_eq!(item_codes(&app, DEMO).len(), DEMO_ITEMS);
    assert_eq!(
        expect_json(app.get(&item_path(DEMO, "CF-0001")), 200),
        original
    );
    assert_eq!(edition_etag(&app, DEMO), edition_tag);
}

#[test]
fn a_copy_of_a_published_edition_is_a_draft_with_the_same_items() {
    let app = TestApp::with_demo();
    let response = app.post(
        &format!("{}/copy", edition_path(DEMO)),
        &app.admin(),
        &json!({"code": "2027", "title": "2027年版"}),
    );
    assert_eq!(etag_of(&response), "\"1\"");
    let copied = expect_json(response, 201);
    assert_eq!(copied["status"], "draft");
    assert_eq!(copied["based_on"], DEMO);
    assert_eq!(copied["province"], PROVINCE);

    let view = expect_json(app.get_as(&edition_path("2027"), &app.admin()), 200);
    assert_eq!(view["item_count"], DEMO_ITEMS);
    let original = expect_json(app.get(&format!("{}/export", edition_path(DEMO))), 200);
    let copy = expect_json(
        app.get_as(&format!("{}/export", edition_path("2027")), &app.admin()),
        200,
    );
    assert_eq!(copy["items"], original["items"], "same content");
    let sub = expect_json(
        app.get_as(&item_path("2027", "XK-0001-01"), &app.admin()),
        200,
    );
    assert_eq!(sub["parent_code"], "XK-0001");
    assert_eq!(sub["revision"], 1);

    // The copy is a draft: a draft cannot be copied, and the code is now taken.
    expect_problem(
        app.post(
            &format!("{}/copy", edition_path("2027")),
            &app.admin(),
            &json!({"code": "2028", "title": "t"}),
        ),
        409,
    );
    expect_problem(
        app.post(
            &format!("{}/copy", edition_path(DEMO)),
            &app.admin(),
            &json!({"code": "2027", "title": "t"}),
        ),
        409,
    );
    expect_problem(
        app.post(
            "/api/v1/catalogue/editions/nothing/copy",
            &app.admin(),
            &json!({"code": "2029", "title": "t"}),
        ),
        404,
    );
}

#[test]
fn the_diff_of_two_editions_lists_added_removed_and_changed_items() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    copy(&app, DEMO, "2027");

    // Change CF-0001, remove QT-0001, add XK-0099.
    let read = expect_json(app.get_as(&item_path("2027", "CF-0001"), &admin), 200);
    let mut changed = content(&read);
    changed["name"] = json!("对在人行道上晾晒物品影响市容的处罚");
    changed["high_frequency"] = json!(false);
    let etag = item_etag(&app, "2027", "CF-0001");
    expect_json(
        app.send(
            Method::PUT,
            &item_path("2027", "CF-0001"),
            &admin,
            Some(&etag),
            &changed,
        ),
        200,
    );
    let etag = item_etag(&app, "2027", "QT-0001");
    assert_eq!(
        delete(&app, &item_path("2027", "QT-0001"), Some(&etag)).status(),
        204
    );
    expect_problem(app.get_as(&item_path("2027", "QT-0001"), &admin), 404);
    add_item(&app, "2027", &item("XK-0099", "户外广告设置许可"));
    // Before publishing, the admin can preview the diff; anonymous readers cannot.
    let preview = expect_json(
        app.get_as("/api/v1/catalogue/diff?from=2026&to=2027", &admin),
        200,
    );
    assert_eq!(codes(&preview["added"]), vec!["XK-0099"]);
    expect_problem(app.get("/api/v1/catalogue/diff?from=2026&to=2027"), 404);
    publish(&app, "2027");

    let diff = expect_json(app.get("/api/v1/catalogue/diff?from=2026&to=2027"), 200);
    assert_eq!(diff["from"], DEMO);
    assert_eq!(diff["to"], "2027");
    assert_eq!(codes(&diff["added"]), vec!["XK-0099"]);
    assert_eq!(diff["added"][0]["name"], "户外广告设置许可");
    assert_eq!(codes(&diff["removed"]), vec!["QT-0001"]);
    assert_eq!(diff["removed"][0]["name"], "农村土地经营权流转合同备案");
    assert_eq!(
        diff["changed"],
        json!([{
            "code": "CF-0001",
            "name": "对在人行道上晾晒物品影响市容的处罚",
            "changes": [
                {"field": "name", "from": "对在人行道上晾晒、堆放物品影响市容的处罚", "to": "对在人行道上晾晒物品影响市容的处罚"},
                {"field": "high_frequency", "from": true, "to": false}
            ]
        }])
    );
    assert_eq!(diff["unchanged"], DEMO_ITEMS - 2);

    // The public diff is the same; the other way round swaps added and removed.
    assert_eq!(
        expect_json(app.get("/public/v1/catalogue/diff?from=2026&to=2027"), 200),
        diff
    );
    let back = expect_json(app.get("/api/v1/catalogue/diff?from=2027&to=2026"), 200);
    assert_eq!(codes(&back["added"]), vec!["QT-0001"]);
    assert_eq!(codes(&back["removed"]), vec!["XK-0099"]);
    assert_eq!(
        back["changed"][0]["changes"][1],
        json!({"field": "high_frequency", "from": false, "to": true})
    );
    // An edition compared with itself has no differences.
    let same = expect_json(app.get("/api/v1/catalogue/diff?from=2026&to=2026"), 200);
    assert_eq!(same["unchanged"], DEMO_ITEMS);
    assert!(
        same["added"].as_array().unwrap().is_empty()
            && same["changed"].as_array().unwrap().is_empty()
    );
    expect_problem(app.get("/api/v1/catalogue/diff?from=2026&to=nothing"), 404);
}

#[test]
fn only_a_published_edition_can_be_retired() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "对占道经营的处罚"));
    let draft_etag = edition_etag(&app, "d1");
    let problem = expect_problem(action(&app, "d1", "retire", Some(&draft_etag)), 409);
    assert!(
        problem["detail"].as_str().unwrap().contains("draft"),
        "{problem}"
    );
    assert_eq!(
        expect_json(app.get_as(&edition_path("d1"), &app.admin()), 200)["status"],
        "draft"
    );

    let etag = edition_etag(&app, DEMO);
    let response = action(&app, DEMO, "retire", Some(&etag));
    let retired_etag = etag_of(&response);
    let retired = expect_json(response, 200);
    assert_eq!(retired["status"], "retired");
    assert!(retired["retired_at"].is_string(), "{retired}");
    // Still readable by anyone, and still a base for a new edition; but not retired twice.
    assert_eq!(
        expect_json(
            app.get(&format!("/public/v1/catalogue/editions/{DEMO}")),
            200
        )["status"],
        "retired"
    );
    expect_json(
        app.get(&format!(
            "/public/v1/catalogue/editions/{DEMO}/items/CF-0001"
        )),
        200,
    );
    expect_problem(action(&app, DEMO, "retire", Some(&retired_etag)), 409);
    expect_problem(action(&app, DEMO, "publish", Some(&retired_etag)), 409);
    let copied = copy(&app, DEMO, "2027");
    assert_eq!(copied["based_on"], DEMO);
}

#[test]
fn a_draft_can_be_deleted_and_is_gone() {
    let app = TestApp::with_demo();
    let created_etag = draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "对占道经营的处罚"));
    add_item(
        &app,
        "d1",
        &sub_item("CF-0101-01", "对占道经营逾期不改的处罚", "CF-0101"),
    );
    // The ETag read before the items were added is stale: deleting with it is refused.
    expect_problem(delete(&app, &edition_path("d1"), Some(&created_etag)), 412);
    assert_eq!(item_codes(&app, "d1"), vec!["CF-0101", "CF-0101-01"]);
    let etag = edition_etag(&app, "d1");
    let response = delete(&app, &edition_path("d1"), Some(&etag));
    assert_eq!(response.status(), 204);
    expect_problem(app.get_as(&edition_path("d1"), &app.admin()), 404);
    expect_problem(app.get_as(&items_path("d1"), &app.admin()), 404);
    expect_problem(app.get_as(&item_path("d1", "CF-0101"), &app.admin()), 404);
    let listed = expect_json(app.get_as("/api/v1/catalogue/editions", &app.admin()), 200);
    assert_eq!(codes(&listed), vec![DEMO]);
    // The code is free again, and the new draft starts empty.
    draft(&app, "d1");
    assert!(item_codes(&app, "d1").is_empty());
    expect_problem(delete(&app, &edition_path("nothing"), Some("\"1\"")), 404);
    expect_problem(
        app.post(
            &items_path("nothing"),
            &app.admin(),
            &item("CF-0101", "名称"),
        ),
        404,
    );
}

// ---------------------------------------------------------------------------------
// Item rules
// ---------------------------------------------------------------------------------

#[test]
fn an_item_code_must_have_the_catalogue_format() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    let too_long = "X".repeat(33);
    for bad in [
        "xk-0001",
        "XK_0001",
        "X",
        "XK--0001",
        "-XK",
        "XK-",
        "XK 0001",
        "许可-0001",
        too_long.as_str(),
    ] {
        let problem = refused_item(&app, "d1", &item(bad, "名称"), &["code"]);
        assert!(
            message_for(&problem, "code").contains("XK-0001"),
            "{problem}"
        );
    }
    add_item(&app, "d1", &item("XK-0001-01", "名称"));
}

#[test]
fn an_unknown_category_is_refused_with_the_allowed_codes() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    let mut body = item("CF-0101", "名称");
    body["category"] = json!("11");
    let problem = refused_item(&app, "d1", &body, &["category"]);
    let message = message_for(&problem, "category");
    assert!(
        message.contains("01, 02, 03, 04, 05, 06, 07, 08, 09, 10, 20"),
        "the message lists the allowed codes: {message}"
    );
    body["category"] = json!("20");
    add_item(&app, "d1", &body);
}

#[test]
fn an_unknown_source_or_sector_is_refused() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    let mut body = item("CF-0101", "名称");
    body["source"] = json!("inherited");
    let problem = refused_item(&app, "d1", &body, &["source"]);
    assert!(
        message_for(&problem, "source").contains("statutory or delegable"),
        "{problem}"
    );
    let mut body = item("CF-0101", "名称");
    body["sector"] = json!("space_agency");
    let problem = refused_item(&app, "d1", &body, &["sector"]);
    assert!(
        message_for(&problem, "sector").contains("natural_resources"),
        "{problem}"
    );
}

#[test]
fn a_delegable_item_needs_a_delegation_mode_and_a_statutory_item_has_none() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    let mut delegable = item("CF-0101", "名称");
    delegable["delegation_mode"] = Value::Null;
    refused_item(&app, "d1", &delegable, &["delegation_mode"]);
    delegable["delegation_mode"] = json!("  ");
    refused_item(&app, "d1", &delegable, &["delegation_mode"]);
    delegable["delegation_mode"] = json!("sideways");
    refused_item(&app, "d1", &delegable, &["delegation_mode"]);
    let mut statutory_item = statutory("CF-0102", "名称");
    statutory_item["delegation_mode"] = json!("entrusted");
    let problem = refused_item(&app, "d1", &statutory_item, &["delegation_mode"]);
    assert!(
        message_for(&problem, "delegation_mode").contains("statutory"),
        "{problem}"
    );

    delegable["delegation_mode"] = json!("entrusted");
    add_item(&app, "d1", &delegable);
    add_item(&app, "d1", &statutory("CF-0102", "名称"));
}

#[test]
fn an_item_needs_a_legal_basis_naming_a_law() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    let mut body = item("CF-0101", "名称");
    body["legal_basis"] = json!([]);
    refused_item(&app, "d1", &body, &["legal_basis"]);
    body.as_object_mut().unwrap().remove("legal_basis");
    refused_item(&app, "d1", &body, &["legal_basis"]);
    body["legal_basis"] = json!([{"law": "《某法》"}, {"law": "  ", "article": "第一条"}]);
    refused_item(&app, "d1", &body, &["legal_basis[1].law"]);
}

#[test]
fn a_duplicate_code_in_the_edition_is_a_conflict() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "原来的名称"));
    let before = app.audit_count();
    let problem = expect_problem(
        app.post(
            &items_path("d1"),
            &app.admin(),
            &item("CF-0101", "另一个名称"),
        ),
        409,
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("CF-0101"),
        "{problem}"
    );
    // Surrounding spaces do not make it another code.
    expect_problem(
        app.post(
            &items_path("d1"),
            &app.admin(),
            &item(" CF-0101 ", "另一个名称"),
        ),
        409,
    );
    assert_eq!(app.audit_count(), before);
    assert_eq!(item_codes(&app, "d1"), vec!["CF-0101"]);
    let kept = expect_json(app.get_as(&item_path("d1", "CF-0101"), &app.admin()), 200);
    assert_eq!(kept["name"], "原来的名称");
    // The same code in another edition is fine.
    draft(&app, "d2");
    add_item(&app, "d2", &item("CF-0101", "另一个名称"));
}

#[test]
fn a_parent_must_exist_in_the_same_edition() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "名称"));
    let problem = refused_item(
        &app,
        "d1",
        &sub_item("CF-0102", "名称", "CF-0999"),
        &["parent_code"],
    );
    assert!(
        message_for(&problem, "parent_code").contains("CF-0999"),
        "{problem}"
    );
    // XK-0001 is in the published demo edition, not in this draft.
    refused_item(
        &app,
        "d1",
        &sub_item("XK-0001-09", "名称", "XK-0001"),
        &["parent_code"],
    );
    add_item(&app, "d1", &sub_item("CF-0101-01", "名称", "CF-0101"));
}

#[test]
fn sub_items_are_only_one_level_deep() {
    let app = TestApp::with_demo();
    copy(&app, DEMO, "2027");
    // XK-0001-01 is itself a sub-item of XK-0001.
    let problem = refused_item(
        &app,
        "2027",
        &sub_item("XK-0001-01-01", "名称", "XK-0001-01"),
        &["parent_code"],
    );
    assert!(
        message_for(&problem, "parent_code").contains("sub-item"),
        "{problem}"
    );
    // XK-0001 has a sub-item, so it cannot become one.
    let before = app.audit_count();
    let read = expect_json(app.get_as(&item_path("2027", "XK-0001"), &app.admin()), 200);
    let mut body = content(&read);
    body["parent_code"] = json!("XK-0002");
    let etag = item_etag(&app, "2027", "XK-0001");
    let problem = expect_problem(
        app.send(
            Method::PUT,
            &item_path("2027", "XK-0001"),
            &app.admin(),
            Some(&etag),
            &body,
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["parent_code"]);
    assert_eq!(app.audit_count(), before);
    let unchanged = expect_json(app.get_as(&item_path("2027", "XK-0001"), &app.admin()), 200);
    assert!(unchanged["parent_code"].is_null());
    assert_eq!(unchanged["revision"], read["revision"]);
}

#[test]
fn an_item_cannot_be_its_own_parent() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    let before = app.audit_count();
    let problem = expect_problem(
        app.post(
            &items_path("d1"),
            &app.admin(),
            &sub_item("CF-0101", "名称", "CF-0101"),
        ),
        422,
    );
    let fields = error_fields(&problem);
    assert!(
        !fields.is_empty() && fields.iter().all(|f| f == "parent_code"),
        "{problem}"
    );
    assert!(
        message_for(&problem, "parent_code").contains("own parent"),
        "{problem}"
    );
    assert!(item_codes(&app, "d1").is_empty());

    add_item(&app, "d1", &item("CF-0101", "名称"));
    let problem = expect_problem(
        app.send(
            Method::PUT,
            &item_path("d1", "CF-0101"),
            &app.admin(),
            Some("\"1\""),
            &sub_item("CF-0101", "名称", "CF-0101"),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["parent_code"]);
    assert_eq!(
        app.audit_count(),
        before + 1,
        "only the valid create was written"
    );
    assert!(
        expect_json(app.get_as(&item_path("d1", "CF-0101"), &app.admin()), 200)["parent_code"]
            .is_null()
    );
}

#[test]
fn wrong_json_types_and_unknown_fields_are_400() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    let before = app.audit_count();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("time_limit_days", json!("ten"), "time_limit_days"),
        ("time_limit_days", json!(1.5), "time_limit_days"),
        ("high_frequency", json!("maybe"), "high_frequency"),
        ("legal_basis", json!("《某法》第一条"), "legal_basis"),
        ("accountability", json!([1, 2]), "accountability[0]"),
        ("name", json!(["名称"]), "name"),
        ("code", json!(1001), "code"),
    ];
    for (field, value, path) in cases {
        let mut body = item("CF-0101", "名称");
        body[field] = value;
        let problem = expect_problem(app.post(&items_path("d1"), &app.admin(), &body), 400);
        assert_eq!(error_fields(&problem), vec![path], "{problem}");
    }
    let mut body = item("CF-0101", "名称");
    body["colour"] = json!("red");
    let problem = expect_problem(app.post(&items_path("d1"), &app.admin(), &body), 400);
    assert!(
        problem["detail"].as_str().unwrap().contains("colour"),
        "{problem}"
    );
    let mut body = item("CF-0101", "名称");
    body["legal_basis"] = json!([{"law": "《某法》", "page": 3}]);
    let problem = expect_problem(app.post(&items_path("d1"), &app.admin(), &body), 400);
    assert!(
        problem["detail"].as_str().unwrap().contains("page"),
        "{problem}"
    );
    let mut body = item("CF-0101", "名称");
    body.as_object_mut().unwrap().remove("name");
    let problem = expect_problem(app.post(&items_path("d1"), &app.admin(), &body), 400);
    assert!(
        problem["detail"].as_str().unwrap().contains("name"),
        "{problem}"
    );
    let response = app
        .request(Method::POST, &items_path("d1"), Some(&app.admin()))
        .header("Content-Type", "application/json")
        .body("{\"code\": \"CF-0101\",")
        .send()
        .unwrap();
    expect_problem(response, 400);
    let response = app
        .request(Method::POST, &items_path("d1"), Some(&app.admin()))
        .header("Content-Type", "text/plain")
        .body(item("CF-0101", "名称").to_string())
        .send()
        .unwrap();
    expect_problem(response, 415);
    assert_eq!(app.audit_count(), before, "nothing was written");
    assert!(item_codes(&app, "d1").is_empty());
}

#[test]
fn an_invalid_item_lists_every_problem_at_once() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    let body = json!({
        "code": "cf 0101",
        "name": "",
        "category": "99",
        "source": "delegable",
        "delegation_mode": null,
        "sector": "nowhere",
        "domain": "",
        "legal_basis": [],
        "responsibilities": [{"stage": "", "duty": "登记"}],
        "accountability": [""],
        "time_limit_days": 0,
        "high_frequency": false
    });
    let problem = refused_item(
        &app,
        "d1",
        &body,
        &[
            "code",
            "name",
            "category",
            "delegation_mode",
            "sector",
            "domain",
            "legal_basis",
            "responsibilities[0].stage",
            "accountability[0]",
            "time_limit_days",
        ],
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("10"),
        "{problem}"
    );
}

#[test]
fn an_item_with_sub_items_cannot_be_deleted() {
    let app = TestApp::with_demo();
    copy(&app, DEMO, "2027");
    let etag = item_etag(&app, "2027", "XK-0001");
    let before = app.audit_count();
    let problem = expect_problem(
        delete(&app, &item_path("2027", "XK-0001"), Some(&etag)),
        409,
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("XK-0001-01"),
        "{problem}"
    );
    assert_eq!(app.audit_count(), before);
    assert_eq!(item_codes(&app, "2027").len(), DEMO_ITEMS);

    let sub_etag = item_etag(&app, "2027", "XK-0001-01");
    assert_eq!(
        delete(&app, &item_path("2027", "XK-0001-01"), Some(&sub_etag)).status(),
        204
    );
    assert_eq!(
        delete(&app, &item_path("2027", "XK-0001"), Some(&etag)).status(),
        204
    );
    assert_eq!(item_codes(&app, "2027").len(), DEMO_ITEMS - 2);
    expect_problem(
        delete(&app, &item_path("2027", "XK-0001"), Some(&etag)),
        404,
    );
}

#[test]
fn the_dictionaries_list_the_eleven_item_types() {
    let app = TestApp::spawn();
    let dictionaries = expect_json(app.get("/api/v1/dictionaries"), 200);
    let categories: Vec<&str> = dictionaries["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        categories,
        vec!["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "20"]
    );
    assert_eq!(dictionaries["categories"][0]["label"], "行政许可");
    assert_eq!(dictionaries["categories"][10]["label"], "公共服务");
    let sectors = codes(&dictionaries["sectors"]);
    assert!(
        sectors.contains(&"natural_resources".to_string()),
        "{sectors:?}"
    );
    assert!(
        sectors.contains(&"comprehensive_enforcement".to_string()),
        "{sectors:?}"
    );
}

// ---------------------------------------------------------------------------------
// Import and export
// ---------------------------------------------------------------------------------

#[test]
fn a_csv_import_with_bad_rows_lists_each_problem_by_row_and_column() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0001", "已有事项"));
    let etag = edition_etag(&app, "d1");
    let before = app.audit_count();
    let csv = csv_file(&[
        csv_row("CF-0101", "好的一行", &[]),
        csv_row("cf 0102", "编码不对", &[]),
        csv_row("CF-0103", "类别不对", &[("category", "99")]),
        csv_row("CF-0104", "缺少赋权方式", &[("delegation_mode", "")]),
        csv_row("CF-0105", "没有法律依据", &[("legal_basis", "")]),
        csv_row("CF-0106", "上级不存在", &[("parent_code", "CF-0999")]),
        csv_row(
            "CF-0107",
            "两处错误",
            &[("sector", "nowhere"), ("time_limit_days", "0")],
        ),
    ]);
    let problem = expect_problem(import_csv(&app, "d1", &csv, Some(&etag), false), 422);
    assert_eq!(
        row_fields(&problem),
        vec![
            (Some(3), "code".to_string()),
            (Some(4), "category".to_string()),
            (Some(5), "delegation_mode".to_string()),
            (Some(6), "legal_basis".to_string()),
            (Some(7), "parent_code".to_string()),
            (Some(8), "sector".to_string()),
            (Some(8), "time_limit_days".to_string()),
        ],
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was written"),
        "{problem}"
    );
    assert_eq!(app.audit_count(), before);
    assert_eq!(item_codes(&app, "d1"), vec!["CF-0001"]);
    assert_eq!(edition_etag(&app, "d1"), etag);
}

#[test]
fn unparseable_csv_cells_are_400_with_row_and_column() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0001", "已有事项"));
    let etag = edition_etag(&app, "d1");
    let before = app.audit_count();
    let csv = csv_file(&[
        csv_row("CF-0101", "期限不是数字", &[("time_limit_days", "abc")]),
        csv_row("CF-0102", "好的一行", &[]),
        csv_row("CF-0103", "高频不是是否", &[("high_frequency", "maybe")]),
        csv_row(
            "CF-0104",
            "职责没有分隔",
            &[("responsibilities", "受理并登记")],
        ),
        csv_row(
            "CF-0105",
            "依据部分太多",
            &[("legal_basis", "《某法》|第一条|摘录|多余")],
        ),
    ]);
    let problem = expect_problem(import_csv(&app, "d1", &csv, Some(&etag), false), 400);
    assert_eq!(
        row_fields(&problem),
        vec![
            (Some(2), "time_limit_days".to_string()),
            (Some(4), "high_frequency".to_string()),
            (Some(5), "responsibilities".to_string()),
            (Some(6), "legal_basis".to_string()),
        ],
        "{problem}"
    );
    assert!(
        message_for(&problem, "time_limit_days").contains("abc"),
        "{problem}"
    );

    // Unknown columns and rows with the wrong number of cells cannot be read either.
    let unknown_column = format!(
        "{CSV_HEADER},colour\n{},\"red\"\n",
        csv_row("CF-0101", "名称", &[])
    );
    let problem = expect_problem(
        import_csv(&app, "d1", &unknown_column, Some(&etag), false),
        400,
    );
    assert_eq!(problem["errors"][0]["row"], 2, "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{problem}"
    );
    let short_row = format!(
        "{CSV_HEADER}\n{}\n\"CF-0102\",\"名称\"\n",
        csv_row("CF-0101", "名称", &[])
    );
    let problem = expect_problem(import_csv(&app, "d1", &short_row, Some(&etag), false), 400);
    assert_eq!(
        row_fields(&problem),
        vec![(Some(3), "row".to_string())],
        "{problem}"
    );

    assert_eq!(app.audit_count(), before);
    assert_eq!(item_codes(&app, "d1"), vec!["CF-0001"]);
    assert_eq!(edition_etag(&app, "d1"), etag);
}

#[test]
fn csv_rows_are_numbered_as_in_a_spreadsheet_even_with_multi_line_cells() {
    let app = TestApp::with_demo();
    let etag = draft(&app, "d1");
    let csv = csv_file(&[
        csv_row(
            "CF-0101",
            "多行单元格",
            &[(
                "responsibilities",
                "受理|接收举报并登记\n决定|依法作出处罚决定\n送达|送达处罚决定书",
            )],
        ),
        csv_row("CF-0102", "类别不对", &[("category", "99")]),
        csv_row("CF-0103", "期限不对", &[("time_limit_days", "abc")]),
    ]);
    // A parse problem in the fourth spreadsheet row.
    let problem = expect_problem(import_csv(&app, "d1", &csv, Some(&etag), false), 400);
    assert_eq!(
        row_fields(&problem),
        vec![(Some(4), "time_limit_days".to_string())],
        "{problem}"
    );
    // A rule problem in the third spreadsheet row.
    let csv = csv_file(&[
        csv_row(
            "CF-0101",
            "多行单元格",
            &[("accountability", "不依法履行职责的\n滥用职权的")],
        ),
        csv_row("CF-0102", "类别不对", &[("category", "99")]),
    ]);
    let problem = expect_problem(import_csv(&app, "d1", &csv, Some(&etag), false), 422);
    assert_eq!(
        row_fields(&problem),
        vec![(Some(3), "category".to_string())],
        "{problem}"
    );
}

#[test]
fn an_import_refuses_codes_repeated_in_the_file() {
    let app = TestApp::with_demo();
    let etag = draft(&app, "d1");
    let before = app.audit_count();
    let csv = csv_file(&[
        csv_row("CF-0101", "第一次", &[]),
        csv_row("CF-0102", "另一项", &[]),
        csv_row("CF-0101", "第二次", &[]),
    ]);
    let problem = expect_problem(import_csv(&app, "d1", &csv, Some(&etag), false), 422);
    assert_eq!(
        row_fields(&problem),
        vec![(Some(4), "code".to_string())],
        "{problem}"
    );
    assert!(message_for(&problem, "code").contains("row 2"), "{problem}");

    let document = json!({"items": [item("CF-0101", "第一次"), item("CF-0102", "另一项"), item("CF-0101", "第二次")]});
    let problem = expect_problem(import_json(&app, "d1", &document, Some(&etag), false), 422);
    assert_eq!(
        row_fields(&problem),
        vec![(Some(3), "code".to_string())],
        "{problem}"
    );
    assert!(message_for(&problem, "code").contains("row 1"), "{problem}");
    assert_eq!(app.audit_count(), before);
    assert!(item_codes(&app, "d1").is_empty());
}

#[test]
fn an_import_refuses_a_parent_missing_from_the_file() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "上级事项"));
    let etag = edition_etag(&app, "d1");
    let before = app.audit_count();
    // CF-0101 is in the draft, but the import replaces the draft, so it must be in the file.
    let csv = csv_file(&[
        csv_row("CF-0102", "另一项", &[]),
        csv_row("CF-0101-01", "子项", &[("parent_code", "CF-0101")]),
    ]);
    let problem = expect_problem(import_csv(&app, "d1", &csv, Some(&etag), false), 422);
    assert_eq!(
        row_fields(&problem),
        vec![(Some(3), "parent_code".to_string())],
        "{problem}"
    );
    assert!(
        message_for(&problem, "parent_code").contains("CF-0101"),
        "{problem}"
    );

    // A sub-item of a sub-item, and an item that is its own parent.
    let document = json!({"items": [
        item("CF-0101", "上级事项"),
        sub_item("CF-0101-01", "子项", "CF-0101"),
        sub_item("CF-0101-01-01", "孙项", "CF-0101-01"),
        sub_item("CF-0102", "自己的上级", "CF-0102"),
    ]});
    let problem = expect_problem(import_json(&app, "d1", &document, Some(&etag), false), 422);
    let errors = row_fields(&problem);
    assert!(
        errors.contains(&(Some(3), "parent_code".to_string())),
        "{problem}"
    );
    assert!(
        errors.contains(&(Some(4), "parent_code".to_string())),
        "{problem}"
    );
    assert!(
        errors
            .iter()
            .all(|(row, field)| field == "parent_code" && matches!(row, Some(3) | Some(4))),
        "{problem}"
    );

    assert_eq!(app.audit_count(), before);
    assert_eq!(item_codes(&app, "d1"), vec!["CF-0101"]);
    assert_eq!(edition_etag(&app, "d1"), etag);
}

#[test]
fn a_dry_run_validates_and_reports_without_writing() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &flat_item("CF-0101", "保留"));
    add_item(&app, "d1", &flat_item("CF-0102", "将被删除"));
    let etag = edition_etag(&app, "d1");
    let before = app.audit_count();
    let csv = csv_file(&[
        csv_row("CF-0101", "保留", &[]),
        csv_row("CF-0103", "新增", &[]),
        csv_row("CF-0104", "新增", &[]),
    ]);
    // No If-Match needed, and a stale one does not matter.
    let report = expect_json(import_csv(&app, "d1", &csv, None, true), 200);
    assert_eq!(report["dry_run"], true);
    assert_eq!(counts(&report), (3, 2, 0, 1, 1), "{report}");
    expect_json(import_csv(&app, "d1", &csv, Some("\"99\""), true), 200);
    let document =
        json!({"items": [flat_item("CF-0101", "改名"), flat_item("CF-0102", "将被删除")]});
    let report = expect_json(import_json(&app, "d1", &document, None, true), 200);
    assert_eq!(counts(&report), (2, 0, 1, 1, 0), "{report}");
    // A dry run with problems reports them as a real import would.
    let bad = csv_file(&[csv_row("CF-0101", "保留", &[("category", "99")])]);
    let problem = expect_problem(import_csv(&app, "d1", &bad, None, true), 422);
    assert_eq!(
        row_fields(&problem),
        vec![(Some(2), "category".to_string())]
    );

    assert_eq!(app.audit_count(), before, "a dry run writes nothing");
    assert_eq!(item_codes(&app, "d1"), vec!["CF-0101", "CF-0102"]);
    assert_eq!(edition_etag(&app, "d1"), etag);
    assert_eq!(
        expect_json(app.get_as(&item_path("d1", "CF-0101"), &app.admin()), 200)["name"],
        "保留"
    );

    // The real import then does what the dry run said.
    let report = expect_json(import_csv(&app, "d1", &csv, Some(&etag), false), 200);
    assert_eq!(report["dry_run"], false);
    assert_eq!(counts(&report), (3, 2, 0, 1, 1), "{report}");
    assert_eq!(
        item_codes(&app, "d1"),
        vec!["CF-0101", "CF-0103", "CF-0104"]
    );
}

#[test]
fn a_csv_export_imports_back_unchanged() {
    let app = TestApp::with_demo();
    let exported = app.get(&format!("{}/export?format=csv", edition_path(DEMO)));
    assert_eq!(exported.status(), 200);
    assert_eq!(
        exported.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = exported.bytes().unwrap().to_vec();
    assert!(
        csv.starts_with(b"\xEF\xBB\xBF"),
        "a BOM for spreadsheet programs"
    );

    // Into a copy of the same edition: every row is unchanged.
    copy(&app, DEMO, "copy");
    let etag = edition_etag(&app, "copy");
    let report = expect_json(
        import(
            &app,
            "copy",
            Some("text/csv"),
            csv.clone(),
            Some(&etag),
            false,
        ),
        200,
    );
    assert_eq!(
        counts(&report),
        (DEMO_ITEMS as u64, 0, 0, DEMO_ITEMS as u64, 0),
        "{report}"
    );

    // Into an empty draft: every row is created, with the same content.
    let etag = draft(&app, "empty");
    let report = expect_json(
        import(
            &app,
            "empty",
            Some("text/csv; charset=utf-8"),
            csv.clone(),
            Some(&etag),
            false,
        ),
        200,
    );
    assert_eq!(
        counts(&report),
        (DEMO_ITEMS as u64, DEMO_ITEMS as u64, 0, 0, 0),
        "{report}"
    );
    let original = expect_json(app.get(&format!("{}/export", edition_path(DEMO))), 200);
    let imported = expect_json(
        app.get_as(&format!("{}/export", edition_path("empty")), &app.admin()),
        200,
    );
    assert_eq!(imported["items"], original["items"]);
    let etag = edition_etag(&app, "empty");
    let report = expect_json(
        import(&app, "empty", Some("text/csv"), csv, Some(&etag), false),
        200,
    );
    assert_eq!(report["unchanged"], DEMO_ITEMS);
}

#[test]
fn every_item_the_api_accepts_exports_to_a_csv_that_imports_back_unchanged() {
    let app = TestApp::with_demo();
    let variants = [
        (
            "legal_basis",
            json!([{"law": "《某条例》", "article": "第十条", "excerpt": "有下列情形之一的|处以罚款"}]),
        ),
        (
            "responsibilities",
            json!([{"stage": "决定", "duty": "作出决定｜并送达"}]),
        ),
        ("accountability", json!(["滥用职权，\n玩忽职守的"])),
    ];
    for (i, (field, value)) in variants.into_iter().enumerate() {
        let edition = format!("d{i}");
        draft(&app, &edition);
        let mut body = item("CF-0101", "名称");
        body[field] = value;
        let response = app.post(&items_path(&edition), &app.admin(), &body);
        if response.status() == 422 {
            // Refusing text the CSV format cannot carry is a correct answer too.
            let problem = expect_problem(response, 422);
            assert!(
                error_fields(&problem).iter().all(|f| f.starts_with(field)),
                "{problem}"
            );
            continue;
        }
        expect_json(response, 201);
        let csv = app
            .get_as(
                &format!("{}/export?format=csv", edition_path(&edition)),
                &app.admin(),
            )
            .bytes()
            .unwrap()
            .to_vec();
        let etag = edition_etag(&app, &edition);
        let report = expect_json(
            import(&app, &edition, Some("text/csv"), csv, Some(&etag), false),
            200,
        );
        assert_eq!(counts(&report), (1, 0, 0, 1, 0), "{field}: {report}");
    }
}

#[test]
fn a_json_export_imports_back_unchanged() {
    let app = TestApp::with_demo();
    let exported = app.get(&format!(
        "/public/v1/catalogue/editions/{DEMO}/export?format=json"
    ));
    assert_eq!(exported.status(), 200);
    assert_eq!(exported.headers()["content-type"], "application/json");
    let json = exported.bytes().unwrap().to_vec();

    copy(&app, DEMO, "copy");
    let etag = edition_etag(&app, "copy");
    let report = expect_json(
        import(
            &app,
            "copy",
            Some("application/json"),
            json.clone(),
            Some(&etag),
            false,
        ),
        200,
    );
    assert_eq!(
        counts(&report),
        (DEMO_ITEMS as u64, 0, 0, DEMO_ITEMS as u64, 0),
        "{report}"
    );

    let etag = draft(&app, "empty");
    let report = expect_json(
        import(
            &app,
            "empty",
            Some("application/json"),
            json,
            Some(&etag),
            false,
        ),
        200,
    );
    assert_eq!(
        counts(&report),
        (DEMO_ITEMS as u64, DEMO_ITEMS as u64, 0, 0, 0),
        "{report}"
    );
    let original = expect_json(app.get(&format!("{}/export", edition_path(DEMO))), 200);
    let imported = expect_json(
        app.get_as(&format!("{}/export", edition_path("empty")), &app.admin()),
        200,
    );
    assert_eq!(imported["items"], original["items"]);
}

#[test]
fn an_empty_import_is_refused() {
    let app = TestApp::with_demo();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "已有事项"));
    let etag = edition_etag(&app, "d1");
    let before = app.audit_count();
    for csv in ["", "\u{feff}", CSV_HEADER, &format!("{CSV_HEADER}\n\n")] {
        let problem = expect_problem(import_csv(&app, "d1", csv, Some(&etag), false), 422);
        assert_eq!(error_fields(&problem), vec!["items"], "{csv:?}: {problem}");
    }
    let problem = expect_problem(
        import_json(&app, "d1", &json!({"items": []}), Some(&etag), false),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["items"], "{problem}");
    expect_problem(
        import(
            &app,
            "d1",
            Some("application/json"),
            Vec::new(),
            Some(&etag),
            false,
        ),
        400,
    );
    expect_problem(import_json(&app, "d1", &json!({}), Some(&etag), false), 400);
    expect_problem(
        import_json(
            &app,
            "d1",
            &json!([item("CF-0102", "名称")]),
            Some(&etag),
            false,
        ),
        400,
    );
    assert_eq!(app.audit_count(), before);
    assert_eq!(item_codes(&app, "d1"), vec!["CF-0101"]);
}

#[test]
fn an_import_must_be_json_or_csv() {
    let app = TestApp::with_demo();
    let etag = draft(&app, "d1");
    let csv = csv_file(&[csv_row("CF-0101", "名称", &[])]);
    for content_type in [
        Some("text/plain"),
        Some("application/xml"),
        Some("application/vnd.ms-excel"),
        None,
    ] {
        let problem = expect_problem(
            import(
                &app,
                "d1",
                content_type,
                csv.as_bytes().to_vec(),
                Some(&etag),
                false,
            ),
            415,
        );
        assert!(
            problem["detail"].as_str().unwrap().contains("text/csv"),
            "{problem}"
        );
    }
    assert!(item_codes(&app, "d1").is_empty());
    // A JSON import with wrong types names the row's field.
    let mut bad = item("CF-0101", "名称");
    bad["time_limit_days"] = json!("abc");
    let problem = expect_problem(
        import_json(
            &app,
            "d1",
            &json!({"items": [item("CF-0102", "名称"), bad]}),
            Some(&etag),
            false,
        ),
        400,
    );
    assert_eq!(
        error_fields(&problem),
        vec!["items[1].time_limit_days"],
        "{problem}"
    );
}

#[test]
fn a_real_import_needs_the_current_etag() {
    let app = TestApp::with_demo();
    let etag = draft(&app, "d1");
    let csv = csv_file(&[csv_row("CF-0101", "名称", &[])]);
    expect_problem(import_csv(&app, "d1", &csv, None, false), 428);
    let response = import_csv(&app, "d1", &csv, Some("\"7\""), false);
    assert_eq!(etag_of(&response), etag);
    expect_problem(response, 412);
    assert!(item_codes(&app, "d1").is_empty());
    expect_json(import_csv(&app, "d1", &csv, Some(&etag), false), 200);
    // The import changed the edition's revision: the old ETag is stale now.
    expect_problem(import_csv(&app, "d1", &csv, Some(&etag), false), 412);
}

// ---------------------------------------------------------------------------------
// Optimistic concurrency
// ---------------------------------------------------------------------------------

#[test]
fn writes_without_if_match_are_428() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "名称"));
    let before = app.audit_count();
    expect_problem(
        app.send(
            Method::PUT,
            &item_path("d1", "CF-0101"),
            &admin,
            None,
            &item("CF-0101", "新名称"),
        ),
        428,
    );
    expect_problem(delete(&app, &item_path("d1", "CF-0101"), None), 428);
    expect_problem(action(&app, "d1", "publish", None), 428);
    expect_problem(action(&app, DEMO, "retire", None), 428);
    expect_problem(
        app.send(
            Method::PUT,
            &edition_path("d1"),
            &admin,
            None,
            &json!({"title": "新标题"}),
        ),
        428,
    );
    expect_problem(delete(&app, &edition_path("d1"), None), 428);
    // An If-Match that is not one strong ETag is a bad request.
    for bad in ["*", "W/\"1\"", "1", "\"1\", \"2\""] {
        expect_problem(
            app.send(
                Method::PUT,
                &item_path("d1", "CF-0101"),
                &admin,
                Some(bad),
                &item("CF-0101", "新名称"),
            ),
            400,
        );
    }
    assert_eq!(app.audit_count(), before);
    assert_eq!(
        expect_json(app.get_as(&item_path("d1", "CF-0101"), &admin), 200)["name"],
        "名称"
    );
    assert_eq!(
        expect_json(app.get_as(&edition_path("d1"), &admin), 200)["status"],
        "draft"
    );
}

#[test]
fn writes_with_a_stale_etag_are_412_and_carry_the_current_etag() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    let created = draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "名称"));
    let etag = item_etag(&app, "d1", "CF-0101");
    let response = app.send(
        Method::PUT,
        &item_path("d1", "CF-0101"),
        &admin,
        Some(&etag),
        &item("CF-0101", "第二版"),
    );
    let current = etag_of(&response);
    expect_json(response, 200);
    // The item writes moved the edition on: its ETag is read after them.
    let edition = edition_etag(&app, "d1");
    assert_ne!(edition, created);
    let before = app.audit_count();

    let response = app.send(
        Method::PUT,
        &item_path("d1", "CF-0101"),
        &admin,
        Some(&etag),
        &item("CF-0101", "过时的修改"),
    );
    assert_eq!(etag_of(&response), current);
    let problem = expect_problem(response, 412);
    assert!(
        problem["detail"].as_str().unwrap().contains(&current),
        "{problem}"
    );
    let response = delete(&app, &item_path("d1", "CF-0101"), Some(&etag));
    assert_eq!(etag_of(&response), current);
    expect_problem(response, 412);

    let stale_edition = "\"9\"";
    let response = action(&app, "d1", "publish", Some(stale_edition));
    assert_eq!(etag_of(&response), edition);
    expect_problem(response, 412);
    let response = app.send(
        Method::PUT,
        &edition_path("d1"),
        &admin,
        Some(stale_edition),
        &json!({"title": "新标题"}),
    );
    assert_eq!(etag_of(&response), edition);
    expect_problem(response, 412);
    let response = delete(&app, &edition_path("d1"), Some(stale_edition));
    assert_eq!(etag_of(&response), edition);
    expect_problem(response, 412);

    // The edition's ETag as read before the item changed is stale as well.
    let response = action(&app, "d1", "publish", Some(&created));
    assert_eq!(etag_of(&response), edition);
    expect_problem(response, 412);

    assert_eq!(app.audit_count(), before);
    assert_eq!(
        edition_etag(&app, "d1"),
        edition,
        "refused writes do not move the edition on"
    );
    let read = expect_json(app.get_as(&item_path("d1", "CF-0101"), &admin), 200);
    assert_eq!(read["name"], "第二版");
    assert_eq!(
        expect_json(app.get_as(&edition_path("d1"), &admin), 200)["status"],
        "draft"
    );
    // With the ETag from the 412, the write goes through.
    let response = app.send(
        Method::PUT,
        &item_path("d1", "CF-0101"),
        &admin,
        Some(&current),
        &item("CF-0101", "第三版"),
    );
    expect_json(response, 200);
}

/// Asserts that publishing `edition` with `seen` is a 412 carrying the current ETag,
/// and that the edition stays an unchanged draft with nothing written.
fn stale_publish_is_refused(app: &TestApp, edition: &str, seen: &str, change: &str) {
    let current = edition_etag(app, edition);
    assert_ne!(current, seen, "{change} moves the edition's revision on");
    let before = app.audit_count();
    let response = action(app, edition, "publish", Some(seen));
    assert_eq!(etag_of(&response), current, "{change}");
    let problem = expect_problem(response, 412);
    assert!(
        problem["detail"].as_str().unwrap().contains(&current),
        "{change}: {problem}"
    );
    assert_eq!(app.audit_count(), before, "{change}: nothing was written");
    let view = expect_json(app.get_as(&edition_path(edition), &app.admin()), 200);
    assert_eq!(view["status"], "draft", "{change}");
    assert_eq!(edition_etag(app, edition), current, "{change}");
}

#[test]
fn publishing_with_an_etag_read_before_an_item_changed_is_412() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    draft(&app, "d1");
    add_item(&app, "d1", &flat_item("CF-0101", "对占道经营的处罚"));
    add_item(&app, "d1", &flat_item("CF-0102", "将被删除的事项"));

    // Adding an item.
    let seen = edition_etag(&app, "d1");
    add_item(&app, "d1", &flat_item("CF-0103", "后来加入的事项"));
    stale_publish_is_refused(&app, "d1", &seen, "adding an item");

    // Replacing an item.
    let seen = edition_etag(&app, "d1");
    let read = expect_json(app.get_as(&item_path("d1", "CF-0101"), &admin), 200);
    let mut changed = content(&read);
    changed["name"] = json!("对占道经营行为的处罚");
    expect_json(
        app.send(
            Method::PUT,
            &item_path("d1", "CF-0101"),
            &admin,
            Some(&item_etag(&app, "d1", "CF-0101")),
            &changed,
        ),
        200,
    );
    stale_publish_is_refused(&app, "d1", &seen, "replacing an item");

    // Deleting an item.
    let seen = edition_etag(&app, "d1");
    let response = delete(
        &app,
        &item_path("d1", "CF-0102"),
        Some(&item_etag(&app, "d1", "CF-0102")),
    );
    assert_eq!(response.status(), 204);
    stale_publish_is_refused(&app, "d1", &seen, "deleting an item");

    // Importing.
    let seen = edition_etag(&app, "d1");
    let csv = csv_file(&[
        csv_row("CF-0101", "对占道经营行为的处罚", &[]),
        csv_row("CF-0103", "后来加入的事项", &[]),
        csv_row("CF-0104", "导入的事项", &[]),
    ]);
    let report = expect_json(import_csv(&app, "d1", &csv, Some(&seen), false), 200);
    assert_eq!(counts(&report), (3, 1, 0, 2, 0), "{report}");
    stale_publish_is_refused(&app, "d1", &seen, "importing");

    // With the ETag read again, the publisher has seen the content as it is. A dry run
    // in between changes nothing, so that ETag still holds.
    let seen = edition_etag(&app, "d1");
    let report = expect_json(import_csv(&app, "d1", &csv, None, true), 200);
    assert_eq!(counts(&report), (3, 0, 0, 3, 0), "{report}");
    assert_eq!(edition_etag(&app, "d1"), seen, "a dry run is not a change");
    let response = action(&app, "d1", "publish", Some(&seen));
    let published_etag = etag_of(&response);
    let published = expect_json(response, 200);
    assert_eq!(published["status"], "published");
    assert_ne!(published_etag, seen);
    assert_eq!(edition_etag(&app, "d1"), published_etag);
    let view = expect_json(app.get(&edition_path("d1")), 200);
    assert_eq!(view["item_count"], 3, "{view}");
    assert_eq!(
        item_codes(&app, "d1"),
        vec!["CF-0101", "CF-0103", "CF-0104"]
    );
    assert_eq!(
        expect_json(app.get(&item_path("d1", "CF-0101")), 200)["name"],
        "对占道经营行为的处罚",
        "what was published is what the publisher saw"
    );
}

#[test]
fn the_second_of_two_updates_with_the_same_etag_is_412() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    copy(&app, DEMO, "2027");
    let etag = item_etag(&app, "2027", "CF-0001");
    let read = expect_json(app.get_as(&item_path("2027", "CF-0001"), &admin), 200);
    let mut first = content(&read);
    first["name"] = json!("甲的修改");
    let mut second = content(&read);
    second["name"] = json!("乙的修改");
    second["high_frequency"] = json!(false);

    expect_json(
        app.send(
            Method::PUT,
            &item_path("2027", "CF-0001"),
            &admin,
            Some(&etag),
            &first,
        ),
        200,
    );
    expect_problem(
        app.send(
            Method::PUT,
            &item_path("2027", "CF-0001"),
            &admin,
            Some(&etag),
            &second,
        ),
        412,
    );
    let now = expect_json(app.get_as(&item_path("2027", "CF-0001"), &admin), 200);
    assert_eq!(content(&now), first, "the first update stands whole");
}

/// Sends `requests` at the same moment, each from its own thread; returns the statuses
/// in the order given.
fn race(requests: Vec<reqwest::blocking::RequestBuilder>) -> Vec<u16> {
    let barrier = std::sync::Barrier::new(requests.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    request.send().unwrap().status().as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn concurrent_updates_with_the_same_etag_let_exactly_one_win() {
    let app = TestApp::with_demo();
    copy(&app, DEMO, "2027");
    let before = app.audit_count();
    for code in ["CF-0001", "CF-0002", "CF-0003", "CF-0004", "CF-0006"] {
        let etag = item_etag(&app, "2027", code);
        let read = expect_json(app.get_as(&item_path("2027", code), &app.admin()), 200);
        let names: Vec<String> = (0..8).map(|i| format!("{code} 的并发修改 {i}")).collect();
        let requests = names
            .iter()
            .map(|name| {
                let mut body = content(&read);
                body["name"] = json!(name);
                app.request(Method::PUT, &item_path("2027", code), Some(&app.admin()))
                    .header("If-Match", &etag)
                    .json(&body)
            })
            .collect();
        let statuses = race(requests);
        let winners: Vec<&String> = names
            .iter()
            .zip(&statuses)
            .filter(|(_, s)| **s == 200)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "{code}: exactly one update wins: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 412),
            "{statuses:?}"
        );
        let now = expect_json(app.get_as(&item_path("2027", code), &app.admin()), 200);
        assert_eq!(
            &now["name"],
            winners[0].as_str(),
            "the winner's content is stored"
        );
        assert_eq!(now["revision"], 2);
    }
    assert_eq!(
        app.audit_count(),
        before + 5,
        "one audit event per successful update"
    );
}

#[test]
fn concurrent_edition_writes_with_the_same_etag_let_exactly_one_win() {
    let app = TestApp::with_demo();
    for round in 0..3 {
        let code = format!("race{round}");
        draft(&app, &code);
        add_item(&app, &code, &item("CF-0101", "名称"));
        // Every writer saw the edition as it is now, after its item was added.
        let etag = edition_etag(&app, &code);
        let before = app.audit_count();
        let document = json!({"items": [item("CF-0102", "导入的事项")]});
        let mut requests = Vec::new();
        for i in 0..8 {
            let request = if i % 2 == 0 {
                app.request(
                    Method::POST,
                    &format!("{}/publish", edition_path(&code)),
                    Some(&app.admin()),
                )
            } else {
                app.request(
                    Method::POST,
                    &format!("{}/import", edition_path(&code)),
                    Some(&app.admin()),
                )
                .json(&document)
            };
            requests.push(request.header("If-Match", &etag));
        }
        let statuses = race(requests);
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{code}: exactly one write wins: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| matches!(s, 200 | 409 | 412)),
            "{statuses:?}"
        );
        assert_eq!(app.audit_count(), before + 1, "{code}: one audit event");
        let view = expect_json(app.get_as(&edition_path(&code), &app.admin()), 200);
        let items = item_codes(&app, &code);
        if view["status"] == "published" {
            assert_eq!(
                items,
                vec!["CF-0101"],
                "{code}: a published edition is not imported into"
            );
        } else {
            assert_eq!(items, vec!["CF-0102"]);
        }
    }
}

// ---------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------

#[test]
fn items_are_listed_in_code_order_with_pagination_totals() {
    let app = TestApp::with_demo();
    let all = expect_json(app.get(&format!("{}?page_size=500", items_path(DEMO))), 200);
    let all_codes = codes(&all);
    assert_eq!(all["total"], DEMO_ITEMS);
    assert_eq!(all_codes.len(), DEMO_ITEMS);
    let mut sorted = all_codes.clone();
    sorted.sort();
    assert_eq!(all_codes, sorted, "code order");
    assert_eq!(
        &all_codes[..6],
        &[
            "CF-0001",
            "CF-0002",
            "CF-0003",
            "CF-0004",
            "CF-0005",
            "CF-0005-01"
        ]
    );

    let default = expect_json(app.get(&items_path(DEMO)), 200);
    assert_eq!(default["page"], 1);
    assert_eq!(default["page_size"], 50);
    assert_eq!(codes(&default), all_codes);

    let mut paged = Vec::new();
    for page in 1..=4 {
        let body = expect_json(
            app.get(&format!("{}?page={page}&page_size=10", items_path(DEMO))),
            200,
        );
        assert_eq!(body["total"], DEMO_ITEMS);
        assert_eq!(body["page"], page);
        assert_eq!(body["page_size"], 10);
        assert_eq!(codes(&body).len(), if page < 4 { 10 } else { 2 });
        paged.extend(codes(&body));
    }
    assert_eq!(paged, all_codes, "pages neither skip nor repeat");
    // The same pages again are the same.
    let again = expect_json(
        app.get(&format!(
            "/public/v1/catalogue/editions/{DEMO}/items?page=2&page_size=10"
        )),
        200,
    );
    assert_eq!(codes(&again), &all_codes[10..20]);
    let beyond = expect_json(
        app.get(&format!("{}?page=9&page_size=10", items_path(DEMO))),
        200,
    );
    assert!(codes(&beyond).is_empty());
    assert_eq!(beyond["total"], DEMO_ITEMS);
    expect_problem(app.get(&format!("{}?page_size=0", items_path(DEMO))), 422);
    expect_problem(app.get("/api/v1/catalogue/editions/nothing/items"), 404);
}

#[test]
fn items_can_be_filtered_by_category_source_sector_domain_and_frequency() {
    let app = TestApp::with_demo();
    let list = |query: &str| -> (Vec<String>, i64) {
        let body = expect_json(
            app.get(&format!("{}?page_size=500&{query}", items_path(DEMO))),
            200,
        );
        (codes(&body), body["total"].as_i64().unwrap())
    };
    let (category, total) = list("category=02");
    assert_eq!(total, 12);
    assert!(
        category.iter().all(|c| c.starts_with("CF-")),
        "{category:?}"
    );
    assert_eq!(list("category=20").0, vec!["GG-0001", "GG-0002"]);
    assert_eq!(list("category=99").1, 0);
    assert_eq!(list("source=statutory").1, 10);
    assert_eq!(list("source=delegable").1, 22);
    assert_eq!(list("sector=natural_resources").1, 8);
    assert_eq!(list("sector=water_resources").0, vec!["CF-0011"]);
    let encoded_domain = "domain=%E5%B8%82%E5%AE%B9%E7%8E%AF%E5%A2%83"; // 市容环境
    assert_eq!(
        list(encoded_domain).0,
        vec!["CF-0001", "CF-0002", "CF-0007", "CF-0009", "ZS-0001"]
    );
    assert_eq!(list("high_frequency=true").1, 8);
    assert_eq!(list("high_frequency=false").1, 24);
    assert_eq!(
        list("category=02&high_frequency=true").0,
        vec!["CF-0001", "CF-0003", "CF-0009"]
    );
    assert_eq!(
        list("source=statutory&sector=natural_resources").0,
        vec![
            "CF-0005",
            "CF-0005-01",
            "CJ-0001",
            "CJ-0002",
            "JL-0001",
            "QZ-0001"
        ]
    );
    // Totals count the filtered list, not the page.
    let page = expect_json(
        app.get(&format!(
            "{}?category=02&page_size=5&page=3",
            items_path(DEMO)
        )),
        200,
    );
    assert_eq!(page["total"], 12);
    assert_eq!(codes(&page), vec!["CF-0010", "CF-0011"]);
    // The public API filters the same way.
    let public = expect_json(
        app.get(&format!(
            "/public/v1/catalogue/editions/{DEMO}/items?source=statutory&page_size=500"
        )),
        200,
    );
    assert_eq!(public["total"], 10);
    // Values that cannot be read are bad requests.
    expect_problem(
        app.get(&format!("{}?high_frequency=maybe", items_path(DEMO))),
        400,
    );
    expect_problem(
        app.get(&format!("{}?source=inherited", items_path(DEMO))),
        400,
    );
}

#[test]
fn items_can_be_searched_by_text_in_the_name() {
    let app = TestApp::with_demo();
    let search = |q: &str| -> Vec<String> {
        let response = app
            .request(Method::GET, &items_path(DEMO), None)
            .query(&[("q", q), ("page_size", "500")])
            .send()
            .unwrap();
        codes(&expect_json(response, 200))
    };
    assert_eq!(search("宅基地"), vec!["XK-0002"]);
    assert_eq!(
        search("乡村建设规划许可证"),
        vec!["CF-0005", "CF-0005-01", "XK-0001", "XK-0001-01"]
    );
    assert_eq!(search("食品小作坊"), vec!["CF-0008", "JC-0002", "XK-0004"]);
    assert_eq!(search("不存在的事项"), Vec::<String>::new());
    // LIKE wildcards are taken literally.
    assert_eq!(search("%"), Vec::<String>::new());
    assert_eq!(search("_"), Vec::<String>::new());
    // A blank query is no filter.
    assert_eq!(search("  ").len(), DEMO_ITEMS);
    // Text search combines with the other filters.
    let response = app
        .request(
            Method::GET,
            &format!("/public/v1/catalogue/editions/{DEMO}/items"),
            None,
        )
        .query(&[("q", "处罚"), ("sector", "comprehensive_enforcement")])
        .send()
        .unwrap();
    let body = expect_json(response, 200);
    assert_eq!(
        codes(&body),
        vec!["CF-0001", "CF-0002", "CF-0007", "CF-0009", "CF-0010"]
    );
}

#[test]
fn each_export_format_is_its_own_address_with_one_media_type() {
    let app = TestApp::with_demo();
    let json = app.get("/public/v1/catalogue/editions/2026/export");
    assert_eq!(json.headers()["content-type"], "application/json");
    let document = expect_json(json, 200);
    let csv = app.get("/public/v1/catalogue/editions/2026/export.csv");
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().unwrap();
    let rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes())
        .records()
        .count();
    assert_eq!(rows, document["items"].as_array().unwrap().len());
    // The older way to ask for CSV is sent to the CSV address.
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let old = client
        .get(format!(
            "{}/public/v1/catalogue/editions/2026/export?format=csv",
            app.base
        ))
        .send()
        .unwrap();
    assert_eq!(old.status(), 308);
    assert_eq!(
        old.headers()["location"],
        "/public/v1/catalogue/editions/2026/export.csv"
    );
}
