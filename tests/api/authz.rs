//! Who may do what: every role (and no token) against every write route and the
//! guarded reads, then regional scope.

use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

/// Another province, with no regions registered in the demo data.
const GUANGDONG: &str = "440000000000";

/// Every role, each in the region it naturally acts in.
const ROLES: [(&str, &str); 9] = [
    ("catalogue_admin", PROVINCE),
    ("county_compiler", LUXIAN),
    ("township_clerk", YUCHAN),
    ("department_officer", LUXIAN),
    ("legality_reviewer", LUXIAN),
    ("staffing_reviewer", LUXIAN),
    ("approval_reviewer", LUXIAN),
    ("government_approver", LUXIAN),
    ("auditor", PROVINCE),
];

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn unique() -> usize {
    UNIQUE.fetch_add(1, Ordering::SeqCst)
}

/// A caller of the matrix: a role in its region, or nobody.
struct Caller {
    label: String,
    role: Option<&'static str>,
    token: Option<String>,
}

fn callers(app: &TestApp) -> Vec<Caller> {
    let mut out: Vec<Caller> = ROLES
        .iter()
        .map(|(role, region)| Caller {
            label: format!("{role}@{region}"),
            role: Some(*role),
            token: Some(app.token(&[role], region, "matrix-org")),
        })
        .collect();
    out.push(Caller {
        label: "anonymous".into(),
        role: None,
        token: None,
    });
    out
}

#[derive(Debug, Clone, Copy)]
enum Route {
    CreateEdition,
    UpdateEdition,
    DeleteEdition,
    PublishEdition,
    RetireEdition,
    CopyEdition,
    ImportEdition,
    CreateItem,
    UpdateItem,
    DeleteItem,
    ImportRegions,
    CreateOrganisation,
    UpdateOrganisation,
    DeleteOrganisation,
    ImportOrganisations,
}

impl Route {
    const ALL: [Route; 15] = [
        Route::CreateEdition,
        Route::UpdateEdition,
        Route::DeleteEdition,
        Route::PublishEdition,
        Route::RetireEdition,
        Route::CopyEdition,
        Route::ImportEdition,
        Route::CreateItem,
        Route::UpdateItem,
        Route::DeleteItem,
        Route::ImportRegions,
        Route::CreateOrganisation,
        Route::UpdateOrganisation,
        Route::DeleteOrganisation,
        Route::ImportOrganisations,
    ];

    fn name(self) -> &'static str {
        match self {
            Route::CreateEdition => "POST /api/v1/catalogue/editions",
            Route::UpdateEdition => "PUT /api/v1/catalogue/editions/{e}",
            Route::DeleteEdition => "DELETE /api/v1/catalogue/editions/{e}",
            Route::PublishEdition => "POST /api/v1/catalogue/editions/{e}/publish",
            Route::RetireEdition => "POST /api/v1/catalogue/editions/{e}/retire",
            Route::CopyEdition => "POST /api/v1/catalogue/editions/{e}/copy",
            Route::ImportEdition => "POST /api/v1/catalogue/editions/{e}/import",
            Route::CreateItem => "POST /api/v1/catalogue/editions/{e}/items",
            Route::UpdateItem => "PUT /api/v1/catalogue/editions/{e}/items/{c}",
            Route::DeleteItem => "DELETE /api/v1/catalogue/editions/{e}/items/{c}",
            Route::ImportRegions => "POST /api/v1/regions/import",
            Route::CreateOrganisation => "POST /api/v1/organisations",
            Route::UpdateOrganisation => "PUT /api/v1/organisations/{o}",
            Route::DeleteOrganisation => "DELETE /api/v1/organisations/{o}",
            Route::ImportOrganisations => "POST /api/v1/organisations/import",
        }
    }

    /// The permission table, written out independently of src/auth/policy.rs.
    fn allowed(self, role: &str) -> bool {
        match self {
            Route::CreateOrganisation
            | Route::UpdateOrganisation
            | Route::DeleteOrganisation
            | Route::ImportOrganisations => matches!(role, "catalogue_admin" | "county_compiler"),
            _ => role == "catalogue_admin",
        }
    }

    /// The status of a successful call.
    fn success(self) -> u16 {
        match self {
            Route::CreateEdition
            | Route::CopyEdition
            | Route::CreateItem
            | Route::CreateOrganisation => 201,
            Route::DeleteEdition | Route::DeleteItem | Route::DeleteOrganisation => 204,
            _ => 200,
        }
    }
}

/// A request ready to send: every precondition met, so only authorization decides.
struct Prepared {
    method: Method,
    path: String,
    if_match: Option<String>,
    body: Option<Value>,
}

fn add_item(app: &TestApp, edition: &str, code: &str) -> String {
    let response = app.post(
        &format!("/api/v1/catalogue/editions/{edition}/items"),
        &app.admin(),
        &item(code, &format!("事项 {code}")),
    );
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    expect_json(response, 201);
    etag.unwrap()
}

fn edition_etag(app: &TestApp, edition: &str) -> String {
    app.etag(
        &format!("/api/v1/catalogue/editions/{edition}"),
        &app.admin(),
    )
}

/// Creates organisation `matrix-{n}` of 泸县 (as the province admin); returns its ETag.
fn stored_organisation(app: &TestApp, n: usize) -> String {
    let body = json!({
        "code": format!("matrix-{n}"),
        "name": format!("泸县矩阵局{n}"),
        "kind": "department",
        "sector": "other",
        "region": LUXIAN
    });
    let response = app.post("/api/v1/organisations", &app.admin(), &body);
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    expect_json(response, 201);
    etag.unwrap()
}

/// Builds fresh resources (as the province admin) for one call of `route`.
fn prepare(app: &TestApp, route: Route) -> Prepared {
    let n = unique();
    let code = format!("m-{n}");
    let editions = "/api/v1/catalogue/editions";
    let new_edition = json!({"code": code, "title": format!("矩阵 {code}")});
    let (method, path, if_match, body) = match route {
        Route::CreateEdition => (Method::POST, editions.to_string(), None, Some(new_edition)),
        Route::UpdateEdition => {
            let etag = draft(app, &code);
            (
                Method::PUT,
                format!("{editions}/{code}"),
                Some(etag),
                Some(json!({"title": "改过的标题"})),
            )
        }
        Route::DeleteEdition => {
            let etag = draft(app, &code);
            (
                Method::DELETE,
                format!("{editions}/{code}"),
                Some(etag),
                None,
            )
        }
        Route::PublishEdition => {
            draft(app, &code);
            add_item(app, &code, "MX-0001");
            let etag = edition_etag(app, &code);
            (
                Method::POST,
                format!("{editions}/{code}/publish"),
                Some(etag),
                None,
            )
        }
        Route::RetireEdition => {
            draft(app, &code);
            add_item(app, &code, "MX-0001");
            let etag = edition_etag(app, &code);
            let response = app.send(
                Method::POST,
                &format!("{editions}/{code}/publish"),
                &app.admin(),
                Some(&etag),
                &json!({}),
            );
            let etag = response.headers()["etag"].to_str().unwrap().to_string();
            expect_json(response, 200);
            (
                Method::POST,
                format!("{editions}/{code}/retire"),
                Some(etag),
                None,
            )
        }
        Route::CopyEdition => (
            Method::POST,
            format!("{editions}/2026/copy"),
            None,
            Some(new_edition),
        ),
        Route::ImportEdition => {
            let etag = draft(app, &code);
            let items = json!({"items": [item("MX-0001", "导入一"), item("MX-0002", "导入二")]});
            (
                Method::POST,
                format!("{editions}/{code}/import"),
                Some(etag),
                Some(items),
            )
        }
        Route::CreateItem => {
            draft(app, &code);
            (
                Method::POST,
                format!("{editions}/{code}/items"),
                None,
                Some(item("MX-0001", "新增事项")),
            )
        }
        Route::UpdateItem => {
            draft(app, &code);
            let etag = add_item(app, &code, "MX-0001");
            (
                Method::PUT,
                format!("{editions}/{code}/items/MX-0001"),
                Some(etag),
                Some(item("MX-0001", "改过的事项")),
            )
        }
        Route::DeleteItem => {
            draft(app, &code);
            let etag = add_item(app, &code, "MX-0001");
            (
                Method::DELETE,
                format!("{editions}/{code}/items/MX-0001"),
                Some(etag),
                None,
            )
        }
        Route::ImportRegions => {
            // A new town of 泸县 (township digits 110.. are free in the demo data).
            let region = format!("510521{:03}000", 110 + n % 80);
            (
                Method::POST,
                "/api/v1/regions/import".to_string(),
                None,
                Some(
                    json!([{"code": region, "name": format!("矩阵镇{n}"), "level": "township", "parent": LUXIAN}]),
                ),
            )
        }
        Route::CreateOrganisation => (
            Method::POST,
            "/api/v1/organisations".to_string(),
            None,
            Some(json!({
                "code": format!("matrix-{n}"),
                "name": format!("泸县矩阵局{n}"),
                "kind": "department",
                "sector": "other",
                "region": LUXIAN
            })),
        ),
        Route::UpdateOrganisation => {
            let etag = stored_organisation(app, n);
            (
                Method::PUT,
                format!("/api/v1/organisations/matrix-{n}"),
                Some(etag),
                Some(json!({
                    "code": format!("matrix-{n}"),
                    "name": format!("泸县矩阵局{n}（改）"),
                    "kind": "justice_bureau",
                    "sector": null,
                    "region": LUXIAN
                })),
            )
        }
        Route::DeleteOrganisation => {
            let etag = stored_organisation(app, n);
            (
                Method::DELETE,
                format!("/api/v1/organisations/matrix-{n}"),
                Some(etag),
                None,
            )
        }
        Route::ImportOrganisations => (
            Method::POST,
            "/api/v1/organisations/import".to_string(),
            None,
            Some(json!([{
                "code": format!("matrix-{n}"),
                "name": format!("泸县矩阵局{n}"),
                "kind": "department",
                "sector": "other",
                "region": LUXIAN
            }])),
        ),
    };
    Prepared {
        method,
        path,
        if_match,
        body,
    }
}

fn perform(app: &TestApp, prepared: &Prepared, token: Option<&str>) -> Response {
    let mut builder = app.request(prepared.method.clone(), &prepared.path, token);
    if let Some(etag) = &prepared.if_match {
        builder = builder.header("If-Match", etag);
    }
    if let Some(body) = &prepared.body {
        builder = builder.json(body);
    }
    builder.send().unwrap()
}

#[test]
fn every_role_against_every_write_route() {
    let app = TestApp::with_demo();
    let mut failures = Vec::new();
    let mut checked = 0;
    for caller in callers(&app) {
        for route in Route::ALL {
            let prepared = prepare(&app, route);
            let expected = match caller.role {
                None => 401,
                Some(role) if route.allowed(role) => route.success(),
                Some(_) => 403,
            };
            let before = app.audit_count();
            let response = perform(&app, &prepared, caller.token.as_deref());
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let text = response.text().unwrap_or_default();
            checked += 1;
            if status != expected {
                failures.push(format!(
                    "{} {} ({}): expected {expected}, got {status}: {text}",
                    caller.label,
                    route.name(),
                    prepared.path
                ));
                continue;
            }
            if expected >= 400 {
                if content_type != "application/problem+json" {
                    failures.push(format!(
                        "{} {}: a {expected} must be a problem, got {content_type}",
                        caller.label,
                        route.name()
                    ));
                }
                let after = app.audit_count();
                if after != before {
                    failures.push(format!(
                        "{} {}: a refused call wrote {} audit event(s)",
                        caller.label,
                        route.name(),
                        after - before
                    ));
                }
            } else if app.audit_count() <= before {
                failures.push(format!(
                    "{} {}: an allowed write must leave an audit event",
                    caller.label,
                    route.name()
                ));
            }
        }
    }
    assert_eq!(checked, 10 * Route::ALL.len());
    assert!(
        failures.is_empty(),
        "{} of {checked} authorization checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn refused_writes_leave_their_targets_untouched() {
    let app = TestApp::with_demo();
    let officer = app.token_for("department_officer", LUXIAN);
    let etag = draft(&app, "untouched");
    let response = app.send(
        Method::PUT,
        "/api/v1/catalogue/editions/untouched",
        &officer,
        Some(&etag),
        &json!({"title": "不该改"}),
    );
    expect_problem(response, 403);
    let response = app
        .request(
            Method::DELETE,
            "/api/v1/catalogue/editions/untouched",
            Some(&officer),
        )
        .header("If-Match", &etag)
        .send()
        .unwrap();
    expect_problem(response, 403);
    let edition = expect_json(
        app.get_as("/api/v1/catalogue/editions/untouched", &app.admin()),
        200,
    );
    assert_eq!(edition["title"], "测试目录 untouched");
    assert_eq!(edition["status"], "draft");
    assert_eq!(edition["revision"], 1);
}

/// The read routes and who gets what.
#[test]
fn guarded_reads_by_every_role() {
    let app = TestApp::with_demo();
    draft(&app, "secret-draft");
    add_item(&app, "secret-draft", "SD-0001");
    let mut failures = Vec::new();
    for caller in callers(&app) {
        let token = caller.token.as_deref();
        let may_read_drafts = matches!(caller.role, Some("catalogue_admin" | "auditor"));
        let is_auditor = caller.role == Some("auditor");
        let denied = if caller.role.is_some() { 403 } else { 401 };
        let cases: Vec<(&str, u16)> = vec![
            ("/api/v1/catalogue/editions/2026", 200),
            ("/api/v1/catalogue/editions/2026/items", 200),
            ("/api/v1/catalogue/editions/2026/items/XK-0001", 200),
            ("/api/v1/catalogue/editions/2026/export", 200),
            ("/public/v1/catalogue/editions/2026", 200),
            (
                "/api/v1/catalogue/editions/secret-draft",
                match (caller.role, may_read_drafts) {
                    (None, _) => 404,
                    (_, true) => 200,
                    _ => 403,
                },
            ),
            (
                "/api/v1/catalogue/editions/secret-draft/items",
                match (caller.role, may_read_drafts) {
                    (None, _) => 404,
                    (_, true) => 200,
                    _ => 403,
                },
            ),
            (
                "/api/v1/catalogue/editions/secret-draft/items/SD-0001",
                match (caller.role, may_read_drafts) {
                    (None, _) => 404,
                    (_, true) => 200,
                    _ => 403,
                },
            ),
            (
                "/api/v1/catalogue/editions/secret-draft/export",
                match (caller.role, may_read_drafts) {
                    (None, _) => 404,
                    (_, true) => 200,
                    _ => 403,
                },
            ),
            // The public routes never show a draft, whoever asks.
            ("/public/v1/catalogue/editions/secret-draft", 404),
            ("/api/v1/audit", if is_auditor { 200 } else { denied }),
            (
                "/api/v1/audit/verify",
                if is_auditor { 200 } else { denied },
            ),
        ];
        for (path, expected) in cases {
            let mut builder = app.request(Method::GET, path, token);
            if path.contains("/public/") {
                builder = app.request(Method::GET, path, None);
            }
            let response = builder.send().unwrap();
            let status = response.status().as_u16();
            if status != expected {
                failures.push(format!(
                    "{} GET {path}: expected {expected}, got {status}: {}",
                    caller.label,
                    response.text().unwrap_or_default()
                ));
            }
        }
        // The edition list shows the draft exactly to those who may read it.
        let list = expect_json(
            app.request(Method::GET, "/api/v1/catalogue/editions", token)
                .send()
                .unwrap(),
            200,
        );
        let codes: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        if !codes.contains(&"2026") {
            failures.push(format!(
                "{}: the edition list lacks the published 2026",
                caller.label
            ));
        }
        if codes.contains(&"secret-draft") != may_read_drafts {
            failures.push(format!(
                "{}: the edition list {} the draft",
                caller.label,
                if may_read_drafts { "lacks" } else { "shows" }
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn organisations_are_readable_by_every_role_in_its_region_only() {
    let app = TestApp::with_demo();
    for (role, region) in ROLES {
        let token = app.token(&[role], region, "o");
        let page = expect_json(
            app.get_as("/api/v1/organisations?page_size=500", &token),
            200,
        );
        let items = page["items"].as_array().unwrap();
        assert!(!items.is_empty(), "{role}@{region} sees no organisations");
        let prefix = scope_prefix(region);
        for org in items {
            let org_region = org["region"].as_str().unwrap();
            assert!(org_region.starts_with(prefix), "{role}@{region} sees {org}");
        }
    }
    expect_problem(app.get("/api/v1/organisations"), 401);
    expect_problem(app.get("/api/v1/organisations/luxian-zrzy"), 401);
    // A township clerk reads its township's units but not the county's departments.
    let clerk = app.token_for("township_clerk", YUCHAN);
    expect_json(
        app.get_as("/api/v1/organisations/luxian-yuchan-zfd", &clerk),
        200,
    );
    expect_problem(app.get_as("/api/v1/organisations/luxian-zrzy", &clerk), 403);
    expect_problem(
        app.get_as("/api/v1/organisations/luxian-fuji-zfd", &clerk),
        403,
    );
}

/// The significant digits of a division code: every code inside it starts with them.
fn scope_prefix(code: &str) -> &str {
    if code[2..].bytes().all(|b| b == b'0') {
        &code[..2]
    } else if code[4..].bytes().all(|b| b == b'0') {
        &code[..4]
    } else if code[6..].bytes().all(|b| b == b'0') {
        &code[..6]
    } else {
        &code[..9]
    }
}

/// A refused call: what it is, the method, the path, an If-Match and a body.
type Attempt = (&'static str, Method, String, Option<String>, Option<Value>);

#[test]
fn an_admin_of_another_province_cannot_touch_this_provinces_catalogue() {
    let app = TestApp::with_demo();
    let other = app.token(&["catalogue_admin"], GUANGDONG, "gd-catalogue");
    let editions = "/api/v1/catalogue/editions";
    draft(&app, "sc-draft");
    let item_etag = add_item(&app, "sc-draft", "SC-0001");
    // Read after the item was added (which moved the edition on), so that every
    // precondition holds and only authorization decides.
    let draft_etag = edition_etag(&app, "sc-draft");
    let published_etag = edition_etag(&app, "2026");
    let before = app.audit_count();

    let refused: Vec<Attempt> = vec![
        (
            "create in 51",
            Method::POST,
            editions.to_string(),
            None,
            Some(json!({"code": "gd-1", "title": "越权", "province": PROVINCE})),
        ),
        (
            "read draft",
            Method::GET,
            format!("{editions}/sc-draft"),
            None,
            None,
        ),
        (
            "read draft items",
            Method::GET,
            format!("{editions}/sc-draft/items"),
            None,
            None,
        ),
        (
            "retitle",
            Method::PUT,
            format!("{editions}/sc-draft"),
            Some(draft_etag.clone()),
            Some(json!({"title": "越权"})),
        ),
        (
            "delete",
            Method::DELETE,
            format!("{editions}/sc-draft"),
            Some(draft_etag.clone()),
            None,
        ),
        (
            "publish",
            Method::POST,
            format!("{editions}/sc-draft/publish"),
            Some(draft_etag.clone()),
            None,
        ),
        (
            "retire",
            Method::POST,
            format!("{editions}/2026/retire"),
            Some(published_etag.clone()),
            None,
        ),
        (
            "copy",
            Method::POST,
            format!("{editions}/2026/copy"),
            None,
            Some(json!({"code": "gd-2", "title": "越权"})),
        ),
        (
            "import",
            Method::POST,
            format!("{editions}/sc-draft/import"),
            Some(draft_etag.clone()),
            Some(json!({"items": [item("SC-0002", "越权")]})),
        ),
        (
            "dry-run import",
            Method::POST,
            format!("{editions}/sc-draft/import?dry_run=true"),
            None,
            Some(json!({"items": [item("SC-0002", "越权")]})),
        ),
        (
            "create item",
            Method::POST,
            format!("{editions}/sc-draft/items"),
            None,
            Some(item("SC-0003", "越权")),
        ),
        (
            "update item",
            Method::PUT,
            format!("{editions}/sc-draft/items/SC-0001"),
            Some(item_etag.clone()),
            Some(item("SC-0001", "越权")),
        ),
        (
            "delete item",
            Method::DELETE,
            format!("{editions}/sc-draft/items/SC-0001"),
            Some(item_etag.clone()),
            None,
        ),
    ];
    let mut failures = Vec::new();
    for (label, method, path, if_match, body) in refused {
        let prepared = Prepared {
            method: method.clone(),
            path: path.clone(),
            if_match,
            body,
        };
        let response = perform(&app, &prepared, Some(&other));
        let status = response.status().as_u16();
        if status != 403 {
            failures.push(format!(
                "catalogue_admin@{GUANGDONG} {label} ({method} {path}): expected 403, got {status}: {}",
                response.text().unwrap_or_default()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(app.audit_count(), before, "nothing was written");
    // Its edition list does not show the other province's drafts.
    let list = expect_json(app.get_as(editions, &other), 200);
    assert!(!list.to_string().contains("sc-draft"), "{list}");
    // Everything is as it was.
    let edition = expect_json(
        app.get_as(&format!("{editions}/sc-draft"), &app.admin()),
        200,
    );
    assert_eq!(
        (edition["revision"].as_i64(), edition["item_count"].as_i64()),
        (Some(2), Some(1)),
        "the draft's creation and its one item, nothing more"
    );
    assert_eq!(edition_etag(&app, "sc-draft"), draft_etag);
    assert_eq!(
        expect_json(app.get(&format!("{editions}/2026")), 200)["status"],
        "published"
    );
    expect_problem(app.get(&format!("{editions}/gd-2")), 404);
    // Regions of this province lie outside its scope: the import names the row.
    let problem = expect_problem(
        app.post(
            "/api/v1/regions/import",
            &other,
            &json!([{"code": "510521150000", "name": "越权镇"}]),
        ),
        422,
    );
    assert_eq!(problem["errors"][0]["row"], 1, "{problem}");
    assert_eq!(error_fields(&problem), vec!["code"]);
    expect_problem(app.get("/api/v1/regions/510521150000"), 404);
    // ...and it cannot create organisations here either.
    let response = app.post(
        "/api/v1/organisations",
        &other,
        &json!({"code": "gd-org", "name": "越权局", "kind": "justice_bureau", "region": LUXIAN}),
    );
    expect_problem(response, 403);
    assert_eq!(app.audit_count(), before, "nothing was written");
}

#[test]
fn a_county_compiler_manages_organisations_of_its_own_county_only() {
    let app = TestApp::with_demo();
    let hejiang = app.token(&["county_compiler"], HEJIANG, "hejiang-bb");
    let admin = app.admin();
    let before = app.audit_count();

    // Another county's organisations: 403 for every write, with a correct ETag.
    let body = json!({"code": "hj-in-lx", "name": "越权局", "kind": "department", "sector": "other", "region": LUXIAN});
    expect_problem(app.post("/api/v1/organisations", &hejiang, &body), 403);
    let township_unit =
        json!({"code": "hj-in-yc", "name": "越权队", "kind": "township_unit", "region": YUCHAN});
    expect_problem(
        app.post("/api/v1/organisations", &hejiang, &township_unit),
        403,
    );
    let etag = app.etag("/api/v1/organisations/luxian-zrzy", &admin);
    let update = json!({
        "code": "luxian-zrzy", "name": "改名", "kind": "department",
        "sector": "natural_resources", "region": LUXIAN
    });
    expect_problem(
        app.send(
            Method::PUT,
            "/api/v1/organisations/luxian-zrzy",
            &hejiang,
            Some(&etag),
            &update,
        ),
        403,
    );
    let response = app
        .request(
            Method::DELETE,
            "/api/v1/organisations/luxian-zrzy",
            Some(&hejiang),
        )
        .header("If-Match", &etag)
        .send()
        .unwrap();
    expect_problem(response, 403);
    expect_problem(
        app.get_as("/api/v1/organisations/luxian-zrzy", &hejiang),
        403,
    );
    assert_eq!(app.audit_count(), before, "nothing was written");
    let org = expect_json(app.get_as("/api/v1/organisations/luxian-zrzy", &admin), 200);
    assert_eq!(org["name"], "泸县自然资源和规划局");
    assert_eq!(org["revision"], 1);

    // Its own county and townships: allowed.
    let own = json!({"code": "hj-new", "name": "合江县新设局", "kind": "department", "sector": "other", "region": HEJIANG});
    let response = app.post("/api/v1/organisations", &hejiang, &own);
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    expect_json(response, 201);
    let renamed = json!({"code": "hj-new", "name": "合江县改名局", "kind": "department", "sector": "other", "region": HEJIANG});
    let response = app.send(
        Method::PUT,
        "/api/v1/organisations/hj-new",
        &hejiang,
        Some(&etag),
        &renamed,
    );
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(expect_json(response, 200)["name"], "合江县改名局");
    let response = app
        .request(
            Method::DELETE,
            "/api/v1/organisations/hj-new",
            Some(&hejiang),
        )
        .header("If-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(response.status(), 204);
    let unit = json!({"code": "hj-unit", "name": "合江镇新设队", "kind": "township_unit", "region": "510522100000"});
    expect_json(app.post("/api/v1/organisations", &hejiang, &unit), 201);
    assert_eq!(app.audit_count(), before + 4);
}

#[test]
fn a_county_compiler_lists_organisations_of_its_own_county_only() {
    let app = TestApp::with_demo();
    let hejiang = app.token(&["county_compiler"], HEJIANG, "hejiang-bb");
    for region in [LUXIAN, YUCHAN, PROVINCE, "510500000000"] {
        expect_problem(
            app.get_as(&format!("/api/v1/organisations?region={region}"), &hejiang),
            403,
        );
    }
    let own = expect_json(
        app.get_as(&format!("/api/v1/organisations?region={HEJIANG}"), &hejiang),
        200,
    );
    assert_eq!(own["total"], 14);
    assert!(own["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["region"] == HEJIANG));
    let township = expect_json(
        app.get_as("/api/v1/organisations?region=510522200000", &hejiang),
        200,
    );
    assert_eq!(township["total"], 2);

    let all = expect_json(
        app.get_as("/api/v1/organisations?page_size=500", &hejiang),
        200,
    );
    let items = all["items"].as_array().unwrap();
    assert_eq!(
        all["total"], 20,
        "14 county organisations and 6 township units"
    );
    assert_eq!(items.len(), 20);
    assert!(
        items
            .iter()
            .all(|o| o["region"].as_str().unwrap().starts_with("510522")),
        "{all}"
    );
    // The province admin sees both counties; the compiler's list is exactly 合江县's part.
    let everything = expect_json(
        app.get_as("/api/v1/organisations?page_size=500", &app.admin()),
        200,
    );
    let hejiang_codes: Vec<&Value> = everything["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["region"].as_str().unwrap().starts_with("510522"))
        .map(|o| &o["code"])
        .collect();
    let seen: Vec<&Value> = items.iter().map(|o| &o["code"]).collect();
    assert_eq!(seen, hejiang_codes);
    assert!(everything["total"].as_i64().unwrap() > 20);
}

#[test]
fn tokens_with_several_roles_get_the_union_and_unknown_roles_nothing() {
    let app = TestApp::with_demo();
    let both = app.token(&["department_officer", "auditor"], PROVINCE, "o");
    expect_json(app.get_as("/api/v1/audit", &both), 200);
    expect_problem(
        app.post(
            "/api/v1/catalogue/editions",
            &both,
            &json!({"code": "x1", "title": "t"}),
        ),
        403,
    );
    let wizard = app.token(&["wizard", "root"], PROVINCE, "o");
    expect_problem(
        app.post(
            "/api/v1/catalogue/editions",
            &wizard,
            &json!({"code": "x2", "title": "t"}),
        ),
        403,
    );
    expect_problem(app.get_as("/api/v1/organisations", &wizard), 403);
    assert_eq!(
        expect_json(app.get_as("/api/v1/catalogue/editions/2026", &wizard), 200)["code"],
        "2026"
    );
}

#[test]
fn a_county_auditor_does_not_see_in_the_list_a_draft_it_may_not_read() {
    let app = TestApp::with_demo();
    draft(&app, "county-hidden");
    let county_auditor = app.token_for("auditor", LUXIAN);
    expect_problem(
        app.get_as("/api/v1/catalogue/editions/county-hidden", &county_auditor),
        403,
    );
    let list = expect_json(
        app.get_as("/api/v1/catalogue/editions", &county_auditor),
        200,
    );
    let codes: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["2026"], "the list must agree with GET: {list}");
    assert_eq!(list["total"], 1);
}
