//! The OpenAPI contract, generated from the handlers, and the offline Swagger UI.

use actix_web::{get, HttpResponse};
use serde_json::Value;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::{error, http};

/// What the document says beside its operations; the operations come from the handlers
/// as `crate::routes` registers them.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "quanze",
        description = "權責: the registry of the powers and duties of China's townships. Errors are RFC 9457 problem+json; writes to mutable resources need If-Match with the ETag from GET.",
        license(name = "Apache-2.0")
    ),
    components(schemas(error::Problem, error::FieldError, http::ImportReport, http::Format)),
    tags(
        (name = "operations", description = "Health and readiness"),
        (name = "regions", description = "Regions by 12-digit statistical division code"),
        (name = "organisations", description = "County departments, reviewers, governments and township units"),
        (name = "catalogue", description = "The province catalogue of statutory and delegable powers, in editions"),
        (name = "claims", description = "Two-way claiming rounds, claims, statistics and township power sets"),
        (name = "duties", description = "屬地管理 responsibility lists: lead and supporting duties, duty admission, dispatch lookup"),
        (name = "publication", description = "Versions of the power and responsibility lists: submit, review, publish"),
        (name = "public", description = "Published material, no token"),
        (name = "audit", description = "The keyed, append-only audit chain and its signed anchors")
    )
)]
pub struct ApiDoc;

/// Adds the bearer scheme and the error answers every operation can give, so that no
/// handler has to list them by hand.
struct StandardResponses;

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                error::PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

fn add_standard(op: &mut Operation, writes: bool) {
    let secured = op
        .security
        .as_ref()
        .is_some_and(|reqs| reqs.iter().any(|r| r != &Default::default()));
    let optional_auth = op.security.as_ref().is_some_and(|reqs| reqs.len() > 1);
    let conditional = op.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p, RefOr::T(p) if p.name == "If-Match" && matches!(p.parameter_in, ParameterIn::Header)))
    });
    declare_conditional_headers(op);
    let has_input =
        op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| problem(description));
    };
    if has_input {
        add(
            "400",
            "Malformed request: bad JSON, wrong types, unknown fields or bad parameters",
        );
    }
    if secured || optional_auth {
        add("401", "Missing or invalid bearer token");
    }
    if secured {
        add("403", "The token's roles or region do not allow this");
    }
    add("404", "No such resource");
    if writes || has_input {
        add("422", "Validation failed; `errors` lists every bad field");
    }
    if writes {
        add("409", "Conflict with the current state");
    }
    if conditional {
        add("412", "The If-Match ETag is stale");
        add("428", "The If-Match header is missing");
    }
    if op.request_body.is_some() {
        add("413", "The body is larger than the limit");
        add(
            "415",
            "The body's media type is not one this operation takes",
        );
    }
    add("500", "Unexpected error (details are logged, never sent)");
    add(
        "503",
        "The database is unavailable; retry after the Retry-After seconds",
    );
    // OpenAPI requires every response to say something; a handler that gave no
    // description gets the status's reason phrase.
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(response) = response {
            if response.description.is_empty() {
                let reason = status
                    .parse::<u16>()
                    .ok()
                    .and_then(|code| actix_web::http::StatusCode::from_u16(code).ok())
                    .and_then(|code| code.canonical_reason());
                response.description = reason.unwrap_or("Success").to_string();
            }
        }
    }
}

/// `If-Match` in its one form (a strong ETag of a revision), and `If-None-Match` wherever a
/// 304 can answer.
fn declare_conditional_headers(op: &mut Operation) {
    for parameter in op.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter {
            if parameter.name == "If-Match" && matches!(parameter.parameter_in, ParameterIn::Header)
            {
                parameter.schema = Some(RefOr::T(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::String)
                        .pattern(Some(r#"^"[0-9]{1,18}"$"#))
                        .into(),
                ));
            }
        }
    }
    let revalidates = op.responses.responses.contains_key("304");
    let declares_if_none_match = op
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p, RefOr::T(p) if p.name == "If-None-Match"));
    if revalidates && !declares_if_none_match {
        op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(
            utoipa::openapi::path::ParameterBuilder::new()
                .name("If-None-Match")
                .parameter_in(ParameterIn::Header)
                .required(utoipa::openapi::Required::False)
                .description(Some(
                    "ETags you hold; 304 without a body when one is the answer's",
                ))
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::String),
                ))
                .build(),
        ));
    }
}

/// Every authenticated POST takes `Idempotency-Key` (see `http::idempotency`).
fn add_idempotency_key(op: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(
        ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "A key of 1 to 255 visible ASCII characters (a UUID) that makes a retry safe: \
                 a retry with the same key and request replays the first successful answer \
                 (with `Idempotent-Replayed: true`) for 24 hours; the same key with another \
                 request is 422; while the first still runs, 409.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[!-~]+$")),
            ))
            .build(),
    ));
    for (status, description) in [
        (
            "409",
            "Conflict with the current state, or the first request with this Idempotency-Key is still running",
        ),
        ("422", "Validation failed; `errors` lists every bad field"),
    ] {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| problem(description));
    }
}

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            // Everything under /api/ needs a token unless its handler says otherwise.
            if path.starts_with("/api/") {
                for op in [
                    &mut item.get,
                    &mut item.post,
                    &mut item.put,
                    &mut item.delete,
                    &mut item.patch,
                ]
                .into_iter()
                .flatten()
                .filter(|op| op.security.is_none())
                {
                    op.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                        "bearer",
                        Vec::<String>::new(),
                    )]);
                }
            }
            for (op, writes) in [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ] {
                if let Some(op) = op.as_mut() {
                    add_standard(op, writes);
                }
            }
            if let Some(op) = item.post.as_mut().filter(|op| op.security.is_some()) {
                add_idempotency_key(op);
            }
        }
    }
}

/// The whole contract: every registered handler's operation, with the standard answers.
pub fn spec() -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::AppExt;
    let (_, mut api) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes)
        .split_for_parts();
    StandardResponses.modify(&mut api);
    api
}

/// The document as served and as checked in (pretty JSON with a final newline).
pub fn document() -> String {
    let mut value = serde_json::to_value(spec()).expect("the OpenAPI document serialises");
    if let Some(schemas) = value
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        flatten_compositions(schemas);
        refer_page_items(schemas);
    }
    declare_text_hygiene(&mut value);
    add_links(&mut value);
    if let Some(paths) = value.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths.values_mut().flat_map(|item| {
            item.as_object_mut()
                .into_iter()
                .flat_map(|ops| ops.values_mut())
        }) {
            for parameter in operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                declare_parameter_rule(parameter);
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&value).expect("JSON serialises");
    text.push('\n');
    text
}

/// The workflows' next steps, as OpenAPI links from an answer to the operations that take
/// what it names: a client (and stateful testing) can follow create → read, a round to its
/// claims, a version through review to publication.
type LinkTargets = &'static [(&'static str, &'static [(&'static str, &'static str)])];

/// (from operation, its status, [(to operation, [(parameter, runtime expression)])]).
const LINKS: &[(&str, &str, LinkTargets)] = &[
    (
        "create_organisation",
        "201",
        &[
            ("get_organisation", &[("code", "$response.body#/code")]),
            ("update_organisation", &[("code", "$response.body#/code")]),
        ],
    ),
    (
        "create_edition",
        "201",
        &[
            ("get_edition", &[("edition", "$response.body#/code")]),
            ("create_item", &[("edition", "$response.body#/code")]),
            ("list_items", &[("edition", "$response.body#/code")]),
        ],
    ),
    (
        "copy_edition",
        "201",
        &[
            ("get_edition", &[("edition", "$response.body#/code")]),
            ("list_items", &[("edition", "$response.body#/code")]),
        ],
    ),
    (
        "create_item",
        "201",
        &[(
            "get_item",
            &[
                ("edition", "$request.path.edition"),
                ("code", "$response.body#/code"),
            ],
        )],
    ),
    (
        "open_round",
        "201",
        &[
            ("get_round", &[("round", "$response.body#/id")]),
            ("list_claims", &[("round", "$response.body#/id")]),
            ("get_round_statistics", &[("round", "$response.body#/id")]),
            ("answer_claims", &[("round", "$response.body#/id")]),
        ],
    ),
    (
        "create_matter",
        "201",
        &[(
            "get_matter",
            &[
                ("county", "$request.path.county"),
                ("code", "$response.body#/code"),
            ],
        )],
    ),
    (
        "request_admission",
        "201",
        &[("get_admission", &[("id", "$response.body#/id")])],
    ),
    (
        "submit_version",
        "201",
        &[
            (
                "get_version",
                &[
                    ("county", "$request.path.county"),
                    ("kind", "$request.path.kind"),
                    ("n", "$response.body#/number"),
                ],
            ),
            (
                "review_version",
                &[
                    ("county", "$request.path.county"),
                    ("kind", "$request.path.kind"),
                    ("n", "$response.body#/number"),
                ],
            ),
            (
                "get_version_document",
                &[
                    ("county", "$request.path.county"),
                    ("kind", "$request.path.kind"),
                    ("n", "$response.body#/number"),
                ],
            ),
        ],
    ),
    (
        "review_version",
        "201",
        &[(
            "publish_version",
            &[
                ("county", "$request.path.county"),
                ("kind", "$request.path.kind"),
                ("n", "$request.path.n"),
            ],
        )],
    ),
    (
        "publish_version",
        "200",
        &[
            (
                "public_version",
                &[
                    ("county", "$request.path.county"),
                    ("kind", "$request.path.kind"),
                    ("n", "$response.body#/number"),
                ],
            ),
            (
                "public_list_in_force",
                &[
                    ("county", "$request.path.county"),
                    ("kind", "$request.path.kind"),
                ],
            ),
        ],
    ),
];

fn add_links(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        for operation in item
            .as_object_mut()
            .into_iter()
            .flat_map(|ops| ops.values_mut())
        {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let Some((_, status, targets)) = LINKS.iter().find(|(from, ..)| *from == id) else {
                continue;
            };
            let links: serde_json::Map<String, Value> = targets
                .iter()
                .map(|(target, parameters)| {
                    let parameters: serde_json::Map<String, Value> = parameters
                        .iter()
                        .map(|(name, expression)| (name.to_string(), Value::from(*expression)))
                        .collect();
                    (
                        target.to_string(),
                        serde_json::json!({ "operationId": target, "parameters": parameters }),
                    )
                })
                .collect();
            if let Some(response) = operation.pointer_mut(&format!("/responses/{status}")) {
                response["links"] = Value::Object(links);
            }
        }
    }
}

/// Every string field of a request body states the text hygiene the server applies, so
/// a client (and a generator) knows which characters are refused before sending them.
fn declare_text_hygiene(document: &mut Value) {
    let mut pending: Vec<String> = Vec::new();
    if let Some(paths) = document.get("paths") {
        collect_refs(
            &paths
                .as_object()
                .into_iter()
                .flat_map(|items| items.values())
                .flat_map(|item| item.as_object().into_iter().flat_map(|ops| ops.values()))
                .filter_map(|op| op.get("requestBody"))
                .cloned()
                .collect::<Vec<_>>()
                .into(),
            &mut pending,
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(schema) = document.pointer_mut(&format!("/components/schemas/{name}")) else {
            continue;
        };
        collect_refs(schema, &mut pending);
        constrain_strings(schema, None);
    }
}

fn collect_refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                found.push(
                    reference
                        .trim_start_matches("#/components/schemas/")
                        .to_string(),
                );
            }
            map.values().for_each(|v| collect_refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, found)),
        _ => {}
    }
}

/// Adds the hygiene pattern to the string schemas in `schema` (inline ones included).
fn constrain_strings(schema: &mut Value, field: Option<&str>) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    let is_string = match map.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    let free = !["pattern", "format", "enum", "$ref"]
        .iter()
        .any(|k| map.contains_key(*k));
    if is_string && free {
        let is_name = field.is_some_and(crate::text::names_something);
        map.insert(
            "pattern".into(),
            Value::from(crate::text::refused_pattern(is_name)),
        );
    }
    if let Some(properties) = map.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, property) in properties.iter_mut() {
            constrain_strings(property, Some(name));
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = map.get_mut(key) {
            constrain_strings(inner, field);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(options)) = map.get_mut(key) {
            options.iter_mut().for_each(|o| constrain_strings(o, field));
        }
    }
}

/// The rules the server applies to query and path parameters, by name.
fn declare_parameter_rule(parameter: &mut Value) {
    let name = parameter["name"].as_str().unwrap_or_default().to_string();
    let location = parameter["in"].as_str().unwrap_or_default().to_string();
    if location != "query" && location != "path" {
        return;
    }
    let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) else {
        return;
    };
    let is_string = match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    if !is_string
        || ["pattern", "format", "enum"]
            .iter()
            .any(|k| schema.contains_key(*k))
    {
        return;
    }
    match name.as_str() {
        "township" | "county" | "parent" | "region" => {
            schema.insert("pattern".into(), crate::regions::RegionCode::PATTERN.into());
        }
        "at" => {
            schema.insert("format".into(), "date".into());
        }
        "from" | "to" => {
            schema.insert("format".into(), "date-time".into());
        }
        "level" => {
            schema.insert(
                "enum".into(),
                serde_json::json!(["province", "city", "county", "township"]),
            );
        }
        // A NUL anywhere in a query string is refused (http::request_id).
        _ if location == "query" => {
            schema.insert("pattern".into(), "^[^\\u0000]*$".into());
        }
        _ => {}
    }
}

/// An object made of another and a few fields of its own (serde's `flatten`) is written as
/// `allOf` by utoipa; the part it flattens refuses unknown fields, so no real answer
/// would validate. Each such schema becomes one flat object.
fn flatten_compositions(schemas: &mut serde_json::Map<String, Value>) {
    let names: Vec<String> = schemas
        .iter()
        .filter(|(_, schema)| schema.get("allOf").is_some())
        .map(|(name, _)| name.clone())
        .collect();
    for name in names {
        let parts = schemas[&name]["allOf"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut properties = serde_json::Map::new();
        let mut required: Vec<Value> = Vec::new();
        for part in &parts {
            let part = match part.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let target = reference.trim_start_matches("#/components/schemas/");
                    schemas.get(target).cloned().unwrap_or_default()
                }
                None => part.clone(),
            };
            if let Some(own) = part.get("properties").and_then(Value::as_object) {
                properties.extend(own.clone());
            }
            for field in part
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !required.contains(field) {
                    required.push(field.clone());
                }
            }
        }
        let mut flat = serde_json::Map::new();
        flat.insert("type".into(), "object".into());
        if let Some(description) = schemas[&name].get("description") {
            flat.insert("description".into(), description.clone());
        }
        flat.insert("required".into(), Value::Array(required));
        flat.insert("properties".into(), Value::Object(properties));
        schemas.insert(name, Value::Object(flat));
    }
}

/// A page of `T` (`Page_T`) refers to `T`'s own schema rather than a copy of it, so a
/// generated client has one model per type.
fn refer_page_items(schemas: &mut serde_json::Map<String, Value>) {
    let pages: Vec<(String, String)> = schemas
        .keys()
        .filter_map(|name| {
            let element = name.strip_prefix("Page_")?;
            schemas
                .contains_key(element)
                .then(|| (name.clone(), element.to_string()))
        })
        .collect();
    for (page, element) in pages {
        if let Some(items) = schemas[&page].pointer("/properties/items").cloned() {
            let mut items = items;
            items["items"] =
                serde_json::json!({ "$ref": format!("#/components/schemas/{element}") });
            schemas.get_mut(&page).expect("listed")["properties"]["items"] = items;
        }
    }
}

/// Registers `/api-docs/openapi.json` and the Swagger UI at `/docs`, which reads it; none
/// of them is an operation of the API.
pub fn routes(cfg: &mut http::Routes) {
    cfg.map(|cfg| {
        cfg.service(openapi_json)
            .service(docs_redirect)
            .service(SwaggerUi::new("/docs/{_:.*}").config(Config::from("/api-docs/openapi.json")))
    });
}

#[get("/api-docs/openapi.json")]
async fn openapi_json() -> HttpResponse {
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(document);
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}

#[get("/docs")]
async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/docs/"))
        .finish()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    /// Every type that derives `ToSchema`, by the component name it takes, with where it
    /// is declared: two types under one name would silently share one schema.
    fn schema_names() -> HashMap<String, Vec<String>> {
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let mut deriving = false;
                let mut renamed: Option<String> = None;
                for line in text.lines().map(str::trim) {
                    if line.starts_with("#[derive(") || line.starts_with("Debug,") {
                        deriving |= line.contains("ToSchema");
                    }
                    if let Some(rest) = line.strip_prefix("#[schema(as = ") {
                        renamed = Some(rest.trim_end_matches(")]").to_string());
                    }
                    let declared = line
                        .strip_prefix("pub struct ")
                        .or_else(|| line.strip_prefix("pub enum "));
                    if let Some(declared) = declared {
                        if deriving {
                            let name: String = declared
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            let name = renamed.take().unwrap_or(name);
                            names
                                .entry(name)
                                .or_default()
                                .push(path.display().to_string());
                        }
                        deriving = false;
                        renamed = None;
                    }
                }
            }
        }
        names
    }

    #[test]
    fn every_link_names_an_operation_and_its_parameters() {
        let document: serde_json::Value = serde_json::from_str(&super::document()).unwrap();
        let mut operations = std::collections::HashMap::new();
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                let parameters: Vec<String> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| p["name"].as_str().unwrap().to_string())
                    .collect();
                operations.insert(
                    operation["operationId"].as_str().unwrap().to_string(),
                    parameters,
                );
            }
        }
        let mut links = 0;
        for (from, _, targets) in super::LINKS {
            assert!(operations.contains_key(*from), "{from}");
            for (target, parameters) in *targets {
                let known = &operations[*target];
                for (name, _) in *parameters {
                    assert!(known.iter().any(|k| k == name), "{target} has no {name}");
                }
                links += 1;
            }
        }
        assert!(links > 10);
    }

    #[test]
    fn no_two_types_share_a_component_name() {
        let names = schema_names();
        assert!(names.contains_key("Problem") && names.contains_key("ClaimDecision"));
        let shared: Vec<_> = names
            .iter()
            .filter(|(_, places)| places.len() > 1)
            .collect();
        assert!(shared.is_empty(), "types sharing a schema name: {shared:?}");
    }
}
