//! Burrow's storage rings (burrow.md §1): per group-partition a ring of commits, per partition a
//! ring of broker end-offset samples, each holding at most `intervals` entries, oldest first.
//!
//! A commit's lag is fixed when it is ingested, against the newest broker sample at that moment,
//! and never recomputed: that is Burrow's model, and what makes its rules reproducible. The rings
//! are plain data: `from_entries` / `from_samples` rebuild them from stored history, keeping the
//! newest `intervals` items in the order given, so a restart yields the same windows as before.
//!
//! Callers feed each commit once. A commit seen again (a snapshot re-read on every tick) would
//! count as a new commit: within `min_distance` it would overwrite the newest entry's lag.

use std::collections::VecDeque;

use serde::Serialize;

use super::EvalConfig;

/// One slot of a commit ring. Serializes as Burrow's `{offset, timestamp, lag}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CommitEntry {
    pub offset: i64,
    /// The timestamp inside the commit record; for a collapsed burst, that of its first commit.
    #[serde(rename = "timestamp")]
    pub timestamp_ms: i64,
    /// `max(0, newest broker sample - offset)` at ingestion; `None` when there was no sample.
    pub lag: Option<i64>,
}

/// One broker sample: a partition's end offset (high watermark) stamped with the sampler's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BrokerSample {
    pub offset: i64,
    #[serde(rename = "timestamp")]
    pub timestamp_ms: i64,
}

/// A group-partition's commit ring, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitWindow {
    entries: VecDeque<CommitEntry>,
}

/// A partition's broker-sample ring, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerWindow {
    samples: VecDeque<BrokerSample>,
}

/// An offset commit as read from the group coordinator or `__consumer_offsets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetCommit {
    pub offset: i64,
    /// The commit timestamp inside the commit record.
    pub timestamp_ms: i64,
}

/// What `ingest_commit` did with a commit, so callers can count what Burrow merges silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written to a new slot; a full ring lost its oldest entry.
    Appended,
    /// Less than `min_distance` after the newest entry: overwrote its offset and lag in place,
    /// keeping its older timestamp.
    Collapsed,
    /// Older than `now - expire_group`: dropped.
    Expired,
}

impl CommitWindow {
    /// Rebuilds a ring from stored entries, oldest first, keeping the newest `intervals` of them.
    pub fn from_entries(entries: impl IntoIterator<Item = CommitEntry>, intervals: usize) -> Self {
        CommitWindow { entries: newest(entries, intervals) }
    }

    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &CommitEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    pub fn newest(&self) -> Option<&CommitEntry> {
        self.entries.back()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl BrokerWindow {
    /// Rebuilds a ring from stored samples, oldest first, keeping the newest `intervals` of them.
    pub fn from_samples(samples: impl IntoIterator<Item = BrokerSample>, intervals: usize) -> Self {
        BrokerWindow { samples: newest(samples, intervals) }
    }

    /// Records a sample; a full ring loses its oldest one.
    pub fn push(&mut self, sample: BrokerSample, config: &EvalConfig) {
        push_bounded(&mut self.samples, sample, config.capacity());
    }

    pub fn samples(&self) -> impl DoubleEndedIterator<Item = &BrokerSample> + ExactSizeIterator {
        self.samples.iter()
    }

    pub fn newest(&self) -> Option<&BrokerSample> {
        self.samples.back()
    }
}

/// Stores one offset commit in its partition's ring the way Burrow's in-memory storage does
/// (burrow.md §1, steps 1-4). Unlike Burrow, a commit arriving before any broker sample is kept,
/// with `lag: None`, rather than dropped.
pub fn ingest_commit(
    window: &mut CommitWindow,
    broker: &BrokerWindow,
    commit: OffsetCommit,
    now_ms: i64,
    config: &EvalConfig,
) -> CommitOutcome {
    let OffsetCommit { offset, timestamp_ms } = commit;
    if timestamp_ms < now_ms.saturating_sub(config.expire_group_ms()) {
        return CommitOutcome::Expired;
    }
    let lag = broker.newest().map(|sample| sample.offset.saturating_sub(offset).max(0));
    if let Some(newest) = window.entries.back_mut() {
        if timestamp_ms.saturating_sub(newest.timestamp_ms) < config.min_distance_ms() {
            newest.offset = offset;
            newest.lag = lag;
            return CommitOutcome::Collapsed;
        }
    }
    push_bounded(&mut window.entries, CommitEntry { offset, timestamp_ms, lag }, config.capacity());
    CommitOutcome::Appended
}

fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, capacity: usize) {
    while ring.len() >= capacity {
        ring.pop_front();
    }
    ring.push_back(item);
}

fn newest<T>(items: impl IntoIterator<Item = T>, intervals: usize) -> VecDeque<T> {
    let mut ring = VecDeque::new();
    for item in items {
        push_bounded(&mut ring, item, intervals.max(1));
    }
    ring
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Ingests `commits` (offset, timestamp_ms) at `now_ms` against a broker ring whose newest
    /// sample is `broker`, then compares the outcomes (A/C/E) and the ring (`offset@ts:lag`).
    fn check(config: &EvalConfig, broker: Option<i64>, commits: &[(i64, i64)], now_ms: i64, expect: &str) {
        let mut samples = BrokerWindow::default();
        if let Some(offset) = broker {
            samples.push(BrokerSample { offset, timestamp_ms: 0 }, config);
        }
        let mut window = CommitWindow::default();
        let outcomes: String = commits
            .iter()
            .map(|&(offset, ts)| {
                match ingest_commit(&mut window, &samples, OffsetCommit { offset, timestamp_ms: ts }, now_ms, config) {
                    CommitOutcome::Appended => 'A',
                    CommitOutcome::Collapsed => 'C',
                    CommitOutcome::Expired => 'E',
                }
            })
            .collect();
        let ring: Vec<String> = window
            .entries()
            .map(|e| format!("{}@{}:{}", e.offset, e.timestamp_ms, e.lag.map_or("-".to_string(), |l| l.to_string())))
            .collect();
        assert_eq!(format!("{outcomes} {}", ring.join(" ")), expect);
    }

    fn config(intervals: usize, min_distance_ms: u64) -> EvalConfig {
        EvalConfig { intervals, min_distance: Duration::from_millis(min_distance_ms), ..EvalConfig::default() }
    }

    #[test]
    fn ingest() {
        let burst: Vec<(i64, i64)> = (1..=10).map(|i| (i * 10, (i - 1) * 200)).collect();
        // Burrow verified: 10 commits 200 ms apart with min-distance 1 s make 2 slots, each
        // stamped with the first commit of its burst and holding the last one's offset.
        check(&config(10, 1000), Some(1000), &burst, 2000, "ACCCCACCCC 50@0:950 100@1000:900");
        check(&config(10, 0), Some(1000), &burst[..3], 2000, "AAA 10@0:990 20@200:980 30@400:970");
        // Exactly min_distance apart is a new slot (strict <).
        check(&config(10, 1000), Some(100), &[(1, 0), (2, 999), (3, 1000), (4, 1999)], 5000, "ACAC 2@0:98 4@1000:96");
        // An out-of-order (older) commit collapses into the newest slot, even with min_distance 0.
        check(&config(10, 0), Some(100), &[(5, 1000), (4, 500)], 5000, "AC 4@1000:96");
        // A full ring overwrites its oldest slot.
        let spaced: Vec<(i64, i64)> = (1..=5).map(|i| (i, i * 1000)).collect();
        check(&config(3, 1000), Some(10), &spaced, 9000, "AAAAA 3@3000:7 4@4000:6 5@5000:5");
        // Lag is max(0, newest sample - offset), None without a sample.
        check(&config(10, 1000), Some(100), &[(150, 0)], 0, "A 150@0:0");
        check(&config(10, 1000), None, &[(150, 0), (160, 5000)], 5000, "AA 150@0:- 160@5000:-");
        // Commits older than now - expire_group are dropped; exactly at the limit they are kept.
        let week = EvalConfig::default().expire_group.as_millis() as i64;
        check(&config(10, 1000), Some(100), &[(1, 10), (2, 11), (3, 12_000)], week + 11, "EAA 2@11:98 3@12000:97");
    }

    #[test]
    fn rebuilt_windows_keep_the_newest_intervals() {
        let entries: Vec<CommitEntry> =
            (0..12).map(|i| CommitEntry { offset: i, timestamp_ms: i * 1000, lag: Some(12 - i) }).collect();
        let window = CommitWindow::from_entries(entries.clone(), 10);
        assert_eq!(window.entries().copied().collect::<Vec<_>>(), entries[2..].to_vec());
        assert_eq!(CommitWindow::from_entries(entries.clone(), 0).len(), 1);
        // Ingesting into a rebuilt window behaves as if it had never been rebuilt.
        let config = EvalConfig::default();
        let broker = BrokerWindow::from_samples([BrokerSample { offset: 20, timestamp_ms: 0 }], 10);
        let mut live = CommitWindow::default();
        for e in &entries {
            ingest_commit(
                &mut live,
                &broker,
                OffsetCommit { offset: e.offset, timestamp_ms: e.timestamp_ms },
                20_000,
                &config,
            );
        }
        let mut rebuilt = CommitWindow::from_entries(live.entries().copied(), 10);
        let commit = OffsetCommit { offset: 15, timestamp_ms: 13_000 };
        ingest_commit(&mut live, &broker, commit, 20_000, &config);
        ingest_commit(&mut rebuilt, &broker, commit, 20_000, &config);
        assert_eq!(live, rebuilt);
        let samples = BrokerWindow::from_samples((0..15).map(|i| BrokerSample { offset: i, timestamp_ms: i }), 10);
        assert_eq!(samples.samples().len(), 10);
        assert_eq!(samples.newest().map(|s| s.offset), Some(14));
    }
}
