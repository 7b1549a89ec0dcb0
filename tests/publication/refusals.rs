//! Refusals, and one version under review at a time.

use super::*;

// ---------------------------------------------------------------------------------------
// 2. Refusals

#[test]
fn publication_names_each_missing_stage_and_enforces_the_power_lists_order() {
    let app = TestApp::with_demo();
    submitted(&app, "power", "首次编制");
    let detail = |response: Response| {
        expect_problem(response, 409)["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let d = detail(publish(&app, "power", 1, None));
    assert!(d.contains("legality has not approved"), "{d}");
    assert!(d.contains("government has not approved"), "{d}");
    // The government approves first: still refused for legality.
    assert_eq!(
        approve(&app, "power", 1, "government")["status"],
        "in_review"
    );
    let d = detail(publish(&app, "power", 1, None));
    assert!(d.contains("legality has not approved"), "{d}");
    assert!(!d.contains("government has not approved"), "{d}");
    // Legality approves after it: both approved, but in the wrong order.
    let history = approve(&app, "power", 1, "legality");
    assert_eq!(
        history["status"], "in_review",
        "out of order is not approved"
    );
    let d = detail(publish(&app, "power", 1, None));
    assert!(d.contains("government approved before legality"), "{d}");
    // The government approves again, after legality: now it can be published.
    assert_eq!(
        approve(&app, "power", 1, "government")["status"],
        "approved"
    );
    let published = expect_json(publish(&app, "power", 1, None), 200);
    assert_eq!(published["status"], "published");
    // By default in force from today in China Standard Time.
    let today = (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string();
    assert_eq!(published["effective_from"], today.as_str());

    // The responsibility list: each missing stage is named, in any order of approval.
    add_matter(&app, sd001());
    submitted(&app, "duty", "首次编制");
    let d = detail(publish(&app, "duty", 1, None));
    for stage in ["staffing", "legality", "approval"] {
        assert!(d.contains(&format!("{stage} has not approved")), "{d}");
    }
    approve(&app, "duty", 1, "legality");
    let d = detail(publish(&app, "duty", 1, None));
    assert!(d.contains("staffing has not approved"), "{d}");
    assert!(d.contains("approval has not approved"), "{d}");
    assert!(!d.contains("legality has not approved"), "{d}");
    approve(&app, "duty", 1, "approval");
    let d = detail(publish(&app, "duty", 1, None));
    assert!(d.contains("staffing has not approved"), "{d}");
    assert!(!d.contains("approval has not approved"), "{d}");
    approve(&app, "duty", 1, "staffing");
    expect_json(publish(&app, "duty", 1, None), 200);
}

#[test]
fn a_stage_that_returns_after_approving_takes_its_approval_back() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    let v1 = submitted(&app, "duty", "首次编制");
    for stage in stages_of("duty") {
        approve(&app, "duty", 1, stage);
    }
    assert_eq!(version(&app, "duty", 1).0["status"], "approved");
    // An approved version may still be returned; it ends there.
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "approval"),
            "duty",
            1,
            "approval",
            "return",
            v1["content_hash"].as_str().unwrap(),
            json!([finding("SD-001", "blocking")]),
        ),
        201,
    );
    assert_eq!(version(&app, "duty", 1).0["status"], "returned");
    let problem = expect_problem(publish(&app, "duty", 1, None), 409);
    assert!(
        problem["detail"].as_str().unwrap().contains("returned"),
        "{problem}"
    );
}

#[test]
fn reviews_are_refused_when_wrong() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    let power = submitted(&app, "power", "首次编制");
    let duty = submitted(&app, "duty", "首次编制");
    let ph = power["content_hash"].as_str().unwrap().to_string();
    let dh = duty["content_hash"].as_str().unwrap().to_string();
    let before = audit_events(&app).len();

    // An approval cannot carry a blocking finding.
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "approve",
            &ph,
            json!([
                finding("CF-0005", "advisory"),
                finding("XK-0002", "blocking")
            ]),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["findings[1].severity"]);
    // The reviewer must have read this version's content.
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "approve",
            &"0".repeat(64),
            json!([]),
        ),
        409,
    );
    assert!(
        problem["detail"].as_str().unwrap().contains(&ph),
        "{problem}"
    );
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "duty",
            1,
            "staffing",
            "approve",
            &ph,
            json!([]),
        ),
        409,
    );
    assert!(
        problem["detail"].as_str().unwrap().contains(&dh),
        "{problem}"
    );
    // A finding must concern an item of the version.
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "return",
            &ph,
            json!([finding("CF-0001", "blocking")]),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["findings[0].item_code"]);
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "duty",
            1,
            "staffing",
            "return",
            &dh,
            json!([finding("SD-001", "blocking"), finding("SD-999", "blocking")]),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["findings[1].item_code"]);
    // A reviewer of another county.
    let other = app.token(&["legality_reviewer"], HEJIANG, "hejiang-sfj");
    expect_problem(
        review_as(
            &app,
            &other,
            "power",
            1,
            "legality",
            "approve",
            &ph,
            json!([]),
        ),
        403,
    );
    // The wrong role for the stage.
    expect_problem(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "duty",
            1,
            "legality",
            "approve",
            &dh,
            json!([]),
        ),
        403,
    );
    expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "government",
            "approve",
            &ph,
            json!([]),
        ),
        403,
    );
    // A compiler is no reviewer.
    expect_problem(
        review_as(
            &app,
            &app.compiler(),
            "power",
            1,
            "legality",
            "approve",
            &ph,
            json!([]),
        ),
        403,
    );
    // A stage not in the plan, even for a reviewer holding its role.
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "power",
            1,
            "staffing",
            "approve",
            &ph,
            json!([]),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["stage"]);
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "government"),
            "duty",
            1,
            "government",
            "approve",
            &dh,
            json!([]),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["stage"]);
    // A return says what must change.
    expect_problem(
        app.post(
            &format!("{}/reviews", version_path("power", 1)),
            &reviewer(&app, "legality"),
            &json!({"stage": "legality", "decision": "return", "hash": ph}),
        ),
        422,
    );
    // No such version.
    expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            9,
            "legality",
            "approve",
            &ph,
            json!([]),
        ),
        404,
    );
    // Nothing of that was written.
    let (history, _) = version(&app, "power", 1);
    assert_eq!(history["reviews"], json!([]));
    assert_eq!(history["revision"], power["revision"]);
    assert_eq!(audit_events(&app).len(), before);

    // Publication needs If-Match, and the current one.
    approve(&app, "power", 1, "legality");
    approve(&app, "power", 1, "government");
    expect_problem(publish_with(&app, "power", 1, None, None), 428);
    expect_problem(publish_with(&app, "power", 1, Some("\"1\""), None), 412);
    let (_, etag) = version(&app, "power", 1);
    // Only the compiler publishes.
    expect_problem(
        app.send(
            Method::POST,
            &format!("{}/publish", version_path("power", 1)),
            &reviewer(&app, "government"),
            Some(&etag),
            &json!({}),
        ),
        403,
    );
    assert_eq!(version(&app, "power", 1).0["status"], "approved");

    // A returned version is no longer reviewed.
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "staffing"),
            "duty",
            1,
            "staffing",
            "return",
            &dh,
            json!([finding("SD-001", "blocking")]),
        ),
        201,
    );
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "duty",
            1,
            "legality",
            "approve",
            &dh,
            json!([]),
        ),
        409,
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("returned"),
        "{problem}"
    );
    // Nor is a published one.
    expect_json(publish(&app, "power", 1, None), 200);
    expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "approve",
            &ph,
            json!([]),
        ),
        409,
    );
}

// ---------------------------------------------------------------------------------------
// 3. One version under review at a time

#[test]
fn at_most_one_version_is_under_review_and_only_an_open_one_can_be_withdrawn() {
    let app = TestApp::with_demo();
    let v1 = submitted(&app, "power", "首次编制");
    let problem = expect_problem(submit(&app, "power", "再次报送"), 409);
    assert!(
        problem["detail"].as_str().unwrap().contains("in_review"),
        "{problem}"
    );
    approve(&app, "power", 1, "legality");
    approve(&app, "power", 1, "government");
    assert_eq!(version(&app, "power", 1).0["status"], "approved");
    let problem = expect_problem(submit(&app, "power", "再次报送"), 409);
    assert!(
        problem["detail"].as_str().unwrap().contains("approved"),
        "{problem}"
    );
    // Only the compiler submits; the other county's compiler neither.
    expect_problem(
        submit_as(&app, LUXIAN, "power", &app.clerk(YUCHAN), "x"),
        403,
    );
    expect_problem(
        submit_as(
            &app,
            LUXIAN,
            "power",
            &app.token(&["county_compiler"], HEJIANG, "hejiang-gov"),
            "x",
        ),
        403,
    );
    // The other kind of list has its own version under review.
    add_matter(&app, sd001());
    submitted(&app, "duty", "首次编制");

    // Withdrawal needs the current ETag.
    expect_problem(withdraw(&app, "power", 1, None), 428);
    expect_problem(withdraw(&app, "power", 1, Some("\"1\"")), 412);
    let (_, etag) = version(&app, "power", 1);
    assert_ne!(etag, "\"1\"");
    let withdrawn = expect_json(withdraw(&app, "power", 1, Some(&etag)), 200);
    assert_eq!(withdrawn["status"], "withdrawn");
    assert!(withdrawn["ended_at"].is_string());
    expect_problem(publish(&app, "power", 1, None), 409);
    let problem = expect_problem(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "approve",
            v1["content_hash"].as_str().unwrap(),
            json!([]),
        ),
        409,
    );
    assert!(problem["detail"].as_str().unwrap().contains("withdrawn"));

    // Now another may be submitted; it gets the next number.
    let v2 = submitted(&app, "power", "撤回后重新报送");
    assert_eq!(v2["number"], 2);
    assert_eq!(
        v2["content_hash"], v1["content_hash"],
        "same working copy, same hash"
    );
    approve_and_publish(&app, "power", 2, None);
    let (_, etag) = version(&app, "power", 2);
    let problem = expect_problem(withdraw(&app, "power", 2, Some(&etag)), 409);
    assert!(
        problem["detail"].as_str().unwrap().contains("published"),
        "{problem}"
    );
    let (_, etag) = version(&app, "power", 1);
    expect_problem(withdraw(&app, "power", 1, Some(&etag)), 409);
    // After publication a new version may be submitted.
    assert_eq!(submitted(&app, "power", "下一版")["number"], 3);

    let listed = expect_json(
        app.get_as(&versions_path(LUXIAN, "power"), &app.compiler()),
        200,
    );
    let states: Vec<(i64, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["number"].as_i64().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        vec![(3, "in_review"), (2, "published"), (1, "withdrawn")]
    );
}

#[test]
fn nothing_to_submit_is_a_conflict() {
    let app = TestApp::with_demo();
    // The responsibility list has no matters yet.
    expect_problem(submit(&app, "duty", "首次编制"), 409);
    // A duty list is not compiled under a catalogue edition.
    add_matter(&app, sd001());
    expect_problem(
        app.post(
            &versions_path(LUXIAN, "duty"),
            &app.compiler(),
            &json!({"title": "t", "change_summary": "s", "edition": "2026"}),
        ),
        422,
    );
    // A power list without a round needs an edition.
    expect_problem(
        app.post(
            &versions_path(LUXIAN, "power"),
            &app.compiler(),
            &json!({"title": "t", "change_summary": "s"}),
        ),
        404,
    );
    expect_problem(
        app.post(
            &versions_path(LUXIAN, "power"),
            &app.compiler(),
            &json!({"title": "", "change_summary": "s", "edition": "2026"}),
        ),
        422,
    );
    expect_problem(
        app.post(
            &versions_path(LUXIAN, "lists"),
            &app.compiler(),
            &json!({"title": "t", "change_summary": "s"}),
        ),
        404,
    );
}
