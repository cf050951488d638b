//! Who may talk to the brokers: the listeners' security protocol (TLS, SASL), the SASL
//! mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), the users and their SCRAM credentials
//! (`DATA_DIR/security/users.json`, never a password), and the first step of authorization:
//! super users may do everything, other authenticated users may produce, consume, commit and
//! describe.

pub mod scram;
mod users;

use std::collections::BTreeSet;
use std::sync::Arc;

pub use scram::ScramHash;
pub use users::Users;

/// A listener's security protocol, with Kafka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl Protocol {
    pub fn parse(name: &str) -> Option<Protocol> {
        match name {
            "PLAINTEXT" => Some(Protocol::Plaintext),
            "SSL" => Some(Protocol::Ssl),
            "SASL_PLAINTEXT" => Some(Protocol::SaslPlaintext),
            "SASL_SSL" => Some(Protocol::SaslSsl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Plaintext => "PLAINTEXT",
            Protocol::Ssl => "SSL",
            Protocol::SaslPlaintext => "SASL_PLAINTEXT",
            Protocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, Protocol::Ssl | Protocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, Protocol::SaslPlaintext | Protocol::SaslSsl)
    }
}

/// A SASL mechanism warren serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mechanism {
    Plain,
    Scram(ScramHash),
}

impl Mechanism {
    pub fn parse(name: &str) -> Option<Mechanism> {
        match name {
            "PLAIN" => Some(Mechanism::Plain),
            other => ScramHash::from_mechanism(other).map(Mechanism::Scram),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(hash) => hash.mechanism(),
        }
    }
}

/// A string that never prints (passwords from the configuration).
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// The brokers' security settings, filled by `server` from `[security]`.
#[derive(Debug, Clone, Default)]
pub struct SecurityConfig {
    pub protocol: Protocol,
    /// The TLS server settings (certificate chain, key, client verification) for SSL and
    /// SASL_SSL; `server` builds it from the PEM files.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Mechanisms offered, in order of preference.
    pub mechanisms: Vec<Mechanism>,
    /// Users who may do everything (and, with SSL alone, client certificate common names).
    pub super_users: BTreeSet<String>,
    /// Users from the configuration; their credentials are derived at open and written to the
    /// user store, replacing what it had for those names.
    pub users: Vec<(String, Secret)>,
}

impl SecurityConfig {
    /// The offered mechanisms as the dashboard and the API show them (`SCRAM-SHA-512,PLAIN`),
    /// when the listeners use SASL.
    pub fn mechanism_names(&self) -> Option<String> {
        self.protocol.uses_sasl().then(|| self.mechanisms.iter().map(|m| m.name()).collect::<Vec<_>>().join(","))
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.protocol.uses_tls() && self.tls.is_none() {
            return Err(format!("{} needs ssl_certificate and ssl_key", self.protocol.name()));
        }
        if self.protocol.uses_sasl() && self.mechanisms.is_empty() {
            return Err(format!("{} needs at least one of sasl_mechanisms", self.protocol.name()));
        }
        Ok(())
    }
}

/// Who a connection speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// PLAINTEXT, or SSL without a client certificate: no identity, and (as in Kafka without
    /// an authorizer) no restriction.
    Anonymous,
    /// A SASL user, or the common name of a verified client certificate.
    User { name: String, super_user: bool },
}

impl Principal {
    /// May change the cluster: create and delete topics and groups, manage users.
    pub fn may_administer(&self) -> bool {
        match self {
            Principal::Anonymous => true,
            Principal::User { super_user, .. } => *super_user,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Principal::Anonymous => "ANONYMOUS",
            Principal::User { name, .. } => name,
        }
    }
}

/// The principal of a verified client certificate without a common name (Kafka would name it
/// by its whole subject); the parentheses keep it from matching a configured user.
pub const UNNAMED_CERTIFICATE: &str = "(certificate without a common name)";

/// `n` unpredictable bytes (salts and nonces), from the kernel.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut out = vec![0u8; n];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut out)).is_err() {
        // No /dev/urandom: std's randomly keyed hasher, once per 8 bytes.
        use std::hash::{BuildHasher, RandomState};
        for (i, chunk) in out.chunks_mut(8).enumerate() {
            let word = RandomState::new().hash_one(i).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
    out
}

/// The common name (CN) of a DER certificate's subject, read with bounds (the certificate was
/// verified by rustls before this sees it).
pub fn certificate_common_name(der: &[u8]) -> Option<String> {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version?, serial, signature,
    // issuer, validity, subject, ... }, ... }
    let (_, cert, _) = der_read(der)?;
    let (_, mut tbs, _) = der_read(cert)?;
    let mut fields = Vec::new();
    while !tbs.is_empty() && fields.len() < 7 {
        let (tag, value, rest) = der_read(tbs)?;
        fields.push((tag, value));
        tbs = rest;
    }
    let skip = usize::from(fields.first()?.0 == 0xa0);
    let (_, subject) = *fields.get(skip + 4)?;
    // Name ::= SEQUENCE OF SET OF AttributeTypeAndValue { OID, value }
    let mut sets = subject;
    let mut common_name = None;
    while !sets.is_empty() {
        let (_, set, rest) = der_read(sets)?;
        sets = rest;
        let mut atvs = set;
        while !atvs.is_empty() {
            let (_, atv, rest) = der_read(atvs)?;
            atvs = rest;
            let (oid_tag, oid, value) = der_read(atv)?;
            let (_, value, _) = der_read(value)?;
            if oid_tag == 0x06 && oid == [0x55, 0x04, 0x03] {
                common_name = std::str::from_utf8(value).ok().map(str::to_string);
            }
        }
    }
    common_name
}

/// One DER TLV: (tag, value, the bytes after it).
fn der_read(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}
