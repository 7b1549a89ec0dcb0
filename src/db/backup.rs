//! Backups of an SQLite database that restore: a consistent copy made while the service
//! keeps serving and writing (`VACUUM INTO` reads one snapshot and never blocks the
//! writers), checked before it is named; and a restore that refuses a database in use and
//! keeps the one it replaces. PostgreSQL has its own tools (`pg_dump`, `pg_restore`).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::Serialize;

/// What a backup or a restored database holds, read from the copy itself.
#[derive(Debug, Clone, Serialize)]
pub struct CopySummary {
    /// The file.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The newest migration applied.
    pub schema_version: String,
    /// Events in the audit chain.
    pub audit_events: i64,
    /// List versions, of every status.
    pub list_versions: i64,
}

/// The lock file beside an SQLite database: held shared by every handle on the database,
/// exclusively by a restore.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the database's lock file shared for as long as the file is kept open; an error
/// while a restore holds it. `None` where the lock file cannot be made (a read-only
/// directory): the database is then used unguarded.
pub fn hold_in_use(database: &Path) -> Result<Option<File>, String> {
    let Ok(file) = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(database))
    else {
        return Ok(None);
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "{} is being restored; start again when the restore has finished",
            database.display()
        )),
        Err(std::fs::TryLockError::Error(_)) => Ok(None),
    }
}

/// Copies the live database at `database` into `target`, which must not exist yet.
/// The copy is written beside the target, checked (integrity, schema, audit chain present)
/// and only then renamed to it: a crash never leaves a half-written file under the name.
pub fn backup(database: &Path, target: &Path) -> Result<CopySummary, String> {
    if target.exists() {
        return Err(format!(
            "{} exists; a backup never overwrites a file",
            target.display()
        ));
    }
    if !database.exists() {
        return Err(format!("there is no database at {}", database.display()));
    }
    let partial = with_suffix(target, ".partial");
    let _ = std::fs::remove_file(&partial);
    let mut conn = open(database)?;
    conn.batch_execute("PRAGMA busy_timeout = 5000")
        .map_err(|e| e.to_string())?;
    conn.batch_execute(&format!("VACUUM INTO {}", sql_text(&partial)?))
        .map_err(|e| format!("cannot copy {}: {e}", database.display()))?;
    drop(conn);
    let summary = match summarise(&partial) {
        Ok(summary) => summary,
        Err(problem) => {
            let _ = std::fs::remove_file(&partial);
            return Err(format!("the copy does not check: {problem}"));
        }
    };
    File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot flush {}: {e}", partial.display()))?;
    std::fs::rename(&partial, target)
        .map_err(|e| format!("cannot name the copy {}: {e}", target.display()))?;
    sync_directory(target);
    Ok(CopySummary {
        file: target.display().to_string(),
        ..summary
    })
}

/// What [`restore`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// The restored database.
    pub database: CopySummary,
    /// Where the database it replaced was kept, if there was one.
    pub replaced_kept_at: Option<String>,
}

/// Puts the backup `source` in place of the database at `database`. Refuses while any
/// process holds the database (a running service, a command); the database it replaces
/// is checkpointed and kept beside it, never deleted.
pub fn restore(source: &Path, database: &Path) -> Result<Restored, String> {
    summarise(source).map_err(|problem| {
        format!(
            "{} is not a quanze backup that checks: {problem}",
            source.display()
        )
    })?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(database))
        .map_err(|e| format!("cannot open {}: {e}", lock_path(database).display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(format!(
            "{} is in use (a running quanze, or another command holds it): stop it, then restore",
            database.display()
        ))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(format!("cannot lock {}: {e}", database.display()))
        }
    }
    let staged = with_suffix(database, ".restoring");
    let _ = std::fs::remove_file(&staged);
    std::fs::copy(source, &staged)
        .and_then(|_| File::open(&staged)?.sync_all())
        .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
    let replaced_kept_at = if database.exists() {
        Some(keep_aside(database)?)
    } else {
        None
    };
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(database, suffix));
    }
    std::fs::rename(&staged, database)
        .map_err(|e| format!("cannot put the backup in place: {e}"))?;
    sync_directory(database);
    let summary = summarise(database)?;
    drop(lock);
    Ok(Restored {
        database: summary,
        replaced_kept_at: replaced_kept_at.map(|p| p.display().to_string()),
    })
}

/// Moves the database aside with everything its write-ahead log holds folded in.
fn keep_aside(database: &Path) -> Result<PathBuf, String> {
    let mut conn = open(database)?;
    conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")
        .map_err(|e| format!("cannot checkpoint {}: {e}", database.display()))?;
    drop(conn);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let aside = with_suffix(database, &format!(".replaced-{stamp}"));
    std::fs::rename(database, &aside)
        .map_err(|e| format!("cannot keep the replaced database: {e}"))?;
    Ok(aside)
}

/// Checks a copy and says what it holds.
fn summarise(file: &Path) -> Result<CopySummary, String> {
    if !file.is_file() {
        return Err(format!("there is no file {}", file.display()));
    }
    let mut conn = open(file)?;
    #[derive(QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        value: i64,
    }
    let integrity: Vec<Text> =
        diesel::sql_query("SELECT integrity_check AS value FROM pragma_integrity_check")
            .load(&mut conn)
            .map_err(|e| format!("not an SQLite database: {e}"))?;
    if integrity.len() != 1 || integrity[0].value != "ok" {
        let said: Vec<String> = integrity.into_iter().take(5).map(|t| t.value).collect();
        return Err(format!("the integrity check failed: {}", said.join("; ")));
    }
    let version: Text =
        diesel::sql_query("SELECT max(version) AS value FROM __diesel_schema_migrations")
            .get_result(&mut conn)
            .map_err(|_| "it holds no quanze schema".to_string())?;
    let count = |conn: &mut SqliteConnection, sql: &str| -> Result<i64, String> {
        diesel::sql_query(sql)
            .get_result::<Number>(conn)
            .map(|n| n.value)
            .map_err(|e| format!("cannot read it: {e}"))
    };
    Ok(CopySummary {
        file: file.display().to_string(),
        bytes: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
        schema_version: version.value,
        audit_events: count(
            &mut conn,
            "SELECT seq AS value FROM audit_head WHERE id = 1",
        )?,
        list_versions: count(&mut conn, "SELECT count(*) AS value FROM list_versions")?,
    })
}

fn open(file: &Path) -> Result<SqliteConnection, String> {
    let path = file
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 path", file.display()))?;
    SqliteConnection::establish(path).map_err(|e| format!("cannot open {path}: {e}"))
}

/// A path as an SQL string literal.
fn sql_text(path: &Path) -> Result<String, String> {
    let text = path
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 path", path.display()))?;
    Ok(format!("'{}'", text.replace('\'', "''")))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes a rename durable: the directory's entry is flushed too.
fn sync_directory(file: &Path) {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
}
