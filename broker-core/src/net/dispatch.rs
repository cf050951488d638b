//! Routes a request frame to its handler by API key and version, and frames the response.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::BytesMut;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Encodable;

use super::handlers;
use super::sasl::{Next, Session};
use crate::cluster::{Broker, Cluster};
use crate::protocol::{self, Decoded, ProtocolError, Request};
use crate::security::Principal;

/// What a handler sees of its request.
pub struct Ctx<'a> {
    pub cluster: &'a Arc<Cluster>,
    pub broker: &'a Arc<Broker>,
    pub version: i16,
    /// The request header's client id ("" when null).
    pub client_id: &'a str,
    pub peer: SocketAddr,
    /// Who the connection speaks for (authenticated, when the listener requires it).
    pub principal: &'a Principal,
}

/// A handled request: its response now (`None` for acks=0), or later (an acks=all produce whose
/// records are appended and which waits for the ISR).
pub enum Handled {
    Now(Option<BytesMut>),
    Later(Deferred),
    /// Send this, then close the connection (a failed authentication).
    Last(BytesMut),
}

pub type Deferred = Pin<Box<dyn Future<Output = Result<BytesMut, ProtocolError>> + Send>>;

/// Whether a decoded request may be answered later, overlapping the requests after it: only
/// acks=all produces, whose appends still happen in order.
pub fn may_defer(decoded: &Decoded) -> bool {
    matches!(decoded, Decoded::Request { request, .. } if matches!(&**request, Request::Produce(r) if r.acks == -1))
}

/// Handles one decoded request.
pub async fn handle(
    cluster: &Arc<Cluster>,
    broker: &Arc<Broker>,
    peer: SocketAddr,
    session: &mut Session,
    decoded: Decoded,
) -> Result<Handled, ProtocolError> {
    let (api, version, header, request) = match decoded {
        Decoded::UnsupportedApiVersions { correlation_id } => {
            return Ok(Handled::Now(Some(protocol::api_versions_unsupported(correlation_id))));
        }
        Decoded::Request { api, version, header, request } => (api, version, header, request),
    };
    let cid = header.correlation_id;
    if !session.allows(api) {
        return Err(ProtocolError::NotAuthenticated(api_name(api)));
    }
    let limit = cluster.config.limits.max_partitions_per_request;
    let count = super::limits::entries(&request);
    if count > limit {
        cluster.stats.error(api as i16, kafka_protocol::ResponseError::PolicyViolation.code());
        return Err(ProtocolError::TooManyEntries { what: api_name(api), count, limit });
    }
    let started = std::time::Instant::now();
    let client_id = header.client_id.as_deref().unwrap_or("");
    let encode = |body: &dyn ErasedEncode| body.encode_frame(api, version, cid);
    // The SASL requests change the session; everything else reads its principal.
    let request = match *request {
        Request::SaslHandshake(r) => {
            let response = session.handshake(cluster, version, r.mechanism.as_str());
            cluster.stats.request(api as i16, started.elapsed());
            return Ok(Handled::Now(Some(encode(&response)?)));
        }
        Request::SaslAuthenticate(r) => {
            let (response, next) = session.authenticate_response(cluster, &r.auth_bytes, peer).await;
            cluster.stats.request(api as i16, started.elapsed());
            let frame = encode(&response)?;
            return Ok(if next == Next::Close { Handled::Last(frame) } else { Handled::Now(Some(frame)) });
        }
        other => other,
    };
    let anonymous = Principal::Anonymous;
    let principal = session.principal().unwrap_or(&anonymous);
    let ctx = Ctx { cluster, broker, version, client_id, peer, principal };
    let out = match request {
        Request::SaslHandshake(_) | Request::SaslAuthenticate(_) => unreachable!("handled above"),
        Request::ApiVersions(_) => encode(&protocol::api_versions_response(0))?,
        Request::Metadata(r) => encode(&handlers::metadata::handle(&ctx, r).await)?,
        Request::Produce(r) if r.acks == -1 => {
            let appending = handlers::produce::append(&ctx, r);
            let cluster = Arc::clone(cluster);
            return Ok(Handled::Later(Box::pin(async move {
                let response = appending.finish().await;
                handlers::produce::count_errors(&cluster, &response);
                cluster.stats.request(api as i16, started.elapsed());
                protocol::encode_response(api, version, cid, &response)
            })));
        }
        Request::Produce(r) => {
            let acks = r.acks;
            let response = handlers::produce::handle(&ctx, r).await;
            handlers::produce::count_errors(cluster, &response);
            if acks == 0 {
                cluster.stats.request(api as i16, started.elapsed());
                return Ok(Handled::Now(None));
            }
            encode(&response)?
        }
        Request::Fetch(r) => encode(&handlers::fetch::handle(&ctx, r).await)?,
        Request::ListOffsets(r) => encode(&handlers::list_offsets::handle(&ctx, r).await)?,
        Request::ListOffsetsV0(r) => {
            let topics = handlers::list_offsets::handle_v0(cluster, broker, r);
            protocol::list_offsets_v0::encode(cid, &topics)
        }
        Request::CreateTopics(r) => encode(&handlers::admin::create_topics(&ctx, r).await)?,
        Request::DeleteTopics(r) => encode(&handlers::admin::delete_topics(&ctx, r).await)?,
        Request::CreatePartitions(r) => encode(&handlers::admin::create_partitions(&ctx, r).await)?,
        Request::DescribeConfigs(r) => encode(&handlers::configs::describe_configs(&ctx, r).await)?,
        Request::InitProducerId(r) => encode(&handlers::txn::init_producer_id(&ctx, r).await)?,
        Request::FindCoordinator(r) => encode(&handlers::group::find_coordinator(&ctx, r).await)?,
        Request::JoinGroup(r) => encode(&handlers::group::join_group(&ctx, r).await)?,
        Request::SyncGroup(r) => encode(&handlers::group::sync_group(&ctx, r).await)?,
        Request::Heartbeat(r) => encode(&handlers::group::heartbeat(&ctx, r).await)?,
        Request::LeaveGroup(r) => encode(&handlers::group::leave_group(&ctx, r).await)?,
        Request::OffsetCommit(r) => encode(&handlers::group::offset_commit(&ctx, r).await)?,
        Request::OffsetFetch(r) => encode(&handlers::group::offset_fetch(&ctx, r).await)?,
        Request::ListGroups(r) => encode(&handlers::group::list_groups(&ctx, r).await)?,
        Request::DescribeGroups(r) => encode(&handlers::group::describe_groups(&ctx, r).await)?,
        Request::DeleteGroups(r) => encode(&handlers::group::delete_groups(&ctx, r).await)?,
        Request::DescribeUserScramCredentials(r) => encode(&handlers::users::describe(&ctx, r).await)?,
        Request::AlterUserScramCredentials(r) => encode(&handlers::users::alter(&ctx, r).await)?,
        Request::AlterConfigs(r) => encode(&handlers::configs::alter_configs(&ctx, r).await)?,
        Request::IncrementalAlterConfigs(r) => encode(&handlers::configs::incremental_alter_configs(&ctx, r).await)?,
        Request::DeleteRecords(r) => encode(&handlers::records::delete_records(&ctx, r).await)?,
        Request::DescribeCluster(r) => encode(&handlers::admin::describe_cluster(&ctx, r).await)?,
        Request::OffsetForLeaderEpoch(r) => encode(&handlers::records::offset_for_leader_epoch(&ctx, r).await)?,
        Request::DescribeLogDirs(r) => encode(&handlers::records::describe_log_dirs(&ctx, r).await)?,
        Request::AddPartitionsToTxn(r) => encode(&handlers::txn::add_partitions_to_txn(&ctx, r).await)?,
        Request::AddOffsetsToTxn(r) => encode(&handlers::txn::add_offsets_to_txn(&ctx, r).await)?,
        Request::EndTxn(r) => encode(&handlers::txn::end_txn(&ctx, r).await)?,
        Request::TxnOffsetCommit(r) => encode(&handlers::txn::txn_offset_commit(&ctx, r).await)?,
        Request::DescribeTransactions(r) => encode(&handlers::txn::describe_transactions(&ctx, r).await)?,
        Request::ListTransactions(r) => encode(&handlers::txn::list_transactions(&ctx, r).await)?,
        Request::ElectLeaders(r) => encode(&handlers::admin::elect_leaders(&ctx, r).await)?,
    };
    cluster.stats.request(api as i16, started.elapsed());
    Ok(Handled::Now(Some(out)))
}

fn api_name(api: ApiKey) -> &'static str {
    match api {
        ApiKey::Produce => "Produce",
        ApiKey::Fetch => "Fetch",
        ApiKey::ListOffsets => "ListOffsets",
        ApiKey::Metadata => "Metadata",
        ApiKey::OffsetCommit => "OffsetCommit",
        ApiKey::OffsetFetch => "OffsetFetch",
        ApiKey::CreateTopics => "CreateTopics",
        ApiKey::DeleteTopics => "DeleteTopics",
        ApiKey::CreatePartitions => "CreatePartitions",
        ApiKey::DescribeConfigs => "DescribeConfigs",
        ApiKey::DescribeGroups => "DescribeGroups",
        ApiKey::DeleteGroups => "DeleteGroups",
        ApiKey::Heartbeat => "Heartbeat",
        ApiKey::JoinGroup => "JoinGroup",
        ApiKey::SyncGroup => "SyncGroup",
        ApiKey::LeaveGroup => "LeaveGroup",
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::InitProducerId => "InitProducerId",
        ApiKey::ListGroups => "ListGroups",
        ApiKey::AlterConfigs => "AlterConfigs",
        ApiKey::IncrementalAlterConfigs => "IncrementalAlterConfigs",
        ApiKey::DeleteRecords => "DeleteRecords",
        ApiKey::DescribeCluster => "DescribeCluster",
        ApiKey::OffsetForLeaderEpoch => "OffsetForLeaderEpoch",
        ApiKey::DescribeLogDirs => "DescribeLogDirs",
        ApiKey::ElectLeaders => "ElectLeaders",
        ApiKey::AddPartitionsToTxn => "AddPartitionsToTxn",
        ApiKey::AddOffsetsToTxn => "AddOffsetsToTxn",
        ApiKey::EndTxn => "EndTxn",
        ApiKey::TxnOffsetCommit => "TxnOffsetCommit",
        ApiKey::DescribeTransactions => "DescribeTransactions",
        ApiKey::ListTransactions => "ListTransactions",
        _ => "request",
    }
}

/// Lets one closure frame any response type.
trait ErasedEncode {
    fn encode_frame(&self, api: ApiKey, version: i16, correlation_id: i32) -> Result<BytesMut, ProtocolError>;
}

impl<T: Encodable> ErasedEncode for T {
    fn encode_frame(&self, api: ApiKey, version: i16, correlation_id: i32) -> Result<BytesMut, ProtocolError> {
        protocol::encode_response(api, version, correlation_id, self)
    }
}
