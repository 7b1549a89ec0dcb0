//! Lists.

use super::*;

// ---------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------

#[test]
fn items_are_listed_in_code_order_with_pagination_totals() {
    let app = TestApp::with_demo();
    let all = expect_json(app.get(&format!("{}?page_size=500", items_path(DEMO))), 200);
    let all_codes = codes(&all);
    assert_eq!(all["total"], DEMO_ITEMS);
    assert_eq!(all_codes.len(), DEMO_ITEMS);
    let mut sorted = all_codes.clone();
    sorted.sort();
    assert_eq!(all_codes, sorted, "code order");
    assert_eq!(
        &all_codes[..6],
        &[
            "CF-0001",
            "CF-0002",
            "CF-0003",
            "CF-0004",
            "CF-0005",
            "CF-0005-01"
        ]
    );

    let default = expect_json(app.get(&items_path(DEMO)), 200);
    assert_eq!(default["page"], 1);
    assert_eq!(default["page_size"], 50);
    assert_eq!(codes(&default), all_codes);

    let mut paged = Vec::new();
    for page in 1..=4 {
        let body = expect_json(
            app.get(&format!("{}?page={page}&page_size=10", items_path(DEMO))),
            200,
        );
        assert_eq!(body["total"], DEMO_ITEMS);
        assert_eq!(body["page"], page);
        assert_eq!(body["page_size"], 10);
        assert_eq!(codes(&body).len(), if page < 4 { 10 } else { 2 });
        paged.extend(codes(&body));
    }
    assert_eq!(paged, all_codes, "pages neither skip nor repeat");
    // The same pages again are the same.
    let again = expect_json(
        app.get(&format!(
            "/public/v1/catalogue/editions/{DEMO}/items?page=2&page_size=10"
        )),
        200,
    );
    assert_eq!(codes(&again), &all_codes[10..20]);
    let beyond = expect_json(
        app.get(&format!("{}?page=9&page_size=10", items_path(DEMO))),
        200,
    );
    assert!(codes(&beyond).is_empty());
    assert_eq!(beyond["total"], DEMO_ITEMS);
    expect_problem(app.get(&format!("{}?page_size=0", items_path(DEMO))), 422);
    expect_problem(app.get("/api/v1/catalogue/editions/nothing/items"), 404);
}

#[test]
fn items_can_be_filtered_by_category_source_sector_domain_and_frequency() {
    let app = TestApp::with_demo();
    let list = |query: &str| -> (Vec<String>, i64) {
        let body = expect_json(
            app.get(&format!("{}?page_size=500&{query}", items_path(DEMO))),
            200,
        );
        (codes(&body), body["total"].as_i64().unwrap())
    };
    let (category, total) = list("category=02");
    assert_eq!(total, 12);
    assert!(
        category.iter().all(|c| c.starts_with("CF-")),
        "{category:?}"
    );
    assert_eq!(list("category=20").0, vec!["GG-0001", "GG-0002"]);
    assert_eq!(list("category=99").1, 0);
    assert_eq!(list("source=statutory").1, 10);
    assert_eq!(list("source=delegable").1, 22);
    assert_eq!(list("sector=natural_resources").1, 8);
    assert_eq!(list("sector=water_resources").0, vec!["CF-0011"]);
    let encoded_domain = "domain=%E5%B8%82%E5%AE%B9%E7%8E%AF%E5%A2%83"; // 市容环境
    assert_eq!(
        list(encoded_domain).0,
        vec!["CF-0001", "CF-0002", "CF-0007", "CF-0009", "ZS-0001"]
    );
    assert_eq!(list("high_frequency=true").1, 8);
    assert_eq!(list("high_frequency=false").1, 24);
    assert_eq!(
        list("category=02&high_frequency=true").0,
        vec!["CF-0001", "CF-0003", "CF-0009"]
    );
    assert_eq!(
        list("source=statutory&sector=natural_resources").0,
        vec![
            "CF-0005",
            "CF-0005-01",
            "CJ-0001",
            "CJ-0002",
            "JL-0001",
            "QZ-0001"
        ]
    );
    // Totals count the filtered list, not the page.
    let page = expect_json(
        app.get(&format!(
            "{}?category=02&page_size=5&page=3",
            items_path(DEMO)
        )),
        200,
    );
    assert_eq!(page["total"], 12);
    assert_eq!(codes(&page), vec!["CF-0010", "CF-0011"]);
    // The public API filters the same way.
    let public = expect_json(
        app.get(&format!(
            "/public/v1/catalogue/editions/{DEMO}/items?source=statutory&page_size=500"
        )),
        200,
    );
    assert_eq!(public["total"], 10);
    // Values that cannot be read are bad requests.
    expect_problem(
        app.get(&format!("{}?high_frequency=maybe", items_path(DEMO))),
        400,
    );
    expect_problem(
        app.get(&format!("{}?source=inherited", items_path(DEMO))),
        400,
    );
}

#[test]
fn items_can_be_searched_by_text_in_the_name() {
    let app = TestApp::with_demo();
    let search = |q: &str| -> Vec<String> {
        let response = app
            .request(Method::GET, &items_path(DEMO), None)
            .query(&[("q", q), ("page_size", "500")])
            .send()
            .unwrap();
        codes(&expect_json(response, 200))
    };
    assert_eq!(search("宅基地"), vec!["XK-0002"]);
    assert_eq!(
        search("乡村建设规划许可证"),
        vec!["CF-0005", "CF-0005-01", "XK-0001", "XK-0001-01"]
    );
    assert_eq!(search("食品小作坊"), vec!["CF-0008", "JC-0002", "XK-0004"]);
    assert_eq!(search("不存在的事项"), Vec::<String>::new());
    // LIKE wildcards are taken literally.
    assert_eq!(search("%"), Vec::<String>::new());
    assert_eq!(search("_"), Vec::<String>::new());
    // A blank query is no filter.
    assert_eq!(search("  ").len(), DEMO_ITEMS);
    // Text search combines with the other filters.
    let response = app
        .request(
            Method::GET,
            &format!("/public/v1/catalogue/editions/{DEMO}/items"),
            None,
        )
        .query(&[("q", "处罚"), ("sector", "comprehensive_enforcement")])
        .send()
        .unwrap();
    let body = expect_json(response, 200);
    assert_eq!(
        codes(&body),
        vec!["CF-0001", "CF-0002", "CF-0007", "CF-0009", "CF-0010"]
    );
}

#[test]
fn each_export_format_is_its_own_address_with_one_media_type() {
    let app = TestApp::with_demo();
    let json = app.get("/public/v1/catalogue/editions/2026/export");
    assert_eq!(json.headers()["content-type"], "application/json");
    let document = expect_json(json, 200);
    let csv = app.get("/public/v1/catalogue/editions/2026/export.csv");
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().unwrap();
    let rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes())
        .records()
        .count();
    assert_eq!(rows, document["items"].as_array().unwrap().len());
    // The older way to ask for CSV is sent to the CSV address.
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let old = client
        .get(format!(
            "{}/public/v1/catalogue/editions/2026/export?format=csv",
            app.base
        ))
        .send()
        .unwrap();
    assert_eq!(old.status(), 308);
    assert_eq!(
        old.headers()["location"],
        "/public/v1/catalogue/editions/2026/export.csv"
    );
}
