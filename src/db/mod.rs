//! One diesel code path over SQLite (embedded default) and PostgreSQL.
//!
//! The backend is chosen from the URL's scheme, never by trying each backend in turn:
//! SQLite accepts any string as a file name, so a mistyped Postgres URL would silently
//! become a new empty database file.

pub mod backup;
pub mod replica;
pub mod schema;
pub mod stored;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{AppError, AppResult};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgresql");

/// A connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL, for production.
    Postgresql(diesel::PgConnection),
    /// SQLite, the embedded default.
    Sqlite(diesel::SqliteConnection),
}

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// `postgres://` and `postgresql://` are PostgreSQL; anything else is an SQLite path
    /// (an optional `sqlite://` prefix is stripped).
    pub fn from_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Opens connections for the pool, with the backend fixed up front.
#[derive(Debug)]
pub struct ConnectionManager {
    url: String,
    backend: Backend,
}

impl ConnectionManager {
    fn new(url: &str) -> Self {
        let backend = Backend::from_url(url);
        let url = match backend {
            Backend::Sqlite => url.trim_start_matches("sqlite://").to_string(),
            // A server that does not answer must fail fast, not hang a request.
            Backend::Postgres if !url.contains("connect_timeout") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}connect_timeout=2")
            }
            Backend::Postgres => url.to_string(),
        };
        Self { url, backend }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.url)
                .map(DbConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.url)
                    .map_err(r2d2::Error::ConnectionError)?;
                // busy_timeout first, so that switching to WAL waits for other openers.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// The connection pool and the few facts about the backend the domain needs.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager>,
    backend: Backend,
    /// SQLite has one writer at a time; taking this lock before `BEGIN` makes writers
    /// queue in the process instead of failing with SQLITE_BUSY on lock upgrade.
    sqlite_writer: Arc<Mutex<()>>,
    /// The audit chain's key, for the audit writer inside each write.
    audit_key: Option<Arc<crate::keys::AuditKey>>,
    /// Waits for connections, and changes committed, for the metrics.
    counters: crate::metrics::PoolCounters,
    /// An SQLite database's lock file, held shared while this handle lives: a restore
    /// takes it exclusively, so it never replaces a database in use.
    _in_use: Option<Arc<std::fs::File>>,
}

/// The pool at a moment.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    /// Connections open.
    pub connections: u32,
    /// Of them, idle.
    pub idle: u32,
    /// The pool's size.
    pub max: u32,
}

/// A pooled connection.
pub type PooledDb = PooledConnection<ConnectionManager>;

impl Db {
    /// Builds the pool lazily: the service starts even when the database is down and
    /// connects when it returns.
    pub fn connect(url: &str, pool_size: u32, pool_timeout: Duration) -> AppResult<Db> {
        let manager = ConnectionManager::new(url);
        let backend = manager.backend;
        let mut in_use = None;
        if backend == Backend::Sqlite {
            if let Some(dir) = std::path::Path::new(&manager.url).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        AppError::Internal(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            }
            in_use = backup::hold_in_use(std::path::Path::new(&manager.url))
                .map_err(AppError::Internal)?
                .map(Arc::new);
        }
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(pool_timeout)
            .test_on_check_out(true)
            .build_unchecked(manager);
        Ok(Db {
            pool,
            backend,
            sqlite_writer: Arc::new(Mutex::new(())),
            audit_key: None,
            counters: crate::metrics::PoolCounters::default(),
            _in_use: in_use,
        })
    }

    /// The same handle, its writes keying the audit chain with `key`.
    pub fn with_audit_key(mut self, key: crate::keys::AuditKey) -> Db {
        self.audit_key = Some(Arc::new(key));
        self
    }

    /// The audit chain's key.
    pub fn audit_key(&self) -> AppResult<Arc<crate::keys::AuditKey>> {
        self.audit_key
            .clone()
            .ok_or_else(|| AppError::Internal("this database handle has no audit key".into()))
    }

    /// The engine behind this pool.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool's counters.
    pub fn counters(&self) -> &crate::metrics::PoolCounters {
        &self.counters
    }

    /// How many connections are open and idle now.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// A connection, or 503 when none comes within the pool timeout.
    pub fn get(&self) -> AppResult<PooledDb> {
        let started = std::time::Instant::now();
        match self.pool.get() {
            Ok(conn) => {
                self.counters.wait.observe(started.elapsed().as_secs_f64());
                Ok(conn)
            }
            Err(error) => {
                self.counters.timeouts.inc();
                Err(error.into())
            }
        }
    }

    /// Applies every pending migration of this backend, one process at a time: on
    /// PostgreSQL under an advisory lock (instances starting together take turns, and the
    /// later ones find nothing pending), on SQLite in one immediate transaction. Refuses a
    /// database that holds migrations this binary does not know.
    pub fn migrate(&self) -> AppResult<usize> {
        let mut conn = self.get()?;
        let failed =
            |e: &dyn std::fmt::Display| AppError::Internal(format!("migration failed: {e}"));
        match &mut *conn {
            DbConnection::Sqlite(c) => c.immediate_transaction(|c| {
                refuse_unknown(&schema_of(c, SQLITE_MIGRATIONS)?).map_err(AppError::Internal)?;
                c.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|v| v.len())
                    .map_err(|e| failed(&e))
            }),
            DbConnection::Postgresql(c) => {
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                let applied = schema_of(c, POSTGRES_MIGRATIONS)
                    .and_then(|status| refuse_unknown(&status).map_err(AppError::Internal))
                    .and_then(|()| {
                        c.run_pending_migrations(POSTGRES_MIGRATIONS)
                            .map(|v| v.len())
                            .map_err(|e| failed(&e))
                    });
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
                applied
            }
        }
    }

    /// Where the database's schema stands against this binary's migrations.
    pub fn schema_status(&self) -> AppResult<SchemaStatus> {
        let mut conn = self.get()?;
        match &mut *conn {
            DbConnection::Sqlite(c) => schema_of(c, SQLITE_MIGRATIONS),
            DbConnection::Postgresql(c) => schema_of(c, POSTGRES_MIGRATIONS),
        }
    }

    /// Undoes the last applied migration of this backend and names it: the way back when
    /// an upgrade must be rolled back. The newest downs keep the record; older ones drop
    /// what their ups made (the README's operations section says which).
    pub fn revert_last_migration(&self) -> AppResult<String> {
        let mut conn = self.get()?;
        match &mut *conn {
            DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
            DbConnection::Postgresql(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
        }
        .map(|version| version.to_string())
        .map_err(|e| AppError::Internal(format!("reverting the last migration failed: {e}")))
    }

    /// Runs a read on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || {
            let mut conn = db.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// Runs a write in one transaction on a blocking thread: all of it or none of it.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        let seq = crate::audit::request_seq_slot();
        actix_web::web::block(move || {
            let (value, written) = db.write_noted(f)?;
            if let (Some(seq), Some(last)) = (seq, written.last_seq) {
                seq.store(last, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(value)
        })
        .await?
    }

    /// The synchronous form of [`Db::read`], for the command line.
    pub fn read_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T>,
    {
        let mut conn = self.get()?;
        f(&mut conn)
    }

    /// The synchronous form of [`Db::write`], for the command line.
    pub fn write_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T>,
    {
        self.write_noted(f).map(|(value, _)| value)
    }

    /// A write, and what it appended to the audit chain once it committed.
    fn write_noted<T, F>(&self, f: F) -> AppResult<(T, crate::audit::Written)>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T>,
    {
        let mut conn = self.get()?;
        let _guard = match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        let conn: &mut DbConnection = &mut conn;
        crate::audit::start_written();
        let result = crate::audit::with_writer_key(self.audit_key.as_ref(), || conn.transaction(f));
        let written = crate::audit::take_written();
        let value = result?;
        self.counters.committed(&written.actions);
        Ok((value, written))
    }

    /// True when a connection can be had and answers.
    pub async fn ping(&self) -> bool {
        self.read(|conn| Ok(conn.batch_execute("SELECT 1")?))
            .await
            .is_ok()
    }
}

/// The advisory lock `migrate` holds on PostgreSQL ("quanze-m").
const MIGRATION_LOCK: i64 = 0x7175_616e_7a65_2d6d;

/// Where a database's schema stands against this binary's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Applied migrations this binary knows.
    pub applied: Vec<String>,
    /// This binary's migrations not applied yet.
    pub pending: Vec<String>,
    /// Applied migrations this binary does not know: a newer quanze upgraded the database.
    pub unknown: Vec<String>,
}

fn schema_of<DB, C>(conn: &mut C, source: EmbeddedMigrations) -> AppResult<SchemaStatus>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    use diesel::migration::MigrationSource;
    let failed = |e: &dyn std::fmt::Display| {
        AppError::Internal(format!("cannot read the applied migrations: {e}"))
    };
    let known: Vec<String> = source
        .migrations()
        .map_err(|e| failed(&e))?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    let applied: Vec<String> = conn
        .applied_migrations()
        .map_err(|e| failed(&e))?
        .iter()
        .map(|v| v.to_string())
        .collect();
    let mut status = SchemaStatus {
        applied: known
            .iter()
            .filter(|k| applied.contains(k))
            .cloned()
            .collect(),
        pending: known
            .iter()
            .filter(|k| !applied.contains(k))
            .cloned()
            .collect(),
        unknown: applied.into_iter().filter(|a| !known.contains(a)).collect(),
    };
    status.pending.sort();
    status.unknown.sort();
    Ok(status)
}

/// Refuses a schema newer than this binary, saying what to do.
pub fn refuse_unknown(status: &SchemaStatus) -> Result<(), String> {
    if status.unknown.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the database's schema is newer than this quanze: it holds migration(s) {} that this \
         binary does not know, applied by a newer version. Run that newer quanze; or, to go \
         back to this one, first undo them with the newer binary's `quanze migrate --revert {}`",
        status.unknown.join(", "),
        status.unknown.len()
    ))
}

/// Rows per statement when a write or a lookup covers many: each row binds a dozen or so
/// parameters, and SQLite refuses a statement with more than 32,766.
pub const BATCH: usize = 500;

/// Runs `load` over `keys` a batch at a time and gathers what it returns.
pub fn load_batched<K, T>(
    keys: &[K],
    mut load: impl FnMut(&[K]) -> QueryResult<Vec<T>>,
) -> AppResult<Vec<T>> {
    let mut loaded = Vec::new();
    for chunk in keys.chunks(BATCH) {
        loaded.extend(load(chunk)?);
    }
    Ok(loaded)
}

/// The current time as stored: UTC, truncated to microseconds so that both backends
/// give back exactly what was written (the audit hash depends on it).
pub fn now() -> chrono::NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().naive_utc().trunc_subsecs(6)
}

/// Today's date where the lists are in force: China Standard Time (UTC+8), so that a
/// list effective from a date starts at midnight in Beijing, not in London.
pub fn today() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern containing `text`.
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Inserts many rows in one statement. Multi-row `INSERT` is not available through the
/// `MultiConnection` backend, so this dispatches to the concrete connection.
#[macro_export]
macro_rules! insert_batch {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
            $crate::db::DbConnection::Postgresql(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
        }
    };
}

/// Inserts one row and returns its generated id. `RETURNING` is not available through the
/// `MultiConnection` backend, so this dispatches to the concrete connection.
#[macro_export]
macro_rules! insert_returning_id {
    ($conn:expr, $table:expr, $row:expr, $id:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite(c) => diesel::insert_into($table)
                .values($row)
                .returning($id)
                .get_result::<i64>(c),
            $crate::db::DbConnection::Postgresql(c) => diesel::insert_into($table)
                .values($row)
                .returning($id)
                .get_result::<i64>(c),
        }
    };
}
