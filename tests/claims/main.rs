//! Two-way claiming over HTTP on a real database: rounds, bulk answers and confirmations,
//! the state machine, scope, statistics, power sets.

#[path = "../api/common.rs"]
#[allow(dead_code, reason = "each test target uses part of the harness")]
mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;

mod access;
mod answers;
mod outcomes;
mod rounds;
mod statistics;

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

/// The township's clerk answers one claim at its current revision, and it is taken.
fn answer_one(app: &TestApp, round: i64, mut one: Value) {
    let claims = claims_of(app, round, CLAIMS_TOWNSHIP);
    one["revision"] = json!(revision(&claims, one["item"].as_str().unwrap()));
    let clerk = app.clerk(CLAIMS_TOWNSHIP);
    expect_json(
        answer(app, round, &clerk, CLAIMS_TOWNSHIP, json!([one])),
        200,
    );
}

/// A GET with `If-None-Match`, as the compiler.
fn revalidate(app: &TestApp, path: &str, tag: &str) -> reqwest::blocking::Response {
    app.request(Method::GET, path, Some(&app.compiler()))
        .header("If-None-Match", tag)
        .send()
        .unwrap()
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
