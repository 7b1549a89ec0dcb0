//! HTTP mechanisms every route shares: request bodies, optimistic concurrency,
//! pagination, request ids and the problem answers for framework-level errors.

mod body;
mod concurrency;
mod deadline;
pub mod expensive;
pub mod idempotency;
mod import;
mod methods;
mod request_id;
pub mod wire;

pub use crate::paging::{Page, PageParams, PageRequest, MAX_PAGE_SIZE};
pub use body::{validate, BodyLimits, CleanJson, ValidJson};
pub use concurrency::{etag_value, IfMatch};
pub use deadline::{deadline, RequestTimeout};
pub use idempotency::idempotency;
pub use import::{
    cell_flag, cell_lines, cell_optional, cell_parts, empty_as_none, parse_csv, write_csv, Format,
    ImportBody, ImportParams, ImportReport,
};
pub use request_id::request_id;

/// Where a module registers its routes. A handler is registered with its
/// `#[utoipa::path]` declaration, which is also its entry in the OpenAPI document: a
/// route that is not documented does not compile.
pub type Routes<'a> = utoipa_actix_web::service_config::ServiceConfig<'a>;

use actix_web::http::{header, StatusCode};
use actix_web::{error, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Query strings that do not parse are 400 problems.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| AppError::BadRequest(format!("bad query string: {err}")).into())
}

/// Path segments that do not parse are 404 problems: the address names nothing.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _req| AppError::NotFound(format!("no such resource: {err}")).into())
}

/// Raw bodies (CSV imports) up to the import limit; larger ones are 413 problems.
pub fn payload_config(limit: usize) -> web::PayloadConfig {
    web::PayloadConfig::new(limit)
}

/// Any request no route takes: 405 naming the methods when the address is a route's,
/// else 404.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let allowed = methods::allowed(req.path());
    if !allowed.is_empty() {
        return Err(AppError::MethodNotAllowed {
            detail: format!(
                "{} takes {}, not {}",
                req.path(),
                allowed.join(", "),
                req.method()
            ),
            allowed,
        });
    }
    Err(AppError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// Maps actix payload errors (too large, broken) to problems.
pub fn payload_error(err: error::PayloadError) -> AppError {
    match err {
        error::PayloadError::Overflow => {
            AppError::PayloadTooLarge("the request body is too large".into())
        }
        other => AppError::BadRequest(format!("cannot read the request body: {other}")),
    }
}

/// A JSON answer carrying a mutable resource's revision as its `ETag`.
pub fn with_etag<T: Serialize>(status: StatusCode, revision: i64, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag_value(revision)))
        .json(body)
}

/// `?format=json|csv`, the exports' older way to choose: each format is now its own
/// address (`…/export` answers JSON, `…/export.csv` CSV), so that every answer has one
/// media type; `?format=csv` is redirected to the CSV address.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    /// `json` (default) or `csv`.
    pub format: Option<Format>,
}

impl ExportQuery {
    /// The permanent redirect of `…/export?format=csv` to `…/export.csv`, if asked for.
    pub fn redirect(&self, req: &HttpRequest) -> Option<HttpResponse> {
        (self.format == Some(Format::Csv)).then(|| {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, format!("{}.csv", req.path())))
                .finish()
        })
    }
}

/// An export as a download named `{stem}.json` or `{stem}.csv`.
pub fn download(bytes: impl Into<web::Bytes>, format: Format, stem: &str) -> HttpResponse {
    let (content_type, extension) = match format {
        Format::Json => ("application/json", "json"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{stem}.{extension}\""),
        ))
        .body(expensive::SharedBody::new(bytes.into()))
}
