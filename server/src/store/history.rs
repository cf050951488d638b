//! Charts: a group's lag and status, or a partition's offsets, over 1h, 24h, 7d or 30d, each
//! range read from the coarsest table that still gives enough points (groups: 1h from the raw
//! 10 s statuses, 24h from 1-minute rollups, 7d and 30d from 1-hour rollups; partitions: 1h and
//! 24h from 1-minute rollups, a point a minute being plenty for offsets and rates). A rollup point
//! is its window: `ts_ms` is the window start, values are the window's `*_last` (the newest
//! sample in it, so lines join up across resolutions) and `status` is its worst status (so a
//! short ERR is never hidden). Points come ascending by time. The tables are keyed by time first
//! (for cheap ticks), so one series is read by point seeks: on every aligned window start in
//! the range, or on every distinct raw sample time.

use crate::evaluator::GroupState;
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
    pub status: GroupState,
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

/// Raw statuses of one group (?2) with `ts_ms` in `[?3, ?4]`. The table is keyed by time first,
/// so this walks the cluster's distinct sample times in the range, one seek each, and seeks the
/// group's row at each: about 360 x 2 seeks for an hour of 10 s ticks, whatever the group count,
/// provided a tick stamps all its statuses with one time (else it visits every status in range).
pub(super) const GROUP_RAW_SQL: &str = "WITH RECURSIVE ticks(ts) AS ( \
         SELECT min(ts_ms) FROM group_statuses WHERE cluster = ?1 AND ts_ms >= ?3 AND ts_ms <= ?4 \
         UNION ALL \
         SELECT (SELECT min(ts_ms) FROM group_statuses WHERE cluster = ?1 AND ts_ms > ticks.ts AND ts_ms <= ?4) \
         FROM ticks WHERE ticks.ts IS NOT NULL \
     ) \
     SELECT s.ts_ms, s.total_lag, s.max_lag_seconds, s.status \
     FROM ticks CROSS JOIN group_statuses s \
     WHERE s.cluster = ?1 AND s.ts_ms = ticks.ts AND s.group_id = ?2";

/// The aligned window starts from ?first to ?last, step ?width: the keys a series' rollup rows
/// can have, so each is one point seek on the time-first primary key.
fn windows_cte(first: u8, last: u8, width: u8) -> String {
    format!(
        "WITH RECURSIVE windows(ws) AS ( \
             SELECT ?{first} UNION ALL SELECT ws + ?{width} FROM windows WHERE ws + ?{width} <= ?{last} \
         ) "
    )
}

/// Windows of one group (?2) starting in `[?3, ?4]`, ?5 the window width. `CROSS JOIN` keeps the
/// window walk as the outer loop.
pub(super) fn group_rollup_sql(rollup: &Rollup) -> String {
    format!(
        "{}SELECT r.window_start_ms, r.total_lag_last, r.max_lag_seconds_last, r.worst_status \
         FROM windows CROSS JOIN {} r \
         WHERE r.cluster = ?1 AND r.window_start_ms = windows.ws AND r.group_id = ?2",
        windows_cte(3, 4, 5),
        rollup.group_table
    )
}

/// Windows of one partition (?2, ?3) starting in `[?4, ?5]`, ?6 the window width.
pub(super) fn partition_rollup_sql(rollup: &Rollup) -> String {
    format!(
        "{}SELECT r.window_start_ms, r.high_watermark_last, r.log_start_offset_last \
         FROM windows CROSS JOIN {} r \
         WHERE r.cluster = ?1 AND r.window_start_ms = windows.ws AND r.topic = ?2 AND r.partition = ?3",
        windows_cte(4, 5, 6),
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
        let rows = match range.group_resolution() {
            Resolution::Raw => {
                sqlx::query(GROUP_RAW_SQL)
                    .bind(cluster)
                    .bind(group)
                    .bind(since_ms)
                    .bind(now_ms)
                    .fetch_all(&self.pool)
                    .await
            }
            Resolution::Rollup(rollup) => {
                let sql = group_rollup_sql(&rollup);
                let query = sqlx::query(&sql).bind(cluster).bind(group);
                query.bind(rollup.window_start(since_ms)).bind(now_ms).bind(rollup.width_ms).fetch_all(&self.pool).await
            }
        }
        .map_err(query_error("reading a group's history"))?;
        let mut points = rows
            .iter()
            .map(|row| {
                Ok(HistoryPoint {
                    ts_ms: row.try_get(0)?,
                    total_lag: row.try_get(1)?,
                    max_lag_seconds: row.try_get(2)?,
                    status: super::decode_status(row.try_get(3)?, GroupState::parse)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(query_error("decoding a group's history"))?;
        // Already ascending (the walks go forward); sorting an ordered Vec is one cheap pass.
        points.sort_by_key(|p| p.ts_ms);
        Ok(points)
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
            .bind(rollup.width_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading a partition's history"))?;
        let mut points = rows
            .iter()
            .map(|row| {
                Ok(PartitionPoint {
                    ts_ms: row.try_get(0)?,
                    high_watermark: row.try_get(1)?,
                    log_start_offset: row.try_get(2)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(query_error("decoding a partition's history"))?;
        points.sort_by_key(|p| p.ts_ms);
        Ok(points)
    }
}
