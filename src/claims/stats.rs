//! Statistics of a round: counts by state overall, per township, per category, per domain.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::state::ClaimState;
use crate::db::schema::{claim_counts, claim_rounds, claims, item_categories, regions};
use crate::db::{DbConnection, BATCH};
use crate::error::{AppError, AppResult};

/// Counts of one slice of a round.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq)]
pub struct Tally {
    /// Claims offered in this slice (every state).
    pub offered_total: i64,
    /// Not answered yet (state `offered`).
    pub unanswered: i64,
    /// Claimed, awaiting the department.
    pub claimed: i64,
    /// Deferred by the township.
    pub deferred: i64,
    /// Declined by the township.
    pub declined: i64,
    /// Confirmed by the department: handed over.
    pub confirmed: i64,
    /// Returned by the department, awaiting the township.
    pub returned: i64,
    /// (claimed + confirmed) / offered_total.
    pub claim_rate: f64,
    /// confirmed / offered_total.
    pub confirmation_rate: f64,
}

impl Tally {
    fn add(&mut self, state: ClaimState, count: i64) {
        self.offered_total += count;
        *match state {
            ClaimState::Offered => &mut self.unanswered,
            ClaimState::Claimed => &mut self.claimed,
            ClaimState::Deferred => &mut self.deferred,
            ClaimState::Declined => &mut self.declined,
            ClaimState::Confirmed => &mut self.confirmed,
            ClaimState::Returned => &mut self.returned,
        } += count;
    }

    /// Adds another slice's counts (rates are made again by `finish`).
    fn merge(&mut self, other: &Tally) {
        self.offered_total += other.offered_total;
        self.unanswered += other.unanswered;
        self.claimed += other.claimed;
        self.deferred += other.deferred;
        self.declined += other.declined;
        self.confirmed += other.confirmed;
        self.returned += other.returned;
    }

    fn finish(mut self) -> Self {
        if self.offered_total > 0 {
            let total = self.offered_total as f64;
            self.claim_rate = round4((self.claimed + self.confirmed) as f64 / total);
            self.confirmation_rate = round4(self.confirmed as f64 / total);
        }
        self
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// One township's counts.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct TownshipTally {
    /// Division code.
    pub township: String,
    /// Name.
    pub name: String,
    /// Counts.
    #[serde(flatten)]
    pub tally: Tally,
}

/// One item type's counts.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct CategoryTally {
    /// Item-type code.
    pub category: String,
    /// Its label, e.g. 行政處罰.
    pub label: String,
    /// Counts.
    #[serde(flatten)]
    pub tally: Tally,
}

/// One domain's counts.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct DomainTally {
    /// Domain.
    pub domain: String,
    /// Counts.
    #[serde(flatten)]
    pub tally: Tally,
}

/// Everything a compiler reads off a round.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct RoundStatistics {
    /// The round.
    pub round: i64,
    /// Distinct items offered.
    pub items_offered: i64,
    /// Townships offered to.
    pub townships_offered: i64,
    /// The whole round.
    pub overall: Tally,
    /// Per township, by code.
    pub townships: Vec<TownshipTally>,
    /// Per item type, by code.
    pub categories: Vec<CategoryTally>,
    /// Per domain, by name.
    pub domains: Vec<DomainTally>,
    /// What became of each item across the townships offered it, by code.
    pub items: Vec<ItemOutcome>,
    /// The county's own figures: how many items were delegated, deferred, declined, or are
    /// still open (a county's notice says "86 delegated, 13 deferred").
    pub items_summary: ItemsSummary,
}

/// What became of an item across the townships offered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemOutcomeKind {
    /// Confirmed for every township offered it.
    DelegatedEverywhere,
    /// Every township decided; confirmed for some of them.
    DelegatedSomewhere,
    /// Every township deferred it.
    DeferredEverywhere,
    /// Every township declined it.
    DeclinedEverywhere,
    /// Every township decided; none took it (some deferred, some declined).
    NotDelegated,
    /// Some township has not answered, or waits for the department.
    Open,
}

impl ItemOutcomeKind {
    /// The outcome of an item from its counts.
    pub fn of(tally: &Tally) -> ItemOutcomeKind {
        let total = tally.offered_total;
        if tally.unanswered + tally.claimed + tally.returned > 0 {
            ItemOutcomeKind::Open
        } else if tally.confirmed == total {
            ItemOutcomeKind::DelegatedEverywhere
        } else if tally.confirmed > 0 {
            ItemOutcomeKind::DelegatedSomewhere
        } else if tally.deferred == total {
            ItemOutcomeKind::DeferredEverywhere
        } else if tally.declined == total {
            ItemOutcomeKind::DeclinedEverywhere
        } else {
            ItemOutcomeKind::NotDelegated
        }
    }
}

/// One item's counts across the townships offered it.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct ItemOutcome {
    /// Catalogue code.
    pub item: String,
    /// Item type.
    pub category: String,
    /// What became of it.
    pub outcome: ItemOutcomeKind,
    /// Counts: `offered_total` is the townships offered it.
    #[serde(flatten)]
    pub tally: Tally,
}

/// Items by outcome.
#[derive(Debug, Default, Serialize, ToSchema, PartialEq)]
pub struct ItemsSummary {
    /// Distinct items.
    pub items: i64,
    /// Confirmed for every township offered them.
    pub delegated_everywhere: i64,
    /// Confirmed for some townships, every township decided.
    pub delegated_somewhere: i64,
    /// Deferred by every township.
    pub deferred_everywhere: i64,
    /// Declined by every township.
    pub declined_everywhere: i64,
    /// Decided everywhere, taken nowhere, some deferred and some declined.
    pub not_delegated: i64,
    /// Still open somewhere.
    pub open: i64,
}

impl ItemsSummary {
    fn of(items: &[ItemOutcome]) -> ItemsSummary {
        let mut summary = ItemsSummary {
            items: items.len() as i64,
            ..ItemsSummary::default()
        };
        for item in items {
            *match item.outcome {
                ItemOutcomeKind::DelegatedEverywhere => &mut summary.delegated_everywhere,
                ItemOutcomeKind::DelegatedSomewhere => &mut summary.delegated_somewhere,
                ItemOutcomeKind::DeferredEverywhere => &mut summary.deferred_everywhere,
                ItemOutcomeKind::DeclinedEverywhere => &mut summary.declined_everywhere,
                ItemOutcomeKind::NotDelegated => &mut summary.not_delegated,
                ItemOutcomeKind::Open => &mut summary.open,
            } += 1;
        }
        summary
    }
}

/// Each item's counts by state, from the round's claims (the items' own figures are not
/// kept: they are read once per change of the round and the answer is kept).
fn item_outcomes(
    conn: &mut DbConnection,
    round: i64,
    township: Option<&str>,
) -> AppResult<Vec<ItemOutcome>> {
    let mut query = claims::table
        .filter(claims::round_id.eq(round))
        .group_by((claims::item_code, claims::category, claims::state))
        .select((
            claims::item_code,
            claims::category,
            claims::state,
            diesel::dsl::count_star(),
        ))
        .into_boxed();
    if let Some(t) = township {
        query = query.filter(claims::township_code.eq(t.to_string()));
    }
    let rows: Vec<(String, String, String, i64)> = query.load(conn)?;
    let mut per_item: BTreeMap<String, (String, Tally)> = BTreeMap::new();
    for (item, category, state, count) in rows {
        let state = ClaimState::parse(&state).ok_or_else(|| {
            AppError::Internal(format!("round {round} has a claim in a state {state:?}"))
        })?;
        per_item
            .entry(item)
            .or_insert_with(|| (category, Tally::default()))
            .1
            .add(state, count);
    }
    Ok(per_item
        .into_iter()
        .map(|(item, (category, tally))| {
            let tally = tally.finish();
            ItemOutcome {
                outcome: ItemOutcomeKind::of(&tally),
                item,
                category,
                tally,
            }
        })
        .collect())
}

/// One cell of a round's statistics: a township, an item type, a domain and a state.
pub type CountCell = (String, String, String, ClaimState);

#[derive(Insertable)]
#[diesel(table_name = claim_counts)]
struct NewCell<'a> {
    round_id: i64,
    township_code: &'a str,
    category: &'a str,
    domain: &'a str,
    state: &'static str,
    claims: i64,
}

/// A round's statistics as counts kept beside its claims (`claim_counts`): written when the
/// round opens, moved in the transaction of every transition.
pub struct ClaimCounts;

impl ClaimCounts {
    /// The cells of a new round: every (township, item type, domain) its claims fall in, at
    /// every state, counting its offered claims. Every cell exists from the start, so a
    /// transition only ever updates rows.
    pub fn open<'a>(
        conn: &mut DbConnection,
        round: i64,
        offered: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> AppResult<()> {
        let mut cells: BTreeMap<(&str, &str, &str), i64> = BTreeMap::new();
        for cell in offered {
            *cells.entry(cell).or_default() += 1;
        }
        let rows: Vec<NewCell> = cells
            .iter()
            .flat_map(|(&(township_code, category, domain), &offered)| {
                ClaimState::ALL.iter().map(move |state| NewCell {
                    round_id: round,
                    township_code,
                    category,
                    domain,
                    state: state.as_str(),
                    claims: if *state == ClaimState::Offered {
                        offered
                    } else {
                        0
                    },
                })
            })
            .collect();
        for chunk in rows.chunks(BATCH) {
            crate::insert_batch!(conn, claim_counts::table, chunk)?;
        }
        Ok(())
    }

    /// Moves cells by `deltas` (claims in, or out when negative).
    pub fn apply(
        conn: &mut DbConnection,
        round: i64,
        deltas: &BTreeMap<CountCell, i64>,
    ) -> AppResult<()> {
        for ((township, category, domain, state), delta) in deltas {
            let changed = diesel::update(claim_counts::table.find((
                round,
                township,
                category,
                domain,
                state.as_str(),
            )))
            .set(claim_counts::claims.eq(claim_counts::claims + delta))
            .execute(conn)?;
            if changed != 1 {
                return Err(AppError::Internal(format!(
                    "round {round} keeps no count of {township} {category} {domain} {state}"
                )));
            }
        }
        if !deltas.is_empty() {
            diesel::update(claim_rounds::table.find(round))
                .set(claim_rounds::counts_revision.eq(claim_rounds::counts_revision + 1))
                .execute(conn)?;
        }
        Ok(())
    }
}

type CountRow = (String, String, String, String, i64);

/// A round's statistics from its kept counts: reads its cells, never its claims.
pub fn round_statistics(
    conn: &mut DbConnection,
    round: i64,
    township: Option<&str>,
) -> AppResult<RoundStatistics> {
    let mut query = claim_counts::table
        .filter(claim_counts::round_id.eq(round))
        .filter(claim_counts::claims.gt(0))
        .select((
            claim_counts::township_code,
            claim_counts::category,
            claim_counts::domain,
            claim_counts::state,
            claim_counts::claims,
        ))
        .into_boxed();
    if let Some(t) = township {
        query = query.filter(claim_counts::township_code.eq(t.to_string()));
    }
    let rows: Vec<CountRow> = query.load(conn)?;
    let items = item_outcomes(conn, round, township)?;
    // A township is offered each item once, so its items are its claims.
    let items_offered = match township {
        Some(_) => rows.iter().map(|row| row.4).sum(),
        None => claim_rounds::table
            .find(round)
            .select(claim_rounds::items_offered)
            .first(conn)
            .optional()?
            .unwrap_or(0),
    };
    tallied(conn, round, items_offered, rows, items)
}

/// The same statistics counted from the claims themselves: what the kept counts must
/// always equal (tests and checks compare the two).
pub fn recounted_statistics(
    conn: &mut DbConnection,
    round: i64,
    township: Option<&str>,
) -> AppResult<RoundStatistics> {
    let mut query = claims::table
        .filter(claims::round_id.eq(round))
        .group_by((
            claims::township_code,
            claims::category,
            claims::domain,
            claims::state,
        ))
        .select((
            claims::township_code,
            claims::category,
            claims::domain,
            claims::state,
            diesel::dsl::count_star(),
        ))
        .into_boxed();
    if let Some(t) = township {
        query = query.filter(claims::township_code.eq(t.to_string()));
    }
    let rows: Vec<CountRow> = query.load(conn)?;
    let mut item_query = claims::table
        .filter(claims::round_id.eq(round))
        .select(diesel::dsl::count(claims::item_code).aggregate_distinct())
        .into_boxed();
    if let Some(t) = township {
        item_query = item_query.filter(claims::township_code.eq(t.to_string()));
    }
    let items_offered: i64 = item_query.first(conn)?;
    let items = item_outcomes(conn, round, township)?;
    tallied(conn, round, items_offered, rows, items)
}

/// Statistics from counts by township, item type, domain and state.
fn tallied(
    conn: &mut DbConnection,
    round: i64,
    items_offered: i64,
    rows: Vec<CountRow>,
    items: Vec<ItemOutcome>,
) -> AppResult<RoundStatistics> {
    let mut overall = Tally::default();
    let mut per_township: BTreeMap<String, Tally> = BTreeMap::new();
    let mut per_category: BTreeMap<String, Tally> = BTreeMap::new();
    let mut per_domain: BTreeMap<String, Tally> = BTreeMap::new();
    for (township, category, domain, state, count) in rows {
        let state = ClaimState::parse(&state).ok_or_else(|| {
            AppError::Internal(format!("round {round} counts claims in a state {state:?}"))
        })?;
        overall.add(state, count);
        per_township.entry(township).or_default().add(state, count);
        per_category.entry(category).or_default().add(state, count);
        per_domain.entry(domain).or_default().add(state, count);
    }
    let codes: Vec<&String> = per_township.keys().collect();
    let names: BTreeMap<String, String> = regions::table
        .filter(regions::code.eq_any(codes))
        .select((regions::code, regions::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let labels: BTreeMap<String, String> = item_categories::table
        .select((item_categories::code, item_categories::label))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    Ok(RoundStatistics {
        round,
        items_offered,
        townships_offered: per_township.len() as i64,
        overall: overall.finish(),
        townships: per_township
            .into_iter()
            .map(|(township, tally)| TownshipTally {
                name: names.get(&township).cloned().unwrap_or_default(),
                township,
                tally: tally.finish(),
            })
            .collect(),
        categories: per_category
            .into_iter()
            .map(|(category, tally)| CategoryTally {
                label: labels.get(&category).cloned().unwrap_or_default(),
                category,
                tally: tally.finish(),
            })
            .collect(),
        domains: per_domain
            .into_iter()
            .map(|(domain, tally)| DomainTally {
                domain,
                tally: tally.finish(),
            })
            .collect(),
        items_summary: ItemsSummary::of(&items),
        items,
    })
}

/// One county's latest round in a roll-up.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct CountyRollup {
    /// The county's division code.
    pub county: String,
    /// Its name.
    pub name: String,
    /// Its latest round.
    pub round: i64,
    /// The round's title.
    pub title: String,
    /// Townships offered to.
    pub townships: i64,
    /// The round's items by outcome.
    pub items_summary: ItemsSummary,
    /// The round's claims.
    pub claims: Tally,
}

/// A city's or the province's figures over its counties' latest rounds.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct RegionStatistics {
    /// The region's division code.
    pub region: String,
    /// Counties with a round.
    pub counties: i64,
    /// Townships offered to, over those counties.
    pub townships: i64,
    /// Items offered, summed over the counties (an item offered by two counties counts twice).
    pub items_offered: i64,
    /// Items confirmed for every township offered them, or for some.
    pub items_delegated: i64,
    /// Items deferred by every township offered them.
    pub items_deferred: i64,
    /// Items still open somewhere.
    pub items_open: i64,
    /// Claims over the counties, with claim and confirmation rates.
    pub claims: Tally,
    /// Each county's latest round, by code.
    pub per_county: Vec<CountyRollup>,
}

/// The figures of the latest round of every county in `region`.
pub fn region_statistics(
    conn: &mut DbConnection,
    region: &crate::codes::RegionCode,
) -> AppResult<RegionStatistics> {
    let rounds: Vec<(i64, String, String)> = claim_rounds::table
        .filter(claim_rounds::county_code.like(format!("{}%", region.scope_prefix())))
        .order((claim_rounds::county_code, claim_rounds::id.desc()))
        .select((
            claim_rounds::id,
            claim_rounds::county_code,
            claim_rounds::title,
        ))
        .load(conn)?;
    let mut latest: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for (id, county, title) in rounds {
        latest.entry(county).or_insert((id, title));
    }
    let names: BTreeMap<String, String> = regions::table
        .filter(regions::code.eq_any(latest.keys()))
        .select((regions::code, regions::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut totals = RegionStatistics {
        region: region.to_string(),
        counties: latest.len() as i64,
        townships: 0,
        items_offered: 0,
        items_delegated: 0,
        items_deferred: 0,
        items_open: 0,
        claims: Tally::default(),
        per_county: Vec::with_capacity(latest.len()),
    };
    let mut claims = Tally::default();
    for (county, (round, title)) in latest {
        let stats = round_statistics(conn, round, None)?;
        let summary = stats.items_summary;
        totals.townships += stats.townships_offered;
        totals.items_offered += summary.items;
        totals.items_delegated += summary.delegated_everywhere + summary.delegated_somewhere;
        totals.items_deferred += summary.deferred_everywhere;
        totals.items_open += summary.open;
        claims.merge(&stats.overall);
        totals.per_county.push(CountyRollup {
            name: names.get(&county).cloned().unwrap_or_default(),
            county,
            round,
            title,
            townships: stats.townships_offered,
            items_summary: summary,
            claims: stats.overall,
        });
    }
    totals.claims = claims.finish();
    Ok(totals)
}

/// A township's claims in its county's open rounds that are not decided yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecided {
    /// The township's division code.
    pub township: String,
    /// Not answered.
    pub unanswered: i64,
    /// Claimed, awaiting the department.
    pub claimed: i64,
    /// Returned by the department, awaiting the township.
    pub returned: i64,
}

impl Undecided {
    /// Every undecided claim.
    pub fn total(&self) -> i64 {
        self.unanswered + self.claimed + self.returned
    }
}

/// Per township, the claims of `county`'s open rounds still waiting for an answer or a
/// decision, read from the kept counts.
pub fn undecided(
    conn: &mut DbConnection,
    county: &crate::codes::RegionCode,
) -> AppResult<Vec<Undecided>> {
    let waiting = [
        ClaimState::Offered,
        ClaimState::Claimed,
        ClaimState::Returned,
    ];
    let rows: Vec<(String, String, i64)> = claim_counts::table
        .inner_join(claim_rounds::table)
        .filter(claim_rounds::county_code.eq(county.as_str()))
        .filter(claim_rounds::status.eq(super::model::RoundStatus::Open.as_str()))
        .filter(claim_counts::state.eq_any(waiting.map(ClaimState::as_str)))
        .filter(claim_counts::claims.gt(0))
        .select((
            claim_counts::township_code,
            claim_counts::state,
            claim_counts::claims,
        ))
        .load(conn)?;
    let mut per_township: BTreeMap<String, Undecided> = BTreeMap::new();
    for (township, state, claims) in rows {
        let entry = per_township
            .entry(township.clone())
            .or_insert_with(|| Undecided {
                township,
                unanswered: 0,
                claimed: 0,
                returned: 0,
            });
        match ClaimState::parse(&state) {
            Some(ClaimState::Offered) => entry.unanswered += claims,
            Some(ClaimState::Claimed) => entry.claimed += claims,
            _ => entry.returned += claims,
        }
    }
    Ok(per_township.into_values().collect())
}
