//! Kafka Connect inside warren (issue 18, in progress): the data model connectors exchange
//! (`data`) and the converters that turn it into record bytes as Kafka's own do (`converter`).
//! The worker, its REST API, the internal topics and the connectors build on these.

pub mod converter;
pub mod data;
