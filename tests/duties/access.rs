//! Who may do what, and writers at once.

use super::*;

// =================================================================================
// 8. Who may do what
// =================================================================================

#[test]
fn only_the_countys_compiler_writes_the_list_and_only_the_county_reads_it() {
    let app = TestApp::with_demo();
    let body = matter("SD-001", OILY, "luxian-sthj", &["luxian-scjg"]);
    create(&app, LUXIAN, &app.compiler(), &body);
    let other = matter("SD-002", "建筑施工扬尘污染的监管", "luxian-zjj", &[]);
    let import_body = serde_json::to_vec(&json!({"matters": [body.clone()]})).unwrap();
    let before = written(&app);

    let writes = |token: Option<&str>, status: u16, who: &str| {
        let post = app
            .request(Method::POST, &matters_path(LUXIAN), token)
            .json(&other)
            .send()
            .unwrap();
        assert_eq!(post.status(), status, "{who}: POST");
        let put = app
            .request(Method::PUT, &matter_path(LUXIAN, "SD-001"), token)
            .header("If-Match", "\"1\"")
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(put.status(), status, "{who}: PUT");
        let delete = app
            .request(Method::DELETE, &matter_path(LUXIAN, "SD-001"), token)
            .header("If-Match", "\"1\"")
            .send()
            .unwrap();
        assert_eq!(delete.status(), status, "{who}: DELETE");
        let import = app
            .request(
                Method::POST,
                &format!("{}/import", list_path(LUXIAN)),
                token,
            )
            .header("Content-Type", "application/json")
            .header("If-Match", "\"1\"")
            .body(import_body.clone())
            .send()
            .unwrap();
        assert_eq!(import.status(), status, "{who}: import");
        let dry = app
            .request(
                Method::POST,
                &format!("{}/import?dry_run=true", list_path(LUXIAN)),
                token,
            )
            .header("Content-Type", "application/json")
            .body(import_body.clone())
            .send()
            .unwrap();
        assert_eq!(dry.status(), status, "{who}: dry-run import");
    };
    writes(Some(&hejiang_compiler(&app)), 403, "合江县's compiler");
    writes(
        Some(&app.officer("luxian-sthj")),
        403,
        "a department officer",
    );
    writes(
        Some(&app.clerk(YUCHAN)),
        403,
        "a township clerk of the county",
    );
    writes(Some(&app.admin()), 403, "the province catalogue admin");
    writes(
        Some(&app.token(&["auditor"], LUXIAN, "luxian-gov")),
        403,
        "the county's auditor",
    );
    writes(
        Some(&app.token(&["county_compiler"], YUCHAN, "clerk-org")),
        403,
        "a compiler role acting in a township",
    );
    writes(None, 401, "no token");
    assert_eq!(written(&app), before, "nothing was written");

    let reads = [
        list_path(LUXIAN),
        matters_path(LUXIAN),
        matter_path(LUXIAN, "SD-001"),
        format!("{}/export", list_path(LUXIAN)),
        format!("{}/export?format=csv", list_path(LUXIAN)),
        format!("{}/statistics", list_path(LUXIAN)),
        admissions_path(LUXIAN),
    ];
    for (who, token, status) in [
        ("the compiler", Some(app.compiler()), 200),
        (
            "a department officer",
            Some(app.officer("luxian-sthj")),
            200,
        ),
        (
            "a township clerk of the county",
            Some(app.clerk(YUCHAN)),
            200,
        ),
        (
            "a township clerk of another township",
            Some(app.clerk("510521101000")),
            200,
        ),
        ("the province auditor", Some(auditor(&app)), 200),
        ("合江县's compiler", Some(hejiang_compiler(&app)), 403),
        (
            "a township clerk of 合江县",
            Some(app.clerk(HEJIANG_TOWN)),
            403,
        ),
        ("the province catalogue admin", Some(app.admin()), 403),
        ("no token", None, 401),
    ] {
        for path in &reads {
            let response = app
                .request(Method::GET, path, token.as_deref())
                .send()
                .unwrap();
            assert_eq!(response.status(), status, "{who}: GET {path}");
        }
    }
    let read = expect_json(
        app.get_as(&matter_path(LUXIAN, "SD-001"), &app.clerk(YUCHAN)),
        200,
    );
    assert_eq!(read["lead"]["department"], "luxian-sthj");

    // 合江县's compiler writes its own list.
    create(
        &app,
        HEJIANG,
        &hejiang_compiler(&app),
        &matter("HJ-001", OILY, "hejiang-sthj", &["hejiang-scjg"]),
    );
    expect_problem(
        app.post(
            &matters_path(HEJIANG),
            &app.compiler(),
            &matter("HJ-002", "建筑施工扬尘污染的监管", "hejiang-zjj", &[]),
        ),
        403,
    );
    assert_eq!(codes(&matters_of(&app, HEJIANG)), ["HJ-001"]);
    assert_eq!(written(&app).luxian, before.luxian);
}

// =================================================================================
// Concurrency
// =================================================================================

/// Runs `n` requests at once and returns their statuses in order.
fn at_once(n: usize, request: impl Fn(usize) -> Response + Sync) -> Vec<u16> {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let request = &request;
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    request(i).status().as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn matters_added_at_once_to_a_list_all_land_and_each_moves_the_revision() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    create(
        &app,
        LUXIAN,
        &token,
        &matter("SD-000", OILY, "luxian-sthj", &[]),
    );
    let statuses = at_once(8, |i| {
        app.post(
            &matters_path(LUXIAN),
            &token,
            &matter(
                &format!("SD-{:03}", i + 1),
                &format!("并发事项{i}"),
                "luxian-zjj",
                &[],
            ),
        )
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let header = expect_json(app.get_as(&list_path(LUXIAN), &token), 200);
    assert_eq!(
        (header["revision"].as_i64(), header["matters"].as_i64()),
        (Some(9), Some(9))
    );

    // Replacements with the same ETag at once: one wins, the others are told it moved.
    let statuses = at_once(6, |i| {
        app.send(
            Method::PUT,
            &matter_path(LUXIAN, "SD-000"),
            &token,
            Some("\"1\""),
            &with(
                matter("SD-000", OILY, "luxian-sthj", &[]),
                "/lead_response_minutes",
                json!(10 + i),
            ),
        )
    });
    let mut counted: BTreeMap<u16, usize> = BTreeMap::new();
    for s in &statuses {
        *counted.entry(*s).or_default() += 1;
    }
    assert_eq!(
        counted,
        BTreeMap::from([(200, 1), (412, 5)]),
        "{statuses:?}"
    );
    let read = expect_json(app.get_as(&matter_path(LUXIAN, "SD-000"), &token), 200);
    assert_eq!(read["revision"], 2);
    assert_eq!(list_etag(&app, LUXIAN), "\"10\"");
}

#[test]

fn the_first_matters_of_an_empty_list_added_at_once_all_land() {
    let app = TestApp::with_demo();
    let token = app.compiler();
    let statuses = at_once(8, |i| {
        app.post(
            &matters_path(LUXIAN),
            &token,
            &matter(
                &format!("SD-{:03}", i + 1),
                &format!("并发事项{i}"),
                "luxian-zjj",
                &[],
            ),
        )
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let header = expect_json(app.get_as(&list_path(LUXIAN), &token), 200);
    assert_eq!(
        (header["revision"].as_i64(), header["matters"].as_i64()),
        (Some(8), Some(8))
    );
}

#[test]

fn of_imports_into_an_empty_list_at_once_one_wins_and_the_others_are_told_the_list_moved() {
    let app = TestApp::with_demo();
    let statuses = at_once(6, |i| {
        import_json(
            &app,
            LUXIAN,
            &[matter(
                &format!("SD-{:03}", i + 1),
                &format!("并发事项{i}"),
                "luxian-zjj",
                &[],
            )],
            Some("\"0\""),
            false,
        )
    });
    let mut counted: BTreeMap<u16, usize> = BTreeMap::new();
    for s in &statuses {
        *counted.entry(*s).or_default() += 1;
    }
    assert_eq!(
        counted,
        BTreeMap::from([(200, 1), (412, 5)]),
        "{statuses:?}"
    );
    assert_eq!(matters_of(&app, LUXIAN).len(), 1);
    assert_eq!(list_etag(&app, LUXIAN), "\"1\"");
}
