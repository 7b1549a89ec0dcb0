//! The audit writer and the chain check.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::Principal;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use hmac::{Hmac, Mac};

use crate::codes::RegionCode;
use crate::db::schema::{audit_anchors, audit_events, audit_head};
use crate::db::{now, DbConnection, BATCH};
use crate::error::{AppError, AppResult};
use crate::keys::{AuditKey, JwkSet, SigningKeys};
use crate::paging::PageRequest;

/// One audit event.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, UTC.
    #[serde(with = "crate::timestamp::utc")]
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
    /// HMAC-SHA256 (under the audit key, which is not in the database) over this event's
    /// fields and `prev_hash`; plain SHA-256 for events older than the keyed chain.
    pub hash: String,
}

impl AuditEvent {
    /// The event's MAC: HMAC-SHA256 under the audit key, or plain SHA-256 for events
    /// written before the chain was keyed.
    fn compute_mac(&self, key: &AuditKey, keyed: bool) -> String {
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
        ])
        .to_string();
        if !keyed {
            return hex::encode(Sha256::digest(canonical.as_bytes()));
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes any key");
        mac.update(canonical.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

thread_local! {
    /// The key the audit writer MACs with on this thread, set by the database handle for
    /// the length of a write (`Db::write_blocking`), so that every write's events are
    /// keyed without the key passing through every domain function.
    static WRITER_KEY: RefCell<Option<Arc<AuditKey>>> = const { RefCell::new(None) };
    /// What the write in progress on this thread has appended, reported once it commits.
    static WRITTEN: RefCell<Written> = const { RefCell::new(Written { actions: Vec::new(), last_seq: None }) };
}

/// What one committed write appended to the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Each event's action, in order.
    pub actions: Vec<String>,
    /// The sequence number of the last event.
    pub last_seq: Option<i64>,
}

/// Forgets what an earlier write on this thread appended (one that did not commit).
pub fn start_written() {
    WRITTEN.with(|w| *w.borrow_mut() = Written::default());
}

/// What the write on this thread has appended since [`start_written`].
pub fn take_written() -> Written {
    WRITTEN.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

tokio::task_local! {
    /// The request being answered: the sequence number of the last event its writes
    /// appended, for its log line.
    static REQUEST_LAST_SEQ: Arc<std::sync::atomic::AtomicI64>;
}

/// Runs `answer` as a request whose writes note their last audit sequence number in `seq`.
pub async fn within_request<F: std::future::Future>(
    seq: Arc<std::sync::atomic::AtomicI64>,
    answer: F,
) -> F::Output {
    REQUEST_LAST_SEQ.scope(seq, answer).await
}

/// Where the request being answered (if any) notes its writes' last sequence number.
pub fn request_seq_slot() -> Option<Arc<std::sync::atomic::AtomicI64>> {
    REQUEST_LAST_SEQ.try_with(Arc::clone).ok()
}

/// The number of events in the chain: its head's sequence number.
pub fn chain_length(conn: &mut DbConnection) -> AppResult<i64> {
    Ok(audit_head::table
        .find(1)
        .select(audit_head::seq)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Runs `f` with `key` as the audit writer's key on this thread.
pub fn with_writer_key<T>(key: Option<&Arc<AuditKey>>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<AuditKey>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            WRITER_KEY.with(|k| *k.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(WRITER_KEY.with(|k| k.replace(key.cloned())));
    f()
}

fn writer_key() -> AppResult<Arc<AuditKey>> {
    WRITER_KEY
        .with(|k| k.borrow().clone())
        .ok_or_else(|| AppError::Internal("a write outside a keyed database handle".into()))
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
    let key = writer_key()?;
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
        event.hash = event.compute_mac(&key, true);
        prev_hash = event.hash.clone();
        events.push(event);
    }
    for chunk in events.chunks(BATCH) {
        crate::insert_batch!(conn, audit_events::table, chunk)?;
    }
    WRITTEN.with(|w| {
        let mut w = w.borrow_mut();
        w.actions.extend(events.iter().map(|e| e.action.clone()));
        w.last_seq = Some(last_seq);
    });
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

/// A signed statement of the chain's head at a moment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Anchor {
    /// The head's sequence number.
    pub audit_seq: i64,
    /// The head event's MAC.
    pub audit_mac: String,
    /// A compact JWS (EdDSA, the publication key) whose payload is
    /// `{"audit_mac","audit_seq","subject"}`.
    pub jws: String,
}

#[derive(Serialize, Deserialize)]
struct AnchorPayload {
    audit_mac: String,
    audit_seq: i64,
    subject: Value,
}

/// Signs the chain's head, as it stands in this transaction, together with `subject`
/// (what the anchor is given with, e.g. a publication), and keeps the anchor. Call it
/// after the write's own events, so the anchor covers them.
pub fn anchor(conn: &mut DbConnection, signer: &SigningKeys, subject: Value) -> AppResult<Anchor> {
    let (seq, mac): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    if seq == 0 {
        return Err(AppError::Internal("an anchor of an empty chain".into()));
    }
    let payload = AnchorPayload {
        audit_mac: mac.clone(),
        audit_seq: seq,
        subject,
    };
    let jws = signer.sign_compact(&serde_json::to_vec(&payload)?);
    diesel::insert_into(audit_anchors::table)
        .values((
            audit_anchors::seq.eq(seq),
            audit_anchors::mac.eq(&mac),
            audit_anchors::subject.eq(payload.subject.to_string()),
            audit_anchors::jws.eq(&jws),
            audit_anchors::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(Anchor {
        audit_seq: seq,
        audit_mac: mac,
        jws,
    })
}

/// The result of walking the chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainReport {
    /// True when every event's MAC and link check out, the chain ends at its head, and
    /// every anchor matches the event it names.
    pub valid: bool,
    /// Events checked.
    pub events_checked: i64,
    /// The first event that does not verify (or is missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_seq: Option<i64>,
    /// Which check failed: `missing`, `link`, `mac`, `anchor`, `anchor-signature`,
    /// `truncated` or `head`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// What is wrong, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Signed anchors compared with the chain.
    pub anchors_checked: i64,
    /// The latest sequence number an anchor vouches for: a chain cut behind it is detected,
    /// events after it only by their MACs and the head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_anchor_seq: Option<i64>,
    /// The first event chained with the key (earlier ones are plain SHA-256).
    pub keyed_from: i64,
}

/// One anchor to hold the chain against, with where it came from.
struct HeldAnchor {
    mac: String,
    source: String,
}

/// The anchors by the sequence number they vouch for, or the first that is forged.
enum Anchors {
    Held(BTreeMap<i64, Vec<HeldAnchor>>),
    Forged { source: String, problem: String },
}

/// Reads and checks the anchors: those kept in the database and any from outside it (a
/// publication feed a portal saved). An anchor whose signature does not verify is itself
/// a finding.
fn held_anchors(conn: &mut DbConnection, keys: &JwkSet, outside: &[String]) -> AppResult<Anchors> {
    let stored: Vec<(i64, String)> = audit_anchors::table
        .order(audit_anchors::id.asc())
        .select((audit_anchors::id, audit_anchors::jws))
        .load(conn)?;
    let all = stored
        .into_iter()
        .map(|(id, jws)| (format!("stored anchor {id}"), jws))
        .chain(
            outside
                .iter()
                .enumerate()
                .map(|(i, jws)| (format!("anchor {} given", i + 1), jws.clone())),
        );
    let mut held: BTreeMap<i64, Vec<HeldAnchor>> = BTreeMap::new();
    for (source, jws) in all {
        let payload = match keys.verify_compact(&jws) {
            Ok(payload) => payload,
            Err(problem) => return Ok(Anchors::Forged { source, problem }),
        };
        let Ok(payload) = serde_json::from_slice::<AnchorPayload>(&payload) else {
            let problem = "its payload is not an anchor".into();
            return Ok(Anchors::Forged { source, problem });
        };
        let source = match payload.subject.get("version") {
            Some(Value::String(version)) => format!("{source} (publication {version})"),
            _ => source,
        };
        held.entry(payload.audit_seq).or_default().push(HeldAnchor {
            mac: payload.audit_mac,
            source,
        });
    }
    Ok(Anchors::Held(held))
}

/// Walks the whole chain in batches: every link and MAC (under `key`), the head, and
/// every signed anchor (checked with `keys`) against the event it names.
pub fn verify(
    conn: &mut DbConnection,
    key: &AuditKey,
    keys: &JwkSet,
    outside_anchors: &[String],
) -> AppResult<ChainReport> {
    // Events read per query while walking the chain.
    const PAGE: i64 = 2000;
    let (head_seq, head_hash, keyed_from): (i64, String, i64) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash, audit_head::keyed_from))
        .first(conn)?;
    let mut report = ChainReport {
        valid: true,
        events_checked: 0,
        first_bad_seq: None,
        check: None,
        problem: None,
        anchors_checked: 0,
        latest_anchor_seq: None,
        keyed_from,
    };
    let anchors = match held_anchors(conn, keys, outside_anchors)? {
        Anchors::Held(anchors) => anchors,
        Anchors::Forged { source, problem } => {
            return Ok(report.bad(None, "anchor-signature", format!("{source}: {problem}")))
        }
    };
    report.anchors_checked = anchors.values().map(|a| a.len() as i64).sum();
    report.latest_anchor_seq = anchors.keys().next_back().copied();
    let mut expected_seq = 1;
    let mut prev = "0".repeat(64);
    loop {
        let batch: Vec<AuditEvent> = audit_events::table
            .filter(audit_events::seq.ge(expected_seq))
            .order(audit_events::seq.asc())
            .limit(PAGE)
            .select(AuditEvent::as_select())
            .load(conn)?;
        if batch.is_empty() {
            break;
        }
        for event in &batch {
            report.events_checked = expected_seq - 1;
            let seq = Some(expected_seq);
            if event.seq != expected_seq {
                let problem = format!("event {expected_seq} is missing");
                return Ok(report.bad(seq, "missing", problem));
            }
            if event.prev_hash != prev {
                let problem = "its link to the previous event is broken".into();
                return Ok(report.bad(seq, "link", problem));
            }
            if event.compute_mac(key, event.seq >= keyed_from) != event.hash {
                let problem = "its content does not match its MAC".into();
                return Ok(report.bad(seq, "mac", problem));
            }
            for anchor in anchors.get(&event.seq).into_iter().flatten() {
                if anchor.mac != event.hash {
                    let problem = format!("it is not the event {} signed", anchor.source);
                    return Ok(report.bad(seq, "anchor", problem));
                }
            }
            prev = event.hash.clone();
            expected_seq += 1;
        }
    }
    let checked = expected_seq - 1;
    report.events_checked = checked;
    if let Some((&anchored, held)) = anchors.range(checked + 1..).next_back() {
        let problem = format!(
            "the chain ends at event {checked}, but {} signed event {anchored}: events were cut from its end",
            held[0].source
        );
        return Ok(report.bad(Some(checked + 1), "truncated", problem));
    }
    if checked != head_seq || prev != head_hash {
        let problem = format!("the chain ends at event {checked}, its recorded head at {head_seq}");
        return Ok(report.bad(Some(checked + 1), "head", problem));
    }
    Ok(report)
}

impl ChainReport {
    fn bad(mut self, seq: Option<i64>, check: &str, problem: String) -> ChainReport {
        self.valid = false;
        self.first_bad_seq = seq;
        self.check = Some(check.into());
        self.problem = Some(problem);
        self
    }
}
