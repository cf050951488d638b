//! Which version of each API the client sends: its own table of the versions whose fields it
//! fills, intersected with what a broker advertises in ApiVersions.
//!
//! The choice is the highest version both sides speak, min(client max, broker max), provided it
//! is not below either minimum. The client's maxima stop below the topic-id and batched-group
//! layouts (Fetch 13, OffsetFetch 8, DeleteTopics 6, FindCoordinator 4), so every request is built
//! from names; its minima are the codec's floors (KIP-896).

use std::collections::HashMap;

use kafka_protocol::messages::ApiKey;

/// `(api, min, max)` this client can build and read.
pub const CLIENT: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 10),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 5),
    (ApiKey::DeleteTopics, 1, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    (ApiKey::DescribeCluster, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
    (ApiKey::EndTxn, 0, 3),
];

/// The client's own range for `api`.
pub fn client_range(api: ApiKey) -> Option<(i16, i16)> {
    CLIENT.iter().find(|(k, _, _)| *k == api).map(|(_, min, max)| (*min, *max))
}

/// The API's name as Kafka spells it, for messages.
pub fn api_name(api: ApiKey) -> &'static str {
    match api {
        ApiKey::Produce => "Produce",
        ApiKey::Fetch => "Fetch",
        ApiKey::ListOffsets => "ListOffsets",
        ApiKey::Metadata => "Metadata",
        ApiKey::OffsetCommit => "OffsetCommit",
        ApiKey::OffsetFetch => "OffsetFetch",
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::JoinGroup => "JoinGroup",
        ApiKey::Heartbeat => "Heartbeat",
        ApiKey::LeaveGroup => "LeaveGroup",
        ApiKey::SyncGroup => "SyncGroup",
        ApiKey::DescribeGroups => "DescribeGroups",
        ApiKey::ListGroups => "ListGroups",
        ApiKey::ApiVersions => "ApiVersions",
        ApiKey::CreateTopics => "CreateTopics",
        ApiKey::DeleteTopics => "DeleteTopics",
        ApiKey::DescribeConfigs => "DescribeConfigs",
        ApiKey::CreatePartitions => "CreatePartitions",
        ApiKey::DeleteGroups => "DeleteGroups",
        ApiKey::SaslHandshake => "SaslHandshake",
        ApiKey::SaslAuthenticate => "SaslAuthenticate",
        ApiKey::DescribeUserScramCredentials => "DescribeUserScramCredentials",
        ApiKey::AlterUserScramCredentials => "AlterUserScramCredentials",
        ApiKey::DescribeCluster => "DescribeCluster",
        ApiKey::IncrementalAlterConfigs => "IncrementalAlterConfigs",
        ApiKey::DeleteRecords => "DeleteRecords",
        ApiKey::InitProducerId => "InitProducerId",
        ApiKey::AddPartitionsToTxn => "AddPartitionsToTxn",
        ApiKey::AddOffsetsToTxn => "AddOffsetsToTxn",
        ApiKey::TxnOffsetCommit => "TxnOffsetCommit",
        ApiKey::EndTxn => "EndTxn",
        _ => "request",
    }
}

/// What a broker advertised: api key -> (min, max).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerVersions {
    ranges: HashMap<i16, (i16, i16)>,
}

/// Why no version could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The broker does not list the API at all.
    NotAdvertised,
    /// Both list it, but the ranges do not overlap.
    Disjoint { client: (i16, i16), broker: (i16, i16) },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::NotAdvertised => write!(f, "the broker does not advertise it"),
            Mismatch::Disjoint { client, broker } => {
                write!(f, "broker versions {}-{}, client versions {}-{}", broker.0, broker.1, client.0, client.1)
            }
        }
    }
}

impl BrokerVersions {
    pub fn new(advertised: impl IntoIterator<Item = (i16, i16, i16)>) -> BrokerVersions {
        BrokerVersions { ranges: advertised.into_iter().map(|(key, min, max)| (key, (min, max))).collect() }
    }

    pub fn range(&self, api: ApiKey) -> Option<(i16, i16)> {
        self.ranges.get(&(api as i16)).copied()
    }

    /// The version to send `api` in.
    pub fn pick(&self, api: ApiKey) -> Result<i16, Mismatch> {
        let client = client_range(api).ok_or(Mismatch::NotAdvertised)?;
        let broker = self.range(api).ok_or(Mismatch::NotAdvertised)?;
        negotiate(client, broker)
    }
}

/// min(client max, broker max), if that is at least both minima.
pub fn negotiate(client: (i16, i16), broker: (i16, i16)) -> Result<i16, Mismatch> {
    let version = client.1.min(broker.1);
    if version < client.0 || version < broker.0 {
        return Err(Mismatch::Disjoint { client, broker });
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::Message;

    fn check(client: (i16, i16), broker: (i16, i16), want: Option<i16>) {
        assert_eq!(negotiate(client, broker).ok(), want, "client {client:?} broker {broker:?}");
    }

    #[test]
    fn negotiation() {
        check((4, 12), (4, 17), Some(12)); // Kafka 4 Fetch: the client's max
        check((4, 12), (4, 11), Some(11)); // older broker: its max
        check((1, 7), (0, 7), Some(7));
        check((1, 7), (0, 0), None); // sarama-era broker: only ListOffsets v0
        check((4, 12), (13, 17), None); // a future broker that dropped old versions
        check((0, 3), (0, 3), Some(3));
        check((2, 5), (2, 2), Some(2));
    }

    #[test]
    fn pick_uses_the_advertised_table() {
        let broker = BrokerVersions::new([(ApiKey::Fetch as i16, 4, 17), (ApiKey::Metadata as i16, 0, 13)]);
        assert_eq!(broker.pick(ApiKey::Fetch), Ok(12));
        assert_eq!(broker.pick(ApiKey::Metadata), Ok(12));
        assert_eq!(broker.pick(ApiKey::Produce), Err(Mismatch::NotAdvertised));
        assert_eq!(broker.pick(ApiKey::Metadata).map_err(|e| e.to_string()), Ok(12), "Metadata fits both ranges");
        let old = BrokerVersions::new([(ApiKey::ListOffsets as i16, 0, 0)]);
        assert_eq!(
            old.pick(ApiKey::ListOffsets).map_err(|e| e.to_string()),
            Err("broker versions 0-0, client versions 1-7".to_string())
        );
    }

    /// The client never sends a version its codec cannot encode.
    #[test]
    fn client_table_fits_the_codec() {
        for (key, min, max) in CLIENT {
            let codec = match key {
                ApiKey::Produce => ProduceRequest::VERSIONS,
                ApiKey::Fetch => FetchRequest::VERSIONS,
                ApiKey::ListOffsets => ListOffsetsRequest::VERSIONS,
                ApiKey::Metadata => MetadataRequest::VERSIONS,
                ApiKey::OffsetCommit => OffsetCommitRequest::VERSIONS,
                ApiKey::OffsetFetch => OffsetFetchRequest::VERSIONS,
                ApiKey::FindCoordinator => FindCoordinatorRequest::VERSIONS,
                ApiKey::JoinGroup => JoinGroupRequest::VERSIONS,
                ApiKey::Heartbeat => HeartbeatRequest::VERSIONS,
                ApiKey::LeaveGroup => LeaveGroupRequest::VERSIONS,
                ApiKey::SyncGroup => SyncGroupRequest::VERSIONS,
                ApiKey::DescribeGroups => DescribeGroupsRequest::VERSIONS,
                ApiKey::ListGroups => ListGroupsRequest::VERSIONS,
                ApiKey::ApiVersions => ApiVersionsRequest::VERSIONS,
                ApiKey::CreateTopics => CreateTopicsRequest::VERSIONS,
                ApiKey::DeleteTopics => DeleteTopicsRequest::VERSIONS,
                ApiKey::DescribeConfigs => DescribeConfigsRequest::VERSIONS,
                ApiKey::CreatePartitions => CreatePartitionsRequest::VERSIONS,
                ApiKey::DeleteGroups => DeleteGroupsRequest::VERSIONS,
                ApiKey::SaslHandshake => SaslHandshakeRequest::VERSIONS,
                ApiKey::SaslAuthenticate => SaslAuthenticateRequest::VERSIONS,
                ApiKey::DescribeUserScramCredentials => DescribeUserScramCredentialsRequest::VERSIONS,
                ApiKey::AlterUserScramCredentials => AlterUserScramCredentialsRequest::VERSIONS,
                ApiKey::DescribeCluster => DescribeClusterRequest::VERSIONS,
                ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest::VERSIONS,
                ApiKey::DeleteRecords => DeleteRecordsRequest::VERSIONS,
                ApiKey::InitProducerId => InitProducerIdRequest::VERSIONS,
                ApiKey::AddPartitionsToTxn => AddPartitionsToTxnRequest::VERSIONS,
                ApiKey::AddOffsetsToTxn => AddOffsetsToTxnRequest::VERSIONS,
                ApiKey::TxnOffsetCommit => TxnOffsetCommitRequest::VERSIONS,
                ApiKey::EndTxn => EndTxnRequest::VERSIONS,
                other => panic!("no codec range listed for {other:?}"),
            };
            assert!(*min >= codec.min && *max <= codec.max, "{key:?} {min}-{max} outside {codec:?}");
        }
    }
}
