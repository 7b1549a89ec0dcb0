//! Log lines an operator can match with audit events.

use super::upgrades::Served;
use super::*;

#[test]
fn json_logs_carry_the_route_the_caller_and_the_audit_event_a_write_produced() {
    let scratch = ScratchDatabase::empty();
    let dir = scratch.dir.path();
    let mut command = quanze_command(&scratch.url, dir);
    command
        .env("QUANZE_LOG_FORMAT", "json")
        .env("QUANZE_MIGRATE_ON_START", "true");
    let mut served = Served::start(command, dir, &["--demo"]);
    served.ready().unwrap();
    let keys =
        quanze::auth::TokenKeys::from_config(&quanze::config::Config::defaults().jwt).unwrap();
    let compiler = keys
        .mint(
            "compiler-1",
            "luxian-gov",
            LUXIAN,
            &["county_compiler".to_string()],
            600,
        )
        .unwrap();
    let client = reqwest::blocking::Client::new();
    let opened = client
        .post(format!(
            "{}/api/v1/counties/{LUXIAN}/claim-rounds",
            served.base
        ))
        .bearer_auth(&compiler)
        .header("x-request-id", "ops-log-check-1")
        .json(&json!({"edition": "2026", "title": "日志核对", "deadline": "2099-12-31"}))
        .send()
        .unwrap();
    assert_eq!(opened.status(), 201);
    let round = opened.json::<Value>().unwrap()["id"].as_i64().unwrap();
    let auditor = keys
        .mint(
            "auditor-1",
            "prov-audit",
            PROVINCE,
            &["auditor".to_string()],
            600,
        )
        .unwrap();
    let events = client
        .get(format!(
            "{}/api/v1/audit?entity_type=claim_round&entity_id={round}",
            served.base
        ))
        .bearer_auth(&auditor)
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    let event = &events["items"][0];
    assert_eq!(event["action"], "claims.round.open", "{events}");

    // The line is written after the answer: wait for it.
    let mut line = None;
    for _ in 0..100 {
        line = served
            .log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| {
                l["fields"]["message"] == "request finished"
                    && l.to_string().contains("ops-log-check-1")
            });
        if line.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let line = line.unwrap_or_else(|| panic!("no log line: {}", served.log_text()));
    let fields = &line["fields"];
    assert_eq!(fields["status"], 201, "{line}");
    assert_eq!(
        fields["route"], "/api/v1/counties/{county}/claim-rounds",
        "{line}"
    );
    assert_eq!(fields["org"], "luxian-gov", "{line}");
    assert_eq!(fields["roles"], "county_compiler", "{line}");
    assert_eq!(
        fields["audit_seq"], event["seq"],
        "the line names its audit event: {line}"
    );
    assert!(fields["micros"].as_u64().is_some(), "{line}");
    let log = served.log_text();
    assert!(
        !log.contains(&compiler) && !log.contains(&auditor),
        "tokens are never logged"
    );
    assert!(!log.contains("compiler-1"), "nor the person");
}
