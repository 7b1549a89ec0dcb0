//! How long a read may take: past `server.request_timeout_ms` its client hears a 503
//! problem instead of waiting on. Writes are never cut off: a write either commits or not,
//! and its client must hear which.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;

use crate::error::AppError;

/// The longest a read may take.
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeout(pub Duration);

/// Answers a read still unanswered at its deadline with a 503 (`Retry-After`).
pub async fn deadline(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<RequestTimeout>>()
        .map(|t| t.0)
        .filter(|_| matches!(*req.method(), Method::GET | Method::HEAD));
    let Some(limit) = limit else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(answer) => answer.map(ServiceResponse::map_into_boxed_body),
        Err(_) => Err(AppError::Overloaded(format!(
            "the answer took longer than {} ms; retry shortly",
            limit.as_millis()
        ))
        .into()),
    }
}
