//! Figures of a county's list, as the reports give them: matters and departments, leads
//! and supporters, and the "one matter, one lead department" subset.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{duty_departments, duty_matters, organisations};
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::regions::RegionCode;

/// How often a department leads and supports.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentLoad {
    /// Organisation code.
    pub department: String,
    /// Name.
    pub name: String,
    /// Matters it leads.
    pub leads: i64,
    /// Matters it supports.
    pub supports: i64,
}

/// The "one matter" (一件事) subset.
#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct OneMatterFigures {
    /// One-matter matters.
    pub matters: i64,
    /// Distinct lead departments among them.
    pub lead_departments: i64,
    /// Distinct collaborating (supporting) departments among them.
    pub collaborating_departments: i64,
}

/// The list's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct DutyStatistics {
    /// The county.
    pub county: String,
    /// Matters.
    pub matters: i64,
    /// Distinct departments that lead or support any matter.
    pub departments_involved: i64,
    /// Distinct lead departments.
    pub lead_departments: i64,
    /// Distinct supporting departments.
    pub supporting_departments: i64,
    /// The one-matter subset.
    pub one_matter: OneMatterFigures,
    /// Per department, by code.
    pub departments: Vec<DepartmentLoad>,
}

/// Computes the figures from the list's department rows.
pub fn duty_statistics(conn: &mut DbConnection, county: &RegionCode) -> AppResult<DutyStatistics> {
    let matters: i64 = duty_matters::table
        .filter(duty_matters::county_code.eq(county.as_str()))
        .count()
        .get_result(conn)?;
    let one_matter_count: i64 = duty_matters::table
        .filter(duty_matters::county_code.eq(county.as_str()))
        .filter(duty_matters::one_matter.eq(true))
        .count()
        .get_result(conn)?;
    // A list has tens of matters: the rows are few, so they are tallied here.
    let rows: Vec<(String, String, bool)> = duty_departments::table
        .inner_join(duty_matters::table.on(duty_matters::id.eq(duty_departments::matter_id)))
        .filter(duty_departments::county_code.eq(county.as_str()))
        .select((
            duty_departments::org_code,
            duty_departments::role,
            duty_matters::one_matter,
        ))
        .load(conn)?;
    let names: BTreeMap<String, String> = organisations::table
        .filter(organisations::region_code.eq(county.as_str()))
        .select((organisations::code, organisations::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut loads: BTreeMap<String, DepartmentLoad> = BTreeMap::new();
    let mut one_leads = std::collections::BTreeSet::new();
    let mut one_supporters = std::collections::BTreeSet::new();
    for (org, role, one_matter) in rows {
        let count = 1;
        let load = loads.entry(org.clone()).or_insert_with(|| DepartmentLoad {
            department: org.clone(),
            name: names.get(&org).cloned().unwrap_or_default(),
            leads: 0,
            supports: 0,
        });
        if role == "lead" {
            load.leads += count;
            if one_matter {
                one_leads.insert(org);
            }
        } else {
            load.supports += count;
            if one_matter {
                one_supporters.insert(org);
            }
        }
    }
    Ok(DutyStatistics {
        county: county.to_string(),
        matters,
        departments_involved: loads.len() as i64,
        lead_departments: loads.values().filter(|l| l.leads > 0).count() as i64,
        supporting_departments: loads.values().filter(|l| l.supports > 0).count() as i64,
        one_matter: OneMatterFigures {
            matters: one_matter_count,
            lead_departments: one_leads.len() as i64,
            collaborating_departments: one_supporters.len() as i64,
        },
        departments: loads.into_values().collect(),
    })
}
