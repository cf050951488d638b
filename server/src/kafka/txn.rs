//! A transactional producer (KIP-98, as Kafka's clients speak it with transaction.version 0):
//! what the stream jobs' `exactly_once_v2` needs and nothing more.
//!
//! One transaction is written whole by [`TxnProducer::commit`]: AddPartitionsToTxn for every
//! partition it writes, the batches (stamped with the producer id, epoch and per-partition
//! sequences), AddOffsetsToTxn and TxnOffsetCommit for the consumed offsets, then EndTxn. Any
//! error on the way leaves the transaction to be aborted ([`TxnProducer::abort`]) and the caller
//! to start over from its last committed state. An abort re-initializes the producer: the new
//! epoch fences anything of the old one still in flight and starts the sequences over.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, FindCoordinatorRequest, GroupId,
    InitProducerIdRequest, ProducerId, TopicName, TransactionalId, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

use super::client::{millis_i32, retry, Client};
use super::error::{check, Result};
use super::records::{encode_producer_batch, ProduceRecord, ProducerBatch};

/// FindCoordinator's key type for a transactional id.
const TRANSACTION_KEY: i8 = 1;

/// A producer that writes each batch of work as one transaction.
pub struct TxnProducer {
    client: Client,
    transactional_id: String,
    timeout: Duration,
    producer_id: i64,
    producer_epoch: i16,
    /// The next sequence number per partition, for this producer id and epoch.
    sequences: BTreeMap<(String, i32), i32>,
}

fn txn_id(id: &str) -> TransactionalId {
    TransactionalId(StrBytes::from_string(id.to_string()))
}

impl TxnProducer {
    /// InitProducerId for `transactional_id`: fences any earlier producer with the same id and
    /// makes the coordinator abort (or finish committing) the transaction it left open.
    pub async fn init(client: Client, transactional_id: &str, timeout: Duration) -> Result<TxnProducer> {
        let mut producer = TxnProducer {
            client,
            transactional_id: transactional_id.to_string(),
            timeout,
            producer_id: -1,
            producer_epoch: -1,
            sequences: BTreeMap::new(),
        };
        producer.init_producer_id().await?;
        Ok(producer)
    }

    pub fn producer_id(&self) -> (i64, i16) {
        (self.producer_id, self.producer_epoch)
    }

    async fn init_producer_id(&mut self) -> Result<()> {
        let timeout_ms = millis_i32(self.timeout);
        let id = self.transactional_id.clone();
        let response = retry!(
            self.client,
            async {
                let response = self
                    .call_coordinator(Duration::ZERO, |_v| {
                        InitProducerIdRequest::default()
                            .with_transactional_id(Some(txn_id(&id)))
                            .with_transaction_timeout_ms(timeout_ms)
                            .with_producer_id(ProducerId(-1))
                            .with_producer_epoch(-1)
                    })
                    .await?;
                check(response.error_code, || format!("InitProducerId for '{id}'"))?;
                Ok(response)
            }
            .await
        )?;
        self.producer_id = response.producer_id.0;
        self.producer_epoch = response.producer_epoch;
        self.sequences.clear();
        Ok(())
    }

    /// One attempt of a request to the transaction coordinator; `extra` extends the timeout.
    async fn call_coordinator<R: kafka_protocol::protocol::Request>(
        &self,
        extra: Duration,
        build: impl FnOnce(i16) -> R,
    ) -> Result<R::Response> {
        let coordinator = self.coordinator().await?;
        self.client.call_broker(coordinator, extra, build).await
    }

    /// The broker coordinating this transactional id (cached beside the group coordinators).
    async fn coordinator(&self) -> Result<i32> {
        let cache_key = format!("transaction:{}", self.transactional_id);
        if let Some(id) = self.client.cached_coordinator(&cache_key) {
            return Ok(id);
        }
        let key = self.transactional_id.clone();
        let response = self
            .client
            .call_any(|_v| {
                FindCoordinatorRequest::default()
                    .with_key(StrBytes::from_string(key.clone()))
                    .with_key_type(TRANSACTION_KEY)
            })
            .await?;
        check(response.error_code, || format!("coordinator of transactional id '{key}'"))?;
        let id = response.node_id.0;
        if !self.client.cached_metadata().brokers.contains_key(&id) {
            self.client.metadata(Some(&[])).await?;
        }
        self.client.remember_coordinator(&cache_key, id);
        Ok(id)
    }

    /// Writes `records` ((topic, partition) -> records) and commits `offsets` for `group` in
    /// one transaction. On an error the transaction is not committed: call [`Self::abort`].
    pub async fn commit(
        &mut self,
        records: &BTreeMap<(String, i32), Vec<ProduceRecord>>,
        group: &str,
        offsets: &BTreeMap<(String, i32), (i64, Option<String>)>,
    ) -> Result<()> {
        self.send(records).await?;
        self.finish(group, offsets).await
    }

    /// The first half of [`Self::commit`]: adds the partitions to the transaction and writes
    /// the records (acknowledged by the ISR, invisible to read_committed readers until the commit).
    pub async fn send(&mut self, records: &BTreeMap<(String, i32), Vec<ProduceRecord>>) -> Result<()> {
        let records: BTreeMap<&(String, i32), &Vec<ProduceRecord>> =
            records.iter().filter(|(_, r)| !r.is_empty()).collect();
        if records.is_empty() {
            return Ok(());
        }
        self.add_partitions(records.keys().map(|k| (*k).clone()).collect()).await?;
        let mut encoded: BTreeMap<(String, i32), Bytes> = BTreeMap::new();
        for (key, batch) in &records {
            let base_sequence = self.sequences.get(*key).copied().unwrap_or(0);
            let producer = ProducerBatch {
                producer_id: self.producer_id,
                producer_epoch: self.producer_epoch,
                base_sequence,
                transactional: true,
            };
            encoded.insert((*key).clone(), encode_producer_batch(batch, Compression::None, Some(producer))?);
        }
        let results = self.client.produce_encoded(&encoded, -1, Some(&self.transactional_id)).await;
        for (key, result) in results {
            result?;
            let count = records.get(&key).map_or(0, |r| r.len() as i32);
            let next = self.sequences.get(&key).copied().unwrap_or(0).wrapping_add(count) & i32::MAX;
            self.sequences.insert(key, next);
        }
        Ok(())
    }

    /// The second half of [`Self::commit`]: adds `offsets` for `group` and commits the
    /// transaction (a transaction with nothing in it is committed all the same: EndTxn answers
    /// at once).
    pub async fn finish(
        &mut self,
        group: &str,
        offsets: &BTreeMap<(String, i32), (i64, Option<String>)>,
    ) -> Result<()> {
        if !offsets.is_empty() {
            self.add_offsets(group).await?;
            self.txn_offset_commit(group, offsets).await?;
        }
        self.end(true).await
    }

    /// Aborts the open transaction, if any, and starts a new epoch: the coordinator aborts
    /// whatever this producer left open, so nothing of it can ever become visible.
    pub async fn abort(&mut self) -> Result<()> {
        // EndTxn(abort) may fail when nothing is open or the coordinator moved; a new
        // InitProducerId aborts an open transaction in any case.
        let _ = self.end(false).await;
        self.init_producer_id().await
    }

    async fn add_partitions(&self, partitions: Vec<(String, i32)>) -> Result<()> {
        let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (t, p) in partitions {
            topics.entry(t).or_default().push(p);
        }
        let id = self.transactional_id.clone();
        retry!(
            self.client,
            async {
                let response = self
                    .call_coordinator(Duration::ZERO, |_v| {
                        AddPartitionsToTxnRequest::default()
                            .with_v3_and_below_transactional_id(txn_id(&id))
                            .with_v3_and_below_producer_id(ProducerId(self.producer_id))
                            .with_v3_and_below_producer_epoch(self.producer_epoch)
                            .with_v3_and_below_topics(
                                topics
                                    .iter()
                                    .map(|(t, ps)| {
                                        AddPartitionsToTxnTopic::default()
                                            .with_name(TopicName(StrBytes::from_string(t.clone())))
                                            .with_partitions(ps.clone())
                                    })
                                    .collect(),
                            )
                    })
                    .await?;
                check(response.error_code, || format!("AddPartitionsToTxn for '{id}'"))?;
                for t in &response.results_by_topic_v3_and_below {
                    for p in &t.results_by_partition {
                        check(p.partition_error_code, || {
                            format!("adding {}-{} to the transaction of '{id}'", t.name.0, p.partition_index)
                        })?;
                    }
                }
                Ok(())
            }
            .await
        )
    }

    async fn add_offsets(&self, group: &str) -> Result<()> {
        let id = self.transactional_id.clone();
        retry!(
            self.client,
            async {
                let response = self
                    .call_coordinator(Duration::ZERO, |_v| {
                        AddOffsetsToTxnRequest::default()
                            .with_transactional_id(txn_id(&id))
                            .with_producer_id(ProducerId(self.producer_id))
                            .with_producer_epoch(self.producer_epoch)
                            .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
                    })
                    .await?;
                check(response.error_code, || format!("AddOffsetsToTxn for '{id}' and group '{group}'"))
            }
            .await
        )
    }

    async fn txn_offset_commit(
        &self,
        group: &str,
        offsets: &BTreeMap<(String, i32), (i64, Option<String>)>,
    ) -> Result<()> {
        let mut topics: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
        for ((t, p), (offset, metadata)) in offsets {
            topics.entry(t.as_str()).or_default().push(
                TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(*p)
                    .with_committed_offset(*offset)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(metadata.clone().map(StrBytes::from_string)),
            );
        }
        let id = self.transactional_id.clone();
        retry!(
            self.client,
            async {
                let coordinator = self.client.find_coordinator(group).await?;
                let response = self
                    .client
                    .call_broker(coordinator, Duration::ZERO, |_v| {
                        TxnOffsetCommitRequest::default()
                            .with_transactional_id(txn_id(&id))
                            .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
                            .with_producer_id(ProducerId(self.producer_id))
                            .with_producer_epoch(self.producer_epoch)
                            .with_generation_id(-1)
                            .with_member_id(StrBytes::default())
                            .with_topics(
                                topics
                                    .iter()
                                    .map(|(t, ps)| {
                                        TxnOffsetCommitRequestTopic::default()
                                            .with_name(TopicName(StrBytes::from_string((*t).to_string())))
                                            .with_partitions(ps.clone())
                                    })
                                    .collect(),
                            )
                    })
                    .await?;
                for t in &response.topics {
                    for p in &t.partitions {
                        check(p.error_code, || {
                            format!("TxnOffsetCommit of {}-{} for group '{group}'", t.name.0, p.partition_index)
                        })?;
                    }
                }
                Ok(())
            }
            .await
        )
    }

    async fn end(&self, committed: bool) -> Result<()> {
        let id = self.transactional_id.clone();
        let what = if committed { "commit" } else { "abort" };
        retry!(
            self.client,
            async {
                let response = self
                    .call_coordinator(self.timeout, |_v| {
                        EndTxnRequest::default()
                            .with_transactional_id(txn_id(&id))
                            .with_producer_id(ProducerId(self.producer_id))
                            .with_producer_epoch(self.producer_epoch)
                            .with_committed(committed)
                    })
                    .await?;
                check(response.error_code, || format!("EndTxn ({what}) for '{id}'"))
            }
            .await
        )
    }
}
