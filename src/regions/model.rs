//! Regions: rows, checks and queries.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit;
use crate::auth::Principal;
use crate::codes::{Level, RegionCode, TownshipKind};
use crate::db::schema::regions;
use crate::db::{load_batched, DbConnection, BATCH};
use crate::error::{AppError, AppResult, FieldError};
use crate::import::{Checked, ImportReport};
use crate::paging::PageRequest;

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
    #[schema(min_length = 1, max_length = 100)]
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
    /// A problem when the region lies outside an importer's `scope`.
    fn outside(&self, scope: Option<&RegionCode>) -> Option<FieldError> {
        let code = RegionCode::parse(&self.code).ok()?;
        let scope = scope.filter(|s| !s.contains(&code))?;
        Some(FieldError::new(
            "code",
            format!("{code} lies outside your region {scope}"),
        ))
    }

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
        let mut checked = Checked::new(
            rows,
            "code",
            |input: RegionInput| match input.check() {
                Ok(region) => {
                    let problems = region.outside(scope).into_iter().collect();
                    (Some(region), problems)
                }
                Err(problems) => (None, problems),
            },
            |region| region.code.clone(),
        );
        let codes: Vec<String> = checked
            .rows
            .values()
            .flat_map(|(_, r)| std::iter::once(r.code.clone()).chain(r.parent_code.clone()))
            .collect();
        let existing: HashMap<String, Region> = load_batched(&codes, |chunk| {
            regions::table
                .filter(regions::code.eq_any(chunk))
                .select(Region::as_select())
                .load(conn)
        })?
        .into_iter()
        .map(|r| (r.code.clone(), r))
        .collect();
        let orphans: Vec<(usize, String)> = checked
            .rows
            .values()
            .filter_map(|(row, region)| {
                let parent = region.parent_code.as_ref()?;
                let known = existing.contains_key(parent) || checked.rows.contains_key(parent);
                (!known).then(|| {
                    let message =
                        format!("parent region {parent} is neither registered nor in this import");
                    (*row, message)
                })
            })
            .collect();
        for (row, message) in orphans {
            checked.problem(row, "parent", message);
        }
        let checked = checked.finish("body", "the file has no regions")?;
        let comparison = checked.compare(&existing, |region, old| old.name == region.name);
        let report = comparison.report(dry_run, checked.total, false);
        if dry_run || !report.changes_anything() {
            return Ok(report);
        }
        // Parents before children: levels in order, then codes.
        let mut created: Vec<Region> = comparison.created.iter().map(|r| (*r).clone()).collect();
        created.sort_by_key(|r| (Level::parse(&r.level), r.code.clone()));
        for chunk in created.chunks(BATCH) {
            crate::insert_batch!(conn, regions::table, chunk)?;
        }
        for (region, _) in &comparison.changed {
            diesel::update(regions::table.find(&region.code))
                .set(regions::name.eq(&region.name))
                .execute(conn)?;
        }
        let audit_region = match scope {
            Some(scope) => scope.clone(),
            None => checked
                .rows
                .keys()
                .next()
                .and_then(|code| RegionCode::parse(code).ok())
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
            &report.summary("regions", "renamed"),
        )?;
        Ok(report)
    }
}

/// A township named in a request (a lookup's `township`): its code and its name; 422 for
/// what is no township code, 404 for one that is not registered.
pub fn township_named(conn: &mut DbConnection, township: &str) -> AppResult<(RegionCode, String)> {
    let code = RegionCode::parse(township)
        .ok()
        .filter(|c| c.level() == Level::Township)
        .ok_or_else(|| {
            AppError::invalid(
                "township",
                format!("{township:?} is not a township division code"),
            )
        })?;
    let name = regions::table
        .find(code.as_str())
        .select(regions::name)
        .first::<String>(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no township {code}")))?;
    Ok((code, name))
}
