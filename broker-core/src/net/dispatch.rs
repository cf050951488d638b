//! Routes a request frame to its handler by API key and version, and frames the response.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Encodable;

use super::handlers;
use crate::cluster::{Broker, Cluster};
use crate::protocol::{self, Decoded, ProtocolError, Request};

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
    frame: Bytes,
) -> Result<Option<BytesMut>, ProtocolError> {
    let (api, version, header, request) = match protocol::decode_request(frame)? {
        Decoded::UnsupportedApiVersions { correlation_id } => {
            return Ok(Some(protocol::api_versions_unsupported(correlation_id)));
        }
        Decoded::Request { api, version, header, request } => (api, version, header, request),
    };
    let cid = header.correlation_id;
    let ctx = Ctx { cluster, broker, version };
    let encode = |body: &dyn ErasedEncode| body.encode_frame(api, version, cid);
    let out = match *request {
        Request::ApiVersions(_) => encode(&protocol::api_versions_response(0))?,
        Request::Metadata(r) => encode(&handlers::metadata::handle(&ctx, r).await)?,
        Request::Produce(r) => {
            let acks = r.acks;
            let response = handlers::produce::handle(&ctx, r).await;
            if acks == 0 {
                return Ok(None);
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
        Request::DescribeConfigs(r) => encode(&handlers::admin::describe_configs(&ctx, r).await)?,
        Request::InitProducerId(r) => encode(&handlers::admin::init_producer_id(&ctx, r).await)?,
    };
    Ok(Some(out))
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
