//! A small asynchronous Kafka protocol client on the `kafka-protocol` codec and tokio: what the
//! command-line tools and the monitor's external-cluster snapshots need, and nothing else.
//!
//! It opens one connection per broker when first needed, negotiates versions per connection
//! (ApiVersions), keeps a metadata cache, routes each request to the partition leader, the group
//! coordinator or the controller, and retries retriable failures with a bounded backoff. It
//! never panics on a broker's bytes: malformed responses are errors. No librdkafka.
//!
//! Layout: `connection` (framing, pipelining, handshake), `versions` (the client's table and
//! negotiation), `client` (pool, cache, routing, retries), `metadata`, `records` (Produce,
//! Fetch, ListOffsets, batches), `admin` (topics), `groups` (administration of groups),
//! `membership` (being a group member), `txn` (a transactional producer), `error`.

pub mod admin;
pub mod client;
pub mod connection;
pub mod error;
pub mod groups;
pub mod membership;
pub mod metadata;
pub mod records;
pub mod security;
pub mod txn;
pub mod users;
pub mod versions;

pub use admin::NewTopic;
pub use client::{Client, ClientConfig};
pub use error::{Error, Result};
pub use groups::{GroupDescription, GroupListing, MemberDescription};
pub use kafka_protocol::records::Compression;
pub use membership::{GroupMember, Liveness, MemberConfig};
pub use metadata::{Broker, ClusterDescription, Metadata, PartitionMetadata, TopicMetadata};
pub use records::{ConsumedRecord, FetchedPartition, OffsetSpec, ProduceRecord};
pub use txn::TxnProducer;

/// UNKNOWN_TOPIC_OR_PARTITION.
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
