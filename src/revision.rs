//! Optimistic concurrency, one way for every mutable resource: a write names the revision
//! its author saw (`If-Match`, or `revision` in a bulk body), the domain checks it against
//! the row it loaded, and the UPDATE is guarded by it as a backstop against a writer that
//! committed in between. Either way a stale writer is told the row's true revision.

use crate::error::{AppError, AppResult};

/// The strong ETag of a revision.
pub fn etag_value(revision: i64) -> String {
    format!("\"{revision}\"")
}

/// 412 unless the caller saw the current revision.
pub fn require(expected: i64, current: i64) -> AppResult<()> {
    if expected == current {
        Ok(())
    } else {
        Err(AppError::PreconditionFailed { current })
    }
}

/// The outcome of a guarded write that `changed` rows: when a concurrent writer got there
/// first (nothing changed), a 412 with the revision the row holds now, read again after
/// that writer committed (or the 404 of a row that is gone).
pub fn guarded(changed: usize, now: impl FnOnce() -> AppResult<i64>) -> AppResult<()> {
    if changed > 0 {
        return Ok(());
    }
    Err(AppError::PreconditionFailed { current: now()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_revision_is_answered_with_the_current_one() {
        assert!(require(3, 3).is_ok());
        assert!(matches!(
            require(2, 5),
            Err(AppError::PreconditionFailed { current: 5 })
        ));
    }

    #[test]
    fn a_lost_race_reads_the_winner_s_revision_and_a_won_one_reads_nothing() {
        assert!(guarded(1, || panic!("not read when the write went through")).is_ok());
        assert!(matches!(
            guarded(0, || Ok(7)),
            Err(AppError::PreconditionFailed { current: 7 })
        ));
        assert!(matches!(
            guarded(0, || Err(AppError::NotFound("gone".into()))),
            Err(AppError::NotFound(_))
        ));
    }
}
