//! Produce: validate and append each partition's batches on its leader, then answer per `acks`:
//! 0 sends nothing, 1 answers after the leader's append, -1 (all) waits until the high watermark
//! covers the appended records, failing with NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR fell
//! below `min.insync.replicas` meanwhile, or REQUEST_TIMED_OUT after `timeout_ms`.
//!
//! The two halves are separate: [`append`] runs in request order on the connection, and the
//! replication wait ([`Appending::finish`]) may overlap the next requests' appends, so a pipelining
//! acks=all producer is not held to one request per replication round.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::ResponseError;

use crate::cluster::TopicKind;
use crate::net::dispatch::Ctx;
use crate::partition::{Appended, Partition, Refusal};

struct Pending {
    topic: usize,
    partition: usize,
    replica: Arc<Partition>,
    appended: Appended,
}

/// A produce request whose batches are appended, waiting for its acks.
pub struct Appending {
    response: ProduceResponse,
    pending: Vec<Pending>,
    deadline: tokio::time::Instant,
}

impl Appending {
    /// Waits for the ISR where acks=all asked for it, and returns the response.
    pub async fn finish(self) -> ProduceResponse {
        let mut response = self.response;
        for p in self.pending {
            if let Some(code) = p.replica.await_replication(&p.appended, self.deadline).await {
                response.responses[p.topic].partition_responses[p.partition].error_code = code.code();
            }
        }
        response
    }
}

pub async fn handle(ctx: &Ctx<'_>, request: ProduceRequest) -> ProduceResponse {
    append(ctx, request).finish().await
}

/// Validates and appends every partition's batches on this broker, in request order.
pub fn append(ctx: &Ctx<'_>, request: ProduceRequest) -> Appending {
    let acks = request.acks;
    let fsync_each = ctx.cluster.config.flush_interval.is_zero();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    let mut pending = Vec::new();
    for (ti, topic) in request.topic_data.iter().enumerate() {
        let name = topic.name.0.as_str();
        let kind = ctx.cluster.topic_kind(name);
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for (pi, data) in topic.partition_data.iter().enumerate() {
            let mut resp = PartitionProduceResponse::default()
                .with_index(data.index)
                .with_base_offset(-1)
                .with_log_start_offset(-1);
            let outcome = match (kind, ctx.broker.partition(name, data.index), data.records.as_ref()) {
                (None, _, _) => Err(ResponseError::UnknownTopicOrPartition.into()),
                // Kafka refuses client writes to internal topics: a forged commit or a batch the
                // group loader cannot read must never reach `__consumer_offsets`.
                (Some(TopicKind::Internal), _, _) => Err(Refusal::new(
                    ResponseError::InvalidTopicException,
                    format!("cannot append to internal topic {name}"),
                )),
                (Some(_), None, _) => Err(ResponseError::NotLeaderOrFollower.into()),
                (Some(_), Some(_), None) => Err(Refusal::new(ResponseError::InvalidRecord, "no records")),
                // Kafka: transactional batches come with the producer's transactional id.
                (Some(_), Some(_), Some(records)) if request.transactional_id.is_none() && transactional(records) => {
                    Err(Refusal::new(
                        ResponseError::TransactionalIdAuthorizationFailed,
                        "a transactional batch in a request without a transactional id",
                    ))
                }
                // The transaction must be open with this partition in it (KIP-890, in process).
                (Some(_), Some(replica), Some(records)) if transactional(records) && !control(records) => {
                    let id = request.transactional_id.as_ref().map_or("", |t| t.as_str());
                    let _gate = ctx.cluster.txn_write_gate();
                    match crate::log::batch::BatchHeader::parse(records) {
                        Ok(h) => ctx
                            .cluster
                            .verify_txn_write(id, h.producer_id, h.producer_epoch, name, data.index)
                            .map_err(|code| {
                                Refusal::new(
                                    code,
                                    format!("{name}-{} is not in an open transaction of '{id}'", data.index),
                                )
                            })
                            .and_then(|()| replica.append_as_leader(records, acks).map(|a| (replica, a))),
                        Err(e) => Err(Refusal::new(ResponseError::CorruptMessage, e.to_string())),
                    }
                }
                (Some(_), Some(replica), Some(records)) => {
                    replica.append_as_leader(records, acks).map(|a| (replica, a))
                }
            };
            match outcome {
                Ok((replica, appended)) => {
                    if fsync_each {
                        if let Err(e) = replica.flush() {
                            tracing::error!(topic = name, partition = data.index, error = %e, "fsync failed");
                            resp = resp.with_error_code(ResponseError::KafkaStorageError.code());
                            partitions.push(resp);
                            continue;
                        }
                    }
                    resp = resp.with_base_offset(appended.base_offset).with_log_start_offset(appended.log_start_offset);
                    if acks == -1 {
                        pending.push(Pending { topic: ti, partition: pi, replica, appended });
                    }
                }
                Err(refusal) => {
                    if !matches!(refusal.code, ResponseError::NotLeaderOrFollower | ResponseError::NotEnoughReplicas) {
                        tracing::debug!(topic = name, partition = data.index, error = %refusal, "produce refused");
                    }
                    resp = resp.with_error_code(refusal.code.code());
                    if !refusal.message.is_empty() {
                        resp = resp.with_error_message(Some(super::str_bytes(refusal.message)));
                    }
                }
            }
            partitions.push(resp);
        }
        responses
            .push(TopicProduceResponse::default().with_name(topic.name.clone()).with_partition_responses(partitions));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(request.timeout_ms.max(0) as u64);
    Appending { response: ProduceResponse::default().with_responses(responses), pending, deadline }
}

/// Whether the first batch of `records` carries the transactional attribute.
fn transactional(records: &[u8]) -> bool {
    records.len() > 22 && i16::from_be_bytes([records[21], records[22]]) & crate::log::batch::ATTR_TRANSACTIONAL != 0
}

/// Whether the first batch of `records` is a control batch (refused from clients at append).
fn control(records: &[u8]) -> bool {
    records.len() > 22 && i16::from_be_bytes([records[21], records[22]]) & crate::log::batch::ATTR_CONTROL != 0
}

/// Counts the partition errors of a produce response.
pub fn count_errors(cluster: &crate::cluster::Cluster, response: &ProduceResponse) {
    for p in response.responses.iter().flat_map(|t| &t.partition_responses) {
        cluster.stats.error(0, p.error_code);
    }
}
