//! A round's statistics are counts kept beside its claims, moved in the transaction of
//! every transition: whatever path the claims take, they equal a recount of the claims.

use super::*;

/// The statistics counted from the claims themselves, straight from the database.
fn recounted(app: &TestApp, round: i64, township: Option<&str>) -> Value {
    let db = quanze::db::Db::connect(&app.db_url, 1, std::time::Duration::from_secs(5)).unwrap();
    let stats = db
        .read_blocking(|conn| quanze::claims::recounted_statistics(conn, round, township))
        .unwrap();
    serde_json::to_value(stats).unwrap()
}

fn check_against_recount(app: &TestApp, round: i64, step: &str) {
    assert_eq!(
        stats(app, round),
        recounted(app, round, None),
        "after {step}"
    );
    let clerks = expect_json(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/statistics"),
            &app.clerk(CLAIMS_TOWNSHIP),
        ),
        200,
    );
    assert_eq!(
        clerks,
        recounted(app, round, Some(CLAIMS_TOWNSHIP)),
        "a township's own statistics after {step}"
    );
}

/// A small deterministic generator: the walk is the same on every run and backend.
struct Walk(u64);

impl Walk {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

#[test]
fn kept_statistics_always_equal_a_recount_of_the_claims() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    check_against_recount(&app, round, "opening");
    let (clerk, officer) = (app.clerk(CLAIMS_TOWNSHIP), app.officer("luxian-zhzf"));
    let mut walk = Walk(2026);
    let mut moved = 0;
    for step in 0..40 {
        let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
        let claim = &claims[walk.next(claims.len())];
        let (item, rev, id) = (&claim["item"], &claim["revision"], &claim["id"]);
        let township = CLAIMS_TOWNSHIP;
        let response = match (claim["state"].as_str().unwrap(), walk.next(3)) {
            ("offered" | "returned", 0) => answer(
                &app,
                round,
                &clerk,
                township,
                json!([{"item": item, "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": rev}]),
            ),
            ("offered" | "returned", 1) => answer(
                &app,
                round,
                &clerk,
                township,
                json!([{"item": item, "answer": "defer", "reason": "条件不成熟", "revision": rev}]),
            ),
            ("offered" | "returned", _) => answer(
                &app,
                round,
                &clerk,
                township,
                json!([{"item": item, "answer": "decline", "reason": "无此类事项", "revision": rev}]),
            ),
            ("claimed", 0) => decide(
                &app,
                round,
                &officer,
                json!([{"township": township, "item": item, "decision": "return", "note": "材料不全", "revision": rev}]),
            ),
            ("claimed", _) => decide(
                &app,
                round,
                &officer,
                json!([{"township": township, "item": item, "decision": "confirm", "revision": rev}]),
            ),
            (_, _) => app.send(
                Method::POST,
                &format!("/api/v1/claims/{id}/reopen"),
                &app.compiler(),
                Some(&format!("\"{rev}\"")),
                &json!({"reason": "重新认领"}),
            ),
        };
        let status = response.status().as_u16();
        // Another sector's department may not decide the claim: nothing moves then.
        assert!(
            status == 200 || status == 403,
            "step {step}: {status} {}",
            response.text().unwrap()
        );
        moved += usize::from(status == 200);
        check_against_recount(&app, round, &format!("step {step} ({status})"));
    }
    assert!(moved >= 20, "the walk moved claims ({moved} of 40 steps)");
    let overall = &stats(&app, round)["overall"];
    let states = [
        "unanswered",
        "claimed",
        "deferred",
        "declined",
        "confirmed",
        "returned",
    ];
    let spread = states
        .iter()
        .filter(|s| overall[**s].as_i64().unwrap() > 0)
        .count();
    assert!(spread >= 4, "the walk reached most states: {overall}");
}

#[test]
fn a_refused_change_moves_no_count() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let before = stats(&app, round);
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    // One good answer and one stale one: all or nothing, so nothing.
    let refused = answer(
        &app,
        round,
        &app.clerk(CLAIMS_TOWNSHIP),
        CLAIMS_TOWNSHIP,
        json!([
            {"item": "CF-0001", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0001")},
            {"item": "CF-0002", "answer": "decline", "reason": "无", "revision": revision(&claims, "CF-0002") + 5}
        ]),
    );
    assert_eq!(refused.status(), 412);
    assert_eq!(stats(&app, round), before);
    check_against_recount(&app, round, "a refused change");
}

#[test]
fn statistics_are_revalidated_until_a_claim_moves() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let path = format!("/api/v1/claim-rounds/{round}/statistics");
    let first = app.get_as(&path, &app.compiler());
    assert_eq!(first.status(), 200);
    let tag = first.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(revalidate(&app, &path, &tag).status(), 304, "nothing moved");
    answer_one(
        &app,
        round,
        json!({"item": "CF-0001", "answer": "claim", "unit": "luxian-yuchan-zfd"}),
    );
    let moved = revalidate(&app, &path, &tag);
    assert_eq!(moved.status(), 200, "a claim moved");
    assert_ne!(moved.headers()["etag"].to_str().unwrap(), tag);
    assert_eq!(expect_json(moved, 200)["overall"]["claimed"], 1);
}
