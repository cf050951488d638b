//! One cluster's monitor state between ticks, and the step that turns a snapshot into a view and
//! the rows to store.
//!
//! Burrow's windows live here: a broker ring per partition (one sample per tick) and a commit
//! ring per group partition. A commit is ingested once, when its (offset, commit timestamp) first
//! appears in a snapshot, so sampling the same commit again never changes a window. Lag in
//! seconds is the age of the record at the committed offset, read from the log where the source
//! can; otherwise it is interpolated from the high-watermark history kept here (bounded: older
//! points are thinned, so the history spans long periods at a fixed cost per partition).
//!
//! No I/O: record timestamps come through the `timestamp` callback, and `rebuild` takes stored
//! rows, so the same state results after a restart.

use std::collections::{BTreeMap, HashMap};

use super::snapshot::{Problem, Snapshot};
use super::view::{ClusterView, GroupPartitionView, GroupView, MemberView, PartitionView, RingView};
use crate::evaluator::{
    self, diagnose, evaluate_group, BrokerSample, BrokerWindow, BrokerWindows, CommitEntry, CommitWindow, EvalConfig,
    GroupWindows, OffsetCommit,
};
use crate::store::{GroupPartitionSample, GroupStatusSample, LivenessSample, PartitionSample, ReplicationSample, Tick};

/// High-watermark points kept per partition for interpolation.
const HISTORY_POINTS: usize = 32;

/// A partition's high-watermark history, ascending in time. When full, every other point of the
/// older half goes: recent points stay dense, old ones sparse, the span keeps growing.
#[derive(Debug, Default, Clone)]
struct History {
    points: Vec<(i64, i64)>,
}

impl History {
    fn push(&mut self, ts_ms: i64, high_watermark: i64) {
        if self.points.last().is_some_and(|(ts, _)| *ts >= ts_ms) {
            return;
        }
        self.points.push((ts_ms, high_watermark));
        if self.points.len() > HISTORY_POINTS {
            let half = self.points.len() / 2;
            let mut kept: Vec<(i64, i64)> = self.points[..half].iter().step_by(2).copied().collect();
            kept.extend_from_slice(&self.points[half..]);
            self.points = kept;
        }
    }
}

/// Total-lag points kept per group for sparklines.
const TREND_POINTS: usize = 60;

#[derive(Debug, Default)]
struct GroupState {
    windows: GroupWindows,
    /// The last (offset, commit timestamp) ingested per partition.
    seen: HashMap<(String, i32), (i64, i64)>,
    /// Total lag at each recent tick, oldest first.
    trend: std::collections::VecDeque<i64>,
    /// Sum of committed offsets and when, at the previous tick (for the consume rate).
    committed: Option<(i64, i64)>,
}

/// A partition's (leader, replicas, in-sync replicas), as the replication history stores it.
type Replication = (i32, i32, i32);

/// One cluster's windows and histories.
pub struct ClusterState {
    pub name: String,
    config: EvalConfig,
    brokers: BrokerWindows,
    history: HashMap<(String, i32), History>,
    groups: BTreeMap<String, GroupState>,
    /// The record timestamp last read per partition, keyed by the offset it was read for.
    timestamps: HashMap<(String, i32), (i64, i64)>,
    /// Each partition's previous (sample time, high watermark), for produce rates.
    previous: HashMap<(String, i32), (i64, i64)>,
    /// Per topic, each partition's (leader, replicas, in sync) as last stored; each broker's
    /// liveness as last stored.
    replication: HashMap<String, Vec<Option<Replication>>>,
    liveness: HashMap<i32, bool>,
}

impl ClusterState {
    pub fn new(name: &str, config: EvalConfig) -> ClusterState {
        ClusterState {
            name: name.to_string(),
            config,
            brokers: BrokerWindows::new(),
            history: HashMap::new(),
            groups: BTreeMap::new(),
            timestamps: HashMap::new(),
            previous: HashMap::new(),
            replication: HashMap::new(),
            liveness: HashMap::new(),
        }
    }

    /// Restores windows and histories from stored raw rows (ascending in time), as they were
    /// before a restart.
    pub fn rebuild(&mut self, partitions: &[PartitionSample], group_partitions: &[GroupPartitionSample]) {
        for p in partitions {
            broker_window(&mut self.brokers, &p.topic, p.partition)
                .push(BrokerSample { offset: p.high_watermark, timestamp_ms: p.ts_ms }, &self.config);
            self.history.entry((p.topic.clone(), p.partition)).or_default().push(p.ts_ms, p.high_watermark);
        }
        // Each commit once, in the order it was first seen, with the lag it had then.
        let mut entries: BTreeMap<(String, String, i32), Vec<CommitEntry>> = BTreeMap::new();
        for s in group_partitions {
            let ring = entries.entry((s.group_id.clone(), s.topic.clone(), s.partition)).or_default();
            if ring.last().is_some_and(|e| e.offset == s.committed_offset && e.timestamp_ms == s.commit_ts_ms) {
                continue;
            }
            ring.push(CommitEntry { offset: s.committed_offset, timestamp_ms: s.commit_ts_ms, lag: Some(s.lag) });
        }
        for ((group, topic, partition), ring) in entries {
            let state = self.groups.entry(group).or_default();
            if let Some(newest) = ring.last() {
                state.seen.insert((topic.clone(), partition), (newest.offset, newest.timestamp_ms));
                state.windows.last_commit_ms = state.windows.last_commit_ms.max(Some(newest.timestamp_ms));
            }
            let consumer = state.windows.topics.entry(topic).or_default().entry(partition).or_default();
            consumer.commits = CommitWindow::from_entries(ring, self.config.intervals);
        }
    }

    /// Applies one snapshot: updates the windows, evaluates every group, and returns the view to
    /// publish and the rows to store.
    pub fn apply(
        &mut self,
        snapshot: Snapshot,
        mut timestamp: impl FnMut(&str, i32, i64) -> Option<i64>,
    ) -> (ClusterView, Tick) {
        let now = snapshot.ts_ms;
        // Deleted topics leave the windows, Burrow-style; so do deleted groups (Burrow kept
        // alerting on those for days).
        self.brokers.retain(|topic, _| snapshot.topics.contains_key(topic));
        self.history.retain(|(topic, _), _| snapshot.topics.contains_key(topic));
        self.timestamps.retain(|(topic, _), _| snapshot.topics.contains_key(topic));
        self.previous.retain(|(topic, _), _| snapshot.topics.contains_key(topic));
        self.replication.retain(|topic, _| snapshot.topics.contains_key(topic));
        let known: std::collections::HashSet<&str> = snapshot.groups.iter().map(|g| g.group_id.as_str()).collect();
        self.groups.retain(|g, _| known.contains(g.as_str()));
        for state in self.groups.values_mut() {
            state.windows.topics.retain(|topic, _| snapshot.topics.contains_key(topic));
        }

        let mut tick = Tick {
            cluster: self.name.clone(),
            ts_ms: now,
            partitions: Vec::with_capacity(snapshot.partitions.len()),
            group_partitions: Vec::new(),
            groups: Vec::with_capacity(snapshot.groups.len()),
            replication: Vec::new(),
            liveness: Vec::new(),
        };
        for p in &snapshot.partitions {
            let now_state = (p.leader, p.replicas.len() as i32, p.isr.len() as i32);
            if !self.replication.contains_key(&p.topic) {
                self.replication.insert(p.topic.clone(), Vec::new());
            }
            let stored = self.replication.get_mut(&p.topic).expect("inserted above");
            let index = usize::try_from(p.partition).unwrap_or(0);
            if stored.len() <= index {
                stored.resize(index + 1, None);
            }
            if stored[index].replace(now_state) != Some(now_state) {
                let (leader, replicas, isr) = now_state;
                let (topic, partition) = (p.topic.clone(), p.partition);
                tick.replication.push(ReplicationSample { topic, partition, ts_ms: now, leader, replicas, isr });
            }
        }
        for b in &snapshot.brokers {
            if self.liveness.insert(b.id, b.up) != Some(b.up) {
                tick.liveness.push(LivenessSample { broker: b.id, ts_ms: now, up: b.up });
            }
        }
        let mut partitions = Vec::with_capacity(snapshot.partitions.len());
        for p in snapshot.partitions {
            let Some(offsets) = p.offsets else {
                partitions.push(PartitionView { shape: p, produce_rate: 0.0 });
                continue;
            };
            // Burrow's rings see the end a consumer can reach: trailing transaction markers are
            // not lag (a group at the end of a transactional partition is at lag 0, not 1).
            let end = offsets.lag_end(false);
            broker_window(&mut self.brokers, &p.topic, p.partition)
                .push(BrokerSample { offset: end, timestamp_ms: now }, &self.config);
            self.history.entry((p.topic.clone(), p.partition)).or_default().push(now, end);
            tick.partitions.push(PartitionSample {
                topic: p.topic.clone(),
                partition: p.partition,
                ts_ms: now,
                log_start_offset: offsets.log_start_offset,
                high_watermark: offsets.high_watermark,
            });
            let key = (p.topic.clone(), p.partition);
            let produce_rate = match self.previous.insert(key, (now, offsets.high_watermark)) {
                Some((ts, hw)) if now > ts => {
                    ((offsets.high_watermark - hw).max(0) as f64) * 1000.0 / (now - ts) as f64
                }
                _ => 0.0,
            };
            partitions.push(PartitionView { shape: p, produce_rate });
        }
        partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        let offsets_of: HashMap<(&str, i32), super::snapshot::Offsets> =
            partitions.iter().filter_map(|p| Some(((p.topic.as_str(), p.partition), p.offsets?))).collect();

        let mut groups = BTreeMap::new();
        let mut problems = snapshot.problems;
        for g in &snapshot.groups {
            // Out of the map while it is worked on, so `self` stays free for the lookups below.
            let mut state = self.groups.remove(&g.group_id).unwrap_or_default();
            for c in &g.offsets {
                let key = (c.topic.clone(), c.partition);
                if state.seen.get(&key) == Some(&(c.offset, c.commit_ts_ms)) {
                    continue;
                }
                let broker = self
                    .brokers
                    .get(&c.topic)
                    .and_then(|rings| rings.get(usize::try_from(c.partition).ok()?))
                    .cloned()
                    .unwrap_or_default();
                let commit = OffsetCommit { offset: c.offset, timestamp_ms: c.commit_ts_ms };
                state.windows.ingest_commit(&c.topic, c.partition, commit, &broker, now, &self.config);
                state.seen.insert(key, (c.offset, c.commit_ts_ms));
            }
            // Owners from the members' assignments (Burrow's owner is the member's host).
            let mut owners: HashMap<(&str, i32), (&str, &str)> = HashMap::new();
            for m in &g.members {
                for (topic, ps) in &m.partitions {
                    for p in ps {
                        owners.insert((topic.as_str(), *p), (m.client_host.as_str(), m.client_id.as_str()));
                    }
                }
            }
            for (topic, consumed) in &mut state.windows.topics {
                for (p, consumer) in consumed.iter_mut() {
                    let (owner, client) = owners.get(&(topic.as_str(), *p)).copied().unwrap_or(("", ""));
                    consumer.owner = owner.to_string();
                    consumer.client_id = client.to_string();
                }
            }

            let evaluation = evaluate_group(&state.windows, &self.brokers, now, &self.config);
            let read_committed = g.read_committed == Some(true);
            let committed: HashMap<(&str, i32), (i64, i64)> =
                g.offsets.iter().map(|c| ((c.topic.as_str(), c.partition), (c.offset, c.commit_ts_ms))).collect();
            let mut views = Vec::with_capacity(evaluation.partitions.len());
            for ps in &evaluation.partitions {
                let offsets = offsets_of.get(&(ps.topic.as_str(), ps.partition));
                let end = offsets.map_or(-1, |o| o.high_watermark);
                let lag_end = offsets.map_or(-1, |o| o.lag_end(read_committed));
                let commit = committed.get(&(ps.topic.as_str(), ps.partition)).copied();
                let lag = match commit {
                    Some((offset, _)) if end >= 0 => {
                        if offset > end {
                            // A broker whose high watermark is behind a commit (seen on
                            // Kafka-compatible brokers): no negative lag, but say so.
                            problems.push(Problem {
                                request: "OffsetFetch".into(),
                                subject: format!("group {} partition {}-{}", g.group_id, ps.topic, ps.partition),
                                error: format!(
                                    "committed offset {offset} is past the high watermark {end}; lag shown as 0"
                                ),
                            });
                        }
                        (lag_end - offset).max(0)
                    }
                    _ => ps.current_lag,
                };
                let lag_seconds = commit.and_then(|(offset, _)| {
                    let key = (ps.topic.clone(), ps.partition);
                    self.lag_seconds(&key, offset, lag_end, now, &mut timestamp)
                });
                let (owner, client_id) = owners.get(&(ps.topic.as_str(), ps.partition)).copied().unwrap_or(("", ""));
                let view = GroupPartitionView {
                    topic: ps.topic.clone(),
                    partition: ps.partition,
                    committed_offset: commit.map(|(o, _)| o),
                    commit_ts_ms: commit.map(|(_, ts)| ts),
                    end_offset: end,
                    lag,
                    lag_seconds,
                    status: ps.status,
                    owner: (!owner.is_empty()).then(|| owner.to_string()),
                    client_id: (!client_id.is_empty()).then(|| client_id.to_string()),
                };
                if let (Some((offset, commit_ts)), true) = (commit, end >= 0) {
                    tick.group_partitions.push(crate::store::GroupPartitionSample {
                        group_id: g.group_id.clone(),
                        topic: view.topic.clone(),
                        partition: view.partition,
                        ts_ms: now,
                        committed_offset: offset,
                        commit_ts_ms: commit_ts,
                        high_watermark: end,
                        lag,
                        lag_seconds,
                        status: view.status,
                        owner: view.owner.clone(),
                        client_id: view.client_id.clone(),
                    });
                }
                views.push(view);
            }
            let total_lag = views.iter().map(|v| v.lag).sum();
            let max_lag = views.iter().map(|v| v.lag).max().unwrap_or(0);
            let max_lag_seconds = views
                .iter()
                .filter_map(|v| v.lag_seconds)
                .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
            let diagnosis = if g.offsets.is_empty() {
                (!g.members.is_empty()).then(|| "no offsets committed yet".to_string())
            } else {
                diagnose(&evaluation, g.members.len(), now)
            };
            tick.groups.push(GroupStatusSample {
                group_id: g.group_id.clone(),
                ts_ms: now,
                status: evaluation.status,
                total_lag,
                max_lag,
                max_lag_seconds,
                partitions: evaluation.partition_count as i64,
                members: g.members.len() as i64,
                complete: evaluation.complete,
            });
            let rings = self.rings(&state.windows, &evaluation.partitions);
            state.trend.push_back(total_lag);
            if state.trend.len() > TREND_POINTS {
                state.trend.pop_front();
            }
            let committed_sum: i64 = g.offsets.iter().map(|c| c.offset).sum();
            let consume_rate = match state.committed.replace((now, committed_sum)) {
                Some((ts, sum)) if now > ts => ((committed_sum - sum).max(0) as f64) * 1000.0 / (now - ts) as f64,
                _ => 0.0,
            };
            let trend = state.trend.iter().copied().collect();
            self.groups.insert(g.group_id.clone(), state);
            groups.insert(
                g.group_id.clone(),
                GroupView {
                    group: g.group_id.clone(),
                    status: evaluation.status,
                    complete: evaluation.complete,
                    total_lag,
                    max_lag,
                    max_lag_seconds,
                    members: g.members.len(),
                    member_list: g
                        .members
                        .iter()
                        .map(|m| MemberView {
                            member_id: m.member_id.clone(),
                            client_id: m.client_id.clone(),
                            host: m.client_host.clone(),
                            partitions: m.partitions.clone(),
                        })
                        .collect(),
                    kafka_state: g.state.clone(),
                    against_last_stable: read_committed,
                    partitions: views,
                    diagnosis,
                    consume_rate,
                    trend,
                    evaluation,
                    rings,
                },
            );
        }
        let produce_rate = partitions.iter().filter(|p| !p.internal).map(|p| p.produce_rate).sum();
        let consume_rate = groups.values().map(|g: &GroupView| g.consume_rate).sum();
        let view = ClusterView {
            name: self.name.clone(),
            ts_ms: now,
            reachable: true,
            error: None,
            tick_ms: 0.0,
            controller_id: snapshot.controller_id,
            brokers: snapshot.brokers,
            topics: std::sync::Arc::new(snapshot.topics),
            summary: super::view::ShapeSummary::of(&partitions),
            partitions: std::sync::Arc::new(partitions),
            groups: std::sync::Arc::new(groups),
            produce_rate,
            consume_rate,
            problems,
        };
        (view, tick)
    }

    /// Seconds behind: the age of the record at the committed offset when the log still has it,
    /// else interpolated from the high-watermark history; 0 when caught up.
    fn lag_seconds(
        &mut self,
        key: &(String, i32),
        committed: i64,
        end: i64,
        now: i64,
        timestamp: &mut impl FnMut(&str, i32, i64) -> Option<i64>,
    ) -> Option<f64> {
        if end >= 0 && committed >= end {
            return Some(0.0);
        }
        let cached = self.timestamps.get(key).filter(|(offset, _)| *offset == committed).map(|(_, ts)| *ts);
        let read = cached.or_else(|| {
            let ts = timestamp(&key.0, key.1, committed)?;
            self.timestamps.insert(key.clone(), (committed, ts));
            Some(ts)
        });
        match read {
            Some(ts) => Some(((now - ts) as f64 / 1000.0).max(0.0)),
            None => evaluator::lag_seconds(&self.history.get(key)?.points, committed, now),
        }
    }

    /// Burrow's per-partition rings for the consumer detail route.
    fn rings(
        &self,
        windows: &GroupWindows,
        partitions: &[evaluator::PartitionStatus],
    ) -> BTreeMap<String, Vec<RingView>> {
        let intervals = self.config.intervals.max(1);
        let mut rings: BTreeMap<String, Vec<RingView>> = BTreeMap::new();
        for ps in partitions {
            let entries: Vec<CommitEntry> = windows
                .topics
                .get(&ps.topic)
                .and_then(|t| t.get(&ps.partition))
                .map(|c| c.commits.entries().rev().take(intervals).rev().copied().collect())
                .unwrap_or_default();
            let mut offsets: Vec<Option<CommitEntry>> = Vec::with_capacity(intervals);
            offsets.resize(intervals.saturating_sub(entries.len()), None);
            offsets.extend(entries.into_iter().map(Some));
            let list = rings.entry(ps.topic.clone()).or_default();
            let index = usize::try_from(ps.partition).unwrap_or(0);
            while list.len() <= index {
                list.push(RingView {
                    offsets: vec![None; intervals],
                    owner: String::new(),
                    client_id: String::new(),
                    current_lag: 0,
                });
            }
            list[index] = RingView {
                offsets,
                owner: ps.owner.clone(),
                client_id: ps.client_id.clone(),
                current_lag: ps.current_lag,
            };
        }
        rings
    }
}

/// The broker ring of a partition, created (with empty rings below it) when new.
fn broker_window<'a>(brokers: &'a mut BrokerWindows, topic: &str, partition: i32) -> &'a mut BrokerWindow {
    let rings = brokers.entry(topic.to_string()).or_default();
    let index = usize::try_from(partition).unwrap_or(0);
    if rings.len() <= index {
        rings.resize_with(index + 1, BrokerWindow::default);
    }
    &mut rings[index]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::monitor::snapshot::{
        BrokerSnapshot, CommitSnapshot, GroupSnapshot, Offsets, PartitionSnapshot, TopicSnapshot,
    };

    fn partition(p: i32, isr: &[i32], high_watermark: Option<i64>) -> PartitionSnapshot {
        PartitionSnapshot {
            topic: "t".into(),
            partition: p,
            internal: false,
            leader: isr.first().copied().unwrap_or(-1),
            leader_epoch: Some(1),
            replicas: vec![1, 2],
            isr: isr.to_vec(),
            offline_replicas: Vec::new(),
            offsets: high_watermark.map(|hw| Offsets {
                log_start_offset: 0,
                high_watermark: hw,
                log_end_offset: None,
                last_stable_offset: None,
                data_end: None,
            }),
            size_bytes: None,
            follower_lag: Vec::new(),
        }
    }

    fn snapshot(ts_ms: i64, partitions: Vec<PartitionSnapshot>, broker_2_up: bool, commit: i64) -> Snapshot {
        let broker = |id, up| BrokerSnapshot {
            id,
            host: "h".into(),
            port: 9092,
            rack: None,
            up,
            replication_paused: None,
            size_bytes: None,
        };
        Snapshot {
            ts_ms,
            controller_id: 1,
            brokers: vec![broker(1, true), broker(2, broker_2_up)],
            topics: BTreeMap::from([(
                "t".to_string(),
                TopicSnapshot { partitions: 2, internal: false, config: BTreeMap::new() },
            )]),
            partitions,
            groups: vec![GroupSnapshot {
                group_id: "g".into(),
                state: "Empty".into(),
                members: Vec::new(),
                offsets: vec![CommitSnapshot { topic: "t".into(), partition: 0, offset: commit, commit_ts_ms: ts_ms }],
                read_committed: None,
            }],
            problems: Vec::new(),
        }
    }

    #[test]
    fn replication_is_stored_on_change_and_a_commit_past_the_end_is_lag_zero_and_said() {
        let mut state = ClusterState::new("c", EvalConfig::default());
        let (view, tick) = state.apply(
            snapshot(1_000, vec![partition(0, &[1, 2], Some(10)), partition(1, &[1, 2], None)], true, 4),
            |_, _, _| None,
        );
        assert_eq!((tick.replication.len(), tick.liveness.len()), (2, 2), "everything on the first tick");
        assert_eq!(tick.partitions.len(), 1, "a partition without offsets has no sample");
        assert_eq!(view.partitions.len(), 2, "but is in the view");
        assert!(view.problems.is_empty());

        let (_, tick) = state.apply(
            snapshot(2_000, vec![partition(0, &[1, 2], Some(10)), partition(1, &[1, 2], None)], true, 4),
            |_, _, _| None,
        );
        assert!(tick.replication.is_empty() && tick.liveness.is_empty(), "nothing changed");

        let (view, tick) = state.apply(
            snapshot(3_000, vec![partition(0, &[1], Some(10)), partition(1, &[1, 2], None)], false, 12),
            |_, _, _| None,
        );
        assert_eq!(tick.replication.iter().map(|r| (r.partition, r.isr)).collect::<Vec<_>>(), vec![(0, 1)]);
        assert_eq!(tick.liveness.iter().map(|l| (l.broker, l.up)).collect::<Vec<_>>(), vec![(2, false)]);
        assert_eq!((view.under_replicated(), view.offline()), (1, 0), "{:?}", view.partitions);
        assert_eq!(view.groups["g"].partitions[0].lag, 0);
        assert_eq!(view.problems.len(), 1);
        assert!(
            view.problems[0].error.contains("committed offset 12 is past the high watermark 10"),
            "{:?}",
            view.problems
        );
    }

    /// A transactional partition: a consumer that committed just past the last record has only
    /// the commit marker left, so lag 0 (Burrow's lag-1 complaint, linkedin/Burrow#591), in the
    /// view and in Burrow's rings; a read_committed group is measured against the last stable
    /// offset, an open transaction's records not counted; others against the high watermark.
    #[test]
    fn trailing_markers_are_not_lag_and_read_committed_groups_stop_at_the_last_stable_offset() {
        let mut state = ClusterState::new("c", EvalConfig::default());
        let transactional = |hw: i64, lso: i64, data_end: i64| {
            let mut p = partition(0, &[1, 2], Some(hw));
            p.offsets = Some(Offsets {
                log_start_offset: 0,
                high_watermark: hw,
                log_end_offset: Some(hw),
                last_stable_offset: Some(lso),
                data_end: Some(data_end),
            });
            p
        };
        let with_group = |mut snap: Snapshot, read_committed: Option<bool>| {
            snap.groups[0].read_committed = read_committed;
            snap
        };
        // Ten records and a commit marker at offset 10; the group committed 10.
        for ts in [1_000, 2_000, 3_000] {
            let (view, _) =
                state.apply(with_group(snapshot(ts, vec![transactional(11, 11, 10)], true, 10), None), |_, _, _| None);
            assert_eq!(view.groups["g"].partitions[0].lag, 0, "the marker is not lag");
            assert!(view.problems.is_empty(), "{:?}", view.problems);
        }
        assert_eq!(state.brokers["t"][0].newest().map(|s| s.offset), Some(10), "Burrow's ring ends at the data");
        // Then an open transaction of five records (11..16): read_committed readers cannot see
        // them yet, read_uncommitted ones can.
        let (view, _) = state
            .apply(with_group(snapshot(4_000, vec![transactional(16, 11, 16)], true, 10), Some(true)), |_, _, _| None);
        assert_eq!(view.groups["g"].partitions[0].lag, 1, "against the last stable offset 11");
        assert!(view.groups["g"].against_last_stable);
        let (view, _) = state
            .apply(with_group(snapshot(5_000, vec![transactional(16, 11, 16)], true, 10), Some(false)), |_, _, _| None);
        assert_eq!(view.groups["g"].partitions[0].lag, 6, "against the high watermark 16");
        assert!(!view.groups["g"].against_last_stable);
    }
}
