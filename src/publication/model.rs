//! Versions and reviews: submit, review by stage, return, withdraw, publish.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::document::{compile_duty, compile_power, diff_documents, keyed_items, ListKind};
use super::separation::{check_reviewer, check_stage_role, Reviewing};
use crate::audit;
use crate::auth::{Permission, Principal, Role};
use crate::db::schema::{list_versions, review_findings, version_contents, version_reviews};
use crate::db::{now, DbConnection, BATCH};
use crate::error::{AppError, AppResult, FieldError};
use crate::keys::SigningKeys;
use crate::organisations::{Organisation, OrganisationKind};
use crate::regions::RegionCode;
use crate::revision;
use crate::text::separator_problem;

/// A review stage and the role that holds it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 合法性審查 by the justice bureau (`legality_reviewer`).
    Legality,
    /// Approval by the county government (`government_approver`).
    Government,
    /// Review by the staffing office (`staffing_reviewer`).
    Staffing,
    /// Review by the administrative approval bureau (`approval_reviewer`).
    Approval,
}

crate::stored_states!(Stage {
    Legality => "legality",
    Government => "government",
    Staffing => "staffing",
    Approval => "approval",
});

impl Stage {
    /// The role that reviews at this stage.
    pub fn role(self) -> Role {
        match self {
            Stage::Legality => Role::LegalityReviewer,
            Stage::Government => Role::GovernmentApprover,
            Stage::Staffing => Role::StaffingReviewer,
            Stage::Approval => Role::ApprovalReviewer,
        }
    }
}

/// The stages a kind of list passes, and whether their order matters.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// Required stages, in order when `ordered`.
    pub stages: Vec<Stage>,
    /// Whether each stage must approve after the one before it.
    pub ordered: bool,
}

impl StagePlan {
    /// 422 unless `stage` is one of this plan's.
    pub fn check_stage(&self, kind: ListKind, stage: Stage) -> AppResult<()> {
        if self.stages.contains(&stage) {
            return Ok(());
        }
        let stages: Vec<&str> = self.stages.iter().map(|s| s.as_str()).collect();
        Err(AppError::invalid(
            "stage",
            format!(
                "a {} list is reviewed at {}",
                kind.as_str(),
                stages.join(", ")
            ),
        ))
    }
}

/// Stage plans per kind, and who holds each stage, from configuration.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// The power list's plan (default: legality, then government).
    pub power: StagePlan,
    /// The responsibility list's plan (default: staffing, legality, approval, any order).
    pub duty: StagePlan,
    /// The kind of county organisation that holds each stage.
    pub holders: BTreeMap<Stage, OrganisationKind>,
}

impl Workflow {
    /// The plan of a kind.
    pub fn plan(&self, kind: ListKind) -> &StagePlan {
        match kind {
            ListKind::Power => &self.power,
            ListKind::Duty => &self.duty,
        }
    }

    /// Builds the plans from configured names; errors name the bad one.
    pub fn from_config(config: &crate::config::PublicationConfig) -> Result<Workflow, String> {
        let plan = |names: &[String], ordered: bool, kind: &str| -> Result<StagePlan, String> {
            let stages = names
                .iter()
                .map(|n| {
                    Stage::parse(n)
                        .ok_or_else(|| format!("unknown review stage {n:?} for the {kind} list"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if stages.is_empty() {
                return Err(format!("the {kind} list needs at least one review stage"));
            }
            Ok(StagePlan { stages, ordered })
        };
        let power = plan(&config.power_stages, config.power_ordered, "power")?;
        let duty = plan(&config.duty_stages, config.duty_ordered, "duty")?;
        let mut holders = BTreeMap::new();
        for (name, kind) in &config.stage_holders {
            let stage = Stage::parse(name)
                .ok_or_else(|| format!("stage_holders names an unknown stage {name:?}"))?;
            let kind = OrganisationKind::parse(kind).ok_or_else(|| {
                format!(
                    "stage_holders.{name}: {kind:?} is not an organisation kind ({})",
                    OrganisationKind::names()
                )
            })?;
            holders.insert(stage, kind);
        }
        if let Some(stage) = power
            .stages
            .iter()
            .chain(&duty.stages)
            .find(|s| !holders.contains_key(s))
        {
            return Err(format!(
                "stage_holders does not say which organisation holds the {} stage",
                stage.as_str()
            ));
        }
        Ok(Workflow {
            power,
            duty,
            holders,
        })
    }

    /// The kind of organisation that holds a stage.
    pub fn holder(&self, stage: Stage) -> AppResult<OrganisationKind> {
        self.holders.get(&stage).copied().ok_or_else(|| {
            AppError::Internal(format!("no holder configured for {}", stage.as_str()))
        })
    }
}

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Submitted, being reviewed.
    InReview,
    /// Every required stage approved; may be published.
    Approved,
    /// A reviewer returned it; it ends here.
    Returned,
    /// The compiler withdrew it; it ends here.
    Withdrawn,
    /// The latest publication.
    Published,
    /// Published, then followed by a later publication.
    Superseded,
}

crate::stored_states!(VersionStatus {
    InReview => "in_review",
    Approved => "approved",
    Returned => "returned",
    Withdrawn => "withdrawn",
    Published => "published",
    Superseded => "superseded",
});

impl VersionStatus {
    /// Under review or approved: the version may still be decided on, published or
    /// withdrawn, and no other version of its list may be submitted.
    pub fn is_pending(self) -> bool {
        matches!(self, VersionStatus::InReview | VersionStatus::Approved)
    }

    /// Published now or before.
    pub const EVER_PUBLISHED: [VersionStatus; 2] =
        [VersionStatus::Published, VersionStatus::Superseded];
}

/// A version's metadata (its content is served separately).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = list_versions)]
pub struct Version {
    /// Internal id.
    #[serde(skip)]
    pub id: i64,
    /// The county.
    #[serde(rename = "county")]
    pub county_code: String,
    /// `power` or `duty`.
    #[schema(value_type = ListKind)]
    pub kind: String,
    /// Version number, from 1 per county and kind.
    pub number: i32,
    /// Where it stands.
    #[diesel(deserialize_as = String)]
    pub status: VersionStatus,
    /// Title.
    pub title: String,
    /// 調整說明: what changed and why.
    pub change_summary: String,
    /// SHA-256 of the canonical content.
    pub content_hash: String,
    /// Items in the content.
    pub item_count: i32,
    /// Who submitted it.
    pub submitted_by: String,
    /// When, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub submitted_at: NaiveDateTime,
    /// When it was returned or withdrawn, UTC.
    #[serde(with = "crate::timestamp::utc_option")]
    pub ended_at: Option<NaiveDateTime>,
    /// Who published it.
    pub published_by: Option<String>,
    /// When, UTC.
    #[serde(with = "crate::timestamp::utc_option")]
    pub published_at: Option<NaiveDateTime>,
    /// First day in force.
    pub effective_from: Option<NaiveDate>,
    /// First day no longer in force (the next version's first day).
    pub effective_to: Option<NaiveDate>,
    /// Revision, also the ETag.
    pub revision: i64,
    /// The published document's detached JWS (RFC 7515 Appendix F, EdDSA).
    pub signature: Option<String>,
    /// The audit chain's head when it was published.
    pub anchor_seq: Option<i64>,
    /// That head event's MAC.
    pub anchor_mac: Option<String>,
    /// The signed anchor: a compact JWS of the head and this publication.
    pub anchor_jws: Option<String>,
}

impl Version {
    /// Its document's public address (once published).
    pub fn public_path(&self) -> String {
        format!(
            "/public/v1/counties/{}/lists/{}/versions/{}",
            self.county_code, self.kind, self.number
        )
    }
}

/// A finding about one item (審查意見).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// The item: an item code (every township's), `township/code`, or a matter code.
    pub item_code: String,
    /// The kind of problem, e.g. 法律依據不足.
    pub problem: String,
    /// The law the finding cites.
    #[serde(default)]
    pub law: Option<String>,
    /// `blocking` or `advisory`.
    pub severity: Severity,
    /// The change required.
    pub change_required: String,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Must be fixed before the list can pass.
    Blocking,
    /// A recommendation.
    Advisory,
}

crate::stored_states!(Severity {
    Blocking => "blocking",
    Advisory => "advisory",
});

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The stage passes.
    Approve,
    /// Back to the compiler; the version ends.
    Return,
}

crate::stored_states!(Decision {
    Approve => "approve",
    Return => "return",
});

/// A review as submitted.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// The stage reviewed.
    pub stage: Stage,
    /// The decision.
    pub decision: Decision,
    /// Comments.
    #[serde(default)]
    pub comments: String,
    /// The content hash the reviewer read; it must be this version's.
    pub hash: String,
    /// Per-item findings.
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// A review as kept.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Review {
    /// Id.
    pub id: i64,
    /// Stage.
    pub stage: Stage,
    /// Decision.
    pub decision: Decision,
    /// Reviewer.
    pub reviewer: String,
    /// Reviewer's organisation.
    pub reviewer_org: String,
    /// Its name when it reviewed.
    pub reviewer_org_name: String,
    /// Comments.
    pub comments: String,
    /// The hash reviewed.
    pub reviewed_hash: String,
    /// When, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub created_at: NaiveDateTime,
    /// Findings.
    pub findings: Vec<Finding>,
}

/// An approval as read for the public record: version, review, stage, organisation and its
/// name, hash, person, time.
type ApprovalRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    NaiveDateTime,
);

/// An organisation as the public record names it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct OrganisationName {
    /// Its code.
    pub code: String,
    /// Its name when it acted.
    pub name: String,
}

/// One stage's approval as part of the public record: which organisation, when, and the
/// hash it approved; never the person.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PublicReview {
    /// The stage.
    pub stage: Stage,
    /// The reviewing organisation.
    pub organisation: OrganisationName,
    /// When it decided, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub decided_at: NaiveDateTime,
    /// The content hash it approved.
    pub reviewed_hash: String,
}

impl PublicReview {
    /// Each stage's latest approval among `reviews`, in the order they were given.
    pub fn approvals(reviews: &[Review]) -> Vec<PublicReview> {
        let mut latest: Vec<&Review> = Vec::new();
        for review in reviews.iter().filter(|r| r.decision == Decision::Approve) {
            latest.retain(|r| r.stage != review.stage);
            latest.push(review);
        }
        latest
            .into_iter()
            .map(|r| PublicReview {
                stage: r.stage,
                organisation: OrganisationName {
                    code: r.reviewer_org.clone(),
                    name: r.reviewer_org_name.clone(),
                },
                decided_at: r.created_at,
                reviewed_hash: r.reviewed_hash.clone(),
            })
            .collect()
    }
}

/// How a submission answers a finding of the returned version before it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AnsweredFinding {
    /// The returned version.
    pub version: i32,
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// `changed`, `removed` or `unchanged`: what this submission did to the item.
    pub change: String,
    /// Keys of the items the finding concerns.
    pub items: Vec<String>,
}

/// A version with everything that happened to it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionHistory {
    /// The version.
    #[serde(flatten)]
    pub version: Version,
    /// The stages required and whether each approved this content.
    pub stages: Vec<StageState>,
    /// Every review, oldest first.
    pub reviews: Vec<Review>,
    /// The earlier findings this submission answers.
    pub answered_findings: Vec<AnsweredFinding>,
}

/// One required stage and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageState {
    /// Stage.
    pub stage: Stage,
    /// Whether its latest decision approves this version's content.
    pub approved: bool,
    /// When it approved, UTC.
    #[serde(with = "crate::timestamp::utc_option")]
    pub approved_at: Option<NaiveDateTime>,
}

/// A submission.
#[derive(Debug, Clone, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct SubmitInput {
    /// Title, e.g. 瀘縣鄉鎮（街道）權責清單（2026年版）.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// 調整說明.
    #[validate(length(min = 1, max = 5000))]
    #[schema(min_length = 1, max_length = 5000)]
    pub change_summary: String,
    /// Power lists: the catalogue edition to compile under (default: the latest round's).
    #[serde(default)]
    pub edition: Option<String>,
    /// Power lists: submit although claims of the county's open round are undecided
    /// (otherwise a 409 counts them per township); needs `incomplete_reason`.
    #[serde(default)]
    pub allow_incomplete: bool,
    /// Why the list goes to review before the round is decided; added to the version's
    /// change summary.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    #[serde(default)]
    pub incomplete_reason: Option<String>,
}

/// A version's change summary (調整說明): as given, and, when it was submitted with claims
/// undecided, why, where every reader of the summary (reviewers, the public feed) sees it.
pub fn change_summary(given: &str, incomplete_reason: Option<&str>) -> String {
    match incomplete_reason {
        Some(reason) => format!("{}\n（提交时仍有未决认领：{reason}）", given.trim()),
        None => given.trim().to_string(),
    }
}

/// Whether a power list may be submitted while `undecided` claims wait: the reason it is
/// submitted anyway, none when nothing waits, or the refusal counting them per township.
pub fn readiness(
    undecided: &[crate::claims::Undecided],
    allow_incomplete: bool,
    reason: Option<&str>,
) -> AppResult<Option<String>> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if undecided.is_empty() {
        return Ok(None);
    }
    if allow_incomplete {
        return match reason {
            Some(reason) => Ok(Some(reason.to_string())),
            None => Err(AppError::invalid(
                "incomplete_reason",
                "say why the list goes to review while claims are undecided",
            )),
        };
    }
    let total: i64 = undecided.iter().map(|u| u.total()).sum();
    Err(AppError::NotReady {
        detail: format!(
            "{total} claim(s) of the county's open round in {} township(s) are undecided: decide them, close the round, or submit with allow_incomplete and an incomplete_reason",
            undecided.len()
        ),
        errors: undecided
            .iter()
            .map(|u| {
                FieldError::new(
                    u.township.clone(),
                    format!(
                        "{} undecided: {} unanswered, {} awaiting the department, {} returned to the township",
                        u.total(),
                        u.unanswered,
                        u.claimed,
                        u.returned
                    ),
                )
            })
            .collect(),
    })
}

/// A publication.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishInput {
    /// First day in force (default today); may be in the future.
    #[serde(default)]
    pub effective_from: Option<NaiveDate>,
}

/// Names one version of one county's list.
#[derive(Debug, Clone)]
pub struct VersionKey {
    /// The county.
    pub county: RegionCode,
    /// The kind of list.
    pub kind: ListKind,
    /// The version number.
    pub number: i32,
}

fn entity(version: &Version) -> String {
    format!(
        "{}/{}/{}",
        version.county_code, version.kind, version.number
    )
}

/// Version queries and transitions.
pub struct Versions;

impl Versions {
    /// One version by number.
    pub fn find(
        conn: &mut DbConnection,
        county: &RegionCode,
        kind: ListKind,
        number: i32,
    ) -> AppResult<Version> {
        list_versions::table
            .filter(list_versions::county_code.eq(county.as_str()))
            .filter(list_versions::kind.eq(kind.as_str()))
            .filter(list_versions::number.eq(number))
            .select(Version::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "county {county} has no {} list version {number}",
                    kind.as_str()
                ))
            })
    }

    /// The stored content of a version.
    pub fn content(conn: &mut DbConnection, id: i64) -> AppResult<String> {
        Ok(version_contents::table
            .find(id)
            .select(version_contents::content)
            .first(conn)?)
    }

    /// Every version of a county and kind, newest first; `published_only` for the public.
    pub fn list(
        conn: &mut DbConnection,
        county: &RegionCode,
        kind: ListKind,
        published_only: bool,
    ) -> AppResult<Vec<Version>> {
        let mut q = list_versions::table
            .filter(list_versions::county_code.eq(county.to_string()))
            .filter(list_versions::kind.eq(kind.as_str()))
            .into_boxed();
        if published_only {
            q = q.filter(
                list_versions::status
                    .eq_any(VersionStatus::EVER_PUBLISHED.map(VersionStatus::as_str)),
            );
        }
        Ok(q.order(list_versions::number.desc())
            .select(Version::as_select())
            .load(conn)?)
    }

    /// The version in force on `date`: published (or since superseded) with
    /// `effective_from <= date < effective_to`.
    pub fn in_force(
        conn: &mut DbConnection,
        county: &RegionCode,
        kind: ListKind,
        date: NaiveDate,
    ) -> AppResult<Option<Version>> {
        Ok(list_versions::table
            .filter(list_versions::county_code.eq(county.as_str()))
            .filter(list_versions::kind.eq(kind.as_str()))
            .filter(
                list_versions::status
                    .eq_any(VersionStatus::EVER_PUBLISHED.map(VersionStatus::as_str)),
            )
            .filter(list_versions::effective_from.le(date))
            .filter(
                list_versions::effective_to
                    .is_null()
                    .or(list_versions::effective_to.gt(date)),
            )
            .order((
                list_versions::effective_from.desc(),
                list_versions::number.desc(),
            ))
            .select(Version::as_select())
            .first(conn)
            .optional()?)
    }

    /// The reviews of a version with their findings, oldest first.
    pub fn reviews(conn: &mut DbConnection, version_id: i64) -> AppResult<Vec<Review>> {
        type ReviewRow = (
            i64,
            String,
            String,
            String,
            (String, String),
            String,
            String,
            NaiveDateTime,
        );
        let rows: Vec<ReviewRow> = version_reviews::table
            .filter(version_reviews::version_id.eq(version_id))
            .order(version_reviews::id.asc())
            .select((
                version_reviews::id,
                version_reviews::stage,
                version_reviews::decision,
                version_reviews::reviewer_sub,
                (
                    version_reviews::reviewer_org,
                    version_reviews::reviewer_org_name,
                ),
                version_reviews::comments,
                version_reviews::reviewed_hash,
                version_reviews::created_at,
            ))
            .load(conn)?;
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let mut findings: HashMap<i64, Vec<Finding>> = HashMap::new();
        for (review, item_code, problem, law, severity, change_required) in review_findings::table
            .filter(review_findings::review_id.eq_any(&ids))
            .order(review_findings::id.asc())
            .select((
                review_findings::review_id,
                review_findings::item_code,
                review_findings::problem,
                review_findings::law,
                review_findings::severity,
                review_findings::change_required,
            ))
            .load::<(i64, String, String, Option<String>, String, String)>(conn)?
        {
            findings.entry(review).or_default().push(Finding {
                item_code,
                problem,
                law,
                severity: Severity::try_from(severity)?,
                change_required,
            });
        }
        rows.into_iter()
            .map(
                |(
                    id,
                    stage,
                    decision,
                    reviewer,
                    (reviewer_org, reviewer_org_name),
                    comments,
                    reviewed_hash,
                    created_at,
                )| {
                    Ok(Review {
                        id,
                        reviewer_org_name,
                        stage: Stage::try_from(stage)?,
                        decision: Decision::try_from(decision)?,
                        reviewer,
                        reviewer_org,
                        comments,
                        reviewed_hash,
                        created_at,
                        findings: findings.remove(&id).unwrap_or_default(),
                    })
                },
            )
            .collect()
    }

    /// Each required stage's latest decision on this content.
    fn stage_states(plan: &StagePlan, version: &Version, reviews: &[Review]) -> Vec<StageState> {
        plan.stages
            .iter()
            .map(|stage| {
                let latest = reviews.iter().rev().find(|r| r.stage == *stage);
                let approved = latest.filter(|r| {
                    r.decision == Decision::Approve && r.reviewed_hash == version.content_hash
                });
                StageState {
                    stage: *stage,
                    approved: approved.is_some(),
                    approved_at: approved.map(|r| r.created_at),
                }
            })
            .collect()
    }

    /// What still stands between a version and publication, in words; empty when none.
    fn missing(plan: &StagePlan, states: &[StageState]) -> Vec<String> {
        let mut problems: Vec<String> = states
            .iter()
            .filter(|s| !s.approved)
            .map(|s| format!("{} has not approved this version", s.stage.as_str()))
            .collect();
        if plan.ordered && problems.is_empty() {
            for pair in states.windows(2) {
                if pair[1].approved_at < pair[0].approved_at {
                    problems.push(format!(
                        "{} approved before {}; it must approve after it",
                        pair[1].stage.as_str(),
                        pair[0].stage.as_str()
                    ));
                }
            }
        }
        problems
    }

    /// The full history of a version.
    pub fn history(
        conn: &mut DbConnection,
        workflow: &Workflow,
        version: Version,
    ) -> AppResult<VersionHistory> {
        let reviews = Versions::reviews(conn, version.id)?;
        let kind = ListKind::parse(&version.kind)?;
        let stages = Versions::stage_states(workflow.plan(kind), &version, &reviews);
        let answered: Vec<AnsweredFinding> = serde_json::from_str(
            &list_versions::table
                .find(version.id)
                .select(list_versions::answered_findings)
                .first::<String>(conn)?,
        )?;
        Ok(VersionHistory {
            version,
            stages,
            reviews,
            answered_findings: answered,
        })
    }

    /// Whether `actor` may submit a version of this list now: the fields, the county's
    /// open round (a power list waits for it, or says why not), and no other version under
    /// review. Returns the reason given for going ahead with claims undecided.
    fn admissible(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
        kind: ListKind,
        input: &SubmitInput,
    ) -> AppResult<Option<String>> {
        actor.require(Permission::SubmitLists, county)?;
        let mut blank = Vec::new();
        for (field, text) in [
            ("title", &input.title),
            ("change_summary", &input.change_summary),
        ] {
            if text.trim().is_empty() {
                blank.push(FieldError::new(field, "must not be blank"));
            }
        }
        AppError::check(blank)?;
        let incomplete_reason = match kind {
            ListKind::Power => readiness(
                &crate::claims::undecided(conn, county)?,
                input.allow_incomplete,
                input.incomplete_reason.as_deref(),
            )?,
            ListKind::Duty if input.allow_incomplete => {
                return Err(AppError::invalid(
                    "allow_incomplete",
                    "only a power list waits for a claiming round",
                ))
            }
            ListKind::Duty => None,
        };
        let open: Option<(i32, String)> = list_versions::table
            .filter(list_versions::county_code.eq(county.as_str()))
            .filter(list_versions::kind.eq(kind.as_str()))
            .filter(list_versions::status.eq_any([
                VersionStatus::InReview.as_str(),
                VersionStatus::Approved.as_str(),
            ]))
            .select((list_versions::number, list_versions::status))
            .first(conn)
            .optional()?;
        if let Some((number, status)) = open {
            return Err(AppError::Conflict(format!(
                "version {number} of this list is {status}; publish or withdraw it before submitting another"
            )));
        }
        Ok(incomplete_reason)
    }

    /// Freezes the working copy into the next version.
    pub fn submit(
        conn: &mut DbConnection,
        actor: &Principal,
        county: &RegionCode,
        kind: ListKind,
        input: SubmitInput,
    ) -> AppResult<Version> {
        let incomplete_reason = Versions::admissible(conn, actor, county, kind, &input)?;
        let compiled = match kind {
            ListKind::Power => compile_power(conn, county, input.edition.clone())?,
            ListKind::Duty => {
                if input.edition.is_some() {
                    return Err(AppError::invalid(
                        "edition",
                        "only a power list is compiled under a catalogue edition",
                    ));
                }
                compile_duty(conn, county)?
            }
        };
        let last: Option<i32> = list_versions::table
            .filter(list_versions::county_code.eq(county.as_str()))
            .filter(list_versions::kind.eq(kind.as_str()))
            .select(diesel::dsl::max(list_versions::number))
            .first(conn)?;
        let number = last.unwrap_or(0) + 1;
        let content = String::from_utf8(compiled.bytes).expect("JSON is UTF-8");
        let answered = Versions::answered_findings(conn, county, kind, &content)?;
        let stamp = now();
        diesel::insert_into(list_versions::table)
            .values((
                list_versions::county_code.eq(county.as_str()),
                list_versions::kind.eq(kind.as_str()),
                list_versions::number.eq(number),
                list_versions::status.eq(VersionStatus::InReview.as_str()),
                list_versions::title.eq(input.title.trim()),
                list_versions::change_summary.eq(change_summary(
                    &input.change_summary,
                    incomplete_reason.as_deref(),
                )),
                list_versions::content_hash.eq(&compiled.hash),
                list_versions::item_count.eq(compiled.item_count as i32),
                list_versions::answered_findings.eq(serde_json::to_string(&answered)?),
                list_versions::submitted_by.eq(&actor.sub),
                list_versions::submitted_at.eq(stamp),
                list_versions::revision.eq(1),
            ))
            .execute(conn)?;
        let version = Versions::find(conn, county, kind, number)?;
        diesel::insert_into(version_contents::table)
            .values((
                version_contents::version_id.eq(version.id),
                version_contents::content.eq(&content),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            county,
            "publication.submit",
            "list_version",
            &entity(&version),
            &format!(
                "submitted {} list version {number} ({} items, sha256 {}){}",
                kind.as_str(),
                compiled.item_count,
                compiled.hash,
                incomplete_reason
                    .as_deref()
                    .map(|r| format!(" with claims undecided: {r}"))
                    .unwrap_or_default()
            ),
        )?;
        Ok(version)
    }

    /// For each finding of the latest returned version, whether this content changed,
    /// removed or kept the items it concerns.
    fn answered_findings(
        conn: &mut DbConnection,
        county: &RegionCode,
        kind: ListKind,
        content: &str,
    ) -> AppResult<Vec<AnsweredFinding>> {
        // The findings answered are those of the last decided version, when a reviewer
        // returned it; a publication since then has settled them.
        let decided: Option<(i64, i32, String)> = list_versions::table
            .filter(list_versions::county_code.eq(county.as_str()))
            .filter(list_versions::kind.eq(kind.as_str()))
            .filter(
                list_versions::status.eq_any(
                    [
                        VersionStatus::Returned,
                        VersionStatus::Published,
                        VersionStatus::Superseded,
                    ]
                    .map(VersionStatus::as_str),
                ),
            )
            .order(list_versions::number.desc())
            .select((
                list_versions::id,
                list_versions::number,
                list_versions::status,
            ))
            .first(conn)
            .optional()?;
        let returned = VersionStatus::Returned.as_str();
        let Some((id, number, _)) = decided.filter(|(_, _, status)| status == returned) else {
            return Ok(Vec::new());
        };
        let old: Value = serde_json::from_str(&Versions::content(conn, id)?)?;
        let new: Value = serde_json::from_str(content)?;
        let diff = diff_documents(kind, &old, &new);
        let old_keys = keyed_items(kind, &old);
        let mut answered = Vec::new();
        for review in Versions::reviews(conn, id)? {
            for finding in review.findings {
                let items: Vec<String> = old_keys
                    .keys()
                    .filter(|k| concerns(&finding.item_code, k))
                    .cloned()
                    .collect();
                let change = if items.iter().any(|k| diff.removed.contains_key(k)) {
                    "removed"
                } else if items
                    .iter()
                    .any(|k| diff.changed.iter().any(|c| &c.key == k))
                {
                    "changed"
                } else {
                    "unchanged"
                };
                answered.push(AnsweredFinding {
                    version: number,
                    finding,
                    change: change.into(),
                    items,
                });
            }
        }
        Ok(answered)
    }

    /// Records a review of the version's content by the stage's reviewer.
    pub fn review(
        conn: &mut DbConnection,
        actor: &Principal,
        workflow: &Workflow,
        key: &VersionKey,
        input: ReviewInput,
    ) -> AppResult<VersionHistory> {
        let (county, kind, number) = (&key.county, key.kind, key.number);
        let plan = workflow.plan(kind);
        plan.check_stage(kind, input.stage)?;
        check_stage_role(actor, input.stage)?;
        actor.require(Permission::ReviewLists, county)?;
        let version = Versions::lock_for_review(conn, key, &input.hash)?;
        let organisation = Organisation::of_actor(conn, actor)?;
        let earlier = Versions::reviews(conn, version.id)?;
        let organisation = check_reviewer(
            &Reviewing {
                stage: input.stage,
                holder: workflow.holder(input.stage)?,
                county,
                version: &version,
                earlier: &earlier,
            },
            actor,
            organisation.as_ref(),
        )?;
        // Only findings need the content read back (a power list is megabytes).
        let document: Value = if input.findings.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&Versions::content(conn, version.id)?)?
        };
        AppError::check(check_findings(
            &input,
            number,
            &keyed_items(kind, &document),
        ))?;
        let stamp = now();
        Versions::store_review(conn, actor, &version, organisation, &input, stamp)?;
        let status = match input.decision {
            Decision::Return => VersionStatus::Returned,
            Decision::Approve => {
                let reviews = Versions::reviews(conn, version.id)?;
                let states = Versions::stage_states(plan, &version, &reviews);
                if Versions::missing(plan, &states).is_empty() {
                    VersionStatus::Approved
                } else {
                    VersionStatus::InReview
                }
            }
        };
        diesel::update(list_versions::table.find(version.id))
            .set((
                list_versions::status.eq(status.as_str()),
                list_versions::ended_at.eq((status == VersionStatus::Returned).then_some(stamp)),
            ))
            .execute(conn)?;
        let decided = match input.decision {
            Decision::Approve => "approved",
            Decision::Return => "returned",
        };
        audit::record(
            conn,
            actor,
            county,
            "publication.review",
            "list_version",
            &entity(&version),
            &format!(
                "{} {decided} version {number} with {} finding(s); now {status}",
                input.stage,
                input.findings.len()
            ),
        )?;
        let version = Versions::find(conn, county, kind, number)?;
        Versions::history(conn, workflow, version)
    }

    /// The version a reviewer decides on, still pending and still holding the content
    /// reviewed. Moving the revision on first locks the row: reviews of several stages
    /// (and a publish) queue here, and each then sees the version as the last one left it.
    fn lock_for_review(
        conn: &mut DbConnection,
        key: &VersionKey,
        reviewed_hash: &str,
    ) -> AppResult<Version> {
        let (county, kind, number) = (&key.county, key.kind, key.number);
        let version = Versions::find(conn, county, kind, number)?;
        diesel::update(list_versions::table.find(version.id))
            .set(list_versions::revision.eq(list_versions::revision + 1))
            .execute(conn)?;
        let version = Versions::find(conn, county, kind, number)?;
        if !version.status.is_pending() {
            return Err(AppError::Conflict(format!(
                "version {number} is {}: it is no longer reviewed",
                version.status
            )));
        }
        if reviewed_hash != version.content_hash {
            return Err(AppError::Conflict(format!(
                "you reviewed content {reviewed_hash}, but version {number} is {}",
                version.content_hash
            )));
        }
        Ok(version)
    }

    /// Records a review and its findings, naming the reviewing organisation as it is now.
    fn store_review(
        conn: &mut DbConnection,
        actor: &Principal,
        version: &Version,
        organisation: &Organisation,
        input: &ReviewInput,
        stamp: NaiveDateTime,
    ) -> AppResult<()> {
        let review_values = (
            version_reviews::version_id.eq(version.id),
            version_reviews::stage.eq(input.stage.as_str()),
            version_reviews::decision.eq(input.decision.as_str()),
            version_reviews::reviewer_sub.eq(&actor.sub),
            version_reviews::reviewer_org.eq(&organisation.code),
            version_reviews::reviewer_org_name.eq(&organisation.name),
            version_reviews::comments.eq(input.comments.trim()),
            version_reviews::reviewed_hash.eq(&input.hash),
            version_reviews::created_at.eq(stamp),
        );
        let review_id = crate::insert_returning_id!(
            conn,
            version_reviews::table,
            review_values,
            version_reviews::id
        )?;
        for f in &input.findings {
            diesel::insert_into(review_findings::table)
                .values((
                    review_findings::review_id.eq(review_id),
                    review_findings::item_code.eq(&f.item_code),
                    review_findings::problem.eq(f.problem.trim()),
                    review_findings::law.eq(f.law.as_deref()),
                    review_findings::severity.eq(f.severity.as_str()),
                    review_findings::change_required.eq(f.change_required.trim()),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    /// The compiler withdraws a version under review.
    pub fn withdraw(
        conn: &mut DbConnection,
        actor: &Principal,
        key: &VersionKey,
        expected: i64,
    ) -> AppResult<Version> {
        let (county, kind, number) = (&key.county, key.kind, key.number);
        actor.require(Permission::SubmitLists, county)?;
        let version = Versions::find(conn, county, kind, number)?;
        revision::require(expected, version.revision)?;
        if !version.status.is_pending() {
            return Err(AppError::Conflict(format!(
                "version {number} is {}: only a version under review can be withdrawn",
                version.status
            )));
        }
        Versions::set_status(conn, &version, VersionStatus::Withdrawn, Some(now()))?;
        audit::record(
            conn,
            actor,
            county,
            "publication.withdraw",
            "list_version",
            &entity(&version),
            &format!("withdrew version {number}"),
        )?;
        Versions::find(conn, county, kind, number)
    }

    fn set_status(
        conn: &mut DbConnection,
        version: &Version,
        status: VersionStatus,
        ended_at: Option<NaiveDateTime>,
    ) -> AppResult<()> {
        let changed = diesel::update(
            list_versions::table
                .find(version.id)
                .filter(list_versions::revision.eq(version.revision)),
        )
        .set((
            list_versions::status.eq(status.as_str()),
            list_versions::ended_at.eq(ended_at),
            list_versions::revision.eq(version.revision + 1),
        ))
        .execute(conn)?;
        revision::guarded(changed, || {
            Ok(list_versions::table
                .find(version.id)
                .select(list_versions::revision)
                .first(conn)?)
        })?;
        Ok(())
    }

    /// Publishes an approved version: refused, naming what is missing, unless every
    /// required stage approved this content (in order where required). Ends the
    /// previous publication in the same transaction.
    pub fn publish(
        conn: &mut DbConnection,
        actor: &Principal,
        workflow: &Workflow,
        signer: &SigningKeys,
        key: &VersionKey,
        expected: i64,
        input: PublishInput,
    ) -> AppResult<Version> {
        let (county, kind, number) = (&key.county, key.kind, key.number);
        actor.require(Permission::SubmitLists, county)?;
        let version = Versions::find(conn, county, kind, number)?;
        revision::require(expected, version.revision)?;
        if !version.status.is_pending() {
            return Err(AppError::Conflict(format!(
                "version {number} is {}: only an approved version can be published",
                version.status
            )));
        }
        let plan = workflow.plan(kind);
        let reviews = Versions::reviews(conn, version.id)?;
        let missing = Versions::missing(plan, &Versions::stage_states(plan, &version, &reviews));
        if !missing.is_empty() {
            return Err(AppError::Conflict(format!(
                "version {number} cannot be published: {}",
                missing.join("; ")
            )));
        }
        let effective_from = input.effective_from.unwrap_or_else(crate::db::today);
        let previous: Option<Version> = list_versions::table
            .filter(list_versions::county_code.eq(county.as_str()))
            .filter(list_versions::kind.eq(kind.as_str()))
            .filter(list_versions::status.eq(VersionStatus::Published.as_str()))
            .select(Version::as_select())
            .first(conn)
            .optional()?;
        let stamp = now();
        if let Some(previous) = &previous {
            if previous.effective_from.is_some_and(|d| effective_from < d) {
                return Err(AppError::invalid(
                    "effective_from",
                    format!(
                        "version {} is in force from {}; a later version cannot start before it",
                        previous.number,
                        previous.effective_from.expect("checked")
                    ),
                ));
            }
            diesel::update(list_versions::table.find(previous.id))
                .set((
                    list_versions::status.eq(VersionStatus::Superseded.as_str()),
                    list_versions::effective_to.eq(effective_from),
                    list_versions::revision.eq(previous.revision + 1),
                ))
                .execute(conn)?;
        }
        let changed = diesel::update(
            list_versions::table
                .find(version.id)
                .filter(list_versions::revision.eq(version.revision)),
        )
        .set((
            list_versions::status.eq(VersionStatus::Published.as_str()),
            list_versions::published_by.eq(&actor.sub),
            list_versions::published_at.eq(stamp),
            list_versions::effective_from.eq(effective_from),
            list_versions::revision.eq(version.revision + 1),
        ))
        .execute(conn)?;
        revision::guarded(changed, || {
            Ok(list_versions::table
                .find(version.id)
                .select(list_versions::revision)
                .first(conn)?)
        })?;
        audit::record(
            conn,
            actor,
            county,
            "publication.publish",
            "list_version",
            &entity(&version),
            &format!(
                "published {} list version {number}, in force from {effective_from}{}",
                kind.as_str(),
                previous
                    .map(|p| format!("; version {} superseded", p.number))
                    .unwrap_or_default()
            ),
        )?;
        Versions::sign(conn, signer, &version, &reviews)?;
        let published = Versions::find(conn, county, kind, number)?;
        super::rendered::Rendered::store(conn, &published, signer)?;
        Ok(published)
    }

    /// Signs a version as it is published: its document (a detached JWS over the exact
    /// bytes served) and an anchor of the audit chain's head, which now includes the
    /// publication's own event, bound to the document's hash and who reviewed it.
    fn sign(
        conn: &mut DbConnection,
        signer: &SigningKeys,
        version: &Version,
        reviews: &[Review],
    ) -> AppResult<()> {
        let signature = signer.sign_detached(Versions::content(conn, version.id)?.as_bytes());
        let anchor = audit::anchor(
            conn,
            signer,
            serde_json::json!({
                "version": entity(version),
                "content_hash": version.content_hash,
                "reviews": PublicReview::approvals(reviews),
            }),
        )?;
        diesel::update(list_versions::table.find(version.id))
            .set((
                list_versions::signature.eq(signature),
                list_versions::anchor_seq.eq(anchor.audit_seq),
                list_versions::anchor_mac.eq(anchor.audit_mac),
                list_versions::anchor_jws.eq(anchor.jws),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// The approvals each published version among `ids` rests on, by version id.
    pub fn approvals(
        conn: &mut DbConnection,
        ids: &[i64],
    ) -> AppResult<HashMap<i64, Vec<PublicReview>>> {
        let mut reviews: HashMap<i64, Vec<Review>> = HashMap::new();
        for chunk in ids.chunks(BATCH) {
            let rows: Vec<ApprovalRow> = version_reviews::table
                .filter(version_reviews::version_id.eq_any(chunk))
                .filter(version_reviews::decision.eq(Decision::Approve.as_str()))
                .order(version_reviews::id.asc())
                .select((
                    version_reviews::version_id,
                    version_reviews::id,
                    version_reviews::stage,
                    version_reviews::reviewer_org,
                    version_reviews::reviewer_org_name,
                    version_reviews::reviewed_hash,
                    version_reviews::reviewer_sub,
                    version_reviews::created_at,
                ))
                .load(conn)?;
            for (version, id, stage, org, org_name, hash, sub, at) in rows {
                let stage = Stage::parse(&stage).ok_or_else(|| {
                    AppError::Internal(format!("review {id} has an unknown stage {stage:?}"))
                })?;
                reviews.entry(version).or_default().push(Review {
                    id,
                    stage,
                    decision: Decision::Approve,
                    reviewer: sub,
                    reviewer_org: org,
                    reviewer_org_name: org_name,
                    comments: String::new(),
                    reviewed_hash: hash,
                    created_at: at,
                    findings: Vec::new(),
                });
            }
        }
        Ok(reviews
            .into_iter()
            .map(|(id, reviews)| (id, PublicReview::approvals(&reviews)))
            .collect())
    }

    /// Publications since a point, oldest first (the publication log).
    pub fn publications(
        conn: &mut DbConnection,
        since: Option<NaiveDateTime>,
        limit: i64,
    ) -> AppResult<Vec<Version>> {
        let mut q = list_versions::table
            .filter(list_versions::published_at.is_not_null())
            .into_boxed();
        if let Some(since) = since {
            q = q.filter(list_versions::published_at.gt(since));
        }
        Ok(
            q.order((list_versions::published_at.asc(), list_versions::id.asc()))
                .limit(limit)
                .select(Version::as_select())
                .load(conn)?,
        )
    }
}

/// Every problem with a review's findings at once: each must name an item of the version
/// and say what is wrong and what must change; an approval carries no blocking finding; a
/// return says what must change.
fn check_findings(
    input: &ReviewInput,
    number: i32,
    keys: &BTreeMap<String, &Value>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, f) in input.findings.iter().enumerate() {
        if !keys.keys().any(|k| concerns(&f.item_code, k)) {
            errors.push(FieldError::new(
                format!("findings[{i}].item_code"),
                format!("version {number} has no item {}", f.item_code),
            ));
        }
        for (field, text) in [
            ("problem", &f.problem),
            ("change_required", &f.change_required),
        ] {
            if text.trim().is_empty() {
                errors.push(FieldError::new(
                    format!("findings[{i}].{field}"),
                    "must not be empty",
                ));
            }
        }
        if f.law.as_deref().and_then(separator_problem).is_some() {
            errors.push(FieldError::new(
                format!("findings[{i}].law"),
                "must be one line",
            ));
        }
        if input.decision == Decision::Approve && f.severity == Severity::Blocking {
            errors.push(FieldError::new(
                format!("findings[{i}].severity"),
                "an approval cannot carry a blocking finding; return the version instead",
            ));
        }
    }
    if input.decision == Decision::Return
        && input.findings.is_empty()
        && input.comments.trim().is_empty()
    {
        errors.push(FieldError::new(
            "findings",
            "a return says what must change: give findings or comments",
        ));
    }
    errors
}

/// Whether a finding's item code concerns an item key: the same key, or the item code
/// of a power list's `township/code` key.
fn concerns(item_code: &str, key: &str) -> bool {
    key == item_code
        || key
            .rsplit_once('/')
            .is_some_and(|(_, code)| code == item_code)
}

#[cfg(test)]
mod readiness_tests {
    use super::*;
    use crate::claims::Undecided;

    fn waiting() -> Vec<Undecided> {
        vec![
            Undecided {
                township: "510521001000".into(),
                unanswered: 3,
                claimed: 1,
                returned: 0,
            },
            Undecided {
                township: "510521100000".into(),
                unanswered: 0,
                claimed: 0,
                returned: 2,
            },
        ]
    }

    #[test]
    fn nothing_undecided_needs_no_reason_and_keeps_none() {
        assert_eq!(readiness(&[], false, None).unwrap(), None);
        assert_eq!(readiness(&[], true, Some("先行公布")).unwrap(), None);
    }

    #[test]
    fn undecided_claims_are_counted_per_township_unless_a_reason_is_given() {
        match readiness(&waiting(), false, None).unwrap_err() {
            AppError::NotReady { detail, errors } => {
                assert!(detail.starts_with("6 claim(s)"), "{detail}");
                assert_eq!(errors.len(), 2);
                assert_eq!(errors[0].field, "510521001000");
                assert!(errors[0]
                    .message
                    .starts_with("4 undecided: 3 unanswered, 1 awaiting"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            readiness(&waiting(), true, Some("  ")),
            Err(AppError::Validation { .. })
        ));
        assert_eq!(
            readiness(&waiting(), true, Some(" 先行公布 "))
                .unwrap()
                .as_deref(),
            Some("先行公布")
        );
        assert_eq!(
            change_summary("首次编制 ", Some("先行公布")),
            "首次编制\n（提交时仍有未决认领：先行公布）"
        );
    }
}
