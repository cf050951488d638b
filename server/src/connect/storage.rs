//! Connect's three internal topics on the cluster, through warren's own client: made at start
//! (`connect-configs` one partition, `connect-offsets` 25 and `connect-status` 5, all compacted,
//! Kafka's defaults), read whole at start, written as Kafka's worker writes them. Config records
//! are acknowledged by the ISR before the worker acts on them; records are partitioned by key
//! as Kafka's producer does, so Kafka's own workers and tools find them where they expect.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use kafka_protocol::records::Compression;

use super::plugin::{set_offset, Offsets};
use super::topics::{decode_offset_key, decode_offset_value, offset_key, offset_value, ConfigRecord, OffsetMap};
use crate::kafka::admin::NewTopic;
use crate::kafka::records::{ConsumedRecord, OffsetSpec, ProduceRecord};
use crate::kafka::Client;
use crate::tools::producer::key_partition;

pub const CONFIG_TOPIC: &str = "connect-configs";
pub const OFFSET_TOPIC: &str = "connect-offsets";
pub const STATUS_TOPIC: &str = "connect-status";
pub const OFFSET_PARTITIONS: i32 = 25;
pub const STATUS_PARTITIONS: i32 = 5;

/// Kafka's TOPIC_ALREADY_EXISTS.
const TOPIC_ALREADY_EXISTS: i16 = 36;
const FETCH_BYTES: i32 = 4 << 20;
/// How long a read waits for an open transaction to end: past the transactions' timeout.
pub const OPEN_TRANSACTION_WAIT: Duration = Duration::from_secs(90);

/// The internal topics of one worker.
#[derive(Clone)]
pub struct Storage {
    client: Client,
}

impl Storage {
    pub fn new(client: Client) -> Storage {
        Storage { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the three topics unless they exist, and waits until their partitions are known.
    pub async fn ensure_topics(&self) -> anyhow::Result<()> {
        let compact = vec![("cleanup.policy".to_string(), "compact".to_string())];
        for (topic, partitions) in
            [(CONFIG_TOPIC, 1), (OFFSET_TOPIC, OFFSET_PARTITIONS), (STATUS_TOPIC, STATUS_PARTITIONS)]
        {
            let new = NewTopic {
                name: topic.to_string(),
                partitions: Some(partitions),
                replication_factor: None,
                configs: compact.clone(),
            };
            match self.client.create_topic(&new).await {
                Ok(()) => {}
                Err(e) if e.code() == Some(TOPIC_ALREADY_EXISTS) => {}
                Err(e) => return Err(e).with_context(|| format!("creating topic '{topic}'")),
            }
            let found = self.partitions(topic).await?;
            anyhow::ensure!(found > 0, "topic '{topic}' has no partitions yet");
            anyhow::ensure!(
                topic != CONFIG_TOPIC || found == 1,
                "topic '{CONFIG_TOPIC}' has {found} partitions: Connect needs exactly one"
            );
        }
        Ok(())
    }

    /// How many partitions `topic` has (0 when it is unknown).
    pub async fn partitions(&self, topic: &str) -> anyhow::Result<i32> {
        let metadata = self.client.metadata(Some(&[topic])).await?;
        Ok(metadata.topics.get(topic).map_or(0, |t| t.partitions.len() as i32))
    }

    /// Every committed record of `topic`, partition by partition, up to the ends it has now.
    /// A partition whose end is held by an open transaction is waited for (its producer ends
    /// it, or the coordinator aborts it at its timeout), at most [`OPEN_TRANSACTION_WAIT`]:
    /// skipping past it would skip the offsets committed after it.
    pub async fn read_all(&self, topic: &str) -> anyhow::Result<Vec<ConsumedRecord>> {
        let deadline = tokio::time::Instant::now() + OPEN_TRANSACTION_WAIT;
        let partitions = self.partitions(topic).await?;
        let keys: Vec<(String, i32)> = (0..partitions).map(|p| (topic.to_string(), p)).collect();
        let mut ends = BTreeMap::new();
        for (key, end) in self.client.list_offsets(&keys, OffsetSpec::Latest).await {
            ends.insert(key, end?);
        }
        let mut positions = BTreeMap::new();
        for (key, start) in self.client.list_offsets(&keys, OffsetSpec::Earliest).await {
            positions.insert(key, start?);
        }
        let mut out = Vec::new();
        while !positions.is_empty() {
            positions.retain(|key, position| ends.get(key).is_some_and(|end| *position < *end));
            if positions.is_empty() {
                break;
            }
            for (key, fetched) in self.client.fetch(&positions, Duration::ZERO, FETCH_BYTES).await {
                let fetched = fetched?;
                crate::kafka::error::check(fetched.error_code, || format!("reading {}-{}", key.0, key.1))?;
                let end = ends.get(&key).copied().unwrap_or(0);
                out.extend(fetched.records.into_iter().filter(|r| r.offset < end));
                let position = positions.get_mut(&key).expect("fetched what was asked");
                if fetched.next_offset > *position {
                    *position = fetched.next_offset;
                } else {
                    anyhow::ensure!(
                        tokio::time::Instant::now() < deadline,
                        "{}-{} stays held below offset {end} by an open transaction",
                        key.0,
                        key.1
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Ok(out)
    }

    /// Writes config records to `connect-configs` in order, acknowledged by the ISR.
    pub async fn write_configs(&self, records: &[ConfigRecord]) -> anyhow::Result<()> {
        let batch: Vec<ProduceRecord> = records
            .iter()
            .filter_map(ConfigRecord::encode)
            .map(|(key, value)| ProduceRecord {
                key: Some(Bytes::from(key.into_bytes())),
                value: value.map(Bytes::from),
                headers: Vec::new(),
                timestamp_ms: crate::monitor::now_ms(),
            })
            .collect();
        self.client.produce(CONFIG_TOPIC, &BTreeMap::from([(0, batch)]), -1, Compression::None).await?;
        Ok(())
    }

    /// Writes a status record (`status-connector-<c>` or `status-task-<c>-<n>`; None: a tombstone).
    pub async fn write_status(&self, key: &str, value: Option<Vec<u8>>) -> anyhow::Result<()> {
        let partition = key_partition(key.as_bytes(), STATUS_PARTITIONS);
        let record = ProduceRecord {
            key: Some(Bytes::from(key.as_bytes().to_vec())),
            value: value.map(Bytes::from),
            headers: Vec::new(),
            timestamp_ms: crate::monitor::now_ms(),
        };
        self.client.produce(STATUS_TOPIC, &BTreeMap::from([(partition, vec![record])]), 1, Compression::None).await?;
        Ok(())
    }

    /// The committed offsets of every connector's source partitions, from `connect-offsets`.
    pub async fn read_all_offsets(&self) -> anyhow::Result<BTreeMap<String, Offsets>> {
        let mut offsets: BTreeMap<String, Offsets> = BTreeMap::new();
        for record in self.read_all(OFFSET_TOPIC).await? {
            let Some((connector, partition)) = record.key.as_deref().and_then(decode_offset_key) else { continue };
            set_offset(offsets.entry(connector).or_default(), partition, decode_offset_value(record.value.as_deref()));
        }
        Ok(offsets)
    }

    /// The committed offsets of `connector`'s source partitions.
    pub async fn read_offsets(&self, connector: &str) -> anyhow::Result<Offsets> {
        Ok(self.read_all_offsets().await?.remove(connector).unwrap_or_default())
    }

    /// Writes offsets outside any transaction (the offsets API; None: a tombstone).
    pub async fn write_offsets(
        &self,
        connector: &str,
        offsets: &[(OffsetMap, Option<OffsetMap>)],
    ) -> anyhow::Result<()> {
        let mut batches: BTreeMap<i32, Vec<ProduceRecord>> = BTreeMap::new();
        for (partition, offset) in offsets {
            let (p, record) = offset_record(connector, partition, offset.as_ref());
            batches.entry(p).or_default().push(record);
        }
        self.client.produce(OFFSET_TOPIC, &batches, -1, Compression::None).await?;
        Ok(())
    }
}

/// The `connect-offsets` record of one source partition's offset, and its partition.
pub fn offset_record(connector: &str, partition: &OffsetMap, offset: Option<&OffsetMap>) -> (i32, ProduceRecord) {
    let key = offset_key(connector, partition);
    let p = key_partition(&key, OFFSET_PARTITIONS);
    let record = ProduceRecord {
        key: Some(Bytes::from(key)),
        value: offset_value(offset).map(Bytes::from),
        headers: Vec::new(),
        timestamp_ms: crate::monitor::now_ms(),
    };
    (p, record)
}
