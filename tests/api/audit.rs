//! The audit trail: what writes leave behind, the filters, regional scope, and the
//! hash chain that shows tampering.

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

fn auditor(app: &TestApp) -> String {
    app.token(&["auditor"], PROVINCE, "sc-audit")
}

fn events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let page = expect_json(
        app.get_as(&format!("/api/v1/audit?page_size=500&{query}"), token),
        200,
    );
    let items = page["items"].as_array().unwrap().clone();
    assert_eq!(
        page["total"].as_u64().unwrap() as usize,
        items.len(),
        "one page holds them all"
    );
    items
}

/// The events of the scenario's callers (not the demo loader's).
fn ours(events: Vec<Value>) -> Vec<Value> {
    events
        .into_iter()
        .filter(|e| e["actor_sub"] != "system:cli")
        .collect()
}

fn field<'a>(events: &'a [Value], name: &str) -> Vec<&'a str> {
    events.iter().map(|e| e[name].as_str().unwrap()).collect()
}

fn verify(app: &TestApp) -> Value {
    expect_json(app.get_as("/api/v1/audit/verify", &auditor(app)), 200)
}

/// What an insider without the key can do after rewriting event `from`: re-chain every
/// later event with `mac` (plain SHA-256, or HMAC under a key of its own), and move the
/// head, so that every link holds.
pub fn rechain_from(app: &TestApp, from: i64, mac: &dyn Fn(&str) -> String) {
    let all = events(app, &auditor(app), "");
    let mut prev = all[(from - 2) as usize]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let mut sql = String::new();
    for event in &all[(from - 1) as usize..] {
        let at = chrono::DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap())
            .unwrap()
            .naive_utc();
        let canonical = json!([
            event["seq"],
            prev,
            at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            event["actor_sub"],
            event["actor_org"],
            event["actor_roles"],
            event["region_code"],
            event["action"],
            event["entity_type"],
            event["entity_id"],
            event["summary"],
        ])
        .to_string();
        let hash = mac(&canonical);
        sql.push_str(&format!(
            "UPDATE audit_events SET prev_hash = '{prev}', hash = '{hash}' WHERE seq = {};",
            event["seq"]
        ));
        prev = hash;
    }
    sql.push_str(&format!("UPDATE audit_head SET hash = '{prev}';"));
    app.sql(&sql);
}

/// The writes of the scenario: a province admin builds and publishes an edition, a
/// county compiler adds an organisation, another county's compiler adds one of its own.
fn scenario(app: &TestApp) {
    let admin = app.token(&["catalogue_admin"], PROVINCE, "sc-catalogue");
    let response = app.post(
        "/api/v1/catalogue/editions",
        &admin,
        &json!({"code": "2027", "title": "2027年版（草案）"}),
    );
    let edition_etag = response.headers()["etag"].to_str().unwrap().to_string();
    expect_json(response, 201);
    expect_json(
        app.post(
            "/api/v1/catalogue/editions/2027/items",
            &admin,
            &item("CF-0001", "处罚一"),
        ),
        201,
    );
    let response = app.post(
        "/api/v1/catalogue/editions/2027/items",
        &admin,
        &item("CF-0002", "处罚二"),
    );
    let item_etag = response.headers()["etag"].to_str().unwrap().to_string();
    expect_json(response, 201);
    expect_json(
        app.send(
            Method::PUT,
            "/api/v1/catalogue/editions/2027/items/CF-0002",
            &admin,
            Some(&item_etag),
            &item("CF-0002", "处罚二（修订）"),
        ),
        200,
    );
    // The item writes moved the edition on: the ETag from its creation is stale (a
    // refused write that leaves nothing), so the rename uses the edition as it is now.
    expect_problem(
        app.send(
            Method::PUT,
            "/api/v1/catalogue/editions/2027",
            &admin,
            Some(&edition_etag),
            &json!({"title": "过时的标题"}),
        ),
        412,
    );
    let edition_etag = app.etag("/api/v1/catalogue/editions/2027", &admin);
    let response = app.send(
        Method::PUT,
        "/api/v1/catalogue/editions/2027",
        &admin,
        Some(&edition_etag),
        &json!({"title": "2027年版"}),
    );
    let edition_etag = response.headers()["etag"].to_str().unwrap().to_string();
    expect_json(response, 200);
    // A refused and a failed write leave nothing.
    expect_problem(
        app.send(
            Method::POST,
            "/api/v1/catalogue/editions/2027/publish",
            &admin,
            Some("\"99\""),
            &json!({}),
        ),
        412,
    );
    expect_problem(
        app.post(
            "/api/v1/catalogue/editions",
            &app.token_for("auditor", PROVINCE),
            &json!({"code": "x", "title": "x"}),
        ),
        403,
    );
    expect_json(
        app.send(
            Method::POST,
            "/api/v1/catalogue/editions/2027/publish",
            &admin,
            Some(&edition_etag),
            &json!({}),
        ),
        200,
    );
    let luxian = app.token(&["county_compiler"], LUXIAN, "luxian-bb");
    expect_json(
        app.post(
            "/api/v1/organisations",
            &luxian,
            &json!({"code": "luxian-jyj", "name": "泸县教育和体育局", "kind": "department", "sector": "education", "region": LUXIAN}),
        ),
        201,
    );
    expect_json(
        app.post(
            "/api/v1/organisations",
            &luxian,
            &json!({"code": "luxian-yuchan-wsy", "name": "玉蟾街道卫生服务中心", "kind": "township_unit", "sector": "health", "region": YUCHAN}),
        ),
        201,
    );
    let hejiang = app.token(&["county_compiler"], HEJIANG, "hejiang-bb");
    expect_json(
        app.post(
            "/api/v1/organisations",
            &hejiang,
            &json!({"code": "hejiang-jyj", "name": "合江县教育和体育局", "kind": "department", "sector": "education", "region": HEJIANG}),
        ),
        201,
    );
}

#[test]
fn writes_are_listed_in_order_with_actor_action_entity_and_summary() {
    let app = TestApp::with_demo();
    let token = auditor(&app);
    // The demo loader's events come first, under the command line's name.
    let demo = events(&app, &token, "");
    let base = demo.len();
    assert!(
        base >= 4,
        "regions, organisations, the edition and its publication"
    );
    assert!(demo
        .iter()
        .all(|e| e["actor_sub"] == "system:cli" && e["actor_roles"] == "catalogue_admin"));
    assert_eq!(field(&demo, "action")[0], "regions.import");
    assert_eq!(
        field(&demo, "action")[base - 1],
        "catalogue.edition.publish"
    );

    scenario(&app);
    let all = events(&app, &token, "");
    assert_eq!(all.len(), base + 9);
    let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=all.len() as i64).collect::<Vec<_>>(),
        "oldest first, no gaps"
    );
    let new = &all[base..];
    assert_eq!(
        field(new, "action"),
        vec![
            "catalogue.edition.create",
            "catalogue.item.create",
            "catalogue.item.create",
            "catalogue.item.update",
            "catalogue.edition.update",
            "catalogue.edition.publish",
            "organisation.create",
            "organisation.create",
            "organisation.create",
        ]
    );
    assert_eq!(
        field(new, "entity_type"),
        vec![
            "catalogue_edition",
            "catalogue_item",
            "catalogue_item",
            "catalogue_item",
            "catalogue_edition",
            "catalogue_edition",
            "organisation",
            "organisation",
            "organisation",
        ]
    );
    assert_eq!(
        field(new, "entity_id"),
        vec![
            "2027",
            "2027/CF-0001",
            "2027/CF-0002",
            "2027/CF-0002",
            "2027",
            "2027",
            "luxian-jyj",
            "luxian-yuchan-wsy",
            "hejiang-jyj",
        ]
    );
    assert_eq!(
        field(new, "region_code"),
        vec![PROVINCE, PROVINCE, PROVINCE, PROVINCE, PROVINCE, PROVINCE, LUXIAN, YUCHAN, HEJIANG]
    );
    assert_eq!(
        field(new, "actor_sub")[0],
        "catalogue_admin@sc-catalogue",
        "who: the token's subject"
    );
    assert_eq!(
        field(new, "actor_org"),
        vec![
            "sc-catalogue",
            "sc-catalogue",
            "sc-catalogue",
            "sc-catalogue",
            "sc-catalogue",
            "sc-catalogue",
            "luxian-bb",
            "luxian-bb",
            "hejiang-bb",
        ]
    );
    assert_eq!(
        field(new, "actor_roles"),
        [
            ["catalogue_admin"; 6].as_slice(),
            ["county_compiler"; 3].as_slice()
        ]
        .concat()
    );
    let summaries = field(new, "summary");
    for (summary, words) in summaries.iter().zip([
        vec!["2027"],
        vec!["CF-0001", "处罚一"],
        vec!["CF-0002", "处罚二"],
        vec!["CF-0002", "处罚二（修订）"],
        vec!["2027", "2027年版"],
        vec!["2027", "2 items"],
        vec!["泸县教育和体育局"],
        vec!["玉蟾街道卫生服务中心"],
        vec!["合江县教育和体育局"],
    ]) {
        for word in words {
            assert!(
                summary.contains(word),
                "{summary:?} should mention {word:?}"
            );
        }
    }
    // Each event links to the one before it.
    let mut prev = "0".repeat(64);
    for event in &all {
        let hash = event["hash"].as_str().unwrap();
        assert_eq!(event["prev_hash"], prev, "{event}");
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        prev = hash.to_string();
    }
    let mut stamps: Vec<&str> = field(&all, "occurred_at");
    let in_order = stamps.clone();
    stamps.sort();
    assert_eq!(stamps, in_order, "times never go backwards");
}

#[test]
fn every_role_of_the_token_is_recorded() {
    let app = TestApp::with_demo();
    let token = app.token(
        &["county_compiler", "department_officer"],
        LUXIAN,
        "luxian-gov",
    );
    expect_json(
        app.post(
            "/api/v1/organisations",
            &token,
            &json!({"code": "luxian-tyj", "name": "泸县退役军人事务局", "kind": "department", "sector": "veterans_affairs", "region": LUXIAN}),
        ),
        201,
    );
    let last = events(&app, &auditor(&app), "entity_id=luxian-tyj");
    assert_eq!(last.len(), 1);
    assert_eq!(last[0]["actor_roles"], "county_compiler,department_officer");
    assert_eq!(last[0]["actor_org"], "luxian-gov");
    assert_eq!(
        last[0]["summary"],
        "created 泸县退役军人事务局 (department)"
    );
}

#[test]
fn filters_by_entity_and_time() {
    let app = TestApp::with_demo();
    let base = app.audit_count() as usize;
    scenario(&app);
    let token = auditor(&app);
    let total = events(&app, &token, "").len();
    assert_eq!(total, base + 9);

    let items = ours(events(&app, &token, "entity_type=catalogue_item"));
    assert_eq!(
        field(&items, "entity_id"),
        vec!["2027/CF-0001", "2027/CF-0002", "2027/CF-0002"]
    );
    let edition = events(&app, &token, "entity_type=catalogue_edition&entity_id=2027");
    assert_eq!(
        field(&edition, "action"),
        vec![
            "catalogue.edition.create",
            "catalogue.edition.update",
            "catalogue.edition.publish"
        ]
    );
    let demo_edition = events(&app, &token, "entity_id=2026");
    assert!(!demo_edition.is_empty());
    assert!(demo_edition
        .iter()
        .all(|e| e["entity_id"] == "2026" && e["actor_sub"] == "system:cli"));
    assert_eq!(events(&app, &token, "entity_id=2027/CF-0002").len(), 2);
    let organisations = events(&app, &token, "entity_type=organisation");
    assert!(organisations
        .iter()
        .all(|e| e["entity_type"] == "organisation"));
    assert_eq!(
        field(&ours(organisations), "entity_id"),
        vec!["luxian-jyj", "luxian-yuchan-wsy", "hejiang-jyj"]
    );
    assert_eq!(
        events(&app, &token, "entity_type=organisation&entity_id=2027").len(),
        0
    );
    assert_eq!(events(&app, &token, "entity_type=nothing").len(), 0);

    // Dates: whole days, and exact times taken from the events themselves.
    assert_eq!(events(&app, &token, "from=2000-01-01").len(), total);
    assert_eq!(events(&app, &token, "from=2999-01-01").len(), 0);
    assert_eq!(events(&app, &token, "to=2000-01-01").len(), 0);
    assert_eq!(events(&app, &token, "to=2999-01-01T00:00:00").len(), total);
    assert_eq!(
        events(&app, &token, "from=2000-01-01T00:00:00Z&to=2999-01-01").len(),
        total
    );
    let all = events(&app, &token, "");
    let pivot = all[base + 3]["occurred_at"].as_str().unwrap().to_string();
    let from: Vec<i64> = events(&app, &token, &format!("from={pivot}"))
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    let to: Vec<i64> = events(&app, &token, &format!("to={pivot}"))
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    let pivot_seq = (base + 4) as i64;
    assert_eq!(
        from.first(),
        Some(&pivot_seq),
        "from is inclusive ({pivot})"
    );
    assert_eq!(from.len() + to.len(), total, "from and to split the log");
    assert!(to.iter().all(|s| *s < pivot_seq), "to is exclusive");
    let window = events(&app, &token, &format!("from={pivot}&to={pivot}"));
    assert!(window.is_empty());

    for (query, bad) in [
        ("from=yesterday", "from"),
        ("from=2026-13-01", "from"),
        ("to=2026-02-30", "to"),
        ("to=01/02/2026", "to"),
        ("from=2026-01-01T25:00:00", "from"),
    ] {
        let problem = expect_problem(app.get_as(&format!("/api/v1/audit?{query}"), &token), 422);
        assert_eq!(error_fields(&problem), vec![bad], "{query}");
    }

    // Pages.
    let page = expect_json(app.get_as("/api/v1/audit?page_size=4&page=2", &token), 200);
    let seqs: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![5, 6, 7, 8]);
    assert_eq!(page["total"].as_u64().unwrap() as usize, total);
}

#[test]
fn an_auditor_sees_the_events_of_its_own_region_only() {
    let app = TestApp::with_demo();
    let base = app.audit_count();
    scenario(&app);
    let luxian = events(&app, &app.token_for("auditor", LUXIAN), "");
    assert_eq!(
        field(&luxian, "entity_id"),
        vec!["luxian-jyj", "luxian-yuchan-wsy"]
    );
    assert!(luxian
        .iter()
        .all(|e| e["region_code"].as_str().unwrap().starts_with("510521")));
    let hejiang = events(&app, &app.token_for("auditor", HEJIANG), "");
    assert_eq!(field(&hejiang, "entity_id"), vec!["hejiang-jyj"]);
    let township = events(&app, &app.token_for("auditor", YUCHAN), "");
    assert_eq!(field(&township, "entity_id"), vec!["luxian-yuchan-wsy"]);
    // Filters apply inside the scope.
    assert_eq!(
        events(
            &app,
            &app.token_for("auditor", LUXIAN),
            "entity_type=catalogue_edition"
        )
        .len(),
        0
    );
    assert_eq!(
        events(
            &app,
            &app.token_for("auditor", LUXIAN),
            "entity_id=hejiang-jyj"
        )
        .len(),
        0
    );
    // Another province sees nothing of this one.
    assert_eq!(
        events(&app, &app.token_for("auditor", "440000000000"), "").len(),
        0
    );
    // The province sees everything.
    assert_eq!(events(&app, &auditor(&app), "").len() as i64, base + 9);
    // Only auditors read the log.
    for role in [
        "catalogue_admin",
        "county_compiler",
        "legality_reviewer",
        "government_approver",
    ] {
        expect_problem(
            app.get_as("/api/v1/audit", &app.token_for(role, PROVINCE)),
            403,
        );
        expect_problem(
            app.get_as("/api/v1/audit/verify", &app.token_for(role, PROVINCE)),
            403,
        );
    }
    expect_problem(app.get("/api/v1/audit"), 401);
    expect_problem(app.get("/api/v1/audit/verify"), 401);
}

#[test]
fn the_chain_verifies() {
    let app = TestApp::with_demo();
    let report = verify(&app);
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["events_checked"].as_i64(), Some(app.audit_count()));
    assert_eq!(
        report["keyed_from"], 1,
        "a new database is keyed throughout"
    );
    scenario(&app);
    let report = verify(&app);
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["events_checked"].as_i64(), Some(app.audit_count()));
    assert!(
        report.get("first_bad_seq").is_none() && report.get("problem").is_none(),
        "{report}"
    );
    // An empty log is a valid chain of nothing.
    let empty = TestApp::spawn();
    let report = verify(&empty);
    assert_eq!(
        (&report["valid"], &report["events_checked"]),
        (&json!(true), &json!(0)),
        "{report}"
    );
}

#[test]
fn the_database_itself_refuses_to_change_or_delete_audit_events() {
    let app = TestApp::with_demo();
    scenario(&app);
    let before = events(&app, &auditor(&app), "");
    for sql in [
        "UPDATE audit_events SET summary = 'forged' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 3",
        "DELETE FROM audit_events",
    ] {
        let refused = app.try_sql(sql).expect_err(sql);
        assert!(refused.contains("append-only"), "{sql}: {refused}");
    }
    if app.db_url.starts_with("postgres") {
        assert!(app.try_sql("TRUNCATE audit_events").is_err());
    }
    assert_eq!(events(&app, &auditor(&app), ""), before);
    assert_eq!(verify(&app)["valid"], true);
}

#[test]
fn a_row_rewritten_and_the_tail_rechained_without_the_key_is_detected() {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let plain = |text: &str| hex::encode(Sha256::digest(text.as_bytes()));
    let guessed_key = |text: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"an insider's own guess of the key").unwrap();
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let rechains: [&dyn Fn(&str) -> String; 2] = [&plain, &guessed_key];
    for rechain in rechains {
        let app = TestApp::with_demo();
        scenario(&app);
        app.lift_append_only();
        app.sql("UPDATE audit_events SET summary = 'forged' WHERE seq = 4");
        rechain_from(&app, 4, rechain);
        let report = verify(&app);
        assert_eq!(
            (
                report["valid"].as_bool(),
                report["first_bad_seq"].as_i64(),
                report["check"].as_str()
            ),
            (Some(false), Some(4), Some("mac")),
            "{report}"
        );
        assert_eq!(report["events_checked"], 3);
    }
}

#[test]
fn a_changed_event_breaks_the_chain_at_that_event() {
    let app = TestApp::with_demo();
    scenario(&app);
    app.lift_append_only();
    app.sql("UPDATE audit_events SET summary = 'forged' WHERE seq = 2");
    let report = verify(&app);
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["first_bad_seq"], 2);
    assert_eq!(report["check"], "mac");
    assert_eq!(report["events_checked"], 1);
    assert!(report["problem"].is_string());
    // The log still reads, showing the forged row.
    let all = events(&app, &auditor(&app), "");
    assert_eq!(all[1]["summary"], "forged");
}

#[test]
fn changing_who_or_when_is_detected_too() {
    for (sql, seq) in [
        (
            "UPDATE audit_events SET actor_sub = 'someone-else' WHERE seq = 7",
            7,
        ),
        (
            "UPDATE audit_events SET actor_roles = 'auditor' WHERE seq = 9",
            9,
        ),
        (
            "UPDATE audit_events SET region_code = '510522000000' WHERE seq = 12",
            12,
        ),
        (
            "UPDATE audit_events SET entity_id = '2099' WHERE seq = 6",
            6,
        ),
        (
            "UPDATE audit_events SET occurred_at = occurred_at - INTERVAL '1 hour' WHERE seq = 10",
            10,
        ),
        // Rewriting a hash breaks the link of the next event as well as the event itself.
        ("UPDATE audit_events SET hash = prev_hash WHERE seq = 8", 8),
    ] {
        let app = TestApp::with_demo();
        scenario(&app);
        let sql = if sql.contains("INTERVAL") && !app.db_url.starts_with("postgres") {
            "UPDATE audit_events SET occurred_at = datetime(occurred_at, '-1 hour') WHERE seq = 10"
        } else {
            sql
        };
        app.lift_append_only();
        app.sql(sql);
        let report = verify(&app);
        assert_eq!(
            (report["valid"].as_bool(), report["first_bad_seq"].as_i64()),
            (Some(false), Some(seq)),
            "{sql}: {report}"
        );
        assert_eq!(report["events_checked"].as_i64(), Some(seq - 1), "{sql}");
    }
}

#[test]
fn a_deleted_event_is_detected() {
    let app = TestApp::with_demo();
    scenario(&app);
    app.lift_append_only();
    app.sql("DELETE FROM audit_events WHERE seq = 3");
    let report = verify(&app);
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["first_bad_seq"], 3);
    assert_eq!(report["check"], "missing");
    assert_eq!(report["events_checked"], 2);
    assert!(
        report["problem"].as_str().unwrap().contains('3'),
        "{report}"
    );
}

#[test]
fn deleting_the_newest_events_is_detected() {
    let app = TestApp::with_demo();
    scenario(&app);
    let total = app.audit_count();
    app.lift_append_only();
    app.sql(&format!(
        "DELETE FROM audit_events WHERE seq >= {}",
        total - 1
    ));
    let report = verify(&app);
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["first_bad_seq"].as_i64(), Some(total - 1));
    assert_eq!(report["events_checked"].as_i64(), Some(total - 2));
    assert_eq!(report["check"], "head");
}

#[test]
fn new_events_after_tampering_do_not_hide_it() {
    let app = TestApp::with_demo();
    app.lift_append_only();
    app.sql("UPDATE audit_events SET summary = 'forged' WHERE seq = 2");
    scenario(&app);
    let report = verify(&app);
    assert_eq!(
        (report["valid"].as_bool(), report["first_bad_seq"].as_i64()),
        (Some(false), Some(2)),
        "{report}"
    );
}
