//! Requests about one broker's logs: DeleteRecords (the leader moves its log start and waits for
//! the in-sync followers to follow), OffsetForLeaderEpoch (where an epoch ends, so a client
//! can detect truncation after a leader change) and DescribeLogDirs (sizes per partition).

use std::time::Duration;

use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name};
use crate::cluster::TopicKind;
use crate::net::dispatch::Ctx;
use crate::partition::Role;

/// The longest a DeleteRecords request waits for followers, whatever it asks.
const MAX_DELETE_WAIT: Duration = Duration::from_secs(60);

pub async fn delete_records(ctx: &Ctx<'_>, request: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let timeout = Duration::from_millis(u64::try_from(request.timeout_ms).unwrap_or(0)).min(MAX_DELETE_WAIT);
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let name = t.name.as_str();
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let result = DeleteRecordsPartitionResult::default().with_partition_index(p.partition_index);
            let outcome = match ctx.cluster.topic_kind(name) {
                None => Err(ResponseError::UnknownTopicOrPartition),
                Some(TopicKind::Internal) => Err(ResponseError::InvalidTopicException),
                Some(TopicKind::User) if !ctx.principal.may_administer() => Err(ResponseError::TopicAuthorizationFailed),
                Some(TopicKind::User) => match ctx.broker.partition(name, p.partition_index) {
                    None => Err(ResponseError::NotLeaderOrFollower),
                    Some(replica) => replica.delete_records(p.offset).map_err(|e| {
                        tracing::info!(topic = name, partition = p.partition_index, offset = p.offset, error = %e, "DeleteRecords refused");
                        e.code
                    }),
                },
            };
            partitions.push(match outcome {
                Ok(start) => {
                    tracing::info!(
                        topic = name,
                        partition = p.partition_index,
                        log_start_offset = start,
                        "records deleted"
                    );
                    (result, Some(start))
                }
                Err(code) => (result.with_error_code(code.code()).with_low_watermark(-1), None),
            });
        }
        topics.push((t.name.clone(), partitions));
    }
    // The new log starts must survive a crash: checkpoint them before answering.
    if topics.iter().any(|(_, ps)| ps.iter().any(|(_, s)| s.is_some())) {
        let broker = std::sync::Arc::clone(ctx.broker);
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || broker.checkpoint_log_starts()).await {
            tracing::error!(broker = ctx.broker.id, error = %e, "cannot write the log start checkpoint after DeleteRecords");
        }
    }
    let mut results = Vec::with_capacity(topics.len());
    for (name, partitions) in topics {
        let mut out = Vec::with_capacity(partitions.len());
        for (result, start) in partitions {
            let Some(start) = start else {
                out.push(result);
                continue;
            };
            let index = result.partition_index;
            let low = ctx.cluster.await_log_start(name.as_str(), index, start, timeout).await.unwrap_or(-1);
            out.push(if low >= start {
                result.with_low_watermark(low)
            } else {
                result.with_low_watermark(low).with_error_code(ResponseError::RequestTimedOut.code())
            });
        }
        results.push(DeleteRecordsTopicResult::default().with_name(name).with_partitions(out));
    }
    DeleteRecordsResponse::default().with_topics(results)
}

pub async fn offset_for_leader_epoch(
    ctx: &Ctx<'_>,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let result = EpochEndOffset::default().with_partition(p.partition);
                    let fail = |code: ResponseError| {
                        result.clone().with_error_code(code.code()).with_leader_epoch(-1).with_end_offset(-1)
                    };
                    let Some(replica) = ctx.broker.partition(t.topic.as_str(), p.partition) else {
                        return fail(if ctx.cluster.has_topic(t.topic.as_str()) {
                            ResponseError::NotLeaderOrFollower
                        } else {
                            ResponseError::UnknownTopicOrPartition
                        });
                    };
                    if replica.role() != Role::Leader {
                        return fail(ResponseError::NotLeaderOrFollower);
                    }
                    let current = replica.leader_epoch();
                    if p.current_leader_epoch >= 0 && p.current_leader_epoch < current {
                        return fail(ResponseError::FencedLeaderEpoch);
                    }
                    if p.current_leader_epoch > current {
                        return fail(ResponseError::UnknownLeaderEpoch);
                    }
                    let (epoch, end) = replica.end_offset_for_epoch(p.leader_epoch);
                    result.with_leader_epoch(epoch).with_end_offset(end)
                })
                .collect();
            OffsetForLeaderTopicResult::default().with_topic(t.topic.clone()).with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

pub async fn describe_log_dirs(ctx: &Ctx<'_>, request: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let wanted = |topic: &str, index: i32| {
        request
            .topics
            .as_ref()
            .is_none_or(|ts| ts.iter().any(|t| t.topic.as_str() == topic && t.partitions.contains(&index)))
    };
    let mut by_topic: std::collections::BTreeMap<String, Vec<DescribeLogDirsPartition>> = Default::default();
    for replica in ctx.broker.partitions() {
        if !wanted(&replica.topic, replica.index) {
            continue;
        }
        // Kafka's offset lag of a current log: how far its end trails the high watermark.
        let lag = (replica.high_watermark() - replica.log_end_offset()).max(0);
        by_topic.entry(replica.topic.to_string()).or_default().push(
            DescribeLogDirsPartition::default()
                .with_partition_index(replica.index)
                .with_partition_size(i64::try_from(replica.size_bytes()).unwrap_or(i64::MAX))
                .with_offset_lag(lag),
        );
    }
    let topics = by_topic
        .into_iter()
        .map(|(name, mut partitions)| {
            partitions.sort_by_key(|p| p.partition_index);
            DescribeLogDirsTopic::default().with_name(topic_name(&name)).with_partitions(partitions)
        })
        .collect();
    let dir = ctx.broker.dir().canonicalize().unwrap_or_else(|_| ctx.broker.dir().to_path_buf());
    let result = DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(dir.display().to_string()))
        .with_topics(topics)
        .with_total_bytes(-1)
        .with_usable_bytes(-1);
    DescribeLogDirsResponse::default().with_results(vec![result])
}
