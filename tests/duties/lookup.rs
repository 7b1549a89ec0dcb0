//! The dispatch lookup and the list filters.

use super::*;

// =================================================================================
// 5. The dispatch lookup
// =================================================================================

fn lookup(app: &TestApp, token: Option<&str>, township: &str, q: &str) -> Response {
    let builder = app
        .request(Method::GET, "/api/v1/lookup", token)
        .query(&[("township", township), ("q", q)]);
    builder.send().unwrap()
}

fn found(app: &TestApp, token: &str, township: &str, q: &str) -> Vec<String> {
    let answer = expect_json(lookup(app, Some(token), township, q), 200);
    codes(answer["matches"].as_array().unwrap())
}

/// A 泸县 list for lookups: names in both scripts.
fn lookup_list(app: &TestApp) {
    let token = app.compiler();
    create(
        app,
        LUXIAN,
        &token,
        &with(
            matter(
                "SD-001",
                OILY,
                "luxian-sthj",
                &["luxian-scjg", "luxian-zhzf"],
            ),
            "/township_duties",
            json!(["日常巡查", "发现油烟扰民及时报告", "劝阻制止"]),
        ),
    );
    create(
        app,
        LUXIAN,
        &token,
        &with(
            matter(
                "SD-002",
                "露天焚燒秸稈的監管",
                "luxian-nync",
                &["luxian-sthj"],
            ),
            "/domain",
            json!("農業農村"),
        ),
    );
    create(
        app,
        LUXIAN,
        &token,
        &with(
            matter("SD-003", "家用油烟机产品质量的抽查", "luxian-scjg", &[]),
            "/domain",
            json!("产品质量"),
        ),
    );
    create(
        app,
        LUXIAN,
        &token,
        &matter(
            "SD-004",
            "建筑施工扬尘污染的监管",
            "luxian-zjj",
            &["luxian-sthj"],
        ),
    );
}

#[test]
fn a_lookup_finds_matters_in_either_script_and_tells_who_leads_supports_and_what_the_township_does()
{
    let app = TestApp::with_demo();
    lookup_list(&app);
    let k = app.clerk(YUCHAN);

    let answer = expect_json(lookup(&app, Some(&k), YUCHAN, "油烟"), 200);
    assert_eq!(answer["township"], YUCHAN);
    assert_eq!(answer["township_name"], "玉蟾街道");
    assert_eq!(answer["county"], LUXIAN);
    assert_eq!(answer["source"], "working_copy");
    let matches = answer["matches"].as_array().unwrap();
    assert_eq!(codes(matches), ["SD-001", "SD-003"]);
    let oily = &matches[0];
    assert_eq!(oily["name"], OILY);
    assert_eq!(oily["lead"]["department"], "luxian-sthj");
    assert_eq!(oily["lead"]["name"], "泸州市生态环境局泸县分局");
    assert_eq!(
        oily["lead"]["duties"],
        json!(["负责日常监管", "依法查处违法行为"])
    );
    assert_eq!(
        oily["supporters"],
        json!([
            {"department": "luxian-scjg", "name": "泸县市场监督管理局", "duties": ["配合牵头部门开展联合执法"]},
            {"department": "luxian-zhzf", "name": "泸县综合行政执法局", "duties": ["配合牵头部门开展联合执法"]}
        ])
    );
    assert_eq!(
        oily["township_duties"],
        json!(["日常巡查", "发现油烟扰民及时报告", "劝阻制止"])
    );

    // Traditional script finds the simplified name, and the other way round.
    assert_eq!(found(&app, &k, YUCHAN, "油煙"), ["SD-001", "SD-003"]);
    assert_eq!(found(&app, &k, YUCHAN, "餐飲服務業油煙"), ["SD-001"]);
    assert_eq!(found(&app, &k, YUCHAN, "焚烧秸秆"), ["SD-002"]);
    assert_eq!(found(&app, &k, YUCHAN, "焚燒"), ["SD-002"]);
    assert_eq!(
        found(&app, &k, YUCHAN, "农业农村"),
        ["SD-002"],
        "the domain counts too"
    );
    // Every word must match.
    assert_eq!(found(&app, &k, YUCHAN, "油烟 监管"), ["SD-001"]);
    assert_eq!(found(&app, &k, YUCHAN, "油煙，監管"), ["SD-001"]);
    assert_eq!(
        found(&app, &k, YUCHAN, "监管"),
        ["SD-001", "SD-002", "SD-004"]
    );
    assert!(found(&app, &k, YUCHAN, "油烟 焚烧").is_empty());
    assert!(found(&app, &k, YUCHAN, "噪声").is_empty());

    // The other townships of the county and its departments answer from the same list.
    assert_eq!(
        found(&app, &app.clerk(FUJI), FUJI, "油烟"),
        ["SD-001", "SD-003"]
    );
    assert_eq!(
        found(&app, &app.officer("luxian-zjj"), "510521101000", "扬尘"),
        ["SD-004"]
    );
    assert_eq!(found(&app, &app.compiler(), YUCHAN, "秸稈"), ["SD-002"]);

    // A renamed matter is found by its new name only.
    let current = expect_json(
        app.get_as(&matter_path(LUXIAN, "SD-004"), &app.compiler()),
        200,
    );
    assert_eq!(current["revision"], 1);
    expect_json(
        app.send(
            Method::PUT,
            &matter_path(LUXIAN, "SD-004"),
            &app.compiler(),
            Some("\"1\""),
            &matter(
                "SD-004",
                "建筑工地夜间施工噪声扰民的处置",
                "luxian-zjj",
                &["luxian-sthj"],
            ),
        ),
        200,
    );
    assert!(found(&app, &k, YUCHAN, "扬尘").is_empty());
    assert_eq!(found(&app, &k, YUCHAN, "噪聲 擾民"), ["SD-004"]);
}

#[test]
fn a_lookup_answers_from_the_townships_own_county_and_checks_who_asks() {
    let app = TestApp::with_demo();
    lookup_list(&app);
    let k = app.clerk(YUCHAN);

    // A township of 合江县 answers from 合江县's list: empty while it has none.
    let province = auditor(&app);
    let answer = expect_json(lookup(&app, Some(&province), HEJIANG_TOWN, "油烟"), 200);
    assert_eq!(answer["county"], HEJIANG);
    assert_eq!(answer["township_name"], "合江镇");
    assert_eq!(answer["matches"], json!([]));
    create(
        &app,
        HEJIANG,
        &hejiang_compiler(&app),
        &matter("HJ-001", OILY, "hejiang-sthj", &["hejiang-scjg"]),
    );
    let answer = expect_json(lookup(&app, Some(&province), HEJIANG_TOWN, "油煙"), 200);
    let matches = answer["matches"].as_array().unwrap();
    assert_eq!(codes(matches), ["HJ-001"]);
    assert_eq!(matches[0]["lead"]["department"], "hejiang-sthj");
    assert_eq!(matches[0]["lead"]["name"], "泸州市生态环境局合江县分局");
    // Its own clerk asks too; 泸县 still answers with its own departments.
    assert_eq!(
        found(&app, &app.clerk(HEJIANG_TOWN), HEJIANG_TOWN, "油烟"),
        ["HJ-001"]
    );
    let answer = expect_json(lookup(&app, Some(&k), YUCHAN, "油烟 监管"), 200);
    assert_eq!(answer["matches"][0]["lead"]["department"], "luxian-sthj");

    // Bad questions.
    for q in ["", "   ", "，。"] {
        let problem = expect_problem(lookup(&app, Some(&k), YUCHAN, q), 422);
        assert_eq!(error_fields(&problem), ["q"], "{q:?}");
    }
    expect_problem(
        app.request(Method::GET, "/api/v1/lookup", Some(&k))
            .query(&[("township", YUCHAN)])
            .send()
            .unwrap(),
        400,
    );
    for township in [
        "510521",
        "51052100100X",
        LUXIAN,
        "510521001001",
        "510521300000",
    ] {
        let problem = expect_problem(lookup(&app, Some(&k), township, "油烟"), 422);
        assert_eq!(error_fields(&problem), ["township"], "{township}");
    }
    expect_problem(lookup(&app, Some(&province), "510521150000", "油烟"), 404);

    // Who may ask.
    expect_problem(
        lookup(&app, Some(&app.clerk(HEJIANG_TOWN)), YUCHAN, "油烟"),
        403,
    );
    expect_problem(
        lookup(&app, Some(&hejiang_compiler(&app)), YUCHAN, "油烟"),
        403,
    );
    expect_problem(lookup(&app, Some(&app.admin()), YUCHAN, "油烟"), 403);
    expect_problem(lookup(&app, None, YUCHAN, "油烟"), 401);
    expect_problem(lookup(&app, Some("not-a-token"), YUCHAN, "油烟"), 401);
}

// =================================================================================
// 6. List filters
// =================================================================================

#[test]
fn the_matter_list_filters_by_domain_lead_supporter_one_matter_and_text_and_pages() {
    /// Code, name, lead, supporters, domain, one matter.
    type Spec<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a str, bool);
    let app = TestApp::with_demo();
    let token = app.compiler();
    let specs: [Spec; 6] = [
        (
            "SD-001",
            OILY,
            "luxian-sthj",
            &["luxian-scjg", "luxian-zhzf"],
            "生态环境",
            true,
        ),
        (
            "SD-002",
            "建筑施工扬尘污染的监管",
            "luxian-zjj",
            &["luxian-sthj"],
            "城乡建设",
            false,
        ),
        (
            "SD-003",
            "露天焚燒秸稈的監管",
            "luxian-nync",
            &["luxian-sthj", "luxian-zhzf"],
            "生态环境",
            true,
        ),
        (
            "SD-004",
            "食品小作坊的监管",
            "luxian-scjg",
            &["luxian-wjj"],
            "市场监管",
            false,
        ),
        (
            "SD-005",
            "河道违法采砂的查处",
            "luxian-swj",
            &["luxian-zrzy", "luxian-zhzf"],
            "水利",
            true,
        ),
        (
            "SD-006",
            "户外广告设施设置的监管",
            "luxian-zhzf",
            &[],
            "城乡建设",
            false,
        ),
    ];
    // Created out of order: the list is in code order anyway.
    for i in [3, 0, 5, 1, 4, 2] {
        let (code, name, lead, supporters, domain, one) = specs[i];
        let body = with(
            with(
                matter(code, name, lead, supporters),
                "/domain",
                json!(domain),
            ),
            "/one_matter",
            json!(one),
        );
        create(&app, LUXIAN, &token, &body);
    }
    let query = |q: &str| -> (Vec<String>, i64) {
        let page = expect_json(
            app.get_as(&format!("{}?{q}", matters_path(LUXIAN)), &token),
            200,
        );
        (
            codes(page["items"].as_array().unwrap()),
            page["total"].as_i64().unwrap(),
        )
    };
    let just = |q: &str| query(q).0;

    assert_eq!(
        just(""),
        ["SD-001", "SD-002", "SD-003", "SD-004", "SD-005", "SD-006"]
    );
    let domain = |d: &str| format!("domain={}", urlencode(d));
    assert_eq!(just(&domain("生态环境")), ["SD-001", "SD-003"]);
    assert_eq!(just(&domain("城乡建设")), ["SD-002", "SD-006"]);
    assert!(just(&domain("教育")).is_empty());
    assert_eq!(just("lead=luxian-zhzf"), ["SD-006"]);
    assert_eq!(just("lead=luxian-sthj"), ["SD-001"]);
    assert_eq!(
        just("supporter=luxian-zhzf"),
        ["SD-001", "SD-003", "SD-005"]
    );
    assert_eq!(just("supporter=luxian-sthj"), ["SD-002", "SD-003"]);
    assert!(
        just("supporter=luxian-swj").is_empty(),
        "a lead is no supporter"
    );
    assert!(just("lead=hejiang-sthj").is_empty());
    assert_eq!(just("one_matter=true"), ["SD-001", "SD-003", "SD-005"]);
    assert_eq!(just("one_matter=false"), ["SD-002", "SD-004", "SD-006"]);
    assert_eq!(
        just(&format!("q={}", urlencode("监管"))),
        ["SD-001", "SD-002", "SD-003", "SD-004", "SD-006"]
    );
    assert_eq!(just(&format!("q={}", urlencode("監管 焚燒"))), ["SD-003"]);
    assert_eq!(just(&format!("q={}", urlencode("焚烧"))), ["SD-003"]);
    assert_eq!(just(&format!("q={}", urlencode("油煙"))), ["SD-001"]);
    assert_eq!(just(&format!("q={}", urlencode("采砂"))), ["SD-005"]);
    // Filters combine.
    assert_eq!(
        just(&format!(
            "supporter=luxian-zhzf&one_matter=true&{}",
            domain("生态环境")
        )),
        ["SD-001", "SD-003"]
    );
    assert_eq!(
        just(&format!("supporter=luxian-zhzf&q={}", urlencode("監管"))),
        ["SD-001", "SD-003"]
    );
    assert_eq!(just("lead=luxian-zjj&supporter=luxian-sthj"), ["SD-002"]);
    assert!(just("lead=luxian-zjj&one_matter=true").is_empty());

    // Pages.
    let page = expect_json(
        app.get_as(
            &format!("{}?page=2&page_size=4", matters_path(LUXIAN)),
            &token,
        ),
        200,
    );
    assert_eq!(
        codes(page["items"].as_array().unwrap()),
        ["SD-005", "SD-006"]
    );
    assert_eq!(
        (
            page["page"].as_i64(),
            page["page_size"].as_i64(),
            page["total"].as_i64()
        ),
        (Some(2), Some(4), Some(6))
    );
    assert_eq!(
        query("page=1&page_size=2"),
        (strings(&["SD-001", "SD-002"]), 6)
    );
    assert_eq!(
        query("page=2&page_size=2"),
        (strings(&["SD-003", "SD-004"]), 6)
    );
    assert_eq!(query("page=4&page_size=2"), (vec![], 6));
    assert_eq!(
        query("supporter=luxian-zhzf&page=2&page_size=2"),
        (strings(&["SD-005"]), 3)
    );
    for bad in ["page=0", "page_size=0", "page_size=501"] {
        expect_problem(
            app.get_as(&format!("{}?{bad}", matters_path(LUXIAN)), &token),
            422,
        );
    }
    expect_problem(
        app.get_as(
            &format!("{}?one_matter=maybe", matters_path(LUXIAN)),
            &token,
        ),
        400,
    );
    // 合江县's list is another list.
    let (hejiang, total) = {
        let page = expect_json(
            app.get_as(&matters_path(HEJIANG), &hejiang_compiler(&app)),
            200,
        );
        (page["items"].clone(), page["total"].clone())
    };
    assert_eq!((hejiang, total), (json!([]), json!(0)));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
