//! Burrow's partition rules (burrow.md §2): one partition's commit ring and broker ring in, a
//! status (OK, WARN, STOP, STALL, REWIND) with `complete`, `start`, `end` and `current_lag` out.
//!
//! The predicates are Burrow's, kept literal because users compare our verdicts with Burrow's:
//! STOPPED compares `floor(now_s) * 1000` with commit timestamps, equal lags count as "not
//! decreasing", and a single entry is "all equal". The two rule sets differ only in where
//! REWIND is checked and in `allowed_lag`; see `RuleSet`. `minimum-complete` is fixed at its
//! default 0, so the rules run from the first entry on.

use std::fmt;

use serde::Serialize;

use super::window::{BrokerWindow, CommitEntry, CommitWindow};
use super::{EvalConfig, RuleSet};

/// A partition's status. Ordered as Burrow's enum; serializes as Burrow's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PartitionState {
    Ok,
    Warn,
    Stop,
    Stall,
    Rewind,
}

impl PartitionState {
    pub const ALL: [PartitionState; 5] =
        [PartitionState::Ok, PartitionState::Warn, PartitionState::Stop, PartitionState::Stall, PartitionState::Rewind];

    /// Burrow's name back to the status (`None` for anything else).
    pub fn parse(name: &str) -> Option<PartitionState> {
        PartitionState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PartitionState::Ok => "OK",
            PartitionState::Warn => "WARN",
            PartitionState::Stop => "STOP",
            PartitionState::Stall => "STALL",
            PartitionState::Rewind => "REWIND",
        }
    }
}

impl fmt::Display for PartitionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a group knows of one partition it consumes: Burrow's `consumerPartition`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerPartition {
    pub commits: CommitWindow,
    /// The owning member's host (Burrow's `owner`); empty when unassigned or unknown.
    pub owner: String,
    pub client_id: String,
}

/// One partition's verdict: Burrow's `PartitionStatus`, field for field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionStatus {
    pub topic: String,
    pub partition: i32,
    pub owner: String,
    pub client_id: String,
    pub status: PartitionState,
    /// Oldest entry of the ring, `None` when it is empty.
    pub start: Option<CommitEntry>,
    /// Newest entry of the ring, `None` when it is empty.
    pub end: Option<CommitEntry>,
    /// `max(0, newest broker sample - end.offset)`; 0 without commits or samples.
    pub current_lag: i64,
    /// Entries / intervals.
    pub complete: f64,
}

/// Evaluates one partition at `now_ms`. Only the newest `intervals` commits and broker samples
/// count, so windows built under a larger `intervals` evaluate as if trimmed.
pub fn evaluate_partition(
    topic: &str,
    partition: i32,
    consumer: &ConsumerPartition,
    broker: &BrokerWindow,
    now_ms: i64,
    config: &EvalConfig,
) -> PartitionStatus {
    let capacity = config.capacity();
    let skip = consumer.commits.len().saturating_sub(capacity);
    let entries: Vec<CommitEntry> = consumer.commits.entries().skip(skip).copied().collect();
    let samples: Vec<i64> = broker.samples().rev().take(capacity).map(|s| s.offset).collect();
    let current_lag = match (samples.first(), entries.last()) {
        (Some(newest_sample), Some(end)) => newest_sample.saturating_sub(end.offset).max(0),
        _ => 0,
    };
    let status =
        if entries.is_empty() { PartitionState::Ok } else { verdict(&entries, &samples, current_lag, now_ms, config) };
    PartitionStatus {
        topic: topic.to_string(),
        partition,
        owner: consumer.owner.clone(),
        client_id: consumer.client_id.clone(),
        status,
        start: entries.first().copied(),
        end: entries.last().copied(),
        current_lag,
        complete: entries.len() as f64 / capacity as f64,
    }
}

/// burrow.md §2's decision lists; `entries` is non-empty.
fn verdict(
    entries: &[CommitEntry],
    samples: &[i64],
    current_lag: i64,
    now_ms: i64,
    config: &EvalConfig,
) -> PartitionState {
    let allowed = config.tolerated_lag();
    if current_lag <= allowed {
        return PartitionState::Ok;
    }
    if stopped(entries, now_ms) && !recent_zero(entries, samples) {
        return PartitionState::Stop;
    }
    let rewind = first_rewind(entries);
    let unrecovered = rewind.is_some_and(|r| entries[r..].iter().all(|e| e.offset < entries[r - 1].offset));
    if config.rules == RuleSet::Burrow137 && unrecovered {
        return PartitionState::Rewind;
    }
    if entries.iter().any(|e| e.lag.is_some_and(|lag| lag <= allowed)) {
        return PartitionState::Ok;
    }
    if config.rules == RuleSet::Burrow121 && rewind.is_some() {
        return PartitionState::Rewind;
    }
    if entries.windows(2).all(|pair| pair[0].offset == pair[1].offset) {
        PartitionState::Stall
    } else if lag_not_decreasing(entries) {
        PartitionState::Warn
    } else {
        PartitionState::Ok
    }
}

/// STOPPED: Burrow's clock, truncated to whole seconds, is further past the newest commit than
/// the ring spans.
fn stopped(entries: &[CommitEntry], now_ms: i64) -> bool {
    let (Some(start), Some(end)) = (entries.first(), entries.last()) else { return false };
    let now_floor_ms = now_ms.div_euclid(1000).saturating_mul(1000);
    now_floor_ms.saturating_sub(end.timestamp_ms) > end.timestamp_ms.saturating_sub(start.timestamp_ms)
}

/// RECENT_ZERO: some stored broker sample is at or below the newest committed offset.
fn recent_zero(entries: &[CommitEntry], samples: &[i64]) -> bool {
    entries.last().is_some_and(|end| samples.iter().any(|&sample| sample <= end.offset))
}

/// Index of the first entry whose offset is below its predecessor's.
fn first_rewind(entries: &[CommitEntry]) -> Option<usize> {
    (1..entries.len()).find(|&i| entries[i].offset < entries[i - 1].offset)
}

/// LAG_NOT_DECREASING over the known lags: each is compared with the previous known one.
fn lag_not_decreasing(entries: &[CommitEntry]) -> bool {
    let lags: Vec<i64> = entries.iter().filter_map(|e| e.lag).collect();
    lags.windows(2).all(|pair| pair[1] >= pair[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::window::BrokerSample;

    const NOW_MS: i64 = 1_700_000_000_000;

    /// Commits `(offset, lag)` 60 s apart, the last 5 s before `NOW_MS`.
    fn spaced(commits: &[(i64, Option<i64>)]) -> Vec<(i64, i64, Option<i64>)> {
        let n = commits.len() as i64;
        commits
            .iter()
            .zip(0..)
            .map(|(&(offset, lag), i)| (offset, NOW_MS - 5_000 - (n - 1 - i) * 60_000, lag))
            .collect()
    }

    /// Evaluates commits `(offset, timestamp_ms, lag)` against broker samples (oldest first) under
    /// both rule sets and compares "<1.2.1 status> <1.3.7 status>".
    fn check(allowed_lag: i64, samples: &[i64], commits: &[(i64, i64, Option<i64>)], now_ms: i64, expect: &str) {
        let status = |rules| {
            let config = EvalConfig { allowed_lag, rules, ..EvalConfig::default() };
            let broker = BrokerWindow::from_samples(
                samples.iter().map(|&offset| BrokerSample { offset, timestamp_ms: 0 }),
                config.intervals,
            );
            let entries = commits.iter().map(|&(offset, timestamp_ms, lag)| CommitEntry { offset, timestamp_ms, lag });
            let consumer = ConsumerPartition {
                commits: CommitWindow::from_entries(entries, config.intervals),
                ..ConsumerPartition::default()
            };
            evaluate_partition("t", 0, &consumer, &broker, now_ms, &config).status
        };
        assert_eq!(format!("{} {}", status(RuleSet::Burrow121), status(RuleSet::Burrow137)), expect);
    }

    #[test]
    fn rules() {
        let stall = spaced(&[(500, Some(500)); 10]);
        let up =
            |lags: &[Option<i64>]| -> Vec<(i64, Option<i64>)> { (100..).step_by(100).zip(lags.to_vec()).collect() };
        // No lag: OK whatever the ring looks like.
        check(0, &[500], &stall, NOW_MS, "OK OK");
        check(0, &[1000], &stall, NOW_MS, "STALL STALL");
        // STOPPED truncates now to whole seconds: 400 ms past a lone commit is not yet stopped.
        let lone = |ts| vec![(400, ts, Some(600))];
        check(0, &[1000], &lone(NOW_MS + 500), NOW_MS + 900, "STALL STALL");
        check(0, &[1000], &lone(NOW_MS + 500), NOW_MS + 1000, "STOP STOP");
        check(0, &[1000], &lone(NOW_MS), NOW_MS, "STALL STALL");
        // RECENT_ZERO: an older broker sample at or below the newest commit defers STOP.
        check(0, &[300, 1000], &lone(NOW_MS - 5000), NOW_MS, "STALL STALL");
        check(0, &[400, 1000], &lone(NOW_MS - 5000), NOW_MS, "STALL STALL");
        check(0, &[401, 1000], &lone(NOW_MS - 5000), NOW_MS, "STOP STOP");
        // STOP is checked before REWIND.
        let old_rewind: Vec<_> =
            [(500, 0), (150, 60_000)].map(|(o, ts)| (o, NOW_MS - 3_600_000 + ts, Some(1000 - o))).into();
        check(0, &[1000], &old_rewind, NOW_MS, "STOP STOP");
        // A rewind recovered exactly to the earlier offset counts as recovered under 1.3.7.
        check(0, &[1000], &spaced(&[(300, Some(700)), (250, Some(750)), (300, Some(700))]), NOW_MS, "REWIND OK");
        check(0, &[1000], &spaced(&[(300, Some(700)), (250, Some(750)), (299, Some(701))]), NOW_MS, "REWIND REWIND");
        // Equal lags count as not decreasing; one drop anywhere clears WARN.
        check(0, &[1000], &spaced(&up(&[Some(500), Some(500), Some(600)])), NOW_MS, "WARN WARN");
        check(0, &[1000], &spaced(&up(&[Some(500), Some(600), Some(599), Some(700)])), NOW_MS, "OK OK");
        // Unknown lags are skipped: each known lag is compared with the previous known one.
        check(0, &[1000], &spaced(&up(&[Some(500), None, Some(400)])), NOW_MS, "OK OK");
        check(0, &[1000], &spaced(&up(&[Some(300), None, Some(400), None])), NOW_MS, "WARN WARN");
        // A null lag does not mask; a zero lag masks WARN, STALL and (1.2.1) REWIND.
        check(0, &[1000], &spaced(&[(500, None), (500, Some(500))]), NOW_MS, "STALL STALL");
        check(0, &[1000], &spaced(&up(&[Some(0), Some(500), Some(600)])), NOW_MS, "OK OK");
        // allowed_lag (1.3.7+ only): current lag at or below it is OK ...
        check(500, &[1000], &stall, NOW_MS, "STALL OK");
        check(499, &[1000], &stall, NOW_MS, "STALL STALL");
        // ... and any entry at or below it masks WARN and STALL.
        check(100, &[1000], &spaced(&up(&[Some(100), Some(200), Some(300)])), NOW_MS, "WARN OK");
        check(99, &[1000], &spaced(&up(&[Some(100), Some(200), Some(300)])), NOW_MS, "WARN WARN");
        // Negative allowed_lag acts as 0.
        check(-5, &[1000], &stall, NOW_MS, "STALL STALL");
    }

    #[test]
    fn empty_and_trimmed_rings() {
        let config = EvalConfig::default();
        let broker = BrokerWindow::from_samples([BrokerSample { offset: 1000, timestamp_ms: 0 }], 10);
        let empty = evaluate_partition("t", 3, &ConsumerPartition::default(), &broker, NOW_MS, &config);
        assert_eq!(
            (empty.status, empty.complete, empty.start, empty.end, empty.current_lag),
            (PartitionState::Ok, 0.0, None, None, 0)
        );
        // A ring rebuilt under intervals = 12 evaluates its newest 10 entries: the rewind at the
        // start falls out, so this is WARN and complete 1, not REWIND and 1.2.
        let entries =
            [(900, Some(100)), (100, Some(900))].into_iter().chain((1..=10).map(|i| (100 + i, Some(900 + i))));
        let entries = spaced(&entries.collect::<Vec<_>>()).into_iter().map(|(offset, timestamp_ms, lag)| CommitEntry {
            offset,
            timestamp_ms,
            lag,
        });
        let consumer =
            ConsumerPartition { commits: CommitWindow::from_entries(entries, 12), ..ConsumerPartition::default() };
        let status = evaluate_partition("t", 3, &consumer, &broker, NOW_MS, &config);
        assert_eq!(
            (status.status, status.complete, status.start.map(|e| e.offset)),
            (PartitionState::Warn, 1.0, Some(101))
        );
    }

    #[test]
    fn states_serialize_as_burrow_names() {
        let all = [
            PartitionState::Ok,
            PartitionState::Warn,
            PartitionState::Stop,
            PartitionState::Stall,
            PartitionState::Rewind,
        ];
        let json = serde_json::to_string(&all).expect("serialize");
        assert_eq!(json, r#"["OK","WARN","STOP","STALL","REWIND"]"#);
        assert_eq!(all.map(|s| s.to_string()).join(","), "OK,WARN,STOP,STALL,REWIND");
    }
}
