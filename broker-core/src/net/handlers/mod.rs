//! One module per Kafka API (or family of admin APIs). Handlers turn Kafka outcomes into error
//! codes in the response; they never fail the connection.

pub mod admin;
pub mod configs;
pub mod fetch;
pub mod group;
pub mod list_offsets;
pub mod metadata;
pub mod produce;
pub mod records;
pub mod txn;
pub mod users;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

pub fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
