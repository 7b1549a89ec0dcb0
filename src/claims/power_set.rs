//! A township's power set: the edition's statutory items plus the township's confirmed
//! claims. The power list is compiled from it.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::catalogue::{Item, ItemInput};
use crate::db::schema::{catalogue_items, claim_rounds, claims, organisations, regions};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::regions::RegionCode;

/// How the township holds a power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Holding {
    /// 法定: the law gives it to every township.
    Statutory,
    /// 賦權: handed down through a confirmed claim.
    Delegated,
}

/// The unit that exercises a power.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct UnitRef {
    /// Organisation code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// One power the township holds, with everything the list shows about it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Power {
    /// Statutory or delegated.
    pub holding: Holding,
    /// The catalogue content: name, category, legal basis, responsibilities...
    #[serde(flatten)]
    pub item: ItemInput,
    /// The township unit that exercises a delegated power (承接單位).
    pub unit: Option<UnitRef>,
    /// The round in which it was confirmed.
    pub round: Option<i64>,
}

/// A township's powers under one catalogue edition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PowerSet {
    /// Division code.
    pub township: String,
    /// Name.
    pub township_name: String,
    /// The county.
    pub county: String,
    /// The catalogue edition.
    pub edition: String,
    /// Statutory items.
    pub statutory: usize,
    /// Delegated items.
    pub delegated: usize,
    /// Every power, by item code.
    pub items: Vec<Power>,
}

/// The edition of the county's latest round, when none is named.
pub fn latest_edition(conn: &mut DbConnection, county: &RegionCode) -> AppResult<String> {
    claim_rounds::table
        .filter(claim_rounds::county_code.eq(county.as_str()))
        .order(claim_rounds::id.desc())
        .select(claim_rounds::edition_code)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "county {county} has no claiming round yet; name an edition with ?edition="
            ))
        })
}

/// Compiles the power set of `township` under `edition`. A delegable item confirmed in
/// several rounds of the edition counts once, from the latest round.
pub fn power_set(
    conn: &mut DbConnection,
    township: &RegionCode,
    edition: &str,
) -> AppResult<PowerSet> {
    let county = township.county().expect("a township lies in a county");
    let township_name: String = regions::table
        .find(township.as_str())
        .select(regions::name)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no township {township}")))?;
    crate::catalogue::Edition::find(conn, edition)?;
    let mut powers: BTreeMap<String, Power> = BTreeMap::new();
    let statutory = catalogue_items::table
        .filter(catalogue_items::edition_code.eq(edition))
        .filter(catalogue_items::source.eq(crate::catalogue::Source::Statutory.as_str()))
        .select(crate::catalogue::ItemRecord::as_select())
        .load::<crate::catalogue::ItemRecord>(conn)?;
    let kind = township.township_kind().ok();
    for record in statutory {
        let item: Item = record.into_item()?;
        if kind.is_some_and(|kind| !item.content.belongs_to(kind)) {
            continue;
        }
        powers.insert(
            item.content.code.clone(),
            Power {
                holding: Holding::Statutory,
                item: item.content,
                unit: None,
                round: None,
            },
        );
    }
    let confirmed = claims::table
        .inner_join(claim_rounds::table)
        .inner_join(catalogue_items::table)
        .left_join(organisations::table.on(organisations::code.nullable().eq(claims::unit_code)))
        .filter(claim_rounds::county_code.eq(county.as_str()))
        .filter(claim_rounds::edition_code.eq(edition))
        .filter(claims::township_code.eq(township.as_str()))
        .filter(claims::state.eq(crate::claims::ClaimState::Confirmed.as_str()))
        .order(claims::round_id.asc())
        .select((
            claims::round_id,
            crate::catalogue::ItemRecord::as_select(),
            organisations::code.nullable(),
            organisations::name.nullable(),
        ))
        .load::<(
            i64,
            crate::catalogue::ItemRecord,
            Option<String>,
            Option<String>,
        )>(conn)?;
    for (round, record, unit_code, unit_name) in confirmed {
        let item = record.into_item()?;
        let unit = unit_code
            .zip(unit_name)
            .map(|(code, name)| UnitRef { code, name });
        powers.insert(
            item.content.code.clone(),
            Power {
                holding: Holding::Delegated,
                item: item.content,
                unit,
                round: Some(round),
            },
        );
    }
    let items: Vec<Power> = powers.into_values().collect();
    Ok(PowerSet {
        township: township.to_string(),
        township_name,
        county: county.to_string(),
        edition: edition.to_string(),
        statutory: items
            .iter()
            .filter(|p| p.holding == Holding::Statutory)
            .count(),
        delegated: items
            .iter()
            .filter(|p| p.holding == Holding::Delegated)
            .count(),
        items,
    })
}
