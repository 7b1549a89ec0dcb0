//! The claim state machine: the one place that says which transition is legal from
//! which state, and which role makes it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Permission;

/// Where a claim stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    /// Offered to the township, not answered yet.
    Offered,
    /// 承接: the township will take the power on (names the unit that exercises it).
    Claimed,
    /// 暫緩: the township defers it, with a reason.
    Deferred,
    /// The township declines it, with a reason.
    Declined,
    /// The county department confirmed the hand-over.
    Confirmed,
    /// The county department sent the claim back to the township, with a note.
    Returned,
}

crate::stored_states!(ClaimState {
    Offered => "offered",
    Claimed => "claimed",
    Deferred => "deferred",
    Declined => "declined",
    Confirmed => "confirmed",
    Returned => "returned",
});

/// Something that moves a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Township: take the power on.
    Claim,
    /// Township: defer it.
    Defer,
    /// Township: decline it.
    Decline,
    /// Department: confirm the hand-over.
    Confirm,
    /// Department: send it back to the township.
    Return,
    /// Compiler: put a decided claim back to `offered`.
    Reopen,
}

impl Action {
    /// The name used in requests and history.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Claim => "claim",
            Action::Defer => "defer",
            Action::Decline => "decline",
            Action::Confirm => "confirm",
            Action::Return => "return",
            Action::Reopen => "reopen",
        }
    }

    /// The permission the action needs.
    pub fn permission(self) -> Permission {
        match self {
            Action::Claim | Action::Defer | Action::Decline => Permission::AnswerClaims,
            Action::Confirm | Action::Return => Permission::ConfirmClaims,
            Action::Reopen => Permission::ManageClaimRounds,
        }
    }

    /// The state the action leads to from `from`, or why it cannot be taken.
    pub fn apply(self, from: ClaimState) -> Result<ClaimState, String> {
        use Action::*;
        use ClaimState::*;
        let to = match (from, self) {
            (Offered | Returned, Claim) => Claimed,
            (Offered | Returned, Defer) => Deferred,
            (Offered | Returned, Decline) => Declined,
            (Claimed, Confirm) => Confirmed,
            (Claimed, Return) => Returned,
            (Claimed | Deferred | Declined | Confirmed | Returned, Reopen) => Offered,
            _ => {
                let hint = match (from, self) {
                    (Claimed | Deferred | Declined | Confirmed, Claim | Defer | Decline) => {
                        "it has been answered; the county compiler can reopen it"
                    }
                    (_, Confirm | Return) => "only a claimed item can be confirmed or returned",
                    (Offered, Reopen) => "it has not been answered yet",
                    _ => "this transition does not exist",
                };
                return Err(format!(
                    "the claim is {}: cannot {} ({hint})",
                    from.as_str(),
                    self.as_str()
                ));
            }
        };
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_way_path() {
        let claimed = Action::Claim.apply(ClaimState::Offered).unwrap();
        let returned = Action::Return.apply(claimed).unwrap();
        let claimed_again = Action::Claim.apply(returned).unwrap();
        assert_eq!(
            Action::Confirm.apply(claimed_again).unwrap(),
            ClaimState::Confirmed
        );
    }

    #[test]
    fn every_pair_outside_the_table_is_refused_naming_the_state() {
        let legal = [
            (ClaimState::Offered, Action::Claim),
            (ClaimState::Offered, Action::Defer),
            (ClaimState::Offered, Action::Decline),
            (ClaimState::Returned, Action::Claim),
            (ClaimState::Returned, Action::Defer),
            (ClaimState::Returned, Action::Decline),
            (ClaimState::Claimed, Action::Confirm),
            (ClaimState::Claimed, Action::Return),
        ];
        let actions = [
            Action::Claim,
            Action::Defer,
            Action::Decline,
            Action::Confirm,
            Action::Return,
        ];
        for &state in ClaimState::ALL {
            for action in actions {
                let result = action.apply(state);
                if legal.contains(&(state, action)) {
                    assert!(result.is_ok(), "{state:?} {action:?}");
                } else {
                    assert!(
                        result.unwrap_err().contains(state.as_str()),
                        "{state:?} {action:?}"
                    );
                }
            }
            assert_eq!(
                Action::Reopen.apply(state).is_ok(),
                state != ClaimState::Offered
            );
        }
    }
}
