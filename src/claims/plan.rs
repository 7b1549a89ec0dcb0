//! Planning a bulk change of claims: from the requests and the rows loaded for them to the
//! writes (one UPDATE per distinct outcome), the history and the audit entries, or every
//! error at once. Pure: the caller loads before and stores after, in one transaction.

use std::collections::{BTreeMap, HashMap};

use super::model::{ChangeRequest, ClaimRecord};
use super::state::{Action, ClaimState};
use super::stats::CountCell;
use crate::audit::AuditEntry;
use crate::auth::Permission;
use crate::error::{AppError, AppResult, FieldError};
use crate::organisations::OrganisationKind;
use crate::regions::RegionCode;

/// A claim's key: its township and item.
pub type ClaimKey = (String, String);

/// What a change needs loaded before it can be planned.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The round.
    pub round_id: i64,
    /// The claims the requests name, by (township, item); a missing one is not offered.
    pub claims: HashMap<ClaimKey, ClaimRecord>,
    /// The organisations named as units: code → (kind, region).
    pub units: HashMap<String, (String, String)>,
    /// The confirming department (code, sector), when the change confirms or returns.
    pub department: Option<(String, String)>,
}

/// Where a group of claims moves: one UPDATE, guarded by the revision they all had.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Outcome {
    /// The new state.
    pub to: ClaimState,
    /// The township unit that exercises the power.
    pub unit: Option<String>,
    /// The township's reason (deferred, declined).
    pub reason: Option<String>,
    /// The department's note (returned).
    pub note: Option<String>,
    /// The revision the claims have now.
    pub revision: i64,
}

/// One step of a claim's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The claim.
    pub claim_id: i64,
    /// From.
    pub from: ClaimState,
    /// To.
    pub to: ClaimState,
    /// The unit named.
    pub unit: Option<String>,
    /// Reason, note or comment given.
    pub comment: Option<String>,
}

/// Everything a change writes.
#[derive(Debug, Default)]
pub struct ClaimPlan {
    /// The claims, grouped by where they move.
    pub updates: BTreeMap<Outcome, Vec<i64>>,
    /// Their history.
    pub steps: Vec<Step>,
    /// One audit entry per claim.
    pub audit: Vec<AuditEntry>,
    /// The claims changed, in request order.
    pub ids: Vec<i64>,
    /// The round.
    pub round_id: i64,
    /// How the round's statistics move: claims into (positive) or out of each cell.
    pub counts: BTreeMap<CountCell, i64>,
}

/// Plans `requests` against what was loaded: 422 listing every bad row, 403 for a claim of
/// another sector, 428 without revisions, 412 listing every stale claim, 409 listing every
/// illegal transition; otherwise the writes.
pub fn plan(requests: &[ChangeRequest], loaded: &Loaded) -> AppResult<ClaimPlan> {
    AppError::check(row_errors(requests, loaded))?;
    check_sector(requests, loaded)?;
    let moves = transitions(requests, loaded)?;
    writes(loaded.round_id, &moves)
}

/// A request's comment, trimmed; none when blank.
fn comment(request: &ChangeRequest) -> Option<&str> {
    request
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
}

/// Every row that cannot be applied whatever the claims' states: repeated, not offered,
/// a missing or foreign unit, a missing reason or note, a unit where none belongs.
fn row_errors(requests: &[ChangeRequest], loaded: &Loaded) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut first_rows: HashMap<ClaimKey, usize> = HashMap::new();
    for request in requests {
        let bad =
            |field: &str, message: String| FieldError::new(field, message).in_row(request.row);
        let key = (request.township.clone(), request.item.clone());
        if let Some(first) = first_rows.insert(key.clone(), request.row) {
            errors.push(bad(
                "item",
                format!(
                    "{} of {} appears again (first at {first})",
                    request.item, request.township
                ),
            ));
        }
        if !loaded.claims.contains_key(&key) {
            errors.push(bad(
                "item",
                format!(
                    "round {} offers no item {} to {}",
                    loaded.round_id, request.item, request.township
                ),
            ));
        }
        match request.action {
            Action::Claim => {
                if let Some(error) = unit_error(request, &loaded.units) {
                    errors.push(bad("unit", error));
                }
            }
            Action::Defer | Action::Decline | Action::Reopen if comment(request).is_none() => {
                errors.push(bad(
                    "reason",
                    format!("{} needs a reason", request.action.as_str()),
                ))
            }
            Action::Return if comment(request).is_none() => errors.push(bad(
                "note",
                "a returned claim needs a note for the township".into(),
            )),
            _ => {}
        }
        if request.action != Action::Claim && request.unit.is_some() {
            errors.push(bad("unit", "only a claim names a unit".into()));
        }
    }
    errors.sort_by_key(|e| e.row);
    errors
}

/// Why a claim's unit cannot exercise the power, if it cannot.
fn unit_error(
    request: &ChangeRequest,
    units: &HashMap<String, (String, String)>,
) -> Option<String> {
    let Some(unit) = request.unit.as_deref() else {
        return Some("a claim names the township unit that will exercise the power".into());
    };
    match units.get(unit) {
        Some((kind, region))
            if kind == OrganisationKind::TownshipUnit.as_str() && *region == request.township =>
        {
            None
        }
        Some(_) => Some(format!(
            "{unit} is not a unit of township {}",
            request.township
        )),
        None => Some(format!("no organisation {unit}")),
    }
}

/// A department confirms and returns the claims of its own sector only.
fn check_sector(requests: &[ChangeRequest], loaded: &Loaded) -> AppResult<()> {
    let Some((department, sector)) = &loaded.department else {
        return Ok(());
    };
    for request in requests
        .iter()
        .filter(|r| r.action.permission() == Permission::ConfirmClaims)
    {
        let claim = &loaded.claims[&(request.township.clone(), request.item.clone())];
        if claim.sector != *sector {
            return Err(AppError::Forbidden(format!(
                "{} belongs to sector {}; your department {department} is {sector}",
                claim.item_code, claim.sector
            )));
        }
    }
    Ok(())
}

/// Each request's claim and the state it moves to, once every revision is current and
/// every transition legal.
fn transitions<'a>(
    requests: &'a [ChangeRequest],
    loaded: &'a Loaded,
) -> AppResult<Vec<(&'a ChangeRequest, &'a ClaimRecord, ClaimState)>> {
    let mut missing = false;
    let mut stale = Vec::new();
    let mut illegal = Vec::new();
    let mut moves = Vec::with_capacity(requests.len());
    for request in requests {
        let claim = &loaded.claims[&(request.township.clone(), request.item.clone())];
        match request.revision {
            None => missing = true,
            Some(r) if r != claim.revision => stale.push(
                FieldError::new(
                    "revision",
                    format!(
                        "{} has changed: its revision is now {}",
                        claim.item_code, claim.revision
                    ),
                )
                .in_row(request.row),
            ),
            Some(_) => {}
        }
        match request.action.apply(claim.state) {
            Ok(to) => moves.push((request, claim, to)),
            Err(message) => illegal.push(
                FieldError::new("state", format!("{}: {message}", claim.item_code))
                    .in_row(request.row),
            ),
        }
    }
    if missing {
        return Err(AppError::PreconditionRequired);
    }
    if !stale.is_empty() {
        return Err(AppError::Stale {
            detail: format!(
                "{} claim(s) changed since you read them; nothing was written",
                stale.len()
            ),
            errors: stale,
        });
    }
    if !illegal.is_empty() {
        return Err(AppError::IllegalTransition {
            detail: format!(
                "{} transition(s) are not possible; nothing was written",
                illegal.len()
            ),
            errors: illegal,
        });
    }
    Ok(moves)
}

/// The rows, history and audit entries of legal moves.
fn writes(
    round_id: i64,
    moves: &[(&ChangeRequest, &ClaimRecord, ClaimState)],
) -> AppResult<ClaimPlan> {
    let mut plan = ClaimPlan {
        round_id,
        ..ClaimPlan::default()
    };
    for &(request, claim, to) in moves {
        let cell = |state| {
            let (t, c, d) = (&claim.township_code, &claim.category, &claim.domain);
            (t.clone(), c.clone(), d.clone(), state)
        };
        *plan.counts.entry(cell(claim.state)).or_default() -= 1;
        *plan.counts.entry(cell(to)).or_default() += 1;
        let comment = comment(request).map(String::from);
        // What a state keeps: the unit through confirmation and return, a reason or note
        // only with the state it explains.
        let (unit, reason, note) = match to {
            ClaimState::Claimed => (request.unit.clone(), None, None),
            ClaimState::Deferred | ClaimState::Declined => (None, comment.clone(), None),
            ClaimState::Confirmed => (claim.unit_code.clone(), None, None),
            ClaimState::Returned => (claim.unit_code.clone(), None, comment.clone()),
            ClaimState::Offered => (None, None, None),
        };
        let outcome = Outcome {
            to,
            unit: unit.clone(),
            reason,
            note,
            revision: claim.revision,
        };
        plan.updates.entry(outcome).or_default().push(claim.id);
        let detail = match (&unit, &comment) {
            (Some(u), _) if to == ClaimState::Claimed => format!(" (unit {u})"),
            (_, Some(c)) => format!(": {c}"),
            _ => String::new(),
        };
        plan.audit.push(AuditEntry {
            region: RegionCode::parse(&claim.township_code).map_err(|e| {
                AppError::Internal(format!("claim {} has a bad township: {e}", claim.id))
            })?,
            action: format!("claims.{}", request.action.as_str()),
            entity_type: "claim".into(),
            entity_id: claim.id.to_string(),
            summary: format!(
                "round {round_id} {} {}: {} → {to}{detail}",
                claim.township_code, claim.item_code, claim.state
            ),
        });
        plan.steps.push(Step {
            claim_id: claim.id,
            from: claim.state,
            to,
            unit,
            comment,
        });
        plan.ids.push(claim.id);
    }
    plan.counts.retain(|_, delta| *delta != 0);
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    const TOWNSHIP: &str = "510521101000";
    const OTHER: &str = "510521102000";

    fn record(id: i64, item: &str, state: ClaimState, revision: i64) -> ClaimRecord {
        ClaimRecord {
            id,
            round_id: 9,
            township_code: TOWNSHIP.into(),
            item_id: id,
            item_code: item.into(),
            category: "行政处罚".into(),
            domain: "自然资源".into(),
            sector: "natural_resources".into(),
            state,
            unit_code: matches!(state, ClaimState::Claimed | ClaimState::Confirmed)
                .then(|| "unit-a".into()),
            reason: None,
            note: None,
            revision,
            updated_at: NaiveDateTime::default(),
            updated_by: "x".into(),
        }
    }

    fn loaded(records: Vec<ClaimRecord>) -> Loaded {
        let units = [
            ("unit-a", OrganisationKind::TownshipUnit.as_str(), TOWNSHIP),
            ("unit-b", OrganisationKind::TownshipUnit.as_str(), OTHER),
            (
                "dept",
                OrganisationKind::Department.as_str(),
                "510521000000",
            ),
        ];
        Loaded {
            round_id: 9,
            claims: records
                .into_iter()
                .map(|r| ((r.township_code.clone(), r.item_code.clone()), r))
                .collect(),
            units: units
                .into_iter()
                .map(|(code, kind, region)| (code.into(), (kind.into(), region.into())))
                .collect(),
            department: None,
        }
    }

    fn request(row: usize, item: &str, action: Action, revision: Option<i64>) -> ChangeRequest {
        ChangeRequest {
            row,
            township: TOWNSHIP.into(),
            item: item.into(),
            action,
            revision,
            unit: (action == Action::Claim).then(|| "unit-a".into()),
            comment: None,
        }
    }

    fn fields(result: AppResult<ClaimPlan>) -> Vec<(Option<usize>, String)> {
        match result {
            Err(AppError::Validation { errors, .. })
            | Err(AppError::Stale { errors, .. })
            | Err(AppError::IllegalTransition { errors, .. }) => {
                errors.into_iter().map(|e| (e.row, e.field)).collect()
            }
            other => panic!("not a list of field errors: {other:?}"),
        }
    }

    #[test]
    fn claims_of_one_outcome_are_one_update_with_history_and_audit() {
        let loaded = loaded(vec![
            record(1, "A", ClaimState::Offered, 1),
            record(2, "B", ClaimState::Offered, 1),
            record(3, "C", ClaimState::Offered, 2),
        ]);
        let mut defer = request(3, "C", Action::Defer, Some(2));
        defer.comment = Some("  人手不足 ".into());
        let requests = [
            request(1, "A", Action::Claim, Some(1)),
            request(2, "B", Action::Claim, Some(1)),
            defer,
        ];
        let plan = plan(&requests, &loaded).unwrap();
        assert_eq!(plan.updates.len(), 2);
        let claimed = Outcome {
            to: ClaimState::Claimed,
            unit: Some("unit-a".into()),
            reason: None,
            note: None,
            revision: 1,
        };
        assert_eq!(plan.updates[&claimed], [1, 2]);
        let deferred = plan
            .updates
            .keys()
            .find(|o| o.to == ClaimState::Deferred)
            .unwrap();
        assert_eq!(deferred.reason.as_deref(), Some("人手不足"));
        assert_eq!(plan.ids, [1, 2, 3]);
        assert_eq!(plan.steps[2].from, ClaimState::Offered);
        assert_eq!(plan.steps[2].comment.as_deref(), Some("人手不足"));
        assert_eq!(plan.audit[0].action, "claims.claim");
        assert!(plan.audit[0]
            .summary
            .ends_with("offered → claimed (unit unit-a)"));
        assert!(plan.audit[2]
            .summary
            .ends_with("offered → deferred: 人手不足"));
        let cell = |state| (TOWNSHIP.into(), "行政处罚".into(), "自然资源".into(), state);
        let counts: BTreeMap<CountCell, i64> = [
            (cell(ClaimState::Offered), -3),
            (cell(ClaimState::Claimed), 2),
            (cell(ClaimState::Deferred), 1),
        ]
        .into();
        assert_eq!(plan.counts, counts, "the statistics move with the claims");
    }

    #[test]
    fn confirming_keeps_the_unit_and_returning_adds_the_note() {
        let loaded = loaded(vec![
            record(1, "A", ClaimState::Claimed, 2),
            record(2, "B", ClaimState::Claimed, 2),
        ]);
        let mut back = request(2, "B", Action::Return, Some(2));
        back.comment = Some("请补充".into());
        let plan = plan(&[request(1, "A", Action::Confirm, Some(2)), back], &loaded).unwrap();
        let outcomes: Vec<_> = plan.updates.keys().collect();
        assert_eq!(outcomes[0].to, ClaimState::Confirmed);
        assert_eq!(outcomes[0].unit.as_deref(), Some("unit-a"));
        assert_eq!(outcomes[1].to, ClaimState::Returned);
        assert_eq!(outcomes[1].note.as_deref(), Some("请补充"));
    }

    #[test]
    fn every_bad_row_is_reported_at_once_in_row_order() {
        let loaded = loaded(vec![
            record(1, "A", ClaimState::Offered, 1),
            record(2, "B", ClaimState::Offered, 1),
        ]);
        let mut foreign = request(2, "B", Action::Claim, Some(1));
        foreign.unit = Some("unit-b".into());
        let mut unknown = request(3, "A", Action::Claim, Some(1));
        unknown.unit = Some("nobody".into());
        let mut no_unit = request(4, "B", Action::Claim, Some(1));
        no_unit.unit = None;
        let mut stray_unit = request(8, "A", Action::Decline, Some(1));
        stray_unit.comment = Some("无".into());
        stray_unit.unit = Some("unit-a".into());
        let mut department_unit = request(9, "B", Action::Claim, Some(1));
        department_unit.unit = Some("dept".into());
        let requests = [
            request(1, "A", Action::Claim, Some(1)),
            foreign,
            unknown,
            no_unit,
            request(5, "Z", Action::Confirm, Some(1)),
            request(6, "A", Action::Defer, Some(1)),
            request(7, "B", Action::Return, Some(1)),
            stray_unit,
            department_unit,
        ];
        let errors = fields(plan(&requests, &loaded));
        let expected = [
            (2, "unit"),
            (3, "item"),
            (3, "unit"),
            (4, "item"),
            (4, "unit"),
            (5, "item"),
            (6, "item"),
            (6, "reason"),
            (7, "item"),
            (7, "note"),
            (8, "item"),
            (8, "unit"),
            (9, "item"),
            (9, "unit"),
        ];
        assert_eq!(
            errors,
            expected.map(|(row, field)| (Some(row), field.to_string()))
        );
    }

    #[test]
    fn reopening_needs_a_reason() {
        let loaded = loaded(vec![record(1, "A", ClaimState::Declined, 2)]);
        let errors = fields(plan(&[request(1, "A", Action::Reopen, Some(2))], &loaded));
        assert_eq!(errors, [(Some(1), "reason".to_string())]);
    }

    #[test]
    fn a_department_acts_on_its_own_sector_only() {
        let mut loaded = loaded(vec![record(1, "A", ClaimState::Claimed, 2)]);
        loaded.department = Some(("luxian-sfj".into(), "justice".into()));
        let refused = plan(&[request(1, "A", Action::Confirm, Some(2))], &loaded);
        assert!(
            matches!(refused, Err(AppError::Forbidden(_))),
            "{refused:?}"
        );
        loaded.department = Some(("luxian-zrzy".into(), "natural_resources".into()));
        assert!(plan(&[request(1, "A", Action::Confirm, Some(2))], &loaded).is_ok());
    }

    #[test]
    fn revisions_are_required_then_current_then_transitions_legal() {
        let loaded = loaded(vec![
            record(1, "A", ClaimState::Offered, 1),
            record(2, "B", ClaimState::Confirmed, 3),
        ]);
        let missing = plan(
            &[
                request(1, "A", Action::Claim, None),
                request(2, "B", Action::Claim, Some(1)),
            ],
            &loaded,
        );
        assert!(matches!(missing, Err(AppError::PreconditionRequired)));
        let stale = plan(
            &[
                request(1, "A", Action::Claim, Some(1)),
                request(2, "B", Action::Confirm, Some(2)),
            ],
            &loaded,
        );
        assert_eq!(fields(stale), [(Some(2), "revision".to_string())]);
        let illegal = plan(
            &[
                request(1, "A", Action::Confirm, Some(1)),
                request(2, "B", Action::Claim, Some(3)),
            ],
            &loaded,
        );
        assert_eq!(
            fields(illegal),
            [
                (Some(1), "state".to_string()),
                (Some(2), "state".to_string())
            ]
        );
    }
}
