//! The anonymous read API under `/public/v1/`: every route a portal, a resident or another
//! system reads without a token, and the one caching policy they share.
//!
//! Published material is read far more than it changes, so every answer here can be kept
//! by a browser, a portal or a CDN and revalidated cheaply: an answer that does not say
//! otherwise may be kept for a minute and then revalidated, varies only by
//! `Accept-Encoding`, and carries an entity tag, so that `If-None-Match` turns the next
//! read into a 304. The published lists set their own (strong, content-addressed) tags and
//! longer lives for immutable versions; this policy covers the rest.

use actix_web::body::{to_bytes_limited, BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

use crate::error::AppError;
use crate::http::expensive::not_modified;

/// What an answer that says nothing else may do: be kept a minute, then revalidated.
pub const DEFAULT_CACHE_CONTROL: &str = "public, max-age=60, must-revalidate";

/// Answers larger than this are sent without a tag rather than held whole to hash them.
const TAGGED_UP_TO: usize = 64 * 1024 * 1024;

/// Registers every anonymous route.
pub fn routes(cfg: &mut crate::http::Routes) {
    crate::publication::public::routes(cfg);
    crate::publication::feed::routes(cfg);
    crate::catalogue::public_routes(cfg);
}

/// Applies the policy to the `GET` answers under `/public/`.
pub async fn caching(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let public = req.method() == Method::GET && req.path().starts_with("/public/");
    let response = next.call(req).await?;
    if !public || response.status() != StatusCode::OK {
        return Ok(response.map_into_boxed_body());
    }
    let mut response = response;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(DEFAULT_CACHE_CONTROL),
        );
    }
    if !headers.contains_key(header::VARY) {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    match headers.get(header::ETAG).cloned() {
        Some(tag) => Ok(revalidated(response, &tag)),
        None => tagged(response).await,
    }
}

/// An answer that carries its own tag, as a 304 when the client holds it.
fn revalidated(
    response: ServiceResponse<impl MessageBody + 'static>,
    tag: &HeaderValue,
) -> ServiceResponse<BoxBody> {
    let strong = tag.as_bytes().strip_prefix(b"W/").unwrap_or(tag.as_bytes());
    let strong = HeaderValue::from_bytes(strong).unwrap_or_else(|_| tag.clone());
    if !not_modified(response.request().headers(), &strong) {
        return response.map_into_boxed_body();
    }
    let (req, res) = response.into_parts();
    let mut answer = res.set_body(BoxBody::new(()));
    *answer.status_mut() = StatusCode::NOT_MODIFIED;
    answer.headers_mut().remove(header::CONTENT_TYPE);
    ServiceResponse::new(req, answer)
}

/// Tags an answer made per request by its bytes: a weak tag, since compression on the way
/// out changes the bytes but not what they say. A streamed answer, or one too large to
/// hold, goes untagged.
async fn tagged(
    response: ServiceResponse<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let small = matches!(
        response.response().body().size(),
        BodySize::Sized(n) if n as usize <= TAGGED_UP_TO
    );
    if !small {
        return Ok(response.map_into_boxed_body());
    }
    let (req, res) = response.into_parts();
    let (head, body) = res.into_parts();
    let bytes = to_bytes_limited(body, TAGGED_UP_TO)
        .await
        .map_err(|_| AppError::Internal("an answer outgrew its declared size".into()))?
        .map_err(|e| AppError::Internal(format!("an answer could not be read: {}", e.into())))?;
    let hash = crate::publication::sha256_hex(&bytes);
    let strong = HeaderValue::try_from(format!("\"{hash}\"")).expect("hex is a header value");
    let weak = HeaderValue::try_from(format!("W/\"{hash}\"")).expect("hex is a header value");
    let mut answer = head.set_body(BoxBody::new(bytes));
    answer.headers_mut().insert(header::ETAG, weak.clone());
    Ok(revalidated(ServiceResponse::new(req, answer), &strong))
}
