//! `/metrics` on its own listener, read the way Prometheus reads it.

use super::*;

/// The metrics listener's exposition, parsed.
fn scrape(app: &TestApp) -> prometheus_parse::Scrape {
    let response = reqwest::blocking::get(format!("{}/metrics", app.metrics_base)).unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("the exposition does not parse: {e}\n{text}"))
}

/// The sum of the samples named `name` whose labels include `labels`.
fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    use prometheus_parse::Value;
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

const ITEMS_ROUTE: &str = "/public/v1/catalogue/editions/:edition/items";

#[test]
fn metrics_parse_and_move_as_requests_and_writes_are_made() {
    let app = TestApp::with_demo();
    let before = scrape(&app);
    for _ in 0..3 {
        assert_eq!(
            app.get("/public/v1/catalogue/editions/2026/items").status(),
            200
        );
    }
    assert_eq!(app.get("/no/such/510521001000").status(), 404);
    let round = open_round(&app);
    let claims = claims_of(&app, round, YUCHAN);
    let first = &claims[0];
    expect_json(
        answer(
            &app,
            round,
            YUCHAN,
            json!([{"item": first["item"], "answer": "defer", "reason": "人员不足", "revision": first["revision"]}]),
        ),
        200,
    );
    let after = scrape(&app);

    let ok_reads = [("route", ITEMS_ROUTE), ("method", "GET"), ("status", "2xx")];
    assert_eq!(
        value(&after, "quanze_http_requests_total", &ok_reads)
            - value(&before, "quanze_http_requests_total", &ok_reads),
        3.0,
        "requests are counted by route template"
    );
    let unmatched = [("route", "unmatched"), ("status", "4xx")];
    assert!(
        value(&after, "quanze_http_requests_total", &unmatched)
            > value(&before, "quanze_http_requests_total", &unmatched)
    );
    let latency = [("route", ITEMS_ROUTE), ("method", "GET")];
    assert!(
        value(
            &after,
            "quanze_http_request_duration_seconds_count",
            &latency
        ) - value(
            &before,
            "quanze_http_request_duration_seconds_count",
            &latency
        ) >= 3.0,
        "latency is observed per route"
    );
    // Label values are templates and classes: never a raw path, code or person.
    for sample in &after.samples {
        for (key, label) in sample.labels.iter() {
            assert!(
                !label.contains("510521") && !label.contains("/no/such"),
                "{}: {key}={label}",
                sample.metric
            );
        }
    }
    let deferrals = [("action", "claims.defer")];
    assert_eq!(
        value(&after, "quanze_audit_events_total", &deferrals)
            - value(&before, "quanze_audit_events_total", &deferrals),
        1.0,
        "claim transitions are counted by kind"
    );
    assert_eq!(
        value(&after, "quanze_audit_chain_length", &[]),
        app.audit_count() as f64,
        "the chain's length is its head"
    );
    assert_eq!(value(&after, "quanze_db_pool_max_connections", &[]), 4.0);
    assert!(value(&after, "quanze_db_pool_connections", &[("state", "idle")]) >= 0.0);
    assert!(value(&after, "quanze_db_pool_wait_seconds_count", &[]) > 0.0);
    assert_eq!(value(&after, "quanze_db_pool_timeouts_total", &[]), 0.0);
    if cfg!(target_os = "linux") {
        assert!(value(&after, "process_resident_memory_bytes", &[]) > 1e6);
        assert!(value(&after, "process_open_fds", &[]) > 0.0);
    }
}

#[test]
fn publications_and_cache_reads_are_counted() {
    let app = TestApp::with_demo();
    let before = scrape(&app);
    publish_power_list(&app, "首次公布");
    let slice = format!("/public/v1/townships/{YUCHAN}/power-list");
    for _ in 0..4 {
        assert_eq!(app.get(&slice).status(), 200);
    }
    let after = scrape(&app);
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(
        moved(
            "quanze_audit_events_total",
            &[("action", "publication.publish")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "quanze_audit_events_total",
            &[("action", "publication.review")]
        ),
        2.0
    );
    assert!(moved("quanze_published_cache_misses_total", &[]) >= 1.0);
    assert!(
        moved("quanze_published_cache_hits_total", &[]) >= 3.0,
        "later reads of one slice are answered from memory"
    );
    assert!(value(&after, "quanze_published_cache_bytes", &[]) > 0.0);
    assert!(value(&after, "quanze_published_cache_entries", &[]) >= 1.0);
}

#[test]
fn metrics_are_served_on_their_own_listener_only() {
    let app = TestApp::with_demo();
    let on_api = app.get("/metrics");
    assert_eq!(on_api.status(), 404, "the API port never serves metrics");
    let other = reqwest::blocking::get(format!("{}/api/v1/regions", app.metrics_base)).unwrap();
    assert_eq!(
        other.status(),
        404,
        "the metrics listener serves nothing else"
    );
    let scraped = scrape(&app);
    assert!(scraped
        .samples
        .iter()
        .any(|s| s.metric == "process_start_time_seconds"));
}
