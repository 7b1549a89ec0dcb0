//! Retries with `Idempotency-Key`: the first answer replays, the write applies once, also
//! across a restart; another request under the same key, or one while the first runs, is
//! refused.

use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

fn post_with_key(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> Response {
    app.request(Method::POST, path, Some(token))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .unwrap()
}

/// A round of the demo edition in 泸县, and 玉蟾街道's first claim.
fn round_and_claim(app: &TestApp) -> (i64, Value) {
    let (round, claims) = demo_round_claims(app, YUCHAN);
    (round, claims[0].clone())
}

fn answer_body(claim: &Value, reason: &str) -> Value {
    json!({"township": YUCHAN, "answers": [{"item": claim["item"], "answer": "defer", "reason": reason, "revision": claim["revision"]}]})
}

fn history_len(app: &TestApp, claim: &Value) -> usize {
    expect_json(
        app.get_as(&format!("/api/v1/claims/{}", claim["id"]), &app.compiler()),
        200,
    )["history"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn a_retried_bulk_answer_is_applied_once_and_answered_the_same() {
    let app = TestApp::with_demo();
    let (round, claim) = round_and_claim(&app);
    let path = format!("/api/v1/claim-rounds/{round}/answers");
    let clerk = app.clerk(YUCHAN);
    let body = answer_body(&claim, "暂无持证执法人员");
    let before = (history_len(&app, &claim), app.audit_count());

    let first = post_with_key(&app, &path, &clerk, "retry-1", &body);
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().unwrap();
    let again = post_with_key(&app, &path, &clerk, "retry-1", &body);
    assert_eq!(again.status(), 200, "not a 412 for the revision it moved");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        again.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(again.text().unwrap(), first_body);
    assert_eq!(
        (history_len(&app, &claim), app.audit_count()),
        (before.0 + 1, before.1 + 1),
        "applied once"
    );

    // The same key for another request is refused; a new key is a new request.
    let other = answer_body(&claim, "另一个理由");
    let problem = expect_problem(post_with_key(&app, &path, &clerk, "retry-1", &other), 422);
    assert_eq!(error_fields(&problem), ["Idempotency-Key"]);
    // Keys are the caller's own: another person's key of the same name is theirs.
    let other_clerk = app.token_as(
        "another-clerk",
        &["township_clerk"],
        LUXIAN,
        unit_of(YUCHAN),
    );
    expect_problem(
        post_with_key(&app, &path, &other_clerk, "retry-1", &body),
        412,
    );
}

#[test]
fn a_retry_after_a_restart_replays_the_answer_from_the_database() {
    let app = TestApp::with_demo();
    let (round, claim) = round_and_claim(&app);
    let path = format!("/api/v1/claim-rounds/{round}/answers");
    let body = answer_body(&claim, "暂缓承接");
    let before = history_len(&app, &claim);
    let first = post_with_key(&app, &path, &app.clerk(YUCHAN), "k-restart", &body);
    assert_eq!(first.status(), 200);
    let first_body = first.text().unwrap();

    let restarted = app.beside(|_| {});
    let again = post_with_key(
        &restarted,
        &path,
        &restarted.clerk(YUCHAN),
        "k-restart",
        &body,
    );
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().unwrap(), first_body);
    assert_eq!(history_len(&restarted, &claim), before + 1, "deferred once");
}

#[test]
fn a_retried_creation_makes_one_resource_and_answers_201_again() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    let body = json!({"code": "luxian-new", "name": "泸县新设局", "kind": "department", "sector": "other", "region": LUXIAN});
    let first = post_with_key(&app, "/api/v1/organisations", &admin, "create-1", &body);
    assert_eq!(first.status(), 201);
    let etag = first.headers()["etag"].clone();
    let first_body = first.text().unwrap();
    let again = post_with_key(&app, "/api/v1/organisations", &admin, "create-1", &body);
    assert_eq!(
        again.status(),
        201,
        "not a 409 for the organisation it made"
    );
    assert_eq!(again.headers()["etag"], etag);
    assert_eq!(again.text().unwrap(), first_body);
    // Without the key, the same request is a conflict, as before.
    expect_problem(app.post("/api/v1/organisations", &admin, &body), 409);
    // A submission retried is one version.
    let compiler = app.compiler();
    expect_json(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/duty-list/matters"),
            &compiler,
            &json!({
                "code": "SD-001", "name": "餐饮服务业油烟污染的监管", "domain": "生态环境",
                "legal_basis": [{"law": "《中华人民共和国大气污染防治法》", "article": "第一百一十八条", "excerpt": "责令改正"}],
                "lead": {"department": "luxian-sthj", "duties": ["依法查处"]},
                "supporters": [], "township_duties": ["日常巡查"], "one_matter": false,
                "lead_response_minutes": 30, "support_arrival_minutes": null, "notes": null
            }),
        ),
        201,
    );
    let versions = format!("/api/v1/counties/{LUXIAN}/lists/duty/versions");
    let submission = json!({"title": "泸县属地管理事项责任清单", "change_summary": "首次编制"});
    for _ in 0..2 {
        let response = post_with_key(&app, &versions, &compiler, "submit-1", &submission);
        assert_eq!(response.status(), 201);
    }
    let listed = expect_json(app.get_as(&versions, &compiler), 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[test]
fn a_failed_request_frees_its_key_and_a_running_one_holds_it() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    // A refused request writes nothing and keeps nothing: corrected, it runs.
    let bad = json!({"code": "luxian-x", "name": "", "kind": "department", "sector": "other", "region": LUXIAN});
    expect_problem(
        post_with_key(&app, "/api/v1/organisations", &admin, "fix-1", &bad),
        422,
    );
    let good = json!({"code": "luxian-x", "name": "泸县某局", "kind": "department", "sector": "other", "region": LUXIAN});
    assert_eq!(
        post_with_key(&app, "/api/v1/organisations", &admin, "fix-1", &good).status(),
        201
    );
    // A first request still running (its row claimed, no answer yet) holds the key.
    let owner = "catalogue_admin@test-org";
    app.sql(&format!(
        "INSERT INTO idempotency_keys (owner, idem_key, fingerprint, target, created_at) VALUES ('{owner}', 'busy', 'x', '/', '{}')",
        chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S")
    ));
    let problem = expect_problem(
        post_with_key(&app, "/api/v1/organisations", &admin, "busy", &good),
        409,
    );
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("still running"));
    // One left running by a process that died long ago is taken over.
    app.sql(&format!(
        "INSERT INTO idempotency_keys (owner, idem_key, fingerprint, target, created_at) VALUES ('{owner}', 'dead', 'x', '/', '2020-01-01 00:00:00')"
    ));
    let fresh = json!({"code": "luxian-y", "name": "泸县另一局", "kind": "department", "sector": "other", "region": LUXIAN});
    assert_eq!(
        post_with_key(&app, "/api/v1/organisations", &admin, "dead", &fresh).status(),
        201
    );
    // A key that is not one is a problem.
    for key in ["", "键", &"k".repeat(256)] {
        expect_problem(
            post_with_key(&app, "/api/v1/organisations", &admin, key, &fresh),
            400,
        );
    }
}
