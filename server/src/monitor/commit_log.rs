//! Commit timestamps of an external cluster, read from its `__consumer_offsets` as Burrow does.
//!
//! OffsetFetch tells what a group committed but not when. The offsets topic holds every commit
//! with the coordinator's timestamp, so a consumer that keeps committing the same offset (STALL)
//! can be told apart from one that stopped committing (STOP). The reader starts at each
//! partition's log start (the topic is compacted, so that is the latest commit per key plus what
//! compaction has not reached yet) and then follows the topic tick by tick, a bounded amount per
//! tick. Its timestamps are used only when it has caught up with an end read after the
//! OffsetFetch (so every commit OffsetFetch returned is in it) and only for the very offset
//! OffsetFetch returned; otherwise the snapshot falls back to when an offset was first seen.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use broker_core::formats::{decode_key, decode_offset_value, RecordKey};

use crate::kafka::{Client, ConsumedRecord, Error, OffsetSpec};

pub const TOPIC: &str = "__consumer_offsets";
/// Bytes per partition per Fetch.
const FETCH_BYTES: i32 = 1 << 20;
/// Fetch rounds per tick: up to 8 MiB per partition, plenty to follow a live cluster while a
/// tick stays short; a long first read continues over the next ticks.
const ROUNDS_PER_TICK: usize = 8;
/// OFFSET_OUT_OF_RANGE: compaction or retention moved the log start past the reader.
const OFFSET_OUT_OF_RANGE: i16 = 1;

/// What has been read of one cluster's `__consumer_offsets`.
#[derive(Debug, Default)]
pub struct CommitLog {
    /// Next offset to read, per partition of the topic.
    positions: BTreeMap<i32, i64>,
    /// (group, topic, partition) -> (offset, commit timestamp) of the latest commit read.
    latest: HashMap<(String, String, i32), (i64, i64)>,
    /// Whether the last `catch_up` reached the end it was given on every partition.
    caught_up: bool,
    /// The last reason the topic could not be read, to log it once rather than every tick.
    failing: Option<String>,
}

impl CommitLog {
    /// When `group` committed `offset` on `topic`-`partition`, if that is the latest commit read
    /// and the reader is caught up.
    pub fn commit_timestamp(&self, group: &str, topic: &str, partition: i32, offset: i64) -> Option<i64> {
        if !self.caught_up {
            return None;
        }
        match self.latest.get(&(group.to_string(), topic.to_string(), partition)) {
            Some((committed, ts)) if *committed == offset => Some(*ts),
            _ => None,
        }
    }

    pub fn is_caught_up(&self) -> bool {
        self.caught_up
    }

    /// Reads the topic up to its current end (ListOffsets now), at most `ROUNDS_PER_TICK`
    /// fetches; a cluster without the topic, or one that refuses it, leaves the reader behind
    /// (logged once) and the snapshot uses its fallback.
    pub async fn catch_up(&mut self, client: &Client, partitions: &[i32]) {
        let keys: Vec<(String, i32)> = partitions.iter().map(|p| (TOPIC.to_string(), *p)).collect();
        let (ends, starts) = tokio::join!(
            client.list_offsets(&keys, OffsetSpec::Latest),
            client.list_offsets(&keys, OffsetSpec::Earliest)
        );
        let mut bounds = BTreeMap::new();
        for key in &keys {
            match (ends.get(key), starts.get(key)) {
                (Some(Ok(end)), Some(Ok(start))) => {
                    bounds.insert(key.1, (*start, *end));
                }
                (Some(Err(e)), _) | (_, Some(Err(e))) => return self.fail(e.to_string()),
                _ => return self.fail(format!("no offsets for {TOPIC}-{}", key.1)),
            }
        }
        self.positions.retain(|p, _| bounds.contains_key(p));
        for (partition, (start, end)) in &bounds {
            let position = self.positions.entry(*partition).or_insert(*start);
            // Behind the log start (compaction, retention), or past an end that went backwards
            // (the topic was recreated): read again from the start.
            if *position < *start || *position > *end {
                *position = *start;
            }
        }
        for _ in 0..ROUNDS_PER_TICK {
            let wanted: BTreeMap<(String, i32), i64> = bounds
                .iter()
                .filter(|(p, (_, end))| self.positions[*p] < *end)
                .map(|(p, _)| ((TOPIC.to_string(), *p), self.positions[p]))
                .collect();
            if wanted.is_empty() {
                self.caught_up = true;
                if self.failing.take().is_some() {
                    tracing::info!("{TOPIC} is readable again; commit timestamps come from it");
                }
                return;
            }
            let mut moved = false;
            for ((_, partition), result) in client.fetch(&wanted, Duration::ZERO, FETCH_BYTES).await {
                let fetched = match result {
                    Ok(f) if f.error_code == 0 => f,
                    Ok(f) if f.error_code == OFFSET_OUT_OF_RANGE => {
                        let start = bounds.get(&partition).map_or(0, |(start, _)| *start);
                        self.positions.insert(partition, start.max(f.log_start_offset));
                        moved = true;
                        continue;
                    }
                    Ok(f) => return self.fail(Error::kafka(f.error_code, format!("fetch {TOPIC}")).to_string()),
                    Err(e) => return self.fail(e.to_string()),
                };
                for record in &fetched.records {
                    self.apply(record);
                }
                let position = self.positions.entry(partition).or_default();
                if fetched.next_offset > *position {
                    *position = fetched.next_offset;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        // Still behind after this tick's rounds (a long first read): the fallback applies.
        self.caught_up = false;
    }

    /// One record of the topic: an offset commit, or a tombstone that removes one. Group
    /// metadata records and records this reader cannot decode are skipped.
    fn apply(&mut self, record: &ConsumedRecord) {
        let Some(key) = record.key.as_deref() else { return };
        let Ok(RecordKey::Offset { group, topic, partition }) = decode_key(key) else { return };
        match record.value.as_deref() {
            None => {
                self.latest.remove(&(group, topic, partition));
            }
            Some(value) => match decode_offset_value(value) {
                Ok(v) => {
                    self.latest.insert((group, topic, partition), (v.offset, v.commit_timestamp_ms));
                }
                Err(e) => tracing::debug!(group = %group, error = %e, "skipping an offset commit record"),
            },
        }
    }

    fn fail(&mut self, reason: String) {
        self.caught_up = false;
        if self.failing.as_deref() != Some(reason.as_str()) {
            tracing::warn!(
                reason = %reason,
                "cannot read {TOPIC}; commit times are when an offset was first seen, so STALL shows as STOP"
            );
            self.failing = Some(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_core::formats::{offset_key, offset_value, OffsetValue};

    fn record(offset: i64, key: bytes::Bytes, value: Option<bytes::Bytes>) -> ConsumedRecord {
        ConsumedRecord { offset, timestamp_ms: 0, log_append_time: false, key: Some(key), value, headers: Vec::new() }
    }

    fn commit(offset: i64, ts: i64) -> bytes::Bytes {
        offset_value(&OffsetValue {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: ts,
            expire_timestamp_ms: None,
        })
    }

    #[test]
    fn the_latest_commit_wins_and_a_tombstone_forgets_it() {
        let mut log = CommitLog { caught_up: true, ..CommitLog::default() };
        let key = offset_key("g", "t", 0);
        log.apply(&record(0, key.clone(), Some(commit(5, 1_000))));
        log.apply(&record(1, key.clone(), Some(commit(5, 2_000))));
        assert_eq!(log.commit_timestamp("g", "t", 0, 5), Some(2_000), "a re-commit of the same offset");
        assert_eq!(log.commit_timestamp("g", "t", 0, 6), None, "not the offset OffsetFetch saw");
        log.apply(&record(2, broker_core::formats::group_key("g"), None));
        assert_eq!(log.commit_timestamp("g", "t", 0, 5), Some(2_000), "group records do not touch offsets");
        log.apply(&record(3, key.clone(), Some(bytes::Bytes::from_static(b"\x00\x09garbage"))));
        assert_eq!(log.commit_timestamp("g", "t", 0, 5), Some(2_000), "an unreadable value is skipped");
        log.apply(&record(4, key, None));
        assert_eq!(log.commit_timestamp("g", "t", 0, 5), None);
        log.apply(&record(5, offset_key("h", "t", 1), Some(commit(9, 3_000))));
        log.caught_up = false;
        assert_eq!(log.commit_timestamp("h", "t", 1, 9), None, "only once caught up");
    }
}
