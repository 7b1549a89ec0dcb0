//! Answers in bulk, revisions, transitions and reopening.

use super::*;

#[test]
fn a_bulk_answer_with_one_bad_item_writes_nothing_and_reports_each_bad_row() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    let before = app.audit_count();
    let problem = expect_problem(
        answer(
            &app,
            round,
            &app.clerk(CLAIMS_TOWNSHIP),
            CLAIMS_TOWNSHIP,
            json!([
                {"item": "CF-0001", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0001")},
                {"item": "CF-0002", "answer": "claim", "revision": revision(&claims, "CF-0002")},
                {"item": "CF-0003", "answer": "defer", "revision": revision(&claims, "CF-0003")},
                {"item": "XK-0002", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": 1},
                {"item": "CF-0004", "answer": "claim", "unit": "luxian-fuji-zfd", "revision": revision(&claims, "CF-0004")},
                {"item": "CF-0001", "answer": "decline", "reason": "重复", "revision": 1}
            ]),
        ),
        422,
    );
    let rows: Vec<(i64, String)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        rows.contains(&(2, "unit".into())),
        "claim without a unit: {problem}"
    );
    assert!(
        rows.contains(&(3, "reason".into())),
        "defer without a reason: {problem}"
    );
    assert!(
        rows.contains(&(4, "item".into())),
        "statutory item is not offered: {problem}"
    );
    assert!(
        rows.contains(&(5, "unit".into())),
        "a unit of another township: {problem}"
    );
    assert!(
        rows.contains(&(6, "item".into())),
        "the same item twice: {problem}"
    );
    assert_eq!(app.audit_count(), before);
    let after = claims_of(&app, round, CLAIMS_TOWNSHIP);
    assert!(
        after
            .iter()
            .all(|c| c["state"] == "offered" && c["revision"] == 1),
        "nothing was written"
    );
    // Unknown fields and wrong answers are 400.
    expect_problem(
        answer(
            &app,
            round,
            &app.clerk(CLAIMS_TOWNSHIP),
            CLAIMS_TOWNSHIP,
            json!([{"item": "CF-0001", "answer": "maybe", "revision": 1}]),
        ),
        400,
    );
    expect_problem(
        app.post(
            &format!("/api/v1/claim-rounds/{round}/answers"),
            &app.clerk(CLAIMS_TOWNSHIP),
            &json!({"township": CLAIMS_TOWNSHIP, "answers": [], "extra": 1}),
        ),
        400,
    );
    expect_problem(
        app.post(
            &format!("/api/v1/claim-rounds/{round}/answers"),
            &app.clerk(CLAIMS_TOWNSHIP),
            &json!({"township": CLAIMS_TOWNSHIP, "answers": []}),
        ),
        422,
    );
}

#[test]
fn a_stale_or_missing_revision_is_refused_and_nothing_is_written() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    let k = app.clerk(CLAIMS_TOWNSHIP);
    let rev = revision(&claims, "CF-0001");
    // Two clerks read revision 1; the first answer wins.
    expect_json(
        answer(
            &app,
            round,
            &k,
            CLAIMS_TOWNSHIP,
            json!([{"item": "CF-0001", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": rev}]),
        ),
        200,
    );
    let problem = expect_problem(
        answer(
            &app,
            round,
            &k,
            CLAIMS_TOWNSHIP,
            json!([
                {"item": "CF-0002", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0002")},
                {"item": "CF-0001", "answer": "defer", "reason": "改为暂缓", "revision": rev}
            ]),
        ),
        412,
    );
    assert_eq!(problem["errors"][0]["row"], 2);
    assert_eq!(problem["errors"][0]["field"], "revision");
    let after = claims_of(&app, round, CLAIMS_TOWNSHIP);
    assert_eq!(
        claim(&after, "CF-0001")["state"],
        "claimed",
        "the first answer stands"
    );
    assert_eq!(
        claim(&after, "CF-0002")["state"],
        "offered",
        "nothing of the stale request was written"
    );
    expect_problem(
        answer(
            &app,
            round,
            &k,
            CLAIMS_TOWNSHIP,
            json!([{"item": "CF-0002", "answer": "claim", "unit": "luxian-yuchan-zfd"}]),
        ),
        428,
    );
}

#[test]
fn concurrent_answers_with_one_revision_let_exactly_one_win() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    let rev = revision(&claims, "CF-0001");
    let k = app.clerk(CLAIMS_TOWNSHIP);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let (app, k) = (&app, &k);
                s.spawn(move || {
                    let body = if i % 2 == 0 {
                        json!([{"item": "CF-0001", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": rev}])
                    } else {
                        json!([{"item": "CF-0001", "answer": "defer", "reason": format!("理由{i}"), "revision": rev}])
                    };
                    answer(app, round, k, CLAIMS_TOWNSHIP, body).status().as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 412),
        "{statuses:?}"
    );
    let id = claim(&claims_of(&app, round, CLAIMS_TOWNSHIP), "CF-0001")["id"]
        .as_i64()
        .unwrap();
    let detail = expect_json(
        app.get_as(&format!("/api/v1/claims/{id}"), &app.compiler()),
        200,
    );
    assert_eq!(detail["history"].as_array().unwrap().len(), 1);
}

#[test]
fn every_illegal_transition_is_409_naming_the_current_state() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let k = app.clerk(CLAIMS_TOWNSHIP);
    let d = app.officer("luxian-zhzf");
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    // Confirming an offered claim.
    let problem = expect_problem(
        decide(
            &app,
            round,
            &d,
            json!([{"township": CLAIMS_TOWNSHIP, "item": "CF-0001", "decision": "confirm", "revision": revision(&claims, "CF-0001")}]),
        ),
        409,
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("offered"),
        "{problem}"
    );
    expect_json(
        answer(
            &app,
            round,
            &k,
            CLAIMS_TOWNSHIP,
            json!([
                {"item": "CF-0001", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0001")},
                {"item": "CF-0002", "answer": "defer", "reason": "暂缓", "revision": revision(&claims, "CF-0002")}
            ]),
        ),
        200,
    );
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    // Answering an answered claim; returning a deferred one.
    let problem = expect_problem(
        answer(
            &app,
            round,
            &k,
            CLAIMS_TOWNSHIP,
            json!([{"item": "CF-0001", "answer": "decline", "reason": "x", "revision": revision(&claims, "CF-0001")}]),
        ),
        409,
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("claimed"),
        "{problem}"
    );
    let problem = expect_problem(
        decide(
            &app,
            round,
            &d,
            json!([{"township": CLAIMS_TOWNSHIP, "item": "CF-0002", "decision": "return", "note": "x", "revision": revision(&claims, "CF-0002")}]),
        ),
        409,
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("deferred"),
        "{problem}"
    );
    // Confirming twice.
    expect_json(
        decide(
            &app,
            round,
            &d,
            json!([{"township": CLAIMS_TOWNSHIP, "item": "CF-0001", "decision": "confirm", "revision": revision(&claims, "CF-0001")}]),
        ),
        200,
    );
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    let problem = expect_problem(
        decide(
            &app,
            round,
            &d,
            json!([{"township": CLAIMS_TOWNSHIP, "item": "CF-0001", "decision": "confirm", "revision": revision(&claims, "CF-0001")}]),
        ),
        409,
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("confirmed"),
        "{problem}"
    );
    // Reopening an offered claim.
    let offered = claim(&claims, "CF-0003");
    let id = offered["id"].as_i64().unwrap();
    let etag = format!("\"{}\"", offered["revision"]);
    let problem = expect_problem(
        app.send(
            Method::POST,
            &format!("/api/v1/claims/{id}/reopen"),
            &app.compiler(),
            Some(&etag),
            &json!({"reason": "重新认领"}),
        ),
        409,
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("offered"),
        "{problem}"
    );
}

#[test]
fn the_compiler_reopens_a_decided_claim_with_a_reason() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    answer_one(
        &app,
        round,
        json!({"item": "CF-0003", "answer": "decline", "reason": "无此类事项"}),
    );
    let id = claim(&claims, "CF-0003")["id"].as_i64().unwrap();
    let path = format!("/api/v1/claims/{id}/reopen");
    expect_problem(
        app.send(
            Method::POST,
            &path,
            &app.compiler(),
            None,
            &json!({"reason": "x"}),
        ),
        428,
    );
    expect_problem(
        app.send(
            Method::POST,
            &path,
            &app.compiler(),
            Some("\"1\""),
            &json!({"reason": "x"}),
        ),
        412,
    );
    expect_problem(
        app.send(
            Method::POST,
            &path,
            &app.compiler(),
            Some("\"2\""),
            &json!({"reason": ""}),
        ),
        422,
    );
    let response = app.send(
        Method::POST,
        &path,
        &app.compiler(),
        Some("\"2\""),
        &json!({"reason": "乡镇已补充执法力量"}),
    );
    assert_eq!(response.headers()["etag"], "\"3\"");
    let reopened = expect_json(response, 200);
    assert_eq!(reopened["state"], "offered");
    assert_eq!(reopened["reason"], Value::Null);
    let detail = expect_json(
        app.get_as(&format!("/api/v1/claims/{id}"), &app.compiler()),
        200,
    );
    assert_eq!(detail["history"][1]["to_state"], "offered");
    assert_eq!(detail["history"][1]["comment"], "乡镇已补充执法力量");
}

#[test]
fn a_stale_reopen_is_told_the_claim_s_true_revision_after_two_writes() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let clerk = app.clerk(CLAIMS_TOWNSHIP);
    let decline = |revision: i64| {
        expect_json(
            answer(
                &app,
                round,
                &clerk,
                CLAIMS_TOWNSHIP,
                json!([{"item": "CF-0003", "answer": "decline", "reason": "无此类事项", "revision": revision}]),
            ),
            200,
        )
    };
    decline(1);
    let id = claim(&claims_of(&app, round, CLAIMS_TOWNSHIP), "CF-0003")["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/claims/{id}/reopen");
    let reopen = |if_match: &str| {
        app.send(
            Method::POST,
            &path,
            &app.compiler(),
            Some(if_match),
            &json!({"reason": "乡镇已补充执法力量"}),
        )
    };
    expect_json(reopen("\"2\""), 200);
    decline(3);
    // Two writes since revision 2: the claim is at 4, and a client still holding 2 is
    // told so, then succeeds with what it was told.
    let stale = reopen("\"2\"");
    let told = stale.headers()["etag"].to_str().unwrap().to_string();
    expect_problem(stale, 412);
    let current = app.get_as(&format!("/api/v1/claims/{id}"), &app.compiler());
    assert_eq!(told, current.headers()["etag"].to_str().unwrap());
    assert_eq!(told, "\"4\"");
    expect_json(reopen(&told), 200);
}
