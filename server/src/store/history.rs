//! Charts: a group's lag and status, or a partition's offsets, over 1h, 24h, 7d or 30d, each
//! range read from the coarsest table that still gives enough points (groups: 1h from the raw
//! 10 s statuses, 24h from 1-minute rollups, 7d and 30d from 1-hour rollups; partitions: 1h and
//! 24h from 1-minute rollups, since raw partition samples are stored time-first). A rollup point
//! is its window: `ts_ms` is the window start, values are the window's `*_last` (the newest
//! sample in it, so lines join up across resolutions) and `status` is its worst status (so a
//! short ERR is never hidden). Points come ascending by time, served by the primary keys.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use super::error::query_error;
use super::rollup::{Rollup, HOUR, MINUTE};
use super::{Store, StoreError};

/// A history range, as the API's `?range=` spells it: `1h`, `24h`, `7d` or `30d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryRange {
    Hour,
    Day,
    Week,
    Month,
}

/// A `?range=` value that is none of `1h`, `24h`, `7d`, `30d`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown history range \"{value}\": expected one of 1h, 24h, 7d, 30d")]
pub struct ParseHistoryRangeError {
    pub value: String,
}

/// One point of a group's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPoint {
    /// Sample time, or window start for rollups. Serialized as `ts`, as the JSON API names it.
    #[serde(rename = "ts")]
    pub ts_ms: i64,
    pub total_lag: i64,
    pub max_lag_seconds: Option<f64>,
    pub status: String,
}

/// One point of a partition's history (window start, and the newest offsets in the window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionPoint {
    pub ts_ms: i64,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

/// Where a range's points come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resolution {
    Raw,
    Rollup(Rollup),
}

impl HistoryRange {
    pub const ALL: [HistoryRange; 4] = [HistoryRange::Hour, HistoryRange::Day, HistoryRange::Week, HistoryRange::Month];

    /// The spelling `FromStr` accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryRange::Hour => "1h",
            HistoryRange::Day => "24h",
            HistoryRange::Week => "7d",
            HistoryRange::Month => "30d",
        }
    }

    pub fn duration(self) -> Duration {
        let hours = match self {
            HistoryRange::Hour => 1,
            HistoryRange::Day => 24,
            HistoryRange::Week => 7 * 24,
            HistoryRange::Month => 30 * 24,
        };
        Duration::from_secs(hours * 3600)
    }

    fn span_ms(self) -> i64 {
        i64::try_from(self.duration().as_millis()).unwrap_or(i64::MAX)
    }

    pub(super) fn group_resolution(self) -> Resolution {
        match self {
            HistoryRange::Hour => Resolution::Raw,
            HistoryRange::Day => Resolution::Rollup(MINUTE),
            HistoryRange::Week | HistoryRange::Month => Resolution::Rollup(HOUR),
        }
    }

    pub(super) fn partition_rollup(self) -> Rollup {
        match self {
            HistoryRange::Hour | HistoryRange::Day => MINUTE,
            HistoryRange::Week | HistoryRange::Month => HOUR,
        }
    }
}

impl FromStr for HistoryRange {
    type Err = ParseHistoryRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HistoryRange::ALL
            .into_iter()
            .find(|range| range.as_str() == s)
            .ok_or_else(|| ParseHistoryRangeError { value: s.to_owned() })
    }
}

impl fmt::Display for HistoryRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Raw statuses of one group in `[?3, ?4]`.
pub(super) const GROUP_RAW_SQL: &str = "SELECT ts_ms, total_lag, max_lag_seconds, status FROM group_statuses \
     WHERE cluster = ?1 AND group_id = ?2 AND ts_ms >= ?3 AND ts_ms <= ?4 ORDER BY ts_ms";

/// Windows of one group starting in `[?3, ?4]`.
pub(super) fn group_rollup_sql(rollup: &Rollup) -> String {
    format!(
        "SELECT window_start_ms, total_lag_last, max_lag_seconds_last, worst_status FROM {} \
         WHERE cluster = ?1 AND group_id = ?2 AND window_start_ms >= ?3 AND window_start_ms <= ?4 \
         ORDER BY window_start_ms",
        rollup.group_table
    )
}

/// Windows of one partition starting in `[?4, ?5]`.
pub(super) fn partition_rollup_sql(rollup: &Rollup) -> String {
    format!(
        "SELECT window_start_ms, high_watermark_last, log_start_offset_last FROM {} \
         WHERE cluster = ?1 AND topic = ?2 AND partition = ?3 AND window_start_ms >= ?4 AND window_start_ms <= ?5 \
         ORDER BY window_start_ms",
        rollup.partition_table
    )
}

impl Store {
    /// A group's points over `range` ending at `now_ms`: raw samples with `ts_ms` in
    /// `[now - range, now]`, or rollup windows from the one holding `now - range` up to `now`.
    pub async fn group_history(
        &self,
        cluster: &str,
        group: &str,
        range: HistoryRange,
        now_ms: i64,
    ) -> Result<Vec<HistoryPoint>, StoreError> {
        let since_ms = now_ms.saturating_sub(range.span_ms());
        let (sql, since_ms) = match range.group_resolution() {
            Resolution::Raw => (GROUP_RAW_SQL.to_owned(), since_ms),
            Resolution::Rollup(rollup) => (group_rollup_sql(&rollup), rollup.window_start(since_ms)),
        };
        let rows = sqlx::query(&sql)
            .bind(cluster)
            .bind(group)
            .bind(since_ms)
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading a group's history"))?;
        rows.iter()
            .map(|row| {
                Ok(HistoryPoint {
                    ts_ms: row.try_get(0)?,
                    total_lag: row.try_get(1)?,
                    max_lag_seconds: row.try_get(2)?,
                    status: row.try_get(3)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error("decoding a group's history"))
    }

    /// A partition's points over `range` ending at `now_ms`: rollup windows from the one holding
    /// `now - range` up to `now`.
    pub async fn partition_history(
        &self,
        cluster: &str,
        topic: &str,
        partition: i32,
        range: HistoryRange,
        now_ms: i64,
    ) -> Result<Vec<PartitionPoint>, StoreError> {
        let rollup = range.partition_rollup();
        let since_ms = rollup.window_start(now_ms.saturating_sub(range.span_ms()));
        let rows = sqlx::query(&partition_rollup_sql(&rollup))
            .bind(cluster)
            .bind(topic)
            .bind(partition)
            .bind(since_ms)
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading a partition's history"))?;
        rows.iter()
            .map(|row| {
                Ok(PartitionPoint {
                    ts_ms: row.try_get(0)?,
                    high_watermark: row.try_get(1)?,
                    log_start_offset: row.try_get(2)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error("decoding a partition's history"))
    }
}
