//! Separation of duties (一人一責): who may review a version at a stage. Pure rules over
//! what was loaded, each refusal naming its rule, so the gate holds the same wherever a
//! review comes from.

use super::model::{Decision, Review, Stage, Version};
use crate::auth::{Principal, Role};
use crate::error::{AppError, AppResult};
use crate::organisations::{Organisation, OrganisationKind};
use crate::regions::RegionCode;

/// The token lacks the role of the stage it reviews.
pub const STAGE_ROLE: &str = "stage-role";
/// The token also carries a role that compiles lists or the catalogue.
pub const REVIEWER_ALSO_COMPILES: &str = "reviewer-also-compiles";
/// The token's organisation is not the registered holder of the stage in this county.
pub const STAGE_HOLDER: &str = "stage-holder";
/// The person who submitted a version reviews it.
pub const SUBMITTER_REVIEWS: &str = "submitter-cannot-review";
/// The person approved another stage of the same version.
pub const ONE_STAGE_PER_PERSON: &str = "one-stage-per-person";

/// Roles that make what reviewers judge: a token carrying one never reviews.
const COMPILING_ROLES: [Role; 2] = [Role::CountyCompiler, Role::CatalogueAdmin];

/// 403 unless the token carries the role of `stage`: checked before anything is loaded.
pub fn check_stage_role(actor: &Principal, stage: Stage) -> AppResult<()> {
    if actor.roles.contains(&stage.role()) {
        return Ok(());
    }
    Err(AppError::refused(
        STAGE_ROLE,
        format!(
            "the {} stage is reviewed by a {}",
            stage.as_str(),
            stage.role().as_str()
        ),
    ))
}

/// A review about to be recorded, with what it is judged against.
pub struct Reviewing<'a> {
    /// The stage reviewed.
    pub stage: Stage,
    /// The kind of organisation that holds it.
    pub holder: OrganisationKind,
    /// The list's county.
    pub county: &'a RegionCode,
    /// The version.
    pub version: &'a Version,
    /// Its reviews so far.
    pub earlier: &'a [Review],
}

/// Whether `actor`, acting for `organisation` (the registered organisation its `org`
/// names, if any), may record this review; the organisation that reviews when it may.
pub fn check_reviewer<'o>(
    review: &Reviewing,
    actor: &Principal,
    organisation: Option<&'o Organisation>,
) -> AppResult<&'o Organisation> {
    check_stage_role(actor, review.stage)?;
    if let Some(role) = COMPILING_ROLES.iter().find(|r| actor.roles.contains(r)) {
        return Err(AppError::refused(
            REVIEWER_ALSO_COMPILES,
            format!(
                "a token that carries {} cannot review: whoever compiles a list does not judge it",
                role.as_str()
            ),
        ));
    }
    let holder = organisation.filter(|org| {
        org.kind == review.holder.as_str() && org.region_code == review.county.as_str()
    });
    let Some(holder) = holder else {
        let what = match organisation {
            None => format!("{} is not a registered organisation", actor.org),
            Some(org) => format!(
                "{} ({}) is a {} of region {}",
                org.code, org.name, org.kind, org.region_code
            ),
        };
        return Err(AppError::refused(
            STAGE_HOLDER,
            format!(
                "the {} stage is held by the {} of county {}; your organisation {what}",
                review.stage.as_str(),
                review.holder.as_str(),
                review.county
            ),
        ));
    };
    if review.version.submitted_by == actor.sub {
        return Err(AppError::refused(
            SUBMITTER_REVIEWS,
            format!(
                "you ({}) submitted version {}: its reviewers are other people",
                actor.sub, review.version.number
            ),
        ));
    }
    if let Some(other) = review.earlier.iter().find(|r| {
        r.reviewer == actor.sub && r.stage != review.stage && r.decision == Decision::Approve
    }) {
        return Err(AppError::refused(
            ONE_STAGE_PER_PERSON,
            format!(
                "you ({}) approved the {} stage of version {}: nobody approves two stages of one version",
                actor.sub,
                other.stage.as_str(),
                review.version.number
            ),
        ));
    }
    Ok(holder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn county() -> RegionCode {
        RegionCode::parse("510521000000").unwrap()
    }

    fn organisation(code: &str, kind: OrganisationKind, region: &str) -> Organisation {
        Organisation {
            code: code.into(),
            name: format!("{code} 名称"),
            kind: kind.as_str().into(),
            sector: None,
            region_code: region.into(),
            revision: 1,
            created_at: NaiveDateTime::default(),
            updated_at: NaiveDateTime::default(),
        }
    }

    fn actor(sub: &str, org: &str, roles: &[Role]) -> Principal {
        Principal {
            sub: sub.into(),
            org: org.into(),
            region: county(),
            roles: roles.to_vec(),
        }
    }

    fn version() -> Version {
        Version {
            id: 1,
            county_code: "510521000000".into(),
            kind: "power".into(),
            number: 3,
            status: crate::publication::VersionStatus::InReview,
            title: "t".into(),
            change_summary: "c".into(),
            content_hash: "h".repeat(64),
            item_count: 1,
            submitted_by: "compiler-1".into(),
            submitted_at: NaiveDateTime::default(),
            ended_at: None,
            published_by: None,
            published_at: None,
            effective_from: None,
            effective_to: None,
            revision: 1,
            signature: None,
            anchor_seq: None,
            anchor_mac: None,
            anchor_jws: None,
        }
    }

    fn approval(stage: Stage, sub: &str) -> Review {
        Review {
            id: 1,
            stage,
            decision: Decision::Approve,
            reviewer: sub.into(),
            reviewer_org: "luxian-sfj".into(),
            reviewer_org_name: "泸县司法局".into(),
            comments: String::new(),
            reviewed_hash: "h".repeat(64),
            created_at: NaiveDateTime::default(),
            findings: Vec::new(),
        }
    }

    fn rule(result: AppResult<&Organisation>) -> &'static str {
        match result {
            Ok(_) => "accepted",
            Err(AppError::Refused { rule, .. }) => rule,
            Err(other) => panic!("not a refusal by rule: {other}"),
        }
    }

    fn judge(
        stage: Stage,
        earlier: &[Review],
        actor: &Principal,
        org: Option<&Organisation>,
    ) -> &'static str {
        let (county, version) = (county(), version());
        let holder = match stage {
            Stage::Legality => OrganisationKind::JusticeBureau,
            Stage::Government => OrganisationKind::CountyGovernment,
            Stage::Staffing => OrganisationKind::StaffingOffice,
            Stage::Approval => OrganisationKind::ApprovalBureau,
        };
        let review = Reviewing {
            stage,
            holder,
            county: &county,
            version: &version,
            earlier,
        };
        rule(check_reviewer(&review, actor, org))
    }

    #[test]
    fn the_holder_of_the_stage_in_the_county_reviews() {
        let sfj = organisation(
            "luxian-sfj",
            OrganisationKind::JusticeBureau,
            "510521000000",
        );
        let reviewer = actor("sfj-1", "luxian-sfj", &[Role::LegalityReviewer]);
        assert_eq!(
            judge(Stage::Legality, &[], &reviewer, Some(&sfj)),
            "accepted"
        );
        // Returning after approving the same stage is still that person's one stage.
        let earlier = [approval(Stage::Legality, "sfj-1")];
        assert_eq!(
            judge(Stage::Legality, &earlier, &reviewer, Some(&sfj)),
            "accepted"
        );
    }

    #[test]
    fn a_token_without_the_stages_role_is_refused() {
        let gov = organisation(
            "luxian-gov",
            OrganisationKind::CountyGovernment,
            "510521000000",
        );
        let reviewer = actor("gov-1", "luxian-gov", &[Role::GovernmentApprover]);
        assert_eq!(
            judge(Stage::Legality, &[], &reviewer, Some(&gov)),
            STAGE_ROLE
        );
    }

    #[test]
    fn a_reviewer_who_also_compiles_is_refused() {
        let sfj = organisation(
            "luxian-sfj",
            OrganisationKind::JusticeBureau,
            "510521000000",
        );
        for role in COMPILING_ROLES {
            let reviewer = actor("sfj-1", "luxian-sfj", &[Role::LegalityReviewer, role]);
            assert_eq!(
                judge(Stage::Legality, &[], &reviewer, Some(&sfj)),
                REVIEWER_ALSO_COMPILES
            );
        }
    }

    #[test]
    fn only_the_stages_organisation_kind_in_this_county_holds_it() {
        let reviewer = actor("x-1", "luxian-zrzy", &[Role::LegalityReviewer]);
        let department = organisation("luxian-zrzy", OrganisationKind::Department, "510521000000");
        let elsewhere = organisation(
            "hejiang-sfj",
            OrganisationKind::JusticeBureau,
            "510522000000",
        );
        assert_eq!(
            judge(Stage::Legality, &[], &reviewer, Some(&department)),
            STAGE_HOLDER
        );
        assert_eq!(
            judge(Stage::Legality, &[], &reviewer, Some(&elsewhere)),
            STAGE_HOLDER
        );
        assert_eq!(judge(Stage::Legality, &[], &reviewer, None), STAGE_HOLDER);
    }

    #[test]
    fn the_submitter_never_reviews() {
        let sfj = organisation(
            "luxian-sfj",
            OrganisationKind::JusticeBureau,
            "510521000000",
        );
        let submitter = actor("compiler-1", "luxian-sfj", &[Role::LegalityReviewer]);
        assert_eq!(
            judge(Stage::Legality, &[], &submitter, Some(&sfj)),
            SUBMITTER_REVIEWS
        );
    }

    #[test]
    fn nobody_approves_two_stages_of_one_version() {
        let gov = organisation(
            "luxian-gov",
            OrganisationKind::CountyGovernment,
            "510521000000",
        );
        let both = actor(
            "sfj-1",
            "luxian-gov",
            &[Role::LegalityReviewer, Role::GovernmentApprover],
        );
        let earlier = [approval(Stage::Legality, "sfj-1")];
        assert_eq!(
            judge(Stage::Government, &earlier, &both, Some(&gov)),
            ONE_STAGE_PER_PERSON
        );
        let someone_else = [approval(Stage::Legality, "sfj-2")];
        assert_eq!(
            judge(Stage::Government, &someone_else, &both, Some(&gov)),
            "accepted"
        );
    }
}
