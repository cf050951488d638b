//! Fixed tumbling windows (1 minute kept 7 days, 1 hour kept 90 days) and the upserts that fold
//! samples into them. Invariants: a window row is keyed by its start, so an open window is
//! updated in place, never duplicated; `*_last` (and `high_watermark_first`) follow the sample
//! with the greatest (least) timestamp in the window, whatever order samples arrive in; a sample
//! more than `GRACE_WINDOWS` windows older than the tick's own window reaches the raw tables only.

use crate::evaluator::GroupState;
use std::time::Duration;

/// How many windows before the tick's current window still accept late samples.
pub(super) const GRACE_WINDOWS: i64 = 2;

/// One rollup resolution: its window width, its two tables and how long its rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rollup {
    pub width_ms: i64,
    pub group_table: &'static str,
    pub partition_table: &'static str,
    pub keep: Duration,
}

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

pub(super) const MINUTE: Rollup = Rollup {
    width_ms: 60_000,
    group_table: "group_rollups_1m",
    partition_table: "partition_rollups_1m",
    keep: Duration::from_millis(7 * DAY_MS),
};

pub(super) const HOUR: Rollup = Rollup {
    width_ms: 3_600_000,
    group_table: "group_rollups_1h",
    partition_table: "partition_rollups_1h",
    keep: Duration::from_millis(90 * DAY_MS),
};

pub(super) const ROLLUPS: [Rollup; 2] = [MINUTE, HOUR];

impl Rollup {
    /// Start of the window holding `ts_ms` (floor, also for timestamps before 1970).
    pub fn window_start(&self, ts_ms: i64) -> i64 {
        ts_ms - ts_ms.rem_euclid(self.width_ms)
    }

    /// The window a sample taken at `sample_ts_ms` lands in, or `None` when that window closed
    /// more than the grace period before the tick's window (`tick_ts_ms`). Samples from the
    /// future (clock skew) land in their own window.
    pub fn accepts(&self, tick_ts_ms: i64, sample_ts_ms: i64) -> Option<i64> {
        let window = self.window_start(sample_ts_ms);
        let oldest_open = self.window_start(tick_ts_ms) - GRACE_WINDOWS * self.width_ms;
        (window >= oldest_open).then_some(window)
    }
}

/// Columns of the group rollup tables, in bind order.
pub(super) const GROUP_COLUMNS: &[&str] = &[
    "cluster",
    "group_id",
    "window_start_ms",
    "samples",
    "total_lag_max",
    "total_lag_last",
    "max_lag_seconds_max",
    "max_lag_seconds_last",
    "worst_status",
    "last_ts_ms",
];

/// Merges one inserted sample (`excluded`) into an existing group window. In an UPDATE every
/// right-hand side sees the old row, so `last_ts_ms` is compared before it is advanced. SQLite's
/// two-argument `max` is NULL if either side is, hence the `coalesce`. The worst status is
/// ranked as `GroupState` is ordered (the SQL `CASE` is built from `GroupState::ALL`).
pub(super) static GROUP_MERGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let rank = |column: &str| {
        let arms: String = GroupState::ALL
            .iter()
            .enumerate()
            .map(|(rank, status)| format!(" WHEN '{}' THEN {rank}", status.as_str()))
            .collect();
        format!("(CASE {column}{arms} ELSE 0 END)")
    };
    format!(
        "ON CONFLICT (cluster, window_start_ms, group_id) DO UPDATE SET
    samples = samples + excluded.samples,
    total_lag_max = max(total_lag_max, excluded.total_lag_max),
    max_lag_seconds_max = coalesce(max(max_lag_seconds_max, excluded.max_lag_seconds_max),
                                   max_lag_seconds_max, excluded.max_lag_seconds_max),
    total_lag_last = CASE WHEN excluded.last_ts_ms >= last_ts_ms
                          THEN excluded.total_lag_last ELSE total_lag_last END,
    max_lag_seconds_last = CASE WHEN excluded.last_ts_ms >= last_ts_ms
                                THEN excluded.max_lag_seconds_last ELSE max_lag_seconds_last END,
    worst_status = CASE WHEN {} > {} THEN excluded.worst_status ELSE worst_status END,
    last_ts_ms = max(last_ts_ms, excluded.last_ts_ms)",
        rank("excluded.worst_status"),
        rank("worst_status")
    )
});

/// Columns of the partition rollup tables, in bind order.
pub(super) const PARTITION_COLUMNS: &[&str] = &[
    "cluster",
    "topic",
    "partition",
    "window_start_ms",
    "samples",
    "high_watermark_first",
    "high_watermark_last",
    "log_start_offset_last",
    "first_ts_ms",
    "last_ts_ms",
];

/// Merges one inserted sample into an existing partition window (see [`GROUP_MERGE`]).
pub(super) const PARTITION_MERGE: &str = "ON CONFLICT (cluster, window_start_ms, topic, partition) DO UPDATE SET
    samples = samples + excluded.samples,
    high_watermark_first = CASE WHEN excluded.first_ts_ms < first_ts_ms
                                THEN excluded.high_watermark_first ELSE high_watermark_first END,
    first_ts_ms = min(first_ts_ms, excluded.first_ts_ms),
    high_watermark_last = CASE WHEN excluded.last_ts_ms >= last_ts_ms
                               THEN excluded.high_watermark_last ELSE high_watermark_last END,
    log_start_offset_last = CASE WHEN excluded.last_ts_ms >= last_ts_ms
                                 THEN excluded.log_start_offset_last ELSE log_start_offset_last END,
    last_ts_ms = max(last_ts_ms, excluded.last_ts_ms)";
