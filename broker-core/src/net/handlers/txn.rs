//! Transactions on the wire: InitProducerId (idempotent and transactional), AddPartitionsToTxn,
//! AddOffsetsToTxn, EndTxn, TxnOffsetCommit, DescribeTransactions, ListTransactions.
//!
//! The coordinator reports a fenced producer as PRODUCER_FENCED; requests older than the version
//! that added that code get INVALID_PRODUCER_EPOCH, as Kafka rewrites it (InitProducerId below
//! v4, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn below v2).

use std::collections::BTreeMap;

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name};
use crate::group::coordinator::OffsetCommit;
use crate::group::txn_offsets::TxnCommitter;
use crate::net::dispatch::Ctx;
use crate::txn::TxnState;

/// PRODUCER_FENCED as a client of `version` knows it.
fn fenced_as(code: ResponseError, version: i16, since: i16) -> ResponseError {
    if code == ResponseError::ProducerFenced && version < since {
        ResponseError::InvalidProducerEpoch
    } else {
        code
    }
}

fn code_of(result: Result<(), ResponseError>, version: i16, since: i16) -> i16 {
    match result {
        Ok(()) => 0,
        Err(e) => fenced_as(e, version, since).code(),
    }
}

pub async fn init_producer_id(ctx: &Ctx<'_>, request: InitProducerIdRequest) -> InitProducerIdResponse {
    let Some(transactional_id) = request.transactional_id.as_ref() else {
        // Idempotence alone: a new producer id, no state kept.
        return InitProducerIdResponse::default()
            .with_producer_id(ProducerId(ctx.cluster.next_producer_id()))
            .with_producer_epoch(0);
    };
    let expected = (request.producer_id.0 >= 0).then_some((request.producer_id.0, request.producer_epoch));
    let result = ctx
        .cluster
        .init_transactional_producer(
            Some(ctx.broker.id),
            transactional_id.as_str(),
            request.transaction_timeout_ms,
            expected,
        )
        .await;
    match result {
        Ok((pid, epoch)) => {
            InitProducerIdResponse::default().with_producer_id(ProducerId(pid)).with_producer_epoch(epoch)
        }
        Err(e) => InitProducerIdResponse::default()
            .with_error_code(fenced_as(e, ctx.version, 4).code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}

pub async fn add_partitions_to_txn(ctx: &Ctx<'_>, request: AddPartitionsToTxnRequest) -> AddPartitionsToTxnResponse {
    let topics = &request.v3_and_below_topics;
    let partition_result = |index: i32, code: i16| {
        AddPartitionsToTxnPartitionResult::default().with_partition_index(index).with_partition_error_code(code)
    };
    let respond = |code_for: &dyn Fn(&str, i32) -> i16| {
        let results = topics
            .iter()
            .map(|t| {
                AddPartitionsToTxnTopicResult::default().with_name(t.name.clone()).with_results_by_partition(
                    t.partitions.iter().map(|p| partition_result(*p, code_for(t.name.as_str(), *p))).collect(),
                )
            })
            .collect();
        AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
    };
    // Kafka's pre-checks: an unknown partition fails, and the others are not attempted.
    let md = ctx.cluster.metadata();
    let unknown = |topic: &str, p: i32| {
        md.topics.get(topic).is_none_or(|t| p < 0 || p as usize >= t.partitions.len())
            || md.topics.get(topic).is_some_and(|t| t.internal)
    };
    if topics.iter().any(|t| t.partitions.iter().any(|p| unknown(t.name.as_str(), *p))) {
        return respond(&|topic, p| {
            if unknown(topic, p) {
                ResponseError::UnknownTopicOrPartition.code()
            } else {
                ResponseError::OperationNotAttempted.code()
            }
        });
    }
    let partitions: Vec<(String, i32)> =
        topics.iter().flat_map(|t| t.partitions.iter().map(move |p| (t.name.to_string(), *p))).collect();
    let result = ctx
        .cluster
        .add_partitions_to_txn(
            Some(ctx.broker.id),
            request.v3_and_below_transactional_id.as_str(),
            request.v3_and_below_producer_id.0,
            request.v3_and_below_producer_epoch,
            &partitions,
        )
        .await;
    let code = code_of(result, ctx.version, 2);
    respond(&|_, _| code)
}

pub async fn add_offsets_to_txn(ctx: &Ctx<'_>, request: AddOffsetsToTxnRequest) -> AddOffsetsToTxnResponse {
    let result = ctx
        .cluster
        .add_offsets_to_txn(
            Some(ctx.broker.id),
            request.transactional_id.as_str(),
            request.producer_id.0,
            request.producer_epoch,
            request.group_id.as_str(),
        )
        .await;
    AddOffsetsToTxnResponse::default().with_error_code(code_of(result, ctx.version, 2))
}

pub async fn end_txn(ctx: &Ctx<'_>, request: EndTxnRequest) -> EndTxnResponse {
    let result = ctx
        .cluster
        .end_txn(
            Some(ctx.broker.id),
            request.transactional_id.as_str(),
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
        )
        .await;
    EndTxnResponse::default().with_error_code(code_of(result, ctx.version, 2))
}

pub async fn txn_offset_commit(ctx: &Ctx<'_>, request: TxnOffsetCommitRequest) -> TxnOffsetCommitResponse {
    let committer = TxnCommitter {
        transactional_id: request.transactional_id.to_string(),
        producer_id: request.producer_id.0,
        producer_epoch: request.producer_epoch,
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
        generation_id: request.generation_id,
    };
    let commits: Vec<OffsetCommit> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| OffsetCommit {
                topic: t.name.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
            })
        })
        .collect();
    let results =
        ctx.cluster.txn_commit_offsets(Some(ctx.broker.id), request.group_id.as_str(), &committer, commits).await;
    let mut results = results.into_iter();
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let code = results.next().map_or(0, |r| r.err().map_or(0, |e| e.code()));
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

pub async fn describe_transactions(
    ctx: &Ctx<'_>,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState as State};
    let states = request
        .transactional_ids
        .iter()
        .map(|id| {
            let state = State::default().with_transactional_id(id.clone());
            let id = id.as_str();
            if id.is_empty() {
                return state.with_error_code(ResponseError::InvalidRequest.code());
            }
            match ctx.cluster.transaction_coordinator(id) {
                Some(b) if b == ctx.broker.id => {}
                Some(_) => return state.with_error_code(ResponseError::NotCoordinator.code()),
                None => return state.with_error_code(ResponseError::CoordinatorNotAvailable.code()),
            }
            let Some(d) = ctx.cluster.describe_transaction(id) else {
                return state.with_error_code(ResponseError::TransactionalIdNotFound.code());
            };
            let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (topic, p) in d.partitions {
                topics.entry(topic).or_default().push(p);
            }
            state
                .with_transaction_state(str_bytes(d.state.name()))
                .with_transaction_timeout_ms(d.timeout_ms)
                .with_transaction_start_time_ms(d.start_ms)
                .with_producer_id(ProducerId(d.producer_id))
                .with_producer_epoch(d.producer_epoch)
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(t, ps)| TopicData::default().with_topic(topic_name(&t)).with_partitions(ps))
                        .collect(),
                )
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

pub async fn list_transactions(ctx: &Ctx<'_>, request: ListTransactionsRequest) -> ListTransactionsResponse {
    use kafka_protocol::messages::list_transactions_response::TransactionState as State;
    let known = |name: &str| TxnState::ALL.iter().any(|s| s.name() == name);
    let unknown_filters: Vec<_> = request.state_filters.iter().filter(|f| !known(f.as_str())).cloned().collect();
    let now = crate::cluster::maintenance::now_ms();
    let states = ctx
        .cluster
        .list_transactions(Some(ctx.broker.id))
        .into_iter()
        .filter(|d| {
            request.state_filters.is_empty() || request.state_filters.iter().any(|f| f.as_str() == d.state.name())
        })
        .filter(|d| {
            request.producer_id_filters.is_empty() || request.producer_id_filters.iter().any(|p| p.0 == d.producer_id)
        })
        .filter(|d| request.duration_filter < 0 || (d.start_ms >= 0 && now - d.start_ms > request.duration_filter))
        .map(|d| {
            State::default()
                .with_transactional_id(TransactionalId(str_bytes(d.transactional_id)))
                .with_producer_id(ProducerId(d.producer_id))
                .with_transaction_state(str_bytes(d.state.name()))
        })
        .collect();
    ListTransactionsResponse::default().with_unknown_state_filters(unknown_filters).with_transaction_states(states)
}
