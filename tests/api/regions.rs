//! Regions: imports (JSON and CSV) with the code/level/parent checks, and the public reads.

use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

const IMPORT: &str = "/api/v1/regions/import";

fn import_json(app: &TestApp, rows: &Value) -> Response {
    app.post(IMPORT, &app.admin(), rows)
}

fn import_csv(app: &TestApp, path: &str, csv: &str) -> Response {
    app.request(Method::POST, path, Some(&app.admin()))
        .header("Content-Type", "text/csv")
        .body(csv.to_string())
        .send()
        .unwrap()
}

fn region(app: &TestApp, code: &str) -> Value {
    expect_json(app.get(&format!("/api/v1/regions/{code}")), 200)
}

fn codes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

/// The (row, field) pairs of a problem's errors.
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

#[test]
fn json_import_creates_renames_and_counts_unchanged_rows() {
    let app = TestApp::with_demo();
    let before = app.audit_count();
    let rows = json!([
        // A township listed before its new county: the parent may come later in the file.
        {"code": "510524100000", "name": "叙永镇", "level": "township", "parent": "510524000000"},
        {"code": "510524000000", "name": "叙永县", "level": "county", "parent": "510500000000"},
        {"code": "510521102000", "name": "新设镇"},
        {"code": FUJI, "name": "福集镇（更名）"},
        {"code": "510521101000", "name": "嘉明镇", "level": "township", "parent": LUXIAN}
    ]);
    let body = expect_json(import_json(&app, &rows), 200);
    assert_eq!(report(&body), (false, 5, 3, 1, 1), "{body}");
    assert_eq!(body["removed"], 0);
    assert!(app.audit_count() > before, "the import is audited");

    let county = region(&app, "510524000000");
    assert_eq!(county["name"], "叙永县");
    assert_eq!(county["level"], "county");
    assert_eq!(county["parent_code"], "510500000000");
    assert!(county["kind"].is_null());
    let town = region(&app, "510524100000");
    assert_eq!(
        (&town["level"], &town["kind"], &town["parent_code"]),
        (&json!("township"), &json!("town"), &json!("510524000000"))
    );
    let new_town = region(&app, "510521102000");
    assert_eq!(new_town["parent_code"], LUXIAN);
    assert_eq!(new_town["kind"], "town");
    assert_eq!(region(&app, FUJI)["name"], "福集镇（更名）");
    assert_eq!(region(&app, "510521101000")["name"], "嘉明镇");
    let children = expect_json(app.get("/api/v1/regions/510500000000/children"), 200);
    assert_eq!(codes(&children), vec![LUXIAN, HEJIANG, "510524000000"]);

    // The same file again changes nothing.
    let body = expect_json(import_json(&app, &rows), 200);
    assert_eq!(report(&body), (false, 5, 0, 0, 5), "{body}");
}

#[test]
fn csv_import_reads_the_same_columns() {
    let app = TestApp::with_demo();
    let csv = "code,name,level,parent\n\
               510522201000,石龙乡,township,510522000000\n\
               510522001000,合江街道,,\n\
               510522100000,合江镇,township,510522000000\n\
               510522101000,白沙镇（新）,,510522000000\n";
    let body = expect_json(import_csv(&app, IMPORT, csv), 200);
    assert_eq!(report(&body), (false, 4, 2, 1, 1), "{body}");
    assert_eq!(region(&app, "510522201000")["kind"], "township");
    assert_eq!(region(&app, "510522001000")["kind"], "subdistrict");
    assert_eq!(region(&app, "510522101000")["name"], "白沙镇（新）");
    // A byte-order mark (as spreadsheets write) is accepted.
    let with_bom = "\u{feff}code,name,level,parent\n510522202000,佛荫乡,township,510522000000\n";
    let body = expect_json(import_csv(&app, IMPORT, with_bom), 200);
    assert_eq!(report(&body), (false, 1, 1, 0, 0));
    assert_eq!(region(&app, "510522202000")["name"], "佛荫乡");
}

#[test]
fn rows_that_disagree_with_their_code_are_422_with_row_and_field_and_nothing_is_written() {
    let app = TestApp::with_demo();
    let before = app.audit_count();
    let good = json!({"code": "510521103000", "name": "应当未写入镇"});
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "level city for a county code",
            json!({"code": "510523000000", "name": "某县", "level": "city"}),
            "level",
        ),
        (
            "level county for a township code",
            json!({"code": "510521104000", "name": "某镇", "level": "county"}),
            "level",
        ),
        (
            "an unknown level",
            json!({"code": "510521104000", "name": "某镇", "level": "village"}),
            "level",
        ),
        (
            "a parent that is not the code's parent",
            json!({"code": "510521104000", "name": "某镇", "parent": HEJIANG}),
            "parent",
        ),
        (
            "a grandparent given as parent",
            json!({"code": "510523000000", "name": "某县", "parent": PROVINCE}),
            "parent",
        ),
        (
            "a province with a parent",
            json!({"code": "520000000000", "name": "贵州省", "parent": PROVINCE}),
            "parent",
        ),
        (
            "a village code",
            json!({"code": "510521100001", "name": "某村"}),
            "code",
        ),
        (
            "township digits 300",
            json!({"code": "510521300000", "name": "某镇"}),
            "code",
        ),
        (
            "township digits 999",
            json!({"code": "510521999000", "name": "某镇"}),
            "code",
        ),
        (
            "county digits without city digits",
            json!({"code": "510021000000", "name": "某县"}),
            "code",
        ),
        (
            "eleven digits",
            json!({"code": "51052110400", "name": "某镇"}),
            "code",
        ),
        (
            "letters",
            json!({"code": "5105211040ab", "name": "某镇"}),
            "code",
        ),
        (
            "a parent neither registered nor in the file",
            json!({"code": "510599100000", "name": "无主镇"}),
            "parent",
        ),
        (
            "a county of an unregistered city",
            json!({"code": "510699000000", "name": "无主县", "level": "county"}),
            "parent",
        ),
        (
            "an empty name",
            json!({"code": "510521104000", "name": "  "}),
            "name",
        ),
        (
            "a code given twice",
            json!({"code": "510521103000", "name": "重复镇"}),
            "code",
        ),
    ];
    let mut failures = Vec::new();
    for (label, bad, field) in cases {
        let response = import_json(&app, &json!([good, bad]));
        let status = response.status().as_u16();
        let body: Value = response.json().unwrap_or(Value::Null);
        if status != 422 || row_fields(&body) != vec![(2, field.to_string())] {
            failures.push(format!(
                "{label}: expected 422 at row 2, field {field}; got {status} {body}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    expect_problem(app.get("/api/v1/regions/510521103000"), 404);
    expect_problem(app.get("/api/v1/regions/510523000000"), 404);
    assert_eq!(app.audit_count(), before, "nothing was written");
}

#[test]
fn every_bad_row_is_reported_at_once_and_csv_rows_count_the_header() {
    let app = TestApp::with_demo();
    let before = app.audit_count();
    let problem = expect_problem(
        import_json(
            &app,
            &json!([
                {"code": "510521300000", "name": "甲"},
                {"code": "510521104000", "name": "乙"},
                {"code": "510523000000", "name": "丙", "level": "city", "parent": PROVINCE}
            ]),
        ),
        422,
    );
    assert_eq!(
        row_fields(&problem),
        vec![
            (1, "code".into()),
            (3, "level".into()),
            (3, "parent".into())
        ]
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was written"),
        "{problem}"
    );

    let csv = "code,name,level,parent\n\
               510521104000,某镇,township,510521000000\n\
               510523000000,某县,city,\n\
               510521105000,某镇二,township,510522000000\n";
    let problem = expect_problem(import_csv(&app, IMPORT, csv), 422);
    assert_eq!(
        row_fields(&problem),
        vec![(3, "level".into()), (4, "parent".into())]
    );
    expect_problem(app.get("/api/v1/regions/510521104000"), 404);
    assert_eq!(app.audit_count(), before);
}

#[test]
fn malformed_files_are_400_and_other_media_types_415() {
    let app = TestApp::with_demo();
    let unknown_column =
        "code,name,level,parent,kind\n510521104000,某镇,township,510521000000,town\n";
    let problem = expect_problem(import_csv(&app, IMPORT, unknown_column), 400);
    assert_eq!(problem["errors"][0]["row"], 2, "{problem}");
    // The kind is read from the digits, never given.
    expect_problem(
        import_json(
            &app,
            &json!([{"code": "510521104000", "name": "某镇", "kind": "town"}]),
        ),
        400,
    );
    expect_problem(import_json(&app, &json!({"code": "510521104000"})), 400);
    let response = app
        .request(Method::POST, IMPORT, Some(&app.admin()))
        .header("Content-Type", "text/plain")
        .body("code,name\n510521104000,某镇\n")
        .send()
        .unwrap();
    expect_problem(response, 415);
    expect_problem(app.get("/api/v1/regions/510521104000"), 404);
}

#[test]
fn a_dry_run_reports_without_writing() {
    let app = TestApp::with_demo();
    let before = app.audit_count();
    let rows = json!([
        {"code": "510521104000", "name": "试算镇"},
        {"code": FUJI, "name": "福集镇（试算）"},
        {"code": YUCHAN, "name": "玉蟾街道"}
    ]);
    let body = expect_json(
        app.post(&format!("{IMPORT}?dry_run=true"), &app.admin(), &rows),
        200,
    );
    assert_eq!(report(&body), (true, 3, 1, 1, 1), "{body}");
    expect_problem(app.get("/api/v1/regions/510521104000"), 404);
    assert_eq!(region(&app, FUJI)["name"], "福集镇");
    assert_eq!(app.audit_count(), before);
    // A dry run of a bad file is the same 422.
    let problem = expect_problem(
        import_csv(
            &app,
            &format!("{IMPORT}?dry_run=true"),
            "code,name,level,parent\n510521300000,坏镇,,\n",
        ),
        422,
    );
    assert_eq!(row_fields(&problem), vec![(2, "code".into())]);
    // The real import then does what the dry run said.
    let body = expect_json(import_json(&app, &rows), 200);
    assert_eq!(report(&body), (false, 3, 1, 1, 1));
    assert_eq!(region(&app, "510521104000")["name"], "试算镇");
}

#[test]
fn township_kinds_follow_the_township_digits() {
    let app = TestApp::with_demo();
    let cases = [
        ("510522001000", "subdistrict"),
        ("510522050000", "subdistrict"),
        ("510522099000", "subdistrict"),
        ("510522102000", "town"),
        ("510522150000", "town"),
        ("510522199000", "town"),
        ("510522201000", "township"),
        ("510522299000", "township"),
    ];
    let rows: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (code, _))| json!({"code": code, "name": format!("新区{i}")}))
        .collect();
    let body = expect_json(import_json(&app, &Value::Array(rows)), 200);
    assert_eq!(body["created"], cases.len());
    for (code, kind) in cases {
        let r = region(&app, code);
        assert_eq!(
            (r["level"].as_str(), r["kind"].as_str()),
            (Some("township"), Some(kind)),
            "{code}"
        );
    }
    // The demo townships.
    assert_eq!(region(&app, YUCHAN)["kind"], "subdistrict");
    assert_eq!(region(&app, FUJI)["kind"], "town");
    assert_eq!(region(&app, "510522200000")["kind"], "township");
    // Higher levels have no kind.
    for code in [PROVINCE, "510500000000", LUXIAN] {
        assert!(region(&app, code)["kind"].is_null(), "{code}");
    }
    // 000 is a county, 300 and above are refused.
    for code in ["510522300000", "510522399000", "510522500000"] {
        let problem = expect_problem(
            import_json(&app, &json!([{"code": code, "name": "坏"}])),
            422,
        );
        assert_eq!(row_fields(&problem), vec![(1, "code".into())], "{code}");
    }
}

#[test]
fn region_lists_filter_by_level_and_parent() {
    let app = TestApp::with_demo();
    let provinces = expect_json(app.get("/api/v1/regions"), 200);
    assert_eq!(codes(&provinces), vec![PROVINCE]);
    assert_eq!(provinces["total"], 1);
    assert_eq!(provinces["items"][0]["name"], "四川省");
    assert_eq!(provinces["items"][0]["level"], "province");
    assert!(provinces["items"][0]["parent_code"].is_null());
    let counties = expect_json(app.get("/api/v1/regions?level=county"), 200);
    assert_eq!(codes(&counties), vec![LUXIAN, HEJIANG]);
    assert_eq!(counties["total"], 2);
    assert_eq!(
        codes(&expect_json(app.get("/api/v1/regions?level=city"), 200)),
        vec!["510500000000"]
    );
    let townships = expect_json(app.get("/api/v1/regions?level=township"), 200);
    assert_eq!(
        codes(&townships),
        vec![
            YUCHAN,
            FUJI,
            "510521101000",
            "510522100000",
            "510522101000",
            "510522200000"
        ]
    );
    let by_parent = expect_json(app.get(&format!("/api/v1/regions?parent={HEJIANG}")), 200);
    assert_eq!(
        codes(&by_parent),
        vec!["510522100000", "510522101000", "510522200000"]
    );
    let both = expect_json(
        app.get(&format!("/api/v1/regions?level=township&parent={LUXIAN}")),
        200,
    );
    assert_eq!(codes(&both), vec![YUCHAN, FUJI, "510521101000"]);
    let none = expect_json(
        app.get(&format!("/api/v1/regions?level=county&parent={LUXIAN}")),
        200,
    );
    assert_eq!(none["total"], 0);
    assert_eq!(
        error_fields(&expect_problem(
            app.get("/api/v1/regions?level=village"),
            422
        )),
        vec!["level"]
    );
    assert_eq!(
        error_fields(&expect_problem(app.get("/api/v1/regions?parent=5105"), 422)),
        vec!["parent"]
    );
    // Paged in code order.
    let page = expect_json(
        app.get("/api/v1/regions?level=township&page_size=4&page=2"),
        200,
    );
    assert_eq!(codes(&page), vec!["510522101000", "510522200000"]);
    assert_eq!(
        (
            page["page"].as_i64(),
            page["page_size"].as_i64(),
            page["total"].as_i64()
        ),
        (Some(2), Some(4), Some(6))
    );
}

#[test]
fn one_region_and_its_children_with_pagination() {
    let app = TestApp::with_demo();
    let luxian = region(&app, LUXIAN);
    assert_eq!(
        luxian,
        json!({"code": LUXIAN, "name": "泸县", "level": "county", "kind": null, "parent_code": "510500000000"})
    );
    let town = region(&app, "510521101000");
    assert_eq!(
        town,
        json!({"code": "510521101000", "name": "嘉明镇", "level": "township", "kind": "town", "parent_code": LUXIAN})
    );
    let children = expect_json(app.get(&format!("/api/v1/regions/{LUXIAN}/children")), 200);
    assert_eq!(codes(&children), vec![YUCHAN, FUJI, "510521101000"]);
    assert_eq!(children["total"], 3);
    let first = expect_json(
        app.get(&format!("/api/v1/regions/{LUXIAN}/children?page_size=2")),
        200,
    );
    assert_eq!(codes(&first), vec![YUCHAN, FUJI]);
    assert_eq!(
        (
            first["page"].as_i64(),
            first["page_size"].as_i64(),
            first["total"].as_i64()
        ),
        (Some(1), Some(2), Some(3))
    );
    let second = expect_json(
        app.get(&format!(
            "/api/v1/regions/{LUXIAN}/children?page_size=2&page=2"
        )),
        200,
    );
    assert_eq!(codes(&second), vec!["510521101000"]);
    let past = expect_json(
        app.get(&format!(
            "/api/v1/regions/{LUXIAN}/children?page_size=2&page=3"
        )),
        200,
    );
    assert_eq!(codes(&past), Vec::<String>::new());
    assert_eq!(past["total"], 3);
    expect_problem(
        app.get(&format!("/api/v1/regions/{LUXIAN}/children?page_size=0")),
        422,
    );
    assert_eq!(
        codes(&expect_json(
            app.get(&format!("/api/v1/regions/{PROVINCE}/children")),
            200
        )),
        vec!["510500000000"]
    );
    // A township has no children.
    assert_eq!(
        expect_json(app.get(&format!("/api/v1/regions/{YUCHAN}/children")), 200)["total"],
        0
    );
}

#[test]
fn unknown_and_malformed_codes_are_404() {
    let app = TestApp::with_demo();
    for code in [
        "510523000000", // well-formed, not registered
        "440000000000",
        "abc",
        "51052100000",
        "5105210000000",
        "51052100000x",
        "510521100001", // a village
        "510521300000", // township digits out of range
        "000000000000",
    ] {
        expect_problem(app.get(&format!("/api/v1/regions/{code}")), 404);
        expect_problem(app.get(&format!("/api/v1/regions/{code}/children")), 404);
    }
}

#[test]
fn imports_need_a_catalogue_admin_and_stay_in_its_region() {
    let app = TestApp::with_demo();
    let rows = json!([{"code": "510521104000", "name": "某镇"}]);
    expect_problem(
        app.request(Method::POST, IMPORT, None)
            .json(&rows)
            .send()
            .unwrap(),
        401,
    );
    for role in ["county_compiler", "auditor", "township_clerk"] {
        expect_problem(app.post(IMPORT, &app.token_for(role, LUXIAN), &rows), 403);
    }
    // A county-level admin imports in its county only.
    let county_admin = app.token_for("catalogue_admin", LUXIAN);
    let problem = expect_problem(
        app.post(
            IMPORT,
            &county_admin,
            &json!([{"code": "510521104000", "name": "某镇"}, {"code": "510522102000", "name": "他县镇"}]),
        ),
        422,
    );
    assert_eq!(row_fields(&problem), vec![(2, "code".into())]);
    expect_problem(app.get("/api/v1/regions/510521104000"), 404);
    let body = expect_json(app.post(IMPORT, &county_admin, &rows), 200);
    assert_eq!(body["created"], 1);
    // Reads are public.
    expect_json(app.get("/api/v1/regions/510521104000"), 200);
}
