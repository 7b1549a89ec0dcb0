//! What the HTTP parser refuses, spoken over raw sockets: every answer is problem+json,
//! in turn after the answers to the requests before it, and the connection then closes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// One response read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The problem document, after checking the media type says it is one.
    fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let problem: Value = serde_json::from_slice(&self.body).expect("a JSON problem");
        assert_eq!(problem["status"], status);
        assert!(!problem["detail"].as_str().unwrap().is_empty());
        problem
    }
}

fn connect(app: &TestApp) -> TcpStream {
    let stream = TcpStream::connect(app.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Everything the server writes until it closes the connection, as responses.
fn read_answers(mut stream: TcpStream) -> Vec<Answer> {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let mut answers = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a whole head");
        let head = std::str::from_utf8(&rest[..end]).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap()[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_lowercase(), v.trim().to_string())
            })
            .collect();
        rest = &rest[end + 4..];
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        answers.push(Answer {
            status,
            headers,
            body: rest[..length].to_vec(),
        });
        rest = &rest[length..];
    }
    answers
}

/// Sends `bytes` on a new connection and reads every answer until the server closes it.
fn exchange(app: &TestApp, bytes: &[u8]) -> Vec<Answer> {
    let mut stream = connect(app);
    // The server may refuse before it has read everything; the answer is what matters.
    let _ = stream.write_all(bytes);
    read_answers(stream)
}

#[test]
fn heads_the_parser_refuses_are_problems() {
    let app = TestApp::spawn();
    let many_fields: String = (0..200).map(|i| format!("x-field-{i}: v\r\n")).collect();
    let cases: Vec<(String, u16, &str)> = vec![
        (
            format!(
                "GET /healthz?q={} HTTP/1.1\r\nhost: x\r\n\r\n",
                "a".repeat(70_000)
            ),
            414,
            "uri-too-long",
        ),
        (
            format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(200_000)),
            414,
            "uri-too-long",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nhost: x\r\n{many_fields}\r\n"),
            431,
            "head-too-large",
        ),
        (
            format!(
                "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
                "v".repeat(140_000)
            ),
            431,
            "head-too-large",
        ),
        (
            "GET /healthz HTTP/1.1\r\nhost: x\r\nthis is no header\r\n\r\n".into(),
            400,
            "bad-request",
        ),
        (
            "POST /api/v1/organisations HTTP/1.1\r\nhost: x\r\ncontent-length: ten\r\n\r\n".into(),
            400,
            "bad-request",
        ),
        (
            "POST /api/v1/organisations HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\
             transfer-encoding: chunked\r\n\r\n"
                .into(),
            400,
            "bad-request",
        ),
        ("GET /healthz HTTP/3.0\r\n\r\n".into(), 400, "bad-request"),
        ("G(T /healthz HTTP/1.1\r\n\r\n".into(), 400, "bad-request"),
    ];
    for (request, status, kind) in cases {
        let answers = exchange(&app, request.as_bytes());
        assert_eq!(answers.len(), 1, "{:.80}: {answers:?}", request);
        let problem = answers[0].problem(status);
        assert_eq!(
            problem["type"],
            format!("/problems/{kind}"),
            "{:.80}",
            request
        );
        assert_eq!(answers[0].header("connection"), Some("close"));
        assert!(answers[0].header("x-request-id").is_some());
    }
    // The server is still well.
    assert_eq!(app.get("/healthz").status(), 200);
}

#[test]
fn a_bad_head_is_answered_after_the_requests_before_it() {
    let app = TestApp::with_demo();
    let token = app.admin();
    // Three requests on one connection whose bodies (fixed length and chunked) must be
    // read past to find the next head, then a head the parser refuses.
    let pipelined = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n\
         POST /api/v1/organisations HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: 9\r\n\r\n{{not json\
         POST /api/v1/organisations HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n\
         4\r\n{{not\r\n5\r\n json\r\n0\r\n\r\n\
         GET /healthz HTTP/1.1\r\nhost: x\r\nno colon here\r\n\r\n"
    );
    let answers = exchange(&app, pipelined.as_bytes());
    assert_eq!(answers.len(), 4, "{answers:?}");
    assert_eq!(answers[0].status, 200);
    for body_problem in &answers[1..3] {
        assert_eq!(
            body_problem.problem(400)["type"],
            "/problems/malformed-body"
        );
    }
    assert_eq!(answers[3].problem(400)["type"], "/problems/bad-request");
}

#[test]
fn a_head_that_never_finishes_is_a_408_problem_and_a_silent_client_is_let_go() {
    let app = TestApp::spawn().beside(|config| config.server.head_timeout_ms = 300);
    let started = Instant::now();
    let answers = exchange(&app, b"GET /healthz HTTP/1.1\r\nhost: x\r\n");
    assert_eq!(answers.len(), 1, "{answers:?}");
    answers[0].problem(408);
    assert!(started.elapsed() < Duration::from_secs(10));

    // A second head started on a kept-alive connection is timed from its first byte.
    let mut stream = connect(&app);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    stream.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    let answers = read_answers(stream);
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0].status, 200);
    answers[1].problem(408);

    // A client that connects and says nothing is closed without an answer.
    let answers = exchange(&app, b"");
    assert!(answers.is_empty(), "{answers:?}");
}

#[test]
fn well_formed_requests_pass_the_screen_unchanged() {
    let app = TestApp::with_demo();
    // A body split across writes, then a request asking to close the connection and
    // something that is no request after it.
    let mut stream = connect(&app);
    let token = app.admin();
    let body = r#"{"code":"X","name":"N","kind":"department","region":"510521"}"#;
    let head = format!(
        "POST /api/v1/organisations HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    for part in [
        head.as_bytes(),
        &body.as_bytes()[..5],
        &body.as_bytes()[5..],
    ] {
        stream.write_all(part).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\ngarbage\r\n\r\n")
        .unwrap();
    let answers = read_answers(stream);
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(
        answers[0].problem(422)["type"],
        "/problems/validation-failed"
    );
    assert_eq!(answers[1].status, 200);
    answers[2].problem(400);
}
