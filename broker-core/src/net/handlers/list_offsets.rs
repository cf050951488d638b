//! ListOffsets: -1 latest (the high watermark), -2 earliest (the log start), -3 the newest
//! timestamp (v7), otherwise the first record at or after a timestamp. v0 (sarama, Burrow 1.2.1)
//! goes through the hand-written shim and answers with a list of one offset.

use std::sync::Arc;

use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::ResponseError;

use crate::cluster::{Broker, Cluster};
use crate::net::dispatch::Ctx;
use crate::protocol::list_offsets_v0;

pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;
pub const MAX_TIMESTAMP: i64 = -3;

/// `(offset, timestamp, leader_epoch)` for one partition, or the Kafka error.
pub fn lookup(
    cluster: &Cluster,
    broker: &Broker,
    topic: &str,
    partition: i32,
    timestamp: i64,
    read_committed: bool,
) -> Result<(i64, i64, i32), ResponseError> {
    if !cluster.has_topic(topic) {
        return Err(ResponseError::UnknownTopicOrPartition);
    }
    let replica = broker.partition(topic, partition).ok_or(ResponseError::NotLeaderOrFollower)?;
    if replica.role() != crate::partition::Role::Leader {
        return Err(ResponseError::NotLeaderOrFollower);
    }
    let epoch = replica.leader_epoch();
    match timestamp {
        LATEST if read_committed => Ok((replica.last_stable_offset(), -1, epoch)),
        LATEST => Ok((replica.high_watermark(), -1, epoch)),
        EARLIEST => Ok((replica.log_start_offset(), -1, epoch)),
        MAX_TIMESTAMP => {
            let max = replica.max_timestamp();
            Ok(match replica.offset_for_timestamp(max)? {
                Some((offset, ts)) if max >= 0 => (offset, ts, epoch),
                _ => (-1, -1, epoch),
            })
        }
        ts => Ok(match replica.offset_for_timestamp(ts)? {
            Some((offset, found)) => (offset, found, epoch),
            None => (-1, -1, epoch),
        }),
    }
}

pub async fn handle(ctx: &Ctx<'_>, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let read_committed = request.isolation_level == 1;
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let resp = ListOffsetsPartitionResponse::default().with_partition_index(p.partition_index);
                    match lookup(
                        ctx.cluster,
                        ctx.broker,
                        t.name.0.as_str(),
                        p.partition_index,
                        p.timestamp,
                        read_committed,
                    ) {
                        // leader_epoch exists from v4; the codec refuses it set on older versions.
                        Ok((offset, ts, epoch)) => resp
                            .with_offset(offset)
                            .with_timestamp(ts)
                            .with_leader_epoch(if ctx.version >= 4 { epoch } else { -1 }),
                        Err(code) => resp.with_error_code(code.code()).with_offset(-1).with_timestamp(-1),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

pub fn handle_v0(
    cluster: &Arc<Cluster>,
    broker: &Arc<Broker>,
    request: list_offsets_v0::Request,
) -> Vec<(String, Vec<list_offsets_v0::PartitionResponse>)> {
    request
        .topics
        .into_iter()
        .map(|(topic, parts)| {
            let parts = parts
                .into_iter()
                .map(|p| match lookup(cluster, broker, &topic, p.partition, p.timestamp, false) {
                    Ok((offset, _, _)) => list_offsets_v0::PartitionResponse {
                        partition: p.partition,
                        error_code: 0,
                        offsets: if p.max_num_offsets > 0 && offset >= 0 { vec![offset] } else { Vec::new() },
                    },
                    Err(code) => list_offsets_v0::PartitionResponse {
                        partition: p.partition,
                        error_code: code.code(),
                        offsets: Vec::new(),
                    },
                })
                .collect();
            (topic, parts)
        })
        .collect()
}
