//! Fetch: whole batches from the one containing each fetch offset, below the high watermark
//! (read_uncommitted) or the last stable offset (read_committed, which also gets the aborted
//! transactions the records may hold), long-polling on `max_wait_ms`/`min_bytes`. Every answer
//! carries the last stable offset, whatever the isolation level (librdkafka's end of partition
//! for read_committed consumers is there).
//!
//! A response carries at most `min(max_bytes, fetch_max_bytes)` of records (a `max_bytes` of 0 or
//! less is 1: one batch, as KIP-74 allows), and each partition once however often the request
//! names it: what one request may cost is bounded by the broker, not the client.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{AbortedTransaction, FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId};
use kafka_protocol::ResponseError;

use crate::net::dispatch::Ctx;

pub async fn handle(ctx: &Ctx<'_>, request: FetchRequest) -> FetchResponse {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(request.max_wait_ms.clamp(0, 30_000) as u64);
    let min_bytes = request.min_bytes.max(0) as usize;
    let max_bytes = (request.max_bytes.max(1) as usize).min(ctx.cluster.config.limits.fetch_max_bytes);
    loop {
        let activity = Arc::clone(ctx.cluster.activity());
        let notified = activity.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (response, bytes, errors) = read_once(ctx, &request, max_bytes);
        if bytes >= min_bytes.max(1) || errors || tokio::time::Instant::now() >= deadline {
            return response;
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// One pass over the requested partitions: the response, the record bytes in it, and whether
/// any partition had an error (which ends the long poll).
fn read_once(ctx: &Ctx<'_>, request: &FetchRequest, max_bytes: usize) -> (FetchResponse, usize, bool) {
    let read_committed = request.isolation_level == 1;
    if request.replica_id.0 < 0 {
        ctx.cluster.note_fetch_isolation(ctx.client_id, read_committed);
    }
    let mut total = 0usize;
    let mut errors = false;
    let mut topics = Vec::with_capacity(request.topics.len());
    let mut seen = std::collections::HashSet::new();
    for topic in &request.topics {
        let name = topic.topic.0.as_str();
        let known = ctx.cluster.has_topic(name);
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            if !seen.insert((name, p.partition)) {
                continue;
            }
            let mut data = PartitionData::default()
                .with_partition_index(p.partition)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1)
                .with_aborted_transactions(read_committed.then(Vec::new));
            let replica = match (known, ctx.broker.partition(name, p.partition)) {
                (false, _) => Err(ResponseError::UnknownTopicOrPartition),
                (true, None) => Err(ResponseError::NotLeaderOrFollower),
                (true, Some(r)) => Ok(r),
            };
            let result = replica.and_then(|r| {
                // The first partition with data gets at least its first batch even past the budget
                // (KIP-74); later ones only what is left.
                let budget = (p.partition_max_bytes.max(0) as usize).min(max_bytes.saturating_sub(total));
                let budget = if budget == 0 && total > 0 { 0 } else { budget.max(1) };
                let read = r.plan_consumer_read(p.fetch_offset, budget, read_committed)?;
                let records = match read.plan.as_ref().filter(|_| budget > 0) {
                    Some(plan) => plan.execute().map_err(|_| ResponseError::KafkaStorageError)?,
                    None => Bytes::new(),
                };
                Ok((r, read, records))
            });
            match result {
                Ok((r, read, records)) => {
                    total += records.len();
                    // read_committed: only the aborted transactions that may hold records of what
                    // is returned, those starting before the end of the last returned batch.
                    let aborted = read.aborted.map(|list| {
                        let returned_end = if list.is_empty() {
                            p.fetch_offset
                        } else {
                            crate::log::batch::split_trusted(&records)
                                .ok()
                                .and_then(|b| b.last().map(|(_, h)| h.next_offset()))
                                .unwrap_or(p.fetch_offset)
                        };
                        list.into_iter()
                            .filter(|(_, first)| *first < returned_end)
                            .map(|(pid, first)| {
                                AbortedTransaction::default().with_producer_id(ProducerId(pid)).with_first_offset(first)
                            })
                            .collect()
                    });
                    data = data
                        .with_high_watermark(read.high_watermark)
                        .with_last_stable_offset(read.last_stable_offset)
                        .with_log_start_offset(r.log_start_offset())
                        .with_aborted_transactions(aborted)
                        .with_records(Some(records));
                }
                Err(code) => {
                    errors = true;
                    ctx.cluster.stats.error(1, code.code());
                    data = data.with_error_code(code.code()).with_records(Some(Bytes::new()));
                    if let Some(r) = ctx.broker.partition(name, p.partition) {
                        data = data.with_high_watermark(r.high_watermark()).with_log_start_offset(r.log_start_offset());
                    }
                }
            }
            partitions.push(data);
        }
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(topic.topic.clone())
                .with_topic_id(topic.topic_id)
                .with_partitions(partitions),
        );
    }
    (FetchResponse::default().with_responses(topics), total, errors)
}
