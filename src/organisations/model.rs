//! Organisations: rows, rules and queries.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::audit;
use crate::auth::Principal;
use crate::db::schema::{organisations, regions, sectors};
use crate::db::{load_batched, now, DbConnection, BATCH};
use crate::error::{AppError, AppResult, FieldError};
use crate::import::{Checked, Comparison, ImportReport};
use crate::paging::PageRequest;
use crate::regions::{Level, RegionCode};
use crate::revision;

/// The rule that a department officer acts for a registered department of the county.
pub const DEPARTMENT_OF_COUNTY: &str = "department-of-county";

/// What an organisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationKind {
    /// A county department with a sector (自然資源局, 市場監管局...).
    Department,
    /// 司法局: legality review.
    JusticeBureau,
    /// 編辦: the staffing office.
    StaffingOffice,
    /// 行政審批局: the administrative approval bureau.
    ApprovalBureau,
    /// 縣人民政府.
    CountyGovernment,
    /// A township's own unit (綜合行政執法隊, 便民服務中心...).
    TownshipUnit,
}

impl OrganisationKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrganisationKind::Department => "department",
            OrganisationKind::JusticeBureau => "justice_bureau",
            OrganisationKind::StaffingOffice => "staffing_office",
            OrganisationKind::ApprovalBureau => "approval_bureau",
            OrganisationKind::CountyGovernment => "county_government",
            OrganisationKind::TownshipUnit => "township_unit",
        }
    }

    /// Every kind.
    pub const ALL: [OrganisationKind; 6] = [
        OrganisationKind::Department,
        OrganisationKind::JusticeBureau,
        OrganisationKind::StaffingOffice,
        OrganisationKind::ApprovalBureau,
        OrganisationKind::CountyGovernment,
        OrganisationKind::TownshipUnit,
    ];

    /// Reads a kind's name.
    pub fn parse(name: &str) -> Option<OrganisationKind> {
        OrganisationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name.trim())
    }

    /// The kinds' names, for messages.
    pub fn names() -> String {
        OrganisationKind::ALL.map(|k| k.as_str()).join(", ")
    }

    /// The level of region an organisation of this kind belongs to.
    pub fn region_level(self) -> Level {
        match self {
            OrganisationKind::TownshipUnit => Level::Township,
            _ => Level::County,
        }
    }
}

/// An organisation of a county or township.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = organisations)]
pub struct Organisation {
    /// Stable code, e.g. `luxian-zrzy`.
    pub code: String,
    /// Name, e.g. 瀘縣自然資源和規劃局.
    pub name: String,
    /// Kind.
    #[schema(value_type = OrganisationKind)]
    pub kind: String,
    /// Sector code (required for departments).
    pub sector: Option<String>,
    /// The county or township it belongs to.
    #[serde(rename = "region")]
    pub region_code: String,
    /// Revision, also the ETag.
    pub revision: i64,
    /// Created, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub created_at: NaiveDateTime,
    /// Last changed, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub updated_at: NaiveDateTime,
}

/// A new organisation, or the full new state of one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationInput {
    /// Stable code: 2–64 of `a-z`, `0-9`, `-`.
    #[schema(min_length = 2, max_length = 64, pattern = "^[a-z0-9][a-z0-9-]*$")]
    pub code: String,
    /// Name, 1–100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Kind.
    pub kind: OrganisationKind,
    /// Sector code; required for departments.
    #[serde(default)]
    pub sector: Option<String>,
    /// The county (or, for township units, township) division code.
    pub region: String,
}

/// Every rule is checked in [`OrganisationInput::check`], so that one answer lists them all.
impl Validate for OrganisationInput {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

static ORG_CODE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"^[a-z0-9][a-z0-9-]*$").expect("valid regex"));

/// Filters for listing organisations.
#[derive(Debug, Clone, Default)]
pub struct OrganisationFilter {
    /// Only inside this region (the caller's scope).
    pub scope: Option<RegionCode>,
    /// Only in exactly this region.
    pub region: Option<String>,
    /// Only this kind.
    pub kind: Option<OrganisationKind>,
    /// Only this sector.
    pub sector: Option<String>,
}

/// Sector codes known to the dictionary.
pub fn known_sectors(conn: &mut DbConnection) -> AppResult<HashSet<String>> {
    Ok(sectors::table
        .select(sectors::code)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

impl OrganisationInput {
    /// Checks the rules that need no database, plus the sector and region against the
    /// dictionaries given; returns the region code.
    fn check(
        &self,
        sectors: &HashSet<String>,
        region_exists: bool,
    ) -> Result<RegionCode, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(2..=64).contains(&self.code.len()) || !ORG_CODE.is_match(&self.code) {
            errors.push(FieldError::new(
                "code",
                "must be 2 to 64 lowercase letters, digits and hyphens",
            ));
        }
        if !(1..=100).contains(&self.name.trim().chars().count()) {
            errors.push(FieldError::new("name", "must be 1 to 100 characters"));
        }
        match (&self.sector, self.kind) {
            (None, OrganisationKind::Department) => {
                errors.push(FieldError::new("sector", "a department needs a sector"))
            }
            (Some(s), _) if !sectors.contains(s) => errors.push(FieldError::new(
                "sector",
                format!("{s:?} is not a known sector"),
            )),
            _ => {}
        }
        let region = match RegionCode::parse(&self.region) {
            Ok(r) => r,
            Err(e) => {
                errors.push(FieldError::new("region", e));
                return Err(errors);
            }
        };
        if region.level() != self.kind.region_level() {
            errors.push(FieldError::new(
                "region",
                format!(
                    "a {} belongs to a {} region; {} is a {}",
                    self.kind.as_str(),
                    self.kind.region_level().as_str(),
                    region,
                    region.level().as_str()
                ),
            ));
        } else if !region_exists {
            errors.push(FieldError::new(
                "region",
                format!("region {region} is not registered"),
            ));
        }
        if errors.is_empty() {
            Ok(region)
        } else {
            Err(errors)
        }
    }
}

fn region_exists(conn: &mut DbConnection, code: &str) -> AppResult<bool> {
    Ok(regions::table.find(code).count().get_result::<i64>(conn)? > 0)
}

impl Organisation {
    /// One organisation.
    pub fn find(conn: &mut DbConnection, code: &str) -> AppResult<Organisation> {
        organisations::table
            .find(code)
            .select(Organisation::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::NotFound(format!("no organisation with code {code}")))
    }

    /// The registered organisation a token acts for (its `org`), if there is one.
    pub fn of_actor(conn: &mut DbConnection, actor: &Principal) -> AppResult<Option<Organisation>> {
        Ok(organisations::table
            .find(&actor.org)
            .select(Organisation::as_select())
            .first(conn)
            .optional()?)
    }

    /// The department of `county` a department officer acts for: its `org` must be one,
    /// registered; otherwise a refusal by [`DEPARTMENT_OF_COUNTY`].
    pub fn department_of_actor(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
    ) -> AppResult<Organisation> {
        match Organisation::of_actor(conn, actor)? {
            Some(org)
                if org.kind == OrganisationKind::Department.as_str()
                    && org.region_code == county.as_str() =>
            {
                Ok(org)
            }
            _ => Err(AppError::refused(
                DEPARTMENT_OF_COUNTY,
                format!(
                    "your organisation {} is not a registered department of county {county}",
                    actor.org
                ),
            )),
        }
    }

    /// The region it belongs to.
    pub fn region(&self) -> RegionCode {
        RegionCode::parse(&self.region_code).expect("stored region codes are valid")
    }

    /// A page of organisations in code order.
    pub fn list(
        conn: &mut DbConnection,
        filter: &OrganisationFilter,
        page: PageRequest,
    ) -> AppResult<(Vec<Organisation>, i64)> {
        let query = || {
            let mut q = organisations::table.into_boxed();
            if let Some(scope) = &filter.scope {
                q = q.filter(organisations::region_code.like(format!("{}%", scope.scope_prefix())));
            }
            if let Some(region) = &filter.region {
                q = q.filter(organisations::region_code.eq(region.clone()));
            }
            if let Some(kind) = filter.kind {
                q = q.filter(organisations::kind.eq(kind.as_str()));
            }
            if let Some(sector) = &filter.sector {
                q = q.filter(organisations::sector.eq(sector.clone()));
            }
            q
        };
        let total = query().count().get_result(conn)?;
        let items = query()
            .order(organisations::code.asc())
            .limit(page.size)
            .offset(page.offset())
            .select(Organisation::as_select())
            .load(conn)?;
        Ok((items, total))
    }

    /// Creates an organisation inside the actor's scope.
    pub fn create(
        conn: &mut DbConnection,
        actor: &Principal,
        input: OrganisationInput,
    ) -> AppResult<Organisation> {
        if let Ok(region) = RegionCode::parse(&input.region) {
            actor.require(crate::auth::Permission::ManageOrganisations, &region)?;
        }
        let sectors = known_sectors(conn)?;
        let exists = region_exists(conn, &input.region)?;
        let region = input
            .check(&sectors, exists)
            .map_err(|e| AppError::check(e).unwrap_err())?;
        actor.require(crate::auth::Permission::ManageOrganisations, &region)?;
        if organisations::table
            .find(&input.code)
            .count()
            .get_result::<i64>(conn)?
            > 0
        {
            return Err(AppError::Conflict(format!(
                "an organisation with code {} already exists",
                input.code
            )));
        }
        ensure_unique_name(conn, &region, &input.name, None)?;
        let stamp = now();
        let org = Organisation {
            code: input.code,
            name: input.name,
            kind: input.kind.as_str().into(),
            sector: input.sector,
            region_code: region.to_string(),
            revision: 1,
            created_at: stamp,
            updated_at: stamp,
        };
        diesel::insert_into(organisations::table)
            .values(&org)
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            &region,
            "organisation.create",
            "organisation",
            &org.code,
            &format!("created {} ({})", org.name, org.kind),
        )?;
        Ok(org)
    }

    /// Replaces an organisation's name, kind and sector (its code and region are fixed).
    pub fn update(
        conn: &mut DbConnection,
        actor: &Principal,
        code: &str,
        expected_revision: i64,
        input: OrganisationInput,
    ) -> AppResult<Organisation> {
        let current = Organisation::find(conn, code)?;
        actor.require(
            crate::auth::Permission::ManageOrganisations,
            &current.region(),
        )?;
        revision::require(expected_revision, current.revision)?;
        let mut errors = Vec::new();
        if input.code != current.code {
            errors.push(FieldError::new(
                "code",
                "the code of an organisation cannot change",
            ));
        }
        if input.region != current.region_code {
            errors.push(FieldError::new(
                "region",
                "an organisation cannot move to another region",
            ));
        }
        AppError::check(errors)?;
        let sectors = known_sectors(conn)?;
        let region = input
            .check(&sectors, true)
            .map_err(|e| AppError::check(e).unwrap_err())?;
        ensure_unique_name(conn, &region, &input.name, Some(code))?;
        let updated = Organisation {
            name: input.name,
            kind: input.kind.as_str().into(),
            sector: input.sector,
            revision: current.revision + 1,
            updated_at: now(),
            ..current.clone()
        };
        let changed = diesel::update(
            organisations::table
                .find(code)
                .filter(organisations::revision.eq(current.revision)),
        )
        .set((
            organisations::name.eq(&updated.name),
            organisations::kind.eq(&updated.kind),
            organisations::sector.eq(&updated.sector),
            organisations::revision.eq(updated.revision),
            organisations::updated_at.eq(updated.updated_at),
        ))
        .execute(conn)?;
        revision::guarded(changed, || {
            Ok(organisations::table
                .find(code)
                .select(organisations::revision)
                .first(conn)?)
        })?;
        audit::record(
            conn,
            actor,
            &region,
            "organisation.update",
            "organisation",
            code,
            &format!("updated {}", updated.name),
        )?;
        Ok(updated)
    }

    /// Deletes an organisation nothing refers to.
    pub fn delete(
        conn: &mut DbConnection,
        actor: &Principal,
        code: &str,
        expected_revision: i64,
    ) -> AppResult<()> {
        let current = Organisation::find(conn, code)?;
        let region = current.region();
        actor.require(crate::auth::Permission::ManageOrganisations, &region)?;
        revision::require(expected_revision, current.revision)?;
        let deleted = diesel::delete(
            organisations::table
                .find(code)
                .filter(organisations::revision.eq(current.revision)),
        )
        .execute(conn)?;
        revision::guarded(deleted, || {
            Ok(organisations::table
                .find(code)
                .select(organisations::revision)
                .first(conn)?)
        })?;
        audit::record(
            conn,
            actor,
            &region,
            "organisation.delete",
            "organisation",
            code,
            &format!("deleted {}", current.name),
        )?;
        Ok(())
    }

    /// Imports organisations all-or-nothing: new codes are created, existing ones updated.
    pub fn import(
        conn: &mut DbConnection,
        actor: &Principal,
        scope: Option<&RegionCode>,
        rows: Vec<(usize, OrganisationInput)>,
        dry_run: bool,
    ) -> AppResult<ImportReport> {
        let sectors = known_sectors(conn)?;
        let regions_named: Vec<String> = rows.iter().map(|(_, r)| r.region.clone()).collect();
        let known_regions: HashSet<String> = load_batched(&regions_named, |chunk| {
            regions::table
                .filter(regions::code.eq_any(chunk))
                .select(regions::code)
                .load(conn)
        })?
        .into_iter()
        .collect();
        let codes: Vec<String> = rows.iter().map(|(_, r)| r.code.clone()).collect();
        let existing: HashMap<String, Organisation> = load_batched(&codes, |chunk| {
            organisations::table
                .filter(organisations::code.eq_any(chunk))
                .select(Organisation::as_select())
                .load(conn)
        })?
        .into_iter()
        .map(|org| (org.code.clone(), org))
        .collect();
        let stored_names = stored_names(conn, &regions_named)?;
        let mut checked = Checked::new(
            rows,
            "code",
            |input: OrganisationInput| {
                let problems = input.import_problems(
                    &sectors,
                    known_regions.contains(&input.region),
                    scope,
                    existing.get(&input.code),
                );
                (Some(input), problems)
            },
            |input| input.code.clone(),
        );
        checked.unique(
            "name",
            |input| (input.region.clone(), input.name.clone()),
            |input, first| {
                format!(
                    "{} appears twice in {} (first in row {first})",
                    input.name, input.region
                )
            },
        );
        name_clashes(&mut checked, &stored_names);
        let checked = checked.finish("body", "the file has no organisations")?;
        let comparison = checked.compare(&existing, |input, old| {
            old.name == input.name && old.kind == input.kind.as_str() && old.sector == input.sector
        });
        let report = comparison.report(dry_run, checked.total, false);
        if dry_run || !report.changes_anything() {
            return Ok(report);
        }
        Organisation::store_import(conn, &comparison)?;
        let audit_region = scope.cloned().unwrap_or_else(|| actor.region.clone());
        audit::record(
            conn,
            actor,
            &audit_region,
            "organisations.import",
            "organisation",
            audit_region.as_str(),
            &report.summary("organisations", "updated"),
        )?;
        Ok(report)
    }

    /// Writes an import's new and changed organisations. Renames go through a placeholder
    /// first, so that swapping two names within one import never collides with the
    /// unique key half way.
    fn store_import(
        conn: &mut DbConnection,
        comparison: &Comparison<'_, String, OrganisationInput, Organisation>,
    ) -> AppResult<()> {
        for (input, old) in &comparison.changed {
            if old.name != input.name {
                diesel::update(organisations::table.find(&old.code))
                    .set(organisations::name.eq(format!("\u{1}{}", old.code)))
                    .execute(conn)?;
            }
        }
        let stamp = now();
        let created: Vec<Organisation> = comparison
            .created
            .iter()
            .map(|input| Organisation {
                code: input.code.clone(),
                name: input.name.clone(),
                kind: input.kind.as_str().into(),
                sector: input.sector.clone(),
                region_code: input.region.clone(),
                revision: 1,
                created_at: stamp,
                updated_at: stamp,
            })
            .collect();
        for chunk in created.chunks(BATCH) {
            crate::insert_batch!(conn, organisations::table, chunk)?;
        }
        for (input, old) in &comparison.changed {
            diesel::update(organisations::table.find(&old.code))
                .set((
                    organisations::name.eq(&input.name),
                    organisations::kind.eq(input.kind.as_str()),
                    organisations::sector.eq(&input.sector),
                    organisations::revision.eq(old.revision + 1),
                    organisations::updated_at.eq(stamp),
                ))
                .execute(conn)?;
        }
        Ok(())
    }
}

/// Which organisation holds each (region, name) in the regions an import names.
fn stored_names(
    conn: &mut DbConnection,
    regions: &[String],
) -> AppResult<HashMap<(String, String), String>> {
    Ok(load_batched(regions, |chunk| {
        organisations::table
            .filter(organisations::region_code.eq_any(chunk))
            .select((
                organisations::code,
                organisations::region_code,
                organisations::name,
            ))
            .load::<(String, String, String)>(conn)
    })?
    .into_iter()
    .map(|(code, region, name)| ((region, name), code))
    .collect())
}

/// Names stay unique per region against what is stored too. A name held by an
/// organisation that this import renames is free (a swap); any other is taken.
fn name_clashes(
    checked: &mut Checked<String, OrganisationInput>,
    stored_names: &HashMap<(String, String), String>,
) {
    let renamed_to: HashMap<String, String> = checked
        .rows
        .values()
        .map(|(_, r)| (r.code.clone(), r.name.clone()))
        .collect();
    let mut clashes = Vec::new();
    for (row, input) in checked.rows.values() {
        let Some(holder) = stored_names.get(&(input.region.clone(), input.name.clone())) else {
            continue;
        };
        let freed = renamed_to.get(holder).is_some_and(|new| *new != input.name);
        if *holder != input.code && !freed {
            clashes.push((
                *row,
                format!(
                    "{} already has an organisation named {} ({holder})",
                    input.region, input.name
                ),
            ));
        }
    }
    for (row, message) in clashes {
        checked.problem(row, "name", message);
    }
}

impl OrganisationInput {
    /// A row's problems in an import: its own, a region outside the importer's, a code
    /// that already belongs to another region.
    fn import_problems(
        &self,
        sectors: &HashSet<String>,
        region_known: bool,
        scope: Option<&RegionCode>,
        existing: Option<&Organisation>,
    ) -> Vec<FieldError> {
        let region = match self.check(sectors, region_known) {
            Ok(region) => region,
            Err(problems) => return problems,
        };
        let mut problems = Vec::new();
        if let Some(scope) = scope.filter(|s| !s.contains(&region)) {
            problems.push(FieldError::new(
                "region",
                format!("{region} lies outside your region {scope}"),
            ));
        }
        if let Some(old) = existing.filter(|old| old.region_code != self.region) {
            problems.push(FieldError::new(
                "region",
                format!("{} already belongs to {}", self.code, old.region_code),
            ));
        }
        problems
    }
}

fn ensure_unique_name(
    conn: &mut DbConnection,
    region: &RegionCode,
    name: &str,
    except: Option<&str>,
) -> AppResult<()> {
    let mut q = organisations::table
        .filter(organisations::region_code.eq(region.as_str()))
        .filter(organisations::name.eq(name))
        .into_boxed();
    if let Some(code) = except {
        q = q.filter(organisations::code.ne(code));
    }
    if q.count().get_result::<i64>(conn)? > 0 {
        return Err(AppError::Conflict(format!(
            "{region} already has an organisation named {name}"
        )));
    }
    Ok(())
}
