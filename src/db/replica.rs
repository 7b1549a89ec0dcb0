//! The public read path's database: a PostgreSQL streaming replica when one is configured
//! and keeping up, the primary otherwise.
//!
//! A watcher thread asks the replica every so often how far behind it is; while it is down,
//! not streaming, or further behind than allowed, reads go to the primary, so no request
//! waits on a replica that cannot answer and a lagging replica does not serve a superseded
//! version for longer than the allowed lag. A read that fails on the replica is read again
//! from the primary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::{Db, DbConnection};
use crate::error::{AppError, AppResult};

/// A replica and whether it may serve now.
pub struct ReadReplica {
    db: Db,
    usable: AtomicBool,
    max_lag: Duration,
}

#[derive(QueryableByName)]
struct Lag {
    #[diesel(sql_type = BigInt)]
    lag_ms: i64,
}

/// How far behind the primary a replica is, in milliseconds: zero when it has replayed
/// all it received, the age of its last replayed transaction otherwise; an error when it
/// is not a replica or not streaming (then it may be behind by any amount).
fn lag_ms(conn: &mut DbConnection) -> AppResult<i64> {
    let lag: Lag = diesel::sql_query(
        "SELECT CASE
           WHEN NOT pg_is_in_recovery() THEN -1
           WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN -1
           WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
           ELSE COALESCE((EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)::BIGINT, 0)
         END AS lag_ms",
    )
    .get_result(conn)?;
    if lag.lag_ms < 0 {
        return Err(AppError::Internal(
            "the read replica is not a streaming replica".into(),
        ));
    }
    Ok(lag.lag_ms)
}

impl ReadReplica {
    /// Watches the replica at `db`, allowing it `max_lag`; the watcher stops when the
    /// returned handle is dropped.
    pub fn watch(db: Db, max_lag: Duration) -> Arc<ReadReplica> {
        let replica = Arc::new(ReadReplica {
            db,
            usable: AtomicBool::new(false),
            max_lag,
        });
        replica.check();
        let watched: Weak<ReadReplica> = Arc::downgrade(&replica);
        let every = (max_lag / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        std::thread::Builder::new()
            .name("quanze-replica-watch".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                match watched.upgrade() {
                    Some(replica) => replica.check(),
                    None => return,
                }
            })
            .expect("start the replica watcher");
        replica
    }

    /// Whether the replica may serve now.
    pub fn usable(&self) -> bool {
        self.usable.load(Ordering::Relaxed)
    }

    fn check(&self) {
        let verdict = self.db.read_blocking(lag_ms).and_then(|lag| {
            if lag as u128 > self.max_lag.as_millis() {
                return Err(AppError::Internal(format!(
                    "the read replica is {lag} ms behind"
                )));
            }
            Ok(())
        });
        let usable = verdict.is_ok();
        if self.usable.swap(usable, Ordering::Relaxed) != usable {
            match verdict {
                Ok(()) => tracing::info!("public reads go to the read replica"),
                Err(error) => {
                    tracing::warn!(%error, "public reads go to the primary")
                }
            }
        }
    }
}

/// Where the public read path reads: the replica while it may serve, else the primary.
#[derive(Clone)]
pub struct Reads {
    primary: Db,
    replica: Option<Arc<ReadReplica>>,
}

impl Reads {
    /// Reads from `primary` alone, or from `replica` while it keeps up.
    pub fn new(primary: Db, replica: Option<Arc<ReadReplica>>) -> Reads {
        Reads { primary, replica }
    }

    /// Whether the next read would go to the replica.
    pub fn from_replica(&self) -> bool {
        self.replica.as_ref().is_some_and(|r| r.usable())
    }

    /// Runs a read on the calling thread: on the replica while it may serve (a read that
    /// fails there is read again from the primary), on the primary otherwise.
    pub fn read_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        F: Fn(&mut DbConnection) -> AppResult<T>,
    {
        if let Some(replica) = self.replica.as_ref().filter(|r| r.usable()) {
            match replica.db.read_blocking(&f) {
                Err(AppError::Unavailable | AppError::Internal(_)) => {
                    replica.usable.store(false, Ordering::Relaxed);
                    tracing::warn!("a read failed on the read replica; reading from the primary");
                }
                answer => return answer,
            }
        }
        self.primary.read_blocking(f)
    }

    /// [`Reads::read_blocking`] on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> AppResult<T>
    where
        F: Fn(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let reads = self.clone();
        actix_web::web::block(move || reads.read_blocking(f)).await?
    }
}
