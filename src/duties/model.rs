//! The responsibility list's working copy: matters, their departments, the list's
//! revision, and the rules every matter obeys.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, AuditEntry};
use crate::auth::{Permission, Principal};
use crate::catalogue::LegalBasis;
use crate::db::schema::{duty_departments, duty_lists, duty_matters, organisations};
use crate::db::{now, DbConnection, BATCH};
use crate::error::{AppError, AppResult, FieldError};
use crate::import::{Checked, Comparison, ImportReport};
use crate::organisations::OrganisationKind;
use crate::paging::PageRequest;
use crate::regions::RegionCode;
use crate::revision;
use crate::text::separator_problem;
use crate::text::{search_terms, searchable};

/// A department and what it must do for a matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentDuties {
    /// Organisation code of a department of the county.
    pub department: String,
    /// Its duties (主體責任 for the lead, 配合責任 for a supporter), one per entry.
    #[serde(default)]
    #[schema(required = true, min_items = 1)]
    pub duties: Vec<String>,
}

/// A matter as submitted (create, replace, import, admission) and as compared by diffs.
/// Its rules are checked against the county in [`MatterInput::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatterInput {
    /// Code, unique in the county's list: uppercase letters, digits and hyphens.
    #[schema(min_length = 1, max_length = 32, pattern = "^[A-Z0-9]+(-[A-Z0-9]+)*$")]
    pub code: String,
    /// Name of the matter, e.g. 餐飲服務業油煙污染的監管.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Domain, e.g. 生態環境.
    #[schema(min_length = 1, max_length = 50)]
    pub domain: String,
    /// Legal basis (law, article, excerpt), at least one.
    #[serde(default)]
    pub legal_basis: Vec<LegalBasis>,
    /// The one lead department (牽頭) with its duties.
    pub lead: DepartmentDuties,
    /// Supporting departments (配合) with theirs.
    #[serde(default)]
    pub supporters: Vec<DepartmentDuties>,
    /// The township's duties (屬地責任): patrol, discover and report, persuade...
    #[serde(default)]
    #[schema(required = true, min_items = 1)]
    pub township_duties: Vec<String>,
    /// Handled as one joint case (一件事).
    #[serde(default)]
    pub one_matter: bool,
    /// Minutes within which the lead responds, where the county sets it.
    #[serde(default)]
    pub lead_response_minutes: Option<i32>,
    /// Minutes within which supporters are on site, where the county sets it.
    #[serde(default)]
    pub support_arrival_minutes: Option<i32>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
}

/// A department of a matter as read, with its name.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct DepartmentRole {
    /// Organisation code.
    pub department: String,
    /// Its name.
    pub name: String,
    /// Its duties.
    pub duties: Vec<String>,
}

/// A matter of a county's list as read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Matter {
    /// The county.
    pub county: String,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Domain.
    pub domain: String,
    /// Legal basis.
    pub legal_basis: Vec<LegalBasis>,
    /// The lead department.
    pub lead: DepartmentRole,
    /// Supporting departments.
    pub supporters: Vec<DepartmentRole>,
    /// The township's duties.
    pub township_duties: Vec<String>,
    /// Handled as one joint case.
    pub one_matter: bool,
    /// Lead response time, minutes.
    pub lead_response_minutes: Option<i32>,
    /// Supporters on site, minutes.
    pub support_arrival_minutes: Option<i32>,
    /// Notes.
    pub notes: Option<String>,
    /// Revision, also the ETag.
    pub revision: i64,
    /// Created, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub created_at: NaiveDateTime,
    /// Last changed, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub updated_at: NaiveDateTime,
}

impl Matter {
    /// The content, as it would be submitted.
    pub fn content(&self) -> MatterInput {
        let duties = |r: &DepartmentRole| DepartmentDuties {
            department: r.department.clone(),
            duties: r.duties.clone(),
        };
        MatterInput {
            code: self.code.clone(),
            name: self.name.clone(),
            domain: self.domain.clone(),
            legal_basis: self.legal_basis.clone(),
            lead: duties(&self.lead),
            supporters: self.supporters.iter().map(duties).collect(),
            township_duties: self.township_duties.clone(),
            one_matter: self.one_matter,
            lead_response_minutes: self.lead_response_minutes,
            support_arrival_minutes: self.support_arrival_minutes,
            notes: self.notes.clone(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = duty_matters)]
struct MatterRow {
    id: i64,
    county_code: String,
    code: String,
    name: String,
    domain: String,
    legal_basis: String,
    township_duties: String,
    one_matter: bool,
    lead_response_minutes: Option<i32>,
    support_arrival_minutes: Option<i32>,
    notes: Option<String>,
    revision: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = duty_matters)]
struct NewMatterRow<'a> {
    county_code: &'a str,
    code: &'a str,
    name: &'a str,
    search_text: String,
    domain: &'a str,
    legal_basis: String,
    township_duties: String,
    one_matter: bool,
    lead_response_minutes: Option<i32>,
    support_arrival_minutes: Option<i32>,
    notes: Option<&'a str>,
    revision: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = duty_departments)]
struct DepartmentRow {
    matter_id: i64,
    county_code: String,
    org_code: String,
    role: &'static str,
    position: i32,
    duties: String,
}

/// The working copy's header: its revision moves on with every change of any matter.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DutyList {
    /// The county.
    pub county: String,
    /// Revision, also the ETag (0 before the first matter).
    pub revision: i64,
    /// Matters in the list.
    pub matters: i64,
    /// Last changed, UTC.
    #[serde(with = "crate::timestamp::utc_option")]
    pub updated_at: Option<NaiveDateTime>,
}

/// Filters on the matter list.
#[derive(Debug, Clone, Default)]
pub struct MatterFilter {
    /// Domain.
    pub domain: Option<String>,
    /// Lead department code.
    pub lead: Option<String>,
    /// Supporting department code.
    pub supporter: Option<String>,
    /// One-matter flag.
    pub one_matter: Option<bool>,
    /// Text in the name, in either script.
    pub q: Option<String>,
}

static MATTER_CODE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[A-Z0-9]+(-[A-Z0-9]+)*$").expect("valid regex")
});

/// The county's departments: code → name, for the rules and for names in answers.
pub(super) fn county_departments(
    conn: &mut DbConnection,
    county: &RegionCode,
) -> AppResult<HashMap<String, String>> {
    Ok(organisations::table
        .filter(organisations::region_code.eq(county.as_str()))
        .filter(organisations::kind.eq(OrganisationKind::Department.as_str()))
        .select((organisations::code, organisations::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

fn check_entries(field: &str, entries: &[String], required: bool, errors: &mut Vec<FieldError>) {
    if required && entries.is_empty() {
        errors.push(FieldError::new(field, "needs at least one entry"));
    }
    for (i, entry) in entries.iter().enumerate() {
        if entry.trim().is_empty() {
            errors.push(FieldError::new(
                format!("{field}[{i}]"),
                "must not be empty",
            ));
        } else if let Some(message) = separator_problem(entry) {
            errors.push(FieldError::new(format!("{field}[{i}]"), message));
        }
    }
}

impl MatterInput {
    /// Trims text, so that stored content is canonical.
    pub fn normalise(&mut self) {
        let trim = |s: &mut String| *s = s.trim().to_string();
        trim(&mut self.code);
        trim(&mut self.name);
        trim(&mut self.domain);
        trim(&mut self.lead.department);
        self.lead.duties.iter_mut().for_each(trim);
        for s in &mut self.supporters {
            trim(&mut s.department);
            s.duties.iter_mut().for_each(trim);
        }
        self.township_duties.iter_mut().for_each(trim);
        for b in &mut self.legal_basis {
            trim(&mut b.law);
            trim(&mut b.article);
            trim(&mut b.excerpt);
        }
        self.notes = self
            .notes
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from);
    }

    /// Every rule a matter obeys on its own; `departments` are the county's.
    pub fn check(
        &self,
        county: &RegionCode,
        departments: &HashMap<String, String>,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !(1..=32).contains(&self.code.len()) || !MATTER_CODE.is_match(&self.code) {
            errors.push(FieldError::new(
                "code",
                format!(
                    "{:?} must be 1–32 uppercase letters, digits and single hyphens, e.g. SD-001",
                    self.code
                ),
            ));
        }
        if !(1..=200).contains(&self.name.chars().count()) {
            errors.push(FieldError::new("name", "must be 1 to 200 characters"));
        }
        if !(1..=50).contains(&self.domain.chars().count()) {
            errors.push(FieldError::new("domain", "must be 1 to 50 characters"));
        }
        if self.legal_basis.is_empty() {
            errors.push(FieldError::new(
                "legal_basis",
                "at least one legal basis is required",
            ));
        }
        for (i, basis) in self.legal_basis.iter().enumerate() {
            if basis.law.is_empty() {
                errors.push(FieldError::new(
                    format!("legal_basis[{i}].law"),
                    "must name the law or regulation",
                ));
            }
            for (part, text) in [
                ("law", &basis.law),
                ("article", &basis.article),
                ("excerpt", &basis.excerpt),
            ] {
                if let Some(message) = separator_problem(text) {
                    errors.push(FieldError::new(format!("legal_basis[{i}].{part}"), message));
                }
            }
        }
        let mut department = |field: &str, code: &str| {
            if !departments.contains_key(code) {
                errors.push(FieldError::new(
                    field,
                    format!("{code:?} is not a department of county {county}"),
                ));
            }
        };
        department("lead.department", &self.lead.department);
        for (i, s) in self.supporters.iter().enumerate() {
            department(&format!("supporters[{i}].department"), &s.department);
        }
        check_entries("lead.duties", &self.lead.duties, true, &mut errors);
        let mut seen = HashSet::new();
        for (i, s) in self.supporters.iter().enumerate() {
            if s.department == self.lead.department {
                errors.push(FieldError::new(
                    format!("supporters[{i}].department"),
                    format!(
                        "{} leads this matter, so it cannot also support it",
                        s.department
                    ),
                ));
            } else if !seen.insert(&s.department) {
                errors.push(FieldError::new(
                    format!("supporters[{i}].department"),
                    format!("{} is listed twice", s.department),
                ));
            }
            check_entries(
                &format!("supporters[{i}].duties"),
                &s.duties,
                true,
                &mut errors,
            );
        }
        check_entries("township_duties", &self.township_duties, true, &mut errors);
        for (field, minutes) in [
            ("lead_response_minutes", self.lead_response_minutes),
            ("support_arrival_minutes", self.support_arrival_minutes),
        ] {
            if minutes.is_some_and(|m| !(1..=10080).contains(&m)) {
                errors.push(FieldError::new(
                    field,
                    "must be between 1 and 10080 minutes",
                ));
            }
        }
        errors
    }
}

/// Matter queries and changes of one county's working copy.
pub struct DutyLists;

fn entity(county: &RegionCode, code: &str) -> String {
    format!("{county}/{code}")
}

impl DutyLists {
    /// The list's header.
    pub fn header(conn: &mut DbConnection, county: &RegionCode) -> AppResult<DutyList> {
        let row: Option<(i64, NaiveDateTime)> = duty_lists::table
            .find(county.as_str())
            .select((duty_lists::revision, duty_lists::updated_at))
            .first(conn)
            .optional()?;
        let matters = duty_matters::table
            .filter(duty_matters::county_code.eq(county.as_str()))
            .count()
            .get_result(conn)?;
        Ok(DutyList {
            county: county.to_string(),
            revision: row.map(|r| r.0).unwrap_or(0),
            matters,
            updated_at: row.map(|r| r.1),
        })
    }

    /// Takes the list for a change: checks the right, makes sure the list's row exists
    /// (a concurrent first writer waits on the unique key instead of failing), then
    /// moves the revision on with a guarded UPDATE that holds the row until commit, so
    /// changes of one county's list queue. `expected` guards whole-list writes.
    fn for_change(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
        expected: Option<i64>,
    ) -> AppResult<()> {
        actor.require(Permission::ManageDutyList, county)?;
        let stamp = now();
        let row = (
            duty_lists::county_code.eq(county.as_str()),
            duty_lists::revision.eq(0),
            duty_lists::updated_at.eq(stamp),
        );
        match conn {
            DbConnection::Sqlite(c) => diesel::insert_into(duty_lists::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c),
            DbConnection::Postgresql(c) => diesel::insert_into(duty_lists::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c),
        }?;
        let mut update = diesel::update(duty_lists::table.find(county.as_str())).into_boxed();
        if let Some(expected) = expected {
            update = update.filter(duty_lists::revision.eq(expected));
        }
        let changed = update
            .set((
                duty_lists::revision.eq(duty_lists::revision + 1),
                duty_lists::updated_at.eq(stamp),
            ))
            .execute(conn)?;
        revision::guarded(changed, || Ok(DutyLists::header(conn, county)?.revision))
    }

    /// A page of matters in code order.
    pub fn list(
        conn: &mut DbConnection,
        county: &RegionCode,
        filter: &MatterFilter,
        page: PageRequest,
    ) -> AppResult<(Vec<Matter>, i64)> {
        let county_str = county.to_string();
        let query = || {
            let mut q = duty_matters::table
                .filter(duty_matters::county_code.eq(county_str.clone()))
                .into_boxed();
            if let Some(v) = &filter.domain {
                q = q.filter(duty_matters::domain.eq(v.clone()));
            }
            if let Some(v) = filter.one_matter {
                q = q.filter(duty_matters::one_matter.eq(v));
            }
            for (org, role) in [(&filter.lead, "lead"), (&filter.supporter, "support")] {
                if let Some(org) = org {
                    q = q.filter(
                        duty_matters::id.eq_any(
                            duty_departments::table
                                .filter(duty_departments::org_code.eq(org.clone()))
                                .filter(duty_departments::role.eq(role))
                                .select(duty_departments::matter_id),
                        ),
                    );
                }
            }
            for term in filter.q.as_deref().map(search_terms).unwrap_or_default() {
                q = q.filter(
                    duty_matters::search_text
                        .like(crate::db::like_pattern(&term))
                        .escape('\\'),
                );
            }
            q
        };
        let total = query().count().get_result(conn)?;
        let rows = query()
            .order(duty_matters::code.asc())
            .limit(page.size)
            .offset(page.offset())
            .select(MatterRow::as_select())
            .load(conn)?;
        Ok((DutyLists::assemble(conn, rows)?, total))
    }

    /// Every matter of the list, in code order.
    pub fn all(conn: &mut DbConnection, county: &RegionCode) -> AppResult<Vec<Matter>> {
        let rows = duty_matters::table
            .filter(duty_matters::county_code.eq(county.as_str()))
            .order(duty_matters::code.asc())
            .select(MatterRow::as_select())
            .load(conn)?;
        DutyLists::assemble(conn, rows)
    }

    /// One matter.
    pub fn find(conn: &mut DbConnection, county: &RegionCode, code: &str) -> AppResult<Matter> {
        let row = DutyLists::find_row(conn, county, code)?
            .ok_or_else(|| AppError::NotFound(format!("county {county} has no matter {code}")))?;
        Ok(DutyLists::assemble(conn, vec![row])?.remove(0))
    }

    fn find_row(
        conn: &mut DbConnection,
        county: &RegionCode,
        code: &str,
    ) -> AppResult<Option<MatterRow>> {
        Ok(duty_matters::table
            .filter(duty_matters::county_code.eq(county.as_str()))
            .filter(duty_matters::code.eq(code))
            .select(MatterRow::as_select())
            .first(conn)
            .optional()?)
    }

    /// Adds departments (with names) to matter rows: one query for all of them.
    fn assemble(conn: &mut DbConnection, rows: Vec<MatterRow>) -> AppResult<Vec<Matter>> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut departments: HashMap<i64, Vec<(String, String, String, String)>> = HashMap::new();
        for chunk in ids.chunks(BATCH) {
            for (matter, org, role, duties, name) in duty_departments::table
                .inner_join(
                    organisations::table.on(organisations::code.eq(duty_departments::org_code)),
                )
                .filter(duty_departments::matter_id.eq_any(chunk))
                .order((duty_departments::matter_id, duty_departments::position))
                .select((
                    duty_departments::matter_id,
                    duty_departments::org_code,
                    duty_departments::role,
                    duty_departments::duties,
                    organisations::name,
                ))
                .load::<(i64, String, String, String, String)>(conn)?
            {
                departments
                    .entry(matter)
                    .or_default()
                    .push((org, role, duties, name));
            }
        }
        rows.into_iter()
            .map(|row| {
                let mut lead = None;
                let mut supporters = Vec::new();
                for (org, role, duties, name) in departments.remove(&row.id).unwrap_or_default() {
                    let entry = DepartmentRole {
                        department: org,
                        name,
                        duties: serde_json::from_str(&duties)?,
                    };
                    if role == "lead" {
                        lead = Some(entry);
                    } else {
                        supporters.push(entry);
                    }
                }
                Ok(Matter {
                    county: row.county_code,
                    code: row.code,
                    name: row.name,
                    domain: row.domain,
                    legal_basis: serde_json::from_str(&row.legal_basis)?,
                    lead: lead.ok_or_else(|| {
                        AppError::Internal(format!("matter {} has no lead", row.id))
                    })?,
                    supporters,
                    township_duties: serde_json::from_str(&row.township_duties)?,
                    one_matter: row.one_matter,
                    lead_response_minutes: row.lead_response_minutes,
                    support_arrival_minutes: row.support_arrival_minutes,
                    notes: row.notes,
                    revision: row.revision,
                    created_at: row.created_at,
                    updated_at: row.updated_at,
                })
            })
            .collect()
    }

    /// Checks a matter against the county: its own rules, and a name not used by another.
    fn checked(
        conn: &mut DbConnection,
        county: &RegionCode,
        mut input: MatterInput,
        except: Option<&str>,
    ) -> AppResult<MatterInput> {
        input.normalise();
        let departments = county_departments(conn, county)?;
        let mut errors = input.check(county, &departments);
        let mut same_name = duty_matters::table
            .filter(duty_matters::county_code.eq(county.as_str()))
            .filter(duty_matters::name.eq(&input.name))
            .select(duty_matters::code)
            .into_boxed();
        if let Some(code) = except {
            same_name = same_name.filter(duty_matters::code.ne(code.to_string()));
        }
        if let Some(other) = same_name.first::<String>(conn).optional()? {
            errors.push(FieldError::new(
                "name",
                format!("matter {other} of this county already has this name"),
            ));
        }
        AppError::check(errors)?;
        Ok(input)
    }

    /// Writes a matter row and its departments.
    fn insert(
        conn: &mut DbConnection,
        county: &RegionCode,
        input: &MatterInput,
        revision: i64,
        created_at: NaiveDateTime,
    ) -> AppResult<()> {
        let stamp = now();
        let row = NewMatterRow {
            county_code: county.as_str(),
            code: &input.code,
            name: &input.name,
            search_text: searchable(&[&input.name, &input.domain]),
            domain: &input.domain,
            legal_basis: serde_json::to_string(&input.legal_basis)?,
            township_duties: serde_json::to_string(&input.township_duties)?,
            one_matter: input.one_matter,
            lead_response_minutes: input.lead_response_minutes,
            support_arrival_minutes: input.support_arrival_minutes,
            notes: input.notes.as_deref(),
            revision,
            created_at,
            updated_at: stamp,
        };
        let id = crate::insert_returning_id!(conn, duty_matters::table, &row, duty_matters::id)?;
        let departments: Vec<DepartmentRow> = std::iter::once((&input.lead, "lead"))
            .chain(input.supporters.iter().map(|s| (s, "support")))
            .enumerate()
            .map(|(position, (d, role))| {
                Ok(DepartmentRow {
                    matter_id: id,
                    county_code: county.to_string(),
                    org_code: d.department.clone(),
                    role,
                    position: position as i32,
                    duties: serde_json::to_string(&d.duties)?,
                })
            })
            .collect::<AppResult<_>>()?;
        crate::insert_batch!(conn, duty_departments::table, &departments)?;
        Ok(())
    }

    /// Adds a matter to the working copy.
    pub fn create(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
        input: MatterInput,
    ) -> AppResult<Matter> {
        DutyLists::for_change(conn, actor, county, None)?;
        let input = DutyLists::checked(conn, county, input, None)?;
        if DutyLists::find_row(conn, county, &input.code)?.is_some() {
            return Err(AppError::Conflict(format!(
                "county {county} already has a matter {}",
                input.code
            )));
        }
        DutyLists::insert(conn, county, &input, 1, now())?;
        audit::record(
            conn,
            actor,
            county,
            "duties.matter.create",
            "duty_matter",
            &entity(county, &input.code),
            &format!("added {} {}", input.code, input.name),
        )?;
        DutyLists::find(conn, county, &input.code)
    }

    /// Replaces a matter. Its code is fixed.
    pub fn update(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
        code: &str,
        expected: i64,
        input: MatterInput,
    ) -> AppResult<Matter> {
        DutyLists::for_change(conn, actor, county, None)?;
        let current = DutyLists::find_row(conn, county, code)?
            .ok_or_else(|| AppError::NotFound(format!("county {county} has no matter {code}")))?;
        revision::require(expected, current.revision)?;
        if input.code.trim() != code {
            return Err(AppError::invalid(
                "code",
                "the code of a matter cannot change",
            ));
        }
        let input = DutyLists::checked(conn, county, input, Some(code))?;
        diesel::delete(duty_matters::table.find(current.id)).execute(conn)?;
        DutyLists::insert(
            conn,
            county,
            &input,
            current.revision + 1,
            current.created_at,
        )?;
        audit::record(
            conn,
            actor,
            county,
            "duties.matter.update",
            "duty_matter",
            &entity(county, code),
            &format!("changed {code} {}", input.name),
        )?;
        DutyLists::find(conn, county, code)
    }

    /// Removes a matter.
    pub fn delete(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
        code: &str,
        expected: i64,
    ) -> AppResult<()> {
        DutyLists::for_change(conn, actor, county, None)?;
        let current = DutyLists::find_row(conn, county, code)?
            .ok_or_else(|| AppError::NotFound(format!("county {county} has no matter {code}")))?;
        revision::require(expected, current.revision)?;
        diesel::delete(duty_matters::table.find(current.id)).execute(conn)?;
        audit::record(
            conn,
            actor,
            county,
            "duties.matter.delete",
            "duty_matter",
            &entity(county, code),
            &format!("removed {code} {}", current.name),
        )?;
        Ok(())
    }

    /// Replaces the whole list with `rows`, all or nothing, reporting every bad row.
    pub fn import(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
        expected: Option<i64>,
        rows: Vec<(usize, MatterInput)>,
        dry_run: bool,
    ) -> AppResult<ImportReport> {
        actor.require(Permission::ManageDutyList, county)?;
        if let Some(expected) = expected.filter(|_| !dry_run) {
            revision::require(expected, DutyLists::header(conn, county)?.revision)?;
        }
        let departments = county_departments(conn, county)?;
        let mut checked = Checked::new(
            rows,
            "code",
            |mut input: MatterInput| {
                input.normalise();
                let problems = input.check(county, &departments);
                (Some(input), problems)
            },
            |input| input.code.clone(),
        );
        checked.unique(
            "name",
            |input| input.name.clone(),
            |input, first| format!("{} appears again (first in row {first})", input.name),
        );
        let checked = checked.finish("matters", "the file has no matters")?;
        let existing: HashMap<String, Matter> = DutyLists::all(conn, county)?
            .into_iter()
            .map(|m| (m.code.clone(), m))
            .collect();
        let comparison = checked.compare(&existing, |input, old| &old.content() == input);
        let report = comparison.report(dry_run, checked.total, true);
        if dry_run {
            return Ok(report);
        }
        if !report.changes_anything() {
            // Nothing to write, but the answer must still hold at commit: a guarded no-op
            // UPDATE waits for a concurrent writer and then sees what it did.
            let seen = match expected {
                Some(expected) => expected,
                None => DutyLists::header(conn, county)?.revision,
            };
            let held = diesel::update(
                duty_lists::table
                    .find(county.as_str())
                    .filter(duty_lists::revision.eq(seen)),
            )
            .set(duty_lists::revision.eq(duty_lists::revision))
            .execute(conn)?;
            let current = DutyLists::header(conn, county)?.revision;
            if held == 0 && current != seen {
                return Err(AppError::PreconditionFailed { current });
            }
            return Ok(report);
        }
        // Only now is the list taken; the guard catches a writer since it was read.
        DutyLists::for_change(conn, actor, county, expected)?;
        DutyLists::store_import(conn, county, &comparison)?;
        audit::record_many(
            conn,
            actor,
            vec![AuditEntry {
                region: county.clone(),
                action: "duties.import".into(),
                entity_type: "duty_list".into(),
                entity_id: county.to_string(),
                summary: report.summary("matters", "changed"),
            }],
        )?;
        Ok(report)
    }

    /// Writes an import. Changed and removed matters go first, so that names move
    /// freely between codes.
    fn store_import(
        conn: &mut DbConnection,
        county: &RegionCode,
        comparison: &Comparison<'_, String, MatterInput, Matter>,
    ) -> AppResult<()> {
        let gone: Vec<&str> = comparison
            .changed
            .iter()
            .map(|(input, _)| input.code.as_str())
            .chain(comparison.absent.iter().map(|c| c.as_str()))
            .collect();
        for chunk in gone.chunks(BATCH) {
            diesel::delete(
                duty_matters::table
                    .filter(duty_matters::county_code.eq(county.as_str()))
                    .filter(duty_matters::code.eq_any(chunk)),
            )
            .execute(conn)?;
        }
        let stamp = now();
        for input in &comparison.created {
            DutyLists::insert(conn, county, input, 1, stamp)?;
        }
        for (input, old) in &comparison.changed {
            DutyLists::insert(conn, county, input, old.revision + 1, old.created_at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn county() -> RegionCode {
        RegionCode::parse("510521000000").unwrap()
    }

    fn departments() -> HashMap<String, String> {
        ["luxian-sthj", "luxian-scjg", "luxian-zhzf"]
            .into_iter()
            .map(|code| (code.to_string(), code.to_string()))
            .collect()
    }

    fn duties(department: &str) -> DepartmentDuties {
        DepartmentDuties {
            department: department.into(),
            duties: vec!["依法查处".into()],
        }
    }

    fn matter() -> MatterInput {
        MatterInput {
            code: "SD-001".into(),
            name: "餐饮服务业油烟污染的监管".into(),
            domain: "生态环境".into(),
            legal_basis: vec![crate::catalogue::LegalBasis {
                law: "《中华人民共和国大气污染防治法》".into(),
                article: "第一百一十八条".into(),
                excerpt: String::new(),
            }],
            lead: duties("luxian-sthj"),
            supporters: vec![duties("luxian-scjg")],
            township_duties: vec!["发现并报告".into()],
            one_matter: false,
            lead_response_minutes: Some(30),
            support_arrival_minutes: None,
            notes: None,
        }
    }

    fn refused(change: impl FnOnce(&mut MatterInput)) -> Vec<String> {
        let mut input = matter();
        change(&mut input);
        input
            .check(&county(), &departments())
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_well_formed_matter_passes() {
        assert!(refused(|_| {}).is_empty());
    }

    #[test]
    fn each_rule_of_a_matter_names_its_field() {
        type Change = Box<dyn FnOnce(&mut MatterInput)>;
        let cases: Vec<(Change, &[&str])> = vec![
            (Box::new(|m| m.code = "sd 1".into()), &["code"]),
            (Box::new(|m| m.name = String::new()), &["name"]),
            (Box::new(|m| m.domain = "域".repeat(51)), &["domain"]),
            (Box::new(|m| m.legal_basis.clear()), &["legal_basis"]),
            (
                Box::new(|m| m.legal_basis[0].excerpt = "甲|乙".into()),
                &["legal_basis[0].excerpt"],
            ),
            (
                Box::new(|m| m.lead.department = "luxian-nobody".into()),
                &["lead.department"],
            ),
            (Box::new(|m| m.lead.duties.clear()), &["lead.duties"]),
            (
                Box::new(|m| m.supporters.push(duties("luxian-sthj"))),
                &["supporters[1].department"],
            ),
            (
                Box::new(|m| m.supporters.push(duties("luxian-scjg"))),
                &["supporters[1].department"],
            ),
            (
                Box::new(|m| m.supporters[0].duties.clear()),
                &["supporters[0].duties"],
            ),
            (
                Box::new(|m| m.township_duties.clear()),
                &["township_duties"],
            ),
            (
                Box::new(|m| m.lead_response_minutes = Some(0)),
                &["lead_response_minutes"],
            ),
            (
                Box::new(|m| m.support_arrival_minutes = Some(10081)),
                &["support_arrival_minutes"],
            ),
        ];
        for (change, fields) in cases {
            assert_eq!(refused(change), *fields);
        }
    }
}
