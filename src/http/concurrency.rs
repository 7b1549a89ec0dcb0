use std::future::{ready, Ready};

use actix_web::{dev::Payload, http::header, FromRequest, HttpRequest};

use crate::error::AppError;

pub use crate::revision::etag_value;

/// The revision a write expects, from `If-Match`.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(Option<i64>);

impl IfMatch {
    /// The expected revision; 428 when the header is missing.
    pub fn revision(&self) -> Result<i64, AppError> {
        self.0.ok_or(AppError::PreconditionRequired)
    }
}

impl FromRequest for IfMatch {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = match req.headers().get(header::IF_MATCH) {
            None => Ok(IfMatch(None)),
            Some(value) => value
                .to_str()
                .ok()
                .map(str::trim)
                .and_then(|v| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
                .and_then(|v| v.parse::<i64>().ok())
                .map(|rev| IfMatch(Some(rev)))
                .ok_or_else(|| {
                    AppError::BadRequest(
                        "If-Match must be one strong ETag as returned by GET, e.g. \"3\"".into(),
                    )
                    .into()
                }),
        };
        ready(parsed)
    }
}
