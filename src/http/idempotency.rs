//! `Idempotency-Key` on writes (IETF httpapi draft `draft-ietf-httpapi-idempotency-key-
//! header`): a client that lost the answer to a POST sends it again with the same key and
//! gets the first answer back, instead of a second resource or a confusing 409/412.
//!
//! The first request with a key claims it in the database (so a restart or another
//! instance knows it too), runs, and keeps a successful answer for a day with the
//! request's fingerprint. A retry with the same key and the same request replays that
//! answer; with another request it is a 422; while the first still runs, a 409. An answer
//! that is not a success is not kept: nothing was written, so the client may simply retry.

use actix_web::body::{self, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::body::read_limited;
use super::BodyLimits;
use crate::db::schema::idempotency_keys;
use crate::db::{now, Db, DbConnection};
use crate::error::AppError;
use crate::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on an answer that is a replay of the first one.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long an answer is kept for retries, in hours.
const KEPT_HOURS: i64 = 24;
/// A first request still marked as running after this long died with its process; a
/// retry takes its key over.
const ABANDONED_AFTER_MINUTES: i64 = 10;
/// The headers of an answer that a replay carries.
const REPLAYED_HEADERS: [HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::ETAG,
    header::LOCATION,
    header::CONTENT_LOCATION,
    header::CONTENT_DISPOSITION,
];

/// What a key's row says when a request arrives with it.
enum Claim {
    /// The key is this request's now: run it.
    Run,
    /// The same request ran: its answer.
    Replay(StoredAnswer),
    /// The key was used for another request.
    Mismatch,
    /// The first request with the key is still running.
    InFlight,
}

/// An answer kept for replay.
struct StoredAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Checks a key: 1 to 255 visible ASCII characters.
fn parse_key(value: &HeaderValue) -> Result<String, AppError> {
    value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .ok_or_else(|| {
            AppError::BadRequest(
                "Idempotency-Key must be 1 to 255 visible ASCII characters, e.g. a UUID".into(),
            )
        })
}

/// The request's fingerprint: what makes a retry the same request.
fn fingerprint(req: &ServiceRequest, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(req.method().as_str());
    hash.update([0]);
    hash.update(req.uri().to_string());
    for name in [header::CONTENT_TYPE, header::IF_MATCH] {
        hash.update([0]);
        hash.update(req.headers().get(name).map(|v| v.as_bytes()).unwrap_or(b""));
    }
    hash.update([0]);
    hash.update(body);
    hex::encode(hash.finalize())
}

type KeyRow = (
    String,
    Option<i32>,
    Option<String>,
    Option<Vec<u8>>,
    NaiveDateTime,
);

/// Claims `key` for `owner`'s request, or says what an earlier one left.
fn claim(
    conn: &mut DbConnection,
    owner: &str,
    key: &str,
    fingerprint: &str,
    target: &str,
) -> Result<Claim, AppError> {
    let at = now();
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::created_at.lt(at - chrono::Duration::hours(KEPT_HOURS))),
    )
    .execute(conn)?;
    let existing: Option<KeyRow> = idempotency_keys::table
        .find((owner, key))
        .select((
            idempotency_keys::fingerprint,
            idempotency_keys::status,
            idempotency_keys::headers,
            idempotency_keys::body,
            idempotency_keys::created_at,
        ))
        .first(conn)
        .optional()?;
    match existing {
        None => {
            diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::owner.eq(owner),
                    idempotency_keys::idem_key.eq(key),
                    idempotency_keys::fingerprint.eq(fingerprint),
                    idempotency_keys::target.eq(target),
                    idempotency_keys::created_at.eq(at),
                ))
                .execute(conn)?;
            Ok(Claim::Run)
        }
        Some((_, None, _, _, started))
            if started < at - chrono::Duration::minutes(ABANDONED_AFTER_MINUTES) =>
        {
            diesel::update(idempotency_keys::table.find((owner, key)))
                .set((
                    idempotency_keys::fingerprint.eq(fingerprint),
                    idempotency_keys::target.eq(target),
                    idempotency_keys::created_at.eq(at),
                ))
                .execute(conn)?;
            Ok(Claim::Run)
        }
        Some((_, None, _, _, _)) => Ok(Claim::InFlight),
        Some((stored, _, _, _, _)) if stored != fingerprint => Ok(Claim::Mismatch),
        Some((_, Some(status), headers, body, _)) => Ok(Claim::Replay(StoredAnswer {
            status: status as u16,
            headers: serde_json::from_str(headers.as_deref().unwrap_or("[]"))?,
            body: body.unwrap_or_default(),
        })),
    }
}

/// Keeps the answer of a request that ran, or frees its key when it did not succeed.
fn settle(db: &Db, owner: &str, key: &str, answer: Option<StoredAnswer>) -> Result<(), AppError> {
    let target = idempotency_keys::table.find((owner, key));
    db.write_blocking(|conn| {
        match answer {
            Some(answer) => {
                diesel::update(target)
                    .set((
                        idempotency_keys::status.eq(answer.status as i32),
                        idempotency_keys::headers.eq(serde_json::to_string(&answer.headers)?),
                        idempotency_keys::body.eq(answer.body),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::delete(target).execute(conn)?;
            }
        }
        Ok(())
    })
}

fn replay(answer: StoredAnswer) -> HttpResponse {
    let mut response = HttpResponse::build(
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    for (name, value) in &answer.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    response
        .insert_header((REPLAYED, HeaderValue::from_static("true")))
        .body(answer.body)
}

/// The middleware: POSTs carrying `Idempotency-Key` from an authenticated caller.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY).cloned() else {
        // Most requests: passed through untouched, without boxing their bodies.
        return Ok(next.call(req).await?.map_into_left_body());
    };
    // Keys belong to the caller; a request without a valid token is refused by its route.
    let owner = match (req.method(), crate::auth::subject(req.request())) {
        (&Method::POST, Some(owner)) => owner,
        _ => return Ok(next.call(req).await?.map_into_left_body()),
    };
    let key = parse_key(&value)?;
    let (state, limit) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.app_data::<web::Data<BodyLimits>>()
            .map(|l| l.import)
            .unwrap_or_else(|| BodyLimits::default().import),
    );
    let state = state.ok_or_else(|| AppError::Internal("no application state".into()))?;
    let body = read_limited(&mut req.take_payload(), limit).await?;
    let fingerprint = fingerprint(&req, &body);
    let target = req.uri().to_string();
    let claimed = {
        let (owner, key) = (owner.clone(), key.clone());
        state
            .db
            .write(move |conn| claim(conn, &owner, &key, &fingerprint, &target))
            .await?
    };
    match claimed {
        Claim::Replay(answer) => {
            return Ok(req
                .into_response(replay(answer))
                .map_into_boxed_body()
                .map_into_right_body())
        }
        Claim::Mismatch => {
            return Err(AppError::invalid(
                "Idempotency-Key",
                "this key was used for another request; use a new key for a new request",
            )
            .into())
        }
        Claim::InFlight => {
            return Err(AppError::Conflict(
                "the first request with this Idempotency-Key is still running; retry shortly"
                    .into(),
            )
            .into())
        }
        Claim::Run => {}
    }
    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    req.set_payload(payload.into());
    let response = next.call(req).await;
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            let db = state.db.clone();
            let _ = web::block(move || settle(&db, &owner, &key, None)).await;
            return Err(error);
        }
    };
    let (request, response) = response.into_parts();
    let status = response.status();
    let headers: Vec<(String, String)> = REPLAYED_HEADERS
        .iter()
        .filter_map(|name| {
            let value = response.headers().get(name)?.to_str().ok()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect();
    let (response, body) = response.into_parts();
    let bytes = body::to_bytes(body)
        .await
        .map_err(|_| AppError::Internal("an answer could not be read to keep it".into()))?;
    let kept = status.is_success().then(|| StoredAnswer {
        status: status.as_u16(),
        headers,
        body: bytes.to_vec(),
    });
    let db = state.db.clone();
    // The write is done whatever happens here: the client gets its answer. A key left
    // marked as running is taken over by a retry once abandoned.
    match web::block(move || settle(&db, &owner, &key, kept)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "an idempotent answer was not kept"),
        Err(error) => tracing::warn!(%error, "an idempotent answer was not kept"),
    }
    Ok(ServiceResponse::new(request, response.set_body(BoxBody::new(bytes))).map_into_right_body())
}
