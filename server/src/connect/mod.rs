//! Kafka Connect inside warren (issue 18, in progress): the data model connectors exchange
//! (`data`), the converters that turn it into record bytes as Kafka's own do (`converter`), and
//! the single message transforms (`transforms`), and the records of Connect's internal topics
//! (`topics`). The worker, its REST API and the connectors build on these.

pub mod converter;
pub mod data;
pub mod topics;
pub mod transforms;
