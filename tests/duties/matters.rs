//! A list built by hand, and the rules of a matter.

use super::*;

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
