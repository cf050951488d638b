//! warren's embedded Kafka-compatible broker.
//!
//! `log` stores record batches in Kafka's on-disk layout; `partition` keeps replica state;
//! `cluster` owns the logical brokers and their metadata; `protocol` decodes and encodes the wire
//! format without doing I/O; `net` serves connections. This crate knows nothing of `server`.

pub mod log;
pub mod partition;
pub mod cluster;
