//! The audit writer and the chain check.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::db::schema::{audit_events, audit_head};
use crate::db::{now, DbConnection};
use crate::error::AppResult;
use crate::http::PageRequest;
use crate::regions::RegionCode;

/// One audit event.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, UTC.
    pub occurred_at: NaiveDateTime,
    /// Who (`sub`).
    pub actor_sub: String,
    /// For which organisation.
    pub actor_org: String,
    /// With which roles, comma-separated.
    pub actor_roles: String,
    /// The region the change belongs to.
    pub region_code: String,
    /// What was done, e.g. `catalogue.item.update`.
    pub action: String,
    /// The kind of entity.
    pub entity_type: String,
    /// The entity's key.
    pub entity_id: String,
    /// A human summary.
    pub summary: String,
    /// The previous event's hash.
    pub prev_hash: String,
    /// SHA-256 over this event's fields and `prev_hash`.
    pub hash: String,
}

impl AuditEvent {
    fn compute_hash(&self) -> String {
        // A JSON array is an unambiguous encoding of the fields.
        let canonical = serde_json::json!([
            self.seq,
            self.prev_hash,
            self.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            self.actor_sub,
            self.actor_org,
            self.actor_roles,
            self.region_code,
            self.action,
            self.entity_type,
            self.entity_id,
            self.summary,
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// One event to append.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// The region the change belongs to.
    pub region: RegionCode,
    /// What was done.
    pub action: String,
    /// The kind of entity.
    pub entity_type: String,
    /// The entity's key.
    pub entity_id: String,
    /// A human summary.
    pub summary: String,
}

/// Appends an event to the chain. Call it inside the write's transaction, so the event
/// exists exactly when the change does.
pub fn record(
    conn: &mut DbConnection,
    actor: &Principal,
    region: &RegionCode,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    summary: &str,
) -> AppResult<()> {
    record_many(
        conn,
        actor,
        vec![AuditEntry {
            region: region.clone(),
            action: action.into(),
            entity_type: entity_type.into(),
            entity_id: entity_id.into(),
            summary: summary.into(),
        }],
    )
}

/// Appends several events (one per entity a bulk write changed) with one move of the head.
pub fn record_many(
    conn: &mut DbConnection,
    actor: &Principal,
    entries: Vec<AuditEntry>,
) -> AppResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    // Updating the single head row first takes its lock (PostgreSQL) or the write lock
    // (SQLite): concurrent writers queue here, so two events never share a predecessor.
    diesel::update(audit_head::table.find(1))
        .set(audit_head::seq.eq(audit_head::seq + entries.len() as i64))
        .execute(conn)?;
    let (last_seq, mut prev_hash): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    let first_seq = last_seq - entries.len() as i64 + 1;
    let occurred_at = now();
    let roles = actor.role_names();
    let mut events = Vec::with_capacity(entries.len());
    for (offset, entry) in entries.into_iter().enumerate() {
        let mut event = AuditEvent {
            seq: first_seq + offset as i64,
            occurred_at,
            actor_sub: actor.sub.clone(),
            actor_org: actor.org.clone(),
            actor_roles: roles.clone(),
            region_code: entry.region.to_string(),
            action: entry.action,
            entity_type: entry.entity_type,
            entity_id: entry.entity_id,
            summary: entry.summary,
            prev_hash,
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        prev_hash = event.hash.clone();
        events.push(event);
    }
    for chunk in events.chunks(500) {
        crate::insert_batch!(conn, audit_events::table, chunk)?;
    }
    diesel::update(audit_head::table.find(1))
        .set(audit_head::hash.eq(&prev_hash))
        .execute(conn)?;
    Ok(())
}

/// Filters on the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only events in this region.
    pub scope: Option<RegionCode>,
    /// Only this kind of entity.
    pub entity_type: Option<String>,
    /// Only this entity.
    pub entity_id: Option<String>,
    /// From this time, inclusive.
    pub from: Option<NaiveDateTime>,
    /// Until this time, exclusive.
    pub to: Option<NaiveDateTime>,
}

/// A page of events, oldest first.
pub fn list(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    page: PageRequest,
) -> AppResult<(Vec<AuditEvent>, i64)> {
    let query = || {
        let mut q = audit_events::table.into_boxed();
        if let Some(scope) = &filter.scope {
            q = q.filter(audit_events::region_code.like(format!("{}%", scope.scope_prefix())));
        }
        if let Some(t) = &filter.entity_type {
            q = q.filter(audit_events::entity_type.eq(t.clone()));
        }
        if let Some(id) = &filter.entity_id {
            q = q.filter(audit_events::entity_id.eq(id.clone()));
        }
        if let Some(from) = filter.from {
            q = q.filter(audit_events::occurred_at.ge(from));
        }
        if let Some(to) = filter.to {
            q = q.filter(audit_events::occurred_at.lt(to));
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .order(audit_events::seq.asc())
        .limit(page.size)
        .offset(page.offset())
        .select(AuditEvent::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// The result of walking the chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainReport {
    /// True when every event's hash and link check out.
    pub valid: bool,
    /// Events checked.
    pub events_checked: i64,
    /// The first event that does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_seq: Option<i64>,
    /// What is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Walks the whole chain in batches and recomputes every hash.
pub fn verify(conn: &mut DbConnection) -> AppResult<ChainReport> {
    const BATCH: i64 = 2000;
    let (head_seq, head_hash): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    let mut expected_seq = 1;
    let mut prev = "0".repeat(64);
    let bad = |seq: i64, checked: i64, problem: String| ChainReport {
        valid: false,
        events_checked: checked,
        first_bad_seq: Some(seq),
        problem: Some(problem),
    };
    loop {
        let batch: Vec<AuditEvent> = audit_events::table
            .filter(audit_events::seq.ge(expected_seq))
            .order(audit_events::seq.asc())
            .limit(BATCH)
            .select(AuditEvent::as_select())
            .load(conn)?;
        if batch.is_empty() {
            break;
        }
        for event in &batch {
            let checked = expected_seq - 1;
            if event.seq != expected_seq {
                return Ok(bad(
                    expected_seq,
                    checked,
                    format!("event {expected_seq} is missing"),
                ));
            }
            if event.prev_hash != prev {
                return Ok(bad(
                    event.seq,
                    checked,
                    "its link to the previous event is broken".into(),
                ));
            }
            if event.compute_hash() != event.hash {
                return Ok(bad(
                    event.seq,
                    checked,
                    "its content does not match its hash".into(),
                ));
            }
            prev = event.hash.clone();
            expected_seq += 1;
        }
    }
    let checked = expected_seq - 1;
    if checked != head_seq || prev != head_hash {
        return Ok(bad(
            checked + 1,
            checked,
            "the chain does not end at the recorded head".into(),
        ));
    }
    Ok(ChainReport {
        valid: true,
        events_checked: checked,
        first_bad_seq: None,
        problem: None,
    })
}
