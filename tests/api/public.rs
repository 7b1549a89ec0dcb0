//! The anonymous read API's one caching policy: every answer may be kept and revalidated.

use reqwest::Method;

use crate::common::*;

fn header(response: &reqwest::blocking::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

fn revalidate(app: &TestApp, path: &str, tag: &str, gzip: bool) -> reqwest::blocking::Response {
    let mut request = app
        .request(Method::GET, path, None)
        .header("If-None-Match", tag);
    if gzip {
        request = request.header("Accept-Encoding", "gzip");
    }
    request.send().unwrap()
}

#[test]
fn every_public_answer_can_be_kept_and_revalidated() {
    let app = TestApp::with_demo();
    let paths = [
        "/public/v1/catalogue/editions".to_string(),
        "/public/v1/catalogue/editions/2026".to_string(),
        "/public/v1/catalogue/editions/2026/items?page_size=5".to_string(),
        "/public/v1/catalogue/editions/2026/items/CF-0001".to_string(),
        "/public/v1/catalogue/editions/2026/export".to_string(),
        "/public/v1/catalogue/editions/2026/export.csv".to_string(),
        "/public/v1/keys".to_string(),
        "/public/v1/publications.json".to_string(),
        format!("/public/v1/counties/{LUXIAN}/lists/power/versions"),
    ];
    for path in &paths {
        let first = app.get(path);
        assert_eq!(first.status(), 200, "GET {path}");
        let cache_control = header(&first, "cache-control").unwrap_or_default();
        assert!(
            cache_control.starts_with("public"),
            "{path}: {cache_control}"
        );
        assert!(
            header(&first, "vary").is_some_and(|v| v.contains("accept-encoding")),
            "{path}"
        );
        let tag = header(&first, "etag").unwrap_or_else(|| panic!("{path} has no ETag"));
        let body = first.bytes().unwrap();
        assert!(!body.is_empty(), "{path}");
        for gzip in [false, true] {
            let again = revalidate(&app, path, &tag, gzip);
            assert_eq!(again.status(), 304, "{path}, gzip {gzip}");
            assert_eq!(header(&again, "etag").as_deref(), Some(tag.as_str()));
            assert!(again.bytes().unwrap().is_empty());
        }
        let stale = revalidate(&app, path, "W/\"0000\"", false);
        assert_eq!(stale.status(), 200, "{path}: another tag gets the answer");
        assert_eq!(stale.bytes().unwrap(), body, "{path}: the same answer");
    }
    // An answer made per request is tagged by what it says: a new edition changes the list.
    let list = "/public/v1/catalogue/editions";
    let before = header(&app.get(list), "etag").unwrap();
    expect_json(
        app.post(
            "/api/v1/catalogue/editions/2026/copy",
            &app.token_for("catalogue_admin", PROVINCE),
            &json!({"code": "2027", "title": "2027年版", "province": PROVINCE}),
        ),
        201,
    );
    let admin = app.token_for("catalogue_admin", PROVINCE);
    let draft = app.get_as("/api/v1/catalogue/editions/2027", &admin);
    let draft_tag = header(&draft, "etag").unwrap();
    expect_json(
        app.send(
            Method::POST,
            "/api/v1/catalogue/editions/2027/publish",
            &admin,
            Some(&draft_tag),
            &json!({}),
        ),
        200,
    );
    let after = app.get(list);
    assert_ne!(header(&after, "etag").unwrap(), before);
    assert_eq!(revalidate(&app, list, &before, false).status(), 200);
    // Refusals are not kept as answers.
    let missing = app.get("/public/v1/catalogue/editions/nothing");
    assert_eq!(missing.status(), 404);
    assert!(header(&missing, "etag").is_none());
    assert!(!header(&missing, "cache-control")
        .unwrap_or_default()
        .starts_with("public"));
}
