//! Concurrency, canonical content and storage.

use super::*;

// ---------------------------------------------------------------------------------------
// Concurrency

#[test]
fn concurrent_submissions_let_exactly_one_through() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    let barrier = std::sync::Barrier::new(4);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (app, barrier) = (&app, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    submit(app, "duty", &format!("并发报送 {i}"))
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, vec![201, 409, 409, 409], "{statuses:?}");
    let listed = expect_json(
        app.get_as(&versions_path(LUXIAN, "duty"), &app.compiler()),
        200,
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["number"], 1);
}

#[test]

fn concurrent_reviews_of_different_stages_are_all_recorded() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    for round in 1..=5 {
        let submission = submitted(&app, "duty", &format!("第{round}次报送"));
        let n = submission["number"].as_i64().unwrap();
        let hash = submission["content_hash"].as_str().unwrap().to_string();
        let tokens: Vec<(String, String)> = stages_of("duty")
            .iter()
            .map(|stage| (stage.to_string(), reviewer(&app, stage)))
            .collect();
        let barrier = std::sync::Barrier::new(tokens.len());
        let answers: Vec<(u16, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = tokens
                .iter()
                .map(|(stage, token)| {
                    let (app, barrier, hash) = (&app, &barrier, &hash);
                    s.spawn(move || {
                        barrier.wait();
                        let response =
                            review_as(app, token, "duty", n, stage, "approve", hash, json!([]));
                        (response.status().as_u16(), response.text().unwrap())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            answers.iter().all(|(status, _)| *status == 201),
            "round {round}: every stage's review is recorded: {answers:?}"
        );
        let (history, _) = version(&app, "duty", n);
        assert_eq!(history["reviews"].as_array().unwrap().len(), 3);
        assert_eq!(history["status"], "approved", "round {round}");
        let (_, etag) = version(&app, "duty", n);
        expect_json(withdraw(&app, "duty", n, Some(&etag)), 200);
    }
}

// ---------------------------------------------------------------------------------------
// Canonical content

/// Re-serialises a value with every object's keys sorted, without whitespace.
fn canonical(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: std::collections::BTreeMap<String, Value> =
                    map.iter().map(|(k, v)| (k.clone(), sort(v))).collect();
                Value::Object(sorted.into_iter().collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sort(value)).unwrap()
}

#[test]
fn versions_are_canonical_json_whose_hash_depends_only_on_the_content() {
    let app = TestApp::with_demo();
    let round = open_round(&app);
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    add_matter(&app, sd001());
    add_matter(&app, sd003());
    let power = submitted(&app, "power", "首次编制");
    let duty = submitted(&app, "duty", "首次编制");
    for (kind, version) in [("power", &power), ("duty", &duty)] {
        let bytes = app
            .get_as(
                &format!("{}/document", version_path(kind, 1)),
                &app.compiler(),
            )
            .bytes()
            .unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            text,
            canonical(&value),
            "{kind}: sorted keys, no whitespace"
        );
        assert_eq!(sha256(&bytes), version["content_hash"].as_str().unwrap());
        assert!(
            !text.contains("revision") && !text.contains("updated_at"),
            "{kind}"
        );
    }
    // Withdraw both; touch the working copies without changing their content.
    for kind in ["power", "duty"] {
        let (_, etag) = version(&app, kind, 1);
        expect_json(withdraw(&app, kind, 1, Some(&etag)), 200);
    }
    replace_matter(&app, sd001());
    reopen_claim(&app, round, YUCHAN, "CF-0001");
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    let power2 = submitted(&app, "power", "再次报送");
    let duty2 = submitted(&app, "duty", "再次报送");
    assert_eq!(power2["content_hash"], power["content_hash"]);
    assert_eq!(duty2["content_hash"], duty["content_hash"]);
    // A real change changes the hash.
    for kind in ["power", "duty"] {
        let (_, etag) = version(&app, kind, 2);
        expect_json(withdraw(&app, kind, 2, Some(&etag)), 200);
    }
    let mut edited = sd001();
    edited["notes"] = json!("夜间巡查");
    replace_matter(&app, edited);
    assert_ne!(
        submitted(&app, "duty", "第三次报送")["content_hash"],
        duty["content_hash"]
    );
}

#[test]

fn a_blank_title_or_change_summary_is_refused_naming_the_field() {
    let app = TestApp::with_demo();
    let answers: Vec<(&str, u16, String)> = [
        (
            json!({"title": "   ", "change_summary": "首次编制", "edition": "2026"}),
            "title",
        ),
        (
            json!({"title": "泸县权力清单", "change_summary": "  \n ", "edition": "2026"}),
            "change_summary",
        ),
    ]
    .into_iter()
    .map(|(body, field)| {
        let response = app.post(&versions_path(LUXIAN, "power"), &app.compiler(), &body);
        (field, response.status().as_u16(), response.text().unwrap())
    })
    .collect();
    for (field, status, body) in &answers {
        let problem: Value = serde_json::from_str(body).unwrap();
        assert!(
            *status == 422 && error_fields(&problem) == vec![field.to_string()],
            "a blank {field} is a validation error naming it: {answers:?}"
        );
    }
    let listed = expect_json(
        app.get_as(&versions_path(LUXIAN, "power"), &app.compiler()),
        200,
    );
    assert_eq!(listed, json!([]), "nothing was submitted");
}

// ---------------------------------------------------------------------------------------
// 5. Storage

/// Frozen documents moved to their own table (migration 000005); rolling that upgrade
/// back and forward again must keep every version's bytes, whatever its state.
#[test]
fn frozen_documents_survive_rolling_the_storage_migrations_back_and_forward() {
    let app = TestApp::with_demo();
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    add_matter(&app, sd001());
    submitted(&app, "duty", "首次编制");
    let document = |kind: &str| {
        let response = app.get_as(
            &format!("{}/document", version_path(kind, 1)),
            &app.compiler(),
        );
        assert_eq!(response.status(), 200, "the {kind} document");
        response.bytes().unwrap().to_vec()
    };
    let before = (document("power"), document("duty"));
    assert_eq!(sha256(&before.0), hash_of(&app, "power", 1));
    assert_eq!(sha256(&before.1), hash_of(&app, "duty", 1));

    let db = quanze::db::Db::connect(&app.db_url, 1, std::time::Duration::from_secs(5)).unwrap();
    let slice_path = format!("/public/v1/townships/{YUCHAN}/power-list");
    let (_, slice, _) = public_document(&app, &slice_path);
    let reverted: Vec<String> = (0..7)
        .map(|_| db.revert_last_migration().expect("revert"))
        .collect();
    assert_eq!(
        reverted,
        [
            "20261202000011",
            "20261202000010",
            "20261202000009",
            "20261127000008",
            "20261127000007",
            "20261121000006",
            "20261121000005"
        ]
    );
    assert_eq!(db.migrate().expect("migrate again"), 7);
    assert_eq!(app.count("SELECT count(*) AS n FROM version_slices"), 0);
    let service = quanze::Service::from_config(&app.config).unwrap();
    let made = quanze::publication::render_missing(&service.state.db, &service.state.publication);
    assert_eq!(
        made.expect("render"),
        1,
        "the published power list's bytes are made again at start-up"
    );
    assert!(app.count("SELECT count(*) AS n FROM version_slices") > 0);

    assert_eq!(document("power"), before.0, "the published power list");
    assert_eq!(document("duty"), before.1, "the duty list under review");
    let (_, bytes, _) = public_document(&app, &public_version_path("power", 1));
    assert_eq!(bytes, before.0, "the public copy");
    let (_, again, _) = public_document(&app, &slice_path);
    assert_eq!(
        again, slice,
        "the township's slice, made again to the same bytes"
    );
}

/// With memory for no more than one version, each read of the other list evicts the
/// first, which is then fetched and rendered again: the same canonical bytes, the same
/// ETag, and revalidation still answers 304.
#[test]
fn an_evicted_version_renders_again_to_the_same_bytes() {
    let app = TestApp::with_demo_configured(|config| config.publication.cache_bytes = 1);
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    add_matter(&app, sd001());
    submitted(&app, "duty", "首次编制");
    approve_and_publish(&app, "duty", 1, None);
    let slice_path = format!("/public/v1/townships/{YUCHAN}/power-list");
    let lookup_path = format!("/public/v1/lookup?township={YUCHAN}&q=油烟");

    let (slice, bytes, response) = public_document(&app, &slice_path);
    let etag = header(&response, "etag").unwrap();
    assert_eq!(etag, format!("\"{}\"", sha256(&bytes)));
    assert_eq!(
        canonical(&slice).as_bytes(),
        bytes,
        "a slice is canonical JSON"
    );
    assert!(slice["item_count"].as_u64().unwrap() > 0);
    for _ in 0..2 {
        let lookup = expect_json(app.get(&lookup_path), 200);
        assert_eq!(lookup["version"], 1, "the duty list, rendered");
        let (_, again, response) = public_document(&app, &slice_path);
        assert_eq!(again, bytes, "rendered again, the same bytes");
        assert_eq!(header(&response, "etag").unwrap(), etag);
    }
    let not_modified = get_with(&app, &slice_path, &[("If-None-Match", &etag)]);
    assert_eq!(not_modified.status(), 304);

    // The reads above did come from storage: a version whose bytes are gone, as one
    // published before they were made at publication, has them made again from its
    // content by the first read, once.
    let townships = app.count("SELECT count(*) AS n FROM version_slices");
    assert!(
        townships > 1,
        "every township's slice was stored at publication"
    );
    app.sql(
        "UPDATE version_contents SET content = replace(content, '玉蟾街道', '玉蟾镇'), content_gzip = NULL;
         DELETE FROM version_slices",
    );
    expect_json(app.get(&lookup_path), 200);
    let reread = expect_json(app.get(&slice_path), 200);
    assert_eq!(reread["township"]["name"], "玉蟾镇");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM version_slices"),
        townships,
        "made again, every township"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM version_contents JOIN list_versions ON id = version_id
             WHERE content_gzip IS NULL AND kind = 'power'"
        ),
        0,
        "the power list's document too"
    );
}

#[test]
fn published_documents_and_slices_are_what_the_contract_says() {
    let app = TestApp::with_demo();
    let spec: Value =
        serde_json::from_slice(&app.get("/api-docs/openapi.json").bytes().unwrap()).unwrap();
    let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let round = open_round(&app);
    confirm_claim(&app, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    submitted(&app, "power", "首次编制");
    approve_and_publish(&app, "power", 1, None);
    for m in [sd001(), sd002()] {
        add_matter(&app, m);
    }
    submitted(&app, "duty", "首次编制");
    approve_and_publish(&app, "duty", 1, None);
    let mut checked = Vec::new();
    for (path, name) in [
        (
            format!("/public/v1/counties/{LUXIAN}/lists/power"),
            "ListDocument",
        ),
        (
            format!("/public/v1/counties/{LUXIAN}/lists/duty"),
            "ListDocument",
        ),
        (public_version_path("power", 1), "ListDocument"),
        (
            format!("/public/v1/townships/{YUCHAN}/power-list"),
            "TownshipPowerList",
        ),
        (
            format!("/public/v1/townships/{YUCHAN}/power-list?category=02"),
            "TownshipPowerList",
        ),
        (
            format!("{}/document", version_path("duty", 1)),
            "ListDocument",
        ),
    ] {
        let token = app.compiler();
        let body = expect_json(app.get_as(&path, &token), 200);
        let problems = nonconformities(&spec, &schema(name), &body, "$");
        assert!(problems.is_empty(), "{path}: {problems:#?}");
        checked.push(path);
    }
    // The checker itself refuses what the schema does not say.
    let body = expect_json(
        app.get(&format!("/public/v1/townships/{YUCHAN}/power-list")),
        200,
    );
    let mut wrong = body.clone();
    wrong["items"][0]["unexpected"] = json!(1);
    wrong.as_object_mut().unwrap().remove("version");
    assert_eq!(
        nonconformities(&spec, &schema("TownshipPowerList"), &wrong, "$").len(),
        2
    );
}
