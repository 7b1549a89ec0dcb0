//! Statistics of a round: counts by state overall, per township, per category, per domain.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::state::ClaimState;
use crate::db::schema::{claims, item_categories, regions};
use crate::db::DbConnection;
use crate::error::AppResult;

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
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainTally {
    /// Domain.
    pub domain: String,
    /// Counts.
    #[serde(flatten)]
    pub tally: Tally,
}

/// Everything a compiler reads off a round.
#[derive(Debug, Serialize, ToSchema)]
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

/// Computes the statistics with one grouped query (plus the names).
pub fn round_statistics(
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
    let rows: Vec<(String, String, String, String, i64)> = query.load(conn)?;
    let mut item_query = claims::table
        .filter(claims::round_id.eq(round))
        .select(diesel::dsl::count(claims::item_code).aggregate_distinct())
        .into_boxed();
    if let Some(t) = township {
        item_query = item_query.filter(claims::township_code.eq(t.to_string()));
    }
    let items_offered: i64 = item_query.first(conn)?;
    let mut overall = Tally::default();
    let mut per_township: BTreeMap<String, Tally> = BTreeMap::new();
    let mut per_category: BTreeMap<String, Tally> = BTreeMap::new();
    let mut per_domain: BTreeMap<String, Tally> = BTreeMap::new();
    for (township, category, domain, state, count) in rows {
        let Some(state) = ClaimState::parse(&state) else {
            continue;
        };
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
