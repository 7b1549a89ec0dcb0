//! Duty admission (職責準入): a department asks for a matter outside the list to be
//! added, with its proposed split of duties; the compiler accepts it into the working
//! copy or rejects it with a reason. Requests and outcomes are kept.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{DutyLists, Matter, MatterInput};
use crate::audit;
use crate::auth::{Permission, Principal};
use crate::db::schema::duty_admissions;
use crate::db::{now, DbConnection};
use crate::error::{AppError, AppResult};
use crate::organisations::Organisation;
use crate::paging::PageRequest;
use crate::regions::RegionCode;
use crate::revision;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionStatus {
    /// Waiting for the compiler.
    Pending,
    /// Added to the working copy.
    Accepted,
    /// Refused, with a reason.
    Rejected,
}

crate::stored_states!(AdmissionStatus {
    Pending => "pending",
    Accepted => "accepted",
    Rejected => "rejected",
});

/// A department's request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdmissionRequest {
    /// The matter as the department proposes it.
    pub proposal: MatterInput,
    /// Why it belongs on the list.
    pub justification: String,
}

/// The compiler's acceptance, optionally with the matter as amended.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdmissionAcceptance {
    /// The matter to add instead of the proposal as submitted.
    #[serde(default)]
    pub matter: Option<MatterInput>,
}

/// The compiler's refusal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdmissionRejection {
    /// Why.
    pub reason: String,
}

/// A request and its outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Admission {
    /// Id.
    pub id: i64,
    /// The county.
    pub county: String,
    /// The requesting department.
    pub department: String,
    /// Who asked.
    pub requested_by: String,
    /// The proposed matter.
    pub proposal: MatterInput,
    /// Why.
    pub justification: String,
    /// Where it stands.
    pub status: AdmissionStatus,
    /// The compiler's reason, when rejected.
    pub decision_reason: Option<String>,
    /// The matter added, when accepted.
    pub matter_code: Option<String>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Revision, also the ETag.
    pub revision: i64,
    /// Asked, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub created_at: NaiveDateTime,
    /// Decided, UTC.
    #[serde(with = "crate::timestamp::utc_option")]
    pub decided_at: Option<NaiveDateTime>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = duty_admissions)]
struct AdmissionRow {
    id: i64,
    county_code: String,
    org_code: String,
    requested_by: String,
    proposal: String,
    justification: String,
    #[diesel(deserialize_as = String)]
    status: AdmissionStatus,
    decision_reason: Option<String>,
    matter_code: Option<String>,
    decided_by: Option<String>,
    revision: i64,
    created_at: NaiveDateTime,
    decided_at: Option<NaiveDateTime>,
}

impl AdmissionRow {
    fn into_admission(self) -> AppResult<Admission> {
        Ok(Admission {
            id: self.id,
            county: self.county_code,
            department: self.org_code,
            requested_by: self.requested_by,
            proposal: serde_json::from_str(&self.proposal)?,
            justification: self.justification,
            status: self.status,
            decision_reason: self.decision_reason,
            matter_code: self.matter_code,
            decided_by: self.decided_by,
            revision: self.revision,
            created_at: self.created_at,
            decided_at: self.decided_at,
        })
    }
}

/// Admission requests of counties.
pub struct Admissions;

impl Admissions {
    /// One request.
    pub fn find(conn: &mut DbConnection, id: i64) -> AppResult<Admission> {
        duty_admissions::table
            .find(id)
            .select(AdmissionRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::NotFound(format!("no duty admission request {id}")))?
            .into_admission()
    }

    /// A county's requests, newest first.
    pub fn list(
        conn: &mut DbConnection,
        county: &RegionCode,
        status: Option<AdmissionStatus>,
        page: PageRequest,
    ) -> AppResult<(Vec<Admission>, i64)> {
        let query = || {
            let mut q = duty_admissions::table
                .filter(duty_admissions::county_code.eq(county.to_string()))
                .into_boxed();
            if let Some(status) = status {
                q = q.filter(duty_admissions::status.eq(status.as_str()));
            }
            q
        };
        let total = query().count().get_result(conn)?;
        let items = query()
            .order(duty_admissions::id.desc())
            .limit(page.size)
            .offset(page.offset())
            .select(AdmissionRow::as_select())
            .load(conn)?
            .into_iter()
            .map(AdmissionRow::into_admission)
            .collect::<AppResult<_>>()?;
        Ok((items, total))
    }

    /// A department of the county asks for a matter.
    pub fn request(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
        request: AdmissionRequest,
    ) -> AppResult<Admission> {
        actor.require(Permission::RequestDutyAdmission, county)?;
        Organisation::department_of_actor(conn, actor, county)?;
        let mut proposal = request.proposal;
        proposal.normalise();
        let departments = super::model::county_departments(conn, county)?;
        let mut errors: Vec<_> = proposal
            .check(county, &departments)
            .into_iter()
            .map(|mut e| {
                e.field = format!("proposal.{}", e.field);
                e
            })
            .collect();
        if request.justification.trim().is_empty() {
            errors.push(crate::error::FieldError::new(
                "justification",
                "say why the matter belongs on the list",
            ));
        }
        AppError::check(errors)?;
        let stamp = now();
        let values = (
            duty_admissions::county_code.eq(county.as_str()),
            duty_admissions::org_code.eq(&actor.org),
            duty_admissions::requested_by.eq(&actor.sub),
            duty_admissions::proposal.eq(serde_json::to_string(&proposal)?),
            duty_admissions::justification.eq(request.justification.trim()),
            duty_admissions::status.eq(AdmissionStatus::Pending.as_str()),
            duty_admissions::revision.eq(1),
            duty_admissions::created_at.eq(stamp),
        );
        let id =
            crate::insert_returning_id!(conn, duty_admissions::table, values, duty_admissions::id)?;
        audit::record(
            conn,
            actor,
            county,
            "duties.admission.request",
            "duty_admission",
            &id.to_string(),
            &format!(
                "{} asks to add {} {}",
                actor.org, proposal.code, proposal.name
            ),
        )?;
        Admissions::find(conn, id)
    }

    fn pending(
        conn: &mut DbConnection,
        actor: &Principal,
        id: i64,
        expected: i64,
    ) -> AppResult<(Admission, RegionCode)> {
        let admission = Admissions::find(conn, id)?;
        let county = RegionCode::parse(&admission.county).expect("stored codes are valid");
        actor.require(Permission::ManageDutyList, &county)?;
        revision::require(expected, admission.revision)?;
        if admission.status != AdmissionStatus::Pending {
            return Err(AppError::Conflict(format!(
                "request {id} is already {}",
                admission.status
            )));
        }
        Ok((admission, county))
    }

    fn decide(
        conn: &mut DbConnection,
        actor: &Principal,
        admission: &Admission,
        status: AdmissionStatus,
        reason: Option<&str>,
        matter: Option<&str>,
    ) -> AppResult<()> {
        let changed = diesel::update(
            duty_admissions::table
                .find(admission.id)
                .filter(duty_admissions::revision.eq(admission.revision)),
        )
        .set((
            duty_admissions::status.eq(status.as_str()),
            duty_admissions::decision_reason.eq(reason),
            duty_admissions::matter_code.eq(matter),
            duty_admissions::decided_by.eq(&actor.sub),
            duty_admissions::decided_at.eq(now()),
            duty_admissions::revision.eq(admission.revision + 1),
        ))
        .execute(conn)?;
        revision::guarded(changed, || {
            Ok(duty_admissions::table
                .find(admission.id)
                .select(duty_admissions::revision)
                .first(conn)?)
        })?;
        Ok(())
    }

    /// Accepts a request: the matter (as proposed, or as amended) joins the working copy
    /// under every rule of the list.
    pub fn accept(
        conn: &mut DbConnection,
        actor: &Principal,
        id: i64,
        expected: i64,
        acceptance: AdmissionAcceptance,
    ) -> AppResult<(Admission, Matter)> {
        let (admission, county) = Admissions::pending(conn, actor, id, expected)?;
        let matter = acceptance
            .matter
            .unwrap_or_else(|| admission.proposal.clone());
        let matter = DutyLists::create(conn, actor, &county, matter)?;
        Admissions::decide(
            conn,
            actor,
            &admission,
            AdmissionStatus::Accepted,
            None,
            Some(&matter.code),
        )?;
        audit::record(
            conn,
            actor,
            &county,
            "duties.admission.accept",
            "duty_admission",
            &id.to_string(),
            &format!("accepted as matter {}", matter.code),
        )?;
        Ok((Admissions::find(conn, id)?, matter))
    }

    /// Rejects a request with a reason.
    pub fn reject(
        conn: &mut DbConnection,
        actor: &Principal,
        id: i64,
        expected: i64,
        rejection: AdmissionRejection,
    ) -> AppResult<Admission> {
        let reason = rejection.reason.trim();
        if reason.is_empty() {
            return Err(AppError::invalid(
                "reason",
                "say why the request is rejected",
            ));
        }
        let (admission, county) = Admissions::pending(conn, actor, id, expected)?;
        Admissions::decide(
            conn,
            actor,
            &admission,
            AdmissionStatus::Rejected,
            Some(reason),
            None,
        )?;
        audit::record(
            conn,
            actor,
            &county,
            "duties.admission.reject",
            "duty_admission",
            &id.to_string(),
            &format!("rejected: {reason}"),
        )?;
        Admissions::find(conn, id)
    }
}
