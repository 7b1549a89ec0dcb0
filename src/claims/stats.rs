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
    tallied(conn, round, items_offered, rows)
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
    tallied(conn, round, items_offered, rows)
}

/// Statistics from counts by township, item type, domain and state.
fn tallied(
    conn: &mut DbConnection,
    round: i64,
    items_offered: i64,
    rows: Vec<CountRow>,
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
    })
}
