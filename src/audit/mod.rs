//! The audit trail: every write appends a hash-chained event in its own transaction.

mod model;

pub use model::{
    anchor, chain_length, record, record_many, request_seq_slot, start_written, take_written,
    verify, with_writer_key, within_request, Anchor, AuditEntry, AuditEvent, AuditFilter,
    ChainReport, Written,
};

use actix_web::{get, web};
use chrono::NaiveDateTime;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Permission, Principal};
use crate::error::AppResult;
use crate::http::expensive::WorkClass;
use crate::http::{Page, PageParams};
use crate::AppState;

/// Registers the routes.
pub fn routes(cfg: &mut crate::http::Routes) {
    cfg.service(list_audit_events).service(verify_audit_chain);
}

/// Filters on the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entity kind, e.g. `catalogue_item`.
    pub entity_type: Option<String>,
    /// Entity key, e.g. `2026/XK-0001`.
    pub entity_id: Option<String>,
    /// From (inclusive): an RFC 3339 date-time (any offset) or a date (UTC).
    pub from: Option<String>,
    /// Until (exclusive), same forms.
    pub to: Option<String>,
}

fn parse_time(field: &str, value: &str) -> AppResult<NaiveDateTime> {
    crate::timestamp::parse(field, value)
}

/// Audit events in the caller's region, oldest first. `auditor` only.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery, PageParams),
    responses((status = 200, body = Page<AuditEvent>))
)]
#[get("/api/v1/audit")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<AuditQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<AuditEvent>>> {
    principal.require(Permission::ReadAudit, &principal.region)?;
    let page = page.into_inner().resolve()?;
    let query = query.into_inner();
    let filter = AuditFilter {
        scope: Some(principal.region.clone()),
        entity_type: query.entity_type,
        entity_id: query.entity_id,
        from: query
            .from
            .as_deref()
            .map(|v| parse_time("from", v))
            .transpose()?,
        to: query
            .to
            .as_deref()
            .map(|v| parse_time("to", v))
            .transpose()?,
    };
    let (items, total) = state
        .db
        .read(move |conn| model::list(conn, &filter, page))
        .await?;
    Ok(web::Json(page.wrap(items, total)))
}

/// Recompute every MAC and link of the chain, hold it against the signed anchors of its
/// head (a chain cut behind the latest one is detected), and report the first event that
/// does not verify and which check failed. `auditor` only.
#[utoipa::path(
    tag = "audit",
    responses((status = 200, body = ChainReport))
)]
#[get("/api/v1/audit/verify")]
pub async fn verify_audit_chain(
    state: web::Data<AppState>,
    principal: Principal,
) -> AppResult<web::Json<ChainReport>> {
    principal.require(Permission::ReadAudit, &principal.region)?;
    let key = state.db.audit_key()?;
    let publication = state.publication.clone();
    let db = state.db.clone();
    let read = move || {
        db.read_blocking(|conn| model::verify(conn, &key, publication.signing.jwk_set(), &[]))
    };
    let report = state.gates.run(WorkClass::AuditCheck, read).await?;
    Ok(web::Json(report))
}
