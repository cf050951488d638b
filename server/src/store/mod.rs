//! The monitor's history in one SQLite file: raw samples of every sampler tick, 1-minute and
//! 1-hour rollups, retention, and the reads behind the history charts and a restarted
//! evaluator. Only this module speaks SQL. Every value reaches SQLite as a bound parameter;
//! the only text spliced into SQL is table and column names, all compile-time constants. One
//! `write_tick` is one transaction holding its raw rows and the rollup upserts they cause, so a
//! reader never sees half a tick and a rollup never disagrees with the raw rows it was built from.
//!
//! The file runs in WAL mode with `synchronous=NORMAL` (a commit is durable against a process
//! crash; an OS crash may lose the last ticks, never corrupt the file), foreign keys on and a
//! busy timeout, so the writer (sampler, retention) and the readers (web) wait rather than fail.

mod alerts;
mod error;
mod history;
mod recent;
mod replication;
mod retention;
mod rollup;
mod sample;
mod tick;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_plan;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;

pub use alerts::{
    AlertChanges, AlertPhase, AlertRecord, AttemptOutcome, AttemptRecord, DeliveryLogEntry, NewNotification,
    NewSilence, OutboxEntry, OutboxState, PendingNotification, PrunedAlerts, SilenceMatcher, SilenceRecord,
};
pub use error::StoreError;
pub use history::{HistoryPoint, HistoryRange, ParseHistoryRangeError, PartitionPoint};
pub use replication::{LivenessSample, ReplicationSample};
pub use retention::Pruned;
pub use sample::{GroupPartitionSample, GroupStatusSample, PartitionSample, Tick};

/// Migrations from the workspace's top-level `migrations/`, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections to a file database: one writer at a time (SQLite's rule) plus readers, which WAL
/// lets run beside it.
const FILE_POOL_SIZE: u32 = 4;

/// The monitor store: a cheap-to-clone handle on a SQLite connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// The database file; `None` in memory.
    path: Option<Arc<PathBuf>>,
}

impl Store {
    /// Opens (creating if missing) the database at `path`, switches it to WAL and applies any
    /// pending migrations. The parent directory must exist.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_POOL_SIZE)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
        MIGRATOR.run(&pool).await.map_err(StoreError::Migrate)?;
        Ok(Store { pool, path: Some(Arc::new(path.to_owned())) })
    }

    /// A fresh, migrated in-memory database (for tests). The pool holds exactly one connection
    /// that never expires, because the database lives only as long as a connection to it.
    pub async fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let options = SqliteConnectOptions::new().in_memory(true).foreign_keys(true).busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { path, source })?;
        MIGRATOR.run(&pool).await.map_err(StoreError::Migrate)?;
        Ok(Store { pool, path: None })
    }

    /// Bytes the database occupies: `page_count * page_size` (free pages included, as they stay
    /// in the file) plus the current size of the `-wal` file, which a checkpoint folds back in.
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
            .fetch_one(&self.pool)
            .await
            .map_err(query_error_size)?;
        let main: i64 = row.try_get(0).map_err(query_error_size)?;
        let wal = match &self.path {
            Some(path) => wal_bytes(path).await?,
            None => 0,
        };
        Ok(u64::try_from(main).unwrap_or(0) + wal)
    }

    /// Closes every connection; the last one checkpoints the WAL into the main file. Later calls
    /// on any clone fail with a closed-pool error.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn query_error_size(source: sqlx::Error) -> StoreError {
    StoreError::Query { action: "reading the database size", source }
}

async fn wal_bytes(path: &Path) -> Result<u64, StoreError> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    match tokio::fs::metadata(&wal).await {
        Ok(metadata) => Ok(metadata.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(source) => Err(StoreError::Io { path: PathBuf::from(wal), source }),
    }
}

/// A status column back to its enum; a name the enum does not know is a decode error (the
/// schema's CHECK constraints admit only known ones).
pub(crate) fn decode_status<T>(name: String, parse: fn(&str) -> Option<T>) -> Result<T, sqlx::Error> {
    parse(&name).ok_or_else(|| sqlx::Error::Decode(format!("unknown status {name:?}").into()))
}
