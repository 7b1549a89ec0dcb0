//! Rounds: opening, the two-way path, power sets and statistics.

use super::*;

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
    // A subdistrict holds the statutory items of every township but CJ-0002 (forest
    // rights disputes), which belongs to towns and townships; a town holds all ten.
    assert_eq!(set["statutory"], 9);
    let holds_cj = |set: &Value| {
        set["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["code"] == "CJ-0002")
    };
    assert!(!holds_cj(&set));
    let town = expect_json(
        app.get_as(
            &format!("/api/v1/townships/{FUJI}/power-set"),
            &app.compiler(),
        ),
        200,
    );
    assert_eq!(town["statutory"], 10);
    assert!(holds_cj(&town));
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
pub(crate) fn huade_edition(app: &TestApp) {
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
