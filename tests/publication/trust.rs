//! Trust in the gate: separation of duties at every review stage, signed publications a
//! portal verifies with its own Ed25519 implementation, and an audit chain cut behind a
//! publication's signed anchor.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::*;

// ---------------------------------------------------------------------------------------
// Separation of duties

/// The person who compiles 泸县's lists.
const COMPILER_SUB: &str = "county_compiler@luxian-gov";

fn review_by(app: &TestApp, token: &str, kind: &str, n: i64, stage: &str) -> Response {
    let hash = hash_of(app, kind, n);
    review_as(app, token, kind, n, stage, "approve", &hash, json!([]))
}

fn reviews_of(app: &TestApp, kind: &str, n: i64) -> usize {
    version(app, kind, n).0["reviews"].as_array().unwrap().len()
}

#[test]
fn one_person_cannot_walk_a_list_through_the_gate() {
    let app = TestApp::with_demo();
    submitted(&app, "power", "首次编制");
    let before = app.audit_count();

    // The compiler who submitted, with the reviewers' roles, for its own organisation
    // (the county government): the legality stage is not the government's, and the
    // government stage is not the submitter's to approve.
    let as_compiler = |roles: &[&str]| app.token_as(COMPILER_SUB, roles, LUXIAN, "luxian-gov");
    expect_refusal(
        review_by(
            &app,
            &as_compiler(&["legality_reviewer"]),
            "power",
            1,
            "legality",
        ),
        "stage-holder",
    );
    expect_refusal(
        review_by(
            &app,
            &as_compiler(&["government_approver"]),
            "power",
            1,
            "government",
        ),
        "submitter-cannot-review",
    );
    // The same person acting for the justice bureau is still the submitter.
    let submitter_at_sfj = app.token_as(COMPILER_SUB, &["legality_reviewer"], LUXIAN, "luxian-sfj");
    expect_refusal(
        review_by(&app, &submitter_at_sfj, "power", 1, "legality"),
        "submitter-cannot-review",
    );
    // A reviewer's token that also compiles never reviews, whoever holds it.
    let both = app.token_as(
        "sfj-li",
        &["legality_reviewer", "county_compiler"],
        LUXIAN,
        "luxian-sfj",
    );
    expect_refusal(
        review_by(&app, &both, "power", 1, "legality"),
        "reviewer-also-compiles",
    );
    assert_eq!(reviews_of(&app, "power", 1), 0, "no refusal was recorded");
    assert_eq!(app.audit_count(), before, "no refusal wrote an audit event");

    // Nobody approves two stages: the justice bureau's reviewer approves legality, then,
    // with a government token of the same person, is refused the government stage.
    let wang_at_sfj = app.token_as("wang", &["legality_reviewer"], LUXIAN, "luxian-sfj");
    expect_json(review_by(&app, &wang_at_sfj, "power", 1, "legality"), 201);
    let wang_at_gov = app.token_as("wang", &["government_approver"], LUXIAN, "luxian-gov");
    expect_refusal(
        review_by(&app, &wang_at_gov, "power", 1, "government"),
        "one-stage-per-person",
    );
    expect_problem(publish(&app, "power", 1, None), 409);

    // Distinct people of the stages' organisations pass it.
    let zhao_at_gov = app.token_as("zhao", &["government_approver"], LUXIAN, "luxian-gov");
    expect_json(review_by(&app, &zhao_at_gov, "power", 1, "government"), 201);
    assert_eq!(
        expect_json(publish(&app, "power", 1, None), 200)["status"],
        "published"
    );
}

#[test]
fn one_token_with_every_role_cannot_review_its_own_list() {
    let app = TestApp::with_demo();
    let everything = app.token_as(
        "lx-all",
        &[
            "county_compiler",
            "staffing_reviewer",
            "legality_reviewer",
            "approval_reviewer",
        ],
        LUXIAN,
        "luxian-sfj",
    );
    expect_json(app.post(&matters_path(LUXIAN), &everything, &sd001()), 201);
    expect_json(
        submit_as(&app, LUXIAN, "duty", &everything, "首次编制"),
        201,
    );
    for stage in stages_of("duty") {
        expect_refusal(
            review_by(&app, &everything, "duty", 1, stage),
            "reviewer-also-compiles",
        );
    }
    assert_eq!(reviews_of(&app, "duty", 1), 0);
}

/// The authorisation matrix of reviews: for each stage of each list, every kind of
/// organisation of the county, the holder of another county, and an unregistered one;
/// only the stage's holder in this county is accepted.
#[test]
fn only_the_stages_holder_in_the_county_reviews_it() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    submitted(&app, "power", "首次编制");
    submitted(&app, "duty", "首次编制");
    let organisations = [
        "luxian-sfj",
        "luxian-gov",
        "luxian-bb",
        "luxian-spj",
        "luxian-zrzy",
        "luxian-yuchan-bmzx",
        "hejiang-sfj",
        "hejiang-gov",
        "hejiang-bb",
        "hejiang-spj",
        "no-such-organisation",
    ];
    for (kind, stage, role, holder) in [
        ("power", "legality", "legality_reviewer", "luxian-sfj"),
        ("power", "government", "government_approver", "luxian-gov"),
        ("duty", "staffing", "staffing_reviewer", "luxian-bb"),
        ("duty", "legality", "legality_reviewer", "luxian-sfj"),
        ("duty", "approval", "approval_reviewer", "luxian-spj"),
    ] {
        for org in organisations.iter().filter(|o| **o != holder) {
            let token = app.token_as(&format!("{org}-reviewer"), &[role], LUXIAN, org);
            let refusal = expect_refusal(review_by(&app, &token, kind, 1, stage), "stage-holder");
            assert!(
                refusal["detail"].as_str().unwrap().contains(org),
                "the refusal names the organisation: {refusal}"
            );
        }
        let token = app.token_as(&format!("{holder}-{stage}"), &[role], LUXIAN, holder);
        expect_json(review_by(&app, &token, kind, 1, stage), 201);
    }
    // A role that is not the stage's, even at the holder.
    let token = app.token_as("sfj-chen", &["staffing_reviewer"], LUXIAN, "luxian-sfj");
    expect_refusal(review_by(&app, &token, "duty", 1, "legality"), "stage-role");
}

#[test]
fn the_public_record_names_each_reviewing_organisation_not_the_person() {
    let app = TestApp::with_demo();
    let v1 = submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    let listed = expect_json(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/power/versions"
        )),
        200,
    );
    let reviews = &listed[0]["reviews"];
    let stages: Vec<&str> = reviews
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["legality", "government"]);
    assert_eq!(
        reviews[0]["organisation"],
        json!({"code": "luxian-sfj", "name": "泸县司法局"})
    );
    assert_eq!(
        reviews[1]["organisation"],
        json!({"code": "luxian-gov", "name": "泸县人民政府"})
    );
    for review in reviews.as_array().unwrap() {
        assert_eq!(review["reviewed_hash"], v1["content_hash"]);
        assert!(review["decided_at"].is_string());
    }
    let text = listed.to_string();
    assert!(
        !text.contains("legality_reviewer@") && !text.contains(COMPILER_SUB),
        "no personal ids in the public record: {text}"
    );
    // The publication feed carries the same record, the signature and the anchor.
    let feed = expect_json(app.get("/public/v1/publications.json"), 200);
    let entry = &feed["items"][0];
    assert_eq!(entry["reviews"], *reviews);
    assert_eq!(entry["signature"], listed[0]["signature"]);
    assert!(entry["audit_anchor"]["audit_seq"].as_i64().unwrap() > 0);
}

// ---------------------------------------------------------------------------------------
// Signed publications

/// Checks a detached JWS with `ed25519-compact`, not the code that signed: the header
/// names the key, the key comes from the JWK Set, the payload is the body's bytes.
fn verify_independently(keys: &Value, jws: &str, body: &[u8]) -> Result<(), String> {
    let parts: Vec<&str> = jws.split('.').collect();
    let [header, "", signature] = parts[..] else {
        return Err(format!("not a detached compact JWS: {jws}"));
    };
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let key = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .ok_or("the key set lacks the signature's kid")?;
    assert_eq!(
        (&key["kty"], &key["crv"]),
        (&json!("OKP"), &json!("Ed25519"))
    );
    let public = ed25519_compact::PublicKey::from_slice(
        &URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let signature =
        ed25519_compact::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap())
            .unwrap();
    let input = format!("{}.{}", parts[0], URL_SAFE_NO_PAD.encode(body));
    public
        .verify(input.as_bytes(), &signature)
        .map_err(|e| e.to_string())
}

/// A signed answer's decoded body and its signature.
fn signed(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (Vec<u8>, String) {
    let response = get_with(app, path, headers);
    assert_eq!(response.status(), 200, "GET {path}");
    let jws = header(&response, "x-jws-signature").unwrap_or_else(|| panic!("{path} is unsigned"));
    let encoding = header(&response, "content-encoding");
    let bytes = response.bytes().unwrap().to_vec();
    let body = match encoding.as_deref() {
        Some("gzip") => gunzip(&bytes),
        _ => bytes,
    };
    (body, jws)
}

#[test]
fn documents_and_township_slices_carry_signatures_an_independent_implementation_verifies() {
    let app = TestApp::with_demo();
    let round = open_round(&app);
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    add_matter(&app, sd001());
    submitted(&app, "duty", "首次编制");
    approve_and_publish(&app, "duty", 1, None);

    let keys_response = app.get("/public/v1/keys");
    assert_eq!(
        header(&keys_response, "content-type").as_deref(),
        Some("application/jwk-set+json")
    );
    let keys: Value = keys_response.json().unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);

    let township = format!("/public/v1/townships/{YUCHAN}/power-list");
    let paths = [
        public_version_path("power", 1),
        format!("/public/v1/counties/{LUXIAN}/lists/power"),
        public_version_path("duty", 1),
        township.clone(),
        format!("{township}?high_frequency=false"),
        format!("{township}?category=02"),
    ];
    for path in &paths {
        for encoding in [None, Some("gzip")] {
            let headers: Vec<(&str, &str)> = encoding
                .map(|e| ("accept-encoding", e))
                .into_iter()
                .collect();
            let (body, jws) = signed(&app, path, &headers);
            verify_independently(&keys, &jws, &body)
                .unwrap_or_else(|e| panic!("{path} ({encoding:?}): {e}"));
            let mut flipped = body.clone();
            let middle = flipped.len() / 2;
            flipped[middle] ^= 1;
            assert!(
                verify_independently(&keys, &jws, &flipped).is_err(),
                "{path}: a flipped byte must fail"
            );
        }
    }
    // The versions list shows the document's signature: the one the document carries.
    let listed = expect_json(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/power/versions"
        )),
        200,
    );
    let (_, jws) = signed(&app, &public_version_path("power", 1), &[]);
    assert_eq!(listed[0]["signature"], jws);
    // The slice's signature is its own, not the document's.
    let (_, slice_jws) = signed(&app, &township, &[]);
    assert_ne!(slice_jws, jws);
}

/// The binary, as an operator or a portal runs it.
fn quanze(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_quanze"))
        .args(args)
        .envs(env.iter().copied())
        .env("QUANZE_LOG_LEVEL", "error")
        .output()
        .expect("run quanze")
}

#[test]
fn quanze_verify_checks_a_downloaded_document_offline() {
    let app = TestApp::with_demo();
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    let dir = tempfile::tempdir().unwrap();
    let (body, jws) = signed(&app, &public_version_path("power", 1), &[]);
    let document = dir.path().join("power-1.json");
    std::fs::write(&document, &body).unwrap();
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, app.get("/public/v1/keys").bytes().unwrap()).unwrap();
    let keys_url = format!("{}/public/v1/keys", app.base);
    for keys in [keys_url.as_str(), keys_file.to_str().unwrap()] {
        let run = quanze(
            &[
                "verify",
                document.to_str().unwrap(),
                "--signature",
                &jws,
                "--keys",
                keys,
            ],
            &[],
        );
        assert!(
            run.status.success(),
            "{keys}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(String::from_utf8_lossy(&run.stdout).starts_with("valid"));
    }
    let mut tampered = body.clone();
    let at = tampered.len() / 3;
    tampered[at] ^= 1;
    std::fs::write(&document, &tampered).unwrap();
    let run = quanze(
        &[
            "verify",
            document.to_str().unwrap(),
            "--signature",
            &jws,
            "--keys",
            &keys_url,
        ],
        &[],
    );
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("NOT VALID"));
}

#[test]
fn a_retired_key_stays_listed_and_what_it_signed_still_verifies() {
    let app = TestApp::with_demo();
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    let (document, old_jws) = signed(&app, &public_version_path("power", 1), &[]);

    // The operator makes a new key and retires the development key.
    let dir = tempfile::tempdir().unwrap();
    let new_key = dir.path().join("signing.pem");
    let run = quanze(
        &[
            "keys",
            "generate",
            "--signing-key",
            new_key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let old_key = std::path::Path::new(&app.config.keys.dev_dir).join("quanze-dev-signing-key.pem");
    let rotated = app.beside(|config| {
        config.keys.signing_key_file = new_key.to_string_lossy().into_owned();
        config.keys.retired_signing_keys = vec![old_key.to_string_lossy().into_owned()];
    });
    let keys: Value = rotated.get("/public/v1/keys").json().unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2, "{keys}");
    // The published document keeps the signature it was published with.
    let (again, jws) = signed(&rotated, &public_version_path("power", 1), &[]);
    assert_eq!(
        (again.as_slice(), jws.as_str()),
        (document.as_slice(), old_jws.as_str())
    );
    verify_independently(&keys, &jws, &again).unwrap();
    // A township's slice was made and signed at publication too, and keeps its signature.
    let (slice, slice_jws) = signed(
        &rotated,
        &format!("/public/v1/townships/{YUCHAN}/power-list"),
        &[],
    );
    verify_independently(&keys, &slice_jws, &slice).unwrap();
    // What is made now (a filtered slice) is signed with the new key, the first in the set.
    let (filtered, filtered_jws) = signed(
        &rotated,
        &format!("/public/v1/townships/{YUCHAN}/power-list?high_frequency=true"),
        &[],
    );
    verify_independently(&keys, &filtered_jws, &filtered).unwrap();
    let kid = |jws: &str| -> Value {
        serde_json::from_slice::<Value>(
            &URL_SAFE_NO_PAD
                .decode(jws.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap()["kid"]
            .clone()
    };
    assert_eq!(kid(&filtered_jws), keys["keys"][0]["kid"]);
    assert_eq!(kid(&slice_jws), keys["keys"][1]["kid"]);
    assert_eq!(kid(&old_jws), keys["keys"][1]["kid"]);
}

// ---------------------------------------------------------------------------------------
// The audit chain against its anchors

fn verify_chain(app: &TestApp) -> Value {
    expect_json(app.get_as("/api/v1/audit/verify", &auditor(app)), 200)
}

#[test]
fn a_chain_cut_behind_a_publications_anchor_is_detected() {
    let app = TestApp::with_demo();
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    add_matter(&app, sd001());
    add_matter(&app, sd002());
    let feed = app.get("/public/v1/publications.json").bytes().unwrap();
    let anchored = serde_json::from_slice::<Value>(&feed).unwrap()["items"][0]["audit_anchor"]
        ["audit_seq"]
        .as_i64()
        .unwrap();
    let report = verify_chain(&app);
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["latest_anchor_seq"], anchored);
    assert_eq!(report["anchors_checked"], 1);

    // An insider cuts the chain from the publication's own event on and rewinds the head
    // to the event before: every remaining link and MAC holds.
    let all = expect_json(
        app.get_as("/api/v1/audit?page_size=500", &auditor(&app)),
        200,
    )["items"]
        .clone();
    let keep = anchored - 1;
    let keep_mac = all[(keep - 1) as usize]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    app.lift_append_only();
    app.sql(&format!(
        "DELETE FROM audit_events WHERE seq > {keep}; UPDATE audit_head SET seq = {keep}, hash = '{keep_mac}'"
    ));
    let report = verify_chain(&app);
    assert_eq!(
        (
            report["valid"].as_bool(),
            report["check"].as_str(),
            report["first_bad_seq"].as_i64()
        ),
        (Some(false), Some("truncated"), Some(anchored)),
        "{report}"
    );

    // Removing the anchors kept in the database as well hides the cut from the service,
    // but not from an anchor kept outside: the feed a portal saved.
    app.sql("DELETE FROM audit_anchors; UPDATE list_versions SET anchor_seq = NULL, anchor_mac = NULL, anchor_jws = NULL");
    assert_eq!(verify_chain(&app)["valid"], true);
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("publications.json");
    std::fs::write(&saved, &feed).unwrap();
    let keys_dir = std::path::Path::new(&app.config.keys.dev_dir);
    let env = [
        (
            "QUANZE_SIGNING_KEY_FILE",
            keys_dir.join("quanze-dev-signing-key.pem"),
        ),
        (
            "QUANZE_AUDIT_KEY_FILE",
            keys_dir.join("quanze-dev-audit-key.hex"),
        ),
    ];
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(name, path)| (*name, path.to_str().unwrap()))
        .collect();
    let offline = |extra: &[&str]| {
        let mut args = vec!["audit", "verify", "--database", app.db_url.as_str()];
        args.extend_from_slice(extra);
        quanze(&args, &env)
    };
    let run = offline(&[]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let run = offline(&["--feed", saved.to_str().unwrap()]);
    assert!(!run.status.success());
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["check"], "truncated", "{report}");
    assert_eq!(report["first_bad_seq"], anchored);
    assert!(String::from_utf8_lossy(&run.stderr).contains("does not verify"));
}

#[test]
fn a_forged_anchor_is_itself_a_finding() {
    let app = TestApp::with_demo();
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    // An insider writes an anchor of its own, signed with a key that is not the service's.
    let forged = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","kid":"forged"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"audit_mac":"00","audit_seq":1,"subject":{}}"#),
        URL_SAFE_NO_PAD.encode([0u8; 64])
    );
    app.sql(&format!(
        "INSERT INTO audit_anchors (seq, mac, subject, jws, created_at) VALUES (1, '00', '{{}}', '{forged}', '2026-01-01 00:00:00')"
    ));
    let report = verify_chain(&app);
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["check"], "anchor-signature");
}
