//! More than one instance over one database: what one publishes, the others serve
//! within `in_force_cache_ms`, and never a superseded version after it.

use std::time::{Duration, Instant};

use super::*;

/// The version a public answer is cut from, by its `Content-Location`.
fn served_version(app: &TestApp, path: &str) -> (String, String) {
    let response = app.get(path);
    assert_eq!(response.status(), 200, "GET {path}");
    let location = header(&response, "content-location").expect("Content-Location");
    let etag = header(&response, "etag").expect("ETag");
    (location, etag)
}

#[test]
fn what_one_instance_publishes_the_other_serves_within_the_in_force_cache_time() {
    let ttl = Duration::from_millis(400);
    let a = TestApp::with_demo_configured(|c| c.publication.in_force_cache_ms = 400);
    let b = a.beside(|_| {});
    let round = open_round(&a);
    confirm_claim(&a, round, YUCHAN, "CF-0001", "luxian-yuchan-zfd");
    submitted(&a, "power", "首次编制");
    approve_and_publish(&a, "power", 1, None);
    let slice_path = format!("/public/v1/townships/{YUCHAN}/power-list");
    let document_path = format!("/public/v1/counties/{LUXIAN}/lists/power");
    let (v1, v1_tag) = served_version(&b, &slice_path);
    assert_eq!(v1, public_version_path("power", 1));
    assert_eq!(served_version(&b, &document_path).0, v1);

    // Version 2 through instance A: 玉蟾 no longer holds CF-0001.
    reopen_claim(&a, round, YUCHAN, "CF-0001");
    submitted(&a, "power", "收回一项");
    approve_and_publish(&a, "power", 2, None);
    let published = Instant::now();
    let v2 = public_version_path("power", 2);
    assert_eq!(
        served_version(&a, &slice_path).0,
        v2,
        "at once where it was published"
    );

    // B may answer version 1 until its in-force answer expires, and never after.
    loop {
        let asked = Instant::now();
        let (served, _) = served_version(&b, &slice_path);
        if served == v2 {
            break;
        }
        assert_eq!(served, v1);
        assert!(
            asked.duration_since(published) < ttl + Duration::from_millis(250),
            "instance B still served the superseded version {:?} after publication",
            asked.duration_since(published)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(ttl);
    for _ in 0..3 {
        assert_eq!(served_version(&b, &slice_path).0, v2);
        assert_eq!(served_version(&b, &document_path).0, v2);
    }
    let slice = expect_json(b.get(&slice_path), 200);
    assert!(
        !slice["items"].to_string().contains("CF-0001"),
        "the new slice's items: {slice}"
    );
    // A client holding version 1's tag gets the new bytes, not 304.
    let revalidated = get_with(&b, &slice_path, &[("If-None-Match", &v1_tag)]);
    assert_eq!(revalidated.status(), 200);
    // Version 1 by number is still version 1 on both, from the same stored bytes.
    let by_number = public_version_path("power", 1);
    assert_eq!(
        a.get(&by_number).bytes().unwrap(),
        b.get(&by_number).bytes().unwrap()
    );
}

#[test]
fn two_instances_making_an_old_versions_bytes_at_once_make_them_once() {
    let a = TestApp::with_demo();
    submitted(&a, "power", "首次编制");
    approve_and_publish(&a, "power", 1, None);
    let townships = a.count("SELECT count(*) AS n FROM version_slices");
    // As if published before bytes were made at publication.
    a.sql("DELETE FROM version_slices; UPDATE version_contents SET content_gzip = NULL");
    let b = a.beside(|_| {});
    let slice_path = format!("/public/v1/townships/{YUCHAN}/power-list");
    let bodies: Vec<Vec<u8>> = std::thread::scope(|s| {
        let readers: Vec<_> = [&a, &b, &a, &b]
            .into_iter()
            .map(|app| {
                let path = &slice_path;
                s.spawn(move || {
                    let response = app.get(path);
                    assert_eq!(response.status(), 200);
                    response.bytes().unwrap().to_vec()
                })
            })
            .collect();
        readers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "the same bytes everywhere"
    );
    assert_eq!(
        a.count("SELECT count(*) AS n FROM version_slices"),
        townships,
        "each township's slice stored once"
    );
}
