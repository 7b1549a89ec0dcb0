//! Two-way claiming (雙向認領): a county offers delegable powers to its townships in
//! rounds; each township claims, defers or declines; the county department that gives
//! the power up confirms or returns. Out of it comes each township's power set.

mod model;
mod opening;
mod plan;
mod power_set;
mod state;
mod stats;

pub use model::{
    ChangeRequest, Claim, ClaimDetail, ClaimEvent, ClaimFilter, Claims, NewRound, Round,
    RoundStatus, RoundView,
};
pub use power_set::{latest_edition, power_set, Holding, Power, PowerSet, UnitRef};
pub use state::{Action, ClaimState};
pub use stats::{
    recounted_statistics, region_statistics, round_statistics, undecided, CategoryTally,
    ClaimCounts, CountCell, CountyRollup, DomainTally, ItemOutcome, ItemOutcomeKind, ItemsSummary,
    RegionStatistics, RoundStatistics, Tally, TownshipTally, Undecided,
};

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::auth::{Permission, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::http::expensive::{shared_json, WorkClass};
use crate::http::{with_etag, write_csv, IfMatch, Page, PageParams, ValidJson};
use crate::regions::{county_path, Level, RegionCode};
use crate::AppState;

/// Registers the routes.
pub fn routes(cfg: &mut crate::http::Routes) {
    cfg.service(open_round)
        .service(list_rounds)
        .service(get_round)
        .service(close_round)
        .service(list_claims)
        .service(export_claims)
        .service(get_round_statistics)
        .service(get_region_claim_statistics)
        .service(answer_claims)
        .service(confirm_claims)
        .service(get_claim)
        .service(reopen_claim)
        .service(get_power_set);
}

/// Open a claiming round for a county: the chosen (default: all) delegable items of a
/// published edition, to the chosen (default: all) townships. `county_compiler`.
#[utoipa::path(
    tag = "claims",
    params(("county" = String, Path, description = "County division code")),
    request_body = NewRound,
    responses((status = 201, body = RoundView, headers(("ETag" = String, description = "The round's revision"))))
)]
#[post("/api/v1/counties/{county}/claim-rounds")]
pub async fn open_round(
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
    body: ValidJson<NewRound>,
) -> AppResult<HttpResponse> {
    let county = county_path(&county)?;
    principal.require(Permission::ManageClaimRounds, &county)?;
    let input = body.into_inner();
    let view = state
        .db
        .write(move |conn| Round::open(conn, &principal, county.as_str(), input))
        .await?;
    Ok(with_etag(StatusCode::CREATED, view.round.revision, &view))
}

/// A county's claiming rounds, newest first.
#[utoipa::path(
    tag = "claims",
    params(("county" = String, Path, description = "County division code"), PageParams),
    responses((status = 200, body = Page<RoundView>))
)]
#[get("/api/v1/counties/{county}/claim-rounds")]
pub async fn list_rounds(
    state: web::Data<AppState>,
    principal: Principal,
    county: web::Path<String>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<RoundView>>> {
    let county = county_path(&county)?;
    model::ensure_can_read(&principal, &county)?;
    let page = page.into_inner().resolve()?;
    let (items, total) = state
        .db
        .read(move |conn| Round::list(conn, county.as_str(), page))
        .await?;
    Ok(web::Json(page.wrap(items, total)))
}

async fn readable_round(state: &AppState, principal: &Principal, id: i64) -> AppResult<Round> {
    let round = state.db.read(move |conn| Round::find(conn, id)).await?;
    model::ensure_can_read(principal, &round.county())?;
    Ok(round)
}

/// One round with the size of its offer; its revision is the `ETag`.
#[utoipa::path(
    tag = "claims",
    params(("round" = i64, Path, description = "Round id")),
    responses((status = 200, body = RoundView, headers(("ETag" = String, description = "The revision"))))
)]
#[get("/api/v1/claim-rounds/{round}")]
pub async fn get_round(
    state: web::Data<AppState>,
    principal: Principal,
    round: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let round = readable_round(&state, &principal, round.into_inner()).await?;
    let view = state.db.read(move |conn| round.view(conn)).await?;
    Ok(with_etag(StatusCode::OK, view.round.revision, &view))
}

/// Close a round: claims are final. `county_compiler`; needs `If-Match`.
#[utoipa::path(
    tag = "claims",
    params(("round" = i64, Path, description = "Round id"), ("If-Match" = String, Header, description = "The round's ETag")),
    responses((status = 200, body = RoundView), (status = 409, description = "Already closed", body = Problem, content_type = "application/problem+json"))
)]
#[post("/api/v1/claim-rounds/{round}/close")]
pub async fn close_round(
    state: web::Data<AppState>,
    principal: Principal,
    round: web::Path<i64>,
    if_match: IfMatch,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageClaimRounds)?;
    let expected = if_match.revision()?;
    let id = round.into_inner();
    let view = state
        .db
        .write(move |conn| Round::close(conn, &principal, id, expected))
        .await?;
    Ok(with_etag(StatusCode::OK, view.round.revision, &view))
}

/// Filters on a round's claims.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimQuery {
    /// Only this township.
    pub township: Option<String>,
    /// Only claims in this state.
    pub state: Option<ClaimState>,
    /// Only this item-type code.
    pub category: Option<String>,
    /// Only this domain.
    pub domain: Option<String>,
    /// Only this sector.
    pub sector: Option<String>,
    /// Only this item code.
    pub item: Option<String>,
    /// `me`: what waits for the caller. For a township clerk, its township's claims not
    /// answered yet or returned by the department; for a department officer, claims of its
    /// department's sector awaiting confirmation; for anyone else, none. The page's
    /// `total` counts them.
    #[param(inline)]
    pub awaiting: Option<Awaiting>,
}

/// Whose work a list of claims is narrowed to.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Awaiting {
    /// The caller's.
    Me,
}

/// Narrows `filter` to what waits for `principal`: a clerk's unanswered and returned
/// claims, an officer's department's claims awaiting confirmation.
fn awaiting_me(
    conn: &mut crate::db::DbConnection,
    principal: &Principal,
    county: &crate::codes::RegionCode,
    mut filter: ClaimFilter,
) -> AppResult<ClaimFilter> {
    use crate::auth::Permission;
    if principal.can(Permission::AnswerClaims) && filter.township.is_some() {
        filter.states = vec![ClaimState::Offered, ClaimState::Returned];
    } else if principal.can(Permission::ConfirmClaims) {
        let department =
            crate::organisations::Organisation::department_of_actor(conn, principal, county)?;
        filter.states = vec![ClaimState::Claimed];
        // A department without a sector is offered no claims, so none waits for it.
        filter.nothing = department.sector.is_none();
        filter.sector = department.sector;
    } else {
        // A compiler's or a reviewer's work is not a claim's next step.
        filter.nothing = true;
    }
    Ok(filter)
}

/// The reader's filter on a round's claims, narrowed to its own work for `awaiting=me`.
fn filter_for(
    conn: &mut crate::db::DbConnection,
    principal: &Principal,
    round: &Round,
    query: ClaimQuery,
) -> AppResult<ClaimFilter> {
    let awaiting = query.awaiting.is_some();
    let filter = claim_filter(principal, query)?;
    match awaiting {
        true => awaiting_me(conn, principal, &round.county(), filter),
        false => Ok(filter),
    }
}

/// The filter a reader may use: a township clerk sees its own township only.
fn claim_filter(principal: &Principal, query: ClaimQuery) -> AppResult<ClaimFilter> {
    let own = model::reader_township(principal);
    if let (Some(own), Some(asked)) = (&own, &query.township) {
        if own != asked {
            return Err(AppError::Forbidden(format!(
                "your token acts for township {own}, not {asked}"
            )));
        }
    }
    Ok(ClaimFilter {
        township: own.or(query.township),
        states: query.state.into_iter().collect(),
        nothing: false,
        category: query.category,
        domain: query.domain,
        sector: query.sector,
        item: query.item,
    })
}

/// A round's claims, by township then item, with filters. Clerks see their township only.
#[utoipa::path(
    tag = "claims",
    params(("round" = i64, Path, description = "Round id"), ClaimQuery, PageParams),
    responses((status = 200, body = Page<Claim>))
)]
#[get("/api/v1/claim-rounds/{round}/claims")]
pub async fn list_claims(
    state: web::Data<AppState>,
    principal: Principal,
    round: web::Path<i64>,
    query: web::Query<ClaimQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Claim>>> {
    let round = readable_round(&state, &principal, round.into_inner()).await?;
    let query = query.into_inner();
    let page = page.into_inner().resolve()?;
    let (items, total) = state
        .db
        .read(move |conn| {
            let filter = filter_for(conn, &principal, &round, query)?;
            Claims::list(conn, round.id, &filter, page)
        })
        .await?;
    Ok(web::Json(page.wrap(items, total)))
}

#[derive(Serialize)]
struct ClaimCsvRow<'a> {
    township: &'a str,
    township_name: &'a str,
    item: &'a str,
    item_name: &'a str,
    category: &'a str,
    domain: &'a str,
    sector: &'a str,
    state: &'a str,
    unit: &'a str,
    reason: &'a str,
    note: &'a str,
    revision: i64,
    updated_at: String,
    updated_by: &'a str,
}

/// A round's claims as CSV (UTF-8 with BOM), for the county's records.
#[utoipa::path(
    tag = "claims",
    params(("round" = i64, Path, description = "Round id"), ClaimQuery),
    responses((status = 200, description = "CSV, one row per claim", content_type = "text/csv", body = String))
)]
#[get("/api/v1/claim-rounds/{round}/export")]
pub async fn export_claims(
    state: web::Data<AppState>,
    principal: Principal,
    round: web::Path<i64>,
    query: web::Query<ClaimQuery>,
) -> AppResult<HttpResponse> {
    let round = readable_round(&state, &principal, round.into_inner()).await?;
    let query = query.into_inner();
    let id = round.id;
    let db = state.db.clone();
    let read = move || {
        db.read_blocking(|conn| {
            let filter = filter_for(conn, &principal, &round, query)?;
            Claims::all(conn, round.id, &filter)
        })
    };
    let claims = state.gates.run(WorkClass::Export, read).await?;
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(write_csv(claims.iter().map(|c| ClaimCsvRow {
        township: &c.township,
        township_name: &c.township_name,
        item: &c.item,
        item_name: &c.item_name,
        category: &c.category,
        domain: &c.domain,
        sector: &c.sector,
        state: c.state.as_str(),
        unit: c.unit.as_deref().unwrap_or(""),
        reason: c.reason.as_deref().unwrap_or(""),
        note: c.note.as_deref().unwrap_or(""),
        revision: c.revision,
        updated_at: c.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        updated_by: &c.updated_by,
    }))?);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"claim-round-{id}.csv\""),
        ))
        .body(bytes))
}

/// Counts by state overall, per township, per item type and per domain, with claim rates.
#[utoipa::path(
    tag = "claims",
    params(("round" = i64, Path, description = "Round id")),
    responses(
        (status = 200, body = RoundStatistics, headers(("ETag" = String, description = "Changes when a claim of the round moves"))),
        (status = 304, description = "Not modified (If-None-Match)")
    )
)]
#[get("/api/v1/claim-rounds/{round}/statistics")]
pub async fn get_round_statistics(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    round: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let round = readable_round(&state, &principal, round.into_inner()).await?;
    let township = model::reader_township(&principal);
    // The statistics change only when a claim moves: an answer is made once per change and
    // kept, and a client that holds it is told so (304).
    let key = format!(
        "round-statistics\n{}\n{}\n{}",
        round.id,
        township.as_deref().unwrap_or("*"),
        round.counts_revision
    );
    let db = state.db.clone();
    let read = move || {
        let stats =
            db.read_blocking(|conn| round_statistics(conn, round.id, township.as_deref()))?;
        Ok(serde_json::to_vec(&stats)?)
    };
    let answer = match state.shared.ready(&key) {
        Some(answer) => answer,
        None => {
            state
                .shared
                .get_or_render(&state.gates, WorkClass::Statistics, key, read)
                .await?
        }
    };
    Ok(shared_json(&req, &answer, "private, no-cache"))
}

/// A city's or the province's claiming figures over its counties' latest rounds (a
/// county's own, for a county): counties, townships, items offered, delegated, deferred and
/// open, claim and confirmation rates, and each county's round. Readers of claims whose
/// region contains the one asked for.
#[utoipa::path(
    tag = "claims",
    params(("code" = String, Path, description = "Division code of a province, city or county")),
    responses((status = 200, body = RegionStatistics))
)]
#[get("/api/v1/regions/{code}/claim-statistics")]
pub async fn get_region_claim_statistics(
    state: web::Data<AppState>,
    principal: Principal,
    code: web::Path<String>,
) -> AppResult<web::Json<RegionStatistics>> {
    let region = crate::codes::RegionCode::parse(&code)
        .map_err(|e| AppError::NotFound(format!("no region {code}: {e}")))?;
    if region.level() == crate::codes::Level::Township {
        return Err(AppError::invalid(
            "code",
            "a roll-up is of a county, a city or the province; a township's figures are in its round's statistics",
        ));
    }
    principal.require(crate::auth::Permission::ReadClaims, &region)?;
    let db = state.db.clone();
    let read = move || db.read_blocking(|conn| region_statistics(conn, &region));
    Ok(web::Json(
        state.gates.run(WorkClass::Statistics, read).await?,
    ))
}

/// A township's answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    /// 承接: take the power on.
    Claim,
    /// 暫緩: defer it.
    Defer,
    /// Decline it.
    Decline,
}

/// One answer in a bulk request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// Item code.
    pub item: String,
    /// The answer.
    pub answer: AnswerKind,
    /// For `claim`: the township unit that will exercise the power.
    #[serde(default)]
    pub unit: Option<String>,
    /// For `defer` and `decline`: why.
    #[serde(default)]
    pub reason: Option<String>,
    /// The claim's revision as read (a missing one is 428).
    #[schema(required = true, value_type = i64)]
    pub revision: Option<i64>,
}

/// A township's answers, applied all or nothing.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBatch {
    /// The township answering.
    pub township: String,
    /// The answers (at most 2,000).
    #[validate(length(min = 1, max = 2000))]
    #[schema(min_items = 1, max_items = 2000)]
    pub answers: Vec<Answer>,
}

/// The claims a bulk request changed, as they are now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangedClaims {
    /// How many changed.
    pub changed: usize,
    /// The claims, by township then item.
    pub claims: Vec<Claim>,
}

/// Answer many claims of one township at once (claim, defer, decline), all or nothing.
/// `township_clerk` of that township. Each answer carries the claim's `revision`.
#[utoipa::path(
    tag = "claims",
    params(("round" = i64, Path, description = "Round id")),
    request_body = AnswerBatch,
    responses(
        (status = 200, body = ChangedClaims),
        (status = 409, description = "Illegal transitions (each row names the current state), or the round is closed", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Claims changed since read; the stale rows are listed", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "A row has no revision", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/claim-rounds/{round}/answers")]
pub async fn answer_claims(
    state: web::Data<AppState>,
    principal: Principal,
    round: web::Path<i64>,
    body: ValidJson<AnswerBatch>,
) -> AppResult<web::Json<ChangedClaims>> {
    principal.require_any(Permission::AnswerClaims)?;
    let batch = body.into_inner();
    let requests = batch
        .answers
        .into_iter()
        .enumerate()
        .map(|(i, a)| ChangeRequest {
            row: i + 1,
            township: batch.township.clone(),
            item: a.item,
            action: match a.answer {
                AnswerKind::Claim => Action::Claim,
                AnswerKind::Defer => Action::Defer,
                AnswerKind::Decline => Action::Decline,
            },
            revision: a.revision,
            unit: a.unit,
            comment: a.reason,
        })
        .collect();
    let id = round.into_inner();
    let claims = state
        .db
        .write(move |conn| Claims::apply(conn, &principal, id, requests))
        .await?;
    Ok(web::Json(ChangedClaims {
        changed: claims.len(),
        claims,
    }))
}

/// A department's decision.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Confirm the hand-over.
    Confirm,
    /// Send it back to the township.
    Return,
}

/// One decision in a bulk request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimDecision {
    /// The township of the claim.
    pub township: String,
    /// Item code.
    pub item: String,
    /// The decision.
    pub decision: DecisionKind,
    /// For `return` (required) or `confirm` (optional): a note to the township.
    #[serde(default)]
    pub note: Option<String>,
    /// The claim's revision as read (a missing one is 428).
    #[schema(required = true, value_type = i64)]
    pub revision: Option<i64>,
}

/// A department's decisions, applied all or nothing.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBatch {
    /// The decisions (at most 10,000).
    #[validate(length(min = 1, max = 10000))]
    #[schema(min_items = 1, max_items = 10000)]
    pub decisions: Vec<ClaimDecision>,
}

/// Confirm or return many claimed items at once, all or nothing. `department_officer`
/// of the county department whose sector holds the powers.
#[utoipa::path(
    tag = "claims",
    params(("round" = i64, Path, description = "Round id")),
    request_body = DecisionBatch,
    responses(
        (status = 200, body = ChangedClaims),
        (status = 409, description = "Illegal transitions, or the round is closed", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Claims changed since read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "A row has no revision", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/api/v1/claim-rounds/{round}/confirmations")]
pub async fn confirm_claims(
    state: web::Data<AppState>,
    principal: Principal,
    round: web::Path<i64>,
    body: ValidJson<DecisionBatch>,
) -> AppResult<web::Json<ChangedClaims>> {
    principal.require_any(Permission::ConfirmClaims)?;
    let requests = body
        .into_inner()
        .decisions
        .into_iter()
        .enumerate()
        .map(|(i, d)| ChangeRequest {
            row: i + 1,
            township: d.township,
            item: d.item,
            action: match d.decision {
                DecisionKind::Confirm => Action::Confirm,
                DecisionKind::Return => Action::Return,
            },
            revision: d.revision,
            unit: None,
            comment: d.note,
        })
        .collect();
    let id = round.into_inner();
    let claims = state
        .db
        .write(move |conn| Claims::apply(conn, &principal, id, requests))
        .await?;
    Ok(web::Json(ChangedClaims {
        changed: claims.len(),
        claims,
    }))
}

/// One claim with its full history; its revision is the `ETag`.
#[utoipa::path(
    tag = "claims",
    params(("id" = i64, Path, description = "Claim id")),
    responses((status = 200, body = ClaimDetail, headers(("ETag" = String, description = "The revision"))))
)]
#[get("/api/v1/claims/{id}")]
pub async fn get_claim(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ReadClaims)?;
    let id = id.into_inner();
    let (detail, county) = state.db.read(move |conn| Claims::detail(conn, id)).await?;
    model::ensure_can_read(&principal, &county)?;
    if let Some(own) = model::reader_township(&principal) {
        if own != detail.claim.township {
            return Err(AppError::Forbidden(format!(
                "claim {id} belongs to township {}",
                detail.claim.township
            )));
        }
    }
    Ok(with_etag(StatusCode::OK, detail.claim.revision, &detail))
}

/// Why a decided claim is reopened.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    /// The reason, kept in the claim's history.
    #[validate(length(min = 1, max = 1000))]
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// Put a decided claim back to `offered`. `county_compiler`; needs `If-Match`.
#[utoipa::path(
    tag = "claims",
    params(("id" = i64, Path, description = "Claim id"), ("If-Match" = String, Header, description = "The claim's ETag")),
    request_body = ReopenRequest,
    responses((status = 200, body = Claim, headers(("ETag" = String, description = "The new revision"))))
)]
#[post("/api/v1/claims/{id}/reopen")]
pub async fn reopen_claim(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    if_match: IfMatch,
    body: ValidJson<ReopenRequest>,
) -> AppResult<HttpResponse> {
    principal.require_any(Permission::ManageClaimRounds)?;
    let expected = if_match.revision()?;
    let id = id.into_inner();
    let reason = body.into_inner().reason;
    let claims = state
        .db
        .write(move |conn| {
            let record = Claims::locate(conn, id)?;
            let request = ChangeRequest {
                row: 1,
                township: record.township_code.clone(),
                item: record.item_code.clone(),
                action: Action::Reopen,
                revision: Some(expected),
                unit: None,
                comment: Some(reason),
            };
            Claims::apply(conn, &principal, record.round_id, vec![request])
        })
        .await;
    let mut claims = match claims {
        // A single claim: answer a stale revision the way every If-Match write does,
        // with the revision the claim holds now.
        Err(AppError::Stale { .. }) => {
            let current = state
                .db
                .read(move |conn| Ok(Claims::locate(conn, id)?.revision))
                .await?;
            return Err(AppError::PreconditionFailed { current });
        }
        other => other?,
    };
    let claim = claims
        .pop()
        .ok_or_else(|| AppError::Internal("reopen changed nothing".into()))?;
    Ok(with_etag(StatusCode::OK, claim.revision, &claim))
}

/// Which edition to compile the power set under.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PowerSetQuery {
    /// Catalogue edition; defaults to the edition of the county's latest round.
    pub edition: Option<String>,
}

/// A township's power set: its statutory items plus its confirmed claims, each with its
/// responsibilities, legal basis and the unit that exercises it.
#[utoipa::path(
    tag = "claims",
    params(("township" = String, Path, description = "Township division code"), PowerSetQuery),
    responses((status = 200, body = PowerSet))
)]
#[get("/api/v1/townships/{township}/power-set")]
pub async fn get_power_set(
    state: web::Data<AppState>,
    principal: Principal,
    township: web::Path<String>,
    query: web::Query<PowerSetQuery>,
) -> AppResult<web::Json<PowerSet>> {
    let township = RegionCode::parse(&township)
        .ok()
        .filter(|c| c.level() == Level::Township)
        .ok_or_else(|| AppError::NotFound(format!("no township {township}")))?;
    principal.require(Permission::ReadClaims, &township)?;
    let edition = query.into_inner().edition;
    let set = state
        .db
        .read(move |conn| {
            let edition = match edition {
                Some(e) => e,
                None => latest_edition(
                    conn,
                    &township.county().expect("a township lies in a county"),
                )?,
            };
            power_set(conn, &township, &edition)
        })
        .await?;
    Ok(web::Json(set))
}
