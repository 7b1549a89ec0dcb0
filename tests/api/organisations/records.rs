//! Create, read, update and delete: concurrency, audit and the rules.

use super::*;

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
