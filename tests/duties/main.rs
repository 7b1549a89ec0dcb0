//! Responsibility lists (屬地管理事項責任清單) over HTTP on a real database: matters with one
//! lead and their supporters, every rule refused with its field and nothing written,
//! import and export (JSON and CSV), the list's figures on a Cixi-shaped list, the
//! script-agnostic dispatch lookup, filters, duty admission (職責準入) and who may do what.

#[path = "../api/common.rs"]
#[allow(dead_code, reason = "each test target uses part of the harness")]
mod common;

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

// =================================================================================
// 1. A list built by hand
// =================================================================================

#[test]
fn a_matter_is_added_read_replaced_and_removed_and_the_list_revision_follows_every_change() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let before = app.audit_count();

    // An empty list: revision 0.
    let header = app.get_as(&list_path(LUXIAN), &token);
    assert_eq!(etag_of(&header), "\"0\"");
    let header = expect_json(header, 200);
    assert_eq!(header["county"], LUXIAN);
    assert_eq!(header["revision"], 0);
    assert_eq!(header["matters"], 0);
    assert!(header["updated_at"].is_null(), "{header}");

    // Add.
    let body = matter(
        "SD-001",
        OILY,
        "luxian-sthj",
        &["luxian-scjg", "luxian-zhzf"],
    );
    let response = app.post(&matters_path(LUXIAN), &token, &body);
    assert_eq!(etag_of(&response), "\"1\"");
    let created = expect_json(response, 201);
    assert_eq!(created["county"], LUXIAN);
    assert_eq!(created["code"], "SD-001");
    assert_eq!(created["name"], OILY);
    assert_eq!(created["revision"], 1);
    assert_eq!(created["lead"]["department"], "luxian-sthj");
    assert_eq!(created["lead"]["name"], "泸州市生态环境局泸县分局");
    assert_eq!(
        created["lead"]["duties"],
        json!(["负责日常监管", "依法查处违法行为"])
    );
    assert_eq!(
        departments_of(&created["supporters"]),
        ["luxian-scjg", "luxian-zhzf"]
    );
    assert_eq!(created["supporters"][0]["name"], "泸县市场监督管理局");
    assert_eq!(created["supporters"][1]["name"], "泸县综合行政执法局");
    assert_eq!(
        created["township_duties"],
        json!(["日常巡查", "发现问题及时报告", "劝阻制止"])
    );
    assert_eq!(created["legal_basis"], body["legal_basis"]);
    assert_eq!(created["lead_response_minutes"], 30);
    assert_eq!(created["support_arrival_minutes"], 60);
    assert_eq!(created["one_matter"], false);
    assert_eq!(list_etag(&app, LUXIAN), "\"1\"");

    // Read one: the same matter, its revision as the ETag.
    let response = app.get_as(&matter_path(LUXIAN, "SD-001"), &token);
    assert_eq!(etag_of(&response), "\"1\"");
    assert_eq!(expect_json(response, 200), created);

    // Replace: If-Match is required and must be current; neither refusal writes.
    let changed = with(
        with(
            body.clone(),
            "/supporters",
            json!([
                {"department": "luxian-scjg", "duties": ["核查经营主体资格"]},
                {"department": "luxian-zhzf", "duties": ["查处占道经营"]},
                {"department": "luxian-wjj", "duties": ["指导餐饮从业人员健康管理", "配合调查"]}
            ]),
        ),
        "/lead_response_minutes",
        json!(120),
    );
    let path = matter_path(LUXIAN, "SD-001");
    expect_problem(app.send(Method::PUT, &path, &token, None, &changed), 428);
    let stale = app.send(Method::PUT, &path, &token, Some("\"2\""), &changed);
    assert_eq!(etag_of(&stale), "\"1\"", "a 412 tells the current ETag");
    expect_problem(stale, 412);
    assert_eq!(list_etag(&app, LUXIAN), "\"1\"", "refusals move nothing");
    assert_eq!(app.audit_count(), before + 1);

    let response = app.send(Method::PUT, &path, &token, Some("\"1\""), &changed);
    assert_eq!(etag_of(&response), "\"2\"");
    let updated = expect_json(response, 200);
    assert_eq!(updated["revision"], 2);
    assert_eq!(
        departments_of(&updated["supporters"]),
        ["luxian-scjg", "luxian-zhzf", "luxian-wjj"]
    );
    assert_eq!(
        updated["supporters"][2]["duties"],
        json!(["指导餐饮从业人员健康管理", "配合调查"])
    );
    assert_eq!(updated["lead_response_minutes"], 120);
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_eq!(list_etag(&app, LUXIAN), "\"2\"");
    let read = expect_json(app.get_as(&path, &token), 200);
    assert_eq!(read, updated);

    // The ETag read before the change is stale now.
    expect_problem(
        app.send(Method::PUT, &path, &token, Some("\"1\""), &body),
        412,
    );
    // The code of a matter is fixed.
    let problem = expect_problem(
        app.send(
            Method::PUT,
            &path,
            &token,
            Some("\"2\""),
            &with(changed.clone(), "/code", json!("SD-009")),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), ["code"]);
    // Replacing a matter that does not exist.
    expect_problem(
        app.send(
            Method::PUT,
            &matter_path(LUXIAN, "SD-404"),
            &token,
            Some("\"1\""),
            &with(body.clone(), "/code", json!("SD-404")),
        ),
        404,
    );
    assert_eq!(list_etag(&app, LUXIAN), "\"2\"");

    // A second matter moves the list on again.
    create(
        &app,
        LUXIAN,
        &token,
        &matter(
            "SD-002",
            "建筑施工扬尘污染的监管",
            "luxian-zjj",
            &["luxian-sthj"],
        ),
    );
    let header = expect_json(app.get_as(&list_path(LUXIAN), &token), 200);
    assert_eq!(
        (header["revision"].as_i64(), header["matters"].as_i64()),
        (Some(3), Some(2))
    );
    assert!(header["updated_at"].is_string());

    // Remove: If-Match required and current.
    let path2 = matter_path(LUXIAN, "SD-002");
    let delete = |if_match: Option<&str>| {
        let mut builder = app.request(Method::DELETE, &path2, Some(&token));
        if let Some(etag) = if_match {
            builder = builder.header("If-Match", etag);
        }
        builder.send().unwrap()
    };
    expect_problem(delete(None), 428);
    expect_problem(delete(Some("\"2\"")), 412);
    assert_eq!(list_etag(&app, LUXIAN), "\"3\"");
    assert_eq!(delete(Some("\"1\"")).status(), 204);
    expect_problem(app.get_as(&path2, &token), 404);
    expect_problem(delete(Some("\"1\"")), 404);
    let header = expect_json(app.get_as(&list_path(LUXIAN), &token), 200);
    assert_eq!(
        (header["revision"].as_i64(), header["matters"].as_i64()),
        (Some(4), Some(1))
    );
    assert_eq!(codes(&matters_of(&app, LUXIAN)), ["SD-001"]);

    // Four changes, four audit events.
    assert_eq!(app.audit_count(), before + 4);
    // 合江县's list is untouched.
    assert_eq!(list_etag(&app, HEJIANG), "\"0\"");

    // Addresses that name no county's list.
    expect_problem(app.get_as(&list_path(YUCHAN), &token), 404);
    expect_problem(app.get_as(&list_path("5105"), &token), 404);
}

// =================================================================================
// 2. The rules of a matter
// =================================================================================

#[test]
fn every_rule_of_a_matter_is_refused_with_its_field_and_nothing_is_written() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    create(
        &app,
        LUXIAN,
        &token,
        &matter("SD-001", OILY, "luxian-sthj", &["luxian-scjg"]),
    );
    let base = matter(
        "SD-100",
        "建筑工地夜间施工噪声扰民的处置",
        "luxian-zjj",
        &["luxian-sthj"],
    );
    let supporter =
        |department: &str, duties: Value| json!({"department": department, "duties": duties});
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "no lead department",
            with(base.clone(), "/lead/department", json!("")),
            vec!["lead.department"],
        ),
        (
            "a lead of 合江县",
            with(base.clone(), "/lead/department", json!("hejiang-zjj")),
            vec!["lead.department"],
        ),
        (
            "the justice bureau as lead",
            with(base.clone(), "/lead/department", json!("luxian-sfj")),
            vec!["lead.department"],
        ),
        (
            "the county government as lead",
            with(base.clone(), "/lead/department", json!("luxian-gov")),
            vec!["lead.department"],
        ),
        (
            "a township unit as lead",
            with(base.clone(), "/lead/department", json!("luxian-yuchan-zfd")),
            vec!["lead.department"],
        ),
        (
            "an unknown lead",
            with(base.clone(), "/lead/department", json!("luxian-nope")),
            vec!["lead.department"],
        ),
        (
            "the lead also supports",
            with(
                base.clone(),
                "/supporters",
                json!([
                    supporter("luxian-sthj", json!(["配合"])),
                    supporter("luxian-zjj", json!(["配合"]))
                ]),
            ),
            vec!["supporters[1].department"],
        ),
        (
            "a department twice among the supporters",
            with(
                base.clone(),
                "/supporters",
                json!([
                    supporter("luxian-sthj", json!(["配合"])),
                    supporter("luxian-scjg", json!(["配合"])),
                    supporter("luxian-sthj", json!(["再次配合"]))
                ]),
            ),
            vec!["supporters[2].department"],
        ),
        (
            "a supporter of 合江县",
            with(
                base.clone(),
                "/supporters",
                json!([supporter("hejiang-sthj", json!(["配合"]))]),
            ),
            vec!["supporters[0].department"],
        ),
        (
            "the justice bureau as supporter",
            with(
                base.clone(),
                "/supporters",
                json!([
                    supporter("luxian-sthj", json!(["配合"])),
                    supporter("luxian-sfj", json!(["合法性审查"]))
                ]),
            ),
            vec!["supporters[1].department"],
        ),
        (
            "no township duty",
            with(base.clone(), "/township_duties", json!([])),
            vec!["township_duties"],
        ),
        (
            "a blank township duty",
            with(base.clone(), "/township_duties", json!(["日常巡查", "   "])),
            vec!["township_duties[1]"],
        ),
        (
            "no lead duty",
            with(base.clone(), "/lead/duties", json!([])),
            vec!["lead.duties"],
        ),
        (
            "a supporter with empty duties",
            with(
                base.clone(),
                "/supporters",
                json!([supporter("luxian-sthj", json!([]))]),
            ),
            vec!["supporters[0].duties"],
        ),
        (
            "a supporter without duties",
            with(
                base.clone(),
                "/supporters",
                json!([{"department": "luxian-sthj"}]),
            ),
            vec!["supporters[0].duties"],
        ),
        (
            "the name of SD-001",
            with(base.clone(), "/name", json!(OILY)),
            vec!["name"],
        ),
        (
            "the name of SD-001 between spaces",
            with(base.clone(), "/name", json!(format!("  {OILY} "))),
            vec!["name"],
        ),
        (
            "a lower-case code",
            with(base.clone(), "/code", json!("sd-100")),
            vec!["code"],
        ),
        (
            "a code with a double hyphen",
            with(base.clone(), "/code", json!("SD--100")),
            vec!["code"],
        ),
        (
            "a code with an underscore",
            with(base.clone(), "/code", json!("SD_100")),
            vec!["code"],
        ),
        (
            "a code with a space",
            with(base.clone(), "/code", json!("SD 100")),
            vec!["code"],
        ),
        (
            "a code starting with a hyphen",
            with(base.clone(), "/code", json!("-SD100")),
            vec!["code"],
        ),
        (
            "a code of 33 characters",
            with(base.clone(), "/code", json!("A".repeat(33))),
            vec!["code"],
        ),
        (
            "an empty code",
            with(base.clone(), "/code", json!("")),
            vec!["code"],
        ),
        (
            "'|' in a lead duty",
            with(
                base.clone(),
                "/lead/duties",
                json!(["负责日常监管|依法查处"]),
            ),
            vec!["lead.duties[0]"],
        ),
        (
            "a line break in a lead duty",
            with(
                base.clone(),
                "/lead/duties",
                json!(["负责日常监管", "依法\r查处"]),
            ),
            vec!["lead.duties[1]"],
        ),
        (
            "a full-width '｜' in a supporter duty",
            with(
                base.clone(),
                "/supporters",
                json!([supporter("luxian-sthj", json!(["监测｜取证"]))]),
            ),
            vec!["supporters[0].duties[0]"],
        ),
        (
            "a line break in a township duty",
            with(
                base.clone(),
                "/township_duties",
                json!(["日常巡查\n发现报告"]),
            ),
            vec!["township_duties[0]"],
        ),
        (
            "'|' in the article of a legal basis",
            with(
                base.clone(),
                "/legal_basis/0/article",
                json!("第一条|第二条"),
            ),
            vec!["legal_basis[0].article"],
        ),
        (
            "no legal basis",
            with(base.clone(), "/legal_basis", json!([])),
            vec!["legal_basis"],
        ),
        (
            "a lead response of 0 minutes",
            with(base.clone(), "/lead_response_minutes", json!(0)),
            vec!["lead_response_minutes"],
        ),
        (
            "a negative lead response",
            with(base.clone(), "/lead_response_minutes", json!(-5)),
            vec!["lead_response_minutes"],
        ),
        (
            "a lead response over a week",
            with(base.clone(), "/lead_response_minutes", json!(10081)),
            vec!["lead_response_minutes"],
        ),
        (
            "supporters on site after 0 minutes",
            with(base.clone(), "/support_arrival_minutes", json!(0)),
            vec!["support_arrival_minutes"],
        ),
        (
            "supporters on site after more than a week",
            with(base.clone(), "/support_arrival_minutes", json!(10081)),
            vec!["support_arrival_minutes"],
        ),
    ];
    let before = written(&app);
    for (case, body, fields) in &cases {
        let response = app.post(&matters_path(LUXIAN), &token, body);
        let problem = expect_problem(response, 422);
        assert_eq!(
            sorted(error_fields(&problem)),
            sorted(strings(fields)),
            "{case}: {problem}"
        );
        for error in problem["errors"].as_array().unwrap() {
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{case}: every error says what is wrong: {problem}"
            );
        }
    }
    // The message names the department that does not belong.
    let problem = expect_problem(app.post(&matters_path(LUXIAN), &token, &cases[1].1), 422);
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("hejiang-zjj") && message.contains(LUXIAN),
        "{message}"
    );
    assert_eq!(written(&app), before, "no refused matter wrote anything");

    // The same rules hold when a matter is replaced; the matter keeps its revision.
    let current = matter("SD-001", OILY, "luxian-sthj", &["luxian-scjg"]);
    create(
        &app,
        LUXIAN,
        &token,
        &matter(
            "SD-002",
            "建筑施工扬尘污染的监管",
            "luxian-zjj",
            &["luxian-sthj"],
        ),
    );
    let before = written(&app);
    let path = matter_path(LUXIAN, "SD-001");
    for (case, body, field) in [
        (
            "a lead of 合江县",
            with(current.clone(), "/lead/department", json!("hejiang-sthj")),
            "lead.department",
        ),
        (
            "the lead also supports",
            with(
                current.clone(),
                "/supporters",
                json!([supporter("luxian-sthj", json!(["配合"]))]),
            ),
            "supporters[0].department",
        ),
        (
            "the name of SD-002",
            with(current.clone(), "/name", json!("建筑施工扬尘污染的监管")),
            "name",
        ),
        (
            "no township duty",
            with(current.clone(), "/township_duties", json!([])),
            "township_duties",
        ),
    ] {
        let problem = expect_problem(
            app.send(Method::PUT, &path, &token, Some("\"1\""), &body),
            422,
        );
        assert_eq!(error_fields(&problem), [field], "{case}: {problem}");
    }
    assert_eq!(
        written(&app),
        before,
        "no refused replacement wrote anything"
    );
    // Keeping its own name is no clash.
    expect_json(
        app.send(
            Method::PUT,
            &path,
            &token,
            Some("\"1\""),
            &with(current.clone(), "/lead_response_minutes", json!(45)),
        ),
        200,
    );

    // A code already in the list is a conflict.
    let before = written(&app);
    expect_problem(
        app.post(
            &matters_path(LUXIAN),
            &token,
            &with(base.clone(), "/code", json!("SD-001")),
        ),
        409,
    );
    assert_eq!(written(&app), before);

    // A body with many problems lists them all at once.
    let many = json!({
        "code": "sd 1",
        "name": OILY,
        "domain": "",
        "legal_basis": [],
        "lead": {"department": "hejiang-zjj", "duties": ["监管|查处"]},
        "supporters": [
            supporter("hejiang-sthj", json!(["配合"])),
            supporter("luxian-scjg", json!([])),
            supporter("luxian-scjg", json!(["配合"]))
        ],
        "township_duties": [],
        "one_matter": true,
        "lead_response_minutes": 0,
        "support_arrival_minutes": 10081,
        "notes": null
    });
    let problem = expect_problem(app.post(&matters_path(LUXIAN), &token, &many), 422);
    assert_eq!(
        sorted(error_fields(&problem)),
        sorted(strings(&[
            "code",
            "name",
            "domain",
            "legal_basis",
            "lead.department",
            "lead.duties[0]",
            "supporters[0].department",
            "supporters[1].duties",
            "supporters[2].department",
            "township_duties",
            "lead_response_minutes",
            "support_arrival_minutes",
        ])),
        "{problem}"
    );

    // A body without a lead at all does not parse: 400 naming the missing field.
    let mut headless = base.clone();
    headless.as_object_mut().unwrap().remove("lead");
    let problem = expect_problem(app.post(&matters_path(LUXIAN), &token, &headless), 400);
    assert!(problem.to_string().contains("lead"), "{problem}");
    // Unknown fields are refused too.
    let problem = expect_problem(
        app.post(
            &matters_path(LUXIAN),
            &token,
            &with(base.clone(), "/notes", json!(null))
                .as_object()
                .cloned()
                .map(|mut o| {
                    o.insert("leads".into(), json!(["luxian-zjj", "luxian-sthj"]));
                    Value::Object(o)
                })
                .unwrap(),
        ),
        400,
    );
    assert!(problem.to_string().contains("leads"), "{problem}");
    assert_eq!(written(&app), before, "nothing was written");

    // The limits themselves are allowed.
    let edge = with(
        with(base.clone(), "/lead_response_minutes", json!(1)),
        "/support_arrival_minutes",
        json!(10080),
    );
    let created = create(&app, LUXIAN, &token, &edge);
    assert_eq!(
        (
            created["lead_response_minutes"].as_i64(),
            created["support_arrival_minutes"].as_i64()
        ),
        (Some(1), Some(10080))
    );
    assert_eq!(created["supporters"].as_array().unwrap().len(), 1);
    // A matter may have no supporter at all.
    let alone = create(
        &app,
        LUXIAN,
        &token,
        &matter("SD-101", "城市道路照明设施损坏的处置", "luxian-zhzf", &[]),
    );
    assert_eq!(alone["supporters"], json!([]));
}

#[test]
fn the_database_itself_keeps_one_lead_and_the_departments_of_the_county() {
    let app = TestApp::with_demo();
    create(
        &app,
        LUXIAN,
        &app.compiler(),
        &matter("SD-001", OILY, "luxian-sthj", &["luxian-scjg"]),
    );
    let db = quanze::db::Db::connect(&app.db_url, 1, std::time::Duration::from_secs(5)).unwrap();
    let mut conn = db.get().unwrap();
    let conn: &mut quanze::db::DbConnection = &mut conn;
    use diesel::connection::SimpleConnection;
    let insert = |org: &str, role: &str| {
        format!(
            "INSERT INTO duty_departments (matter_id, county_code, org_code, role, position, duties) \
             SELECT id, county_code, '{org}', '{role}', 9, '[\"x\"]' FROM duty_matters WHERE code = 'SD-001'"
        )
    };
    assert!(
        conn.batch_execute(&insert("luxian-zjj", "lead")).is_err(),
        "a second lead"
    );
    assert!(
        conn.batch_execute(&insert("luxian-scjg", "support"))
            .is_err(),
        "a department twice"
    );
    assert!(
        conn.batch_execute(&insert("hejiang-zjj", "support"))
            .is_err(),
        "a department of another county"
    );
    assert!(
        conn.batch_execute(&insert("luxian-zjj", "sponsor"))
            .is_err(),
        "an unknown role"
    );
    let matters = matters_of(&app, LUXIAN);
    assert_eq!(departments_of(&matters[0]["supporters"]), ["luxian-scjg"]);
    assert_eq!(matters[0]["lead"]["department"], "luxian-sthj");
}

// =================================================================================
// 3. Import and export
// =================================================================================

#[test]
fn a_json_import_replaces_the_list_all_or_nothing_under_the_list_etag() {
    let app = TestApp::with_demo();
    let first = vec![
        matter(
            "SD-001",
            OILY,
            "luxian-sthj",
            &["luxian-scjg", "luxian-zhzf"],
        ),
        matter(
            "SD-002",
            "建筑施工扬尘污染的监管",
            "luxian-zjj",
            &["luxian-sthj"],
        ),
        matter(
            "SD-003",
            "农村生活垃圾乱堆乱放的处置",
            "luxian-zhzf",
            &["luxian-nync"],
        ),
    ];
    let before = written(&app);

    // If-Match is required, and an empty list's ETag is "0".
    expect_problem(import_json(&app, LUXIAN, &first, None, false), 428);
    let stale = import_json(&app, LUXIAN, &first, Some("\"3\""), false);
    assert_eq!(etag_of(&stale), "\"0\"");
    expect_problem(stale, 412);
    // A dry run needs no If-Match and writes nothing.
    let report = expect_json(import_json(&app, LUXIAN, &first, None, true), 200);
    assert_eq!(report["dry_run"], true);
    assert_eq!(counts(&report), (3, 3, 0, 0, 0));
    assert_eq!(
        written(&app),
        before,
        "refusals and the dry run wrote nothing"
    );

    let report = expect_json(import_json(&app, LUXIAN, &first, Some("\"0\""), false), 200);
    assert_eq!(report["dry_run"], false);
    assert_eq!(counts(&report), (3, 3, 0, 0, 0));
    assert_eq!(list_etag(&app, LUXIAN), "\"1\"");
    assert_eq!(app.audit_count(), before.audit + 1);
    let imported = matters_of(&app, LUXIAN);
    assert_eq!(codes(&imported), ["SD-001", "SD-002", "SD-003"]);
    assert_eq!(imported[0]["lead"]["name"], "泸州市生态环境局泸县分局");
    assert_eq!(
        departments_of(&imported[0]["supporters"]),
        ["luxian-scjg", "luxian-zhzf"]
    );
    assert!(imported.iter().all(|m| m["revision"] == 1));

    // The next import: one unchanged, one changed, one new, one removed.
    let second = vec![
        first[0].clone(),
        with(
            first[1].clone(),
            "/supporters",
            json!([{"department": "luxian-sthj", "duties": ["扬尘监测"]}, {"department": "luxian-zhzf", "duties": ["查处渣土运输抛洒"]}]),
        ),
        matter(
            "SD-004",
            "河道违法采砂的查处",
            "luxian-swj",
            &["luxian-zrzy", "luxian-zhzf"],
        ),
    ];
    expect_problem(import_json(&app, LUXIAN, &second, None, false), 428);
    expect_problem(
        import_json(&app, LUXIAN, &second, Some("\"0\""), false),
        412,
    );
    let dry = expect_json(import_json(&app, LUXIAN, &second, None, true), 200);
    assert_eq!(counts(&dry), (3, 1, 1, 1, 1));
    assert_eq!(
        matters_of(&app, LUXIAN),
        imported,
        "the dry run wrote nothing"
    );
    let report = expect_json(
        import_json(&app, LUXIAN, &second, Some("\"1\""), false),
        200,
    );
    assert_eq!(counts(&report), (3, 1, 1, 1, 1), "{report}");
    assert_eq!(list_etag(&app, LUXIAN), "\"2\"");
    let now = matters_of(&app, LUXIAN);
    assert_eq!(codes(&now), ["SD-001", "SD-002", "SD-004"]);
    assert_eq!(now[0], imported[0], "the unchanged matter is untouched");
    assert_eq!(now[1]["revision"], 2, "the changed matter moves on");
    assert_eq!(now[1]["created_at"], imported[1]["created_at"]);
    assert_eq!(
        departments_of(&now[1]["supporters"]),
        ["luxian-sthj", "luxian-zhzf"]
    );
    assert_eq!(now[2]["revision"], 1);
    expect_problem(
        app.get_as(&matter_path(LUXIAN, "SD-003"), &app.compiler()),
        404,
    );

    // Names may move between codes in one import.
    let swapped = vec![
        with(now[0].clone(), "/name", json!("建筑施工扬尘污染的监管")),
        with(now[1].clone(), "/name", json!(OILY)),
    ]
    .into_iter()
    .map(|m| {
        let mut m = m.as_object().unwrap().clone();
        for key in ["county", "revision", "created_at", "updated_at"] {
            m.remove(key);
        }
        m["lead"].as_object_mut().unwrap().remove("name");
        for s in m["supporters"].as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("name");
        }
        Value::Object(m)
    })
    .collect::<Vec<_>>();
    let report = expect_json(
        import_json(&app, LUXIAN, &swapped, Some("\"2\""), false),
        200,
    );
    assert_eq!(counts(&report), (2, 0, 2, 0, 1), "{report}");
    let after = matters_of(&app, LUXIAN);
    assert_eq!(after[0]["name"], "建筑施工扬尘污染的监管");
    assert_eq!(after[1]["name"], OILY);
    assert_eq!(list_etag(&app, LUXIAN), "\"3\"");

    // All or nothing: every bad row is reported, by row (1-based in the file) and field.
    let before = written(&app);
    let bad = vec![
        matter(
            "SD-010",
            "燃放烟花爆竹的监管",
            "luxian-yjj",
            &["luxian-zhzf"],
        ),
        matter("SD-011", "户外广告设施设置的监管", "hejiang-zhzf", &[]),
        matter(
            "SD-012",
            "燃放烟花爆竹的监管",
            "luxian-yjj",
            &["luxian-yjj"],
        ),
        with(
            matter("SD-010", "城市绿地损毁的处置", "luxian-zhzf", &[]),
            "/township_duties",
            json!([]),
        ),
    ];
    for dry_run in [true, false] {
        let problem = expect_problem(import_json(&app, LUXIAN, &bad, Some("\"3\""), dry_run), 422);
        assert_eq!(
            row_fields(&problem),
            vec![
                (Some(2), "lead.department".to_string()),
                (Some(3), "supporters[0].department".to_string()),
                (Some(3), "name".to_string()),
                (Some(4), "township_duties".to_string()),
                (Some(4), "code".to_string()),
            ],
            "{problem}"
        );
    }
    // An empty file is no list.
    let problem = expect_problem(import_json(&app, LUXIAN, &[], Some("\"3\""), false), 422);
    assert_eq!(error_fields(&problem), ["matters"]);
    // A matter that does not parse names its place.
    let problem = expect_problem(
        import(
            &app,
            LUXIAN,
            &app.compiler(),
            "application/json",
            br#"{"matters": [{"code": "SD-020", "name": "x"}]}"#.to_vec(),
            Some("\"3\""),
            false,
        ),
        400,
    );
    assert!(problem.to_string().contains("matters[0]"), "{problem}");
    // Neither JSON nor CSV.
    expect_problem(
        import(
            &app,
            LUXIAN,
            &app.compiler(),
            "application/xml",
            b"<matters/>".to_vec(),
            Some("\"3\""),
            false,
        ),
        415,
    );
    assert_eq!(written(&app), before, "no refused import wrote anything");
}

#[test]
fn a_csv_import_reads_list_cells_line_by_line_and_reports_rows_as_a_spreadsheet_shows_them() {
    let app = TestApp::with_demo();
    let records = vec![
        csv_record(
            "SD-001",
            OILY,
            "luxian-sthj",
            "luxian-scjg|核查经营主体资格|配合联合执法\nluxian-zhzf｜查处占道经营",
            &[
                ("one_matter", "是"),
                ("support_arrival_minutes", "45"),
                ("notes", "夜间投诉由值班室受理"),
            ],
        ),
        csv_record(
            "SD-002",
            "建筑施工扬尘污染的监管",
            "luxian-zjj",
            "",
            &[("legal_basis", "《建设工程施工现场管理规定》")],
        ),
    ];
    let csv = csv_file(&records);
    expect_problem(import_csv(&app, csv.clone(), None, false), 428);
    expect_problem(import_csv(&app, csv.clone(), Some("\"1\""), false), 412);
    let report = expect_json(import_csv(&app, csv.clone(), None, true), 200);
    assert_eq!(counts(&report), (2, 2, 0, 0, 0));
    assert_eq!(list_etag(&app, LUXIAN), "\"0\"");
    let report = expect_json(import_csv(&app, csv.clone(), Some("\"0\""), false), 200);
    assert_eq!(counts(&report), (2, 2, 0, 0, 0));

    let matters = matters_of(&app, LUXIAN);
    let first = &matters[0];
    assert_eq!(first["one_matter"], true);
    assert_eq!(first["lead_response_minutes"], 30);
    assert_eq!(first["support_arrival_minutes"], 45);
    assert_eq!(first["notes"], "夜间投诉由值班室受理");
    assert_eq!(
        first["lead"]["duties"],
        json!(["负责日常监管", "依法查处违法行为"])
    );
    assert_eq!(
        first["township_duties"],
        json!(["日常巡查", "发现问题及时报告"])
    );
    assert_eq!(
        first["supporters"],
        json!([
            {"department": "luxian-scjg", "name": "泸县市场监督管理局", "duties": ["核查经营主体资格", "配合联合执法"]},
            {"department": "luxian-zhzf", "name": "泸县综合行政执法局", "duties": ["查处占道经营"]}
        ])
    );
    assert_eq!(
        first["legal_basis"],
        json!([
            {"law": "《中华人民共和国大气污染防治法》", "article": "第一百一十八条", "excerpt": "责令改正，处五千元以上五万元以下的罚款"},
            {"law": "《四川省环境保护条例》", "article": "第五十条", "excerpt": ""}
        ])
    );
    let second = &matters[1];
    assert_eq!(second["supporters"], json!([]));
    assert_eq!(second["one_matter"], false);
    assert!(second["support_arrival_minutes"].is_null());
    assert!(second["notes"].is_null());

    // Bad rows: numbered with the header as row 1, counting records (a quoted cell may
    // span several lines), all reported, nothing written.
    let before = written(&app);
    let bad = csv_file(&[
        csv_record("SD-001", OILY, "luxian-sthj", "luxian-scjg|核查", &[]),
        csv_record(
            "SD-003",
            "河道违法采砂的查处",
            "luxian-swj",
            "luxian-zrzy",
            &[],
        ),
        csv_record(
            "SD-004",
            "户外广告设施设置的监管",
            "hejiang-zhzf",
            "luxian-scjg|核查\nluxian-scjg|再核查",
            &[("lead_response_minutes", "0")],
        ),
        csv_record(
            "sd-5",
            "城市绿地损毁的处置",
            "",
            "",
            &[("township_duties", "")],
        ),
    ]);
    for dry_run in [true, false] {
        let problem = expect_problem(import_csv(&app, bad.clone(), Some("\"1\""), dry_run), 422);
        assert_eq!(
            row_fields(&problem),
            vec![
                (Some(3), "supporters[0].duties".to_string()),
                (Some(4), "lead.department".to_string()),
                (Some(4), "supporters[1].department".to_string()),
                (Some(4), "lead_response_minutes".to_string()),
                (Some(5), "code".to_string()),
                (Some(5), "lead.department".to_string()),
                (Some(5), "township_duties".to_string()),
            ],
            "{problem}"
        );
    }
    // Cells that do not read: 400 by row and column.
    let unreadable = csv_file(&[
        csv_record("SD-001", OILY, "luxian-sthj", "", &[("one_matter", "也许")]),
        csv_record(
            "SD-002",
            "建筑施工扬尘污染的监管",
            "luxian-zjj",
            "",
            &[("lead_response_minutes", "半小时")],
        ),
        csv_record(
            "SD-003",
            "河道违法采砂的查处",
            "luxian-swj",
            "",
            &[("legal_basis", "《河道管理条例》|第二十五条|摘录|多余")],
        ),
    ]);
    let problem = expect_problem(import_csv(&app, unreadable, Some("\"1\""), false), 400);
    assert_eq!(
        row_fields(&problem),
        vec![
            (Some(2), "one_matter".to_string()),
            (Some(3), "lead_response_minutes".to_string()),
            (Some(4), "legal_basis".to_string()),
        ],
        "{problem}"
    );
    // A header without a required column.
    let problem = expect_problem(
        import_csv(
            &app,
            "code,name,domain\nSD-001,x,y\n".as_bytes().to_vec(),
            Some("\"1\""),
            false,
        ),
        400,
    );
    assert_eq!(problem["errors"][0]["row"], 2, "{problem}");
    assert_eq!(written(&app), before, "no refused import wrote anything");
}

#[test]
fn an_exported_list_comes_back_unchanged_from_json_and_from_csv() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let mut rich = matter(
        "SD-001",
        OILY,
        "luxian-sthj",
        &["luxian-scjg", "luxian-zhzf"],
    );
    rich = with(rich, "/one_matter", json!(true));
    rich = with(
        rich,
        "/notes",
        json!("第一行说明\n第二行说明，含“引号”和,逗号"),
    );
    rich = with(
        rich,
        "/legal_basis",
        json!([
            {"law": "《中华人民共和国大气污染防治法》", "article": "第一百一十八条", "excerpt": "责令改正，处五千元以上五万元以下的罚款"},
            {"law": "《四川省环境保护条例》", "article": "", "excerpt": "只有摘录，没有条款"},
            {"law": "《泸州市餐饮油烟管理办法》", "article": "", "excerpt": ""}
        ]),
    );
    create(&app, LUXIAN, &token, &rich);
    create(
        &app,
        LUXIAN,
        &token,
        &with(
            with(
                matter(
                    "SD-002",
                    "露天焚燒秸稈的監管",
                    "luxian-nync",
                    &["luxian-sthj"],
                ),
                "/lead_response_minutes",
                json!(null),
            ),
            "/support_arrival_minutes",
            json!(null),
        ),
    );
    create(
        &app,
        LUXIAN,
        &token,
        &matter("SD-003", "城市道路照明设施损坏的处置", "luxian-zhzf", &[]),
    );

    // JSON: the list's header and every matter as submitted.
    let response = app.get_as(&format!("{}/export", list_path(LUXIAN)), &token);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("duty-list-{LUXIAN}.json")));
    let exported: Value = response.json().unwrap();
    assert_eq!(exported["list"]["county"], LUXIAN);
    assert_eq!(exported["list"]["revision"], 3);
    assert_eq!(exported["list"]["matters"], 3);
    assert_eq!(exported["matters"][0], rich);
    assert_eq!(
        codes(exported["matters"].as_array().unwrap()),
        ["SD-001", "SD-002", "SD-003"]
    );

    // CSV: a BOM, the header import reads, list cells one entry per line.
    let response = app.get_as(&format!("{}/export?format=csv", list_path(LUXIAN)), &token);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("duty-list-{LUXIAN}.csv")));
    let csv = response.bytes().unwrap().to_vec();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "a BOM for spreadsheets");
    let text = std::str::from_utf8(&csv[3..]).unwrap();
    assert!(text.starts_with(&CSV_HEADER.join(",")), "{text}");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        &rows[0][6],
        "luxian-scjg|配合牵头部门开展联合执法\nluxian-zhzf|配合牵头部门开展联合执法"
    );
    assert_eq!(&rows[0][7], "日常巡查\n发现问题及时报告\n劝阻制止");
    assert_eq!(&rows[0][8], "true");

    // Both come back unchanged: nothing created, changed or removed.
    let before = matters_of(&app, LUXIAN);
    let etag = list_etag(&app, LUXIAN);
    let json_body = serde_json::to_vec(&exported).unwrap();
    let report = expect_json(
        import(
            &app,
            LUXIAN,
            &token,
            "application/json",
            json_body,
            Some(&etag),
            false,
        ),
        200,
    );
    assert_eq!(counts(&report), (3, 0, 0, 3, 0), "{report}");
    let etag = list_etag(&app, LUXIAN);
    let report = expect_json(
        import(
            &app,
            LUXIAN,
            &token,
            "text/csv; charset=utf-8",
            csv.clone(),
            Some(&etag),
            false,
        ),
        200,
    );
    assert_eq!(counts(&report), (3, 0, 0, 3, 0), "{report}");
    assert_eq!(matters_of(&app, LUXIAN), before, "every matter as it was");

    // Into 合江县 the same file is refused: its departments are 泸县's.
    let problem = expect_problem(
        import(
            &app,
            HEJIANG,
            &hejiang_compiler(&app),
            "text/csv",
            csv,
            Some("\"0\""),
            false,
        ),
        422,
    );
    assert!(error_fields(&problem).contains(&"lead.department".to_string()));
    assert_eq!(list_etag(&app, HEJIANG), "\"0\"");
}

#[test]

fn an_import_that_changes_nothing_leaves_the_list_revision_alone() {
    let app = TestApp::with_demo();
    let matters = vec![
        matter("SD-001", OILY, "luxian-sthj", &["luxian-scjg"]),
        matter("SD-002", "建筑施工扬尘污染的监管", "luxian-zjj", &[]),
    ];
    expect_json(
        import_json(&app, LUXIAN, &matters, Some("\"0\""), false),
        200,
    );
    let before = written(&app);
    let report = expect_json(
        import_json(&app, LUXIAN, &matters, Some("\"1\""), false),
        200,
    );
    assert_eq!(counts(&report), (2, 0, 0, 2, 0));
    let header = expect_json(app.get_as(&list_path(LUXIAN), &app.compiler()), 200);
    assert_eq!(
        written(&app),
        before,
        "nothing changed, so the ETag others hold stays valid: {header}"
    );
}

#[test]

fn notes_with_surrounding_spaces_survive_a_csv_round_trip() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    create(
        &app,
        LUXIAN,
        &token,
        &with(
            matter("SD-001", OILY, "luxian-sthj", &[]),
            "/notes",
            json!("  夜间投诉由值班室受理  "),
        ),
    );
    let csv = app
        .get_as(&format!("{}/export?format=csv", list_path(LUXIAN)), &token)
        .bytes()
        .unwrap()
        .to_vec();
    let before = matters_of(&app, LUXIAN);
    let report = expect_json(import_csv(&app, csv, Some("\"1\""), false), 200);
    assert_eq!(counts(&report), (1, 0, 0, 1, 0), "{report}");
    assert_eq!(matters_of(&app, LUXIAN), before);
}

// =================================================================================
// 4. A Cixi-shaped list and its figures
// =================================================================================

/// The six departments 泸县 lacks for a list over sixteen.
const EXTRA_DEPARTMENTS: [(&str, &str, &str); 6] = [
    ("luxian-gaj", "泸县公安局", "public_security"),
    ("luxian-rsj", "泸县人力资源和社会保障局", "human_resources"),
    ("luxian-jtj", "泸县交通运输局", "transport"),
    ("luxian-jyj", "泸县教育和体育局", "education"),
    ("luxian-wlj", "泸县文化广播电视和旅游局", "culture_tourism"),
    ("luxian-lyj", "泸县林业局", "forestry"),
];

const DEMO_DEPARTMENTS: [&str; 10] = [
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

#[test]
fn a_cixi_shaped_list_of_69_matters_over_16_departments_gives_the_reported_figures() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    for (code, name, sector) in EXTRA_DEPARTMENTS {
        expect_json(
            app.post(
                "/api/v1/organisations",
                &admin,
                &json!({"code": code, "name": name, "kind": "department", "sector": sector, "region": LUXIAN}),
            ),
            201,
        );
    }
    let departments: Vec<&str> = DEMO_DEPARTMENTS
        .iter()
        .copied()
        .chain(EXTRA_DEPARTMENTS.iter().map(|d| d.0))
        .collect();
    let listed = expect_json(
        app.get_as(
            &format!("/api/v1/organisations?region={LUXIAN}&kind=department&page_size=500"),
            &admin,
        ),
        200,
    );
    assert_eq!(listed["total"], 16, "{listed}");

    // 12 one-matter (一件事) matters with 7 leads and 13 collaborators, and 57 others led
    // by the first twelve departments.
    let domains = [
        "生态环境",
        "市场监管",
        "城乡建设",
        "农业农村",
        "应急管理",
        "综合执法",
    ];
    let mut matters = Vec::new();
    let mut expected_load: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut one_leads = BTreeSet::new();
    let mut one_supporters = BTreeSet::new();
    let mut leads = BTreeSet::new();
    let mut supporting = BTreeSet::new();
    for i in 0..69usize {
        let one_matter = i < 12;
        let (lead, supporters): (&str, Vec<&str>) = if one_matter {
            let pool = &departments[3..];
            let lead = departments[i % 7];
            let s = vec![pool[(2 * i) % 13], pool[(2 * i + 1) % 13]];
            (lead, s.into_iter().filter(|s| *s != lead).collect())
        } else {
            let j = i - 12;
            let lead = departments[j % 12];
            let mut s = vec![departments[(j + 5) % 16]];
            if j % 3 == 0 {
                s.push(departments[(j + 9) % 16]);
            }
            (lead, s.into_iter().filter(|s| *s != lead).collect())
        };
        expected_load.entry(lead.to_string()).or_default().0 += 1;
        leads.insert(lead);
        for s in &supporters {
            expected_load.entry(s.to_string()).or_default().1 += 1;
            supporting.insert(*s);
        }
        if one_matter {
            one_leads.insert(lead);
            one_supporters.extend(supporters.iter().copied());
        }
        let name = if i == 0 {
            OILY.to_string()
        } else {
            format!("{}领域第{:02}项属地管理事项", domains[i % 6], i)
        };
        let body = matter(&format!("CX-{:03}", i + 1), &name, lead, &supporters);
        let body = with(body, "/domain", json!(domains[i % 6]));
        matters.push(with(body, "/one_matter", json!(one_matter)));
    }
    // The list as built has the shape of the report.
    assert_eq!(expected_load.len(), 16, "all sixteen departments take part");
    assert_eq!((one_leads.len(), one_supporters.len()), (7, 13));

    let report = expect_json(
        import_json(&app, LUXIAN, &matters, Some("\"0\""), false),
        200,
    );
    assert_eq!(counts(&report), (69, 69, 0, 0, 0));
    // A small 合江县 list must not count in 泸县's figures.
    expect_json(
        import_json(
            &app,
            HEJIANG,
            &[
                matter("HJ-001", OILY, "hejiang-sthj", &["hejiang-scjg"]),
                with(
                    matter(
                        "HJ-002",
                        "河道违法采砂的查处",
                        "hejiang-swj",
                        &["hejiang-zrzy", "hejiang-zhzf"],
                    ),
                    "/one_matter",
                    json!(true),
                ),
            ],
            Some("\"0\""),
            false,
        ),
        200,
    );

    let stats = expect_json(
        app.get_as(
            &format!("{}/statistics", list_path(LUXIAN)),
            &app.compiler(),
        ),
        200,
    );
    assert_eq!(stats["county"], LUXIAN);
    assert_eq!(stats["matters"], 69, "{stats}");
    assert_eq!(stats["departments_involved"], 16, "{stats}");
    assert_eq!(
        stats["one_matter"],
        json!({"matters": 12, "lead_departments": 7, "collaborating_departments": 13}),
        "{stats}"
    );
    assert_eq!(stats["lead_departments"], leads.len() as i64);
    assert_eq!(leads.len(), 12);
    assert_eq!(stats["supporting_departments"], supporting.len() as i64);

    let names: BTreeMap<&str, &str> = EXTRA_DEPARTMENTS
        .iter()
        .map(|d| (d.0, d.1))
        .chain([
            ("luxian-sthj", "泸州市生态环境局泸县分局"),
            ("luxian-zhzf", "泸县综合行政执法局"),
        ])
        .collect();
    let per_department = stats["departments"].as_array().unwrap();
    let reported: BTreeMap<String, (i64, i64)> = per_department
        .iter()
        .map(|d| {
            (
                d["department"].as_str().unwrap().to_string(),
                (
                    d["leads"].as_i64().unwrap(),
                    d["supports"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(reported, expected_load, "{stats}");
    for d in per_department {
        if let Some(name) = names.get(d["department"].as_str().unwrap()) {
            assert_eq!(d["name"], *name);
        }
    }
    let total_leads: i64 = reported.values().map(|l| l.0).sum();
    let total_supports: i64 = reported.values().map(|l| l.1).sum();
    let supporter_rows: usize = matters
        .iter()
        .map(|m| m["supporters"].as_array().unwrap().len())
        .sum();
    assert_eq!(total_leads, 69, "one lead per matter");
    assert_eq!(total_supports, supporter_rows as i64);
    let by_code: Vec<&str> = per_department
        .iter()
        .map(|d| d["department"].as_str().unwrap())
        .collect();
    let mut in_order = by_code.clone();
    in_order.sort();
    assert_eq!(by_code, in_order, "per department, by code");

    // The list filters agree with the figures.
    let page = expect_json(
        app.get_as(
            &format!("{}?one_matter=true&page_size=500", matters_path(LUXIAN)),
            &app.compiler(),
        ),
        200,
    );
    assert_eq!(page["total"], 12);
    for (department, (leads, supports)) in &expected_load {
        let total = |role: &str| {
            expect_json(
                app.get_as(
                    &format!("{}?{role}={department}&page_size=1", matters_path(LUXIAN)),
                    &app.compiler(),
                ),
                200,
            )["total"]
                .as_i64()
                .unwrap()
        };
        assert_eq!(
            (total("lead"), total("supporter")),
            (*leads, *supports),
            "{department}"
        );
    }

    // 合江县's figures are its own.
    let hejiang = expect_json(
        app.get_as(
            &format!("{}/statistics", list_path(HEJIANG)),
            &hejiang_compiler(&app),
        ),
        200,
    );
    assert_eq!(hejiang["matters"], 2);
    assert_eq!(hejiang["departments_involved"], 5);
    assert_eq!(
        hejiang["one_matter"],
        json!({"matters": 1, "lead_departments": 1, "collaborating_departments": 2})
    );

    // The list survives a CSV round trip with the same figures.
    let csv = app
        .get_as(
            &format!("{}/export?format=csv", list_path(LUXIAN)),
            &app.compiler(),
        )
        .bytes()
        .unwrap()
        .to_vec();
    let etag = list_etag(&app, LUXIAN);
    let report = expect_json(import_csv(&app, csv, Some(&etag), false), 200);
    assert_eq!(counts(&report), (69, 0, 0, 69, 0));
    let again = expect_json(
        app.get_as(
            &format!("{}/statistics", list_path(LUXIAN)),
            &app.compiler(),
        ),
        200,
    );
    assert_eq!(again, stats);

    // An empty list has empty figures.
    let empty = TestApp::with_demo();
    let figures = expect_json(
        empty.get_as(
            &format!("{}/statistics", list_path(LUXIAN)),
            &empty.compiler(),
        ),
        200,
    );
    assert_eq!(figures["matters"], 0);
    assert_eq!(figures["departments_involved"], 0);
    assert_eq!(figures["departments"], json!([]));
}

// =================================================================================
// 5. The dispatch lookup
// =================================================================================

fn lookup(app: &TestApp, token: Option<&str>, township: &str, q: &str) -> Response {
    let builder = app
        .request(Method::GET, "/api/v1/lookup", token)
        .query(&[("township", township), ("q", q)]);
    builder.send().unwrap()
}

fn found(app: &TestApp, token: &str, township: &str, q: &str) -> Vec<String> {
    let answer = expect_json(lookup(app, Some(token), township, q), 200);
    codes(answer["matches"].as_array().unwrap())
}

/// A 泸县 list for lookups: names in both scripts.
fn lookup_list(app: &TestApp) {
    let token = app.compiler();
    create(
        app,
        LUXIAN,
        &token,
        &with(
            matter(
                "SD-001",
                OILY,
                "luxian-sthj",
                &["luxian-scjg", "luxian-zhzf"],
            ),
            "/township_duties",
            json!(["日常巡查", "发现油烟扰民及时报告", "劝阻制止"]),
        ),
    );
    create(
        app,
        LUXIAN,
        &token,
        &with(
            matter(
                "SD-002",
                "露天焚燒秸稈的監管",
                "luxian-nync",
                &["luxian-sthj"],
            ),
            "/domain",
            json!("農業農村"),
        ),
    );
    create(
        app,
        LUXIAN,
        &token,
        &with(
            matter("SD-003", "家用油烟机产品质量的抽查", "luxian-scjg", &[]),
            "/domain",
            json!("产品质量"),
        ),
    );
    create(
        app,
        LUXIAN,
        &token,
        &matter(
            "SD-004",
            "建筑施工扬尘污染的监管",
            "luxian-zjj",
            &["luxian-sthj"],
        ),
    );
}

#[test]
fn a_lookup_finds_matters_in_either_script_and_tells_who_leads_supports_and_what_the_township_does()
{
    let app = TestApp::with_demo();
    lookup_list(&app);
    let k = app.clerk(YUCHAN);

    let answer = expect_json(lookup(&app, Some(&k), YUCHAN, "油烟"), 200);
    assert_eq!(answer["township"], YUCHAN);
    assert_eq!(answer["township_name"], "玉蟾街道");
    assert_eq!(answer["county"], LUXIAN);
    assert_eq!(answer["source"], "working_copy");
    let matches = answer["matches"].as_array().unwrap();
    assert_eq!(codes(matches), ["SD-001", "SD-003"]);
    let oily = &matches[0];
    assert_eq!(oily["name"], OILY);
    assert_eq!(oily["lead"]["department"], "luxian-sthj");
    assert_eq!(oily["lead"]["name"], "泸州市生态环境局泸县分局");
    assert_eq!(
        oily["lead"]["duties"],
        json!(["负责日常监管", "依法查处违法行为"])
    );
    assert_eq!(
        oily["supporters"],
        json!([
            {"department": "luxian-scjg", "name": "泸县市场监督管理局", "duties": ["配合牵头部门开展联合执法"]},
            {"department": "luxian-zhzf", "name": "泸县综合行政执法局", "duties": ["配合牵头部门开展联合执法"]}
        ])
    );
    assert_eq!(
        oily["township_duties"],
        json!(["日常巡查", "发现油烟扰民及时报告", "劝阻制止"])
    );

    // Traditional script finds the simplified name, and the other way round.
    assert_eq!(found(&app, &k, YUCHAN, "油煙"), ["SD-001", "SD-003"]);
    assert_eq!(found(&app, &k, YUCHAN, "餐飲服務業油煙"), ["SD-001"]);
    assert_eq!(found(&app, &k, YUCHAN, "焚烧秸秆"), ["SD-002"]);
    assert_eq!(found(&app, &k, YUCHAN, "焚燒"), ["SD-002"]);
    assert_eq!(
        found(&app, &k, YUCHAN, "农业农村"),
        ["SD-002"],
        "the domain counts too"
    );
    // Every word must match.
    assert_eq!(found(&app, &k, YUCHAN, "油烟 监管"), ["SD-001"]);
    assert_eq!(found(&app, &k, YUCHAN, "油煙，監管"), ["SD-001"]);
    assert_eq!(
        found(&app, &k, YUCHAN, "监管"),
        ["SD-001", "SD-002", "SD-004"]
    );
    assert!(found(&app, &k, YUCHAN, "油烟 焚烧").is_empty());
    assert!(found(&app, &k, YUCHAN, "噪声").is_empty());

    // The other townships of the county and its departments answer from the same list.
    assert_eq!(
        found(&app, &app.clerk(FUJI), FUJI, "油烟"),
        ["SD-001", "SD-003"]
    );
    assert_eq!(
        found(&app, &app.officer("luxian-zjj"), "510521101000", "扬尘"),
        ["SD-004"]
    );
    assert_eq!(found(&app, &app.compiler(), YUCHAN, "秸稈"), ["SD-002"]);

    // A renamed matter is found by its new name only.
    let current = expect_json(
        app.get_as(&matter_path(LUXIAN, "SD-004"), &app.compiler()),
        200,
    );
    assert_eq!(current["revision"], 1);
    expect_json(
        app.send(
            Method::PUT,
            &matter_path(LUXIAN, "SD-004"),
            &app.compiler(),
            Some("\"1\""),
            &matter(
                "SD-004",
                "建筑工地夜间施工噪声扰民的处置",
                "luxian-zjj",
                &["luxian-sthj"],
            ),
        ),
        200,
    );
    assert!(found(&app, &k, YUCHAN, "扬尘").is_empty());
    assert_eq!(found(&app, &k, YUCHAN, "噪聲 擾民"), ["SD-004"]);
}

#[test]
fn a_lookup_answers_from_the_townships_own_county_and_checks_who_asks() {
    let app = TestApp::with_demo();
    lookup_list(&app);
    let k = app.clerk(YUCHAN);

    // A township of 合江县 answers from 合江县's list: empty while it has none.
    let province = auditor(&app);
    let answer = expect_json(lookup(&app, Some(&province), HEJIANG_TOWN, "油烟"), 200);
    assert_eq!(answer["county"], HEJIANG);
    assert_eq!(answer["township_name"], "合江镇");
    assert_eq!(answer["matches"], json!([]));
    create(
        &app,
        HEJIANG,
        &hejiang_compiler(&app),
        &matter("HJ-001", OILY, "hejiang-sthj", &["hejiang-scjg"]),
    );
    let answer = expect_json(lookup(&app, Some(&province), HEJIANG_TOWN, "油煙"), 200);
    let matches = answer["matches"].as_array().unwrap();
    assert_eq!(codes(matches), ["HJ-001"]);
    assert_eq!(matches[0]["lead"]["department"], "hejiang-sthj");
    assert_eq!(matches[0]["lead"]["name"], "泸州市生态环境局合江县分局");
    // Its own clerk asks too; 泸县 still answers with its own departments.
    assert_eq!(
        found(&app, &app.clerk(HEJIANG_TOWN), HEJIANG_TOWN, "油烟"),
        ["HJ-001"]
    );
    let answer = expect_json(lookup(&app, Some(&k), YUCHAN, "油烟 监管"), 200);
    assert_eq!(answer["matches"][0]["lead"]["department"], "luxian-sthj");

    // Bad questions.
    for q in ["", "   ", "，。"] {
        let problem = expect_problem(lookup(&app, Some(&k), YUCHAN, q), 422);
        assert_eq!(error_fields(&problem), ["q"], "{q:?}");
    }
    expect_problem(
        app.request(Method::GET, "/api/v1/lookup", Some(&k))
            .query(&[("township", YUCHAN)])
            .send()
            .unwrap(),
        400,
    );
    for township in [
        "510521",
        "51052100100X",
        LUXIAN,
        "510521001001",
        "510521300000",
    ] {
        let problem = expect_problem(lookup(&app, Some(&k), township, "油烟"), 422);
        assert_eq!(error_fields(&problem), ["township"], "{township}");
    }
    expect_problem(lookup(&app, Some(&province), "510521150000", "油烟"), 404);

    // Who may ask.
    expect_problem(
        lookup(&app, Some(&app.clerk(HEJIANG_TOWN)), YUCHAN, "油烟"),
        403,
    );
    expect_problem(
        lookup(&app, Some(&hejiang_compiler(&app)), YUCHAN, "油烟"),
        403,
    );
    expect_problem(lookup(&app, Some(&app.admin()), YUCHAN, "油烟"), 403);
    expect_problem(lookup(&app, None, YUCHAN, "油烟"), 401);
    expect_problem(lookup(&app, Some("not-a-token"), YUCHAN, "油烟"), 401);
}

// =================================================================================
// 6. List filters
// =================================================================================

#[test]
fn the_matter_list_filters_by_domain_lead_supporter_one_matter_and_text_and_pages() {
    /// Code, name, lead, supporters, domain, one matter.
    type Spec<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a str, bool);
    let app = TestApp::with_demo();
    let token = app.compiler();
    let specs: [Spec; 6] = [
        (
            "SD-001",
            OILY,
            "luxian-sthj",
            &["luxian-scjg", "luxian-zhzf"],
            "生态环境",
            true,
        ),
        (
            "SD-002",
            "建筑施工扬尘污染的监管",
            "luxian-zjj",
            &["luxian-sthj"],
            "城乡建设",
            false,
        ),
        (
            "SD-003",
            "露天焚燒秸稈的監管",
            "luxian-nync",
            &["luxian-sthj", "luxian-zhzf"],
            "生态环境",
            true,
        ),
        (
            "SD-004",
            "食品小作坊的监管",
            "luxian-scjg",
            &["luxian-wjj"],
            "市场监管",
            false,
        ),
        (
            "SD-005",
            "河道违法采砂的查处",
            "luxian-swj",
            &["luxian-zrzy", "luxian-zhzf"],
            "水利",
            true,
        ),
        (
            "SD-006",
            "户外广告设施设置的监管",
            "luxian-zhzf",
            &[],
            "城乡建设",
            false,
        ),
    ];
    // Created out of order: the list is in code order anyway.
    for i in [3, 0, 5, 1, 4, 2] {
        let (code, name, lead, supporters, domain, one) = specs[i];
        let body = with(
            with(
                matter(code, name, lead, supporters),
                "/domain",
                json!(domain),
            ),
            "/one_matter",
            json!(one),
        );
        create(&app, LUXIAN, &token, &body);
    }
    let query = |q: &str| -> (Vec<String>, i64) {
        let page = expect_json(
            app.get_as(&format!("{}?{q}", matters_path(LUXIAN)), &token),
            200,
        );
        (
            codes(page["items"].as_array().unwrap()),
            page["total"].as_i64().unwrap(),
        )
    };
    let just = |q: &str| query(q).0;

    assert_eq!(
        just(""),
        ["SD-001", "SD-002", "SD-003", "SD-004", "SD-005", "SD-006"]
    );
    let domain = |d: &str| format!("domain={}", urlencode(d));
    assert_eq!(just(&domain("生态环境")), ["SD-001", "SD-003"]);
    assert_eq!(just(&domain("城乡建设")), ["SD-002", "SD-006"]);
    assert!(just(&domain("教育")).is_empty());
    assert_eq!(just("lead=luxian-zhzf"), ["SD-006"]);
    assert_eq!(just("lead=luxian-sthj"), ["SD-001"]);
    assert_eq!(
        just("supporter=luxian-zhzf"),
        ["SD-001", "SD-003", "SD-005"]
    );
    assert_eq!(just("supporter=luxian-sthj"), ["SD-002", "SD-003"]);
    assert!(
        just("supporter=luxian-swj").is_empty(),
        "a lead is no supporter"
    );
    assert!(just("lead=hejiang-sthj").is_empty());
    assert_eq!(just("one_matter=true"), ["SD-001", "SD-003", "SD-005"]);
    assert_eq!(just("one_matter=false"), ["SD-002", "SD-004", "SD-006"]);
    assert_eq!(
        just(&format!("q={}", urlencode("监管"))),
        ["SD-001", "SD-002", "SD-003", "SD-004", "SD-006"]
    );
    assert_eq!(just(&format!("q={}", urlencode("監管 焚燒"))), ["SD-003"]);
    assert_eq!(just(&format!("q={}", urlencode("焚烧"))), ["SD-003"]);
    assert_eq!(just(&format!("q={}", urlencode("油煙"))), ["SD-001"]);
    assert_eq!(just(&format!("q={}", urlencode("采砂"))), ["SD-005"]);
    // Filters combine.
    assert_eq!(
        just(&format!(
            "supporter=luxian-zhzf&one_matter=true&{}",
            domain("生态环境")
        )),
        ["SD-001", "SD-003"]
    );
    assert_eq!(
        just(&format!("supporter=luxian-zhzf&q={}", urlencode("監管"))),
        ["SD-001", "SD-003"]
    );
    assert_eq!(just("lead=luxian-zjj&supporter=luxian-sthj"), ["SD-002"]);
    assert!(just("lead=luxian-zjj&one_matter=true").is_empty());

    // Pages.
    let page = expect_json(
        app.get_as(
            &format!("{}?page=2&page_size=4", matters_path(LUXIAN)),
            &token,
        ),
        200,
    );
    assert_eq!(
        codes(page["items"].as_array().unwrap()),
        ["SD-005", "SD-006"]
    );
    assert_eq!(
        (
            page["page"].as_i64(),
            page["page_size"].as_i64(),
            page["total"].as_i64()
        ),
        (Some(2), Some(4), Some(6))
    );
    assert_eq!(
        query("page=1&page_size=2"),
        (strings(&["SD-001", "SD-002"]), 6)
    );
    assert_eq!(
        query("page=2&page_size=2"),
        (strings(&["SD-003", "SD-004"]), 6)
    );
    assert_eq!(query("page=4&page_size=2"), (vec![], 6));
    assert_eq!(
        query("supporter=luxian-zhzf&page=2&page_size=2"),
        (strings(&["SD-005"]), 3)
    );
    for bad in ["page=0", "page_size=0", "page_size=501"] {
        expect_problem(
            app.get_as(&format!("{}?{bad}", matters_path(LUXIAN)), &token),
            422,
        );
    }
    expect_problem(
        app.get_as(
            &format!("{}?one_matter=maybe", matters_path(LUXIAN)),
            &token,
        ),
        400,
    );
    // 合江县's list is another list.
    let (hejiang, total) = {
        let page = expect_json(
            app.get_as(&matters_path(HEJIANG), &hejiang_compiler(&app)),
            200,
        );
        (page["items"].clone(), page["total"].clone())
    };
    assert_eq!((hejiang, total), (json!([]), json!(0)));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// =================================================================================
// 7. Duty admission (職責準入)
// =================================================================================

fn request_admission(
    app: &TestApp,
    token: &str,
    proposal: &Value,
    justification: &str,
) -> Response {
    app.post(
        &admissions_path(LUXIAN),
        token,
        &json!({"proposal": proposal, "justification": justification}),
    )
}

fn decide(app: &TestApp, id: i64, action: &str, if_match: Option<&str>, body: &Value) -> Response {
    app.send(
        Method::POST,
        &format!("/api/v1/duty-admissions/{id}/{action}"),
        &app.compiler(),
        if_match,
        body,
    )
}

fn admission(app: &TestApp, id: i64) -> Value {
    expect_json(
        app.get_as(&format!("/api/v1/duty-admissions/{id}"), &app.compiler()),
        200,
    )
}

const ADMITTED_NAME: &str = "电动自行车违规停放充电的处置";

fn admitted_proposal() -> Value {
    with(
        matter(
            "SD-050",
            ADMITTED_NAME,
            "luxian-zjj",
            &["luxian-yjj", "luxian-zhzf"],
        ),
        "/domain",
        json!("城乡建设"),
    )
}

#[test]
fn a_department_asks_for_a_matter_and_the_compiler_accepts_it_into_the_list() {
    let app = TestApp::with_demo();
    let zjj = app.officer("luxian-zjj");
    let before = app.audit_count();
    let proposal = admitted_proposal();
    let response = request_admission(
        &app,
        &zjj,
        &proposal,
        "住宅小区电动自行车充电引发火灾隐患，需明确牵头部门",
    );
    assert_eq!(etag_of(&response), "\"1\"");
    let asked = expect_json(response, 201);
    let id = asked["id"].as_i64().unwrap();
    assert_eq!(asked["status"], "pending");
    assert_eq!(asked["county"], LUXIAN);
    assert_eq!(asked["department"], "luxian-zjj");
    assert_eq!(asked["requested_by"], "department_officer@luxian-zjj");
    assert_eq!(asked["proposal"], proposal);
    assert_eq!(
        asked["justification"],
        "住宅小区电动自行车充电引发火灾隐患，需明确牵头部门"
    );
    assert!(asked["decided_at"].is_null() && asked["matter_code"].is_null());
    assert_eq!(app.audit_count(), before + 1);
    assert!(
        matters_of(&app, LUXIAN).is_empty(),
        "a request adds nothing yet"
    );
    assert_eq!(list_etag(&app, LUXIAN), "\"0\"");

    // Anyone of the county reads it; the requester too.
    let response = app.get_as(&format!("/api/v1/duty-admissions/{id}"), &zjj);
    assert_eq!(etag_of(&response), "\"1\"");
    assert_eq!(expect_json(response, 200), asked);
    assert_eq!(admission(&app, id), asked);

    // Acceptance needs the request's current ETag.
    let untouched = written(&app);
    expect_problem(decide(&app, id, "accept", None, &json!({})), 428);
    expect_problem(decide(&app, id, "accept", Some("\"2\""), &json!({})), 412);
    assert_eq!(written(&app), untouched);

    let response = decide(&app, id, "accept", Some("\"1\""), &json!({}));
    assert_eq!(etag_of(&response), "\"2\"");
    let accepted = expect_json(response, 200);
    assert_eq!(accepted["admission"]["status"], "accepted");
    assert_eq!(accepted["admission"]["matter_code"], "SD-050");
    assert_eq!(
        accepted["admission"]["decided_by"],
        "county_compiler@luxian-gov"
    );
    assert!(accepted["admission"]["decided_at"].is_string());
    assert!(accepted["admission"]["decision_reason"].is_null());
    assert_eq!(accepted["matter"]["code"], "SD-050");
    assert_eq!(accepted["matter"]["lead"]["department"], "luxian-zjj");
    assert_eq!(
        departments_of(&accepted["matter"]["supporters"]),
        ["luxian-yjj", "luxian-zhzf"]
    );
    let listed = matters_of(&app, LUXIAN);
    assert_eq!(codes(&listed), ["SD-050"]);
    assert_eq!(listed[0]["name"], ADMITTED_NAME);
    assert_eq!(listed[0], accepted["matter"]);
    assert_eq!(list_etag(&app, LUXIAN), "\"1\"", "the list moved on");
    assert_eq!(app.audit_count(), before + 3, "request, matter, acceptance");
    assert_eq!(admission(&app, id), accepted["admission"]);

    // Decided once only.
    let done = written(&app);
    expect_problem(decide(&app, id, "accept", Some("\"2\""), &json!({})), 409);
    expect_problem(
        decide(
            &app,
            id,
            "reject",
            Some("\"2\""),
            &json!({"reason": "重复"}),
        ),
        409,
    );
    expect_problem(decide(&app, id, "accept", Some("\"1\""), &json!({})), 412);
    assert_eq!(written(&app), done);
    expect_problem(decide(&app, 9999, "accept", Some("\"1\""), &json!({})), 404);
    expect_problem(
        app.get_as("/api/v1/duty-admissions/9999", &app.compiler()),
        404,
    );
}

#[test]
fn a_request_is_rejected_with_its_reason_and_adds_nothing() {
    let app = TestApp::with_demo();
    let sthj = app.officer("luxian-sthj");
    let asked = expect_json(
        request_admission(
            &app,
            &sthj,
            &matter(
                "SD-060",
                "农村散养畜禽粪污的处置",
                "luxian-nync",
                &["luxian-sthj"],
            ),
            "属农业面源污染，应由农业农村部门牵头",
        ),
        201,
    );
    let id = asked["id"].as_i64().unwrap();

    let before = written(&app);
    for body in [json!({"reason": ""}), json!({"reason": "   "})] {
        let problem = expect_problem(decide(&app, id, "reject", Some("\"1\""), &body), 422);
        assert_eq!(error_fields(&problem), ["reason"]);
    }
    expect_problem(decide(&app, id, "reject", Some("\"1\""), &json!({})), 400);
    expect_problem(
        decide(&app, id, "reject", None, &json!({"reason": "已有事项覆盖"})),
        428,
    );
    expect_problem(
        decide(
            &app,
            id,
            "reject",
            Some("\"7\""),
            &json!({"reason": "已有事项覆盖"}),
        ),
        412,
    );
    assert_eq!(written(&app), before, "no refused rejection wrote anything");

    let response = decide(
        &app,
        id,
        "reject",
        Some("\"1\""),
        &json!({"reason": "  已由《畜禽规模养殖污染防治条例》事项覆盖  "}),
    );
    assert_eq!(etag_of(&response), "\"2\"");
    let rejected = expect_json(response, 200);
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        rejected["decision_reason"],
        "已由《畜禽规模养殖污染防治条例》事项覆盖"
    );
    assert_eq!(rejected["decided_by"], "county_compiler@luxian-gov");
    assert!(rejected["matter_code"].is_null());
    assert_eq!(rejected["proposal"], asked["proposal"]);
    assert_eq!(admission(&app, id), rejected);
    assert!(matters_of(&app, LUXIAN).is_empty(), "no matter added");
    assert_eq!(list_etag(&app, LUXIAN), "\"0\"");
    assert_eq!(app.audit_count(), before.audit + 1);

    // A rejected request stays rejected.
    expect_problem(decide(&app, id, "accept", Some("\"2\""), &json!({})), 409);
    assert!(matters_of(&app, LUXIAN).is_empty());
}

#[test]
fn an_acceptance_obeys_every_rule_of_the_list_and_may_amend_the_proposal() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    create(
        &app,
        LUXIAN,
        &token,
        &matter("SD-001", OILY, "luxian-sthj", &["luxian-scjg"]),
    );
    let scjg = app.officer("luxian-scjg");

    // A proposal named like a matter already in the list: the request is taken, the
    // acceptance refused, and the request stays pending.
    let same_name = expect_json(
        request_admission(
            &app,
            &scjg,
            &matter("SD-070", OILY, "luxian-scjg", &["luxian-sthj"]),
            "餐饮油烟应由市场监管部门牵头",
        ),
        201,
    );
    let id = same_name["id"].as_i64().unwrap();
    let before = written(&app);
    let problem = expect_problem(decide(&app, id, "accept", Some("\"1\""), &json!({})), 422);
    assert_eq!(error_fields(&problem), ["name"], "{problem}");
    let still = admission(&app, id);
    assert_eq!(
        (still["status"].as_str(), still["revision"].as_i64()),
        (Some("pending"), Some(1))
    );
    assert_eq!(written(&app), before, "nothing written");

    // An amendment that breaks a rule is refused the same way.
    let problem = expect_problem(
        decide(
            &app,
            id,
            "accept",
            Some("\"1\""),
            &json!({"matter": with(matter("SD-070", "餐饮服务业油烟扰民的联合处置", "luxian-scjg", &["luxian-scjg"]), "/township_duties", json!([]))}),
        ),
        422,
    );
    assert_eq!(
        sorted(error_fields(&problem)),
        ["supporters[0].department", "township_duties"]
    );
    assert_eq!(written(&app), before);

    // A proposal whose code is taken: 409, still pending.
    let same_code = expect_json(
        request_admission(
            &app,
            &scjg,
            &matter("SD-001", "餐饮服务业食品安全的监管", "luxian-scjg", &[]),
            "餐饮食品安全需列入清单",
        ),
        201,
    );
    let code_id = same_code["id"].as_i64().unwrap();
    let before = written(&app);
    expect_problem(
        decide(&app, code_id, "accept", Some("\"1\""), &json!({})),
        409,
    );
    assert_eq!(admission(&app, code_id)["status"], "pending");
    assert_eq!(written(&app), before);

    // The compiler amends the proposal and accepts it.
    let amended = matter(
        "SD-070",
        "餐饮服务业油烟扰民的联合处置",
        "luxian-sthj",
        &["luxian-scjg", "luxian-zhzf"],
    );
    let accepted = expect_json(
        decide(
            &app,
            id,
            "accept",
            Some("\"1\""),
            &json!({"matter": amended}),
        ),
        200,
    );
    assert_eq!(accepted["admission"]["status"], "accepted");
    assert_eq!(accepted["admission"]["matter_code"], "SD-070");
    assert_eq!(
        accepted["admission"]["proposal"], same_name["proposal"],
        "the request keeps what was asked"
    );
    let added = expect_json(app.get_as(&matter_path(LUXIAN, "SD-070"), &token), 200);
    assert_eq!(added["name"], "餐饮服务业油烟扰民的联合处置");
    assert_eq!(added["lead"]["department"], "luxian-sthj");
    assert_eq!(codes(&matters_of(&app, LUXIAN)), ["SD-001", "SD-070"]);
    let accepted_code = expect_json(
        decide(
            &app,
            code_id,
            "accept",
            Some("\"1\""),
            &json!({"matter": with(same_code["proposal"].clone(), "/code", json!("SD-002"))}),
        ),
        200,
    );
    assert_eq!(accepted_code["admission"]["matter_code"], "SD-002");
    assert_eq!(
        codes(&matters_of(&app, LUXIAN)),
        ["SD-001", "SD-002", "SD-070"]
    );
}

#[test]
fn a_request_is_checked_and_only_a_department_of_the_county_may_ask() {
    let app = TestApp::with_demo();
    let zjj = app.officer("luxian-zjj");
    let before = written(&app);

    // An invalid proposal: every problem, prefixed with `proposal.`.
    let bad = with(
        with(
            with(
                admitted_proposal(),
                "/lead/department",
                json!("hejiang-zjj"),
            ),
            "/township_duties",
            json!([]),
        ),
        "/code",
        json!("sd 50"),
    );
    let problem = expect_problem(request_admission(&app, &zjj, &bad, "需要"), 422);
    assert_eq!(
        sorted(error_fields(&problem)),
        [
            "proposal.code",
            "proposal.lead.department",
            "proposal.township_duties"
        ],
        "{problem}"
    );
    let problem = expect_problem(
        request_admission(
            &app,
            &zjj,
            &with(
                admitted_proposal(),
                "/supporters/0/department",
                json!("luxian-zjj"),
            ),
            "  ",
        ),
        422,
    );
    assert_eq!(
        sorted(error_fields(&problem)),
        ["justification", "proposal.supporters[0].department"]
    );

    // Only an officer of one of the county's departments.
    let proposal = admitted_proposal();
    for (who, token) in [
        ("the justice bureau", app.officer("luxian-sfj")),
        ("the county government", app.officer("luxian-gov")),
        (
            "a department of 合江县 with a 泸县 token",
            app.officer("hejiang-zjj"),
        ),
        ("an unknown organisation", app.officer("nobody")),
        (
            "a township unit",
            app.token(&["department_officer"], LUXIAN, "luxian-yuchan-zfd"),
        ),
        (
            "an officer of 合江县",
            app.token(&["department_officer"], HEJIANG, "hejiang-zjj"),
        ),
        ("the compiler", app.compiler()),
        ("a township clerk", app.clerk(YUCHAN)),
    ] {
        let problem = expect_problem(request_admission(&app, &token, &proposal, "需要"), 403);
        assert!(problem["detail"].is_string(), "{who}");
    }
    expect_problem(
        app.request(Method::POST, &admissions_path(LUXIAN), None)
            .json(&json!({"proposal": proposal, "justification": "需要"}))
            .send()
            .unwrap(),
        401,
    );
    assert_eq!(written(&app), before, "nothing was written");

    // An officer may not decide.
    let id = expect_json(request_admission(&app, &zjj, &proposal, "需要明确"), 201)["id"]
        .as_i64()
        .unwrap();
    for token in [zjj.clone(), hejiang_compiler(&app), app.clerk(YUCHAN)] {
        expect_problem(
            app.send(
                Method::POST,
                &format!("/api/v1/duty-admissions/{id}/accept"),
                &token,
                Some("\"1\""),
                &json!({}),
            ),
            403,
        );
        expect_problem(
            app.send(
                Method::POST,
                &format!("/api/v1/duty-admissions/{id}/reject"),
                &token,
                Some("\"1\""),
                &json!({"reason": "不属于"}),
            ),
            403,
        );
    }
    assert_eq!(admission(&app, id)["status"], "pending");
    // Another county does not read it.
    expect_problem(
        app.get_as(
            &format!("/api/v1/duty-admissions/{id}"),
            &hejiang_compiler(&app),
        ),
        403,
    );
    expect_problem(
        app.get_as(&admissions_path(LUXIAN), &hejiang_compiler(&app)),
        403,
    );
}

#[test]
fn admission_requests_are_listed_newest_first_and_by_status() {
    let app = TestApp::with_demo();
    let mut ids = Vec::new();
    for (i, (org, lead)) in [
        ("luxian-zjj", "luxian-zjj"),
        ("luxian-sthj", "luxian-sthj"),
        ("luxian-nync", "luxian-nync"),
        ("luxian-yjj", "luxian-yjj"),
    ]
    .into_iter()
    .enumerate()
    {
        let proposal = matter(&format!("AD-{i}"), &format!("准入申请事项{i}"), lead, &[]);
        let asked = expect_json(
            request_admission(&app, &app.officer(org), &proposal, "需要"),
            201,
        );
        ids.push(asked["id"].as_i64().unwrap());
    }
    expect_json(
        decide(&app, ids[0], "accept", Some("\"1\""), &json!({})),
        200,
    );
    expect_json(
        decide(
            &app,
            ids[2],
            "reject",
            Some("\"1\""),
            &json!({"reason": "不属于属地管理事项"}),
        ),
        200,
    );

    let list = |q: &str, token: &str| -> (Vec<i64>, i64) {
        let page = expect_json(
            app.get_as(&format!("{}{q}", admissions_path(LUXIAN)), token),
            200,
        );
        (
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_i64().unwrap())
                .collect(),
            page["total"].as_i64().unwrap(),
        )
    };
    let token = app.compiler();
    assert_eq!(list("", &token), (vec![ids[3], ids[2], ids[1], ids[0]], 4));
    assert_eq!(list("?status=pending", &token), (vec![ids[3], ids[1]], 2));
    assert_eq!(list("?status=accepted", &token), (vec![ids[0]], 1));
    assert_eq!(list("?status=rejected", &token), (vec![ids[2]], 1));
    assert_eq!(list("?page=2&page_size=3", &token), (vec![ids[0]], 4));
    assert_eq!(
        list("?status=pending", &app.officer("luxian-zjj")),
        (vec![ids[3], ids[1]], 2),
        "departments read the requests"
    );
    assert_eq!(
        list("", &app.clerk(YUCHAN)).1,
        4,
        "so do the county's townships"
    );
    expect_problem(
        app.get_as(&format!("{}?status=maybe", admissions_path(LUXIAN)), &token),
        400,
    );
    let hejiang = expect_json(
        app.get_as(&admissions_path(HEJIANG), &hejiang_compiler(&app)),
        200,
    );
    assert_eq!(hejiang["total"], 0);
    let pending = admission(&app, ids[1]);
    assert_eq!(pending["department"], "luxian-sthj");
    assert_eq!(pending["status"], "pending");
}

// =================================================================================
// 8. Who may do what
// =================================================================================

#[test]
fn only_the_countys_compiler_writes_the_list_and_only_the_county_reads_it() {
    let app = TestApp::with_demo();
    let body = matter("SD-001", OILY, "luxian-sthj", &["luxian-scjg"]);
    create(&app, LUXIAN, &app.compiler(), &body);
    let other = matter("SD-002", "建筑施工扬尘污染的监管", "luxian-zjj", &[]);
    let import_body = serde_json::to_vec(&json!({"matters": [body.clone()]})).unwrap();
    let before = written(&app);

    let writes = |token: Option<&str>, status: u16, who: &str| {
        let post = app
            .request(Method::POST, &matters_path(LUXIAN), token)
            .json(&other)
            .send()
            .unwrap();
        assert_eq!(post.status(), status, "{who}: POST");
        let put = app
            .request(Method::PUT, &matter_path(LUXIAN, "SD-001"), token)
            .header("If-Match", "\"1\"")
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(put.status(), status, "{who}: PUT");
        let delete = app
            .request(Method::DELETE, &matter_path(LUXIAN, "SD-001"), token)
            .header("If-Match", "\"1\"")
            .send()
            .unwrap();
        assert_eq!(delete.status(), status, "{who}: DELETE");
        let import = app
            .request(
                Method::POST,
                &format!("{}/import", list_path(LUXIAN)),
                token,
            )
            .header("Content-Type", "application/json")
            .header("If-Match", "\"1\"")
            .body(import_body.clone())
            .send()
            .unwrap();
        assert_eq!(import.status(), status, "{who}: import");
        let dry = app
            .request(
                Method::POST,
                &format!("{}/import?dry_run=true", list_path(LUXIAN)),
                token,
            )
            .header("Content-Type", "application/json")
            .body(import_body.clone())
            .send()
            .unwrap();
        assert_eq!(dry.status(), status, "{who}: dry-run import");
    };
    writes(Some(&hejiang_compiler(&app)), 403, "合江县's compiler");
    writes(
        Some(&app.officer("luxian-sthj")),
        403,
        "a department officer",
    );
    writes(
        Some(&app.clerk(YUCHAN)),
        403,
        "a township clerk of the county",
    );
    writes(Some(&app.admin()), 403, "the province catalogue admin");
    writes(
        Some(&app.token(&["auditor"], LUXIAN, "luxian-gov")),
        403,
        "the county's auditor",
    );
    writes(
        Some(&app.token(&["county_compiler"], YUCHAN, "clerk-org")),
        403,
        "a compiler role acting in a township",
    );
    writes(None, 401, "no token");
    assert_eq!(written(&app), before, "nothing was written");

    let reads = [
        list_path(LUXIAN),
        matters_path(LUXIAN),
        matter_path(LUXIAN, "SD-001"),
        format!("{}/export", list_path(LUXIAN)),
        format!("{}/export?format=csv", list_path(LUXIAN)),
        format!("{}/statistics", list_path(LUXIAN)),
        admissions_path(LUXIAN),
    ];
    for (who, token, status) in [
        ("the compiler", Some(app.compiler()), 200),
        (
            "a department officer",
            Some(app.officer("luxian-sthj")),
            200,
        ),
        (
            "a township clerk of the county",
            Some(app.clerk(YUCHAN)),
            200,
        ),
        (
            "a township clerk of another township",
            Some(app.clerk("510521101000")),
            200,
        ),
        ("the province auditor", Some(auditor(&app)), 200),
        ("合江县's compiler", Some(hejiang_compiler(&app)), 403),
        (
            "a township clerk of 合江县",
            Some(app.clerk(HEJIANG_TOWN)),
            403,
        ),
        ("the province catalogue admin", Some(app.admin()), 403),
        ("no token", None, 401),
    ] {
        for path in &reads {
            let response = app
                .request(Method::GET, path, token.as_deref())
                .send()
                .unwrap();
            assert_eq!(response.status(), status, "{who}: GET {path}");
        }
    }
    let read = expect_json(
        app.get_as(&matter_path(LUXIAN, "SD-001"), &app.clerk(YUCHAN)),
        200,
    );
    assert_eq!(read["lead"]["department"], "luxian-sthj");

    // 合江县's compiler writes its own list.
    create(
        &app,
        HEJIANG,
        &hejiang_compiler(&app),
        &matter("HJ-001", OILY, "hejiang-sthj", &["hejiang-scjg"]),
    );
    expect_problem(
        app.post(
            &matters_path(HEJIANG),
            &app.compiler(),
            &matter("HJ-002", "建筑施工扬尘污染的监管", "hejiang-zjj", &[]),
        ),
        403,
    );
    assert_eq!(codes(&matters_of(&app, HEJIANG)), ["HJ-001"]);
    assert_eq!(written(&app).luxian, before.luxian);
}

// =================================================================================
// Concurrency
// =================================================================================

/// Runs `n` requests at once and returns their statuses in order.
fn at_once(n: usize, request: impl Fn(usize) -> Response + Sync) -> Vec<u16> {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let request = &request;
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    request(i).status().as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn matters_added_at_once_to_a_list_all_land_and_each_moves_the_revision() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    create(
        &app,
        LUXIAN,
        &token,
        &matter("SD-000", OILY, "luxian-sthj", &[]),
    );
    let statuses = at_once(8, |i| {
        app.post(
            &matters_path(LUXIAN),
            &token,
            &matter(
                &format!("SD-{:03}", i + 1),
                &format!("并发事项{i}"),
                "luxian-zjj",
                &[],
            ),
        )
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let header = expect_json(app.get_as(&list_path(LUXIAN), &token), 200);
    assert_eq!(
        (header["revision"].as_i64(), header["matters"].as_i64()),
        (Some(9), Some(9))
    );

    // Replacements with the same ETag at once: one wins, the others are told it moved.
    let statuses = at_once(6, |i| {
        app.send(
            Method::PUT,
            &matter_path(LUXIAN, "SD-000"),
            &token,
            Some("\"1\""),
            &with(
                matter("SD-000", OILY, "luxian-sthj", &[]),
                "/lead_response_minutes",
                json!(10 + i),
            ),
        )
    });
    let mut counted: BTreeMap<u16, usize> = BTreeMap::new();
    for s in &statuses {
        *counted.entry(*s).or_default() += 1;
    }
    assert_eq!(
        counted,
        BTreeMap::from([(200, 1), (412, 5)]),
        "{statuses:?}"
    );
    let read = expect_json(app.get_as(&matter_path(LUXIAN, "SD-000"), &token), 200);
    assert_eq!(read["revision"], 2);
    assert_eq!(list_etag(&app, LUXIAN), "\"10\"");
}

#[test]

fn the_first_matters_of_an_empty_list_added_at_once_all_land() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let statuses = at_once(8, |i| {
        app.post(
            &matters_path(LUXIAN),
            &token,
            &matter(
                &format!("SD-{:03}", i + 1),
                &format!("并发事项{i}"),
                "luxian-zjj",
                &[],
            ),
        )
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let header = expect_json(app.get_as(&list_path(LUXIAN), &token), 200);
    assert_eq!(
        (header["revision"].as_i64(), header["matters"].as_i64()),
        (Some(8), Some(8))
    );
}

#[test]

fn of_imports_into_an_empty_list_at_once_one_wins_and_the_others_are_told_the_list_moved() {
    let app = TestApp::with_demo();
    let statuses = at_once(6, |i| {
        import_json(
            &app,
            LUXIAN,
            &[matter(
                &format!("SD-{:03}", i + 1),
                &format!("并发事项{i}"),
                "luxian-zjj",
                &[],
            )],
            Some("\"0\""),
            false,
        )
    });
    let mut counted: BTreeMap<u16, usize> = BTreeMap::new();
    for s in &statuses {
        *counted.entry(*s).or_default() += 1;
    }
    assert_eq!(
        counted,
        BTreeMap::from([(200, 1), (412, 5)]),
        "{statuses:?}"
    );
    assert_eq!(matters_of(&app, LUXIAN).len(), 1);
    assert_eq!(list_etag(&app, LUXIAN), "\"1\"");
}
