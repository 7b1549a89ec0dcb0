use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::sync::atomic::{AtomicI64, Ordering};

use actix_web::HttpMessage;
use tracing::Instrument;

use crate::auth::Caller;
use crate::error::AppError;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A process-unique id without a system call per request: a random prefix drawn once
/// at start and a counter.
pub(crate) fn next_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::LazyLock;
    static PREFIX: LazyLock<String> =
        LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_string());
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{}-{:x}", *PREFIX, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The longest request target (path and query) answered; longer ones are 414 problems.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// What no route accepts, refused before routing as a problem: an over-long target, and
/// a NUL character in a query parameter (a database would cut the text short there).
fn screen(req: &ServiceRequest) -> Result<(), AppError> {
    let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("");
    if target.len() > MAX_URI_BYTES {
        return Err(AppError::UriTooLong(format!(
            "the request target is {} bytes; at most {MAX_URI_BYTES} are accepted",
            target.len()
        )));
    }
    for pair in req.query_string().split('&') {
        if pair.contains("%00") {
            let field = pair.split('=').next().unwrap_or("query");
            return Err(AppError::invalid(field, "must not contain a NUL character"));
        }
    }
    Ok(())
}

/// Gives every request an id (the caller's `X-Request-Id` if sane, else a new one),
/// runs it inside a tracing span carrying that id, logs its outcome (route template,
/// status, latency, the caller's organisation and roles, the last audit event its writes
/// appended) and echoes the id; counts it in the metrics.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(next_id);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    // HEAD is GET without the body: routed as GET, and actix-http, which saw the HEAD,
    // writes the head of the answer alone.
    let mut req = req;
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    if let Err(refused) = screen(&req) {
        let _entered = span.enter();
        tracing::info!(
            status = refused.problem().status,
            "request refused before routing"
        );
        return Err(refused.into());
    }
    let started = std::time::Instant::now();
    let metrics = req
        .app_data::<actix_web::web::Data<crate::AppState>>()
        .map(|state| state.metrics.clone());
    let method = req.method().as_str().to_owned();
    let last_seq = std::sync::Arc::new(AtomicI64::new(0));
    let result =
        crate::audit::within_request(last_seq.clone(), next.call(req).instrument(span.clone()))
            .await;
    let _entered = span.enter();
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let elapsed = started.elapsed();
            let route = response.request().match_pattern();
            if let Some(metrics) = &metrics {
                metrics.observe_request(route.as_deref(), &method, status, elapsed);
            }
            let caller = response.request().extensions().get::<Caller>().cloned();
            let audit_seq = Some(last_seq.load(Ordering::Relaxed)).filter(|seq| *seq > 0);
            tracing::info!(
                status,
                micros = elapsed.as_micros() as u64,
                route = route.as_deref().unwrap_or("unmatched"),
                org = caller.as_ref().map(|c| c.org.as_str()),
                roles = caller.as_ref().map(|c| c.roles.as_str()),
                audit_seq,
                "request finished"
            );
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(REQUEST_ID, value);
            }
            Ok(response)
        }
        Err(error) => {
            tracing::warn!(%error, "request failed");
            Err(error)
        }
    }
}
