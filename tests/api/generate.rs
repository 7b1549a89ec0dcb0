//! The seeded province generator builds through the domain code: its data obeys every
//! rule, reads back over HTTP, and leaves an audit chain that verifies.

use crate::common::*;

#[test]
fn a_small_generated_province_is_served_and_its_audit_chain_verifies() {
    let app = TestApp::spawn();
    // The generator writes with the server's own keys, as `quanze generate` would.
    let service = quanze::Service::from_config(&app.config).unwrap();
    let report = quanze::generate::generate(
        &service.state.db,
        7,
        &quanze::generate::Scale::small(),
        &service.state.publication,
    )
    .unwrap();
    assert_eq!(report.counties, 4);
    assert!(report.claims > 0 && report.publications >= 8, "{report:?}");

    let auditor = app.token_for("auditor", PROVINCE);
    let verify = expect_json(app.get_as("/api/v1/audit/verify", &auditor), 200);
    assert_eq!(verify["valid"], true, "{verify}");
    assert!(verify["events_checked"].as_i64().unwrap() > report.claims as i64);

    // Every county published both lists; the first county also a second version of each.
    let county = "510121000000";
    for kind in ["power", "duty"] {
        let versions = expect_json(
            app.get(&format!(
                "/public/v1/counties/{county}/lists/{kind}/versions"
            )),
            200,
        );
        assert_eq!(versions.as_array().unwrap().len(), 2, "{kind}: {versions}");
        let first = expect_json(
            app.get(&format!(
                "/public/v1/counties/{county}/lists/{kind}?at=2026-06-01"
            )),
            200,
        );
        assert_eq!(first["kind"], kind);
    }

    // The same seed builds the same data.
    let other = TestApp::spawn();
    let other_service = quanze::Service::from_config(&other.config).unwrap();
    let again = quanze::generate::generate(
        &other_service.state.db,
        7,
        &quanze::generate::Scale::small(),
        &other_service.state.publication,
    )
    .unwrap();
    assert_eq!(
        (again.townships, again.claims, again.matters),
        (report.townships, report.claims, report.matters)
    );
    let hash = |app: &TestApp| {
        let versions = expect_json(
            app.get(&format!("/public/v1/counties/{county}/lists/duty/versions")),
            200,
        );
        versions[1]["content_hash"].as_str().unwrap().to_string()
    };
    assert_eq!(
        hash(&app),
        hash(&other),
        "version 1 of the duty list is identical"
    );
}
