//! What became of each item of a round, the county's own figure, roll-ups over counties,
//! and a power list that waits for its round.

use super::rounds::huade_edition;
use super::*;

const JIAMING: &str = "510521101000";

/// The township's units that exercise comprehensive-enforcement powers.
fn enforcement_unit(township: &str) -> &'static str {
    match township {
        YUCHAN => "luxian-yuchan-zfd",
        FUJI => "luxian-fuji-zfd",
        JIAMING => "luxian-jiaming-zfd",
        other => panic!("no unit for {other}"),
    }
}

/// Every township of the round answers the first `claimed` items with a claim and the
/// rest with a deferral; the department confirms every claim.
fn answer_like_huade(app: &TestApp, round: i64, townships: &[&str], claimed: usize) {
    for township in townships {
        let claims = claims_of(app, round, township);
        let answers: Vec<Value> = claims
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < claimed {
                    json!({"item": c["item"], "answer": "claim", "unit": enforcement_unit(township), "revision": c["revision"]})
                } else {
                    json!({"item": c["item"], "answer": "defer", "reason": "条件不成熟，暂缓承接", "revision": c["revision"]})
                }
            })
            .collect();
        expect_json(
            answer(app, round, &app.clerk(township), township, json!(answers)),
            200,
        );
        let decisions: Vec<Value> = claims_of(app, round, township)
            .iter()
            .filter(|c| c["state"] == "claimed")
            .map(|c| json!({"township": township, "item": c["item"], "decision": "confirm", "revision": c["revision"]}))
            .collect();
        expect_json(
            decide(app, round, &app.officer("luxian-zhzf"), json!(decisions)),
            200,
        );
    }
}

#[test]
fn the_county_figure_of_delegated_and_deferred_items_reads_off_the_items_summary() {
    let app = TestApp::with_demo();
    huade_edition(&app);
    let round = open_round(
        &app,
        json!({"edition": "huade", "title": "化德县赋权事项认领", "deadline": "2099-12-31"}),
    );
    let townships = [YUCHAN, FUJI, JIAMING];
    answer_like_huade(&app, round, &townships, 86);
    let s = stats(&app, round);
    assert_eq!(s["overall"]["confirmed"], 86 * 3);
    assert_eq!(s["overall"]["deferred"], 13 * 3);
    let summary = &s["items_summary"];
    assert_eq!(summary["items"], 99, "{summary}");
    assert_eq!(summary["delegated_everywhere"], 86, "{summary}");
    assert_eq!(summary["deferred_everywhere"], 13, "{summary}");
    for none in [
        "delegated_somewhere",
        "declined_everywhere",
        "not_delegated",
        "open",
    ] {
        assert_eq!(summary[none], 0, "{none}: {summary}");
    }
    let items = s["items"].as_array().unwrap();
    assert_eq!(items.len(), 99);
    let first = items.iter().find(|i| i["item"] == "HD-001").unwrap();
    assert_eq!(first["outcome"], "delegated_everywhere");
    assert_eq!(first["offered_total"], 3);
    assert_eq!(first["confirmed"], 3);
    let last = items.iter().find(|i| i["item"] == "HD-099").unwrap();
    assert_eq!(last["outcome"], "deferred_everywhere");
    // A township's clerk reads its own figures only.
    let own = expect_json(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/statistics"),
            &app.clerk(FUJI),
        ),
        200,
    );
    assert_eq!(own["items_summary"]["delegated_everywhere"], 86);
    assert_eq!(own["items"][0]["offered_total"], 1);
}

#[test]
fn an_item_stays_open_until_every_township_decides_and_is_then_delegated_somewhere() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let item = "CF-0001";
    let outcome = |app: &TestApp| {
        let s = stats(app, round);
        s["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["item"] == item)
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(outcome(&app), "open");
    for (township, kind) in [(YUCHAN, "claim"), (FUJI, "decline"), (JIAMING, "claim")] {
        let claims = claims_of(&app, round, township);
        let mut one = json!({"item": item, "answer": kind, "revision": revision(&claims, item)});
        if kind == "claim" {
            one["unit"] = json!(enforcement_unit(township));
        } else {
            one["reason"] = json!("本乡镇无此类监管对象");
        }
        expect_json(
            answer(&app, round, &app.clerk(township), township, json!([one])),
            200,
        );
    }
    assert_eq!(outcome(&app), "open", "two claims await the department");
    for township in [YUCHAN, JIAMING] {
        let claims = claims_of(&app, round, township);
        let sector_officer = claim(&claims, item)["department"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| "luxian-zhzf".into());
        let decision = json!({"township": township, "item": item, "decision": "confirm", "revision": revision(&claims, item)});
        let response = decide(
            &app,
            round,
            &app.officer(&sector_officer),
            json!([decision]),
        );
        expect_json(response, 200);
    }
    assert_eq!(outcome(&app), "delegated_somewhere");
}

#[test]
fn a_region_rolls_up_the_latest_round_of_each_of_its_counties() {
    let app = TestApp::with_demo();
    let first = demo_round(&app);
    // A later round of 泸县 replaces the first in the roll-up.
    let close = app.etag(&format!("/api/v1/claim-rounds/{first}"), &app.compiler());
    expect_json(
        app.send(
            Method::POST,
            &format!("/api/v1/claim-rounds/{first}/close"),
            &app.compiler(),
            Some(&close),
            &json!({}),
        ),
        200,
    );
    huade_edition(&app);
    let luxian = open_round(
        &app,
        json!({"edition": "huade", "title": "第二批", "deadline": "2099-12-31"}),
    );
    answer_like_huade(&app, luxian, &[YUCHAN, FUJI, JIAMING], 86);
    let hejiang_compiler = app.token(&["county_compiler"], HEJIANG, "hejiang-gov");
    let hejiang = expect_json(
        app.post(
            &format!("/api/v1/counties/{HEJIANG}/claim-rounds"),
            &hejiang_compiler,
            &json!({"edition": "2026", "title": "合江县认领", "deadline": "2099-12-31"}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let hejiang_stats = expect_json(
        app.get_as(
            &format!("/api/v1/claim-rounds/{hejiang}/statistics"),
            &hejiang_compiler,
        ),
        200,
    );

    let auditor = app.token_for("auditor", PROVINCE);
    let province = expect_json(
        app.get_as(
            &format!("/api/v1/regions/{PROVINCE}/claim-statistics"),
            &auditor,
        ),
        200,
    );
    assert_eq!(province["counties"], 2, "{province}");
    let counties: Vec<&Value> = province["per_county"].as_array().unwrap().iter().collect();
    assert_eq!(counties[0]["county"], LUXIAN);
    assert_eq!(counties[0]["round"], luxian, "the latest round of 泸县");
    assert_eq!(counties[0]["items_summary"]["delegated_everywhere"], 86);
    assert_eq!(counties[1]["county"], HEJIANG);
    assert_eq!(counties[1]["round"], hejiang);
    assert_eq!(
        province["items_offered"].as_i64().unwrap(),
        99 + hejiang_stats["items_offered"].as_i64().unwrap()
    );
    assert_eq!(province["items_delegated"], 86);
    assert_eq!(province["items_deferred"], 13);
    assert_eq!(
        province["townships"].as_i64().unwrap(),
        3 + hejiang_stats["townships_offered"].as_i64().unwrap()
    );
    assert_eq!(
        province["claims"]["confirmed"],
        86 * 3,
        "claims are summed over the counties"
    );
    let city = expect_json(
        app.get_as("/api/v1/regions/510500000000/claim-statistics", &auditor),
        200,
    );
    assert_eq!(city["counties"], 2);

    // A county's compiler reads its own county, not the province; a township is no roll-up.
    let own = expect_json(
        app.get_as(
            &format!("/api/v1/regions/{LUXIAN}/claim-statistics"),
            &app.compiler(),
        ),
        200,
    );
    assert_eq!(own["counties"], 1);
    expect_problem(
        app.get_as(
            &format!("/api/v1/regions/{PROVINCE}/claim-statistics"),
            &app.compiler(),
        ),
        403,
    );
    expect_problem(
        app.get_as(
            &format!("/api/v1/regions/{HEJIANG}/claim-statistics"),
            &app.compiler(),
        ),
        403,
    );
    expect_problem(
        app.get_as(
            &format!("/api/v1/regions/{YUCHAN}/claim-statistics"),
            &auditor,
        ),
        422,
    );
    expect_problem(
        app.get(&format!("/api/v1/regions/{PROVINCE}/claim-statistics")),
        401,
    );
}

#[test]
fn a_power_list_waits_for_its_round_unless_the_compiler_says_why() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let versions = format!("/api/v1/counties/{LUXIAN}/lists/power/versions");
    let body =
        json!({"title": "泸县乡镇权力清单", "change_summary": "首次编制", "edition": "2026"});
    let before = app.audit_count();
    let refused = expect_problem(app.post(&versions, &app.compiler(), &body), 409);
    assert_eq!(refused["type"], "/problems/not-ready");
    let per_township: Vec<(String, String)> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().into(),
                e["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    let townships: Vec<&str> = per_township.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(townships, [YUCHAN, FUJI, JIAMING], "{refused}");
    let offered = claims_of(&app, round, YUCHAN).len();
    assert!(
        per_township[0]
            .1
            .starts_with(&format!("{offered} undecided: {offered} unanswered")),
        "{refused}"
    );
    assert_eq!(app.audit_count(), before, "nothing written");

    // Saying so without a reason is not enough; a duty list never waits.
    let mut without_reason = body.clone();
    without_reason["allow_incomplete"] = json!(true);
    let problem = expect_problem(app.post(&versions, &app.compiler(), &without_reason), 422);
    assert_eq!(problem["errors"][0]["field"], "incomplete_reason");
    expect_problem(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/lists/duty/versions"),
            &app.compiler(),
            &json!({"title": "责任清单", "change_summary": "首次编制", "allow_incomplete": true, "incomplete_reason": "x"}),
        ),
        422,
    );

    // With a reason, the version says why, where its reviewers read.
    let mut with_reason = without_reason;
    with_reason["incomplete_reason"] = json!("已确认事项先行公布，其余事项第二批认领后调整");
    let version = expect_json(app.post(&versions, &app.compiler(), &with_reason), 201);
    let summary = version["change_summary"].as_str().unwrap();
    assert!(summary.starts_with("首次编制"), "{summary}");
    assert!(
        summary.contains("已确认事项先行公布，其余事项第二批认领后调整"),
        "{summary}"
    );
    let legality = app.token(&["legality_reviewer"], LUXIAN, "luxian-sfj");
    let seen = expect_json(app.get_as(&format!("{versions}/1"), &legality), 200);
    assert_eq!(seen["change_summary"], version["change_summary"]);

    // Once the round is closed nothing waits: the next list needs no reason.
    let etag = app.etag(&format!("{versions}/1"), &app.compiler());
    expect_json(
        app.send(
            Method::POST,
            &format!("{versions}/1/withdraw"),
            &app.compiler(),
            Some(&etag),
            &json!({}),
        ),
        200,
    );
    let close = app.etag(&format!("/api/v1/claim-rounds/{round}"), &app.compiler());
    expect_json(
        app.send(
            Method::POST,
            &format!("/api/v1/claim-rounds/{round}/close"),
            &app.compiler(),
            Some(&close),
            &json!({}),
        ),
        200,
    );
    let version = expect_json(app.post(&versions, &app.compiler(), &body), 201);
    assert_eq!(version["change_summary"], "首次编制");
}

/// `?awaiting=me` on a round's claims: its `total`.
fn waiting(app: &TestApp, round: i64, token: &str) -> (i64, Vec<Value>) {
    let page = expect_json(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/claims?awaiting=me&page_size=500"),
            token,
        ),
        200,
    );
    (
        page["total"].as_i64().unwrap(),
        page["items"].as_array().unwrap().clone(),
    )
}

#[test]
fn work_lists_show_each_clerk_and_officer_what_waits_for_them() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let clerk = app.clerk(YUCHAN);
    let offered = claims_of(&app, round, YUCHAN).len() as i64;
    let (total, items) = waiting(&app, round, &clerk);
    assert_eq!(
        total, offered,
        "every claim of its township waits for the clerk"
    );
    assert!(items.iter().all(|c| c["township"] == YUCHAN));

    let claims = claims_of(&app, round, YUCHAN);
    expect_json(
        answer(
            &app,
            round,
            &clerk,
            YUCHAN,
            json!([
                {"item": "CF-0001", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0001")},
                {"item": "CF-0002", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0002")},
                {"item": "CF-0003", "answer": "defer", "reason": "人员不足", "revision": revision(&claims, "CF-0003")}
            ]),
        ),
        200,
    );
    assert_eq!(waiting(&app, round, &clerk).0, offered - 3);

    // The enforcement bureau is waited for on the two claims of its sector; the ecology
    // bureau on none.
    let enforcement = app.officer("luxian-zhzf");
    let (total, items) = waiting(&app, round, &enforcement);
    assert_eq!(total, 2);
    assert!(items
        .iter()
        .all(|c| c["state"] == "claimed" && c["sector"] == "comprehensive_enforcement"));
    assert_eq!(waiting(&app, round, &app.officer("luxian-sthj")).0, 0);

    // A return goes back on the clerk's list.
    let claims = claims_of(&app, round, YUCHAN);
    expect_json(
        decide(
            &app,
            round,
            &enforcement,
            json!([{"township": YUCHAN, "item": "CF-0002", "decision": "return", "note": "承接主体应为综合执法队", "revision": revision(&claims, "CF-0002")}]),
        ),
        200,
    );
    let (total, items) = waiting(&app, round, &clerk);
    assert_eq!(total, offered - 2);
    assert!(items
        .iter()
        .any(|c| c["item"] == "CF-0002" && c["state"] == "returned"));
    assert_eq!(waiting(&app, round, &enforcement).0, 1);

    // The same list as CSV; and no claim waits for anyone else.
    let csv = app.get_as(
        &format!("/api/v1/claim-rounds/{round}/export?awaiting=me"),
        &enforcement,
    );
    assert_eq!(csv.status(), 200);
    assert_eq!(
        csv.text().unwrap().lines().count(),
        2,
        "a header and one claim"
    );
    assert_eq!(
        waiting(&app, round, &app.compiler()).0,
        0,
        "no claim waits for a compiler"
    );
    expect_problem(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/claims?awaiting=everyone"),
            &clerk,
        ),
        400,
    );
}
