//! End-to-end scenarios: warren driven by real Kafka clients over loopback.

mod admin_apis;
mod alerts;
mod bad_input;
mod browser;
mod cli;
mod clients;
mod connect;
mod connect_jdbc;
mod crash;
mod drill;
mod group_wire;
mod groups;
mod hostile;
mod http_api;
mod metrics;
mod monitor;
mod pure_monitor;
mod rdkafka_roundtrip;
mod replication;
mod security;
mod shape;
mod streams;
mod support;
mod transactions;
mod wire;
