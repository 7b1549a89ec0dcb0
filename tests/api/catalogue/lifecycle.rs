//! The lifecycle of an edition.

use super::*;

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

/// Statutory items name the kinds of township they belong to, in JSON, CSV and the diff,
/// and a subdistrict's compiled list leaves out a town's and a township's powers.
#[test]
fn township_kinds_travel_through_json_csv_the_diff_and_the_compiled_list() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    let forest = expect_json(
        app.get(&format!("{}/items/CJ-0002", edition_path(DEMO))),
        200,
    );
    assert_eq!(forest["township_kinds"], json!(["town", "township"]));
    let homestead = expect_json(
        app.get(&format!("{}/items/XK-0002", edition_path(DEMO))),
        200,
    );
    assert!(
        homestead.get("township_kinds").is_none(),
        "absent: every township"
    );
    let csv = app
        .get(&format!("/public/v1/catalogue/editions/{DEMO}/export.csv"))
        .text()
        .unwrap();
    assert!(csv.lines().next().unwrap().contains("township_kinds"));
    let mut rows = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let header = rows.headers().unwrap().clone();
    let column = header.iter().position(|h| h == "township_kinds").unwrap();
    let forest_row = rows
        .records()
        .map(|r| r.unwrap())
        .find(|r| &r[0] == "CJ-0002")
        .unwrap();
    assert_eq!(&forest_row[column], "town|township");

    // Changed in a copy: the diff names the field both ways.
    copy(&app, DEMO, "2027");
    let mut changed = content(&expect_json(
        app.get_as(&item_path("2027", "CJ-0002"), &admin),
        200,
    ));
    changed.as_object_mut().unwrap().remove("township_kinds");
    let etag = item_etag(&app, "2027", "CJ-0002");
    expect_json(
        app.send(
            Method::PUT,
            &item_path("2027", "CJ-0002"),
            &admin,
            Some(&etag),
            &changed,
        ),
        200,
    );
    let diff = expect_json(
        app.get_as(
            &format!("/api/v1/catalogue/diff?from={DEMO}&to=2027"),
            &admin,
        ),
        200,
    );
    let change = diff["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "CJ-0002")
        .unwrap_or_else(|| panic!("{diff}"));
    assert_eq!(change["changes"][0]["field"], "township_kinds", "{change}");
    assert_eq!(change["changes"][0]["from"], json!(["town", "township"]));
    assert_eq!(change["changes"][0]["to"], Value::Null);

    // A bad kind, or kinds on a delegable item, are refused by row and column.
    let mut bad = changed.clone();
    bad["township_kinds"] = json!(["village"]);
    let etag = item_etag(&app, "2027", "CJ-0002");
    let problem = expect_problem(
        app.send(
            Method::PUT,
            &item_path("2027", "CJ-0002"),
            &admin,
            Some(&etag),
            &bad,
        ),
        422,
    );
    assert_eq!(problem["errors"][0]["field"], "township_kinds");
    let mut delegable = content(&expect_json(
        app.get_as(&item_path("2027", "CF-0001"), &admin),
        200,
    ));
    delegable["township_kinds"] = json!(["town"]);
    let etag = item_etag(&app, "2027", "CF-0001");
    expect_problem(
        app.send(
            Method::PUT,
            &item_path("2027", "CF-0001"),
            &admin,
            Some(&etag),
            &delegable,
        ),
        422,
    );

    // The compiled power list: 玉蟾街道 (a subdistrict) without CJ-0002, 福集镇 with it.
    let submitted = expect_json(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/lists/power/versions"),
            &app.compiler(),
            &json!({"title": "泸县乡镇权力清单", "change_summary": "首次编制", "edition": DEMO}),
        ),
        201,
    );
    assert_eq!(submitted["number"], 1);
    let document = expect_json(
        app.get_as(
            &format!("/api/v1/counties/{LUXIAN}/lists/power/versions/1/document"),
            &app.compiler(),
        ),
        200,
    );
    let holds = |township: &str| {
        document["townships"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["code"] == township)
            .unwrap()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["code"] == "CJ-0002")
    };
    assert!(!holds(YUCHAN), "a subdistrict does not hold a town's power");
    assert!(holds(FUJI));
}
