//! The full paths, power list and responsibility list.

use super::*;

// ---------------------------------------------------------------------------------------
// 1. The full path, power list

#[test]
fn the_power_list_goes_from_submission_through_return_and_approval_to_two_publications() {
    let app = TestApp::with_demo();
    let round = open_round(&app);
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    confirm_claim(&app, round, YUCHAN, "CF-0009", "luxian-yuchan-zfd");
    confirm_claim(&app, round, FUJI, "CF-0001", "luxian-fuji-zfd");

    // Version 1: submitted; its hash is the SHA-256 of the document the reviewers read.
    let v1 = submitted(&app, "power", "首次编制");
    assert_eq!(v1["number"], 1);
    assert_eq!(v1["county"], LUXIAN);
    assert_eq!(v1["kind"], "power");
    assert_eq!(v1["answered_findings"], json!([]));
    assert_eq!(
        v1["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (
                s["stage"].as_str().unwrap(),
                s["approved"].as_bool().unwrap()
            ))
            .collect::<Vec<_>>(),
        vec![("legality", false), ("government", false)]
    );
    let response = app.get_as(
        &format!("{}/document", version_path("power", 1)),
        &app.compiler(),
    );
    let etag = header(&response, "etag").unwrap();
    let bytes = response.bytes().unwrap();
    let h1 = v1["content_hash"].as_str().unwrap().to_string();
    assert_eq!(sha256(&bytes), h1);
    assert_eq!(etag, format!("\"{h1}\""));
    let doc1: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc1["kind"], "power");
    assert_eq!(doc1["edition"], "2026");
    assert_eq!(doc1["townships"].as_array().unwrap().len(), 3);
    let yuchan1 = &doc1["townships"][0];
    assert_eq!(yuchan1["code"], YUCHAN);
    let codes: Vec<&str> = yuchan1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"CF-0001") && codes.contains(&"CF-0009") && codes.contains(&"XK-0002"));
    assert!(!codes.contains(&"CF-0002"));
    let total_items: usize = doc1["townships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["items"].as_array().unwrap().len())
        .sum();
    assert_eq!(v1["item_count"], total_items);

    // The legality review passes with an advisory finding; the government returns it
    // with blocking findings.
    let reviewed = expect_json(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "approve",
            &h1,
            json!([finding("XK-0002", "advisory")]),
        ),
        201,
    );
    assert_eq!(reviewed["status"], "in_review");
    assert_eq!(reviewed["stages"][0]["approved"], true);
    let returned = expect_json(
        review_as(
            &app,
            &reviewer(&app, "government"),
            "power",
            1,
            "government",
            "return",
            &h1,
            json!([
                finding(&format!("{YUCHAN}/CF-0009"), "blocking"),
                finding("CF-0001", "blocking")
            ]),
        ),
        201,
    );
    assert_eq!(returned["status"], "returned");
    assert!(returned["ended_at"].is_string());
    let reviews = returned["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 2);
    assert_eq!(reviews[1]["decision"], "return");
    assert_eq!(reviews[1]["reviewer_org"], "luxian-gov");
    assert_eq!(reviews[1]["reviewed_hash"], h1.as_str());
    assert_eq!(reviews[1]["findings"].as_array().unwrap().len(), 2);
    assert_eq!(reviews[1]["findings"][0]["severity"], "blocking");
    assert_eq!(
        reviews[1]["findings"][0]["law"],
        "《中华人民共和国行政处罚法》第二十四条"
    );

    // The compiler answers: 玉蟾 exercises CF-0009 through another unit, 福集 gives
    // CF-0001 back, 玉蟾 takes CF-0002 on.
    reopen_claim(&app, round, YUCHAN, "CF-0009");
    confirm_claim(&app, round, YUCHAN, "CF-0009", "luxian-yuchan-bmzx");
    reopen_claim(&app, round, FUJI, "CF-0001");
    confirm_claim(&app, round, YUCHAN, "CF-0002", "luxian-yuchan-zfd");
    let v2 = submitted(&app, "power", "根据审查意见调整：玉蟾街道新增CF-0002");
    assert_eq!(v2["number"], 2);
    let h2 = v2["content_hash"].as_str().unwrap().to_string();
    assert_ne!(h1, h2);
    let mut answers = answered(&v2);
    answers.sort();
    assert_eq!(
        answers,
        vec![
            (
                "510521001000/CF-0009".to_string(),
                "blocking".to_string(),
                "changed".to_string(),
                vec![format!("{YUCHAN}/CF-0009")]
            ),
            (
                "CF-0001".to_string(),
                "blocking".to_string(),
                "removed".to_string(),
                vec![format!("{YUCHAN}/CF-0001"), format!("{FUJI}/CF-0001")]
            ),
            (
                "XK-0002".to_string(),
                "advisory".to_string(),
                "unchanged".to_string(),
                vec![
                    format!("{YUCHAN}/XK-0002"),
                    format!("{FUJI}/XK-0002"),
                    format!("{JIAMING}/XK-0002")
                ]
            ),
        ]
    );
    assert!(v2["answered_findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["version"] == 1 && a["problem"] == "法律依据不足"));
    // The history is the same when read again.
    assert_eq!(
        version(&app, "power", 2).0["answered_findings"],
        v2["answered_findings"]
    );

    // Legality, then the government; published from 2024-03-01.
    let after_legality = approve(&app, "power", 2, "legality");
    assert_eq!(after_legality["status"], "in_review");
    let after_government = approve(&app, "power", 2, "government");
    assert_eq!(after_government["status"], "approved");
    assert!(after_government["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["approved"] == true && s["approved_at"].is_string()));
    let published = expect_json(publish(&app, "power", 2, Some("2024-03-01")), 200);
    assert_eq!(published["status"], "published");
    assert_eq!(published["effective_from"], "2024-03-01");
    assert_eq!(published["effective_to"], Value::Null);
    assert!(published["published_at"].is_string());

    // Version 3: 玉蟾 takes CF-0007 on, gives CF-0002 back, and CF-0009 returns to the
    // enforcement team.
    confirm_claim(&app, round, YUCHAN, "CF-0007", "luxian-yuchan-zfd");
    reopen_claim(&app, round, YUCHAN, "CF-0002");
    reopen_claim(&app, round, YUCHAN, "CF-0009");
    confirm_claim(&app, round, YUCHAN, "CF-0009", "luxian-yuchan-zfd");
    let v3 = submitted(&app, "power", "2024年下半年调整");
    assert_eq!(v3["number"], 3);
    let h3 = v3["content_hash"].as_str().unwrap().to_string();
    approve(&app, "power", 3, "legality");
    approve(&app, "power", 3, "government");
    // A later version cannot start before the one in force.
    let problem = expect_problem(publish(&app, "power", 3, Some("2024-02-01")), 422);
    assert_eq!(error_fields(&problem), vec!["effective_from"]);
    expect_json(publish(&app, "power", 3, Some("2024-09-01")), 200);

    // Both published versions by number, exactly as reviewed.
    for (n, hash) in [(2, &h2), (3, &h3)] {
        let response = app.get(&public_version_path("power", n));
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "etag").unwrap(), format!("\"{hash}\""));
        let bytes = response.bytes().unwrap();
        assert_eq!(&sha256(&bytes), hash);
    }
    expect_problem(app.get(&public_version_path("power", 1)), 404);

    // The published versions, newest first, with dates and change summaries.
    let list = expect_json(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/power/versions"
        )),
        200,
    );
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["number"], 3);
    assert_eq!(list[0]["status"], "published");
    assert!(list[0]["change_summary"]
        .as_str()
        .unwrap()
        .starts_with("2024年下半年调整"));
    assert_eq!(list[0]["effective_from"], "2024-09-01");
    assert_eq!(list[0]["effective_to"], Value::Null);
    assert_eq!(list[0]["content_hash"], h3.as_str());
    assert_eq!(list[0]["url"], public_version_path("power", 3));
    assert_eq!(list[1]["number"], 2);
    assert_eq!(list[1]["status"], "superseded");
    assert!(list[1]["change_summary"]
        .as_str()
        .unwrap()
        .starts_with("根据审查意见调整：玉蟾街道新增CF-0002"));
    assert_eq!(list[1]["effective_from"], "2024-03-01");
    assert_eq!(list[1]["effective_to"], "2024-09-01");
    assert_eq!(version(&app, "power", 2).0["status"], "superseded");

    // What changed between them, item by item and field by field.
    let diff = expect_json(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/power/diff?from=2&to=3"
        )),
        200,
    );
    assert_eq!(keys(&diff["added"]), vec![format!("{YUCHAN}/CF-0007")]);
    assert_eq!(
        diff["added"][format!("{YUCHAN}/CF-0007")]["code"],
        "CF-0007"
    );
    assert_eq!(keys(&diff["removed"]), vec![format!("{YUCHAN}/CF-0002")]);
    assert_eq!(diff["changed"].as_array().unwrap().len(), 1, "{diff}");
    assert_eq!(
        changed_fields(&diff, &format!("{YUCHAN}/CF-0009")),
        vec!["unit"]
    );
    let change = &diff["changed"][0]["changes"][0];
    assert_eq!(change["from"]["code"], "luxian-yuchan-bmzx");
    assert_eq!(change["to"]["code"], "luxian-yuchan-zfd");
    let v3_total = v3["item_count"].as_u64().unwrap();
    assert_eq!(diff["unchanged"].as_u64().unwrap(), v3_total - 2);
    // Only published versions can be compared.
    expect_problem(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/power/diff?from=1&to=3"
        )),
        404,
    );

    // Point in time.
    let in_force = format!("/public/v1/counties/{LUXIAN}/lists/power");
    expect_problem(app.get(&format!("{in_force}?at=2024-02-29")), 404);
    for (at, n, hash) in [
        ("2024-03-01", 2, &h2),
        ("2024-08-31", 2, &h2),
        ("2024-09-01", 3, &h3),
        ("2025-01-01", 3, &h3),
    ] {
        let response = app.get(&format!("{in_force}?at={at}"));
        assert_eq!(response.status(), 200, "at {at}");
        assert_eq!(
            header(&response, "content-location").unwrap(),
            public_version_path("power", n),
            "at {at}"
        );
        assert_eq!(header(&response, "etag").unwrap(), format!("\"{hash}\""));
        assert_eq!(&sha256(&response.bytes().unwrap()), hash, "at {at}");
    }
    let today = app.get(&in_force);
    assert_eq!(
        header(&today, "content-location").unwrap(),
        public_version_path("power", 3)
    );
    expect_problem(app.get(&format!("{in_force}?at=yesterday")), 422);

    let (v3_history, _) = version(&app, "power", 3);
    assert_eq!(v3_history["status"], "published");
    assert_eq!(v3_history["reviews"].as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------
// 1. The full path, responsibility list

#[test]
fn the_duty_list_goes_from_submission_through_return_and_approval_to_two_publications() {
    let app = TestApp::with_demo();
    for m in [sd001(), sd002(), sd003(), sd004()] {
        add_matter(&app, m);
    }
    let v1 = submitted(&app, "duty", "首次编制");
    let h1 = v1["content_hash"].as_str().unwrap().to_string();
    assert_eq!(v1["item_count"], 4);
    assert_eq!(
        v1["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stage"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["staffing", "legality", "approval"]
    );
    let response = app.get_as(
        &format!("{}/document", version_path("duty", 1)),
        &app.compiler(),
    );
    assert_eq!(header(&response, "etag").unwrap(), format!("\"{h1}\""));
    let bytes = response.bytes().unwrap();
    assert_eq!(sha256(&bytes), h1);
    let doc1: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc1["kind"], "duty");
    assert_eq!(doc1["county"]["name"], "泸县");
    let codes: Vec<&str> = doc1["matters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["SD-001", "SD-002", "SD-003", "SD-004"]);
    assert_eq!(
        doc1["matters"][0]["lead"]["name"],
        "泸州市生态环境局泸县分局"
    );

    // Staffing passes with an advisory finding; legality returns with blocking ones.
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "duty",
            1,
            "staffing",
            "approve",
            &h1,
            json!([finding("SD-003", "advisory")]),
        ),
        201,
    );
    let returned = expect_json(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "duty",
            1,
            "legality",
            "return",
            &h1,
            json!([finding("SD-001", "blocking"), finding("SD-002", "blocking")]),
        ),
        201,
    );
    assert_eq!(returned["status"], "returned");

    // The compiler edits SD-001 and drops SD-002.
    let mut edited = sd001();
    edited["township_duties"] = json!(["日常巡查", "发现报告", "劝阻制止", "配合联合执法"]);
    replace_matter(&app, edited);
    delete_matter(&app, "SD-002");
    let v2 = submitted(&app, "duty", "根据合法性审查意见修改");
    let h2 = v2["content_hash"].as_str().unwrap().to_string();
    assert_eq!(v2["item_count"], 3);
    assert_eq!(
        answered(&v2),
        vec![
            (
                "SD-003".to_string(),
                "advisory".to_string(),
                "unchanged".to_string(),
                vec!["SD-003".to_string()]
            ),
            (
                "SD-001".to_string(),
                "blocking".to_string(),
                "changed".to_string(),
                vec!["SD-001".to_string()]
            ),
            (
                "SD-002".to_string(),
                "blocking".to_string(),
                "removed".to_string(),
                vec!["SD-002".to_string()]
            ),
        ]
    );

    // Any order: approval bureau, legality, staffing.
    assert_eq!(approve(&app, "duty", 2, "approval")["status"], "in_review");
    assert_eq!(approve(&app, "duty", 2, "legality")["status"], "in_review");
    assert_eq!(approve(&app, "duty", 2, "staffing")["status"], "approved");
    expect_json(publish(&app, "duty", 2, Some("2024-03-01")), 200);

    // Version 3: SD-005 added, SD-004 removed, SD-003 changed.
    add_matter(&app, sd005());
    delete_matter(&app, "SD-004");
    let mut changed = sd003();
    changed["township_duties"] = json!(["日常巡查", "发现报告"]);
    changed["lead_response_minutes"] = json!(60);
    replace_matter(&app, changed);
    let v3 = submitted(&app, "duty", "2024年下半年调整");
    let h3 = v3["content_hash"].as_str().unwrap().to_string();
    approve_and_publish(&app, "duty", 3, Some("2024-09-01"));

    for (n, hash) in [(2, &h2), (3, &h3)] {
        let response = app.get(&public_version_path("duty", n));
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "etag").unwrap(), format!("\"{hash}\""));
        assert_eq!(&sha256(&response.bytes().unwrap()), hash);
    }
    expect_problem(app.get(&public_version_path("duty", 1)), 404);

    let list = expect_json(
        app.get(&format!("/public/v1/counties/{LUXIAN}/lists/duty/versions")),
        200,
    );
    let summary: Vec<(i64, &str, &str, &str, Value)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["number"].as_i64().unwrap(),
                v["status"].as_str().unwrap(),
                v["change_summary"].as_str().unwrap(),
                v["effective_from"].as_str().unwrap(),
                v["effective_to"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                3,
                "published",
                "2024年下半年调整",
                "2024-09-01",
                Value::Null
            ),
            (
                2,
                "superseded",
                "根据合法性审查意见修改",
                "2024-03-01",
                json!("2024-09-01")
            ),
        ]
    );

    let diff = expect_json(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/duty/diff?from=2&to=3"
        )),
        200,
    );
    assert_eq!(keys(&diff["added"]), vec!["SD-005"]);
    assert_eq!(diff["added"]["SD-005"]["name"], "河道垃圾倾倒的查处");
    assert_eq!(keys(&diff["removed"]), vec!["SD-004"]);
    assert_eq!(diff["changed"].as_array().unwrap().len(), 1, "{diff}");
    assert_eq!(
        changed_fields(&diff, "SD-003"),
        vec!["lead_response_minutes", "township_duties"]
    );
    let change = &diff["changed"][0]["changes"][0];
    assert_eq!(
        (change["from"].clone(), change["to"].clone()),
        (json!(30), json!(60))
    );
    assert_eq!(diff["unchanged"], 1);

    let in_force = format!("/public/v1/counties/{LUXIAN}/lists/duty");
    expect_problem(app.get(&format!("{in_force}?at=2024-02-29")), 404);
    for (at, n, hash) in [
        ("2024-03-01", 2, &h2),
        ("2024-08-31", 2, &h2),
        ("2024-09-01", 3, &h3),
    ] {
        let response = app.get(&format!("{in_force}?at={at}"));
        assert_eq!(response.status(), 200, "at {at}");
        assert_eq!(
            header(&response, "content-location").unwrap(),
            public_version_path("duty", n)
        );
        assert_eq!(&sha256(&response.bytes().unwrap()), hash, "at {at}");
    }
    let today = app.get(&in_force);
    assert_eq!(
        header(&today, "content-location").unwrap(),
        public_version_path("duty", 3)
    );
}

#[test]

fn a_submission_after_a_publication_answers_no_earlier_findings() {
    let app = TestApp::with_demo();
    for m in [sd001(), sd002()] {
        add_matter(&app, m);
    }
    let v1 = submitted(&app, "duty", "首次编制");
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "duty",
            1,
            "legality",
            "return",
            v1["content_hash"].as_str().unwrap(),
            json!([finding("SD-001", "blocking")]),
        ),
        201,
    );
    let mut edited = sd001();
    edited["notes"] = json!("已根据审查意见修改");
    replace_matter(&app, edited);
    let v2 = submitted(&app, "duty", "根据审查意见修改");
    assert_eq!(answered(&v2).len(), 1, "version 2 answers version 1");
    approve_and_publish(&app, "duty", 2, None);
    add_matter(&app, sd003());
    let v3 = submitted(&app, "duty", "新增事项");
    assert_eq!(
        v3["answered_findings"],
        json!([]),
        "version 3 follows the published version 2, not the returned version 1"
    );
}
