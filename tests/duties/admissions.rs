//! Duty admission (職責準入).

use super::*;

// =================================================================================
// 7. Duty admission (職責準入)
// =================================================================================

fn request_admission(
    app: &TestApp,
    token: &str,
    proposal: &Value,
    justification: &str,
) -> Response {
    app.post(
        &admissions_path(LUXIAN),
        token,
        &json!({"proposal": proposal, "justification": justification}),
    )
}

fn decide(app: &TestApp, id: i64, action: &str, if_match: Option<&str>, body: &Value) -> Response {
    app.send(
        Method::POST,
        &format!("/api/v1/duty-admissions/{id}/{action}"),
        &app.compiler(),
        if_match,
        body,
    )
}

fn admission(app: &TestApp, id: i64) -> Value {
    expect_json(
        app.get_as(&format!("/api/v1/duty-admissions/{id}"), &app.compiler()),
        200,
    )
}

const ADMITTED_NAME: &str = "电动自行车违规停放充电的处置";

fn admitted_proposal() -> Value {
    with(
        matter(
            "SD-050",
            ADMITTED_NAME,
            "luxian-zjj",
            &["luxian-yjj", "luxian-zhzf"],
        ),
        "/domain",
        json!("城乡建设"),
    )
}

#[test]
fn a_department_asks_for_a_matter_and_the_compiler_accepts_it_into_the_list() {
    let app = TestApp::with_demo();
    let zjj = app.officer("luxian-zjj");
    let before = app.audit_count();
    let proposal = admitted_proposal();
    let response = request_admission(
        &app,
        &zjj,
        &proposal,
        "住宅小区电动自行车充电引发火灾隐患，需明确牵头部门",
    );
    assert_eq!(etag_of(&response), "\"1\"");
    let asked = expect_json(response, 201);
    let id = asked["id"].as_i64().unwrap();
    assert_eq!(asked["status"], "pending");
    assert_eq!(asked["county"], LUXIAN);
    assert_eq!(asked["department"], "luxian-zjj");
    assert_eq!(asked["requested_by"], "department_officer@luxian-zjj");
    assert_eq!(asked["proposal"], proposal);
    assert_eq!(
        asked["justification"],
        "住宅小区电动自行车充电引发火灾隐患，需明确牵头部门"
    );
    assert!(asked["decided_at"].is_null() && asked["matter_code"].is_null());
    assert_eq!(app.audit_count(), before + 1);
    assert!(
        matters_of(&app, LUXIAN).is_empty(),
        "a request adds nothing yet"
    );
    assert_eq!(list_etag(&app, LUXIAN), "\"0\"");

    // Anyone of the county reads it; the requester too.
    let response = app.get_as(&format!("/api/v1/duty-admissions/{id}"), &zjj);
    assert_eq!(etag_of(&response), "\"1\"");
    assert_eq!(expect_json(response, 200), asked);
    assert_eq!(admission(&app, id), asked);

    // Acceptance needs the request's current ETag.
    let untouched = written(&app);
    expect_problem(decide(&app, id, "accept", None, &json!({})), 428);
    expect_problem(decide(&app, id, "accept", Some("\"2\""), &json!({})), 412);
    assert_eq!(written(&app), untouched);

    let response = decide(&app, id, "accept", Some("\"1\""), &json!({}));
    assert_eq!(etag_of(&response), "\"2\"");
    let accepted = expect_json(response, 200);
    assert_eq!(accepted["admission"]["status"], "accepted");
    assert_eq!(accepted["admission"]["matter_code"], "SD-050");
    assert_eq!(
        accepted["admission"]["decided_by"],
        "county_compiler@luxian-gov"
    );
    assert!(accepted["admission"]["decided_at"].is_string());
    assert!(accepted["admission"]["decision_reason"].is_null());
    assert_eq!(accepted["matter"]["code"], "SD-050");
    assert_eq!(accepted["matter"]["lead"]["department"], "luxian-zjj");
    assert_eq!(
        departments_of(&accepted["matter"]["supporters"]),
        ["luxian-yjj", "luxian-zhzf"]
    );
    let listed = matters_of(&app, LUXIAN);
    assert_eq!(codes(&listed), ["SD-050"]);
    assert_eq!(listed[0]["name"], ADMITTED_NAME);
    assert_eq!(listed[0], accepted["matter"]);
    assert_eq!(list_etag(&app, LUXIAN), "\"1\"", "the list moved on");
    assert_eq!(app.audit_count(), before + 3, "request, matter, acceptance");
    assert_eq!(admission(&app, id), accepted["admission"]);

    // Decided once only.
    let done = written(&app);
    expect_problem(decide(&app, id, "accept", Some("\"2\""), &json!({})), 409);
    expect_problem(
        decide(
            &app,
            id,
            "reject",
            Some("\"2\""),
            &json!({"reason": "重复"}),
        ),
        409,
    );
    expect_problem(decide(&app, id, "accept", Some("\"1\""), &json!({})), 412);
    assert_eq!(written(&app), done);
    expect_problem(decide(&app, 9999, "accept", Some("\"1\""), &json!({})), 404);
    expect_problem(
        app.get_as("/api/v1/duty-admissions/9999", &app.compiler()),
        404,
    );
}

#[test]
fn a_request_is_rejected_with_its_reason_and_adds_nothing() {
    let app = TestApp::with_demo();
    let sthj = app.officer("luxian-sthj");
    let asked = expect_json(
        request_admission(
            &app,
            &sthj,
            &matter(
                "SD-060",
                "农村散养畜禽粪污的处置",
                "luxian-nync",
                &["luxian-sthj"],
            ),
            "属农业面源污染，应由农业农村部门牵头",
        ),
        201,
    );
    let id = asked["id"].as_i64().unwrap();

    let before = written(&app);
    for body in [json!({"reason": ""}), json!({"reason": "   "})] {
        let problem = expect_problem(decide(&app, id, "reject", Some("\"1\""), &body), 422);
        assert_eq!(error_fields(&problem), ["reason"]);
    }
    expect_problem(decide(&app, id, "reject", Some("\"1\""), &json!({})), 400);
    expect_problem(
        decide(&app, id, "reject", None, &json!({"reason": "已有事项覆盖"})),
        428,
    );
    expect_problem(
        decide(
            &app,
            id,
            "reject",
            Some("\"7\""),
            &json!({"reason": "已有事项覆盖"}),
        ),
        412,
    );
    assert_eq!(written(&app), before, "no refused rejection wrote anything");

    let response = decide(
        &app,
        id,
        "reject",
        Some("\"1\""),
        &json!({"reason": "  已由《畜禽规模养殖污染防治条例》事项覆盖  "}),
    );
    assert_eq!(etag_of(&response), "\"2\"");
    let rejected = expect_json(response, 200);
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        rejected["decision_reason"],
        "已由《畜禽规模养殖污染防治条例》事项覆盖"
    );
    assert_eq!(rejected["decided_by"], "county_compiler@luxian-gov");
    assert!(rejected["matter_code"].is_null());
    assert_eq!(rejected["proposal"], asked["proposal"]);
    assert_eq!(admission(&app, id), rejected);
    assert!(matters_of(&app, LUXIAN).is_empty(), "no matter added");
    assert_eq!(list_etag(&app, LUXIAN), "\"0\"");
    assert_eq!(app.audit_count(), before.audit + 1);

    // A rejected request stays rejected.
    expect_problem(decide(&app, id, "accept", Some("\"2\""), &json!({})), 409);
    assert!(matters_of(&app, LUXIAN).is_empty());
}

#[test]
fn an_acceptance_obeys_every_rule_of_the_list_and_may_amend_the_proposal() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    create(
        &app,
        LUXIAN,
        &token,
        &matter("SD-001", OILY, "luxian-sthj", &["luxian-scjg"]),
    );
    let scjg = app.officer("luxian-scjg");

    // A proposal named like a matter already in the list: the request is taken, the
    // acceptance refused, and the request stays pending.
    let same_name = expect_json(
        request_admission(
            &app,
            &scjg,
            &matter("SD-070", OILY, "luxian-scjg", &["luxian-sthj"]),
            "餐饮油烟应由市场监管部门牵头",
        ),
        201,
    );
    let id = same_name["id"].as_i64().unwrap();
    let before = written(&app);
    let problem = expect_problem(decide(&app, id, "accept", Some("\"1\""), &json!({})), 422);
    assert_eq!(error_fields(&problem), ["name"], "{problem}");
    let still = admission(&app, id);
    assert_eq!(
        (still["status"].as_str(), still["revision"].as_i64()),
        (Some("pending"), Some(1))
    );
    assert_eq!(written(&app), before, "nothing written");

    // An amendment that breaks a rule is refused the same way.
    let problem = expect_problem(
        decide(
            &app,
            id,
            "accept",
            Some("\"1\""),
            &json!({"matter": with(matter("SD-070", "餐饮服务业油烟扰民的联合处置", "luxian-scjg", &["luxian-scjg"]), "/township_duties", json!([]))}),
        ),
        422,
    );
    assert_eq!(
        sorted(error_fields(&problem)),
        ["supporters[0].department", "township_duties"]
    );
    assert_eq!(written(&app), before);

    // A proposal whose code is taken: 409, still pending.
    let same_code = expect_json(
        request_admission(
            &app,
            &scjg,
            &matter("SD-001", "餐饮服务业食品安全的监管", "luxian-scjg", &[]),
            "餐饮食品安全需列入清单",
        ),
        201,
    );
    let code_id = same_code["id"].as_i64().unwrap();
    let before = written(&app);
    expect_problem(
        decide(&app, code_id, "accept", Some("\"1\""), &json!({})),
        409,
    );
    assert_eq!(admission(&app, code_id)["status"], "pending");
    assert_eq!(written(&app), before);

    // The compiler amends the proposal and accepts it.
    let amended = matter(
        "SD-070",
        "餐饮服务业油烟扰民的联合处置",
        "luxian-sthj",
        &["luxian-scjg", "luxian-zhzf"],
    );
    let accepted = expect_json(
        decide(
            &app,
            id,
            "accept",
            Some("\"1\""),
            &json!({"matter": amended}),
        ),
        200,
    );
    assert_eq!(accepted["admission"]["status"], "accepted");
    assert_eq!(accepted["admission"]["matter_code"], "SD-070");
    assert_eq!(
        accepted["admission"]["proposal"], same_name["proposal"],
        "the request keeps what was asked"
    );
    let added = expect_json(app.get_as(&matter_path(LUXIAN, "SD-070"), &token), 200);
    assert_eq!(added["name"], "餐饮服务业油烟扰民的联合处置");
    assert_eq!(added["lead"]["department"], "luxian-sthj");
    assert_eq!(codes(&matters_of(&app, LUXIAN)), ["SD-001", "SD-070"]);
    let accepted_code = expect_json(
        decide(
            &app,
            code_id,
            "accept",
            Some("\"1\""),
            &json!({"matter": with(same_code["proposal"].clone(), "/code", json!("SD-002"))}),
        ),
        200,
    );
    assert_eq!(accepted_code["admission"]["matter_code"], "SD-002");
    assert_eq!(
        codes(&matters_of(&app, LUXIAN)),
        ["SD-001", "SD-002", "SD-070"]
    );
}

#[test]
fn a_request_is_checked_and_only_a_department_of_the_county_may_ask() {
    let app = TestApp::with_demo();
    let zjj = app.officer("luxian-zjj");
    let before = written(&app);

    // An invalid proposal: every problem, prefixed with `proposal.`.
    let bad = with(
        with(
            with(
                admitted_proposal(),
                "/lead/department",
                json!("hejiang-zjj"),
            ),
            "/township_duties",
            json!([]),
        ),
        "/code",
        json!("sd 50"),
    );
    let problem = expect_problem(request_admission(&app, &zjj, &bad, "需要"), 422);
    assert_eq!(
        sorted(error_fields(&problem)),
        [
            "proposal.code",
            "proposal.lead.department",
            "proposal.township_duties"
        ],
        "{problem}"
    );
    let problem = expect_problem(
        request_admission(
            &app,
            &zjj,
            &with(
                admitted_proposal(),
                "/supporters/0/department",
                json!("luxian-zjj"),
            ),
            "  ",
        ),
        422,
    );
    assert_eq!(
        sorted(error_fields(&problem)),
        ["justification", "proposal.supporters[0].department"]
    );

    // Only an officer of one of the county's departments.
    let proposal = admitted_proposal();
    for (who, token) in [
        ("the justice bureau", app.officer("luxian-sfj")),
        ("the county government", app.officer("luxian-gov")),
        (
            "a department of 合江县 with a 泸县 token",
            app.officer("hejiang-zjj"),
        ),
        ("an unknown organisation", app.officer("nobody")),
        (
            "a township unit",
            app.token(&["department_officer"], LUXIAN, "luxian-yuchan-zfd"),
        ),
        (
            "an officer of 合江县",
            app.token(&["department_officer"], HEJIANG, "hejiang-zjj"),
        ),
        ("the compiler", app.compiler()),
        ("a township clerk", app.clerk(YUCHAN)),
    ] {
        let problem = expect_problem(request_admission(&app, &token, &proposal, "需要"), 403);
        assert!(problem["detail"].is_string(), "{who}");
    }
    expect_problem(
        app.request(Method::POST, &admissions_path(LUXIAN), None)
            .json(&json!({"proposal": proposal, "justification": "需要"}))
            .send()
            .unwrap(),
        401,
    );
    assert_eq!(written(&app), before, "nothing was written");

    // An officer may not decide.
    let id = expect_json(request_admission(&app, &zjj, &proposal, "需要明确"), 201)["id"]
        .as_i64()
        .unwrap();
    for token in [zjj.clone(), hejiang_compiler(&app), app.clerk(YUCHAN)] {
        expect_problem(
            app.send(
                Method::POST,
                &format!("/api/v1/duty-admissions/{id}/accept"),
                &token,
                Some("\"1\""),
                &json!({}),
            ),
            403,
        );
        expect_problem(
            app.send(
                Method::POST,
                &format!("/api/v1/duty-admissions/{id}/reject"),
                &token,
                Some("\"1\""),
                &json!({"reason": "不属于"}),
            ),
            403,
        );
    }
    assert_eq!(admission(&app, id)["status"], "pending");
    // Another county does not read it.
    expect_problem(
        app.get_as(
            &format!("/api/v1/duty-admissions/{id}"),
            &hejiang_compiler(&app),
        ),
        403,
    );
    expect_problem(
        app.get_as(&admissions_path(LUXIAN), &hejiang_compiler(&app)),
        403,
    );
}

#[test]
fn admission_requests_are_listed_newest_first_and_by_status() {
    let app = TestApp::with_demo();
    let mut ids = Vec::new();
    for (i, (org, lead)) in [
        ("luxian-zjj", "luxian-zjj"),
        ("luxian-sthj", "luxian-sthj"),
        ("luxian-nync", "luxian-nync"),
        ("luxian-yjj", "luxian-yjj"),
    ]
    .into_iter()
    .enumerate()
    {
        let proposal = matter(&format!("AD-{i}"), &format!("准入申请事项{i}"), lead, &[]);
        let asked = expect_json(
            request_admission(&app, &app.officer(org), &proposal, "需要"),
            201,
        );
        ids.push(asked["id"].as_i64().unwrap());
    }
    expect_json(
        decide(&app, ids[0], "accept", Some("\"1\""), &json!({})),
        200,
    );
    expect_json(
        decide(
            &app,
            ids[2],
            "reject",
            Some("\"1\""),
            &json!({"reason": "不属于属地管理事项"}),
        ),
        200,
    );

    let list = |q: &str, token: &str| -> (Vec<i64>, i64) {
        let page = expect_json(
            app.get_as(&format!("{}{q}", admissions_path(LUXIAN)), token),
            200,
        );
        (
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_i64().unwrap())
                .collect(),
            page["total"].as_i64().unwrap(),
        )
    };
    let token = app.compiler();
    assert_eq!(list("", &token), (vec![ids[3], ids[2], ids[1], ids[0]], 4));
    assert_eq!(list("?status=pending", &token), (vec![ids[3], ids[1]], 2));
    assert_eq!(list("?status=accepted", &token), (vec![ids[0]], 1));
    assert_eq!(list("?status=rejected", &token), (vec![ids[2]], 1));
    assert_eq!(list("?page=2&page_size=3", &token), (vec![ids[0]], 4));
    assert_eq!(
        list("?status=pending", &app.officer("luxian-zjj")),
        (vec![ids[3], ids[1]], 2),
        "departments read the requests"
    );
    assert_eq!(
        list("", &app.clerk(YUCHAN)).1,
        4,
        "so do the county's townships"
    );
    expect_problem(
        app.get_as(&format!("{}?status=maybe", admissions_path(LUXIAN)), &token),
        400,
    );
    let hejiang = expect_json(
        app.get_as(&admissions_path(HEJIANG), &hejiang_compiler(&app)),
        200,
    );
    assert_eq!(hejiang["total"], 0);
    let pending = admission(&app, ids[1]);
    assert_eq!(pending["department"], "luxian-sthj");
    assert_eq!(pending["status"], "pending");
}
