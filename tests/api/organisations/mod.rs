//! Organisations: CRUD with optimistic concurrency, the rules on kind, sector and region,
//! imports and list filters.

use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

mod imports;
mod records;

const ORGS: &str = "/api/v1/organisations";
const IMPORT: &str = "/api/v1/organisations/import";

fn org(code: &str, name: &str, kind: &str, sector: Option<&str>, region: &str) -> Value {
    json!({"code": code, "name": name, "kind": kind, "sector": sector, "region": region})
}

fn delete(app: &TestApp, path: &str, token: &str, if_match: Option<&str>) -> Response {
    let mut builder = app.request(Method::DELETE, path, Some(token));
    if let Some(etag) = if_match {
        builder = builder.header("If-Match", etag);
    }
    builder.send().unwrap()
}

fn import_csv(app: &TestApp, path: &str, token: &str, csv: &str) -> Response {
    app.request(Method::POST, path, Some(token))
        .header("Content-Type", "text/csv")
        .body(csv.to_string())
        .send()
        .unwrap()
}

fn row_fields(problem: &Value) -> Vec<(i64, String)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap_or(-1),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn report(body: &Value) -> (bool, i64, i64, i64, i64) {
    (
        body["dry_run"].as_bool().unwrap(),
        body["rows"].as_i64().unwrap(),
        body["created"].as_i64().unwrap(),
        body["updated"].as_i64().unwrap(),
        body["unchanged"].as_i64().unwrap(),
    )
}

fn codes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["code"].as_str().unwrap().to_string())
        .collect()
}
