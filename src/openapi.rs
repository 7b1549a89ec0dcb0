//! The OpenAPI contract, generated from the handlers, and the offline Swagger UI.

use actix_web::{get, web, HttpResponse};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    audit, catalogue, claims, duties, error, health, http, organisations, publication, regions,
};

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "quanze",
        description = "權責: the registry of the powers and duties of China's townships. Errors are RFC 9457 problem+json; writes to mutable resources need If-Match with the ETag from GET.",
        license(name = "Apache-2.0")
    ),
    paths(
        health::healthz,
        health::readyz,
        regions::list_regions,
        regions::get_region,
        regions::list_region_children,
        regions::import_regions,
        organisations::list_organisations,
        organisations::create_organisation,
        organisations::import_organisations,
        organisations::get_organisation,
        organisations::update_organisation,
        organisations::delete_organisation,
        catalogue::get_dictionaries,
        catalogue::list_editions,
        catalogue::create_edition,
        catalogue::get_edition,
        catalogue::update_edition,
        catalogue::delete_edition,
        catalogue::publish_edition,
        catalogue::retire_edition,
        catalogue::copy_edition,
        catalogue::import_edition,
        catalogue::export_edition,
        catalogue::list_items,
        catalogue::create_item,
        catalogue::get_item,
        catalogue::update_item,
        catalogue::delete_item,
        catalogue::diff_editions,
        catalogue::public_list_editions,
        catalogue::public_get_edition,
        catalogue::public_list_items,
        catalogue::public_get_item,
        catalogue::public_export_edition,
        catalogue::public_diff_editions,
        claims::open_round,
        claims::list_rounds,
        claims::get_round,
        claims::close_round,
        claims::list_claims,
        claims::export_claims,
        claims::get_round_statistics,
        claims::answer_claims,
        claims::confirm_claims,
        claims::get_claim,
        claims::reopen_claim,
        claims::get_power_set,
        duties::get_duty_list,
        duties::list_matters,
        duties::create_matter,
        duties::get_matter,
        duties::update_matter,
        duties::delete_matter,
        duties::import_duty_list,
        duties::export_duty_list,
        duties::get_duty_statistics,
        duties::lookup_duties,
        duties::request_admission,
        duties::list_admissions,
        duties::get_admission,
        duties::accept_admission,
        duties::reject_admission,
        publication::submit_version,
        publication::list_versions,
        publication::get_version,
        publication::get_version_document,
        publication::review_version,
        publication::publish_version,
        publication::withdraw_version,
        publication::public::public_list_in_force,
        publication::public::public_list_versions,
        publication::public::public_version,
        publication::public::public_diff,
        publication::public::public_township_power_list,
        publication::public::public_lookup,
        publication::public::public_keys,
        publication::feed::publications_json,
        publication::feed::publications_atom,
        audit::list_audit_events,
        audit::verify_audit_chain,
    ),
    components(schemas(error::Problem, error::FieldError, http::ImportReport, http::Format)),
    modifiers(&StandardResponses),
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
            .any(|p| p.name == "If-Match" && matches!(p.parameter_in, ParameterIn::Header))
    });
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
    if conditional {
        add("412", "The If-Match ETag is stale");
        add("428", "The If-Match header is missing");
    }
    add("500", "Unexpected error (details are logged, never sent)");
    add(
        "503",
        "The database is unavailable; retry after the Retry-After seconds",
    );
}

/// Every authenticated POST takes `Idempotency-Key` (see `http::idempotency`).
fn add_idempotency_key(op: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    op.parameters.get_or_insert_with(Vec::new).push(
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
                    .max_length(Some(255)),
            ))
            .build(),
    );
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
        for item in openapi.paths.paths.values_mut() {
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

/// The document as served and as checked in (pretty JSON with a final newline).
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    text.push('\n');
    text
}

/// Registers `/api-docs/openapi.json` and the Swagger UI at `/docs`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(openapi_json).service(docs_redirect).service(
        SwaggerUi::new("/docs/{_:.*}").url("/api-docs/openapi-ui.json", ApiDoc::openapi()),
    );
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
