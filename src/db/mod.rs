//! One diesel code path over SQLite (embedded default) and PostgreSQL.
//!
//! The backend is chosen from the URL's scheme, never by trying each backend in turn:
//! SQLite accepts any string as a file name, so a mistyped Postgres URL would silently
//! become a new empty database file.

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
}

/// A pooled connection.
pub type PooledDb = PooledConnection<ConnectionManager>;

impl Db {
    /// Builds the pool lazily: the service starts even when the database is down and
    /// connects when it returns.
    pub fn connect(url: &str, pool_size: u32, pool_timeout: Duration) -> AppResult<Db> {
        let manager = ConnectionManager::new(url);
        let backend = manager.backend;
        if backend == Backend::Sqlite {
            if let Some(dir) = std::path::Path::new(&manager.url).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        AppError::Internal(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            }
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
        })
    }

    /// The engine behind this pool.
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

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection, or 503 when none comes within the pool timeout.
    pub fn get(&self) -> AppResult<PooledDb> {
        Ok(self.pool.get()?)
    }

    /// Applies every pending migration of this backend.
    pub fn migrate(&self) -> AppResult<usize> {
        let mut conn = self.get()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            DbConnection::Postgresql(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len()),
        }
        .map_err(|e| AppError::Internal(format!("migration failed: {e}")))?;
        Ok(applied)
    }

    /// Undoes the last applied migration of this backend and names it: the way back when
    /// an upgrade must be rolled back. Each migration's `down.sql` keeps the data.
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
        actix_web::web::block(move || db.write_blocking(f)).await?
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
        let mut conn = self.get()?;
        let _guard = match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        let conn: &mut DbConnection = &mut conn;
        crate::audit::with_writer_key(self.audit_key.as_ref(), || conn.transaction(f))
    }

    /// True when a connection can be had and answers.
    pub async fn ping(&self) -> bool {
        self.read(|conn| Ok(conn.batch_execute("SELECT 1")?))
            .await
            .is_ok()
    }
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
