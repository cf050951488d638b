//! Kafka Connect inside warren: a worker that runs source and sink connectors against the
//! embedded cluster and speaks Kafka Connect's REST API.
//!
//! - `data`, `converter`, `transforms`: the records connectors exchange, their bytes, and the
//!   single message transforms.
//! - `plugin`: what a connector is to the worker (classes, config keys, task configs, the task
//!   traits); `file` and `jdbc` are the connectors; `validate` checks configs as Kafka does.
//! - `topics` and `storage`: the records of `connect-configs`, `connect-status` and
//!   `connect-offsets`, and the topics themselves.
//! - `worker`: the connectors, their target states and statuses; `offsets`: their committed
//!   offsets through the API; `supervisor` and `runtime`: the task loops.
//! - `rest`: Kafka Connect's REST API.

pub mod converter;
pub mod data;
pub mod file;
pub mod jdbc;
pub mod offsets;
pub mod plugin;
pub mod rest;
pub mod runtime;
pub mod storage;
pub mod supervisor;
pub mod topics;
pub mod transforms;
pub mod validate;
pub mod worker;

/// `[connect]`: the Kafka Connect worker's REST listener.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSection {
    pub listen: Option<String>,
    /// Default: on when the embedded cluster runs.
    pub enabled: Option<bool>,
}
