//! Running quanze for years, tested as its operators meet it: the metrics listener, backups
//! that restore while the service writes, upgrades that refuse what they cannot use, the
//! configuration checked before serving, and log lines that match audit events.

#[path = "../api/common.rs"]
#[allow(dead_code, reason = "each test target uses part of the harness")]
mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;

mod backup;
mod config;
mod logs;
mod metrics;
mod upgrades;

const JIAMING: &str = "510521101000";

/// Opens a round of the demo edition in 泸县 and returns its id.
fn open_round(app: &TestApp) -> i64 {
    let round = expect_json(
        app.post(
            &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
            &app.compiler(),
            &json!({"edition": "2026", "title": "2026年第一批赋权事项双向认领", "deadline": "2099-12-31"}),
        ),
        201,
    );
    round["id"].as_i64().unwrap()
}

/// A township's claims in a round.
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

/// The clerk of `township` answers `answers` in one request.
fn answer(
    app: &TestApp,
    round: i64,
    township: &str,
    answers: Value,
) -> reqwest::blocking::Response {
    app.post(
        &format!("/api/v1/claim-rounds/{round}/answers"),
        &app.clerk(township),
        &json!({"township": township, "answers": answers}),
    )
}

/// The 泸县 power list submitted, approved at both stages and published; its public path.
fn publish_power_list(app: &TestApp, summary: &str) -> String {
    let versions = format!("/api/v1/counties/{LUXIAN}/lists/power/versions");
    let submitted = expect_json(
        app.post(
            &versions,
            &app.compiler(),
            &json!({"title": "泸县乡镇（街道）权力清单", "change_summary": summary, "edition": "2026"}),
        ),
        201,
    );
    let number = submitted["number"].as_i64().unwrap();
    let path = format!("{versions}/{number}");
    for (stage, role, org) in [
        ("legality", "legality_reviewer", "luxian-sfj"),
        ("government", "government_approver", "luxian-gov"),
    ] {
        let hash = expect_json(app.get_as(&path, &app.compiler()), 200)["content_hash"]
            .as_str()
            .unwrap()
            .to_string();
        expect_json(
            app.post(
                &format!("{path}/reviews"),
                &app.token(&[role], LUXIAN, org),
                &json!({"stage": stage, "decision": "approve", "comments": "同意", "hash": hash, "findings": []}),
            ),
            201,
        );
    }
    let etag = app.etag(&path, &app.compiler());
    expect_json(
        app.send(
            Method::POST,
            &format!("{path}/publish"),
            &app.compiler(),
            Some(&etag),
            &json!({}),
        ),
        200,
    );
    format!("/public/v1/counties/{LUXIAN}/lists/power/versions/{number}")
}

/// An auditor of the province.
fn auditor(app: &TestApp) -> String {
    app.token_for("auditor", PROVINCE)
}
