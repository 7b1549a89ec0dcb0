//! Imports, lists and concurrent writers.

use super::*;

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
