//! Two-way claiming over HTTP on a real database: rounds, bulk answers and confirmations,
//! the state machine, scope, statistics, power sets.

#[path = "../api/common.rs"]
#[allow(dead_code, reason = "each test target uses part of the harness")]
mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;

const CLAIMS_TOWNSHIP: &str = YUCHAN;

/// Opens a round of the demo edition in 泸县 and returns its id.
fn open_round(app: &TestApp, body: Value) -> i64 {
    let round = expect_json(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
            &app.compiler(),
            &body,
        ),
        201,
    );
    round["id"].as_i64().unwrap()
}

fn demo_round(app: &TestApp) -> i64 {
    open_round(
        app,
        json!({"edition": "2026", "title": "2026年第一批赋权事项双向认领", "deadline": "2099-12-31"}),
    )
}

fn claims_of(app: &TestApp, round: i64, township: &str) -> Vec<Value> {
    let page = expect_json(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/claims?township={township}&page_size=500"),
            &app.compiler(),
        ),
        200,
    );
    page["items"].as_array().unwrap().clone()
}

fn claim<'a>(claims: &'a [Value], item: &str) -> &'a Value {
    claims
        .iter()
        .find(|c| c["item"] == item)
        .unwrap_or_else(|| panic!("no claim for {item}"))
}

fn revision(claims: &[Value], item: &str) -> i64 {
    claim(claims, item)["revision"].as_i64().unwrap()
}

fn answer(
    app: &TestApp,
    round: i64,
    token: &str,
    township: &str,
    answers: Value,
) -> reqwest::blocking::Response {
    app.post(
        &format!("/api/v1/claim-rounds/{round}/answers"),
        token,
        &json!({"township": township, "answers": answers}),
    )
}

fn decide(app: &TestApp, round: i64, token: &str, decisions: Value) -> reqwest::blocking::Response {
    app.post(
        &format!("/api/v1/claim-rounds/{round}/confirmations"),
        token,
        &json!({"decisions": decisions}),
    )
}

fn stats(app: &TestApp, round: i64) -> Value {
    expect_json(
        app.get_as(
            &format!("/api/v1/claim-rounds/{round}/statistics"),
            &app.compiler(),
        ),
        200,
    )
}

#[test]
fn a_round_offers_every_delegable_item_to_every_township_of_the_county() {
    let app = TestApp::with_demo();
    let response = app.post(
        &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
        &app.compiler(),
        &json!({"edition": "2026", "title": "第一批", "deadline": "2099-12-31"}),
    );
    assert_eq!(response.headers()["etag"], "\"1\"");
    let round = expect_json(response, 201);
    assert_eq!(round["status"], "open");
    assert_eq!(
        round["townships"], 3,
        "泸县 has three townships in the demo"
    );
    assert_eq!(
        round["items"], 22,
        "the demo edition has 22 delegable items"
    );
    assert_eq!(round["claims"], 66);
    let claims = claims_of(&app, round["id"].as_i64().unwrap(), CLAIMS_TOWNSHIP);
    assert_eq!(claims.len(), 22);
    assert!(claims
        .iter()
        .all(|c| c["state"] == "offered" && c["revision"] == 1));
    assert!(
        claims.iter().all(|c| c["item"] != "XK-0002"),
        "statutory items are never offered"
    );
    let listed = expect_json(
        app.get_as(
            &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
            &app.compiler(),
        ),
        200,
    );
    assert_eq!(listed["total"], 1);
}

#[test]
fn a_round_can_offer_chosen_items_to_chosen_townships() {
    let app = TestApp::with_demo();
    let round = open_round(
        &app,
        json!({"edition": "2026", "title": "补充认领", "deadline": "2099-12-31", "items": ["CF-0001", "CF-0002"], "townships": [FUJI]}),
    );
    let view = expect_json(
        app.get_as(&format!("/api/v1/claim-rounds/{round}"), &app.compiler()),
        200,
    );
    assert_eq!(
        (
            view["townships"].as_i64(),
            view["items"].as_i64(),
            view["claims"].as_i64()
        ),
        (Some(1), Some(2), Some(2))
    );
}

#[test]
fn opening_a_round_checks_every_field_and_writes_nothing_when_wrong() {
    let app = TestApp::with_demo();
    let before = app.audit_count();
    let draft_etag = draft(&app, "draft-x");
    let _ = draft_etag;
    let problem = expect_problem(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
            &app.compiler(),
            &json!({
                "edition": "2026", "title": "x", "deadline": "2001-01-01",
                "items": ["XK-0002", "NOPE-1", "CF-0001", "CF-0001"],
                "townships": ["510522100000", YUCHAN]
            }),
        ),
        422,
    );
    let fields = error_fields(&problem);
    assert!(fields.contains(&"deadline".to_string()), "{problem}");
    assert!(
        fields.contains(&"items[0]".to_string()),
        "statutory item refused: {problem}"
    );
    assert!(
        fields.contains(&"items[1]".to_string()),
        "unknown item refused: {problem}"
    );
    assert!(
        fields.contains(&"items[3]".to_string()),
        "duplicate refused: {problem}"
    );
    assert!(
        fields.contains(&"townships[0]".to_string()),
        "another county's township refused: {problem}"
    );
    let message = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "items[0]")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("statutory"), "{message}");
    let problem = expect_problem(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
            &app.compiler(),
            &json!({"edition": "draft-x", "title": "x", "deadline": "2099-01-01"}),
        ),
        422,
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("draft"),
        "{problem}"
    );
    expect_problem(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
            &app.compiler(),
            &json!({"edition": "2026", "title": "x", "deadline": "soon"}),
        ),
        400,
    );
    assert_eq!(
        app.audit_count(),
        before + 1,
        "only the draft edition was written"
    );
    let listed = expect_json(
        app.get_as(
            &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
            &app.compiler(),
        ),
        200,
    );
    assert_eq!(listed["total"], 0);
}

#[test]
fn the_full_two_way_path_of_a_round() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let k = app.clerk(CLAIMS_TOWNSHIP);
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    // The township answers in bulk: a mix of claim, defer and decline.
    let changed = expect_json(
        answer(
            &app,
            round,
            &k,
            CLAIMS_TOWNSHIP,
            json!([
                {"item": "CF-0001", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0001")},
                {"item": "CF-0002", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0002")},
                {"item": "CF-0003", "answer": "defer", "reason": "暂无持证执法人员", "revision": revision(&claims, "CF-0003")},
                {"item": "QR-0001", "answer": "decline", "reason": "辖区内无此类事项", "revision": revision(&claims, "QR-0001")}
            ]),
        ),
        200,
    );
    assert_eq!(changed["changed"], 4);
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    assert_eq!(claim(&claims, "CF-0001")["state"], "claimed");
    assert_eq!(claim(&claims, "CF-0001")["unit"], "luxian-yuchan-zfd");
    assert_eq!(claim(&claims, "CF-0003")["state"], "deferred");
    assert_eq!(claim(&claims, "CF-0003")["reason"], "暂无持证执法人员");
    assert_eq!(claim(&claims, "QR-0001")["state"], "declined");
    // The comprehensive-enforcement bureau confirms one and returns the other.
    let d = app.officer("luxian-zhzf");
    expect_json(
        decide(
            &app,
            round,
            &d,
            json!([
                {"township": CLAIMS_TOWNSHIP, "item": "CF-0001", "decision": "confirm", "revision": revision(&claims, "CF-0001")},
                {"township": CLAIMS_TOWNSHIP, "item": "CF-0002", "decision": "return", "note": "请补充执法人员名单", "revision": revision(&claims, "CF-0002")}
            ]),
        ),
        200,
    );
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    assert_eq!(claim(&claims, "CF-0001")["state"], "confirmed");
    assert_eq!(claim(&claims, "CF-0002")["state"], "returned");
    assert_eq!(claim(&claims, "CF-0002")["note"], "请补充执法人员名单");
    // The township answers the returned claim again, and the department confirms.
    expect_json(
        answer(
            &app,
            round,
            &k,
            CLAIMS_TOWNSHIP,
            json!([{"item": "CF-0002", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0002")}]),
        ),
        200,
    );
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    expect_json(
        decide(
            &app,
            round,
            &d,
            json!([{"township": CLAIMS_TOWNSHIP, "item": "CF-0002", "decision": "confirm", "revision": revision(&claims, "CF-0002")}]),
        ),
        200,
    );
    // History of the twice-claimed item.
    let id = claim(&claims, "CF-0002")["id"].as_i64().unwrap();
    let response = app.get_as(&format!("/api/v1/claims/{id}"), &app.compiler());
    assert_eq!(response.headers()["etag"], "\"5\"");
    let detail = expect_json(response, 200);
    let path: Vec<(String, String)> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from_state"].as_str().unwrap().to_string(),
                e["to_state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("offered", "claimed"),
        ("claimed", "returned"),
        ("returned", "claimed"),
        ("claimed", "confirmed"),
    ];
    assert_eq!(path, expected.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(detail["history"][1]["comment"], "请补充执法人员名单");
    // Statistics add up.
    let s = stats(&app, round);
    assert_eq!(s["overall"]["offered_total"], 66);
    assert_eq!(s["overall"]["confirmed"], 2);
    assert_eq!(s["overall"]["deferred"], 1);
    assert_eq!(s["overall"]["declined"], 1);
    assert_eq!(s["overall"]["unanswered"], 62);
    let yuchan = s["townships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["township"] == CLAIMS_TOWNSHIP)
        .unwrap();
    assert_eq!(yuchan["offered_total"], 22);
    assert_eq!(yuchan["confirmed"], 2);
    assert_eq!(yuchan["name"], "玉蟾街道");
    for key in ["townships", "categories", "domains"] {
        let sum: i64 = s[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["offered_total"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, 66, "{key} add up to the whole round");
        let confirmed: i64 = s[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["confirmed"].as_i64().unwrap())
            .sum();
        assert_eq!(confirmed, 2, "{key}");
    }
    // The compiler closes the round; nothing moves after that.
    let etag = app.etag(&format!("/api/v1/claim-rounds/{round}"), &app.compiler());
    let closed = expect_json(
        app.send(
            Method::POST,
            &format!("/api/v1/claim-rounds/{round}/close"),
            &app.compiler(),
            Some(&etag),
            &json!({}),
        ),
        200,
    );
    assert_eq!(closed["status"], "closed");
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    let problem = expect_problem(
        answer(
            &app,
            round,
            &k,
            CLAIMS_TOWNSHIP,
            json!([{"item": "CF-0004", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0004")}]),
        ),
        409,
    );
    assert!(problem["detail"].as_str().unwrap().contains("closed"));
    let etag = app.etag(&format!("/api/v1/claim-rounds/{round}"), &app.compiler());
    expect_problem(
        app.send(
            Method::POST,
            &format!("/api/v1/claim-rounds/{round}/close"),
            &app.compiler(),
            Some(&etag),
            &json!({}),
        ),
        409,
    );
}

#[test]
fn the_power_set_is_the_statutory_items_plus_confirmed_claims() {
    let app = TestApp::with_demo();
    let round = demo_round(&app);
    let k = app.clerk(CLAIMS_TOWNSHIP);
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    expect_json(
        answer(
            &app,
            round,
            &k,
            CLAIMS_TOWNSHIP,
            json!([
                {"item": "CF-0001", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0001")},
                {"item": "CF-0002", "answer": "claim", "unit": "luxian-yuchan-zfd", "revision": revision(&claims, "CF-0002")}
            ]),
        ),
        200,
    );
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    expect_json(
        decide(
            &app,
            round,
            &app.officer("luxian-zhzf"),
            json!([
                {"township": CLAIMS_TOWNSHIP, "item": "CF-0001", "decision": "confirm", "revision": revision(&claims, "CF-0001")}
            ]),
        ),
        200,
    );
    let set = expect_json(
        app.get_as(
            &format!("/api/v1/townships/{CLAIMS_TOWNSHIP}/power-set"),
            &k,
        ),
        200,
    );
    assert_eq!(set["edition"], "2026");
    assert_eq!(set["statutory"], 10);
    assert_eq!(
        set["delegated"], 1,
        "claimed but unconfirmed items are not held yet"
    );
    let delegated: Vec<&Value> = set["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["holding"] == "delegated")
        .collect();
    assert_eq!(delegated[0]["code"], "CF-0001");
    assert_eq!(delegated[0]["unit"]["code"], "luxian-yuchan-zfd");
    assert_eq!(delegated[0]["unit"]["name"], "玉蟾街道综合行政执法队");
    assert!(!delegated[0]["legal_basis"].as_array().unwrap().is_empty());
    assert!(!delegated[0]["responsibilities"]
        .as_array()
        .unwrap()
        .is_empty());
    let codes: Vec<&str> = set["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted, "items in code order");
    // Another township of the round holds only the statutory items.
    let other = expect_json(
        app.get_as(
            &format!("/api/v1/townships/{FUJI}/power-set"),
            &app.compiler(),
        ),
        200,
    );
    assert_eq!(
        (other["statutory"].as_i64(), other["delegated"].as_i64()),
        (Some(10), Some(0))
    );
    // A clerk reads only its own township's power set.
    expect_problem(
        app.get_as(&format!("/api/v1/townships/{FUJI}/power-set"), &k),
        403,
    );
}

/// A 99-item edition of comprehensive-enforcement powers, as in Huade's report.
fn huade_edition(app: &TestApp) {
    let items: Vec<Value> = (1..=99)
        .map(|i| {
            let mut it = item(&format!("HD-{i:03}"), &format!("化德县赋权事项第{i}项"));
            it["sector"] = json!("comprehensive_enforcement");
            it
        })
        .collect();
    let etag = draft(app, "huade");
    let response = app
        .request(
            Method::POST,
            "/api/v1/catalogue/editions/huade/import",
            Some(&app.admin()),
        )
        .header("If-Match", etag)
        .json(&json!({"items": items}))
        .send()
        .unwrap();
    expect_json(response, 200);
    let etag = app.etag("/api/v1/catalogue/editions/huade", &app.admin());
    expect_json(
        app.send(
            Method::POST,
            "/api/v1/catalogue/editions/huade/publish",
            &app.admin(),
            Some(&etag),
            &json!({}),
        ),
        200,
    );
}

#[test]
fn the_huade_table_reads_straight_off_the_statistics() {
    let app = TestApp::with_demo();
    huade_edition(&app);
    let round = open_round(
        &app,
        json!({"edition": "huade", "title": "化德县赋权事项认领", "deadline": "2099-12-31", "townships": [FUJI]}),
    );
    let claims = claims_of(&app, round, FUJI);
    assert_eq!(claims.len(), 99);
    let answers: Vec<Value> = claims
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < 86 {
                json!({"item": c["item"], "answer": "claim", "unit": "luxian-fuji-zfd", "revision": c["revision"]})
            } else {
                json!({"item": c["item"], "answer": "defer", "reason": "条件不成熟，暂缓承接", "revision": c["revision"]})
            }
        })
        .collect();
    expect_json(
        answer(&app, round, &app.clerk(FUJI), FUJI, json!(answers)),
        200,
    );
    let claims = claims_of(&app, round, FUJI);
    let decisions: Vec<Value> = claims
        .iter()
        .filter(|c| c["state"] == "claimed")
        .map(|c| json!({"township": FUJI, "item": c["item"], "decision": "confirm", "revision": c["revision"]}))
        .collect();
    assert_eq!(
        expect_json(
            decide(&app, round, &app.officer("luxian-zhzf"), json!(decisions)),
            200
        )["changed"],
        86
    );
    let s = stats(&app, round);
    assert_eq!(s["items_offered"], 99);
    assert_eq!(s["overall"]["offered_total"], 99);
    assert_eq!(s["overall"]["confirmed"], 86);
    assert_eq!(s["overall"]["deferred"], 13);
    assert_eq!(s["overall"]["confirmation_rate"], 0.8687);
    assert_eq!(s["townships"][0]["name"], "福集镇");
    assert_eq!(s["categories"][0]["category"], "02");
    assert_eq!(s["categories"][0]["label"], "行政处罚");
}

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
    expect_json(
        answer(
            &app,
            round,
            &app.clerk(CLAIMS_TOWNSHIP),
            CLAIMS_TOWNSHIP,
            json!([{"item": "CF-0003", "answer": "decline", "reason": "无此类事项", "revision": revision(&claims, "CF-0003")}]),
        ),
        200,
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
    let claims = claims_of(&app, round, CLAIMS_TOWNSHIP);
    expect_json(
        answer(
            &app,
            round,
            &app.clerk(CLAIMS_TOWNSHIP),
            CLAIMS_TOWNSHIP,
            json!([
                {"item": "CF-0003", "answer": "defer", "reason": "暂无持证执法人员", "revision": revision(&claims, "CF-0003")}
            ]),
        ),
        200,
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
