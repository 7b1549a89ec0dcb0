//! Optimistic concurrency.

use super::*;

// ---------------------------------------------------------------------------------
// Optimistic concurrency
// ---------------------------------------------------------------------------------

#[test]
fn writes_without_if_match_are_428() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "名称"));
    let before = app.audit_count();
    expect_problem(
        app.send(
            Method::PUT,
            &item_path("d1", "CF-0101"),
            &admin,
            None,
            &item("CF-0101", "新名称"),
        ),
        428,
    );
    expect_problem(delete(&app, &item_path("d1", "CF-0101"), None), 428);
    expect_problem(action(&app, "d1", "publish", None), 428);
    expect_problem(action(&app, DEMO, "retire", None), 428);
    expect_problem(
        app.send(
            Method::PUT,
            &edition_path("d1"),
            &admin,
            None,
            &json!({"title": "新标题"}),
        ),
        428,
    );
    expect_problem(delete(&app, &edition_path("d1"), None), 428);
    // An If-Match that is not one strong ETag is a bad request.
    for bad in ["*", "W/\"1\"", "1", "\"1\", \"2\""] {
        expect_problem(
            app.send(
                Method::PUT,
                &item_path("d1", "CF-0101"),
                &admin,
                Some(bad),
                &item("CF-0101", "新名称"),
            ),
            400,
        );
    }
    assert_eq!(app.audit_count(), before);
    assert_eq!(
        expect_json(app.get_as(&item_path("d1", "CF-0101"), &admin), 200)["name"],
        "名称"
    );
    assert_eq!(
        expect_json(app.get_as(&edition_path("d1"), &admin), 200)["status"],
        "draft"
    );
}

#[test]
fn writes_with_a_stale_etag_are_412_and_carry_the_current_etag() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    let created = draft(&app, "d1");
    add_item(&app, "d1", &item("CF-0101", "名称"));
    let etag = item_etag(&app, "d1", "CF-0101");
    let response = app.send(
        Method::PUT,
        &item_path("d1", "CF-0101"),
        &admin,
        Some(&etag),
        &item("CF-0101", "第二版"),
    );
    let current = etag_of(&response);
    expect_json(response, 200);
    // The item writes moved the edition on: its ETag is read after them.
    let edition = edition_etag(&app, "d1");
    assert_ne!(edition, created);
    let before = app.audit_count();

    let response = app.send(
        Method::PUT,
        &item_path("d1", "CF-0101"),
        &admin,
        Some(&etag),
        &item("CF-0101", "过时的修改"),
    );
    assert_eq!(etag_of(&response), current);
    let problem = expect_problem(response, 412);
    assert!(
        problem["detail"].as_str().unwrap().contains(&current),
        "{problem}"
    );
    let response = delete(&app, &item_path("d1", "CF-0101"), Some(&etag));
    assert_eq!(etag_of(&response), current);
    expect_problem(response, 412);

    let stale_edition = "\"9\"";
    let response = action(&app, "d1", "publish", Some(stale_edition));
    assert_eq!(etag_of(&response), edition);
    expect_problem(response, 412);
    let response = app.send(
        Method::PUT,
        &edition_path("d1"),
        &admin,
        Some(stale_edition),
        &json!({"title": "新标题"}),
    );
    assert_eq!(etag_of(&response), edition);
    expect_problem(response, 412);
    let response = delete(&app, &edition_path("d1"), Some(stale_edition));
    assert_eq!(etag_of(&response), edition);
    expect_problem(response, 412);

    // The edition's ETag as read before the item changed is stale as well.
    let response = action(&app, "d1", "publish", Some(&created));
    assert_eq!(etag_of(&response), edition);
    expect_problem(response, 412);

    assert_eq!(app.audit_count(), before);
    assert_eq!(
        edition_etag(&app, "d1"),
        edition,
        "refused writes do not move the edition on"
    );
    let read = expect_json(app.get_as(&item_path("d1", "CF-0101"), &admin), 200);
    assert_eq!(read["name"], "第二版");
    assert_eq!(
        expect_json(app.get_as(&edition_path("d1"), &admin), 200)["status"],
        "draft"
    );
    // With the ETag from the 412, the write goes through.
    let response = app.send(
        Method::PUT,
        &item_path("d1", "CF-0101"),
        &admin,
        Some(&current),
        &item("CF-0101", "第三版"),
    );
    expect_json(response, 200);
}

/// Asserts that publishing `edition` with `seen` is a 412 carrying the current ETag,
/// and that the edition stays an unchanged draft with nothing written.
fn stale_publish_is_refused(app: &TestApp, edition: &str, seen: &str, change: &str) {
    let current = edition_etag(app, edition);
    assert_ne!(current, seen, "{change} moves the edition's revision on");
    let before = app.audit_count();
    let response = action(app, edition, "publish", Some(seen));
    assert_eq!(etag_of(&response), current, "{change}");
    let problem = expect_problem(response, 412);
    assert!(
        problem["detail"].as_str().unwrap().contains(&current),
        "{change}: {problem}"
    );
    assert_eq!(app.audit_count(), before, "{change}: nothing was written");
    let view = expect_json(app.get_as(&edition_path(edition), &app.admin()), 200);
    assert_eq!(view["status"], "draft", "{change}");
    assert_eq!(edition_etag(app, edition), current, "{change}");
}

#[test]
fn publishing_with_an_etag_read_before_an_item_changed_is_412() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    draft(&app, "d1");
    add_item(&app, "d1", &flat_item("CF-0101", "对占道经营的处罚"));
    add_item(&app, "d1", &flat_item("CF-0102", "将被删除的事项"));

    // Adding an item.
    let seen = edition_etag(&app, "d1");
    add_item(&app, "d1", &flat_item("CF-0103", "后来加入的事项"));
    stale_publish_is_refused(&app, "d1", &seen, "adding an item");

    // Replacing an item.
    let seen = edition_etag(&app, "d1");
    let read = expect_json(app.get_as(&item_path("d1", "CF-0101"), &admin), 200);
    let mut changed = content(&read);
    changed["name"] = json!("对占道经营行为的处罚");
    expect_json(
        app.send(
            Method::PUT,
            &item_path("d1", "CF-0101"),
            &admin,
            Some(&item_etag(&app, "d1", "CF-0101")),
            &changed,
        ),
        200,
    );
    stale_publish_is_refused(&app, "d1", &seen, "replacing an item");

    // Deleting an item.
    let seen = edition_etag(&app, "d1");
    let response = delete(
        &app,
        &item_path("d1", "CF-0102"),
        Some(&item_etag(&app, "d1", "CF-0102")),
    );
    assert_eq!(response.status(), 204);
    stale_publish_is_refused(&app, "d1", &seen, "deleting an item");

    // Importing.
    let seen = edition_etag(&app, "d1");
    let csv = csv_file(&[
        csv_row("CF-0101", "对占道经营行为的处罚", &[]),
        csv_row("CF-0103", "后来加入的事项", &[]),
        csv_row("CF-0104", "导入的事项", &[]),
    ]);
    let report = expect_json(import_csv(&app, "d1", &csv, Some(&seen), false), 200);
    assert_eq!(counts(&report), (3, 1, 0, 2, 0), "{report}");
    stale_publish_is_refused(&app, "d1", &seen, "importing");

    // With the ETag read again, the publisher has seen the content as it is. A dry run
    // in between changes nothing, so that ETag still holds.
    let seen = edition_etag(&app, "d1");
    let report = expect_json(import_csv(&app, "d1", &csv, None, true), 200);
    assert_eq!(counts(&report), (3, 0, 0, 3, 0), "{report}");
    assert_eq!(edition_etag(&app, "d1"), seen, "a dry run is not a change");
    let response = action(&app, "d1", "publish", Some(&seen));
    let published_etag = etag_of(&response);
    let published = expect_json(response, 200);
    assert_eq!(published["status"], "published");
    assert_ne!(published_etag, seen);
    assert_eq!(edition_etag(&app, "d1"), published_etag);
    let view = expect_json(app.get(&edition_path("d1")), 200);
    assert_eq!(view["item_count"], 3, "{view}");
    assert_eq!(
        item_codes(&app, "d1"),
        vec!["CF-0101", "CF-0103", "CF-0104"]
    );
    assert_eq!(
        expect_json(app.get(&item_path("d1", "CF-0101")), 200)["name"],
        "对占道经营行为的处罚",
        "what was published is what the publisher saw"
    );
}

#[test]
fn the_second_of_two_updates_with_the_same_etag_is_412() {
    let app = TestApp::with_demo();
    let admin = app.admin();
    copy(&app, DEMO, "2027");
    let etag = item_etag(&app, "2027", "CF-0001");
    let read = expect_json(app.get_as(&item_path("2027", "CF-0001"), &admin), 200);
    let mut first = content(&read);
    first["name"] = json!("甲的修改");
    let mut second = content(&read);
    second["name"] = json!("乙的修改");
    second["high_frequency"] = json!(false);

    expect_json(
        app.send(
            Method::PUT,
            &item_path("2027", "CF-0001"),
            &admin,
            Some(&etag),
            &first,
        ),
        200,
    );
    expect_problem(
        app.send(
            Method::PUT,
            &item_path("2027", "CF-0001"),
            &admin,
            Some(&etag),
            &second,
        ),
        412,
    );
    let now = expect_json(app.get_as(&item_path("2027", "CF-0001"), &admin), 200);
    assert_eq!(content(&now), first, "the first update stands whole");
}

/// Sends `requests` at the same moment, each from its own thread; returns the statuses
/// in the order given.
fn race(requests: Vec<reqwest::blocking::RequestBuilder>) -> Vec<u16> {
    let barrier = std::sync::Barrier::new(requests.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    request.send().unwrap().status().as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn concurrent_updates_with_the_same_etag_let_exactly_one_win() {
    let app = TestApp::with_demo();
    copy(&app, DEMO, "2027");
    let before = app.audit_count();
    for code in ["CF-0001", "CF-0002", "CF-0003", "CF-0004", "CF-0006"] {
        let etag = item_etag(&app, "2027", code);
        let read = expect_json(app.get_as(&item_path("2027", code), &app.admin()), 200);
        let names: Vec<String> = (0..8).map(|i| format!("{code} 的并发修改 {i}")).collect();
        let requests = names
            .iter()
            .map(|name| {
                let mut body = content(&read);
                body["name"] = json!(name);
                app.request(Method::PUT, &item_path("2027", code), Some(&app.admin()))
                    .header("If-Match", &etag)
                    .json(&body)
            })
            .collect();
        let statuses = race(requests);
        let winners: Vec<&String> = names
            .iter()
            .zip(&statuses)
            .filter(|(_, s)| **s == 200)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "{code}: exactly one update wins: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 412),
            "{statuses:?}"
        );
        let now = expect_json(app.get_as(&item_path("2027", code), &app.admin()), 200);
        assert_eq!(
            &now["name"],
            winners[0].as_str(),
            "the winner's content is stored"
        );
        assert_eq!(now["revision"], 2);
    }
    assert_eq!(
        app.audit_count(),
        before + 5,
        "one audit event per successful update"
    );
}

#[test]
fn concurrent_edition_writes_with_the_same_etag_let_exactly_one_win() {
    let app = TestApp::with_demo();
    for round in 0..3 {
        let code = format!("race{round}");
        draft(&app, &code);
        add_item(&app, &code, &item("CF-0101", "名称"));
        // Every writer saw the edition as it is now, after its item was added.
        let etag = edition_etag(&app, &code);
        let before = app.audit_count();
        let document = json!({"items": [item("CF-0102", "导入的事项")]});
        let mut requests = Vec::new();
        for i in 0..8 {
            let request = if i % 2 == 0 {
                app.request(
                    Method::POST,
                    &format!("{}/publish", edition_path(&code)),
                    Some(&app.admin()),
                )
            } else {
                app.request(
                    Method::POST,
                    &format!("{}/import", edition_path(&code)),
                    Some(&app.admin()),
                )
                .json(&document)
            };
            requests.push(request.header("If-Match", &etag));
        }
        let statuses = race(requests);
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{code}: exactly one write wins: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| matches!(s, 200 | 409 | 412)),
            "{statuses:?}"
        );
        assert_eq!(app.audit_count(), before + 1, "{code}: one audit event");
        let view = expect_json(app.get_as(&edition_path(&code), &app.admin()), 200);
        let items = item_codes(&app, &code);
        if view["status"] == "published" {
            assert_eq!(
                items,
                vec!["CF-0101"],
                "{code}: a published edition is not imported into"
            );
        } else {
            assert_eq!(items, vec!["CF-0102"]);
        }
    }
}
