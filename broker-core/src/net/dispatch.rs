//! Routes a request frame to its handler by API key and version, and frames the response.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;

use super::handlers;
use crate::cluster::{Broker, Cluster};
use crate::protocol::{self, decode_body, encode_response, versions, ProtocolError};

/// What a handler sees of its request.
pub struct Ctx<'a> {
    pub cluster: &'a Arc<Cluster>,
    pub broker: &'a Arc<Broker>,
    pub version: i16,
}

/// Handles one frame; `Ok(None)` means no response is due (acks=0).
pub async fn handle(
    cluster: &Arc<Cluster>,
    broker: &Arc<Broker>,
    mut frame: Bytes,
    peer: SocketAddr,
) -> Result<Option<BytesMut>, ProtocolError> {
    let peek = protocol::peek_header(&frame)?;
    let api = ApiKey::try_from(peek.api_key).map_err(|_| ProtocolError::UnknownApi(peek.api_key))?;
    let version = peek.api_version;
    if !versions::is_supported(api, version) {
        if api == ApiKey::ApiVersions {
            return Ok(Some(protocol::api_versions_unsupported(peek.correlation_id)));
        }
        return Err(ProtocolError::UnsupportedVersion { api, version });
    }
    // ListOffsets v0 predates the codec's range: decode it by hand (header v1).
    if api == ApiKey::ListOffsets && version == 0 {
        protocol::decode_header(ApiKey::ListOffsets, &mut frame)?;
        let request = protocol::list_offsets_v0::decode(&mut frame)?;
        let topics = handlers::list_offsets::handle_v0(cluster, broker, request);
        return Ok(Some(protocol::list_offsets_v0::encode(peek.correlation_id, &topics)));
    }
    let header = protocol::decode_header(api, &mut frame)?;
    let _ = (header, peer);
    let ctx = Ctx { cluster, broker, version };
    let cid = peek.correlation_id;
    macro_rules! respond {
        ($req:ty, $name:literal, $handler:expr) => {{
            let request: $req = decode_body($name, &mut frame, version)?;
            let response = $handler(&ctx, request).await;
            Some(encode_response(api, version, cid, &response)?)
        }};
    }
    let out = match api {
        ApiKey::ApiVersions => {
            let _: ApiVersionsRequest = decode_body("ApiVersions", &mut frame, version)?;
            Some(encode_response(api, version, cid, &protocol::api_versions_response(0))?)
        }
        ApiKey::Metadata => respond!(MetadataRequest, "Metadata", handlers::metadata::handle),
        ApiKey::Produce => {
            let request: ProduceRequest = decode_body("Produce", &mut frame, version)?;
            let acks = request.acks;
            let response = handlers::produce::handle(&ctx, request).await;
            if acks == 0 {
                None
            } else {
                Some(encode_response(api, version, cid, &response)?)
            }
        }
        ApiKey::Fetch => respond!(FetchRequest, "Fetch", handlers::fetch::handle),
        ApiKey::ListOffsets => respond!(ListOffsetsRequest, "ListOffsets", handlers::list_offsets::handle),
        ApiKey::CreateTopics => respond!(CreateTopicsRequest, "CreateTopics", handlers::admin::create_topics),
        ApiKey::DeleteTopics => respond!(DeleteTopicsRequest, "DeleteTopics", handlers::admin::delete_topics),
        ApiKey::CreatePartitions => {
            respond!(CreatePartitionsRequest, "CreatePartitions", handlers::admin::create_partitions)
        }
        ApiKey::DescribeConfigs => {
            respond!(DescribeConfigsRequest, "DescribeConfigs", handlers::admin::describe_configs)
        }
        ApiKey::InitProducerId => respond!(InitProducerIdRequest, "InitProducerId", handlers::admin::init_producer_id),
        other => return Err(ProtocolError::UnsupportedVersion { api: other, version }),
    };
    Ok(out)
}
