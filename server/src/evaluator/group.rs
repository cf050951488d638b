//! A consumer group's commit windows and Burrow's group roll-up (burrow.md §1, §3).
//!
//! A group covers every partition of every topic it ever committed to, committed or not: the
//! partitions are the union of those with commits and those the broker windows know. Topics
//! and partitions are visited in ascending order, so `partitions` and the `max_lag` tie-break
//! (the first of equal lags wins, as in Burrow, where Go's map order made it random) are
//! deterministic. A group whose newest commit is older than `expire_group` is NOTFOUND.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::partition::{evaluate_partition, ConsumerPartition, PartitionState, PartitionStatus};
use super::window::{ingest_commit, BrokerWindow, CommitOutcome, OffsetCommit};
use super::EvalConfig;

/// A group's status. Ordered as Burrow's enum; serializes as Burrow's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum GroupState {
    #[serde(rename = "NOTFOUND")]
    NotFound,
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "WARN")]
    Warn,
    #[serde(rename = "ERR")]
    Err,
}

impl GroupState {
    /// Every status, least severe first: the one ranking (the derived order) everything uses.
    pub const ALL: [GroupState; 4] = [GroupState::NotFound, GroupState::Ok, GroupState::Warn, GroupState::Err];

    /// Burrow's name back to the status (`None` for anything else).
    pub fn parse(name: &str) -> Option<GroupState> {
        GroupState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::NotFound => "NOTFOUND",
            GroupState::Ok => "OK",
            GroupState::Warn => "WARN",
            GroupState::Err => "ERR",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group's verdict: Burrow's `ConsumerGroupStatus` without cluster and group names, which the
/// caller knows. Serializes with Burrow's field names (`maxlag`, `totallag`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStatus {
    pub status: GroupState,
    /// Share of partitions whose ring is full; 0 without partitions, 1 when NOTFOUND.
    pub complete: f64,
    /// Every partition, by topic then partition. Burrow's `/status` keeps only those not OK.
    pub partitions: Vec<PartitionStatus>,
    pub partition_count: usize,
    /// The partition with the largest `current_lag`, the first one on ties.
    #[serde(rename = "maxlag")]
    pub max_lag: Option<PartitionStatus>,
    /// Sum of `current_lag`.
    #[serde(rename = "totallag")]
    pub total_lag: i64,
}

impl GroupStatus {
    /// Burrow's body for an unknown or expired group.
    pub fn not_found() -> Self {
        GroupStatus {
            status: GroupState::NotFound,
            complete: 1.0,
            partitions: Vec::new(),
            partition_count: 0,
            max_lag: None,
            total_lag: 0,
        }
    }
}

/// Broker rings of one cluster: topic to one ring per partition, indexed by partition id.
pub type BrokerWindows = BTreeMap<String, Vec<BrokerWindow>>;

/// What is known of one group: Burrow's `consumerGroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupWindows {
    /// Topic to partition to that partition's commits and owner.
    pub topics: BTreeMap<String, BTreeMap<i32, ConsumerPartition>>,
    /// Timestamp of the newest accepted commit (Burrow's `lastCommit`). `None`, like Burrow's
    /// zero, makes the group NOTFOUND.
    pub last_commit_ms: Option<i64>,
}

impl GroupWindows {
    /// Stores a commit in its partition's ring (creating it) and advances `last_commit_ms`.
    ///
    /// Burrow sets `lastCommit` to the last accepted commit's timestamp; this keeps the newest
    /// one instead, so the order in which a caller feeds one tick's partitions cannot change
    /// expiry. An expired commit is dropped before it can create a partition, as in Burrow.
    pub fn ingest_commit(
        &mut self,
        topic: &str,
        partition: i32,
        commit: OffsetCommit,
        broker: &BrokerWindow,
        now_ms: i64,
        config: &EvalConfig,
    ) -> CommitOutcome {
        if commit.timestamp_ms < now_ms.saturating_sub(config.expire_group_ms()) {
            return CommitOutcome::Expired;
        }
        let consumer = self.topics.entry(topic.to_string()).or_default().entry(partition).or_default();
        let outcome = ingest_commit(&mut consumer.commits, broker, commit, now_ms, config);
        self.last_commit_ms = self.last_commit_ms.max(Some(commit.timestamp_ms));
        outcome
    }

    /// Burrow's lazy purge: no commit for longer than `expire_group` (strict).
    pub fn is_expired(&self, now_ms: i64, config: &EvalConfig) -> bool {
        self.last_commit_ms.is_none_or(|last| now_ms.saturating_sub(config.expire_group_ms()) > last)
    }
}

/// Evaluates every partition of the group and rolls them up: ERR if any is STOP, STALL or
/// REWIND, else WARN if any is WARN, else OK; NOTFOUND when the group has expired.
pub fn evaluate_group(group: &GroupWindows, brokers: &BrokerWindows, now_ms: i64, config: &EvalConfig) -> GroupStatus {
    if group.is_expired(now_ms, config) {
        return GroupStatus::not_found();
    }
    let never_committed = ConsumerPartition::default();
    let never_sampled = BrokerWindow::default();
    let mut partitions = Vec::new();
    for (topic, consumed) in &group.topics {
        let rings = brokers.get(topic).map_or(&[][..], Vec::as_slice);
        // Burrow sizes a group's topic by the broker's partition count and extends it when a
        // commit names a higher partition; never-committed partitions are evaluated empty.
        let sampled = i32::try_from(rings.len()).unwrap_or(i32::MAX);
        let count = consumed.keys().next_back().map_or(sampled, |&max| sampled.max(max.saturating_add(1)));
        let ids: BTreeSet<i32> = consumed.keys().copied().chain(0..count).collect();
        for id in ids {
            let consumer = consumed.get(&id).unwrap_or(&never_committed);
            let broker = usize::try_from(id).ok().and_then(|i| rings.get(i)).unwrap_or(&never_sampled);
            partitions.push(evaluate_partition(topic, id, consumer, broker, now_ms, config));
        }
    }
    roll_up(partitions)
}

pub(super) fn roll_up(partitions: Vec<PartitionStatus>) -> GroupStatus {
    let status = partitions
        .iter()
        .map(|p| match p.status {
            PartitionState::Ok => GroupState::Ok,
            PartitionState::Warn => GroupState::Warn,
            PartitionState::Stop | PartitionState::Stall | PartitionState::Rewind => GroupState::Err,
        })
        .max()
        .unwrap_or(GroupState::Ok);
    let mut max_lag: Option<&PartitionStatus> = None;
    for p in &partitions {
        if max_lag.is_none_or(|max| p.current_lag > max.current_lag) {
            max_lag = Some(p);
        }
    }
    let full = partitions.iter().filter(|p| p.complete >= 1.0).count();
    GroupStatus {
        status,
        complete: if partitions.is_empty() { 0.0 } else { full as f64 / partitions.len() as f64 },
        partition_count: partitions.len(),
        max_lag: max_lag.cloned(),
        total_lag: partitions.iter().fold(0i64, |sum, p| sum.saturating_add(p.current_lag)),
        partitions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::window::BrokerSample;

    const NOW_MS: i64 = 1_700_000_000_000;

    /// Builds a group from `commits` (topic, partition, offset, seconds before now), one per
    /// partition, against broker rings of `(topic, end offsets per partition)`, and compares
    /// "<status> count=<n> complete=<c> maxlag=<topic-partition> totallag=<sum>".
    fn check(brokers: &[(&str, &[i64])], commits: &[(&str, i32, i64, i64)], now_ms: i64, expect: &str) {
        let config = EvalConfig::default();
        let brokers: BrokerWindows = brokers
            .iter()
            .map(|&(topic, ends)| {
                let rings = ends.iter().map(|&offset| {
                    BrokerWindow::from_samples([BrokerSample { offset, timestamp_ms: NOW_MS - 1000 }], config.intervals)
                });
                (topic.to_string(), rings.collect())
            })
            .collect();
        let mut group = GroupWindows::default();
        for &(topic, partition, offset, age_s) in commits {
            let broker = brokers.get(topic).and_then(|r| r.get(partition as usize)).cloned().unwrap_or_default();
            let commit = OffsetCommit { offset, timestamp_ms: NOW_MS - age_s * 1000 };
            group.ingest_commit(topic, partition, commit, &broker, NOW_MS, &config);
        }
        let status = evaluate_group(&group, &brokers, now_ms, &config);
        let max = status.max_lag.as_ref().map_or("null".to_string(), |p| format!("{}-{}", p.topic, p.partition));
        let got = format!(
            "{} count={} complete={} maxlag={max} totallag={}",
            status.status, status.partition_count, status.complete, status.total_lag
        );
        assert_eq!(got, expect);
    }

    #[test]
    fn roll_up_and_expiry() {
        let week_s = EvalConfig::default().expire_group.as_secs() as i64;
        // Never-committed partitions of a consumed topic count; unconsumed topics do not.
        check(
            &[("a", &[10, 10, 10]), ("b", &[5])],
            &[("a", 1, 10, 5)],
            NOW_MS,
            "OK count=3 complete=0 maxlag=a-0 totallag=0",
        );
        // Ties: the first partition in topic-then-partition order wins.
        check(
            &[("a", &[10, 10]), ("b", &[10])],
            &[("b", 0, 3, 5), ("a", 1, 3, 5), ("a", 0, 4, 5)],
            NOW_MS,
            "ERR count=3 complete=0 maxlag=a-1 totallag=20",
        );
        // A committed partition the brokers do not (yet) know still counts, with no lag.
        check(&[("a", &[10])], &[("a", 2, 3, 5)], NOW_MS, "OK count=3 complete=0 maxlag=a-0 totallag=0");
        // NOTFOUND once now - expire_group passes the newest commit (strict), whatever the order
        // of ingestion.
        let last = &[("a", 0, 3, week_s - 20), ("a", 1, 3, week_s - 10)];
        check(&[("a", &[10, 10])], last, NOW_MS + 20_000, "ERR count=2 complete=0 maxlag=a-0 totallag=14");
        check(&[("a", &[10, 10])], last, NOW_MS + 20_001, "NOTFOUND count=0 complete=1 maxlag=null totallag=0");
        // Commits older than expire_group never create the group.
        check(
            &[("a", &[10])],
            &[("a", 0, 3, week_s + 1)],
            NOW_MS,
            "NOTFOUND count=0 complete=1 maxlag=null totallag=0",
        );
    }

    #[test]
    fn serializes_as_burrow() {
        let status = GroupStatus::not_found();
        let json = serde_json::to_value(&status).expect("serialize");
        let expect = serde_json::json!({
            "status": "NOTFOUND", "complete": 1.0, "partitions": [], "partition_count": 0, "maxlag": null, "totallag": 0
        });
        assert_eq!(json, expect);
        let states = [GroupState::NotFound, GroupState::Ok, GroupState::Warn, GroupState::Err];
        assert_eq!(serde_json::to_string(&states).expect("serialize"), r#"["NOTFOUND","OK","WARN","ERR"]"#);
        assert_eq!(states.map(|s| s.to_string()).join(","), "NOTFOUND,OK,WARN,ERR");
    }
}
