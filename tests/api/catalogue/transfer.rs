//! Import and export.

use super::*;

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
