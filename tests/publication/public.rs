//! What the public sees, and caching.

use super::*;

// ---------------------------------------------------------------------------------------
// 4. The public sees only published material

#[test]
fn anonymous_readers_see_only_published_versions() {
    let app = TestApp::with_demo();
    add_matter(&app, sd001());
    let public_routes = |app: &TestApp| {
        for kind in ["power", "duty"] {
            expect_problem(
                app.get(&format!("/public/v1/counties/{LUXIAN}/lists/{kind}")),
                404,
            );
            assert_eq!(
                expect_json(
                    app.get(&format!(
                        "/public/v1/counties/{LUXIAN}/lists/{kind}/versions"
                    )),
                    200
                ),
                json!([])
            );
            for n in 1..=3 {
                expect_problem(app.get(&public_version_path(kind, n)), 404);
            }
            expect_problem(
                app.get(&format!(
                    "/public/v1/counties/{LUXIAN}/lists/{kind}/diff?from=1&to=2"
                )),
                404,
            );
        }
        expect_problem(
            app.get(&format!("/public/v1/townships/{YUCHAN}/power-list")),
            404,
        );
        expect_problem(
            app.get(&format!("/public/v1/lookup?township={YUCHAN}&q=油烟")),
            404,
        );
        let feed = expect_json(app.get("/public/v1/publications.json"), 200);
        assert_eq!(feed["items"], json!([]));
        assert_eq!(feed["next_since"], Value::Null);
    };
    public_routes(&app);

    // In review, returned, withdrawn: none of it is public.
    let v1 = submitted(&app, "power", "首次编制");
    submitted(&app, "duty", "首次编制");
    public_routes(&app);
    expect_json(
        review_as(
            &app,
            &reviewer(&app, "legality"),
            "power",
            1,
            "legality",
            "return",
            v1["content_hash"].as_str().unwrap(),
            json!([finding("XK-0002", "blocking")]),
        ),
        201,
    );
    let (_, etag) = version(&app, "duty", 1);
    expect_json(withdraw(&app, "duty", 1, Some(&etag)), 200);
    submitted(&app, "power", "第二次报送");
    approve(&app, "power", 2, "legality");
    approve(&app, "power", 2, "government");
    public_routes(&app);

    // Authenticated version routes need a token.
    for path in [
        versions_path(LUXIAN, "power"),
        version_path("power", 1),
        format!("{}/document", version_path("power", 1)),
    ] {
        expect_problem(app.request(Method::GET, &path, None).send().unwrap(), 401);
    }
    for (path, body) in [
        (
            versions_path(LUXIAN, "power"),
            json!({"title": "t", "change_summary": "s"}),
        ),
        (
            format!("{}/reviews", version_path("power", 2)),
            json!({"stage": "legality", "decision": "approve", "hash": "x"}),
        ),
        (format!("{}/publish", version_path("power", 2)), json!({})),
        (format!("{}/withdraw", version_path("power", 2)), json!({})),
    ] {
        expect_problem(
            app.request(Method::POST, &path, None)
                .header("If-Match", "\"1\"")
                .json(&body)
                .send()
                .unwrap(),
            401,
        );
    }
    // A township clerk of the county reads versions; another county's compiler does not;
    // the province catalogue team neither.
    let k = app.clerk(YUCHAN);
    let listed = expect_json(app.get_as(&versions_path(LUXIAN, "power"), &k), 200);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(
        expect_json(app.get_as(&version_path("power", 1), &k), 200)["status"],
        "returned"
    );
    let response = app.get_as(&format!("{}/document", version_path("power", 1)), &k);
    assert_eq!(response.status(), 200);
    assert_eq!(
        sha256(&response.bytes().unwrap()),
        v1["content_hash"].as_str().unwrap()
    );
    let stranger = app.token(&["county_compiler"], HEJIANG, "hejiang-gov");
    for path in [
        versions_path(LUXIAN, "power"),
        version_path("power", 1),
        format!("{}/document", version_path("power", 1)),
    ] {
        expect_problem(app.get_as(&path, &stranger), 403);
        expect_problem(app.get_as(&path, &app.admin()), 403);
    }
    expect_problem(app.get_as(&version_path("power", 9), &app.compiler()), 404);

    // Published: version 2 is public, 1 (returned) is not; the duty list is still not.
    expect_json(publish(&app, "power", 2, None), 200);
    assert_eq!(app.get(&public_version_path("power", 2)).status(), 200);
    expect_problem(app.get(&public_version_path("power", 1)), 404);
    expect_problem(app.get(&public_version_path("duty", 1)), 404);
    expect_problem(
        app.get(&format!("/public/v1/counties/{LUXIAN}/lists/duty")),
        404,
    );
    expect_problem(
        app.get(&format!("/public/v1/lookup?township={YUCHAN}&q=油烟")),
        404,
    );
    let versions = expect_json(
        app.get(&format!(
            "/public/v1/counties/{LUXIAN}/lists/power/versions"
        )),
        200,
    );
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["number"], 2);
    // Another county has published nothing.
    expect_problem(
        app.get(&format!("/public/v1/counties/{HEJIANG}/lists/power")),
        404,
    );
    expect_problem(app.get("/public/v1/townships/510522100000/power-list"), 404);
    // Not a county, not a kind.
    expect_problem(
        app.get(&format!("/public/v1/counties/{YUCHAN}/lists/power")),
        404,
    );
    expect_problem(
        app.get(&format!("/public/v1/counties/{LUXIAN}/lists/other")),
        404,
    );
}

// ---------------------------------------------------------------------------------------
// 5. Caching

#[test]
fn published_documents_and_township_slices_are_cacheable_by_their_hash() {
    let app = TestApp::with_demo();
    let round = open_round(&app);
    for item in ["CF-0001", "CF-0002", "CF-0009", "CF-0010"] {
        confirm_claim(&app, round, YUCHAN, item, "luxian-yuchan-zfd");
    }
    confirm_claim(&app, round, FUJI, "CF-0007", "luxian-fuji-zfd");
    let v1 = submitted(&app, "power", "首次编制");
    let hash = v1["content_hash"].as_str().unwrap().to_string();
    approve_and_publish(&app, "power", 1, None);
    let quoted = format!("\"{hash}\"");

    // The list in force.
    let in_force = format!("/public/v1/counties/{LUXIAN}/lists/power");
    let (document, bytes, response) = public_document(&app, &in_force);
    assert_eq!(sha256(&bytes), hash);
    assert_eq!(header(&response, "etag").unwrap(), quoted);
    assert_eq!(
        header(&response, "content-location").unwrap(),
        public_version_path("power", 1)
    );
    assert_eq!(
        header(&response, "content-type").unwrap(),
        "application/json"
    );
    let cache_control = header(&response, "cache-control").unwrap();
    assert!(!cache_control.contains("immutable"), "{cache_control}");
    assert!(cache_control.contains("public"), "{cache_control}");
    let not_modified = get_with(&app, &in_force, &[("If-None-Match", &quoted)]);
    assert_eq!(not_modified.status(), 304);
    assert_eq!(header(&not_modified, "etag").unwrap(), quoted);
    assert!(not_modified.bytes().unwrap().is_empty());
    // Another ETag gets the document.
    let other = get_with(&app, &in_force, &[("If-None-Match", "\"0000\"")]);
    assert_eq!(other.status(), 200);
    assert_eq!(sha256(&other.bytes().unwrap()), hash);

    // The version by number: the same bytes, immutable.
    let by_number = public_version_path("power", 1);
    let response = app.get(&by_number);
    assert_eq!(header(&response, "etag").unwrap(), quoted);
    let cache_control = header(&response, "cache-control").unwrap();
    assert!(cache_control.contains("immutable"), "{cache_control}");
    assert!(cache_control.contains("max-age="), "{cache_control}");
    assert_eq!(response.bytes().unwrap().to_vec(), bytes);
    let not_modified = get_with(
        &app,
        &by_number,
        &[("If-None-Match", &format!("\"abc\", {quoted}"))],
    );
    assert_eq!(not_modified.status(), 304);
    assert!(not_modified.bytes().unwrap().is_empty());
    // If-None-Match compares weakly (RFC 9110 13.1.2), and `*` matches any.
    for held in [format!("W/{quoted}"), "*".to_string()] {
        let response = get_with(&app, &by_number, &[("If-None-Match", &held)]);
        assert_eq!(response.status(), 304, "{held}");
    }
    let near_miss = get_with(&app, &by_number, &[("If-None-Match", &quoted[..20])]);
    assert_eq!(near_miss.status(), 200, "a tag is compared whole");

    // A township's slice: its own ETag, only its items.
    let slice_path = format!("/public/v1/townships/{YUCHAN}/power-list");
    let (slice, slice_bytes, response) = public_document(&app, &slice_path);
    let slice_etag = header(&response, "etag").unwrap();
    assert_eq!(slice_etag, format!("\"{}\"", sha256(&slice_bytes)));
    assert_ne!(slice_etag, quoted);
    assert_eq!(
        header(&response, "content-location").unwrap(),
        public_version_path("power", 1)
    );
    assert_eq!(slice["township"]["code"], YUCHAN);
    assert_eq!(slice["township"]["name"], "玉蟾街道");
    assert_eq!(slice["version"], 1);
    assert_eq!(slice["content_hash"], hash.as_str());
    let yuchan = document["townships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == YUCHAN)
        .unwrap();
    assert_eq!(slice["items"], yuchan["items"]);
    assert_eq!(
        slice["item_count"],
        yuchan["items"].as_array().unwrap().len()
    );
    let codes: Vec<&str> = slice["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"CF-0001") && codes.contains(&"XK-0002"));
    assert!(!codes.contains(&"CF-0007"), "福集's claim is not 玉蟾's");
    let fuji = expect_json(
        app.get(&format!("/public/v1/townships/{FUJI}/power-list")),
        200,
    );
    assert!(fuji["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == "CF-0007"));
    assert_ne!(fuji["items"], slice["items"]);
    let not_modified = get_with(&app, &slice_path, &[("If-None-Match", &slice_etag)]);
    assert_eq!(not_modified.status(), 304);
    assert!(not_modified.bytes().unwrap().is_empty());
    // The whole list's ETag is not the slice's.
    let response = get_with(&app, &slice_path, &[("If-None-Match", &quoted)]);
    assert_eq!(response.status(), 200);

    // A portal that accepts gzip gets the slice's cached gzip copy: its own strong ETag,
    // `Vary`, the same bytes once decompressed, and the same copy every time.
    let get_encoded = |path: &str, accept: &str, if_none_match: Option<&str>| {
        let mut headers = vec![("Accept-Encoding", accept)];
        headers.extend(if_none_match.map(|etag| ("If-None-Match", etag)));
        get_with(&app, path, &headers)
    };
    let gzipped = get_encoded(&slice_path, "br;q=1.0, gzip;q=0.8", None);
    assert_eq!(gzipped.status(), 200);
    assert_eq!(header(&gzipped, "content-encoding").unwrap(), "gzip");
    assert_eq!(header(&gzipped, "vary").unwrap(), "accept-encoding");
    let gzip_etag = header(&gzipped, "etag").unwrap();
    assert_eq!(gzip_etag, format!("\"{}-gzip\"", sha256(&slice_bytes)));
    let compressed = gzipped.bytes().unwrap().to_vec();
    assert!(compressed.len() < slice_bytes.len());
    assert_eq!(gunzip(&compressed), slice_bytes);
    let again = get_encoded(&slice_path, "gzip", None);
    assert_eq!(again.bytes().unwrap().to_vec(), compressed);
    let fresh = get_encoded(&slice_path, "gzip, deflate", Some(&gzip_etag));
    assert_eq!(fresh.status(), 304);
    assert_eq!(header(&fresh, "etag").unwrap(), gzip_etag);
    // The gzip copy's ETag does not validate the plain bytes, nor the reverse.
    let plain = get_encoded(&slice_path, "identity", Some(&gzip_etag));
    assert_eq!(plain.status(), 200);
    assert!(header(&plain, "content-encoding").is_none());
    assert_eq!(header(&plain, "vary").unwrap(), "accept-encoding");
    assert_eq!(plain.bytes().unwrap().to_vec(), slice_bytes);
    assert_eq!(
        get_encoded(&slice_path, "gzip", Some(&slice_etag)).status(),
        200
    );
    // gzip refused with q=0 (even with `*`): the plain bytes.
    let refused = get_encoded(&slice_path, "*, gzip;q=0", None);
    assert!(header(&refused, "content-encoding").is_none());
    assert_eq!(refused.bytes().unwrap().to_vec(), slice_bytes);
    // A filtered slice is made per request: `Compress` encodes it, and it varies too.
    let filtered = format!("{slice_path}?high_frequency=true");
    let encoded = get_encoded(&filtered, "gzip", None);
    assert_eq!(header(&encoded, "content-encoding").unwrap(), "gzip");
    assert!(encoded
        .headers()
        .get_all("vary")
        .iter()
        .all(|v| v == "accept-encoding"));
    let plain = get_encoded(&filtered, "identity", None);
    assert!(header(&plain, "content-encoding").is_none());
    assert_eq!(header(&plain, "vary").unwrap(), "accept-encoding");
    // The whole version by number too.
    let whole = get_encoded(&by_number, "gzip", None);
    assert_eq!(header(&whole, "content-encoding").unwrap(), "gzip");
    assert_eq!(header(&whole, "etag").unwrap(), format!("\"{hash}-gzip\""));
    assert_eq!(gunzip(&whole.bytes().unwrap()), bytes);

    // Filters narrow the slice.
    let all_items = slice["items"].as_array().unwrap().clone();
    let filtered = |query: &str, keep: &dyn Fn(&Value) -> bool| {
        let response = app.get(&format!("{slice_path}?{query}"));
        let etag = header(&response, "etag").unwrap();
        let body = expect_json(response, 200);
        let expected: Vec<Value> = all_items.iter().filter(|i| keep(i)).cloned().collect();
        assert!(
            !expected.is_empty() && expected.len() < all_items.len(),
            "{query}"
        );
        assert_eq!(body["items"], json!(expected), "{query}");
        assert_eq!(body["item_count"], expected.len(), "{query}");
        assert_ne!(etag, slice_etag, "{query}");
        let again = get_with(
            &app,
            &format!("{slice_path}?{query}"),
            &[("If-None-Match", &etag)],
        );
        assert_eq!(again.status(), 304, "{query}");
        body
    };
    let category = filtered("category=02", &|i| i["category"] == "02");
    assert!(category["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == "CF-0005"));
    let domain = filtered("domain=市容环境", &|i| i["domain"] == "市容环境");
    let mut codes: Vec<&str> = domain["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["CF-0001", "CF-0002", "CF-0009"]);
    let frequent = filtered("high_frequency=true", &|i| i["high_frequency"] == true);
    assert!(frequent["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == "XK-0002"));
    filtered("high_frequency=false", &|i| i["high_frequency"] == false);
    let both = filtered("category=02&high_frequency=true", &|i| {
        i["category"] == "02" && i["high_frequency"] == true
    });
    let mut codes: Vec<&str> = both["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["CF-0001", "CF-0009"]);
    // A filter nothing matches gives an empty slice.
    let none = expect_json(app.get(&format!("{slice_path}?category=99")), 200);
    assert_eq!(none["items"], json!([]));
    assert_eq!(none["item_count"], 0);
    // Not a township; a township the list does not have.
    expect_problem(app.get("/public/v1/townships/510521000000/power-list"), 404);
    expect_problem(app.get("/public/v1/townships/510521102000/power-list"), 404);
    expect_problem(app.get(&format!("{slice_path}?at=2000-01-01")), 404);

    // A new publication changes what is in force, and its ETags.
    confirm_claim(&app, round, YUCHAN, "CF-0007", "luxian-yuchan-zfd");
    let v2 = submitted(&app, "power", "新增CF-0007");
    approve_and_publish(&app, "power", 2, None);
    let h2 = v2["content_hash"].as_str().unwrap();
    let response = get_with(&app, &in_force, &[("If-None-Match", &quoted)]);
    assert_eq!(response.status(), 200, "the old ETag no longer matches");
    assert_eq!(header(&response, "etag").unwrap(), format!("\"{h2}\""));
    assert_eq!(
        header(&response, "content-location").unwrap(),
        public_version_path("power", 2)
    );
    let response = get_with(&app, &slice_path, &[("If-None-Match", &slice_etag)]);
    assert_eq!(response.status(), 200);
    let slice2 = expect_json(response, 200);
    assert_eq!(slice2["version"], 2);
    assert!(slice2["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == "CF-0007"));
    // The older version by number is still served, unchanged.
    let response = app.get(&by_number);
    assert_eq!(header(&response, "etag").unwrap(), quoted);
    assert_eq!(response.bytes().unwrap().to_vec(), bytes);
}
