//! One application error type, rendered as RFC 9457 `application/problem+json`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client should wait before retrying when the database is unavailable.
pub const RETRY_AFTER_SECS: u32 = 2;

/// One bad field (or one bad cell of an import): where, and what is wrong with it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// 1-based row of an imported file or index+1 of a bulk request, when the error is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    /// The field (JSON path or CSV column) that is wrong.
    pub field: String,
    /// What is wrong with it, in words a clerk can act on.
    pub message: String,
}

impl FieldError {
    /// A field error outside any row.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            row: None,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, located in a row.
    pub fn in_row(mut self, row: usize) -> Self {
        self.row = Some(row);
        self
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// Every bad field, for validation and import failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For a refusal by a rule of the workflow (separation of duties, an organisation
    /// acting outside its scope): which rule, e.g. `submitter-cannot-review`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (bad JSON, bad parameters).
    #[error("{0}")]
    BadRequest(String),
    /// The body does not parse (malformed JSON or CSV, wrong types, unknown fields).
    #[error("{detail}")]
    Malformed {
        /// Summary.
        detail: String,
        /// Where parsing failed.
        errors: Vec<FieldError>,
    },
    /// The request is well-formed but some fields are invalid.
    #[error("{detail}")]
    Validation {
        /// Summary.
        detail: String,
        /// Every bad field.
        errors: Vec<FieldError>,
    },
    /// No token, or a token that does not verify.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token without the right to do this here.
    #[error("{0}")]
    Forbidden(String),
    /// Refused by a named rule of the workflow: separation of duties, or an organisation
    /// acting outside its kind or county.
    #[error("{detail}")]
    Refused {
        /// The rule, a stable slug clients can branch on.
        rule: &'static str,
        /// What the rule found.
        detail: String,
    },
    /// Nothing at this address.
    #[error("{0}")]
    NotFound(String),
    /// The address exists, but not for this method.
    #[error("{detail}")]
    MethodNotAllowed {
        /// Summary.
        detail: String,
        /// The methods the address takes, for `Allow`.
        allowed: Vec<&'static str>,
    },
    /// The request conflicts with the resource's current state.
    #[error("{0}")]
    Conflict(String),
    /// Transitions the resources' current states do not allow, one per bad row.
    #[error("{detail}")]
    IllegalTransition {
        /// Summary.
        detail: String,
        /// Each refused row with the current state.
        errors: Vec<FieldError>,
    },
    /// The work this step waits for is not done: one entry per place it waits (a power
    /// list submitted while claims of its county's open round are undecided).
    #[error("{detail}")]
    NotReady {
        /// Summary.
        detail: String,
        /// What still waits, one entry per place.
        errors: Vec<FieldError>,
    },
    /// Rows of a bulk write whose revision is no longer current.
    #[error("{detail}")]
    Stale {
        /// Summary.
        detail: String,
        /// Each stale row.
        errors: Vec<FieldError>,
    },
    /// A write without `If-Match`.
    #[error("this write needs the current revision: an If-Match header with the ETag (or a `revision` on every row of a bulk request)")]
    PreconditionRequired,
    /// A write whose `If-Match` no longer matches.
    #[error("the resource has changed since you read it: its current ETag is \"{current}\"")]
    PreconditionFailed {
        /// The current revision.
        current: i64,
    },
    /// The body is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The request target (path and query) is longer than accepted.
    #[error("{0}")]
    UriTooLong(String),
    /// The request head (request line and header fields) is larger than the server reads.
    #[error("{0}")]
    HeadTooLarge(String),
    /// The client started a request head and did not finish it in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// The body's media type is not accepted here.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too much expensive work of this kind is under way; retry after a moment.
    #[error("{0}")]
    Overloaded(String),
    /// The database cannot be reached right now.
    #[error("the database is unavailable; retry shortly")]
    Unavailable,
    /// A bug or an unexpected failure; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A validation failure with a single bad field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError::new(field, message);
        AppError::Validation {
            detail: format!("{}: {}", error.field, error.message),
            errors: vec![error],
        }
    }

    /// A validation failure listing every bad field; `Ok` when there are none.
    pub fn check(errors: Vec<FieldError>) -> Result<(), AppError> {
        if errors.is_empty() {
            return Ok(());
        }
        let detail = if errors.len() == 1 {
            format!("{}: {}", errors[0].field, errors[0].message)
        } else {
            format!("{} fields are invalid", errors.len())
        };
        Err(AppError::Validation { detail, errors })
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            AppError::BadRequest(_) => ("bad-request", "Bad request"),
            AppError::Malformed { .. } => ("malformed-body", "Malformed request body"),
            AppError::Validation { .. } => ("validation-failed", "Validation failed"),
            AppError::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            AppError::Forbidden(_) => ("forbidden", "Forbidden"),
            AppError::Refused { .. } => ("refused-by-rule", "Forbidden by a rule of the workflow"),
            AppError::NotFound(_) => ("not-found", "Not found"),
            AppError::Conflict(_) => ("conflict", "Conflict"),
            AppError::IllegalTransition { .. } => ("illegal-transition", "Illegal transition"),
            AppError::NotReady { .. } => ("not-ready", "Not ready"),
            AppError::Stale { .. } => ("stale-revision", "Precondition failed"),
            AppError::PreconditionRequired => ("precondition-required", "Precondition required"),
            AppError::PreconditionFailed { .. } => ("precondition-failed", "Precondition failed"),
            AppError::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            AppError::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            AppError::UriTooLong(_) => ("uri-too-long", "URI too long"),
            AppError::HeadTooLarge(_) => ("head-too-large", "Request header fields too large"),
            AppError::RequestTimeout(_) => ("request-timeout", "Request timeout"),
            AppError::UnsupportedMediaType(_) => {
                ("unsupported-media-type", "Unsupported media type")
            }
            AppError::Unavailable => ("service-unavailable", "Service unavailable"),
            AppError::Overloaded(_) => ("overloaded", "Service unavailable"),
            AppError::Internal(_) => ("internal-error", "Internal server error"),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.slug_and_title();
        let detail = match self {
            // Never leak internals.
            AppError::Internal(_) => "an unexpected error occurred; it has been logged".into(),
            other => other.to_string(),
        };
        let errors = match self {
            AppError::Validation { errors, .. }
            | AppError::Malformed { errors, .. }
            | AppError::IllegalTransition { errors, .. }
            | AppError::NotReady { errors, .. }
            | AppError::Stale { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        Problem {
            problem_type: format!("/problems/{slug}"),
            title: title.into(),
            status: self.status_code().as_u16(),
            detail,
            errors,
            rule: match self {
                AppError::Refused { rule, .. } => Some((*rule).to_string()),
                _ => None,
            },
        }
    }

    /// A refusal by `rule`.
    pub fn refused(rule: &'static str, detail: impl Into<String>) -> Self {
        AppError::Refused {
            rule,
            detail: detail.into(),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Malformed { .. } => StatusCode::BAD_REQUEST,
            AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::Refused { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::IllegalTransition { .. } | AppError::NotReady { .. } => StatusCode::CONFLICT,
            AppError::Stale { .. } => StatusCode::PRECONDITION_FAILED,
            AppError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            AppError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            AppError::HeadTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            AppError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unavailable | AppError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(detail) = self {
            tracing::error!(error = %detail, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            AppError::Unavailable | AppError::Overloaded(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
            }
            AppError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            AppError::MethodNotAllowed { allowed, .. } => {
                response.insert_header((header::ALLOW, allowed.join(", ")));
            }
            AppError::PreconditionFailed { current } => {
                response.insert_header((header::ETAG, crate::revision::etag_value(*current)));
            }
            _ => {}
        }
        response.body(serde_json::to_vec(&self.problem()).unwrap_or_default())
    }
}

impl From<DieselError> for AppError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => AppError::NotFound("no such resource".into()),
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation => {
                    AppError::Conflict("a resource with this key already exists".into())
                }
                DatabaseErrorKind::ForeignKeyViolation => AppError::Conflict(
                    "the change refers to something that does not exist, or removes something still referred to".into(),
                ),
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => {
                    AppError::Conflict(format!("the change breaks a rule of the data: {}", info.message()))
                }
                DatabaseErrorKind::ClosedConnection => AppError::Unavailable,
                DatabaseErrorKind::SerializationFailure => AppError::Unavailable,
                _ if is_busy(info.message()) => AppError::Unavailable,
                _ => AppError::Internal(format!("database error: {}", info.message())),
            },
            _ => AppError::Internal(error.to_string()),
        }
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(%error, "no database connection within the pool timeout");
        AppError::Unavailable
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        AppError::Internal("the blocking thread pool is gone".into())
    }
}

impl From<crate::db::stored::BadStoredValue> for AppError {
    fn from(error: crate::db::stored::BadStoredValue) -> Self {
        AppError::Internal(error.to_string())
    }
}

impl From<serde_json::Error> for AppError {
    fn from(error: serde_json::Error) -> Self {
        AppError::Internal(format!("stored JSON does not parse: {error}"))
    }
}

/// Short alias used across the crate.
pub type AppResult<T> = Result<T, AppError>;
