//! The consumer-lag evaluator: Burrow's storage rings, partition rules and group roll-up, plus
//! warren's own time lag and diagnosis helpers.
//!
//! Everything here is pure: no I/O, no clock, no async. Time comes in as `now_ms` (Unix
//! milliseconds, like every `*_ms` timestamp here) and all state lives in plain data that callers
//! own and can rebuild from stored history. Given the same inputs, every function returns the same
//! output, including iteration order (topics, then partitions, ascending).
//!
//! - `window`: commit and broker-sample rings and `ingest_commit` (burrow.md §1).
//! - `partition`: the partition rules for Burrow 1.2.1 and 1.3.7+ (§2).
//! - `group`: a group's windows and the group roll-up, NOTFOUND on expiry (§1, §3).
//! - `time_lag`: lag in seconds interpolated from high-watermark history (warren's own).
//! - `diagnosis`: one plain-English line for an unhealthy group (warren's own).

pub mod diagnosis;
pub mod group;
pub mod partition;
pub mod time_lag;
pub mod window;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use diagnosis::diagnose;
pub use group::{evaluate_group, BrokerWindows, GroupState, GroupStatus, GroupWindows};
pub use partition::{evaluate_partition, ConsumerPartition, PartitionState, PartitionStatus};
pub use time_lag::lag_seconds;
pub use window::{ingest_commit, BrokerSample, BrokerWindow, CommitEntry, CommitOutcome, CommitWindow, OffsetCommit};

/// Which Burrow release's partition rules to apply (burrow.md §2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RuleSet {
    /// 1.2.1 through 1.3.6: any rewind in the window is REWIND, but only when no entry has zero
    /// lag; `allowed_lag` does not exist (it is ignored).
    Burrow121,
    /// 1.3.7 and later (HEAD): only an unrecovered rewind is REWIND, checked before the zero-lag
    /// mask, and `allowed_lag` applies.
    #[default]
    Burrow137,
}

/// Evaluator settings, Burrow's `[storage]` and `[evaluator]` keys that matter to the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalConfig {
    /// Ring size for commits and broker samples (`intervals`). Treated as at least 1.
    pub intervals: usize,
    /// Commits closer than this to the newest entry overwrite it (`min-distance`).
    pub min_distance: Duration,
    /// Commits older than this are dropped; a group silent this long is NOTFOUND (`expire-group`).
    pub expire_group: Duration,
    /// Lag at or below this is healthy (`allowed-lag`, 1.3.7+). Negative values act as 0.
    pub allowed_lag: i64,
    pub rules: RuleSet,
}

impl Default for EvalConfig {
    /// Burrow's shipped configuration: `min-distance` 1 s as in its example configs (the code
    /// default is 0), 10 intervals, 7-day expiry, no allowed lag, HEAD rules.
    fn default() -> Self {
        EvalConfig {
            intervals: 10,
            min_distance: Duration::from_secs(1),
            expire_group: Duration::from_secs(7 * 86_400),
            allowed_lag: 0,
            rules: RuleSet::Burrow137,
        }
    }
}

impl EvalConfig {
    fn capacity(&self) -> usize {
        self.intervals.max(1)
    }

    fn min_distance_ms(&self) -> i64 {
        millis(self.min_distance)
    }

    fn expire_group_ms(&self) -> i64 {
        millis(self.expire_group)
    }

    /// The lag the rules tolerate: `allowed_lag` under 1.3.7+, always 0 under 1.2.1.
    fn tolerated_lag(&self) -> i64 {
        match self.rules {
            RuleSet::Burrow121 => 0,
            RuleSet::Burrow137 => self.allowed_lag.max(0),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
