//! Token hygiene: a token is refused before its `nbf`, when issued in the future, without
//! an expiry, or when it lives longer than the configured lifetime; a minute of clock skew
//! is tolerated.

use crate::common::*;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An auditor's claims, valid unless `change` says otherwise.
fn claims(change: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let mut claims = json!({
        "sub": "auditor-1",
        "org": "sc-audit",
        "region": PROVINCE,
        "roles": ["auditor"],
        "iss": "quanze-dev",
        "aud": "quanze",
        "iat": now(),
        "exp": now() + 3600,
    });
    change(&mut claims);
    claims
}

/// A case: what it is, and how it changes the claims.
type Case = (&'static str, Box<dyn Fn(&mut serde_json::Value)>);

fn read_audit(app: &TestApp, claims: serde_json::Value) -> reqwest::blocking::Response {
    app.get_as("/api/v1/audit?page_size=1", &app.token_with_claims(&claims))
}

#[test]
fn tokens_outside_their_time_are_refused() {
    let app = TestApp::with_demo();
    expect_json(read_audit(&app, claims(|_| {})), 200);
    let refused: [Case; 7] = [
        (
            "not before tomorrow",
            Box::new(|c| c["nbf"] = json!(now() + 86_400)),
        ),
        (
            "issued tomorrow",
            Box::new(|c| c["iat"] = json!(now() + 86_400)),
        ),
        (
            "expiring in 2^62 seconds",
            Box::new(|c| c["exp"] = json!(1_i64 << 62)),
        ),
        (
            "no expiry",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        ("expired", Box::new(|c| c["exp"] = json!(now() - 3600))),
        (
            "a lifetime of 13 hours",
            Box::new(|c| c["exp"] = json!(now() + 13 * 3600)),
        ),
        (
            "issued a day ago, living two",
            Box::new(|c| {
                c["iat"] = json!(now() - 86_400);
                c["exp"] = json!(now() + 86_400);
            }),
        ),
    ];
    for (what, change) in refused {
        let problem = expect_problem(read_audit(&app, claims(change)), 401);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("bearer token is not valid"),
            "{what}: {problem}"
        );
    }
}

#[test]
fn a_minute_of_clock_skew_and_the_full_lifetime_are_accepted() {
    let app = TestApp::with_demo();
    let accepted: [Case; 4] = [
        (
            "not before in 30 seconds",
            Box::new(|c| c["nbf"] = json!(now() + 30)),
        ),
        (
            "issued in 30 seconds",
            Box::new(|c| c["iat"] = json!(now() + 30)),
        ),
        (
            "exactly the 12 hours allowed",
            Box::new(|c| c["exp"] = json!(now() + 12 * 3600)),
        ),
        (
            "no iat, an hour to live",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("iat");
            }),
        ),
    ];
    for (what, change) in accepted {
        let response = read_audit(&app, claims(change));
        assert_eq!(
            response.status(),
            200,
            "{what}: {}",
            response.text().unwrap()
        );
    }
}

#[test]
fn the_longest_lifetime_is_configured() {
    let app = TestApp::with_demo_configured(|config| config.jwt.max_lifetime_secs = 600);
    expect_problem(read_audit(&app, claims(|_| {})), 401);
    expect_json(
        read_audit(&app, claims(|c| c["exp"] = json!(now() + 600))),
        200,
    );
}
