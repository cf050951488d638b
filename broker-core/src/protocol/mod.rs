//! Wire-format glue around the `kafka-protocol` codec: request header peeking, response
//! framing, the advertised version table and hand-written codecs for versions the crate dropped.
//!
//! Pure functions over byte buffers: no I/O, and never a panic on input; every malformed input is
//! an `Err` that the connection turns into a closed socket.

pub mod list_offsets_v0;
pub mod versions;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, AlterConfigsRequest, AlterUserScramCredentialsRequest, ApiKey,
    ApiVersionsRequest, ApiVersionsResponse, CreatePartitionsRequest, CreateTopicsRequest, DeleteGroupsRequest,
    DeleteRecordsRequest, DeleteTopicsRequest, DescribeClusterRequest, DescribeConfigsRequest, DescribeGroupsRequest,
    DescribeLogDirsRequest, DescribeTransactionsRequest, DescribeUserScramCredentialsRequest, ElectLeadersRequest,
    EndTxnRequest, FetchRequest, FindCoordinatorRequest, HeartbeatRequest, IncrementalAlterConfigsRequest,
    InitProducerIdRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest, ListOffsetsRequest,
    ListTransactionsRequest, MetadataRequest, OffsetCommitRequest, OffsetFetchRequest, OffsetForLeaderEpochRequest,
    ProduceRequest, RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslHandshakeRequest, SyncGroupRequest,
    TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProtocolError {
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    #[error("{api:?} v{version} is not supported")]
    UnsupportedVersion { api: ApiKey, version: i16 },
    #[error("cannot decode {what}: {reason}")]
    Decode { what: &'static str, reason: String },
    #[error("cannot encode response: {0}")]
    Encode(String),
    #[error("{0} before SASL authentication (only ApiVersions, SaslHandshake and SaslAuthenticate are answered)")]
    NotAuthenticated(&'static str),
    #[error("{what}: {count} entries, more than {limit} (max_partitions_per_request)")]
    TooManyEntries { what: &'static str, count: usize, limit: usize },
}

/// The first 8 bytes of every request header, whatever its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderPeek {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

pub fn peek_header(frame: &[u8]) -> Result<HeaderPeek, ProtocolError> {
    if frame.len() < 8 {
        return Err(ProtocolError::TooShort(frame.len()));
    }
    Ok(HeaderPeek {
        api_key: i16::from_be_bytes([frame[0], frame[1]]),
        api_version: i16::from_be_bytes([frame[2], frame[3]]),
        correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
    })
}

/// Decodes the full request header; `frame` is advanced past it to the body.
fn decode_header(api: ApiKey, frame: &mut Bytes) -> Result<RequestHeader, ProtocolError> {
    let version = api.request_header_version(i16::from_be_bytes([frame[2], frame[3]]));
    RequestHeader::decode(frame, version)
        .map_err(|e| ProtocolError::Decode { what: "request header", reason: e.to_string() })
}

/// Decodes a request body at `version`.
fn decode_body<T: Decodable>(what: &'static str, body: &mut Bytes, version: i16) -> Result<T, ProtocolError> {
    T::decode(body, version).map_err(|e| ProtocolError::Decode { what, reason: e.to_string() })
}

/// A decoded request body, by API.
#[derive(Debug)]
pub enum Request {
    ApiVersions(ApiVersionsRequest),
    Metadata(MetadataRequest),
    Produce(ProduceRequest),
    Fetch(FetchRequest),
    ListOffsets(ListOffsetsRequest),
    /// ListOffsets v0, decoded by the shim.
    ListOffsetsV0(list_offsets_v0::Request),
    CreateTopics(CreateTopicsRequest),
    DeleteTopics(DeleteTopicsRequest),
    CreatePartitions(CreatePartitionsRequest),
    DescribeConfigs(DescribeConfigsRequest),
    InitProducerId(InitProducerIdRequest),
    FindCoordinator(FindCoordinatorRequest),
    JoinGroup(JoinGroupRequest),
    SyncGroup(SyncGroupRequest),
    Heartbeat(HeartbeatRequest),
    LeaveGroup(LeaveGroupRequest),
    OffsetCommit(OffsetCommitRequest),
    OffsetFetch(OffsetFetchRequest),
    ListGroups(ListGroupsRequest),
    DescribeGroups(DescribeGroupsRequest),
    DeleteGroups(DeleteGroupsRequest),
    SaslHandshake(SaslHandshakeRequest),
    SaslAuthenticate(SaslAuthenticateRequest),
    DescribeUserScramCredentials(DescribeUserScramCredentialsRequest),
    AlterUserScramCredentials(AlterUserScramCredentialsRequest),
    AlterConfigs(AlterConfigsRequest),
    IncrementalAlterConfigs(IncrementalAlterConfigsRequest),
    DeleteRecords(DeleteRecordsRequest),
    DescribeCluster(DescribeClusterRequest),
    OffsetForLeaderEpoch(OffsetForLeaderEpochRequest),
    DescribeLogDirs(DescribeLogDirsRequest),
    ElectLeaders(ElectLeadersRequest),
    AddPartitionsToTxn(AddPartitionsToTxnRequest),
    AddOffsetsToTxn(AddOffsetsToTxnRequest),
    EndTxn(EndTxnRequest),
    TxnOffsetCommit(TxnOffsetCommitRequest),
    DescribeTransactions(DescribeTransactionsRequest),
    ListTransactions(ListTransactionsRequest),
}

/// What a frame decodes to: an ApiVersions version warren does not know (answered with error 35
/// in the v0 layout), or a supported request.
#[derive(Debug)]
pub enum Decoded {
    UnsupportedApiVersions { correlation_id: i32 },
    Request { api: ApiKey, version: i16, header: Box<RequestHeader>, request: Box<Request> },
}

/// Decodes one request frame (without its size prefix). Unknown APIs, versions warren does not
/// advertise and malformed bytes are errors; nothing here panics on input.
pub fn decode_request(mut frame: Bytes) -> Result<Decoded, ProtocolError> {
    let peek = peek_header(&frame)?;
    let api = ApiKey::try_from(peek.api_key).map_err(|_| ProtocolError::UnknownApi(peek.api_key))?;
    let version = peek.api_version;
    if !versions::is_supported(api, version) {
        if api == ApiKey::ApiVersions {
            return Ok(Decoded::UnsupportedApiVersions { correlation_id: peek.correlation_id });
        }
        return Err(ProtocolError::UnsupportedVersion { api, version });
    }
    let header = decode_header(api, &mut frame)?;
    let body = &mut frame;
    let request = match api {
        ApiKey::ApiVersions => Request::ApiVersions(decode_body("ApiVersions", body, version)?),
        ApiKey::Metadata => Request::Metadata(decode_body("Metadata", body, version)?),
        ApiKey::Produce => Request::Produce(decode_body("Produce", body, version)?),
        ApiKey::Fetch => Request::Fetch(decode_body("Fetch", body, version)?),
        // ListOffsets v0 predates the codec's range: decode it by hand.
        ApiKey::ListOffsets if version == 0 => Request::ListOffsetsV0(list_offsets_v0::decode(body)?),
        ApiKey::ListOffsets => Request::ListOffsets(decode_body("ListOffsets", body, version)?),
        ApiKey::CreateTopics => Request::CreateTopics(decode_body("CreateTopics", body, version)?),
        ApiKey::DeleteTopics => Request::DeleteTopics(decode_body("DeleteTopics", body, version)?),
        ApiKey::CreatePartitions => Request::CreatePartitions(decode_body("CreatePartitions", body, version)?),
        ApiKey::DescribeConfigs => Request::DescribeConfigs(decode_body("DescribeConfigs", body, version)?),
        ApiKey::InitProducerId => Request::InitProducerId(decode_body("InitProducerId", body, version)?),
        ApiKey::FindCoordinator => Request::FindCoordinator(decode_body("FindCoordinator", body, version)?),
        ApiKey::JoinGroup => Request::JoinGroup(decode_body("JoinGroup", body, version)?),
        ApiKey::SyncGroup => Request::SyncGroup(decode_body("SyncGroup", body, version)?),
        ApiKey::Heartbeat => Request::Heartbeat(decode_body("Heartbeat", body, version)?),
        ApiKey::LeaveGroup => Request::LeaveGroup(decode_body("LeaveGroup", body, version)?),
        ApiKey::OffsetCommit => Request::OffsetCommit(decode_body("OffsetCommit", body, version)?),
        ApiKey::OffsetFetch => Request::OffsetFetch(decode_body("OffsetFetch", body, version)?),
        ApiKey::ListGroups => Request::ListGroups(decode_body("ListGroups", body, version)?),
        ApiKey::DescribeGroups => Request::DescribeGroups(decode_body("DescribeGroups", body, version)?),
        ApiKey::DeleteGroups => Request::DeleteGroups(decode_body("DeleteGroups", body, version)?),
        ApiKey::SaslHandshake => Request::SaslHandshake(decode_body("SaslHandshake", body, version)?),
        ApiKey::SaslAuthenticate => Request::SaslAuthenticate(decode_body("SaslAuthenticate", body, version)?),
        ApiKey::DescribeUserScramCredentials => {
            Request::DescribeUserScramCredentials(decode_body("DescribeUserScramCredentials", body, version)?)
        }
        ApiKey::AlterUserScramCredentials => {
            Request::AlterUserScramCredentials(decode_body("AlterUserScramCredentials", body, version)?)
        }
        ApiKey::AlterConfigs => Request::AlterConfigs(decode_body("AlterConfigs", body, version)?),
        ApiKey::IncrementalAlterConfigs => {
            Request::IncrementalAlterConfigs(decode_body("IncrementalAlterConfigs", body, version)?)
        }
        ApiKey::DeleteRecords => Request::DeleteRecords(decode_body("DeleteRecords", body, version)?),
        ApiKey::DescribeCluster => Request::DescribeCluster(decode_body("DescribeCluster", body, version)?),
        ApiKey::OffsetForLeaderEpoch => {
            Request::OffsetForLeaderEpoch(decode_body("OffsetForLeaderEpoch", body, version)?)
        }
        ApiKey::DescribeLogDirs => Request::DescribeLogDirs(decode_body("DescribeLogDirs", body, version)?),
        ApiKey::ElectLeaders => Request::ElectLeaders(decode_body("ElectLeaders", body, version)?),
        ApiKey::AddPartitionsToTxn => Request::AddPartitionsToTxn(decode_body("AddPartitionsToTxn", body, version)?),
        ApiKey::AddOffsetsToTxn => Request::AddOffsetsToTxn(decode_body("AddOffsetsToTxn", body, version)?),
        ApiKey::EndTxn => Request::EndTxn(decode_body("EndTxn", body, version)?),
        ApiKey::TxnOffsetCommit => Request::TxnOffsetCommit(decode_body("TxnOffsetCommit", body, version)?),
        ApiKey::DescribeTransactions => {
            Request::DescribeTransactions(decode_body("DescribeTransactions", body, version)?)
        }
        ApiKey::ListTransactions => Request::ListTransactions(decode_body("ListTransactions", body, version)?),
        other => return Err(ProtocolError::UnsupportedVersion { api: other, version }),
    };
    Ok(Decoded::Request { api, version, header: Box::new(header), request: Box::new(request) })
}

/// A whole response frame: size prefix, response header, body.
pub fn encode_response<T: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &T,
) -> Result<BytesMut, ProtocolError> {
    // ApiVersions responses always use header v0 (KIP-511).
    let header_version = if api == ApiKey::ApiVersions { 0 } else { api.response_header_version(version) };
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let size = header.compute_size(header_version).and_then(|h| Ok(h + body.compute_size(version)?));
    let size = size.map_err(|e| encode_error(api, version, e))?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(i32::try_from(size).map_err(|_| ProtocolError::Encode(format!("response of {size} bytes")))?);
    header.encode(&mut buf, header_version).map_err(|e| ProtocolError::Encode(e.to_string()))?;
    body.encode(&mut buf, version).map_err(|e| ProtocolError::Encode(e.to_string()))?;
    Ok(buf)
}

fn encode_error(api: ApiKey, version: i16, e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::Encode(format!("{api:?} v{version}: {e}"))
}

/// The ApiVersions response listing every supported API.
pub fn api_versions_response(error_code: i16) -> ApiVersionsResponse {
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    ApiVersionsResponse::default().with_error_code(error_code).with_api_keys(
        versions::SUPPORTED
            .iter()
            .map(|(k, min, max)| {
                ApiVersion::default().with_api_key(*k as i16).with_min_version(*min).with_max_version(*max)
            })
            .collect(),
    )
}

/// UNSUPPORTED_VERSION for an ApiVersions request too new for warren, in the v0 body layout
/// every client can read: `error_code i16, [api_key i16, min i16, max i16]`.
pub fn api_versions_unsupported(correlation_id: i32) -> BytesMut {
    let mut body = BytesMut::new();
    body.put_i32(correlation_id);
    body.put_i16(35);
    body.put_i32(versions::SUPPORTED.len() as i32);
    for (k, min, max) in versions::SUPPORTED {
        body.put_i16(*k as i16);
        body.put_i16(*min);
        body.put_i16(*max);
    }
    let mut frame = BytesMut::with_capacity(4 + body.len());
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(&body);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};
    use kafka_protocol::protocol::StrBytes;

    fn request_frame<T: Encodable>(api: ApiKey, version: i16, body: &T) -> Bytes {
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(77)
            .with_client_id(Some(StrBytes::from_static_str("test")));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, api.request_header_version(version)).expect("header");
        body.encode(&mut buf, version).expect("body");
        buf.freeze()
    }

    #[test]
    fn header_and_body_round_trip_for_every_advertised_version() {
        for version in 0..=12 {
            let frame = request_frame(ApiKey::Metadata, version, &MetadataRequest::default());
            let peek = peek_header(&frame).expect("peek");
            assert_eq!((peek.api_key, peek.api_version, peek.correlation_id), (3, version, 77));
            match decode_request(frame).expect("decode") {
                Decoded::Request { header, request, .. } => {
                    assert!(matches!(*request, Request::Metadata(_)));
                    assert_eq!(header.client_id.as_deref(), Some("test"));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // A version too new for the codec to encode: build v3 and patch the version field.
        let mut frame = request_frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default()).to_vec();
        frame[2..4].copy_from_slice(&9i16.to_be_bytes());
        let frame = Bytes::from(frame);
        assert!(matches!(decode_request(frame), Ok(Decoded::UnsupportedApiVersions { correlation_id: 77 })));
        let frame = request_frame(ApiKey::Fetch, 3, &MetadataRequest::default());
        assert!(matches!(decode_request(frame), Err(ProtocolError::UnsupportedVersion { .. })));
    }

    #[test]
    fn api_versions_v3_response_has_no_feature_tags() {
        let resp = api_versions_response(0);
        let frame = encode_response(ApiKey::ApiVersions, 3, 1, &resp).expect("encode");
        // size(4) + correlation(4) + error(2) + compact array len(1) + 10 * (2+2+2+1 tag) + throttle(4) + tags(1)
        assert_eq!(frame.len(), 4 + 4 + 2 + 1 + versions::SUPPORTED.len() * 7 + 4 + 1);
        let _ = ApiVersionsRequest::default();
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(peek_header(&[0, 1]).is_err());
        // The last one (found by the fuzzer) claims a topic array of ~0x1ef10000 entries: the
        // codec used to preallocate 78 GB and abort the process (see vendor/kafka-protocol).
        for bytes in [
            &[0u8, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0xff][..],
            &[0, 3, 0, 12, 0, 0, 0, 1],
            &[0x7f, 0x7f, 0, 0, 0, 0, 0, 0],
            &[0, 3, 0, 4, 30, 241, 0, 0, 0, 0, 65, 2, 255, 50, 0],
        ] {
            assert!(decode_request(Bytes::copy_from_slice(bytes)).is_err(), "{bytes:?}");
        }
    }
}
