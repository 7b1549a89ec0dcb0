//! Regions: rows, checks and queries.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::code::{Level, RegionCode, TownshipKind};
use crate::audit;
use crate::auth::Principal;
use crate::db::schema::regions;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, FieldError};
use crate::http::{ImportReport, PageRequest};

/// A province, city, county or township.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = regions)]
pub struct Region {
    /// 12-digit division code.
    #[schema(example = "510521000000")]
    pub code: String,
    /// Name, e.g. 瀘縣.
    pub name: String,
    /// Level read from the code.
    #[schema(value_type = Level)]
    pub level: String,
    /// For townships: subdistrict (街道), town (鎮) or township (鄉).
    #[schema(value_type = Option<TownshipKind>)]
    pub kind: Option<String>,
    /// The region one level up.
    pub parent_code: Option<String>,
}

/// One region in an import (JSON object or CSV row).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionInput {
    /// 12-digit division code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Optional; when given it must agree with the code.
    #[serde(default, deserialize_with = "crate::http::empty_as_none")]
    pub level: Option<String>,
    /// Optional; when given it must agree with the code.
    #[serde(default, deserialize_with = "crate::http::empty_as_none")]
    pub parent: Option<String>,
}

impl RegionInput {
    /// Checks one row against the code's structure.
    fn check(&self) -> Result<Region, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError::new("name", "must be 1 to 100 characters"));
        }
        let code = match RegionCode::parse(self.code.trim()) {
            Ok(code) => code,
            Err(e) => {
                errors.push(FieldError::new("code", e));
                return Err(errors);
            }
        };
        if let Some(level) = &self.level {
            match Level::parse(level) {
                Some(level) if level == code.level() => {}
                Some(level) => errors.push(FieldError::new(
                    "level",
                    format!(
                        "{} is a {} code, not a {}",
                        code,
                        code.level().as_str(),
                        level.as_str()
                    ),
                )),
                None => errors.push(FieldError::new(
                    "level",
                    "must be province, city, county or township",
                )),
            }
        }
        let parent = code.parent();
        if let Some(given) = &self.parent {
            match &parent {
                Some(p) if p.as_str() == given => {}
                Some(p) => errors.push(FieldError::new(
                    "parent",
                    format!("the parent of {code} is {p} by its digits, not {given}"),
                )),
                None => errors.push(FieldError::new("parent", "a province has no parent")),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Region {
            code: code.to_string(),
            name: name.to_string(),
            level: code.level().as_str().into(),
            kind: code.township_kind().ok().map(|k| k.as_str().into()),
            parent_code: parent.map(|p| p.to_string()),
        })
    }
}

/// Filters for listing regions.
#[derive(Debug, Default, Clone)]
pub struct RegionFilter {
    /// Only this level.
    pub level: Option<Level>,
    /// Only children of this region; `None` with no level lists provinces.
    pub parent: Option<String>,
}

impl Region {
    /// One region.
    pub fn find(conn: &mut DbConnection, code: &str) -> AppResult<Region> {
        regions::table
            .find(code)
            .select(Region::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::NotFound(format!("no region with code {code}")))
    }

    /// A page of regions in code order.
    pub fn list(
        conn: &mut DbConnection,
        filter: &RegionFilter,
        page: PageRequest,
    ) -> AppResult<(Vec<Region>, i64)> {
        let query = || {
            let mut q = regions::table.into_boxed();
            if let Some(level) = filter.level {
                q = q.filter(regions::level.eq(level.as_str()));
            }
            match &filter.parent {
                Some(parent) => q = q.filter(regions::parent_code.eq(parent.clone())),
                None if filter.level.is_none() => q = q.filter(regions::parent_code.is_null()),
                None => {}
            }
            q
        };
        let total = query().count().get_result(conn)?;
        let items = query()
            .order(regions::code.asc())
            .limit(page.size)
            .offset(page.offset())
            .select(Region::as_select())
            .load(conn)?;
        Ok((items, total))
    }

    /// Imports regions all-or-nothing: new codes are created, existing ones renamed.
    /// Every row is checked before anything is written, and each row's parent must exist
    /// already or come in the same import. `scope` confines the import to one region
    /// (`None` for the operator's command line).
    pub fn import(
        conn: &mut DbConnection,
        actor: &Principal,
        scope: Option<&RegionCode>,
        rows: Vec<(usize, RegionInput)>,
        dry_run: bool,
    ) -> AppResult<ImportReport> {
        let mut errors = Vec::new();
        let mut checked: BTreeMap<String, (usize, Region)> = BTreeMap::new();
        for (row, input) in &rows {
            match input.check() {
                Ok(region) => {
                    let code = RegionCode::parse(&region.code).expect("checked");
                    if let Some(scope) = scope.filter(|s| !s.contains(&code)) {
                        errors.push(
                            FieldError::new(
                                "code",
                                format!("{code} lies outside your region {scope}"),
                            )
                            .in_row(*row),
                        );
                    }
                    if let Some((first, _)) = checked.get(&region.code) {
                        errors.push(
                            FieldError::new(
                                "code",
                                format!("{} appears again (first in row {first})", region.code),
                            )
                            .in_row(*row),
                        );
                    } else {
                        checked.insert(region.code.clone(), (*row, region));
                    }
                }
                Err(list) => errors.extend(list.into_iter().map(|e| e.in_row(*row))),
            }
        }
        let codes: Vec<String> = checked
            .values()
            .flat_map(|(_, r)| std::iter::once(r.code.clone()).chain(r.parent_code.clone()))
            .collect();
        let existing: HashMap<String, Region> = codes
            .chunks(500)
            .map(|chunk| {
                regions::table
                    .filter(regions::code.eq_any(chunk))
                    .select(Region::as_select())
                    .load(conn)
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .map(|r| (r.code.clone(), r))
            .collect();
        for (row, region) in checked.values() {
            if let Some(parent) = &region.parent_code {
                if !existing.contains_key(parent) && !checked.contains_key(parent) {
                    errors.push(
                        FieldError::new(
                            "parent",
                            format!(
                                "parent region {parent} is neither registered nor in this import"
                            ),
                        )
                        .in_row(*row),
                    );
                }
            }
        }
        if rows.is_empty() {
            errors.push(FieldError::new("body", "the file has no regions"));
        }
        errors.sort_by_key(|e| e.row);
        if !errors.is_empty() {
            return Err(AppError::Validation {
                detail: format!(
                    "{} problem(s) in the import; nothing was written",
                    errors.len()
                ),
                errors,
            });
        }
        // Parents before children: levels in order, then codes.
        let mut ordered: Vec<&Region> = checked.values().map(|(_, r)| r).collect();
        ordered.sort_by_key(|r| (Level::parse(&r.level), r.code.clone()));
        let mut report = ImportReport::new(dry_run, rows.len());
        let mut created = Vec::new();
        for region in ordered {
            match existing.get(&region.code) {
                None => {
                    report.created += 1;
                    created.push(region.clone());
                }
                Some(old) if old.name == region.name => report.unchanged += 1,
                Some(_) => {
                    report.updated += 1;
                    if !dry_run {
                        diesel::update(regions::table.find(&region.code))
                            .set(regions::name.eq(&region.name))
                            .execute(conn)?;
                    }
                }
            }
        }
        if dry_run || report.created + report.updated == 0 {
            return Ok(report);
        }
        for chunk in created.chunks(500) {
            crate::insert_batch!(conn, regions::table, chunk)?;
        }
        let audit_region = match scope {
            Some(scope) => scope.clone(),
            None => checked
                .values()
                .next()
                .and_then(|(_, r)| RegionCode::parse(&r.code).ok())
                .map(|c| c.province())
                .unwrap_or_else(|| actor.region.clone()),
        };
        audit::record(
            conn,
            actor,
            &audit_region,
            "regions.import",
            "region",
            audit_region.as_str(),
            &format!(
                "imported {} regions: {} created, {} renamed, {} unchanged",
                report.rows, report.created, report.updated, report.unchanged
            ),
        )?;
        Ok(report)
    }
}
