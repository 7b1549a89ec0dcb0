//! Who may do what, lists and exports.

use super::*;

#[test]
fn every_forbidden_actor_is_refused() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    let open = |token: &str, county: &str| {
        app.post(
            &format!("/api/v1/counties/{county}/claim-rounds"),
            token,
            &json!({"edition": "2026", "title": "x", "deadline": "2099-01-01"}),
        )
    };
    // Only the county's compiler opens rounds.
    expect_problem(
        open(
            &app.token(&["county_compiler"], HEJIANG, "hejiang-gov"),
            LUXIAN,
        ),
        403,
    );
    for role in [
        "township_clerk",
        "department_officer",
        "auditor",
        "catalogue_admin",
        "legality_reviewer",
    ] {
        expect_problem(open(&app.token_for(role, LUXIAN), LUXIAN), 403);
    }
    let response = app
        .request(
            Method::POST,
            &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
            None,
        )
        .json(&json!({}))
        .send()
        .unwrap();
    expect_problem(response, 401);
    let ok_answer = json!([{"item": "CF-0001", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0001")}]);
    // A clerk answers for its own township only; other roles do not answer.
    expect_problem(
        answer(
            &app,
            round,
            &app.clerk(FUJI),
            CLAIMS_TOWNSHIP,
            ok_answer.clone(),
        ),
        403,
    );
    expect_problem(
        answer(
            &app,
            round,
            &app.clerk("510522100000"),
            CLAIMS_TOWNSHIP,
            ok_answer.clone(),
        ),
        403,
    );
    expect_problem(
        answer(
            &app,
            round,
            &app.compiler(),
            CLAIMS_TOWNSHIP,
            ok_answer.clone(),
        ),
        403,
    );
    expect_problem(
        answer(
            &app,
            round,
            &app.officer("luxian-zhzf"),
            CLAIMS_TOWNSHIP,
            ok_answer.clone(),
        ),
        403,
    );
    // Whatever region its token names, a clerk answers only for the township its
    // organisation belongs to; an unregistered organisation answers for none.
    let county_wide_fuji_clerk = app.token(&["township_clerk"], LUXIAN, unit_of(FUJI));
    expect_refusal(
        answer(
            &app,
            round,
            &county_wide_fuji_clerk,
            CLAIMS_TOWNSHIP,
            ok_answer.clone(),
        ),
        "unit-of-township",
    );
    for org in ["clerk-org", "luxian-zrzy", "luxian-sfj"] {
        expect_refusal(
            answer(
                &app,
                round,
                &app.token(&["township_clerk"], CLAIMS_TOWNSHIP, org),
                CLAIMS_TOWNSHIP,
                ok_answer.clone(),
            ),
            "unit-of-township",
        );
    }
    // A county-wide token of the township's own unit answers for it.
    let county_wide_own_clerk = app.token(&["township_clerk"], LUXIAN, unit_of(CLAIMS_TOWNSHIP));
    expect_json(
        answer(
            &app,
            round,
            &county_wide_own_clerk,
            CLAIMS_TOWNSHIP,
            ok_answer,
        ),
        200,
    );
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    let confirm = json!([{"township": CLAIMS_TOWNSHIP, "item": "CF-0001", "decision": "confirm", "revision": revision(&claims, "CF-0001")}]);
    // Only an officer of the department whose sector holds the power, in this county.
    expect_problem(
        decide(&app, round, &app.officer("luxian-scjg"), confirm.clone()),
        403,
    );
    expect_problem(
        decide(&app, round, &app.officer("luxian-sfj"), confirm.clone()),
        403,
    );
    expect_refusal(
        decide(&app, round, &app.officer("no-such-org"), confirm.clone()),
        "department-of-county",
    );
    expect_refusal(
        decide(&app, round, &app.officer("hejiang-zhzf"), confirm.clone()),
        "department-of-county",
    );
    expect_problem(
        decide(
            &app,
            round,
            &app.token(&["department_officer"], HEJIANG, "hejiang-zhzf"),
            confirm.clone(),
        ),
        403,
    );
    expect_problem(
        decide(&app, round, &app.clerk(CLAIMS_TOWNSHIP), confirm.clone()),
        403,
    );
    expect_problem(decide(&app, round, &app.compiler(), confirm.clone()), 403);
    // Reading: a clerk sees its own township only; another county's roles see nothing.
    let other_clerk_view = app.get_as(
        &format!("/api/v1/claim-rounds/{round}/claims?township={CLAIMS_TOWNSHIP}"),
        &app.clerk(FUJI),
    );
    expect_problem(other_clerk_view, 403);
    let own = expect_json(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/claims"),
            &app.clerk(FUJI),
        ),
        200,
    );
    assert!(own["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["township"] == FUJI));
    expect_problem(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}"),
            &app.token(&["county_compiler"], HEJIANG, "hejiang-gov"),
        ),
        403,
    );
    expect_problem(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/statistics"),
            &app.token_for("legality_reviewer", LUXIAN),
        ),
        403,
    );
    expect_problem(app.get(&format!("/api/v1/claim-rounds/{round}")), 401);
    // Closing and reopening are the compiler's.
    let etag = app.etag(&format!("/api/v1/claim-rounds/{round}"), &app.compiler());
    expect_problem(
        app.send(
            Method::POST,
            &format!("/api/v1/claim-rounds/{round}/close"),
            &app.clerk(CLAIMS_TOWNSHIP),
            Some(&etag),
            &json!({}),
        ),
        403,
    );
    expect_problem(
        app.send(
            Method::POST,
            &format!("/api/v1/claim-rounds/{round}/close"),
            &app.token(&["county_compiler"], HEJIANG, "hejiang-gov"),
            Some(&etag),
            &json!({}),
        ),
        403,
    );
    let id = claim(&claims, "CF-0001")["id"].as_i64().unwrap();
    expect_problem(
        app.send(
            Method::POST,
            &format!("/api/v1/claims/{id}/reopen"),
            &app.officer("luxian-zhzf"),
            Some("\"2\""),
            &json!({"reason": "x"}),
        ),
        403,
    );
    // The refused writes changed nothing.
    let after = claims_of(&app, round, CLAIMS_TOWNSHIP);
    assert_eq!(claim(&after, "CF-0001")["state"], "claimed");
}

#[test]
fn claims_are_listed_with_filters_and_exported_as_csv() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    answer_one(
        &app,
        round,
        json!({"item": "CF-0003", "answer": "defer", "reason": "暂无持证执法人员"}),
    );
    let c = app.compiler();
    let list = |query: &str| {
        expect_json(
            app.get_as(&format!("/api/v1/claim-rounds/{round}/claims?{query}"), &c),
            200,
        )
    };
    assert_eq!(list("state=deferred")["total"], 1);
    assert_eq!(list("state=offered")["total"], 65);
    assert_eq!(
        list("category=02")["total"].as_i64().unwrap() % 3,
        0,
        "each township is offered the same items"
    );
    assert_eq!(
        list(&format!("township={FUJI}&page_size=5"))["items"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(list("sector=comprehensive_enforcement")["total"], 15);
    expect_problem(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/claims?state=lost"),
            &c,
        ),
        400,
    );
    let response = app.get_as(&format!("/api/v1/claim-rounds/{round}/export"), &c);
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = response.text().unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("township,township_name,item,item_name"));
    assert_eq!(text.lines().count(), 67, "a header and 66 claims");
    assert!(text.contains("暂无持证执法人员"));
}

#[test]
fn an_empty_list_of_answers_or_decisions_is_counted_in_entries() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let problem = expect_problem(
        answer(
            &app,
            round,
            &app.clerk(CLAIMS_TOWNSHIP),
            CLAIMS_TOWNSHIP,
            json!([]),
        ),
        422,
    );
    assert_eq!(problem["errors"][0]["field"], "answers");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("must have 1 to"), "{message}");
    assert!(message.ends_with("entries"), "{message}");
    let problem = expect_problem(
        decide(&app, round, &app.officer("luxian-zrzy"), json!([])),
        422,
    );
    assert_eq!(problem["errors"][0]["field"], "decisions");
    assert!(problem["errors"][0]["message"]
        .as_str()
        .unwrap()
        .ends_with("entries"));
}
