//! Claiming rounds and claims: rows, opening a round, transitions in bulk, queries.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::opening::{plan_opening, Offer, OfferedItem, OpeningContext};
use super::plan::{self, ClaimKey, ClaimPlan, Loaded};
use super::state::{Action, ClaimState};
use crate::audit;
use crate::auth::{Permission, Principal};
use crate::catalogue::Edition;
use crate::db::schema::{
    catalogue_items, claim_events, claim_rounds, claims, organisations, regions,
};
use crate::db::{now, DbConnection, BATCH};
use crate::error::{AppError, AppResult};
use crate::organisations::Organisation;
use crate::paging::PageRequest;
use crate::regions::{Level, RegionCode};
use crate::revision;

/// Whether a round still takes answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoundStatus {
    /// Answers and confirmations are taken.
    Open,
    /// Closed by the compiler; claims are final.
    Closed,
}

crate::stored_states!(RoundStatus {
    Open => "open",
    Closed => "closed",
});

/// A claiming round as stored.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = claim_rounds)]
pub struct Round {
    /// Round id.
    pub id: i64,
    /// The county that offers.
    #[serde(rename = "county")]
    pub county_code: String,
    /// The published catalogue edition the items come from.
    #[serde(rename = "edition")]
    pub edition_code: String,
    /// Title, e.g. 2026年第一批賦權事項雙向認領.
    pub title: String,
    /// Answers are due by this date.
    pub deadline: NaiveDate,
    /// `open` or `closed`.
    #[diesel(deserialize_as = String)]
    pub status: RoundStatus,
    /// Revision, also the ETag.
    pub revision: i64,
    /// Opened, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub created_at: NaiveDateTime,
    /// Last changed, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub updated_at: NaiveDateTime,
    /// Closed, UTC.
    #[serde(with = "crate::timestamp::utc_option")]
    pub closed_at: Option<NaiveDateTime>,
    /// Changes to the round's statistics so far.
    #[serde(skip)]
    pub counts_revision: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = claim_rounds)]
struct NewRoundRow<'a> {
    county_code: &'a str,
    edition_code: &'a str,
    title: &'a str,
    deadline: NaiveDate,
    status: &'a str,
    revision: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    items_offered: i64,
}

/// A round with the size of its offer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoundView {
    /// The round.
    #[serde(flatten)]
    pub round: Round,
    /// Townships offered to.
    pub townships: i64,
    /// Items offered.
    pub items: i64,
    /// Claims (townships × items).
    pub claims: i64,
}

/// Opening a round.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRound {
    /// A published catalogue edition of the county's province.
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub edition: String,
    /// Title.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Answers due by (YYYY-MM-DD), today or later.
    pub deadline: NaiveDate,
    /// Item codes to offer (delegable items only); all delegable items when absent.
    #[serde(default)]
    pub items: Option<Vec<String>>,
    /// Township codes to offer to; every township of the county when absent.
    #[serde(default)]
    pub townships: Option<Vec<String>>,
}

/// A claim as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = claims)]
pub struct ClaimRecord {
    pub id: i64,
    pub round_id: i64,
    pub township_code: String,
    pub item_id: i64,
    pub item_code: String,
    pub category: String,
    pub domain: String,
    pub sector: String,
    #[diesel(deserialize_as = String)]
    pub state: ClaimState,
    pub unit_code: Option<String>,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub revision: i64,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = claims)]
struct NewClaimRow {
    round_id: i64,
    township_code: String,
    item_id: i64,
    item_code: String,
    category: String,
    domain: String,
    sector: String,
    state: &'static str,
    revision: i64,
    updated_at: NaiveDateTime,
    updated_by: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = claim_events)]
struct NewEventRow {
    claim_id: i64,
    from_state: &'static str,
    to_state: &'static str,
    actor_sub: String,
    actor_org: String,
    unit_code: Option<String>,
    comment: Option<String>,
    occurred_at: NaiveDateTime,
}

/// One claim: a (township, item) pair of a round and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Claim {
    /// Claim id.
    pub id: i64,
    /// The round.
    pub round: i64,
    /// The township's division code.
    pub township: String,
    /// The township's name.
    pub township_name: String,
    /// The item's code.
    pub item: String,
    /// The item's name.
    pub item_name: String,
    /// Item-type code.
    pub category: String,
    /// Domain.
    pub domain: String,
    /// Sector of the department that gives the power up.
    pub sector: String,
    /// Where the claim stands.
    pub state: ClaimState,
    /// The township unit that exercises the power (claimed, confirmed).
    pub unit: Option<String>,
    /// Why the township deferred or declined.
    pub reason: Option<String>,
    /// The department's note when it returned the claim.
    pub note: Option<String>,
    /// Revision, for If-Match or the `revision` of a bulk request.
    pub revision: i64,
    /// Last changed, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub updated_at: NaiveDateTime,
    /// Who changed it last.
    pub updated_by: String,
}

/// One step of a claim's history.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = claim_events)]
pub struct ClaimEvent {
    /// Event id.
    pub id: i64,
    /// The claim.
    #[serde(skip)]
    pub claim_id: i64,
    /// State before.
    #[diesel(deserialize_as = String)]
    pub from_state: ClaimState,
    /// State after.
    #[diesel(deserialize_as = String)]
    pub to_state: ClaimState,
    /// Who.
    pub actor_sub: String,
    /// For which organisation.
    pub actor_org: String,
    /// The unit named, when claiming.
    pub unit_code: Option<String>,
    /// Reason, note or comment given.
    pub comment: Option<String>,
    /// When, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub occurred_at: NaiveDateTime,
}

/// A claim with its history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClaimDetail {
    /// The claim.
    #[serde(flatten)]
    pub claim: Claim,
    /// Every transition, oldest first.
    pub history: Vec<ClaimEvent>,
}

/// One change asked for in a bulk request.
#[derive(Debug, Clone)]
pub struct ChangeRequest {
    /// 1-based position in the request, for the error report.
    pub row: usize,
    /// The claim's township.
    pub township: String,
    /// The claim's item code.
    pub item: String,
    /// What to do.
    pub action: Action,
    /// The revision the caller saw; `None` answers 428.
    pub revision: Option<i64>,
    /// The unit, for `claim`.
    pub unit: Option<String>,
    /// Reason (defer, decline, reopen) or note (return, confirm).
    pub comment: Option<String>,
}

/// Filters on a round's claims.
#[derive(Debug, Clone, Default)]
pub struct ClaimFilter {
    /// Only this township.
    pub township: Option<String>,
    /// Only these states (any, when empty).
    pub states: Vec<ClaimState>,
    /// No claim at all (nothing waits for this reader).
    pub nothing: bool,
    /// Only this item-type code.
    pub category: Option<String>,
    /// Only this domain.
    pub domain: Option<String>,
    /// Only this sector.
    pub sector: Option<String>,
    /// Only this item.
    pub item: Option<String>,
}

/// Who may read a county's rounds: county roles in scope, and the clerks of its townships
/// (who then see their own township only).
pub fn ensure_can_read(reader: &Principal, county: &RegionCode) -> AppResult<()> {
    reader.require_related(Permission::ReadClaims, county)
}

/// The township a reader is confined to, if any.
pub fn reader_township(reader: &Principal) -> Option<String> {
    (reader.region.level() == Level::Township).then(|| reader.region.to_string())
}

/// A township clerk acts for a unit of the township it answers for.
pub const UNIT_OF_TOWNSHIP: &str = "unit-of-township";

/// A township clerk answers only for the township its organisation belongs to, whatever
/// region its token names.
fn check_clerk_unit(
    clerk_unit: Option<&Organisation>,
    actor: &Principal,
    township: &RegionCode,
) -> AppResult<()> {
    if clerk_unit.is_some_and(|org| org.region_code == township.as_str()) {
        return Ok(());
    }
    Err(AppError::refused(
        UNIT_OF_TOWNSHIP,
        format!(
            "your organisation {} is not a registered unit of township {township}: a clerk answers for its own township only",
            actor.org
        ),
    ))
}

impl Round {
    /// One round.
    pub fn find(conn: &mut DbConnection, id: i64) -> AppResult<Round> {
        claim_rounds::table
            .find(id)
            .select(Round::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::NotFound(format!("no claiming round {id}")))
    }

    /// The county as a code.
    pub fn county(&self) -> RegionCode {
        RegionCode::parse(&self.county_code).expect("stored codes are valid")
    }

    fn ensure_open(&self) -> AppResult<()> {
        if self.status == RoundStatus::Open {
            Ok(())
        } else {
            Err(AppError::Conflict(format!(
                "claiming round {} is closed",
                self.id
            )))
        }
    }

    /// The round with the size of its offer.
    pub fn view(self, conn: &mut DbConnection) -> AppResult<RoundView> {
        let base = claims::table.filter(claims::round_id.eq(self.id));
        let claims_count: i64 = base.count().get_result(conn)?;
        let townships: i64 = base
            .select(diesel::dsl::count(claims::township_code).aggregate_distinct())
            .get_result(conn)?;
        let items: i64 = base
            .select(diesel::dsl::count(claims::item_code).aggregate_distinct())
            .get_result(conn)?;
        Ok(RoundView {
            round: self,
            townships,
            items,
            claims: claims_count,
        })
    }

    /// A county's rounds, newest first.
    pub fn list(
        conn: &mut DbConnection,
        county: &str,
        page: PageRequest,
    ) -> AppResult<(Vec<RoundView>, i64)> {
        let total = claim_rounds::table
            .filter(claim_rounds::county_code.eq(county))
            .count()
            .get_result(conn)?;
        let rounds: Vec<Round> = claim_rounds::table
            .filter(claim_rounds::county_code.eq(county))
            .order(claim_rounds::id.desc())
            .limit(page.size)
            .offset(page.offset())
            .select(Round::as_select())
            .load(conn)?;
        let ids: Vec<i64> = rounds.iter().map(|r| r.id).collect();
        let sizes: HashMap<i64, (i64, i64, i64)> = claims::table
            .filter(claims::round_id.eq_any(&ids))
            .group_by(claims::round_id)
            .select((
                claims::round_id,
                diesel::dsl::count_star(),
                diesel::dsl::count(claims::township_code).aggregate_distinct(),
                diesel::dsl::count(claims::item_code).aggregate_distinct(),
            ))
            .load::<(i64, i64, i64, i64)>(conn)?
            .into_iter()
            .map(|(id, n, t, i)| (id, (n, t, i)))
            .collect();
        let views = rounds
            .into_iter()
            .map(|round| {
                let (claims, townships, items) = sizes.get(&round.id).copied().unwrap_or_default();
                RoundView {
                    round,
                    townships,
                    items,
                    claims,
                }
            })
            .collect();
        Ok((views, total))
    }

    /// Opens a round: one `offered` claim per township and offered item.
    pub fn open(
        conn: &mut DbConnection,
        actor: &Principal,
        county_code: &str,
        input: NewRound,
    ) -> AppResult<RoundView> {
        let county = crate::regions::county_path(county_code)?;
        actor.require(Permission::ManageClaimRounds, &county)?;
        let edition = match Edition::find(conn, &input.edition) {
            Ok(edition) => Some(edition),
            Err(AppError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let townships: BTreeMap<String, String> = regions::table
            .filter(regions::parent_code.eq(county.as_str()))
            .filter(regions::level.eq(Level::Township.as_str()))
            .select((regions::code, regions::name))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect();
        let items = match &edition {
            Some(edition) => Round::items_of(conn, &edition.code)?,
            None => BTreeMap::new(),
        };
        let context = OpeningContext {
            county: &county,
            edition: edition.as_ref(),
            townships: &townships,
            items: &items,
            today: crate::db::today(),
        };
        let offer = plan_opening(&input, &context)?;
        let round_id = Round::store_opening(conn, actor, &county, &input, &offer)?;
        Round::find(conn, round_id)?.view(conn)
    }

    /// An edition's items as a round offers them, by code.
    fn items_of(
        conn: &mut DbConnection,
        edition: &str,
    ) -> AppResult<BTreeMap<String, OfferedItem>> {
        Ok(catalogue_items::table
            .filter(catalogue_items::edition_code.eq(edition))
            .select((
                catalogue_items::id,
                catalogue_items::code,
                catalogue_items::source,
                catalogue_items::category,
                catalogue_items::domain,
                catalogue_items::sector,
            ))
            .load::<(i64, String, String, String, String, String)>(conn)?
            .into_iter()
            .map(|(id, code, source, category, domain, sector)| {
                let item = OfferedItem {
                    id,
                    code: code.clone(),
                    source,
                    category,
                    domain,
                    sector,
                };
                (code, item)
            })
            .collect())
    }

    /// Writes a planned round: the round, a claim per (township, item), the audit entry.
    fn store_opening(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
        input: &NewRound,
        offer: &Offer,
    ) -> AppResult<i64> {
        let stamp = now();
        let round_id = crate::insert_returning_id!(
            conn,
            claim_rounds::table,
            &NewRoundRow {
                county_code: county.as_str(),
                edition_code: &input.edition,
                title: &input.title,
                deadline: input.deadline,
                status: RoundStatus::Open.as_str(),
                revision: 1,
                created_at: stamp,
                updated_at: stamp,
                items_offered: offer.items.len() as i64,
            },
            claim_rounds::id
        )?;
        let rows: Vec<NewClaimRow> = offer
            .townships
            .iter()
            .flat_map(|township| {
                offer.items.iter().map(move |item| NewClaimRow {
                    round_id,
                    township_code: township.clone(),
                    item_id: item.id,
                    item_code: item.code.clone(),
                    category: item.category.clone(),
                    domain: item.domain.clone(),
                    sector: item.sector.clone(),
                    state: ClaimState::Offered.as_str(),
                    revision: 1,
                    updated_at: stamp,
                    updated_by: actor.sub.clone(),
                })
            })
            .collect();
        for chunk in rows.chunks(BATCH) {
            crate::insert_batch!(conn, claims::table, chunk)?;
        }
        let cells = rows
            .iter()
            .map(|r| (&*r.township_code, &*r.category, &*r.domain));
        super::stats::ClaimCounts::open(conn, round_id, cells)?;
        audit::record(
            conn,
            actor,
            county,
            "claims.round.open",
            "claim_round",
            &round_id.to_string(),
            &format!(
                "opened round {round_id} \"{}\" on edition {}: {} items to {} townships, due {}",
                input.title,
                input.edition,
                offer.items.len(),
                offer.townships.len(),
                input.deadline
            ),
        )?;
        Ok(round_id)
    }

    /// Closes a round: no more answers or confirmations.
    pub fn close(
        conn: &mut DbConnection,
        actor: &Principal,
        id: i64,
        expected: i64,
    ) -> AppResult<RoundView> {
        let round = Round::find(conn, id)?;
        actor.require(Permission::ManageClaimRounds, &round.county())?;
        revision::require(expected, round.revision)?;
        round.ensure_open()?;
        let stamp = now();
        let changed = diesel::update(
            claim_rounds::table
                .find(id)
                .filter(claim_rounds::revision.eq(round.revision)),
        )
        .set((
            claim_rounds::status.eq(RoundStatus::Closed.as_str()),
            claim_rounds::closed_at.eq(stamp),
            claim_rounds::revision.eq(round.revision + 1),
            claim_rounds::updated_at.eq(stamp),
        ))
        .execute(conn)?;
        revision::guarded(changed, || {
            Ok(claim_rounds::table
                .find(id)
                .select(claim_rounds::revision)
                .first(conn)?)
        })?;
        let open: i64 = claims::table
            .filter(claims::round_id.eq(id))
            .filter(claims::state.eq_any([
                ClaimState::Offered.as_str(),
                ClaimState::Claimed.as_str(),
                ClaimState::Returned.as_str(),
            ]))
            .count()
            .get_result(conn)?;
        audit::record(
            conn,
            actor,
            &round.county(),
            "claims.round.close",
            "claim_round",
            &id.to_string(),
            &format!("closed round {id}; {open} claims were still undecided"),
        )?;
        Round::find(conn, id)?.view(conn)
    }
}

/// Claim queries and transitions.
pub struct Claims;

type ClaimRow = (ClaimRecord, String, String);

fn to_view((record, item_name, township_name): ClaimRow) -> Claim {
    Claim {
        id: record.id,
        round: record.round_id,
        township: record.township_code,
        township_name,
        item: record.item_code,
        item_name,
        category: record.category,
        domain: record.domain,
        sector: record.sector,
        state: record.state,
        unit: record.unit_code,
        reason: record.reason,
        note: record.note,
        revision: record.revision,
        updated_at: record.updated_at,
        updated_by: record.updated_by,
    }
}

impl Claims {
    /// A page of a round's claims, by township then item.
    pub fn list(
        conn: &mut DbConnection,
        round: i64,
        filter: &ClaimFilter,
        page: PageRequest,
    ) -> AppResult<(Vec<Claim>, i64)> {
        if filter.nothing {
            return Ok((Vec::new(), 0));
        }
        let query = || {
            let mut q = claims::table
                .inner_join(catalogue_items::table)
                .inner_join(regions::table)
                .filter(claims::round_id.eq(round))
                .into_boxed();
            if let Some(v) = &filter.township {
                q = q.filter(claims::township_code.eq(v.clone()));
            }
            if !filter.states.is_empty() {
                q = q.filter(claims::state.eq_any(filter.states.iter().map(|s| s.as_str())));
            }
            if let Some(v) = &filter.category {
                q = q.filter(claims::category.eq(v.clone()));
            }
            if let Some(v) = &filter.domain {
                q = q.filter(claims::domain.eq(v.clone()));
            }
            if let Some(v) = &filter.sector {
                q = q.filter(claims::sector.eq(v.clone()));
            }
            if let Some(v) = &filter.item {
                q = q.filter(claims::item_code.eq(v.clone()));
            }
            q
        };
        let total = query().count().get_result(conn)?;
        let rows = query()
            .order((claims::township_code.asc(), claims::item_code.asc()))
            .limit(page.size)
            .offset(page.offset())
            .select((
                ClaimRecord::as_select(),
                catalogue_items::name,
                regions::name,
            ))
            .load::<ClaimRow>(conn)?;
        Ok((rows.into_iter().map(to_view).collect(), total))
    }

    /// Every claim of a round (the CSV export), by township then item.
    pub fn all(conn: &mut DbConnection, round: i64, filter: &ClaimFilter) -> AppResult<Vec<Claim>> {
        let page = PageRequest {
            page: 1,
            size: i64::MAX / 2,
        };
        Ok(Claims::list(conn, round, filter, page)?.0)
    }

    fn by_ids(conn: &mut DbConnection, ids: &[i64]) -> AppResult<Vec<Claim>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let rows = claims::table
                .inner_join(catalogue_items::table)
                .inner_join(regions::table)
                .filter(claims::id.eq_any(chunk))
                .order((claims::township_code.asc(), claims::item_code.asc()))
                .select((
                    ClaimRecord::as_select(),
                    catalogue_items::name,
                    regions::name,
                ))
                .load::<ClaimRow>(conn)?;
            out.extend(rows.into_iter().map(to_view));
        }
        Ok(out)
    }

    /// One claim with its history.
    pub fn detail(conn: &mut DbConnection, id: i64) -> AppResult<(ClaimDetail, RegionCode)> {
        let claim = Claims::by_ids(conn, &[id])?
            .pop()
            .ok_or_else(|| AppError::NotFound(format!("no claim {id}")))?;
        let round = Round::find(conn, claim.round)?;
        let history = claim_events::table
            .filter(claim_events::claim_id.eq(id))
            .order(claim_events::id.asc())
            .select(ClaimEvent::as_select())
            .load(conn)?;
        Ok((ClaimDetail { claim, history }, round.county()))
    }

    /// Finds one claim by id, for single-claim actions.
    pub fn locate(conn: &mut DbConnection, id: i64) -> AppResult<ClaimRecord> {
        claims::table
            .find(id)
            .select(ClaimRecord::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::NotFound(format!("no claim {id}")))
    }

    /// Applies a batch of transitions to one round, all or nothing. Authorisation, then
    /// every request is checked (422 for bad input, 428 for a missing revision, 412 for a
    /// stale one, 409 for an illegal transition, each listing every offending row), then
    /// the claims change with one statement per distinct outcome, each claim's history
    /// grows by one event and the audit chain by one event per claim.
    pub fn apply(
        conn: &mut DbConnection,
        actor: &Principal,
        round_id: i64,
        requests: Vec<ChangeRequest>,
    ) -> AppResult<Vec<Claim>> {
        let round = Round::find(conn, round_id)?;
        if requests.is_empty() {
            return Err(AppError::invalid(
                "answers",
                "the request changes no claims",
            ));
        }
        let department = Claims::authorise(conn, actor, &round.county(), &requests)?;
        round.ensure_open()?;
        let loaded = Loaded {
            round_id,
            claims: Claims::named(conn, round_id, &requests)?,
            units: Claims::units_named(conn, &requests)?,
            department: department.map(|d| (d.code, d.sector.unwrap_or_default())),
        };
        let plan = plan::plan(&requests, &loaded)?;
        Claims::store(conn, actor, &plan)?;
        Claims::by_ids(conn, &plan.ids)
    }

    /// Checks the actor may make every (action, township) the requests name; returns the
    /// actor's department when the change confirms or returns.
    fn authorise(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
        requests: &[ChangeRequest],
    ) -> AppResult<Option<Organisation>> {
        let acts = |permission| requests.iter().any(|r| r.action.permission() == permission);
        let department = if acts(Permission::ConfirmClaims) {
            actor.require(Permission::ConfirmClaims, county)?;
            Some(Organisation::department_of_actor(conn, actor, county)?)
        } else {
            None
        };
        let clerk_unit = if acts(Permission::AnswerClaims) {
            Organisation::of_actor(conn, actor)?
        } else {
            None
        };
        let mut checked_scopes = HashSet::new();
        for request in requests {
            if !checked_scopes.insert((request.action.permission(), request.township.clone())) {
                continue;
            }
            let township = RegionCode::parse(&request.township)
                .map_err(|e| AppError::invalid("township", e))?;
            if !county.contains(&township) || township.level() != Level::Township {
                return Err(AppError::invalid(
                    "township",
                    format!("{township} is not a township of {county}"),
                ));
            }
            actor.require(request.action.permission(), &township)?;
            if request.action.permission() == Permission::AnswerClaims {
                check_clerk_unit(clerk_unit.as_ref(), actor, &township)?;
            }
        }
        Ok(department)
    }

    /// The claims of the round the requests name, by (township, item).
    fn named(
        conn: &mut DbConnection,
        round_id: i64,
        requests: &[ChangeRequest],
    ) -> AppResult<HashMap<ClaimKey, ClaimRecord>> {
        let mut found = HashMap::new();
        let townships: HashSet<&str> = requests.iter().map(|r| r.township.as_str()).collect();
        for township in townships {
            let codes: Vec<&str> = requests
                .iter()
                .filter(|r| r.township == township)
                .map(|r| r.item.as_str())
                .collect();
            for chunk in codes.chunks(BATCH) {
                for record in claims::table
                    .filter(claims::round_id.eq(round_id))
                    .filter(claims::township_code.eq(township))
                    .filter(claims::item_code.eq_any(chunk))
                    .select(ClaimRecord::as_select())
                    .load::<ClaimRecord>(conn)?
                {
                    let key = (record.township_code.clone(), record.item_code.clone());
                    found.insert(key, record);
                }
            }
        }
        Ok(found)
    }

    /// The organisations the requests name as units: code → (kind, region).
    fn units_named(
        conn: &mut DbConnection,
        requests: &[ChangeRequest],
    ) -> AppResult<HashMap<String, (String, String)>> {
        let codes: Vec<&str> = requests.iter().filter_map(|r| r.unit.as_deref()).collect();
        let mut units = HashMap::new();
        for chunk in codes.chunks(BATCH) {
            units.extend(
                organisations::table
                    .filter(organisations::code.eq_any(chunk))
                    .select((
                        organisations::code,
                        (organisations::kind, organisations::region_code),
                    ))
                    .load::<(String, (String, String))>(conn)?,
            );
        }
        Ok(units)
    }

    /// Writes a plan: one guarded UPDATE per outcome (a concurrent writer that committed
    /// after the claims were read fails it), the history, the audit entries.
    fn store(conn: &mut DbConnection, actor: &Principal, plan: &ClaimPlan) -> AppResult<()> {
        let stamp = now();
        for (outcome, ids) in &plan.updates {
            for chunk in ids.chunks(BATCH) {
                let changed = diesel::update(
                    claims::table
                        .filter(claims::id.eq_any(chunk))
                        .filter(claims::revision.eq(outcome.revision)),
                )
                .set((
                    claims::state.eq(outcome.to.as_str()),
                    claims::unit_code.eq(&outcome.unit),
                    claims::reason.eq(&outcome.reason),
                    claims::note.eq(&outcome.note),
                    claims::revision.eq(outcome.revision + 1),
                    claims::updated_at.eq(stamp),
                    claims::updated_by.eq(&actor.sub),
                ))
                .execute(conn)?;
                if changed != chunk.len() {
                    return Err(AppError::Stale {
                        detail:
                            "claims changed while this request was applied; nothing was written"
                                .into(),
                        errors: Vec::new(),
                    });
                }
            }
        }
        let events: Vec<NewEventRow> = plan
            .steps
            .iter()
            .map(|step| NewEventRow {
                claim_id: step.claim_id,
                from_state: step.from.as_str(),
                to_state: step.to.as_str(),
                actor_sub: actor.sub.clone(),
                actor_org: actor.org.clone(),
                unit_code: step.unit.clone(),
                comment: step.comment.clone(),
                occurred_at: stamp,
            })
            .collect();
        for chunk in events.chunks(BATCH) {
            crate::insert_batch!(conn, claim_events::table, chunk)?;
        }
        super::stats::ClaimCounts::apply(conn, plan.round_id, &plan.counts)?;
        audit::record_many(conn, actor, plan.audit.clone())
    }
}
