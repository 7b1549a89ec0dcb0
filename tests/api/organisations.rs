//! Organisations: CRUD with optimistic concurrency, the rules on kind, sector and region,
//! imports and list filters.

use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

const ORGS: &str = "/api/v1/organisations";
const IMPORT: &str = "/api/v1/organisations/import";

fn org(code: &str, name: &str, kind: &str, sector: Option<&str>, region: &str) -> Value {
    json!({"code": code, "name": name, "kind": kind, "sector": sector, "region": region})
}

fn delete(app: &TestApp, path: &str, token: &str, if_match: Option<&str>) -> Response {
    let mut builder = app.request(Method::DELETE, path, Some(token));
    if let Some(etag) = if_match {
        builder = builder.header("If-Match", etag);
    }
    builder.send().unwrap()
}

fn import_csv(app: &TestApp, path: &str, token: &str, csv: &str) -> Response {
    app.request(Method::POST, path, Some(token))
        .header("Content-Type", "text/csv")
        .body(csv.to_string())
        .send()
        .unwrap()
}

fn row_fields(problem: &Value) -> Vec<(i64, String)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap_or(-1),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn report(body: &Value) -> (bool, i64, i64, i64, i64) {
    (
        body["dry_run"].as_bool().unwrap(),
        body["rows"].as_i64().unwrap(),
        body["created"].as_i64().unwrap(),
        body["updated"].as_i64().unwrap(),
        body["unchanged"].as_i64().unwrap(),
    )
}

fn codes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn create_read_update_delete_with_etags() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let path = format!("{ORGS}/luxian-lyj");
    let response = app.post(
        ORGS,
        &token,
        &org(
            "luxian-lyj",
            "泸县林业局",
            "department",
            Some("forestry"),
            LUXIAN,
        ),
    );
    assert_eq!(etag_of(&response), "\"1\"");
    let created = expect_json(response, 201);
    assert_eq!(created["code"], "luxian-lyj");
    assert_eq!(created["name"], "泸县林业局");
    assert_eq!(created["kind"], "department");
    assert_eq!(created["sector"], "forestry");
    assert_eq!(created["region"], LUXIAN);
    assert_eq!(created["revision"], 1);
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());

    let response = app.get_as(&path, &token);
    assert_eq!(etag_of(&response), "\"1\"");
    assert_eq!(expect_json(response, 200), created);

    let renamed = org(
        "luxian-lyj",
        "泸县林业和草原局",
        "department",
        Some("forestry"),
        LUXIAN,
    );
    expect_problem(app.send(Method::PUT, &path, &token, None, &renamed), 428);
    let stale = app.send(Method::PUT, &path, &token, Some("\"7\""), &renamed);
    assert_eq!(etag_of(&stale), "\"1\"", "a 412 tells the current ETag");
    expect_problem(stale, 412);
    expect_problem(
        app.send(Method::PUT, &path, &token, Some("1-ish"), &renamed),
        400,
    );
    assert_eq!(
        expect_json(app.get_as(&path, &token), 200)["name"],
        "泸县林业局"
    );

    let response = app.send(Method::PUT, &path, &token, Some("\"1\""), &renamed);
    assert_eq!(etag_of(&response), "\"2\"");
    let updated = expect_json(response, 200);
    assert_eq!(updated["name"], "泸县林业和草原局");
    assert_eq!(updated["revision"], 2);
    assert_eq!(updated["created_at"], created["created_at"]);
    // The old ETag is now stale.
    let again = org(
        "luxian-lyj",
        "泸县林业局（又改）",
        "department",
        Some("forestry"),
        LUXIAN,
    );
    expect_problem(
        app.send(Method::PUT, &path, &token, Some("\"1\""), &again),
        412,
    );
    assert_eq!(app.etag(&path, &token), "\"2\"");

    expect_problem(delete(&app, &path, &token, None), 428);
    expect_problem(delete(&app, &path, &token, Some("\"1\"")), 412);
    expect_json(app.get_as(&path, &token), 200);
    let response = delete(&app, &path, &token, Some("\"2\""));
    assert_eq!(response.status(), 204);
    assert!(response.text().unwrap().is_empty());
    expect_problem(app.get_as(&path, &token), 404);
    expect_problem(delete(&app, &path, &token, Some("\"2\"")), 404);
    expect_problem(
        app.send(Method::PUT, &path, &token, Some("\"2\""), &renamed),
        404,
    );
    // The code is free again.
    expect_json(
        app.post(
            ORGS,
            &token,
            &org(
                "luxian-lyj",
                "泸县林业局",
                "department",
                Some("forestry"),
                LUXIAN,
            ),
        ),
        201,
    );
}

#[test]
fn every_change_is_audited_and_failures_are_not() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let before = app.audit_count();
    let response = app.post(
        ORGS,
        &token,
        &org(
            "luxian-tyj",
            "泸县退役军人事务局",
            "department",
            Some("veterans_affairs"),
            LUXIAN,
        ),
    );
    let etag = etag_of(&response);
    expect_json(response, 201);
    let renamed = org(
        "luxian-tyj",
        "泸县退役军人局",
        "department",
        Some("veterans_affairs"),
        LUXIAN,
    );
    expect_problem(
        app.send(
            Method::PUT,
            &format!("{ORGS}/luxian-tyj"),
            &token,
            Some("\"9\""),
            &renamed,
        ),
        412,
    );
    let response = app.send(
        Method::PUT,
        &format!("{ORGS}/luxian-tyj"),
        &token,
        Some(&etag),
        &renamed,
    );
    let etag = etag_of(&response);
    expect_json(response, 200);
    expect_problem(
        app.post(
            ORGS,
            &token,
            &org("luxian-tyj", "又一个", "justice_bureau", None, LUXIAN),
        ),
        409,
    );
    assert_eq!(
        delete(&app, &format!("{ORGS}/luxian-tyj"), &token, Some(&etag)).status(),
        204
    );
    assert_eq!(app.audit_count(), before + 3);
    let auditor = app.token_for("auditor", PROVINCE);
    let events = expect_json(
        app.get_as(
            "/api/v1/audit?entity_type=organisation&entity_id=luxian-tyj",
            &auditor,
        ),
        200,
    );
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "organisation.create",
            "organisation.update",
            "organisation.delete"
        ]
    );
    assert!(events["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["region_code"] == LUXIAN && e["actor_org"] == "luxian-gov"));
}

#[test]
fn duplicate_codes_and_names_are_409() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let admin = app.admin();
    let before = app.audit_count();
    // The code is taken (in this county, and in another one).
    let problem = expect_problem(
        app.post(
            ORGS,
            &token,
            &org(
                "luxian-zrzy",
                "泸县另一个局",
                "justice_bureau",
                None,
                LUXIAN,
            ),
        ),
        409,
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("luxian-zrzy"),
        "{problem}"
    );
    expect_problem(
        app.post(
            ORGS,
            &admin,
            &org(
                "hejiang-zrzy",
                "泸县又一个局",
                "justice_bureau",
                None,
                LUXIAN,
            ),
        ),
        409,
    );
    // The name is taken in the same region.
    let problem = expect_problem(
        app.post(
            ORGS,
            &token,
            &org(
                "luxian-zrzy2",
                "泸县自然资源和规划局",
                "department",
                Some("natural_resources"),
                LUXIAN,
            ),
        ),
        409,
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("泸县自然资源和规划局"),
        "{problem}"
    );
    expect_problem(
        app.post(
            ORGS,
            &token,
            &org(
                "yuchan-zfd2",
                "玉蟾街道综合行政执法队",
                "township_unit",
                None,
                YUCHAN,
            ),
        ),
        409,
    );
    assert_eq!(app.audit_count(), before, "nothing was written");
    // The same name in another region is fine.
    expect_json(
        app.post(
            ORGS,
            &admin,
            &org(
                "hejiang-copy",
                "泸县自然资源和规划局",
                "department",
                Some("natural_resources"),
                HEJIANG,
            ),
        ),
        201,
    );
    expect_json(
        app.post(
            ORGS,
            &token,
            &org(
                "fuji-dup-name",
                "玉蟾街道综合行政执法队",
                "township_unit",
                None,
                FUJI,
            ),
        ),
        201,
    );
    // Renaming onto a taken name is a conflict too; keeping one's own name is not.
    let etag = app.etag(&format!("{ORGS}/luxian-sthj"), &token);
    let onto = org(
        "luxian-sthj",
        "泸县自然资源和规划局",
        "department",
        Some("ecology_environment"),
        LUXIAN,
    );
    expect_problem(
        app.send(
            Method::PUT,
            &format!("{ORGS}/luxian-sthj"),
            &token,
            Some(&etag),
            &onto,
        ),
        409,
    );
    let same = org(
        "luxian-sthj",
        "泸州市生态环境局泸县分局",
        "department",
        Some("ecology_environment"),
        LUXIAN,
    );
    expect_json(
        app.send(
            Method::PUT,
            &format!("{ORGS}/luxian-sthj"),
            &token,
            Some(&etag),
            &same,
        ),
        200,
    );
}

#[test]
fn kind_sector_and_region_rules_are_422() {
    let app = TestApp::with_demo();
    let token = app.admin();
    let before = app.audit_count();
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "department without sector",
            org("x-dept", "无领域局", "department", None, LUXIAN),
            vec!["sector"],
        ),
        (
            "unknown sector",
            org(
                "x-sector",
                "未知领域局",
                "department",
                Some("space_travel"),
                LUXIAN,
            ),
            vec!["sector"],
        ),
        (
            "unknown sector on a unit",
            org(
                "x-unit",
                "未知领域队",
                "township_unit",
                Some("magic"),
                YUCHAN,
            ),
            vec!["sector"],
        ),
        (
            "township unit in a county",
            org("x-tu", "县级的队", "township_unit", None, LUXIAN),
            vec!["region"],
        ),
        (
            "department in a township",
            org("x-dt", "镇里的局", "department", Some("other"), YUCHAN),
            vec!["region"],
        ),
        (
            "justice bureau in a township",
            org("x-jt", "镇里的司法局", "justice_bureau", None, FUJI),
            vec!["region"],
        ),
        (
            "county government in a province",
            org("x-gp", "省里的县政府", "county_government", None, PROVINCE),
            vec!["region"],
        ),
        (
            "an unregistered county",
            org(
                "x-unreg",
                "未登记县的局",
                "justice_bureau",
                None,
                "510523000000",
            ),
            vec!["region"],
        ),
        (
            "an unregistered township",
            org(
                "x-unreg2",
                "未登记镇的队",
                "township_unit",
                None,
                "510521199000",
            ),
            vec!["region"],
        ),
        (
            "a malformed region",
            org("x-bad", "坏区划", "justice_bureau", None, "5105"),
            vec!["region"],
        ),
        (
            "a bad code",
            org("Bad Code", "坏代码局", "justice_bureau", None, LUXIAN),
            vec!["code"],
        ),
        (
            "an empty name",
            org("x-empty", "", "justice_bureau", None, LUXIAN),
            vec!["name"],
        ),
        (
            "several field rules at once",
            org("X", "", "justice_bureau", None, LUXIAN),
            vec!["code", "name"],
        ),
        (
            "several domain rules at once",
            org("x-many", "多处错误", "department", None, YUCHAN),
            vec!["sector", "region"],
        ),
        // Code and name rules are reported together with those of kind, sector and
        // region: one answer lists every problem.
        (
            "field and domain rules at once",
            org("X", "", "department", None, YUCHAN),
            vec!["code", "name", "sector", "region"],
        ),
    ];
    let mut failures = Vec::new();
    for (label, body, fields) in cases {
        let response = app.post(ORGS, &token, &body);
        let status = response.status().as_u16();
        let problem: Value = response.json().unwrap_or(Value::Null);
        let mut got = error_fields(&problem);
        got.sort();
        got.dedup();
        let mut want: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        want.sort();
        if status != 422 || got != want {
            failures.push(format!(
                "{label}: expected 422 with {want:?}, got {status} {problem}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Bodies that do not parse are 400.
    expect_problem(
        app.post(
            ORGS,
            &token,
            &org("x-kind", "怪局", "ministry", None, LUXIAN),
        ),
        400,
    );
    let mut extra = org("x-extra", "多字段局", "justice_bureau", None, LUXIAN);
    extra["colour"] = json!("red");
    expect_problem(app.post(ORGS, &token, &extra), 400);
    assert_eq!(app.audit_count(), before, "nothing was written");
    // A sector on a non-department is allowed when it is known.
    let created = expect_json(
        app.post(
            ORGS,
            &token,
            &org(
                "x-jb",
                "带领域的司法局",
                "justice_bureau",
                Some("other"),
                HEJIANG,
            ),
        ),
        201,
    );
    assert_eq!(created["sector"], "other");
}

#[test]
fn code_and_region_cannot_change_on_update() {
    let app = TestApp::with_demo();
    let token = app.admin();
    let path = format!("{ORGS}/luxian-zrzy");
    let etag = app.etag(&path, &token);
    let before = app.audit_count();
    let cases = [
        (
            "code",
            org(
                "luxian-zrzy-2",
                "泸县自然资源和规划局",
                "department",
                Some("natural_resources"),
                LUXIAN,
            ),
        ),
        (
            "region",
            org(
                "luxian-zrzy",
                "泸县自然资源和规划局",
                "department",
                Some("natural_resources"),
                HEJIANG,
            ),
        ),
        (
            "region",
            org(
                "luxian-zrzy",
                "泸县自然资源和规划局",
                "township_unit",
                Some("natural_resources"),
                YUCHAN,
            ),
        ),
        // The kind may change, but not to one of another level.
        (
            "region",
            org(
                "luxian-zrzy",
                "泸县自然资源和规划局",
                "township_unit",
                None,
                LUXIAN,
            ),
        ),
        (
            "sector",
            org(
                "luxian-zrzy",
                "泸县自然资源和规划局",
                "department",
                None,
                LUXIAN,
            ),
        ),
        (
            "sector",
            org(
                "luxian-zrzy",
                "泸县自然资源和规划局",
                "department",
                Some("nope"),
                LUXIAN,
            ),
        ),
    ];
    for (field, body) in cases {
        let problem = expect_problem(
            app.send(Method::PUT, &path, &token, Some(&etag), &body),
            422,
        );
        assert_eq!(error_fields(&problem), vec![field], "{body} -> {problem}");
    }
    let unchanged = expect_json(app.get_as(&path, &token), 200);
    assert_eq!(unchanged["revision"], 1);
    assert_eq!(unchanged["region"], LUXIAN);
    assert_eq!(unchanged["kind"], "department");
    expect_problem(app.get_as(&format!("{ORGS}/luxian-zrzy-2"), &token), 404);
    assert_eq!(app.audit_count(), before);
    // Name, kind and sector do change.
    let body = org("luxian-zrzy", "泸县规划局", "approval_bureau", None, LUXIAN);
    let updated = expect_json(
        app.send(Method::PUT, &path, &token, Some(&etag), &body),
        200,
    );
    assert_eq!(
        (
            &updated["name"],
            &updated["kind"],
            &updated["sector"],
            &updated["revision"]
        ),
        (
            &json!("泸县规划局"),
            &json!("approval_bureau"),
            &Value::Null,
            &json!(2)
        )
    );
}

#[test]
fn json_import_creates_updates_and_counts_unchanged() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let before = app.audit_count();
    let rows = json!([
        org(
            "luxian-jtj",
            "泸县交通运输局",
            "department",
            Some("transport"),
            LUXIAN
        ),
        org(
            "luxian-zrzy",
            "泸县自然资源局",
            "department",
            Some("natural_resources"),
            LUXIAN
        ),
        org(
            "luxian-sthj",
            "泸州市生态环境局泸县分局",
            "department",
            Some("ecology_environment"),
            LUXIAN
        ),
        org(
            "luxian-yuchan-bmzx",
            "玉蟾街道便民服务中心",
            "township_unit",
            Some("other"),
            YUCHAN
        ),
        org(
            "luxian-jiaming-wsy",
            "嘉明镇卫生院",
            "township_unit",
            Some("health"),
            "510521101000"
        )
    ]);
    // A dry run first: the same counts, nothing written.
    let dry = expect_json(
        app.post(&format!("{IMPORT}?dry_run=true"), &token, &rows),
        200,
    );
    assert_eq!(report(&dry), (true, 5, 2, 2, 1), "{dry}");
    expect_problem(app.get_as(&format!("{ORGS}/luxian-jtj"), &token), 404);
    assert_eq!(app.audit_count(), before);

    let body = expect_json(app.post(IMPORT, &token, &rows), 200);
    assert_eq!(report(&body), (false, 5, 2, 2, 1), "{body}");
    assert!(app.audit_count() > before, "the import is audited");
    let zrzy = expect_json(app.get_as(&format!("{ORGS}/luxian-zrzy"), &token), 200);
    assert_eq!(
        (&zrzy["name"], &zrzy["revision"]),
        (&json!("泸县自然资源局"), &json!(2))
    );
    let sthj = expect_json(app.get_as(&format!("{ORGS}/luxian-sthj"), &token), 200);
    assert_eq!(sthj["revision"], 1, "an unchanged row keeps its revision");
    let bmzx = expect_json(
        app.get_as(&format!("{ORGS}/luxian-yuchan-bmzx"), &token),
        200,
    );
    assert_eq!(
        (&bmzx["sector"], &bmzx["revision"]),
        (&json!("other"), &json!(2))
    );
    let new = expect_json(
        app.get_as(&format!("{ORGS}/luxian-jiaming-wsy"), &token),
        200,
    );
    assert_eq!(
        (&new["kind"], &new["region"], &new["revision"]),
        (&json!("township_unit"), &json!("510521101000"), &json!(1))
    );
    // The same file again is all unchanged.
    let body = expect_json(app.post(IMPORT, &token, &rows), 200);
    assert_eq!(report(&body), (false, 5, 0, 0, 5), "{body}");
}

#[test]
fn import_errors_name_each_row_and_field_and_nothing_is_written() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let before = app.audit_count();
    let rows = json!([
        org("ok-1", "泸县新局一", "department", Some("other"), LUXIAN),
        org("bad-2", "泸县无领域局", "department", None, LUXIAN),
        org(
            "bad-3",
            "泸县怪领域局",
            "department",
            Some("alchemy"),
            LUXIAN
        ),
        org("bad-4", "县里的队", "township_unit", None, LUXIAN),
        org("bad-5", "合江县的局", "justice_bureau", None, HEJIANG),
        org(
            "hejiang-zrzy",
            "搬家的局",
            "department",
            Some("natural_resources"),
            LUXIAN
        ),
        org("ok-1", "泸县新局七", "department", Some("other"), LUXIAN),
        org("ok-8", "泸县新局一", "department", Some("other"), LUXIAN),
        org(
            "bad-9",
            "未登记镇的队",
            "township_unit",
            None,
            "510521199000"
        )
    ]);
    let problem = expect_problem(app.post(IMPORT, &token, &rows), 422);
    assert_eq!(
        row_fields(&problem),
        vec![
            (2, "sector".into()),
            (3, "sector".into()),
            (4, "region".into()),
            (5, "region".into()),
            (6, "region".into()),
            (7, "code".into()),
            (8, "name".into()),
            (9, "region".into()),
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
    // A dry run answers the same.
    let dry = expect_problem(
        app.post(&format!("{IMPORT}?dry_run=true"), &token, &rows),
        422,
    );
    assert_eq!(row_fields(&dry), row_fields(&problem));
    expect_problem(app.get_as(&format!("{ORGS}/ok-1"), &token), 404);
    assert_eq!(
        expect_json(
            app.get_as(&format!("{ORGS}/hejiang-zrzy"), &app.admin()),
            200
        )["region"],
        HEJIANG
    );
    assert_eq!(app.audit_count(), before);
    // A JSON row of the wrong shape is a 400 naming the row.
    let problem = expect_problem(
        app.post(
            IMPORT,
            &token,
            &json!([
                org("ok-1", "甲", "justice_bureau", None, LUXIAN),
                org("x", "乙", "bureau", None, LUXIAN)
            ]),
        ),
        400,
    );
    assert_eq!(error_fields(&problem), vec!["[1].kind"]);
}

#[test]
fn csv_import_with_rows_counted_from_the_header() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let csv = "code,name,kind,sector,region\n\
               luxian-jyj,泸县教育和体育局,department,education,510521000000\n\
               luxian-sfj,泸县司法局,justice_bureau,,510521000000\n\
               luxian-fuji-wsy,福集镇卫生院,township_unit,health,510521100000\n";
    let body = expect_json(import_csv(&app, IMPORT, &token, csv), 200);
    assert_eq!(report(&body), (false, 3, 2, 0, 1), "{body}");
    let jyj = expect_json(app.get_as(&format!("{ORGS}/luxian-jyj"), &token), 200);
    assert_eq!(
        (&jyj["sector"], &jyj["kind"]),
        (&json!("education"), &json!("department"))
    );
    let sfj = expect_json(app.get_as(&format!("{ORGS}/luxian-sfj"), &token), 200);
    assert!(sfj["sector"].is_null(), "an empty cell is no sector");

    let before = app.audit_count();
    let bad = "code,name,kind,sector,region\n\
               luxian-ok,泸县新局,justice_bureau,,510521000000\n\
               luxian-nosector,泸县无领域局,department,,510521000000\n\
               luxian-out,合江的局,justice_bureau,,510522000000\n";
    let problem = expect_problem(import_csv(&app, IMPORT, &token, bad), 422);
    assert_eq!(
        row_fields(&problem),
        vec![(3, "sector".into()), (4, "region".into())]
    );
    let unparsable = "code,name,kind,sector,region\n\
                      luxian-ok,泸县新局,justice_bureau,,510521000000\n\
                      luxian-odd,泸县怪局,ministry,,510521000000\n";
    let problem = expect_problem(import_csv(&app, IMPORT, &token, unparsable), 400);
    assert_eq!(problem["errors"].as_array().unwrap().len(), 1, "{problem}");
    assert_eq!(problem["errors"][0]["row"], 3, "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ministry"),
        "{problem}"
    );
    expect_problem(app.get_as(&format!("{ORGS}/luxian-ok"), &token), 404);
    assert_eq!(app.audit_count(), before);
    // Imports need the right to manage organisations.
    expect_problem(
        import_csv(
            &app,
            IMPORT,
            &app.token_for("department_officer", LUXIAN),
            csv,
        ),
        403,
    );
    expect_problem(
        app.request(Method::POST, IMPORT, None)
            .json(&json!([]))
            .send()
            .unwrap(),
        401,
    );
}

#[test]
fn an_imported_name_taken_by_a_stored_organisation_is_a_row_error() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let rows = json!([
        org("luxian-new", "泸县新局", "justice_bureau", None, LUXIAN),
        org(
            "luxian-zrzy-copy",
            "泸县自然资源和规划局",
            "department",
            Some("natural_resources"),
            LUXIAN
        )
    ]);
    let problem = expect_problem(app.post(IMPORT, &token, &rows), 422);
    assert_eq!(row_fields(&problem), vec![(2, "name".into())]);
    // A dry run must find it too.
    let problem = expect_problem(
        app.post(&format!("{IMPORT}?dry_run=true"), &token, &rows),
        422,
    );
    assert_eq!(row_fields(&problem), vec![(2, "name".into())]);
    expect_problem(app.get_as(&format!("{ORGS}/luxian-new"), &token), 404);
}

#[test]
fn lists_filter_by_kind_sector_and_region() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    let list = |query: &str| {
        expect_json(
            app.get_as(&format!("{ORGS}?page_size=500&{query}"), &admin),
            200,
        )
    };

    let all = list("");
    assert_eq!(all["total"], 40);
    let all_codes = codes(&all);
    let mut sorted = all_codes.clone();
    sorted.sort();
    assert_eq!(all_codes, sorted, "code order");

    let departments = list("kind=department");
    assert_eq!(departments["total"], 20);
    assert!(departments["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["kind"] == "department"));
    let units = list("kind=township_unit");
    assert_eq!(units["total"], 12);
    assert_eq!(
        codes(&list("kind=justice_bureau")),
        vec!["hejiang-sfj", "luxian-sfj"]
    );

    assert_eq!(
        codes(&list("sector=natural_resources")),
        vec!["hejiang-zrzy", "luxian-zrzy"]
    );
    let enforcement = list("sector=comprehensive_enforcement");
    assert_eq!(
        enforcement["total"], 8,
        "2 county bureaus and 6 township teams"
    );
    assert_eq!(list("sector=nothing")["total"], 0);

    let luxian = list(&format!("region={LUXIAN}"));
    assert_eq!(luxian["total"], 14);
    assert!(luxian["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["region"] == LUXIAN));
    assert_eq!(
        codes(&list(&format!("region={YUCHAN}"))),
        vec!["luxian-yuchan-bmzx", "luxian-yuchan-zfd"]
    );
    assert_eq!(
        codes(&list(&format!(
            "region={LUXIAN}&kind=department&sector=water_resources"
        ))),
        vec!["luxian-swj"]
    );
    assert_eq!(
        codes(&list(&format!(
            "region={FUJI}&sector=comprehensive_enforcement"
        ))),
        vec!["luxian-fuji-zfd"]
    );
    assert_eq!(
        list(&format!("region={LUXIAN}&kind=township_unit"))["total"],
        0
    );

    // Pages in code order.
    let page = expect_json(
        app.get_as(
            &format!("{ORGS}?kind=department&page_size=7&page=3"),
            &admin,
        ),
        200,
    );
    assert_eq!(
        codes(&page),
        departments["items"].as_array().unwrap()[14..]
            .iter()
            .map(|o| o["code"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        (page["page"].as_i64(), page["total"].as_i64()),
        (Some(3), Some(20))
    );

    expect_problem(app.get_as(&format!("{ORGS}?kind=ministry"), &admin), 400);
    assert_eq!(
        error_fields(&expect_problem(
            app.get_as(&format!("{ORGS}?region=5105"), &admin),
            422
        )),
        vec!["region"]
    );

    // A township clerk sees its township's units only.
    let clerk = app.token_for("township_clerk", YUCHAN);
    let own = expect_json(app.get_as(ORGS, &clerk), 200);
    assert_eq!(codes(&own), vec!["luxian-yuchan-bmzx", "luxian-yuchan-zfd"]);
    expect_problem(app.get_as(&format!("{ORGS}?region={LUXIAN}"), &clerk), 403);
}

#[test]
fn a_csv_cell_that_does_not_parse_names_its_column() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let unparsable = "code,name,kind,sector,region\n\
                      luxian-odd,泸县怪局,ministry,,510521000000\n";
    let problem = expect_problem(import_csv(&app, IMPORT, &token, unparsable), 400);
    assert_eq!(row_fields(&problem), vec![(2, "kind".into())], "{problem}");
}

#[test]
fn concurrent_writers_with_one_revision_let_one_win_and_tell_the_rest_the_true_etag() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let path = format!("{ORGS}/luxian-lyj");
    let created = app.post(
        ORGS,
        &token,
        &org(
            "luxian-lyj",
            "泸县林业局",
            "department",
            Some("forestry"),
            LUXIAN,
        ),
    );
    expect_json(created, 201);
    // Eight writers who all read revision 1, at once; then two more writes happen.
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let (app, token, path) = (&app, &token, &path);
                scope.spawn(move || {
                    let body = org(
                        "luxian-lyj",
                        &format!("泸县林业局{i}"),
                        "department",
                        Some("forestry"),
                        LUXIAN,
                    );
                    let response = app.send(Method::PUT, path, token, Some("\"1\""), &body);
                    (response.status().as_u16(), etag_of(&response))
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(
        answers.iter().filter(|(status, _)| *status == 200).count(),
        1
    );
    for (status, etag) in &answers {
        assert!(*status == 200 || *status == 412, "{answers:?}");
        assert_eq!(
            etag, "\"2\"",
            "every answer names the revision the winner made"
        );
    }
    for name in ["泸县林业和草原局", "泸县林草局"] {
        let etag = app.etag(&path, &token);
        let body = org("luxian-lyj", name, "department", Some("forestry"), LUXIAN);
        expect_json(
            app.send(Method::PUT, &path, &token, Some(&etag), &body),
            200,
        );
    }
    let stale = app.send(
        Method::PUT,
        &path,
        &token,
        Some("\"2\""),
        &org("luxian-lyj", "x局", "department", Some("forestry"), LUXIAN),
    );
    assert_eq!(etag_of(&stale), "\"4\"");
    expect_problem(stale, 412);
}

#[test]
fn an_empty_or_wrong_header_csv_is_refused_like_every_import() {
    let app = TestApp::with_demo();
    let token = app.admin();
    let before = app.audit_count();
    // No rows: nothing to import is a 422 naming the body, as for every import.
    for (path, body) in [
        (IMPORT, ""),
        (IMPORT, "\u{feff}"),
        (IMPORT, "code,name,kind,sector,region\n"),
        (IMPORT, "foo,bar\n"),
        ("/api/v1/regions/import", ""),
        ("/api/v1/regions/import", "foo,bar\n"),
    ] {
        let problem = expect_problem(import_csv(&app, path, &token, body), 422);
        assert_eq!(error_fields(&problem), ["body"], "{path} {body:?}");
    }
    // Rows under columns the import does not have: a malformed file naming the column.
    let problem = expect_problem(import_csv(&app, IMPORT, &token, "编码,名称\nx,y\n"), 400);
    assert!(problem["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("编码"));
    assert_eq!(app.audit_count(), before, "nothing was written");
}
