use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::error::{AppError, FieldError};

/// Size limits for request bodies, set from configuration.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// JSON bodies of ordinary writes.
    pub json: usize,
    /// Bulk imports (JSON or CSV).
    pub import: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            json: 256 * 1024,
            import: 16 * 1024 * 1024,
        }
    }
}

/// A JSON body that parsed (400 naming the bad field if not: malformed JSON, wrong
/// types, unknown fields) and passed its field rules (422 listing every bad field).
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T> ValidJson<T> {
    /// The parsed value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = CleanJson::<T>::from_request(req, payload);
        Box::pin(async move {
            let CleanJson(value) = body.await?;
            validate(&value)?;
            Ok(ValidJson(value))
        })
    }
}

/// A JSON body that parsed and passed text hygiene, for a type whose rules are all the
/// domain's (checked against what is stored) rather than field rules of its own.
#[derive(Debug)]
pub struct CleanJson<T>(pub T);

impl<T> CleanJson<T> {
    /// The parsed value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for CleanJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<BodyLimits>>()
            .map(|l| l.json)
            .unwrap_or_else(|| BodyLimits::default().json);
        let content_type_ok = is_json(req);
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(AppError::UnsupportedMediaType(
                    "send the body as application/json".into(),
                )
                .into());
            }
            let bytes = read_limited(&mut payload, limit).await?;
            Ok(CleanJson(parse_json(&bytes)?))
        })
    }
}

fn is_json(req: &HttpRequest) -> bool {
    match req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        Some(ct) => {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        }
        None => false,
    }
}

/// Reads a body of at most `limit` bytes; 413 past that.
pub async fn read_limited(payload: &mut Payload, limit: usize) -> Result<web::Bytes, AppError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(super::payload_error)?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge(format!(
                "the request body is larger than the limit of {limit} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses JSON, naming the path of the first bad field on failure. Every string is
/// cleaned at this boundary first (one normal form, no invisible characters, names on one
/// trimmed line: [`crate::text::clean`]), 422 listing every field that is not.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let malformed = |path: String, message: String| {
        let field = if path == "." || path.is_empty() {
            "body".to_string()
        } else {
            path
        };
        AppError::Malformed {
            detail: format!("the body is not valid JSON for this request: {message}"),
            errors: vec![FieldError::new(field, message)],
        }
    };
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(String::new(), e.to_string()))?;
    let mut errors = Vec::new();
    crate::text::clean_json(&mut value, "", &mut errors);
    AppError::check(errors)?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        malformed(path, err.into_inner().to_string())
    })
}

/// Runs the value's field rules and lists every failure.
pub fn validate<T: Validate>(value: &T) -> Result<(), AppError> {
    match value.validate() {
        Ok(()) => Ok(()),
        Err(errors) => {
            let mut out = Vec::new();
            flatten(&errors, "", &mut out);
            out.sort_by(|a, b| a.field.cmp(&b.field));
            AppError::check(out)
        }
    }
}

fn flatten(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| describe(e));
                    out.push(FieldError::new(path.clone(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

fn describe(error: &validator::ValidationError) -> String {
    let param = |name: &str| error.params.get(name).map(|v| v.to_string());
    match error.code.as_ref() {
        "length" if matches!(error.params.get("value"), Some(serde_json::Value::Array(_))) => {
            match (param("min"), param("max")) {
                (Some(min), Some(max)) => format!("must have {min} to {max} entries"),
                (Some(min), None) => format!("must have at least {min} entries"),
                (None, Some(max)) => format!("must have at most {max} entries"),
                _ => "has the wrong number of entries".into(),
            }
        }
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be {min} to {max} characters long"),
            (Some(min), None) => format!("must be at least {min} characters long"),
            (None, Some(max)) => format!("must be at most {max} characters long"),
            _ => "has the wrong length".into(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "is out of range".into(),
        },
        "regex" => "has the wrong format".into(),
        "required" => "is required".into(),
        code => format!("is invalid ({code})"),
    }
}
