//! The public lookup, the publication log and the audit trail.

use super::*;

// ---------------------------------------------------------------------------------------
// 6. The public lookup answers from the published responsibility list

#[test]
fn the_public_lookup_answers_from_the_published_version_not_the_working_copy() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    add_matter(&app, sd003());
    let v1 = submitted(&app, "duty", "首次编制");
    approve_and_publish(&app, "duty", 1, None);

    let lookup = |q: &str| {
        expect_json(
            app.get(&format!("/public/v1/lookup?township={YUCHAN}&q={q}")),
            200,
        )
    };
    let codes = |answer: &Value| -> Vec<String> {
        answer["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["code"].as_str().unwrap().to_string())
            .collect()
    };
    for q in ["油煙", "油烟", "餐飲 油煙", "生態環境"] {
        let answer = lookup(q);
        assert_eq!(codes(&answer), vec!["SD-001"], "{q}");
        assert_eq!(answer["version"], 1);
        assert_eq!(answer["content_hash"], v1["content_hash"]);
        assert_eq!(answer["township"], YUCHAN);
        assert_eq!(answer["township_name"], "玉蟾街道");
        assert_eq!(answer["county"], LUXIAN);
    }
    let answer = lookup("油煙");
    let matter = &answer["matches"][0];
    assert_eq!(matter["lead"]["department"], "luxian-sthj");
    assert_eq!(matter["supporters"][0]["department"], "luxian-scjg");
    assert_eq!(
        matter["township_duties"],
        json!(["日常巡查", "发现报告", "劝阻制止"])
    );
    assert_eq!(codes(&lookup("无此事项")), Vec::<String>::new());

    // The working copy moves on; the public answer does not until it is published.
    add_matter(
        &app,
        matter_named("SD-006", "夜市摊点油烟扰民的处置", "luxian-zhzf"),
    );
    let mut renamed = sd003();
    renamed["name"] = json!("占道经营及油烟扰民的整治");
    replace_matter(&app, renamed);
    let working = expect_json(
        app.get_as(
            &format!("/api/v1/lookup?township={YUCHAN}&q=油煙"),
            &app.compiler(),
        ),
        200,
    );
    assert_eq!(working["source"], "working_copy");
    assert_eq!(working["matches"].as_array().unwrap().len(), 3);
    for q in ["油煙", "油烟"] {
        let answer = lookup(q);
        assert_eq!(codes(&answer), vec!["SD-001"], "{q}");
        assert_eq!(answer["version"], 1);
    }
    assert_eq!(codes(&lookup("夜市")), Vec::<String>::new());
    assert_eq!(lookup("占道")["matches"][0]["name"], "占道经营的整治");

    // Submitted but not published: still version 1.
    let v2 = submitted(&app, "duty", "新增夜市油烟事项");
    for stage in stages_of("duty") {
        approve(&app, "duty", 2, stage);
    }
    assert_eq!(codes(&lookup("油烟")), vec!["SD-001"]);
    expect_json(publish(&app, "duty", 2, None), 200);
    for q in ["油煙", "油烟"] {
        let answer = lookup(q);
        assert_eq!(codes(&answer), vec!["SD-001", "SD-003", "SD-006"], "{q}");
        assert_eq!(answer["version"], 2);
        assert_eq!(answer["content_hash"], v2["content_hash"]);
    }
    assert_eq!(codes(&lookup("夜市")), vec!["SD-006"]);
    // Point in time: before the first publication nothing answers.
    expect_problem(
        app.get(&format!(
            "/public/v1/lookup?township={YUCHAN}&q=油烟&at=2000-01-01"
        )),
        404,
    );

    // Bad questions.
    expect_problem(
        app.get(&format!("/public/v1/lookup?township={YUCHAN}&q=%20")),
        422,
    );
    expect_problem(
        app.get("/public/v1/lookup?township=510521000000&q=油烟"),
        422,
    );
    expect_problem(
        app.get("/public/v1/lookup?township=510521102000&q=油烟"),
        404,
    );
    // Another county's township: that county published nothing.
    expect_problem(
        app.get("/public/v1/lookup?township=510522100000&q=油烟"),
        404,
    );
}

fn matter_named(code: &str, name: &str, lead: &str) -> Value {
    let mut m = matter(code, name, "生态环境", lead, &["luxian-sthj"]);
    if lead == "luxian-sthj" {
        m["supporters"] = json!([]);
    }
    m
}

// ---------------------------------------------------------------------------------------
// 7. The publication log

#[test]
fn the_publication_log_lists_every_publication_oldest_first_with_delta_sync() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    let p1 = submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, Some("2025-01-01"));
    let d1 = submitted(&app, "duty", "首次编制");
    approve_and_publish(&app, "duty", 1, None);
    // 合江县 publishes its responsibility list too.
    let hejiang = app.token(&["county_compiler"], HEJIANG, "hejiang-gov");
    let mut m = matter(
        "HJ-001",
        "餐饮服务业油烟污染的监管",
        "生态环境",
        "hejiang-sthj",
        &["hejiang-scjg"],
    );
    m["notes"] = json!("合江县");
    expect_json(app.post(&matters_path(HEJIANG), &hejiang, &m), 201);
    let h1 = expect_json(
        submit_as(&app, HEJIANG, "duty", &hejiang, "合江县首次编制"),
        201,
    );
    for (role, stage, org) in [
        ("staffing_reviewer", "staffing", "hejiang-bb"),
        ("legality_reviewer", "legality", "hejiang-sfj"),
        ("approval_reviewer", "approval", "hejiang-spj"),
    ] {
        expect_json(
            app.post(
                &format!("{}/1/reviews", versions_path(HEJIANG, "duty")),
                &app.token(&[role], HEJIANG, org),
                &json!({"stage": stage, "decision": "approve", "hash": h1["content_hash"]}),
            ),
            201,
        );
    }
    let etag = app.etag(&format!("{}/1", versions_path(HEJIANG, "duty")), &hejiang);
    expect_json(
        app.send(
            Method::POST,
            &format!("{}/1/publish", versions_path(HEJIANG, "duty")),
            &hejiang,
            Some(&etag),
            &json!({}),
        ),
        200,
    );
    // A second power version, whose summary needs escaping in XML.
    let round = open_round(&app);
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    let p2 = submitted(&app, "power", "新增<赋权>事项 & 调整");
    approve_and_publish(&app, "power", 2, Some("2025-06-01"));
    // Versions that were never published are not in the log.
    submitted(&app, "duty", "未发布的版本");

    let feed = expect_json(app.get("/public/v1/publications.json"), 200);
    let items = feed["items"].as_array().unwrap();
    let seen: Vec<(&str, &str, i64)> = items
        .iter()
        .map(|v| {
            (
                v["county"].as_str().unwrap(),
                v["kind"].as_str().unwrap(),
                v["number"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (LUXIAN, "power", 1),
            (LUXIAN, "duty", 1),
            (HEJIANG, "duty", 1),
            (LUXIAN, "power", 2)
        ]
    );
    let published_at: Vec<&str> = items
        .iter()
        .map(|v| v["published_at"].as_str().unwrap())
        .collect();
    let mut sorted = published_at.clone();
    sorted.sort();
    assert_eq!(published_at, sorted, "oldest first");
    assert_eq!(feed["next_since"], items[3]["published_at"]);
    assert_eq!(items[0]["content_hash"], p1["content_hash"]);
    assert_eq!(items[0]["change_summary"], "首次编制");
    assert_eq!(items[0]["effective_from"], "2025-01-01");
    assert_eq!(items[0]["effective_to"], "2025-06-01");
    assert_eq!(items[0]["status"], "superseded");
    assert_eq!(items[0]["url"], public_version_path("power", 1));
    assert_eq!(items[1]["content_hash"], d1["content_hash"]);
    assert!(items[1]["effective_from"].is_string());
    assert_eq!(items[2]["change_summary"], "合江县首次编制");
    assert_eq!(
        items[2]["url"],
        format!("/public/v1/counties/{HEJIANG}/lists/duty/versions/1")
    );
    assert_eq!(items[3]["content_hash"], p2["content_hash"]);
    assert_eq!(
        items[3]["change_summary"],
        "新增<赋权>事项 & 调整\n（提交时仍有未决认领：已确认事项先行公布）",
        "the summary as given, and why it was submitted with claims undecided"
    );
    assert_eq!(items[3]["status"], "published");

    // Delta sync: since= the previous answer's next_since gives only later ones.
    let first = expect_json(app.get("/public/v1/publications.json?limit=2"), 200);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let since = first["next_since"].as_str().unwrap().to_string();
    assert_eq!(since, published_at[1]);
    let rest = expect_json(
        app.get(&format!("/public/v1/publications.json?since={since}")),
        200,
    );
    let rest_items = rest["items"].as_array().unwrap();
    assert_eq!(rest_items.len(), 2);
    assert_eq!(rest_items[0]["county"], HEJIANG);
    assert_eq!(rest_items[1]["number"], 2);
    let since = rest["next_since"].as_str().unwrap().to_string();
    let nothing = expect_json(
        app.get(&format!("/public/v1/publications.json?since={since}")),
        200,
    );
    assert_eq!(nothing["items"], json!([]));
    assert_eq!(
        nothing["next_since"],
        since.as_str(),
        "next_since stays put"
    );
    let with_z = expect_json(
        app.get(&format!(
            "/public/v1/publications.json?since={}",
            published_at[2].replace('Z', "%2B00:00")
        )),
        200,
    );
    assert_eq!(with_z["items"].as_array().unwrap().len(), 1);
    let by_date = expect_json(
        app.get("/public/v1/publications.json?since=2000-01-01"),
        200,
    );
    assert_eq!(by_date["items"].as_array().unwrap().len(), 4);
    for bad in ["yesterday", "2026-13-01", "1700000000"] {
        let problem = expect_problem(
            app.get(&format!("/public/v1/publications.json?since={bad}")),
            422,
        );
        assert_eq!(error_fields(&problem), vec!["since"], "{bad}");
        expect_problem(
            app.get(&format!("/public/v1/publications.atom?since={bad}")),
            422,
        );
    }
    for bad in ["0", "1001", "-1"] {
        expect_problem(
            app.get(&format!("/public/v1/publications.json?limit={bad}")),
            422,
        );
    }

    // The same log as Atom.
    let response = app.get("/public/v1/publications.atom");
    assert_eq!(response.status(), 200);
    let content_type = header(&response, "content-type").unwrap();
    assert!(
        content_type.starts_with("application/atom+xml"),
        "{content_type}"
    );
    let xml = response.text().unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"),
        "{xml}"
    );
    assert_eq!(xml.matches("<entry>").count(), 4, "{xml}");
    assert_eq!(xml.matches("</entry>").count(), 4, "{xml}");
    let order: Vec<usize> = [
        format!("urn:quanze:{LUXIAN}:power:1"),
        format!("urn:quanze:{LUXIAN}:duty:1"),
        format!("urn:quanze:{HEJIANG}:duty:1"),
        format!("urn:quanze:{LUXIAN}:power:2"),
    ]
    .iter()
    .map(|id| {
        xml.find(&format!("<id>{id}</id>"))
            .unwrap_or_else(|| panic!("{id}: {xml}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "oldest first: {xml}");
    for v in [&p1, &d1, &h1, &p2] {
        assert!(xml.contains(v["content_hash"].as_str().unwrap()), "{xml}");
    }
    assert!(xml.contains("新增&lt;赋权&gt;事项 &amp; 调整"), "{xml}");
    assert!(!xml.contains("新增<赋权>"), "{xml}");
    let later = app
        .get(&format!(
            "/public/v1/publications.atom?since={}",
            published_at[1]
        ))
        .text()
        .unwrap();
    assert_eq!(later.matches("<entry>").count(), 2, "{later}");
}

// ---------------------------------------------------------------------------------------
// 8. The audit trail

#[test]
fn the_audit_trail_records_submission_each_review_publication_and_withdrawal() {
    let app = TestApp::with_demo();
    let v1 = submitted(&app, "power", "首次编制");
    let h1 = v1["content_hash"].as_str().unwrap().to_string();
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "return",
            &h1,
            json!([
                finding("XK-0002", "blocking"),
                finding("CF-0005", "advisory")
            ]),
        ),
        201,
    );
    submitted(&app, "power", "第二次报送");
    approve_and_publish(&app, "power", 2, Some("2025-01-01"));
    submitted(&app, "power", "第三次报送");
    let (_, etag) = version(&app, "power", 3);
    expect_json(withdraw(&app, "power", 3, Some(&etag)), 200);

    let events = audit_events(&app);
    let trail: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["entity_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let entity = |n: i64| format!("{LUXIAN}/power/{n}");
    assert_eq!(
        trail,
        vec![
            ("publication.submit".to_string(), entity(1)),
            ("publication.review".to_string(), entity(1)),
            ("publication.submit".to_string(), entity(2)),
            ("publication.review".to_string(), entity(2)),
            ("publication.review".to_string(), entity(2)),
            ("publication.publish".to_string(), entity(2)),
            ("publication.submit".to_string(), entity(3)),
            ("publication.withdraw".to_string(), entity(3)),
        ]
    );
    assert!(events
        .iter()
        .all(|e| e["entity_type"] == "list_version" && e["region_code"] == LUXIAN));
    assert!(
        events[0]["summary"].as_str().unwrap().contains(&h1),
        "{}",
        events[0]
    );
    assert_eq!(events[0]["actor_org"], "luxian-gov");
    let review = &events[1];
    assert_eq!(review["actor_org"], "luxian-sfj");
    assert_eq!(review["actor_roles"], "legality_reviewer");
    let summary = review["summary"].as_str().unwrap();
    assert!(
        summary.contains("legality") && summary.contains("returned"),
        "{summary}"
    );
    assert!(summary.contains("2 finding"), "{summary}");
    assert_eq!(events[4]["actor_org"], "luxian-gov");
    assert!(events[4]["actor_roles"]
        .as_str()
        .unwrap()
        .contains("government_approver"));
    let publish = events[5]["summary"].as_str().unwrap();
    assert!(publish.contains("2025-01-01"), "{publish}");
    assert_eq!(events[5]["actor_roles"], "county_compiler");
    // Filtered to one version.
    let one = expect_json(
        app.get_as(
            &format!(
                "/api/v1/audit?entity_type=list_version&entity_id={}",
                entity(2)
            ),
            &auditor(&app),
        ),
        200,
    );
    assert_eq!(one["total"], 4);
    // The chain still verifies.
    let report = expect_json(app.get_as("/api/v1/audit/verify", &auditor(&app)), 200);
    assert_eq!(report["valid"], true, "{report}");
}
