//! Transaction coordinator tests, in process: the state machine's answers as Kafka gives them.
