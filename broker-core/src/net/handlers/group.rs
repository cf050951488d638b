//! Group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
//! OffsetFetch, ListGroups, DescribeGroups, DeleteGroups. Each converts between the wire types and
//! the coordinator in `crate::group`; every refusal is an error code in the response.

use std::time::Duration;

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name};
use crate::group::coordinator::{Committer, OffsetCommit, SyncRequest};
use crate::group::{GroupState, JoinRequest};
use crate::net::dispatch::Ctx;

fn code(e: Option<ResponseError>) -> i16 {
    e.map_or(0, |e| e.code())
}

pub async fn find_coordinator(ctx: &Ctx<'_>, request: FindCoordinatorRequest) -> FindCoordinatorResponse {
    let key = request.key.to_string();
    let mut response =
        FindCoordinatorResponse::default().with_node_id(BrokerId(-1)).with_host(str_bytes("")).with_port(-1);
    let found = match request.key_type {
        0 => ctx.cluster.group_coordinator(&key).and_then(|id| ctx.cluster.broker(id).cloned()).ok_or((
            ResponseError::CoordinatorNotAvailable,
            format!("the __consumer_offsets partition of group '{key}' has no leader"),
        )),
        1 => transaction_coordinator(ctx, &key).await,
        other => Err((ResponseError::InvalidRequest, format!("unknown coordinator key type {other}"))),
    };
    match found {
        Ok(broker) => {
            response = response
                .with_node_id(BrokerId(broker.id))
                .with_host(str_bytes(broker.addr.ip().to_string()))
                .with_port(i32::from(broker.addr.port()));
        }
        Err((e, message)) => {
            response = response.with_error_code(e.code());
            if ctx.version >= 1 {
                response = response.with_error_message(Some(str_bytes(message)));
            }
        }
    }
    if ctx.version >= 4 {
        response.coordinators = vec![Coordinator::default()
            .with_key(request.key.clone())
            .with_node_id(response.node_id)
            .with_host(response.host.clone())
            .with_port(response.port)
            .with_error_code(response.error_code)
            .with_error_message(response.error_message.clone())];
    }
    response
}

/// The transaction coordinator of `key`, creating `__transaction_state` on first use (as Kafka
/// does; off the async workers, it fsyncs).
async fn transaction_coordinator(
    ctx: &Ctx<'_>,
    key: &str,
) -> Result<std::sync::Arc<crate::cluster::Broker>, (ResponseError, String)> {
    if key.is_empty() {
        return Err((ResponseError::InvalidRequest, "an empty transactional id".into()));
    }
    if !ctx.cluster.has_topic(crate::txn::TRANSACTION_STATE) {
        let cluster = std::sync::Arc::clone(ctx.cluster);
        let created = tokio::task::spawn_blocking(move || cluster.ensure_transaction_state()).await;
        if let Ok(Err(e)) | Err(e) =
            created.map_err(|e| crate::cluster::AdminError::new(ResponseError::UnknownServerError, e.to_string()))
        {
            tracing::warn!(error = %e, "cannot create __transaction_state");
            return Err((ResponseError::CoordinatorNotAvailable, format!("cannot create __transaction_state: {e}")));
        }
    }
    ctx.cluster.transaction_coordinator(key).and_then(|id| ctx.cluster.broker(id).cloned()).ok_or((
        ResponseError::CoordinatorNotAvailable,
        format!("the __transaction_state partition of transactional id '{key}' has no leader"),
    ))
}

pub async fn join_group(ctx: &Ctx<'_>, request: JoinGroupRequest) -> JoinGroupResponse {
    // v0 has one timeout for both.
    let rebalance_ms = if ctx.version >= 1 { request.rebalance_timeout_ms } else { request.session_timeout_ms };
    let req = JoinRequest {
        group_id: request.group_id.to_string(),
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id: ctx.client_id.to_string(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout: Duration::from_millis(request.session_timeout_ms.max(0) as u64),
        rebalance_timeout: Duration::from_millis(rebalance_ms.max(0) as u64),
        protocol_type: request.protocol_type.to_string(),
        protocols: request.protocols.iter().map(|p| (p.name.to_string(), p.metadata.clone())).collect(),
        require_known_member_id: ctx.version >= 4,
    };
    let result = ctx.cluster.join_group(ctx.broker.id, req).await;
    ctx.cluster.stats.error(11, code(result.error));
    let protocol_name = match result.protocol_name {
        Some(name) => Some(str_bytes(name)),
        // Non-nullable before v7.
        None if ctx.version < 7 => Some(str_bytes("")),
        None => None,
    };
    JoinGroupResponse::default()
        .with_error_code(code(result.error))
        .with_generation_id(result.generation_id)
        .with_protocol_type(result.protocol_type.map(str_bytes))
        .with_protocol_name(protocol_name)
        .with_leader(str_bytes(result.leader))
        .with_member_id(str_bytes(result.member_id))
        .with_members(
            result
                .members
                .into_iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(str_bytes(m.member_id))
                        .with_group_instance_id(m.group_instance_id.map(str_bytes))
                        .with_metadata(m.metadata)
                })
                .collect(),
        )
}

pub async fn sync_group(ctx: &Ctx<'_>, request: SyncGroupRequest) -> SyncGroupResponse {
    let req = SyncRequest {
        group_id: request.group_id.to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
        protocol_type: request.protocol_type.as_ref().map(|s| s.to_string()),
        protocol_name: request.protocol_name.as_ref().map(|s| s.to_string()),
        assignments: request.assignments.iter().map(|a| (a.member_id.to_string(), a.assignment.clone())).collect(),
    };
    let result = ctx.cluster.sync_group(ctx.broker.id, req).await;
    ctx.cluster.stats.error(14, result.as_ref().err().map_or(0, |e| e.code()));
    let mut response = match result {
        Ok(assignment) => SyncGroupResponse::default().with_assignment(assignment),
        Err(e) => SyncGroupResponse::default().with_error_code(e.code()),
    };
    if ctx.version >= 5 && response.error_code == 0 {
        response = response
            .with_protocol_type(request.protocol_type.clone())
            .with_protocol_name(request.protocol_name.clone());
    }
    response
}

pub async fn heartbeat(ctx: &Ctx<'_>, request: HeartbeatRequest) -> HeartbeatResponse {
    let result = ctx.cluster.heartbeat(
        ctx.broker.id,
        &request.group_id,
        &request.member_id,
        request.group_instance_id.as_deref(),
        request.generation_id,
    );
    let error = code(result.err());
    ctx.cluster.stats.error(12, error);
    HeartbeatResponse::default().with_error_code(error)
}

pub async fn leave_group(ctx: &Ctx<'_>, request: LeaveGroupRequest) -> LeaveGroupResponse {
    let members: Vec<(String, Option<String>)> = if ctx.version >= 3 {
        request
            .members
            .iter()
            .map(|m| (m.member_id.to_string(), m.group_instance_id.as_ref().map(|s| s.to_string())))
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    match ctx.cluster.leave_group(ctx.broker.id, &request.group_id, &members).await {
        Err(e) => LeaveGroupResponse::default().with_error_code(e.code()),
        Ok(results) if ctx.version >= 3 => LeaveGroupResponse::default().with_members(
            members
                .into_iter()
                .zip(results)
                .map(|((member_id, instance), r)| {
                    MemberResponse::default()
                        .with_member_id(str_bytes(member_id))
                        .with_group_instance_id(instance.map(str_bytes))
                        .with_error_code(code(r.err()))
                })
                .collect(),
        ),
        Ok(results) => LeaveGroupResponse::default().with_error_code(code(results.into_iter().find_map(Result::err))),
    }
}

pub async fn offset_commit(ctx: &Ctx<'_>, request: OffsetCommitRequest) -> OffsetCommitResponse {
    let commits: Vec<OffsetCommit> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| OffsetCommit {
                topic: t.name.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
            })
        })
        .collect();
    let committer = Committer {
        generation_id: request.generation_id_or_member_epoch,
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
    };
    let mut results =
        ctx.cluster.commit_offsets(Some(ctx.broker.id), &request.group_id, &committer, commits).await.into_iter();
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let error = results.next().and_then(Result::err);
                    ctx.cluster.stats.error(8, code(error));
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code(error))
                })
                .collect();
            OffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

pub async fn offset_fetch(ctx: &Ctx<'_>, request: OffsetFetchRequest) -> OffsetFetchResponse {
    let wanted: Option<Vec<(String, i32)>> = request.topics.as_ref().map(|topics| {
        topics.iter().flat_map(|t| t.partition_indexes.iter().map(|p| (t.name.to_string(), *p))).collect()
    });
    // v1 has no top-level error: a group-level error goes on every requested partition.
    let (found, error) = match ctx.cluster.fetch_offsets(ctx.broker.id, &request.group_id, wanted.as_deref()) {
        Ok(found) => (found, None),
        Err(e) => (wanted.clone().unwrap_or_default().into_iter().map(|(t, p)| (t, p, None)).collect(), Some(e)),
    };
    // read_committed consumers ask for stable offsets: one a transaction may still change is
    // UNSTABLE_OFFSET_COMMIT, which they retry (KIP-447).
    let unstable = if ctx.version >= 7 && request.require_stable {
        ctx.cluster.pending_txn_partitions(request.group_id.as_str())
    } else {
        Default::default()
    };
    let mut topics: Vec<OffsetFetchResponseTopic> = Vec::new();
    for (topic, partition, committed) in found {
        let partition = match committed {
            _ if unstable.contains(&(topic.clone(), partition)) => OffsetFetchResponsePartition::default()
                .with_partition_index(partition)
                .with_committed_offset(-1)
                .with_committed_leader_epoch(-1)
                .with_metadata(Some(str_bytes("")))
                .with_error_code(ResponseError::UnstableOffsetCommit.code()),
            Some(c) => OffsetFetchResponsePartition::default()
                .with_partition_index(partition)
                .with_committed_offset(c.offset)
                .with_committed_leader_epoch(c.leader_epoch)
                .with_metadata(Some(str_bytes(c.metadata))),
            None => OffsetFetchResponsePartition::default()
                .with_partition_index(partition)
                .with_committed_offset(-1)
                .with_committed_leader_epoch(-1)
                .with_metadata(Some(str_bytes(""))),
        };
        let partition = if ctx.version < 2 { partition.with_error_code(code(error)) } else { partition };
        match topics.last_mut() {
            Some(t) if t.name.0.as_str() == topic => t.partitions.push(partition),
            _ => topics.push(
                OffsetFetchResponseTopic::default().with_name(topic_name(&topic)).with_partitions(vec![partition]),
            ),
        }
    }
    let response = OffsetFetchResponse::default().with_topics(topics);
    if ctx.version >= 2 {
        response.with_error_code(code(error))
    } else {
        response
    }
}

pub async fn list_groups(ctx: &Ctx<'_>, request: ListGroupsRequest) -> ListGroupsResponse {
    let states: Vec<String> = request.states_filter.iter().map(|s| s.to_lowercase()).collect();
    let groups = ctx
        .cluster
        .list_groups(Some(ctx.broker.id))
        .into_iter()
        .filter(|g| states.is_empty() || states.contains(&g.state.name().to_lowercase()))
        .map(|g| {
            let listed = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(g.group_id)))
                .with_protocol_type(str_bytes(g.protocol_type));
            if ctx.version >= 4 {
                listed.with_group_state(str_bytes(g.state.name()))
            } else {
                listed
            }
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

pub async fn describe_groups(ctx: &Ctx<'_>, request: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let groups = request
        .groups
        .iter()
        .map(|id| {
            let described = DescribedGroup::default().with_group_id(id.clone());
            let coordinator = ctx.cluster.group_coordinator(id);
            if coordinator != Some(ctx.broker.id) {
                let e = if coordinator.is_some() {
                    ResponseError::NotCoordinator
                } else {
                    ResponseError::CoordinatorNotAvailable
                };
                return described.with_error_code(e.code());
            }
            let Some(g) = ctx.cluster.describe_group(id) else {
                // Kafka describes an unknown group as Dead with no error.
                return described.with_group_state(str_bytes(GroupState::Dead.name()));
            };
            described
                .with_group_state(str_bytes(g.state.name()))
                .with_protocol_type(str_bytes(g.protocol_type))
                .with_protocol_data(str_bytes(g.protocol))
                .with_members(
                    g.members
                        .into_iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(str_bytes(m.member_id))
                                .with_group_instance_id(m.group_instance_id.map(str_bytes))
                                .with_client_id(str_bytes(m.client_id))
                                .with_client_host(str_bytes(m.client_host))
                                .with_member_metadata(m.metadata)
                                .with_member_assignment(m.assignment)
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub async fn delete_groups(ctx: &Ctx<'_>, request: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(request.groups_names.len());
    for id in &request.groups_names {
        if !ctx.principal.may_administer() {
            results.push(
                DeletableGroupResult::default()
                    .with_group_id(id.clone())
                    .with_error_code(ResponseError::GroupAuthorizationFailed.code()),
            );
            continue;
        }
        let error = ctx.cluster.delete_group(Some(ctx.broker.id), id).await.err();
        results.push(DeletableGroupResult::default().with_group_id(id.clone()).with_error_code(code(error)));
    }
    DeleteGroupsResponse::default().with_results(results)
}
