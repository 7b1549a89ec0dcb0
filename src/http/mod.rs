//! HTTP mechanisms every route shares: request bodies, optimistic concurrency,
//! pagination, request ids and the problem answers for framework-level errors.

mod body;
mod concurrency;
mod import;
mod pagination;
mod request_id;

pub use body::{validate, BodyLimits, ValidJson};
pub use concurrency::{etag_value, require_revision, IfMatch};
pub use import::{
    cell_flag, cell_lines, cell_optional, cell_parts, empty_as_none, parse_csv, separator_problem,
    write_csv, Format, ImportBody, ImportParams, ImportReport,
};
pub use pagination::{Page, PageParams, PageRequest, MAX_PAGE_SIZE};
pub use request_id::request_id;

use actix_web::{error, web, HttpRequest, HttpResponse};

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

/// Any route that matches nothing.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, AppError> {
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
