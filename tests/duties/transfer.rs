//! Import and export, and a Cixi-shaped list and its figures.

use super::*;

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
