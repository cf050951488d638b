//! Records in and out: Produce, Fetch and ListOffsets, routed to partition leaders and batched
//! per leader, and the record-batch encoding on both sides (`RecordBatchEncoder`/`Decoder`).
//!
//! A fetch response may end with a batch cut short by `max_bytes`; only whole batches are
//! decoded (their length is checked first), records below the fetch offset and control records
//! are dropped, so a consumer sees each offset once and in order.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, DeleteRecordsRequest, FetchRequest, ListOffsetsRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

use super::client::Client;
use super::error::{check, Error, Result};

/// One record to produce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProduceRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    pub timestamp_ms: i64,
}

/// One record as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub offset: i64,
    pub timestamp_ms: i64,
    pub log_append_time: bool,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// One partition of a fetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPartition {
    pub topic: String,
    pub partition: i32,
    pub error_code: i16,
    pub high_watermark: i64,
    /// The last stable offset (-1 when the broker does not say, before Fetch v4).
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub records: Vec<ConsumedRecord>,
    /// The offset after the last whole batch returned (the fetch offset when none was): where
    /// the next fetch starts even when those batches held no records to show (control batches,
    /// batches that compaction emptied).
    pub next_offset: i64,
}

/// Which offset ListOffsets looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark.
    Latest,
    /// The first offset whose timestamp is at or after this many milliseconds.
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(ms) => ms,
        }
    }
}

/// Per-partition results of a batched operation.
pub type PartitionResults<T> = BTreeMap<(String, i32), Result<T>>;

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// Who writes a batch, for idempotent and transactional producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub transactional: bool,
}

/// One v2 record batch holding `records`.
pub fn encode_batch(records: &[ProduceRecord], compression: Compression) -> Result<Bytes> {
    encode_producer_batch(records, compression, None)
}

/// One v2 record batch holding `records`, stamped with `producer` when given.
pub fn encode_producer_batch(
    records: &[ProduceRecord],
    compression: Compression,
    producer: Option<ProducerBatch>,
) -> Result<Bytes> {
    let (producer_id, producer_epoch, base_sequence, transactional) = match producer {
        Some(p) => (p.producer_id, p.producer_epoch, p.base_sequence, p.transactional),
        // The encoder starts a new batch whenever offset - sequence changes; a sequence of
        // offset - 1 keeps one batch with baseSequence -1 (no idempotence).
        None => (-1, -1, -1, false),
    };
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: base_sequence.wrapping_add(i as i32),
            timestamp: r.timestamp_ms,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r.headers.iter().map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone())).collect(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression })
        .map_err(|e| Error::Invalid(format!("cannot encode a record batch: {e}")))?;
    Ok(buf.freeze())
}

/// The records of every whole batch in `bytes` at or above `from_offset`, control records
/// skipped, and the offset after the last whole batch (`from_offset` when there is none). A
/// trailing partial batch is ignored; a corrupt one is an error.
pub fn decode_batches(bytes: Bytes, from_offset: i64) -> std::result::Result<(Vec<ConsumedRecord>, i64), String> {
    decode_committed(bytes, from_offset, &[])
}

/// [`decode_batches`] for a read_committed fetch: the records of the `aborted` transactions
/// ((producer id, first offset), from the fetch response) are dropped as Kafka's consumers drop
/// them: a producer's transactional records from an aborted transaction's first offset on, up to
/// its abort marker.
pub fn decode_committed(
    mut bytes: Bytes,
    from_offset: i64,
    aborted: &[(i64, i64)],
) -> std::result::Result<(Vec<ConsumedRecord>, i64), String> {
    // Per producer, the first offsets of its aborted transactions, in order; and the producers
    // inside one now.
    let mut starts: BTreeMap<i64, std::collections::VecDeque<i64>> = BTreeMap::new();
    let mut sorted = aborted.to_vec();
    sorted.sort_unstable_by_key(|(_, first)| *first);
    for (pid, first) in sorted {
        starts.entry(pid).or_default().push_back(first);
    }
    let mut aborting = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let mut next_offset = from_offset;
    // baseOffset i64, batchLength i32, partitionLeaderEpoch i32, magic i8, crc u32,
    // attributes i16, lastOffsetDelta i32 (bytes 23..27); the rest is batchLength bytes.
    while bytes.len() >= 12 {
        let length = i32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let Ok(length) = usize::try_from(length) else { return Err(format!("negative batch length {length}")) };
        let Some(total) = length.checked_add(12).filter(|t| *t <= bytes.len()) else { break };
        let mut batch = bytes.split_to(total);
        if batch.len() >= 27 {
            let base = i64::from_be_bytes(batch[0..8].try_into().expect("8 bytes"));
            let delta = i32::from_be_bytes(batch[23..27].try_into().expect("4 bytes"));
            next_offset = next_offset.max(base.saturating_add(i64::from(delta)).saturating_add(1));
        }
        // A cluster's answer is untrusted too: decompression is bounded.
        let set = broker_core::formats::decode_batch(&mut batch, broker_core::formats::DEFAULT_MAX_UNCOMPRESSED)
            .map_err(|e| format!("record batch: {e}"))?;
        for r in set.records {
            if r.control {
                // An abort marker ends its producer's aborted transaction.
                let abort = r.key.as_ref().is_some_and(|k| k.len() >= 4 && k[0..4] == [0, 0, 0, 0]);
                if abort && aborting.remove(&r.producer_id) {
                    if let Some(queue) = starts.get_mut(&r.producer_id) {
                        queue.pop_front();
                    }
                }
                continue;
            }
            if r.transactional {
                if starts.get(&r.producer_id).and_then(|q| q.front()).is_some_and(|first| *first <= r.offset) {
                    aborting.insert(r.producer_id);
                }
                if aborting.contains(&r.producer_id) {
                    continue;
                }
            }
            if r.offset < from_offset {
                continue;
            }
            out.push(ConsumedRecord {
                offset: r.offset,
                timestamp_ms: r.timestamp,
                log_append_time: r.timestamp_type == TimestampType::LogAppend,
                key: r.key,
                value: r.value,
                headers: r.headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            });
        }
    }
    Ok((out, next_offset))
}

impl Client {
    /// Produces `batches` (partition -> records) to `topic`, one request per leader, retrying
    /// partitions whose leader moved. Returns each partition's base offset (-1 with acks=0).
    pub async fn produce(
        &self,
        topic: &str,
        batches: &BTreeMap<i32, Vec<ProduceRecord>>,
        acks: i16,
        compression: Compression,
    ) -> Result<BTreeMap<i32, i64>> {
        let mut encoded = BTreeMap::new();
        for (partition, records) in batches.iter().filter(|(_, r)| !r.is_empty()) {
            encoded.insert((topic.to_string(), *partition), encode_batch(records, compression)?);
        }
        let mut offsets = BTreeMap::new();
        for ((_, partition), result) in self.produce_encoded(&encoded, acks, None).await {
            offsets.insert(partition, result?);
        }
        Ok(offsets)
    }

    /// Produces pre-encoded batches ((topic, partition) -> batch), one request per leader for
    /// all topics, retrying partitions whose leader moved; a transactional producer names its
    /// `transactional_id`. Answers each partition's base offset (-1 with acks=0).
    pub async fn produce_encoded(
        &self,
        encoded: &BTreeMap<(String, i32), Bytes>,
        acks: i16,
        transactional_id: Option<&str>,
    ) -> PartitionResults<i64> {
        let op = LeaderOp::Produce { encoded, acks, transactional_id };
        self.for_leaders(encoded.keys().cloned().collect(), &op).await
    }

    /// ListOffsets for many partitions, one request per leader.
    pub async fn list_offsets(&self, partitions: &[(String, i32)], spec: OffsetSpec) -> PartitionResults<i64> {
        self.for_leaders(partitions.to_vec(), &LeaderOp::ListOffsets(spec)).await
    }

    /// One attempt of `op` for `partitions`, all led by `leader`.
    async fn send_to_leader(
        &self,
        leader: i32,
        partitions: &[(String, i32)],
        op: &LeaderOp<'_>,
    ) -> Result<Vec<((String, i32), Result<i64>)>> {
        let mut out = Vec::new();
        match op {
            LeaderOp::Produce { encoded, acks, transactional_id } => {
                let timeout_ms = super::client::millis_i32(self.config().request_timeout);
                let build = |_v: i16| {
                    let mut topics: BTreeMap<&str, Vec<PartitionProduceData>> = BTreeMap::new();
                    for key in partitions {
                        topics.entry(key.0.as_str()).or_default().push(
                            PartitionProduceData::default().with_index(key.1).with_records(encoded.get(key).cloned()),
                        );
                    }
                    ProduceRequest::default()
                        .with_transactional_id(transactional_id.map(|t| StrBytes::from_string(t.to_string()).into()))
                        .with_acks(*acks)
                        .with_timeout_ms(timeout_ms)
                        .with_topic_data(
                            topics
                                .into_iter()
                                .map(|(t, data)| {
                                    TopicProduceData::default().with_name(topic_name(t)).with_partition_data(data)
                                })
                                .collect(),
                        )
                };
                if *acks == 0 {
                    let connection = self.broker(leader).await?;
                    let version = connection.version(ApiKey::Produce)?;
                    connection.send_only(version, &build(version), self.config().request_timeout).await?;
                    return Ok(partitions.iter().map(|k| (k.clone(), Ok(-1))).collect());
                }
                let response = self.call_broker(leader, Duration::ZERO, build).await?;
                for t in response.responses {
                    for p in t.partition_responses {
                        let key = (t.name.0.to_string(), p.index);
                        let result = check(p.error_code, || format!("producing to {}-{}", key.0, key.1));
                        out.push((key, result.map(|()| p.base_offset)));
                    }
                }
            }
            LeaderOp::ListOffsets(spec) => {
                let build = |_v: i16| {
                    let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
                    for (t, p) in partitions {
                        topics.entry(t.as_str()).or_default().push(
                            ListOffsetsPartition::default()
                                .with_partition_index(*p)
                                .with_current_leader_epoch(-1)
                                .with_timestamp(spec.wire()),
                        );
                    }
                    ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(
                        topics
                            .into_iter()
                            .map(|(t, ps)| ListOffsetsTopic::default().with_name(topic_name(t)).with_partitions(ps))
                            .collect(),
                    )
                };
                let response = self.call_broker(leader, Duration::ZERO, build).await?;
                for t in response.topics {
                    for p in t.partitions {
                        let key = (t.name.0.to_string(), p.partition_index);
                        let result = check(p.error_code, || format!("offsets of {}-{}", key.0, key.1));
                        out.push((key, result.map(|()| p.offset)));
                    }
                }
            }
            LeaderOp::DeleteRecords(offsets) => {
                let timeout_ms = super::client::millis_i32(self.config().request_timeout);
                let build = |_v: i16| {
                    let mut topics: BTreeMap<&str, Vec<DeleteRecordsPartition>> = BTreeMap::new();
                    for key in partitions {
                        topics.entry(key.0.as_str()).or_default().push(
                            DeleteRecordsPartition::default()
                                .with_partition_index(key.1)
                                .with_offset(offsets.get(key).copied().unwrap_or(-1)),
                        );
                    }
                    DeleteRecordsRequest::default().with_timeout_ms(timeout_ms).with_topics(
                        topics
                            .into_iter()
                            .map(|(t, ps)| DeleteRecordsTopic::default().with_name(topic_name(t)).with_partitions(ps))
                            .collect(),
                    )
                };
                let response = self.call_broker(leader, Duration::ZERO, build).await?;
                for t in response.topics {
                    for p in t.partitions {
                        let key = (t.name.0.to_string(), p.partition_index);
                        let result = check(p.error_code, || format!("deleting records of {}-{}", key.0, key.1));
                        out.push((key, result.map(|()| p.low_watermark)));
                    }
                }
            }
        }
        Ok(out)
    }

    /// DeleteRecords: deletes each partition's records below its offset (-1: up to the high
    /// watermark), one request per leader; answers each partition's new low watermark.
    pub async fn delete_records(&self, offsets: &BTreeMap<(String, i32), i64>) -> PartitionResults<i64> {
        self.for_leaders(offsets.keys().cloned().collect(), &LeaderOp::DeleteRecords(offsets)).await
    }

    /// One Fetch per leader for `positions` ((topic, partition) -> offset), waiting up to
    /// `max_wait` for data. Partition errors come back in `FetchedPartition::error_code`;
    /// a leader that cannot be reached yields an `Err` for its partitions.
    pub async fn fetch(
        &self,
        positions: &BTreeMap<(String, i32), i64>,
        max_wait: Duration,
        partition_max_bytes: i32,
    ) -> PartitionResults<FetchedPartition> {
        let (grouped, failed) = self.by_leader(positions.keys().cloned()).await;
        let mut out: PartitionResults<FetchedPartition> = failed.into_iter().map(|(k, e)| (k, Err(e))).collect();
        let mut tasks = tokio::task::JoinSet::new();
        for (leader, partitions) in grouped {
            for chunk in partitions.chunks(self.config().partitions_per_request.max(1)) {
                let client = self.clone();
                let wanted: BTreeMap<(String, i32), i64> =
                    chunk.iter().map(|k| (k.clone(), positions.get(k).copied().unwrap_or(0))).collect();
                tasks.spawn(async move {
                    let result = client.fetch_from(leader, &wanted, max_wait, partition_max_bytes).await;
                    (wanted, result)
                });
            }
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((wanted, result)) = joined else { continue };
            match result {
                Ok(fetched) => {
                    for p in fetched {
                        out.insert((p.topic.clone(), p.partition), Ok(p));
                    }
                }
                Err(e) => {
                    self.recover(&e);
                    for key in wanted.into_keys() {
                        out.insert(key, Err(e.clone()));
                    }
                }
            }
        }
        out
    }

    async fn fetch_from(
        &self,
        leader: i32,
        wanted: &BTreeMap<(String, i32), i64>,
        max_wait: Duration,
        partition_max_bytes: i32,
    ) -> Result<Vec<FetchedPartition>> {
        let max_wait_ms = i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX);
        let build = |_v: i16| {
            let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
            for ((t, p), offset) in wanted {
                topics.entry(t.as_str()).or_default().push(
                    FetchPartition::default()
                        .with_partition(*p)
                        .with_current_leader_epoch(-1)
                        .with_fetch_offset(*offset)
                        .with_log_start_offset(-1)
                        .with_partition_max_bytes(partition_max_bytes),
                );
            }
            FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_max_wait_ms(max_wait_ms)
                .with_min_bytes(1)
                .with_max_bytes(partition_max_bytes.saturating_mul(wanted.len().max(1) as i32))
                .with_isolation_level(i8::from(self.config().read_committed))
                .with_session_id(0)
                .with_session_epoch(-1)
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(t, ps)| FetchTopic::default().with_topic(topic_name(t)).with_partitions(ps))
                        .collect(),
                )
        };
        let response = self.call_broker(leader, max_wait, build).await?;
        check(response.error_code, || format!("fetch from broker {leader}"))?;
        let mut out = Vec::new();
        for t in response.responses {
            let topic = t.topic.0.to_string();
            for p in t.partitions {
                let from = wanted.get(&(topic.clone(), p.partition_index)).copied().unwrap_or(0);
                let aborted: Vec<(i64, i64)> =
                    p.aborted_transactions.iter().flatten().map(|a| (a.producer_id.0, a.first_offset)).collect();
                let (records, next_offset) = match p.records {
                    Some(bytes) if p.error_code == 0 => decode_committed(bytes, from, &aborted).map_err(|reason| {
                        Error::Malformed { api: "Fetch", addr: format!("broker {leader}"), reason }
                    })?,
                    _ => (Vec::new(), from),
                };
                out.push(FetchedPartition {
                    topic: topic.clone(),
                    partition: p.partition_index,
                    error_code: p.error_code,
                    high_watermark: p.high_watermark,
                    last_stable_offset: p.last_stable_offset,
                    log_start_offset: p.log_start_offset,
                    records,
                    next_offset,
                });
            }
        }
        Ok(out)
    }

    /// Sends `op` once per leader with that leader's partitions, and again (after the backoff
    /// and a metadata refresh) for partitions that failed with a retriable error, until all
    /// succeeded or `retry_timeout` passed.
    async fn for_leaders(&self, partitions: Vec<(String, i32)>, op: &LeaderOp<'_>) -> PartitionResults<i64> {
        let mut results: PartitionResults<i64> = BTreeMap::new();
        let mut todo = partitions;
        let mut backoff = super::client::Backoff::new(self.config());
        loop {
            let (grouped, failed) = self.by_leader(todo.drain(..)).await;
            for (key, e) in failed {
                results.insert(key, Err(e));
            }
            for (leader, keys) in grouped {
                for chunk in keys.chunks(self.config().partitions_per_request.max(1)) {
                    match self.send_to_leader(leader, chunk, op).await {
                        Ok(answers) => results.extend(answers),
                        Err(e) => results.extend(chunk.iter().map(|k| (k.clone(), Err(e.clone())))),
                    }
                }
            }
            let retry: Vec<(String, i32)> = results
                .iter()
                .filter(|(_, r)| r.as_ref().is_err_and(Error::is_retriable))
                .map(|(k, _)| k.clone())
                .collect();
            let Some(Err(first)) = retry.first().and_then(|k| results.get(k)) else { return results };
            self.recover(first);
            match backoff.next_delay() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return results,
            }
            todo = retry;
        }
    }
}

/// What `for_leaders` sends: both answer with one offset per partition.
enum LeaderOp<'a> {
    /// Pre-encoded batches per partition.
    Produce {
        encoded: &'a BTreeMap<(String, i32), Bytes>,
        acks: i16,
        transactional_id: Option<&'a str>,
    },
    ListOffsets(OffsetSpec),
    /// DeleteRecords: the offset below which each partition's records go; answers the low
    /// watermark.
    DeleteRecords(&'a BTreeMap<(String, i32), i64>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: i64) -> ProduceRecord {
        ProduceRecord {
            key: (i % 2 == 0).then(|| Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("v{i}"))),
            headers: vec![("h".into(), None)],
            timestamp_ms: 1_700_000_000_000 + i,
        }
    }

    /// Encoded batches decode back, whole batches only, from the asked offset on.
    #[test]
    fn batches_round_trip_and_partial_tails_are_ignored() {
        for compression in
            [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]
        {
            let records: Vec<ProduceRecord> = (0..5).map(record).collect();
            let first = encode_batch(&records[..3], compression).expect("encode");
            // A second batch at base offset 3: patch baseOffset (not under the CRC).
            let mut second = BytesMut::from(&encode_batch(&records[3..], compression).expect("encode")[..]);
            second[..8].copy_from_slice(&3i64.to_be_bytes());
            let mut all = BytesMut::from(&first[..]);
            all.extend_from_slice(&second);
            let all = all.freeze();

            assert_eq!(first.len(), 12 + i32::from_be_bytes([first[8], first[9], first[10], first[11]]) as usize);
            let (got, next) = decode_batches(all.clone(), 1).expect("decode");
            assert_eq!(next, 5, "after the second batch");
            assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), [1, 2, 3, 4], "{compression:?}");
            assert_eq!(got[0].value.as_deref(), Some(&b"v1"[..]));
            assert_eq!(got[1].key.as_deref(), Some(&b"k2"[..]));
            assert_eq!(got[3].timestamp_ms, 1_700_000_000_004);
            assert_eq!(got[0].headers, vec![("h".to_string(), None)]);

            // Cut inside the second batch: only the first comes back.
            let cut = all.slice(..first.len() + 20);
            assert_eq!(decode_batches(cut.clone(), 0).expect("decode").0.len(), 3);
            assert_eq!(decode_batches(cut, 0).expect("decode").1, 3, "the partial batch is not counted");
        }
    }

    /// Every single-byte corruption of a compressed batch, and every cut of a Fetch response,
    /// decodes to data or an error; none panics.
    #[test]
    fn corrupt_batches_and_cut_responses_never_panic() {
        use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
        use kafka_protocol::messages::FetchResponse;
        use kafka_protocol::protocol::{Decodable, Encodable};
        let records: Vec<ProduceRecord> = (0..20).map(record).collect();
        for compression in
            [Compression::None, Compression::Gzip, Compression::Lz4, Compression::Zstd, Compression::Snappy]
        {
            let batch = encode_batch(&records, compression).expect("encode");
            for i in 0..batch.len() {
                for flip in [0x01, 0x80, 0xff] {
                    let mut bad = BytesMut::from(&batch[..]);
                    bad[i] ^= flip;
                    let _ = decode_batches(bad.freeze(), 0);
                }
            }
        }
        let batch = encode_batch(&records, Compression::None).expect("encode");
        let response = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
            .with_topic(topic_name("t"))
            .with_partitions(vec![PartitionData::default().with_high_watermark(20).with_records(Some(batch))])]);
        for version in [4i16, 11, 12] {
            let mut full = BytesMut::new();
            response.encode(&mut full, version).expect("encode");
            let full = full.freeze();
            assert!(FetchResponse::decode(&mut full.clone(), version).is_ok());
            for cut in 0..full.len() {
                let _ = FetchResponse::decode(&mut full.slice(..cut), version);
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut bad = BytesMut::from(&encode_batch(&[record(1)], Compression::None).expect("encode")[..]);
        let last = bad.len() - 1;
        bad[last] ^= 0x5a;
        assert!(decode_batches(bad.freeze(), 0).is_err());
        let mut negative = vec![0u8; 12];
        negative[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(decode_batches(Bytes::from(negative), 0).is_err());
        assert_eq!(decode_batches(Bytes::from_static(&[1, 2, 3]), 7).expect("short"), (Vec::new(), 7));
    }
}
