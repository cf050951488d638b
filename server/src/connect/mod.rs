//! Kafka Connect inside warren (issue 18, in progress): the data model connectors exchange
//! (`data`), the converters that turn it into record bytes as Kafka's own do (`converter`), and
//! the single message transforms (`transforms`). The worker, its REST API, the internal topics
//! and the connectors build on these.

pub mod converter;
pub mod data;
pub mod transforms;
