//! The client's errors and how each is handled: which are worth a retry, and which retry needs
//! fresh metadata or a new coordinator first.
//!
//! Kafka error codes stay response values inside the client until an operation gives up; then
//! they become `Error::Kafka` with a context naming what was asked ("topic 'orders'"), so a tool
//! can print one clear line. Connection failures keep the broker's address and the OS reason.

use kafka_protocol::error::ResponseError;

/// Every way a client operation can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No bootstrap server accepted a connection; `0` lists each address with its reason.
    #[error("cannot reach any bootstrap server ({0})")]
    NoBootstrap(String),
    /// A broker from the metadata could not be reached.
    #[error("cannot connect to broker {addr}: {reason}")]
    Connect { addr: String, reason: String },
    /// An established connection broke before the response arrived.
    #[error("connection to {addr} lost: {reason}")]
    Disconnected { addr: String, reason: String },
    #[error("{api} request to {addr} timed out after {timeout_ms} ms")]
    Timeout { api: &'static str, addr: String, timeout_ms: u64 },
    /// The broker's bytes could not be decoded (or a frame was absurdly large).
    #[error("malformed {api} response from {addr}: {reason}")]
    Malformed { api: &'static str, addr: String, reason: String },
    /// No version of `api` is spoken by both sides.
    #[error("broker {addr} does not support {api} in any version this client speaks ({detail})")]
    Unsupported { api: &'static str, addr: String, detail: String },
    /// A Kafka error code, after any retries; `context` says what it was about.
    #[error("{context}: {}", code_name(*code))]
    Kafka { code: i16, context: String },
    /// A Kafka error code with the broker's own explanation.
    #[error("{message} ({})", code_name(*code))]
    Rejected { code: i16, message: String },
    /// A broker id the metadata does not list (yet).
    #[error("broker {0} is not in the cluster metadata")]
    UnknownBroker(i32),
    /// The topic does not exist (or the metadata does not show it).
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    /// The partition has no leader and none appeared within the retries.
    #[error("partition {topic}-{partition} has no leader")]
    NoLeader { topic: String, partition: i32 },
    /// A bad argument, caught before anything was sent.
    #[error("{0}")]
    Invalid(String),
    /// TLS or SASL refused (never retried: the credentials will not get better).
    #[error("cannot authenticate to {addr}: {reason}")]
    Auth { addr: String, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to do before retrying an operation that failed with a retriable error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Not retriable: give up.
    None,
    /// Wait, then send again to the same place.
    Wait,
    /// Partition leadership or the controller moved (or a broker vanished): refresh metadata.
    RefreshMetadata,
    /// The group coordinator moved: look it up again.
    FindCoordinator,
}

impl Error {
    pub fn kafka(code: i16, context: impl Into<String>) -> Error {
        Error::Kafka { code, context: context.into() }
    }

    /// The Kafka error code, if this is one.
    pub fn code(&self) -> Option<i16> {
        match self {
            Error::Kafka { code, .. } | Error::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn recovery(&self) -> Recovery {
        match self {
            Error::Connect { .. } | Error::Disconnected { .. } | Error::Timeout { .. } => Recovery::RefreshMetadata,
            Error::UnknownBroker(_) | Error::NoLeader { .. } => Recovery::RefreshMetadata,
            Error::Kafka { code, .. } | Error::Rejected { code, .. } => code_recovery(*code),
            _ => Recovery::None,
        }
    }

    pub fn is_retriable(&self) -> bool {
        self.recovery() != Recovery::None
    }
}

/// How the client reacts to a Kafka error code. Deliberately narrower than Kafka's own
/// "retriable" flag: UNKNOWN_TOPIC_OR_PARTITION, for one, is an answer for a command-line tool.
pub fn code_recovery(code: i16) -> Recovery {
    match code {
        // LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER, NOT_CONTROLLER
        5 | 6 | 41 => Recovery::RefreshMetadata,
        // REQUEST_TIMED_OUT, COORDINATOR_LOAD_IN_PROGRESS, NOT_ENOUGH_REPLICAS,
        // CONCURRENT_TRANSACTIONS (the coordinator is still completing the previous transaction),
        // UNSTABLE_OFFSET_COMMIT (an offset a transaction still holds, asked with require_stable)
        7 | 14 | 19 | 51 | 88 => Recovery::Wait,
        // COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
        15 | 16 => Recovery::FindCoordinator,
        _ => Recovery::None,
    }
}

/// Kafka's name for an error code, as its tools print it: `NOT_LEADER_OR_FOLLOWER`.
pub fn code_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "NONE".to_string(),
        Some(ResponseError::Unknown(c)) => format!("UNKNOWN_ERROR_CODE_{c}"),
        Some(e) => {
            let camel = e.to_string();
            let mut out = String::with_capacity(camel.len() + 8);
            for (i, c) in camel.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        }
    }
}

/// `Err(Error::Kafka)` for a non-zero code.
pub fn check(code: i16, context: impl FnOnce() -> String) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(Error::kafka(code, context()))
    }
}

/// The OS reason of an I/O error, in lower case as `ss`/`curl` print it ("connection refused").
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::ConnectionReset => "connection reset by peer".to_string(),
        std::io::ErrorKind::UnexpectedEof => "closed by the broker".to_string(),
        std::io::ErrorKind::TimedOut => "timed out".to_string(),
        _ => {
            let text = e.to_string();
            // "Connection refused (os error 111)" -> "connection refused"
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_recovery(error: Error, want: Recovery) {
        assert_eq!(error.recovery(), want, "{error}");
        assert_eq!(error.is_retriable(), want != Recovery::None, "{error}");
    }

    #[test]
    fn classification() {
        let addr = || "127.0.0.1:9092".to_string();
        check_recovery(Error::kafka(6, "t-0"), Recovery::RefreshMetadata);
        check_recovery(Error::kafka(5, "t-0"), Recovery::RefreshMetadata);
        check_recovery(Error::kafka(41, "create"), Recovery::RefreshMetadata);
        check_recovery(Error::kafka(16, "group g"), Recovery::FindCoordinator);
        check_recovery(Error::kafka(15, "group g"), Recovery::FindCoordinator);
        check_recovery(Error::kafka(14, "group g"), Recovery::Wait);
        check_recovery(Error::kafka(7, "t-0"), Recovery::Wait);
        check_recovery(Error::kafka(3, "t-0"), Recovery::None);
        check_recovery(Error::kafka(36, "t"), Recovery::None);
        check_recovery(Error::Connect { addr: addr(), reason: "connection refused".into() }, Recovery::RefreshMetadata);
        check_recovery(Error::Disconnected { addr: addr(), reason: "eof".into() }, Recovery::RefreshMetadata);
        check_recovery(Error::Timeout { api: "Fetch", addr: addr(), timeout_ms: 10 }, Recovery::RefreshMetadata);
        check_recovery(Error::NoBootstrap("x".into()), Recovery::None);
        check_recovery(Error::Malformed { api: "Fetch", addr: addr(), reason: "x".into() }, Recovery::None);
        check_recovery(Error::UnknownTopic("t".into()), Recovery::None);
        // Bad credentials or a refused certificate do not get better by retrying.
        check_recovery(
            Error::Auth { addr: addr(), reason: "SCRAM-SHA-512: Authentication failed".into() },
            Recovery::None,
        );
    }

    #[test]
    fn names_and_messages() {
        assert_eq!(code_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(code_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(code_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(code_name(0), "NONE");
        assert_eq!(code_name(9999), "UNKNOWN_ERROR_CODE_9999");
        assert_eq!(Error::kafka(36, "topic 't'").to_string(), "topic 't': TOPIC_ALREADY_EXISTS");
        let rejected = Error::Rejected { code: 37, message: "topic 't' has 3 partitions".into() };
        assert_eq!(rejected.to_string(), "topic 't' has 3 partitions (INVALID_PARTITIONS)");
        assert_eq!(rejected.code(), Some(37));
        assert_eq!(
            Error::NoBootstrap("127.0.0.1:9999: connection refused".into()).to_string(),
            "cannot reach any bootstrap server (127.0.0.1:9999: connection refused)"
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(io_reason(&refused), "connection refused");
        assert_eq!(io_reason(&std::io::Error::other("Broken pipe (os error 32)")), "broken pipe");
    }
}
