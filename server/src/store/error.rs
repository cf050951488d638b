//! `StoreError`: everything the store can fail with, each variant saying what the store was
//! doing. The underlying sqlx or I/O error is kept as the `source()`, not repeated in the message,
//! so an `anyhow` chain (`{:#}`) prints each cause once.

use std::path::PathBuf;

/// An error from the monitor store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created, or its pragmas could not be set.
    #[error("cannot open the SQLite database at {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    /// The embedded migrations (`migrations/NNNN_*.sql`) could not be applied.
    #[error("cannot apply the store migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A statement failed; `action` names what the store was doing.
    #[error("store failed while {action}")]
    Query {
        action: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The size of the write-ahead log file could not be read.
    #[error("cannot read the size of {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Wraps a sqlx error with what the store was doing: `.map_err(query_error("writing a tick"))`.
pub(super) fn query_error(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { action, source }
}
