//! Item rules.

use super::*;

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
