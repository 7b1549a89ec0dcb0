//! Shared mechanisms: problems, auth, limits, health, OpenAPI, the command line.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::common::*;

#[test]
fn health_and_readiness() {
    let app = TestApp::spawn();
    assert_eq!(expect_json(app.get("/healthz"), 200)["status"], "ok");
    assert_eq!(expect_json(app.get("/readyz"), 200)["status"], "ready");
}

#[test]
fn unknown_routes_are_404_problems() {
    let app = TestApp::spawn();
    let problem = expect_problem(app.get("/api/v1/nothing-here"), 404);
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("/api/v1/nothing-here"));
}

#[test]
fn every_response_carries_a_request_id() {
    let app = TestApp::spawn();
    let response = app
        .request(Method::GET, "/healthz", None)
        .header("X-Request-Id", "abc-123")
        .send()
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response = app.get("/healthz");
    assert!(!response.headers()["x-request-id"].is_empty());
}

#[test]
fn missing_and_bad_tokens_are_401_problems() {
    let app = TestApp::spawn();
    let problem = expect_problem(app.get("/api/v1/audit"), 401);
    assert!(problem["detail"].as_str().unwrap().contains("bearer token"));
    expect_problem(app.get_as("/api/v1/audit", "not-a-jwt"), 401);
    let response = app
        .request(Method::GET, "/api/v1/audit", None)
        .header("Authorization", "Basic dXNlcjpwdw==")
        .send()
        .unwrap();
    expect_problem(response, 401);
    // Signed with another secret.
    let mut other = test_config("unused");
    other.jwt.secret = "another-secret-of-enough-length".into();
    let foreign = quanze::auth::TokenKeys::from_config(&other.jwt).unwrap();
    let token = foreign
        .mint("u", "o", PROVINCE, &["auditor".into()], 60)
        .unwrap();
    expect_problem(app.get_as("/api/v1/audit", &token), 401);
    // Wrong issuer and audience.
    for (issuer, audience) in [("someone-else", "quanze"), ("quanze-dev", "other-audience")] {
        let mut config = test_config("unused");
        config.jwt.issuer = issuer.into();
        config.jwt.audience = audience.into();
        let keys = quanze::auth::TokenKeys::from_config(&config.jwt).unwrap();
        let token = keys
            .mint("u", "o", PROVINCE, &["auditor".into()], 60)
            .unwrap();
        expect_problem(app.get_as("/api/v1/audit", &token), 401);
    }
    // Expired.
    let keys = quanze::auth::TokenKeys::from_config(&test_config("unused").jwt).unwrap();
    let expired = keys
        .mint("u", "o", PROVINCE, &["auditor".into()], -3600)
        .unwrap();
    expect_problem(app.get_as("/api/v1/audit", &expired), 401);
    // A region claim that is not a division code.
    let odd = keys.mint("u", "o", "51", &["auditor".into()], 60).unwrap();
    expect_problem(app.get_as("/api/v1/audit", &odd), 401);
}

#[test]
fn a_valid_token_without_the_role_is_403() {
    let app = TestApp::spawn();
    let clerk = app.token_for("township_clerk", YUCHAN);
    expect_problem(app.get_as("/api/v1/audit", &clerk), 403);
    let unknown_role = app.token(&["superuser"], PROVINCE, "o");
    expect_problem(app.get_as("/api/v1/audit", &unknown_role), 403);
}

#[test]
fn malformed_json_wrong_types_and_unknown_fields_are_400() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    let before = app.audit_count();
    let send_raw = |body: &str| {
        app.request(Method::POST, "/api/v1/catalogue/editions", Some(&admin))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap()
    };
    expect_problem(send_raw("{\"code\": \"x\","), 400);
    let wrong_type = expect_problem(send_raw("{\"code\": 5, \"title\": \"t\"}"), 400);
    assert_eq!(error_fields(&wrong_type), vec!["code"]);
    let unknown = expect_problem(
        send_raw("{\"code\": \"x1\", \"title\": \"t\", \"colour\": \"red\"}"),
        400,
    );
    assert!(
        unknown["detail"].as_str().unwrap().contains("colour"),
        "{unknown}"
    );
    let response = app
        .request(Method::POST, "/api/v1/catalogue/editions", Some(&admin))
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .unwrap();
    expect_problem(response, 415);
    assert_eq!(app.audit_count(), before, "nothing was written");
}

#[test]
fn validation_lists_every_bad_field() {
    let app = TestApp::with_demo();
    let problem = expect_problem(
        app.post(
            "/api/v1/catalogue/editions",
            &app.admin(),
            &json!({"code": "bad code!", "title": ""}),
        ),
        422,
    );
    assert_eq!(error_fields(&problem), vec!["code", "title"]);
}

#[test]
fn bodies_over_the_limit_are_413() {
    let app = TestApp::with_demo();
    let big = "长".repeat(40 * 1024);
    let response = app.post(
        "/api/v1/catalogue/editions",
        &app.admin(),
        &json!({"code": "big", "title": big}),
    );
    expect_problem(response, 413);
    // Imports have their own, larger limit.
    let draft_etag = draft(&app, "big-import");
    let huge = "x".repeat(3 * 1024 * 1024);
    let response = app
        .request(
            Method::POST,
            "/api/v1/catalogue/editions/big-import/import",
            Some(&app.admin()),
        )
        .header("Content-Type", "text/csv")
        .header("If-Match", draft_etag)
        .body(huge)
        .send()
        .unwrap();
    expect_problem(response, 413);
}

#[test]
fn bad_pagination_is_refused_and_the_maximum_is_enforced() {
    let app = TestApp::with_demo();
    let problem = expect_problem(app.get("/api/v1/regions?page_size=501"), 422);
    assert_eq!(error_fields(&problem), vec!["page_size"]);
    expect_problem(app.get("/api/v1/regions?page=0"), 422);
    expect_problem(app.get("/api/v1/regions?page=abc"), 400);
    let page = expect_json(
        app.get("/public/v1/catalogue/editions/2026/items?page_size=500"),
        200,
    );
    assert_eq!(page["page_size"], 500);
}

#[test]
fn an_unreachable_database_gives_503_with_retry_after_quickly() {
    let config = test_config("postgres://postgres@127.0.0.1:1/none");
    let service = quanze::Service::from_config(&config).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            quanze::http_server(service, listener, &config)
                .unwrap()
                .await
        })
    });
    std::thread::sleep(Duration::from_millis(200));
    let client = reqwest::blocking::Client::new();
    for path in ["/readyz", "/api/v1/regions"] {
        let started = Instant::now();
        let response = client.get(format!("{base}{path}")).send().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{path} took {:?}",
            started.elapsed()
        );
        assert_eq!(response.headers()["retry-after"], "2");
        expect_problem(response, 503);
    }
}

#[test]
fn the_served_openapi_document_matches_the_checked_in_copy() {
    let app = TestApp::spawn();
    let served = app.get("/api-docs/openapi.json").text().unwrap();
    let checked_in = include_str!("../../openapi/openapi.json");
    assert!(
        served == checked_in,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and commit it"
    );
    let doc: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(
        doc["paths"]["/api/v1/catalogue/editions/{edition}/items/{code}"]["put"]["responses"]
            ["412"]
            .is_object()
    );
}

#[test]
fn swagger_ui_is_served_without_the_internet() {
    let app = TestApp::spawn();
    let page = app.get("/docs/");
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(
        !html.contains("cdn") && !html.contains("unpkg"),
        "no CDN assets"
    );
    assert_eq!(app.get("/docs/swagger-ui-bundle.js").status(), 200);
}

fn quanze_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_quanze"));
    command
        .env_remove("QUANZE_JWT_ALGORITHM")
        .env_remove("QUANZE_JWT_SECRET");
    command
}

#[test]
fn the_token_command_mints_a_token_the_service_accepts() {
    let app = TestApp::with_demo();
    let output = quanze_command()
        .args([
            "token", "--sub", "u1", "--org", "o1", "--region", PROVINCE, "--role", "auditor",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap();
    assert_eq!(token.lines().count(), 1, "the token alone on stdout");
    expect_json(app.get_as("/api/v1/audit", token.trim()), 200);
}

#[test]
fn the_token_command_refuses_non_hs_algorithms_and_unknown_roles() {
    let output = quanze_command()
        .env("QUANZE_JWT_ALGORITHM", "RS256")
        .env("QUANZE_JWT_PUBLIC_KEY_FILE", "/nonexistent.pem")
        .args([
            "token", "--sub", "u1", "--org", "o1", "--region", PROVINCE, "--role", "auditor",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let output = quanze_command()
        .args([
            "token", "--sub", "u1", "--org", "o1", "--region", PROVINCE, "--role", "wizard",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown role"));
}

#[test]
fn a_known_address_with_another_method_is_405_naming_the_methods_it_takes() {
    let app = TestApp::with_demo();
    let response = app
        .request(Method::DELETE, "/healthz", None)
        .send()
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    let problem = expect_problem(response, 405);
    assert_eq!(problem["type"], "/problems/method-not-allowed");
    let response = app
        .request(Method::GET, "/api/v1/claims/1/reopen", Some(&app.admin()))
        .send()
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    expect_problem(response, 405);
    let response = app
        .request(
            Method::PATCH,
            "/api/v1/organisations/luxian-zrzy",
            Some(&app.admin()),
        )
        .send()
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD, PUT, DELETE");
    expect_problem(response, 405);
    // An address no route has is still a 404.
    expect_problem(
        app.request(Method::DELETE, "/api/v1/no-such-thing", None)
            .send()
            .unwrap(),
        404,
    );
}

#[test]
fn head_answers_what_get_would_without_the_body() {
    let app = TestApp::with_demo();
    for path in [
        "/healthz".to_string(),
        "/public/v1/catalogue/editions".to_string(),
        "/public/v1/keys".to_string(),
        "/public/v1/publications.atom".to_string(),
        "/api-docs/openapi.json".to_string(),
    ] {
        let get = app.get(&path);
        assert_eq!(get.status(), 200, "{path}");
        let etag = get.headers().get("etag").cloned();
        let length = get.bytes().unwrap().len();
        let head = app.request(Method::HEAD, &path, None).send().unwrap();
        assert_eq!(head.status(), 200, "{path}");
        assert_eq!(head.headers().get("etag").cloned(), etag, "{path}");
        let declared: usize = head.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, length, "{path}");
        assert!(head.bytes().unwrap().is_empty(), "{path}");
    }
    // HEAD is refused where GET is.
    let head = app
        .request(Method::HEAD, "/api/v1/organisations", None)
        .send()
        .unwrap();
    assert_eq!(head.status(), 401);
}

#[test]
fn instants_are_rfc_3339_in_utc_and_parameters_take_any_offset() {
    let app = TestApp::with_demo();
    // Every instant in these answers, nullable ones included, is RFC 3339 with Z.
    use serde_json::Value;
    fn instants(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::String(s)
                if s.len() > 18 && s.as_bytes()[10] == b'T' && s[..4].parse::<u32>().is_ok() =>
            {
                found.push(s.clone())
            }
            Value::Array(items) => items.iter().for_each(|v| instants(v, found)),
            Value::Object(map) => map.values().for_each(|v| instants(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    let auditor = app.token_for("auditor", PROVINCE);
    for (path, token) in [
        ("/api/v1/organisations/luxian-zrzy", app.admin()),
        ("/public/v1/catalogue/editions", app.admin()),
        ("/api/v1/catalogue/editions/2026", app.admin()),
        ("/api/v1/audit", auditor.clone()),
    ] {
        instants(&expect_json(app.get_as(path, &token), 200), &mut found);
    }
    assert!(found.len() > 5, "{found:?}");
    for text in &found {
        assert!(text.ends_with('Z'), "{text}");
        chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    }
    for since in [
        "2026-01-01T08:00:00%2B08:00",
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00",
        "2026-01-01",
    ] {
        expect_json(
            app.get(&format!("/public/v1/publications.json?since={since}")),
            200,
        );
        let events = expect_json(
            app.get_as(&format!("/api/v1/audit?from={since}"), &auditor),
            200,
        );
        let first = events["items"][0]["occurred_at"].as_str().unwrap();
        assert!(first.ends_with('Z'), "{first}");
    }
    // The same instant in two offsets selects the same events.
    let at = |from: &str| {
        expect_json(
            app.get_as(&format!("/api/v1/audit?from={from}"), &auditor),
            200,
        )["total"]
            .clone()
    };
    assert_eq!(
        at("2026-01-01T08:00:00%2B08:00"),
        at("2026-01-01T00:00:00Z")
    );
    let problem = expect_problem(
        app.get("/public/v1/publications.json?since=27/11/2026"),
        422,
    );
    assert_eq!(error_fields(&problem), ["since"]);
}

/// Every schema the document refers to is in it: a generated client drops an operation
/// whose parameter or body names a schema it cannot find.
#[test]
fn every_schema_reference_of_the_openapi_document_resolves() {
    let app = TestApp::spawn();
    let doc: serde_json::Value =
        serde_json::from_str(&app.get("/api-docs/openapi.json").text().unwrap()).unwrap();
    fn refs(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner.as_str()) {
                        ("$ref", Some(target)) => found.push(target.to_string()),
                        _ => refs(inner, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| refs(i, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    let dangling: Vec<&String> = found
        .iter()
        .filter(|target| {
            let name = target.trim_start_matches("#/components/schemas/");
            doc["components"]["schemas"].get(name).is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "references to no schema: {dangling:?}");
}
