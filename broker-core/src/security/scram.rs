//! SCRAM (RFC 5802, with RFC 7677's SHA-256 and Kafka's SHA-512) as Kafka implements it: the
//! credential derivation, the server's two-step exchange and the client's. Nothing here does
//! I/O; every message from the other side is untrusted and parsed with bounds.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// Length of the salts warren makes (and of an unknown user's made-up one).
pub const SALT_BYTES: usize = 32;

/// Kafka's bounds on `iterations` for SCRAM credentials.
pub const MIN_ITERATIONS: u32 = 4096;
pub const MAX_ITERATIONS: u32 = 16384;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The hash under a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    pub fn mechanism(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// Kafka's `ScramMechanism` id in the user-credential APIs.
    pub fn kafka_id(self) -> i8 {
        match self {
            ScramHash::Sha256 => 1,
            ScramHash::Sha512 => 2,
        }
    }

    pub fn from_kafka_id(id: i8) -> Option<ScramHash> {
        match id {
            1 => Some(ScramHash::Sha256),
            2 => Some(ScramHash::Sha512),
            _ => None,
        }
    }

    pub fn from_mechanism(name: &str) -> Option<ScramHash> {
        match name {
            "SCRAM-SHA-256" => Some(ScramHash::Sha256),
            "SCRAM-SHA-512" => Some(ScramHash::Sha512),
            _ => None,
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha512 => {
                let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// RFC 5802's `Hi`: PBKDF2 with this hash's HMAC, one block.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut block = salt.to_vec();
        block.extend_from_slice(&1u32.to_be_bytes());
        let mut u = self.hmac(password, &block);
        let mut out = u.clone();
        for _ in 1..iterations {
            u = self.hmac(password, &u);
            out.iter_mut().zip(&u).for_each(|(o, x)| *o ^= x);
        }
        out
    }
}

/// What a server keeps of a password: never the password, never the salted password. Its keys
/// are secrets still (the server key proves a server to clients), so `Debug` leaves them out.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScramCredential {
    #[serde(with = "b64")]
    pub salt: Vec<u8>,
    pub iterations: u32,
    #[serde(with = "b64")]
    pub stored_key: Vec<u8>,
    #[serde(with = "b64")]
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// From the salted password (what AlterUserScramCredentials carries).
    pub fn from_salted(hash: ScramHash, salt: Vec<u8>, iterations: u32, salted: &[u8]) -> ScramCredential {
        let client_key = hash.hmac(salted, b"Client Key");
        ScramCredential {
            salt,
            iterations,
            stored_key: hash.hash(&client_key),
            server_key: hash.hmac(salted, b"Server Key"),
        }
    }

    pub fn from_password(hash: ScramHash, password: &str, salt: Vec<u8>, iterations: u32) -> ScramCredential {
        let salted = hash.salted_password(password.as_bytes(), &salt, iterations);
        ScramCredential::from_salted(hash, salt, iterations, &salted)
    }

    /// Whether `password` is the one this credential was made from (SASL/PLAIN's check).
    pub fn verifies(&self, hash: ScramHash, password: &str) -> bool {
        let salted = hash.salted_password(password.as_bytes(), &self.salt, self.iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        constant_time_eq(&hash.hash(&client_key), &self.stored_key)
    }
}

mod b64 {
    use base64::Engine;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::B64.encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        super::B64.decode(text).map_err(serde::de::Error::custom)
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why an exchange failed. The text goes to the log and the client; it never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("unknown user or bad credentials")]
    BadCredentials,
    #[error("the server's signature does not match: it does not know this password")]
    ServerSignature,
    #[error("the server refused: {0}")]
    Refused(String),
}

/// `key=value` attributes of a SCRAM message, in order.
fn attributes(message: &str) -> Vec<(char, &str)> {
    message
        .split(',')
        .filter_map(|part| {
            let mut chars = part.chars();
            let key = chars.next()?;
            part.get(1..)?.strip_prefix('=').map(|v| (key, v))
        })
        .collect()
}

fn attribute<'a>(attrs: &[(char, &'a str)], key: char) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// RFC 5802's saslname decoding: `=2C` is `,` and `=3D` is `=`; any other `=` is an error.
fn decode_saslname(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// A printable nonce from `random` bytes.
pub fn nonce(random: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
}

/// The server's side of one exchange.
#[derive(Debug)]
pub enum ServerScram {
    /// Waiting for the client's first message.
    Start { hash: ScramHash },
    /// Sent the server-first message; waiting for the client's proof.
    Challenged {
        hash: ScramHash,
        user: String,
        credential: ScramCredential,
        nonce: String,
        auth_prefix: String,
        /// The base64 of the client's gs2 header, which its final message must repeat (`c=`).
        binding: String,
    },
}

impl ServerScram {
    pub fn new(hash: ScramHash) -> ServerScram {
        ServerScram::Start { hash }
    }

    /// The client-first message: looks the user up (with `lookup`), answers the server-first
    /// message. An unknown user gets a challenge with made-up parameters, so that a client cannot
    /// tell unknown users from wrong passwords; it fails at the proof.
    pub fn first(
        &mut self,
        message: &[u8],
        server_nonce: &str,
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<Vec<u8>, ScramError> {
        let ServerScram::Start { hash } = *self else {
            return Err(ScramError::Malformed("client-first message out of order"));
        };
        let message = std::str::from_utf8(message).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        // gs2-header: "n," (no channel binding), then an optional "a=authzid", then ",".
        let rest = message
            .strip_prefix("n,")
            .or_else(|| message.strip_prefix("y,"))
            .ok_or(ScramError::Malformed("channel binding is not supported (the message must start with n,)"))?;
        let (authzid, bare) = rest.split_once(',').ok_or(ScramError::Malformed("no client-first-bare"))?;
        let binding = B64.encode(&message.as_bytes()[..message.len() - bare.len()]);
        let attrs = attributes(bare);
        let user = attribute(&attrs, 'n').and_then(decode_saslname).ok_or(ScramError::Malformed("no user name"))?;
        if !authzid.is_empty() && authzid.strip_prefix("a=").and_then(decode_saslname).as_deref() != Some(&user) {
            return Err(ScramError::Malformed("an authorization id other than the user"));
        }
        let client_nonce = attribute(&attrs, 'r').ok_or(ScramError::Malformed("no nonce"))?;
        if client_nonce.is_empty() || client_nonce.contains(',') {
            return Err(ScramError::Malformed("bad nonce"));
        }
        // An unknown user's salt is keyed by a secret of this process, so nobody can compute
        // it, and has the length of a real one.
        let credential = lookup(&user).unwrap_or_else(|| {
            static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let key = KEY.get_or_init(|| super::random_bytes(32));
            ScramCredential {
                salt: hash.hmac(key, user.as_bytes())[..SALT_BYTES].to_vec(),
                iterations: MIN_ITERATIONS,
                stored_key: Vec::new(),
                server_key: Vec::new(),
            }
        });
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!("r={nonce},s={},i={}", B64.encode(&credential.salt), credential.iterations);
        let auth_prefix = format!("{bare},{server_first}");
        *self = ServerScram::Challenged { hash, user, credential, nonce, auth_prefix, binding };
        Ok(server_first.into_bytes())
    }

    /// The client-final message: checks the proof, returns the user and the server-final message.
    pub fn finish(&self, message: &[u8]) -> Result<(String, Vec<u8>), ScramError> {
        let ServerScram::Challenged { hash, user, credential, nonce, auth_prefix, binding: expected } = self else {
            return Err(ScramError::Malformed("client-final message out of order"));
        };
        let message = std::str::from_utf8(message).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (without_proof, proof) =
            message.rsplit_once(",p=").ok_or(ScramError::Malformed("no proof in the client-final message"))?;
        let attrs = attributes(without_proof);
        if attribute(&attrs, 'r') != Some(nonce.as_str()) {
            return Err(ScramError::Malformed("the nonce changed"));
        }
        let binding = attribute(&attrs, 'c').ok_or(ScramError::Malformed("no channel binding attribute"))?;
        if binding != expected {
            return Err(ScramError::Malformed("the channel binding does not repeat the client-first message's header"));
        }
        let proof = B64.decode(proof).map_err(|_| ScramError::Malformed("the proof is not base64"))?;
        if credential.stored_key.is_empty() {
            return Err(ScramError::BadCredentials);
        }
        let auth_message = format!("{auth_prefix},{without_proof}");
        let signature = hash.hmac(&credential.stored_key, auth_message.as_bytes());
        if proof.len() != signature.len() {
            return Err(ScramError::BadCredentials);
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        if !constant_time_eq(&hash.hash(&client_key), &credential.stored_key) {
            return Err(ScramError::BadCredentials);
        }
        let server_signature = hash.hmac(&credential.server_key, auth_message.as_bytes());
        Ok((user.clone(), format!("v={}", B64.encode(server_signature)).into_bytes()))
    }
}

/// The client's side of one exchange.
#[derive(Debug)]
pub struct ClientScram {
    hash: ScramHash,
    password: super::Secret,
    client_nonce: String,
    client_first_bare: String,
    server_signature: Option<Vec<u8>>,
}

impl ClientScram {
    /// Starts an exchange; returns it and the client-first message.
    pub fn start(hash: ScramHash, user: &str, password: &str, client_nonce: String) -> (ClientScram, Vec<u8>) {
        let bare = format!("n={},r={client_nonce}", encode_saslname(user));
        let first = format!("n,,{bare}");
        let scram = ClientScram {
            hash,
            password: super::Secret(password.to_string()),
            client_nonce,
            client_first_bare: bare,
            server_signature: None,
        };
        (scram, first.into_bytes())
    }

    /// The server-first message in, the client-final message out.
    pub fn respond(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        let text = std::str::from_utf8(server_first).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let attrs = attributes(text);
        if let Some(error) = attribute(&attrs, 'e') {
            return Err(ScramError::Refused(error.to_string()));
        }
        let nonce = attribute(&attrs, 'r').ok_or(ScramError::Malformed("no nonce"))?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(ScramError::Malformed("the server's nonce does not extend ours"));
        }
        let salt = attribute(&attrs, 's').and_then(|s| B64.decode(s).ok()).ok_or(ScramError::Malformed("no salt"))?;
        let iterations: u32 =
            attribute(&attrs, 'i').and_then(|i| i.parse().ok()).ok_or(ScramError::Malformed("no iteration count"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(ScramError::Malformed("iteration count out of Kafka's range"));
        }
        let salted = self.hash.salted_password(self.password.0.as_bytes(), &salt, iterations);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let client_key = self.hash.hmac(&salted, b"Client Key");
        let stored_key = self.hash.hash(&client_key);
        let signature = self.hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
        let server_key = self.hash.hmac(&salted, b"Server Key");
        self.server_signature = Some(self.hash.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// The server-final message: the server proves it knows the password too.
    pub fn verify(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let text = std::str::from_utf8(server_final).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let attrs = attributes(text);
        if let Some(error) = attribute(&attrs, 'e') {
            return Err(ScramError::Refused(error.to_string()));
        }
        let given =
            attribute(&attrs, 'v').and_then(|v| B64.decode(v).ok()).ok_or(ScramError::Malformed("no verifier"))?;
        match &self.server_signature {
            Some(expected) if constant_time_eq(expected, &given) => Ok(()),
            _ => Err(ScramError::ServerSignature),
        }
    }
}

/// SASL/PLAIN's one message: `authzid NUL authcid NUL password`. Returns (user, password).
pub fn parse_plain(message: &[u8]) -> Result<(String, String), ScramError> {
    let text = std::str::from_utf8(message).map_err(|_| ScramError::Malformed("not UTF-8"))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(user), Some(password), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ScramError::Malformed("PLAIN wants authzid, user and password separated by NUL"));
    };
    if user.is_empty() || (!authzid.is_empty() && authzid != user) {
        return Err(ScramError::Malformed("an empty user, or an authorization id other than the user"));
    }
    Ok((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's example exchange for SCRAM-SHA-256 (user "user", password "pencil").
    #[test]
    fn rfc_7677_example() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let credential = ScramCredential::from_password(ScramHash::Sha256, "pencil", salt, 4096);
        let mut server = ServerScram::new(ScramHash::Sha256);
        let first = server
            .first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", |u| {
                (u == "user").then(|| credential.clone())
            })
            .expect("server-first");
        assert_eq!(
            String::from_utf8(first).expect("utf8"),
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let (user, last) = server
            .finish(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .expect("proof accepted");
        assert_eq!(user, "user");
        assert_eq!(String::from_utf8(last).expect("utf8"), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn client_and_server_agree_and_wrong_passwords_fail() {
        for hash in [ScramHash::Sha256, ScramHash::Sha512] {
            let credential = ScramCredential::from_password(hash, "s3cret", b"0123456789abcdef".to_vec(), 4096);
            assert!(credential.verifies(hash, "s3cret") && !credential.verifies(hash, "wrong"));
            for (password, ok) in [("s3cret", true), ("wrong", false)] {
                let (mut client, first) = ClientScram::start(hash, "al,i=ce", password, "cnonce".into());
                let mut server = ServerScram::new(hash);
                let lookup = |u: &str| (u == "al,i=ce").then(|| credential.clone());
                let challenge = server.first(&first, "snonce", lookup).expect("first");
                let last = client.respond(&challenge).expect("respond");
                match server.finish(&last) {
                    Ok((user, server_final)) => {
                        assert!(ok, "{hash:?}: a wrong password passed");
                        assert_eq!(user, "al,i=ce");
                        client.verify(&server_final).expect("server proves itself");
                    }
                    Err(e) => assert!(!ok && e == ScramError::BadCredentials, "{hash:?}: {e}"),
                }
            }
            let (client, _) = ClientScram::start(hash, "u", "s3cret", "n".into());
            assert!(!format!("{client:?}").contains("s3cret"), "the password never prints");
            // An unknown user is challenged like a known one and fails at the proof.
            let (mut client, first) = ClientScram::start(hash, "nobody", "x", "n1".into());
            let mut server = ServerScram::new(hash);
            let challenge = server.first(&first, "s1", |_| None).expect("a challenge all the same");
            let last = client.respond(&challenge).expect("respond");
            assert_eq!(server.finish(&last).map(|_| ()), Err(ScramError::BadCredentials));
        }
    }

    /// A client that names itself as authorization id (sarama's SCRAMAuthzID) repeats that
    /// header in `c=`; one that changes it is refused.
    #[test]
    fn channel_binding_repeats_the_gs2_header() {
        let hash = ScramHash::Sha256;
        let credential = ScramCredential::from_password(hash, "pw", b"0123456789abcdef".to_vec(), 4096);
        let (mut client, _) = ClientScram::start(hash, "bob", "pw", "cn".into());
        for (header, ok) in [("n,a=bob,", true), ("n,,", false)] {
            let mut server = ServerScram::new(hash);
            let challenge = server
                .first(b"n,a=bob,n=bob,r=cn", "sn", |_| Some(credential.clone()))
                .expect("an authzid equal to the user is accepted");
            let last = String::from_utf8(client.respond(&challenge).expect("respond")).expect("utf8");
            let last = last.replace("c=biws", &format!("c={}", B64.encode(header)));
            // The proof covers c=, so recompute it the way a client sending this header would.
            let proof_at = last.rfind(",p=").expect("proof");
            let without_proof = &last[..proof_at];
            let auth = format!("n=bob,r=cn,{},{without_proof}", String::from_utf8(challenge.clone()).expect("utf8"));
            let salted = hash.salted_password(b"pw", b"0123456789abcdef", 4096);
            let client_key = hash.hmac(&salted, b"Client Key");
            let signature = hash.hmac(&hash.hash(&client_key), auth.as_bytes());
            let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
            let last = format!("{without_proof},p={}", B64.encode(proof));
            assert_eq!(server.finish(last.as_bytes()).is_ok(), ok, "{header}");
        }
    }

    #[test]
    fn unknown_users_get_a_salt_nobody_can_compute() {
        let mut server = ServerScram::new(ScramHash::Sha512);
        let first = server.first(b"n,,n=ghost,r=x", "y", |_| None).expect("challenge");
        let text = String::from_utf8(first).expect("utf8");
        let salt = B64.decode(attribute(&attributes(&text), 's').expect("salt")).expect("base64");
        assert_eq!(salt.len(), SALT_BYTES);
        assert_ne!(salt, ScramHash::Sha512.hash(b"ghost")[..SALT_BYTES].to_vec());
    }

    #[test]
    fn hostile_messages_are_errors() {
        let mut server = ServerScram::new(ScramHash::Sha512);
        for bad in [&b""[..], b"p=tls-unique,,n=a,r=x", b"n,,r=x", b"n,,n=a", b"n,,n=a=ZZ,r=x", &[0xff, 0xfe]] {
            assert!(server.first(bad, "s", |_| None).is_err(), "{bad:?}");
        }
        assert!(ServerScram::new(ScramHash::Sha512).finish(b"c=biws,r=x,p=AAAA").is_err(), "out of order");
        assert!(parse_plain(b"\0user").is_err());
        assert!(parse_plain(b"other\0user\0pw").is_err());
        assert_eq!(parse_plain(b"\0user\0pw"), Ok(("user".into(), "pw".into())));
    }
}
