//! From configuration to security: `[security]` to the brokers' TLS and SASL settings,
//! `[[clusters]]` entries and `--command-config` files to the client's. The checks here run in
//! `config::resolve` (no files read); the builders read the PEM and password files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use broker_core::security::{Mechanism, Protocol, Secret, SecurityConfig};

use crate::config::{ExternalCluster, SecuritySection, SecurityUser};
use crate::kafka::security::{
    client_tls, read_certificates, read_key, read_roots, ClientSecurity, SaslCredentials, TlsFiles,
};

type KeyError = (String, String);

fn protocol(key: &str, name: Option<&str>) -> Result<Protocol, KeyError> {
    match name {
        None => Ok(Protocol::Plaintext),
        Some(name) => Protocol::parse(name)
            .ok_or_else(|| (key.to_string(), format!("'{name}' is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"))),
    }
}

fn mechanism(key: &str, name: &str) -> Result<Mechanism, KeyError> {
    Mechanism::parse(name)
        .ok_or_else(|| (key.to_string(), format!("'{name}' is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")))
}

/// Checks `[security]` without reading files; an error names the key.
pub fn check_section(s: &SecuritySection) -> Result<(), KeyError> {
    let protocol = protocol("security.protocol", s.protocol.as_deref())?;
    if protocol.uses_tls() && (s.ssl_certificate.is_none() || s.ssl_key.is_none()) {
        return Err((
            "security.ssl_certificate".into(),
            format!("{} needs ssl_certificate and ssl_key", protocol.name()),
        ));
    }
    for name in s.sasl_mechanisms.iter().flatten() {
        mechanism("security.sasl_mechanisms", name)?;
    }
    if protocol.uses_sasl() && s.sasl_mechanisms.as_ref().is_some_and(Vec::is_empty) {
        return Err(("security.sasl_mechanisms".into(), "is empty".into()));
    }
    for (i, user) in s.users.iter().enumerate() {
        if user.name.is_empty() || user.name.contains(',') || user.name.contains('=') {
            return Err((
                format!("security.users[{i}].name"),
                format!("'{}' must be non-empty, without ',' or '='", user.name),
            ));
        }
        if user.password.is_some() == user.password_file.is_some() {
            return Err((format!("security.users[{i}]"), "give exactly one of password and password_file".into()));
        }
    }
    Ok(())
}

/// Checks one `[[clusters]]` entry's security keys; an error names the key (within the entry).
pub fn check_cluster(c: &ExternalCluster) -> Result<(), KeyError> {
    let protocol = protocol("security_protocol", c.security_protocol.as_deref())?;
    if protocol.uses_sasl() {
        let name = c
            .sasl_mechanism
            .as_deref()
            .ok_or(("sasl_mechanism".to_string(), format!("{} needs one", protocol.name())))?;
        mechanism("sasl_mechanism", name)?;
        if c.sasl_username.as_deref().is_none_or(str::is_empty) {
            return Err(("sasl_username".into(), format!("{} needs one", protocol.name())));
        }
        if c.sasl_password.is_some() == c.sasl_password_file.is_some() {
            return Err(("sasl_password".into(), "give exactly one of sasl_password and sasl_password_file".into()));
        }
    }
    if c.ssl_certificate.is_some() != c.ssl_key.is_some() {
        return Err(("ssl_certificate".into(), "a client certificate needs both ssl_certificate and ssl_key".into()));
    }
    Ok(())
}

/// A secret given inline or in a file (without its trailing newline).
fn secret(inline: Option<&Secret>, file: Option<&Path>) -> anyhow::Result<Option<Secret>> {
    match (inline, file) {
        (Some(secret), _) => Ok(Some(secret.clone())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok(Some(Secret(text.trim_end_matches(['\r', '\n']).to_string())))
        }
        (None, None) => Ok(None),
    }
}

/// The brokers' security settings: reads the certificate, key, client CA and password files.
pub fn broker_security(s: &SecuritySection) -> anyhow::Result<SecurityConfig> {
    let protocol = protocol("security.protocol", s.protocol.as_deref()).map_err(|(k, r)| anyhow!("{k}: {r}"))?;
    let mechanisms = match &s.sasl_mechanisms {
        Some(names) => names.iter().filter_map(|n| Mechanism::parse(n)).collect(),
        None => vec![
            Mechanism::Scram(broker_core::security::ScramHash::Sha512),
            Mechanism::Scram(broker_core::security::ScramHash::Sha256),
            Mechanism::Plain,
        ],
    };
    let tls = if protocol.uses_tls() {
        let (Some(cert), Some(key)) = (&s.ssl_certificate, &s.ssl_key) else {
            bail!("security.ssl_certificate: {} needs ssl_certificate and ssl_key", protocol.name());
        };
        Some(server_tls(cert, key, s.ssl_client_ca.as_deref()).map_err(|e| anyhow!("[security] TLS: {e}"))?)
    } else {
        None
    };
    let mut users = Vec::with_capacity(s.users.len());
    for user in &s.users {
        let password = secret(user.password.as_ref(), user.password_file.as_deref())
            .with_context(|| format!("password_file of user '{}'", user.name))?
            .ok_or_else(|| anyhow!("security.users: '{}' has no password", user.name))?;
        users.push((user.name.clone(), password));
    }
    // Kafka writes principals as `User:alice`; both spellings name the same user.
    let super_users = s.super_users.iter().map(|u| u.strip_prefix("User:").unwrap_or(u).to_string()).collect();
    Ok(SecurityConfig { protocol, tls, mechanisms, super_users, users })
}

/// A rustls server configuration: TLS 1.2 and 1.3, the given chain and key, and client
/// certificates required and verified when `client_ca` is given.
pub fn server_tls(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_ca {
        Some(ca) => {
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(read_roots(ca)?), provider)
                    .build()
                    .map_err(|e| format!("client CA {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(read_certificates(cert)?, read_key(key)?)
        .map_err(|e| format!("{} and {}: {e}", cert.display(), key.display()))?;
    Ok(Arc::new(config))
}

/// How warren's own clients (the stream jobs) reach its embedded brokers: the listeners'
/// protocol; TLS pinned to the listeners' own certificate; SASL as the first super user with a
/// password (else the first user with one), with the first enabled mechanism. A listener that
/// demands client certificates (`ssl_client_ca`) cannot be reached this way.
pub fn embedded_client_security(s: &SecuritySection) -> anyhow::Result<ClientSecurity> {
    let protocol = protocol("security.protocol", s.protocol.as_deref()).map_err(|(k, r)| anyhow!("{k}: {r}"))?;
    let tls = match (protocol.uses_tls(), &s.ssl_certificate) {
        (true, Some(path)) => {
            let leaf = crate::kafka::security::read_certificates(path)
                .map_err(|e| anyhow!("security.ssl_certificate: {e}"))?
                .into_iter()
                .next()
                .ok_or_else(|| anyhow!("security.ssl_certificate: {} holds no certificate", path.display()))?;
            Some(crate::kafka::security::pinned_tls(leaf).map_err(|e| anyhow!("TLS to the embedded brokers: {e}"))?)
        }
        _ => None,
    };
    let sasl = if protocol.uses_sasl() {
        let mut users: Vec<&SecurityUser> = s.users.iter().filter(|u| s.super_users.contains(&u.name)).collect();
        users.extend(s.users.iter().filter(|u| !s.super_users.contains(&u.name)));
        let mut chosen = None;
        for user in users {
            if let Some(password) = secret(user.password.as_ref(), user.password_file.as_deref())? {
                chosen = Some((user.name.clone(), password));
                break;
            }
        }
        let name = s.sasl_mechanisms.as_ref().and_then(|m| m.first()).map_or("SCRAM-SHA-512", String::as_str);
        match chosen {
            Some((username, password)) => Some(SaslCredentials {
                mechanism: Mechanism::parse(name).ok_or_else(|| anyhow!("sasl mechanism '{name}' is not supported"))?,
                username,
                password,
            }),
            None => None,
        }
    } else {
        None
    };
    Ok(ClientSecurity { protocol, tls, sasl })
}

/// The client security of one `[[clusters]]` entry: reads its CA, certificate, key and password
/// files.
pub fn cluster_security(c: &ExternalCluster) -> anyhow::Result<ClientSecurity> {
    let protocol =
        protocol("security_protocol", c.security_protocol.as_deref()).map_err(|(k, r)| anyhow!("{k}: {r}"))?;
    let password = secret(c.sasl_password.as_ref(), c.sasl_password_file.as_deref())?;
    let sasl = match (protocol.uses_sasl(), c.sasl_mechanism.as_deref()) {
        (true, Some(name)) => Some(SaslCredentials {
            mechanism: Mechanism::parse(name).ok_or_else(|| anyhow!("sasl_mechanism '{name}' is not supported"))?,
            username: c.sasl_username.clone().unwrap_or_default(),
            password: password.unwrap_or(Secret(String::new())),
        }),
        _ => None,
    };
    let tls = if protocol.uses_tls() {
        let files = TlsFiles {
            ca: c.ssl_ca.as_deref(),
            certificate: c.ssl_certificate.as_deref(),
            key: c.ssl_key.as_deref(),
            verify_hostname: c.ssl_verify_hostname.unwrap_or(true),
        };
        Some(client_tls(&files).map_err(|e| anyhow!("cluster '{}' TLS: {e}", c.name))?)
    } else {
        None
    };
    Ok(ClientSecurity { protocol, tls, sasl })
}

/// A Kafka client properties file (`--command-config`), as Kafka's shell tools read it: the
/// Java names (`security.protocol`, `sasl.mechanism`, `sasl.jaas.config`, `ssl.truststore...`
/// are not: PEM only) and librdkafka's (`sasl.username`, `ssl.ca.location`, ...). Anything else
/// is an error naming the property.
pub fn command_config(path: &Path) -> anyhow::Result<ClientSecurity> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    properties(&parse_properties(&text)).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// A Java properties file's entries: `key=value`, `key: value` or `key value`, comments
/// (`#`, `!`) and blank lines skipped, a line ending in `\` continued on the next (as Kafka's
/// docs write `sasl.jaas.config`). Escapes other than the continuation are taken literally.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut props = BTreeMap::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = if logical.is_empty() { line.trim_start() } else { line.trim() };
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        // An odd number of trailing backslashes continues the line.
        let trailing = line.len() - line.trim_end_matches('\\').len();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let key_end = entry.find(['=', ':', ' ', '\t']).unwrap_or(entry.len());
        let (key, rest) = entry.split_at(key_end);
        let rest = rest.trim_start_matches([' ', '\t']);
        let value = rest.strip_prefix(['=', ':']).unwrap_or(rest).trim();
        props.insert(key.to_string(), value.to_string());
    }
    props
}

/// Client security from Kafka client properties.
pub fn properties(props: &BTreeMap<String, String>) -> anyhow::Result<ClientSecurity> {
    let mut cluster = ExternalCluster { name: "command-config".into(), ..ExternalCluster::default() };
    for (key, value) in props {
        match key.as_str() {
            "security.protocol" => cluster.security_protocol = Some(value.to_ascii_uppercase()),
            "sasl.mechanism" | "sasl.mechanisms" => cluster.sasl_mechanism = Some(value.clone()),
            "sasl.username" => cluster.sasl_username = Some(value.clone()),
            "sasl.password" => cluster.sasl_password = Some(Secret(value.clone())),
            "sasl.jaas.config" => {
                let (user, password) = jaas(value).ok_or_else(|| {
                    anyhow!("sasl.jaas.config: expected ...LoginModule required username=\"u\" password=\"p\";")
                })?;
                cluster.sasl_username = Some(user);
                cluster.sasl_password = Some(Secret(password));
            }
            "ssl.ca.location" => cluster.ssl_ca = Some(PathBuf::from(value)),
            "ssl.certificate.location" => cluster.ssl_certificate = Some(PathBuf::from(value)),
            "ssl.key.location" => cluster.ssl_key = Some(PathBuf::from(value)),
            "ssl.endpoint.identification.algorithm" => {
                cluster.ssl_verify_hostname = Some(matches!(value.to_ascii_lowercase().as_str(), "https"));
            }
            // Java key stores (JKS, PKCS#12): the PEM files hold the same certificates.
            other
                if other.starts_with("ssl.truststore.")
                    || other.starts_with("ssl.keystore.")
                    || other == "ssl.key.password" =>
            {
                bail!("unsupported property '{other}': give PEM files with ssl.ca.location, ssl.certificate.location and ssl.key.location instead of Java key stores")
            }
            // Never echo what may be a stray secret: only names that look like properties.
            other if other.contains('.') && other.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) => {
                bail!("unsupported property '{other}'")
            }
            _ => bail!("a line that is not a Kafka client property (its text is not shown: it may be a secret)"),
        }
    }
    check_cluster(&cluster).map_err(|(key, reason)| anyhow!("{key}: {reason}"))?;
    cluster_security(&cluster)
}

/// `org.apache.kafka...PlainLoginModule required username="u" password="p";` (or Scram...).
fn jaas(text: &str) -> Option<(String, String)> {
    let value = |name: &str| -> Option<String> {
        let start = text.find(&format!("{name}="))? + name.len() + 1;
        let rest = text[start..].strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_string())
    };
    if !text.contains("LoginModule") {
        return None;
    }
    Some((value("username")?, value("password")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_syntax_as_java_reads_it() {
        let text = "# comment\n! also\n\nsecurity.protocol = SASL_SSL\nsasl.mechanism:SCRAM-SHA-256\nsasl.username alice\n\
                    sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n    username=\"bob\" \\\n    password=\"b=c\";\n";
        let props = parse_properties(text);
        assert_eq!(props.get("security.protocol").map(String::as_str), Some("SASL_SSL"));
        assert_eq!(props.get("sasl.mechanism").map(String::as_str), Some("SCRAM-SHA-256"));
        assert_eq!(props.get("sasl.username").map(String::as_str), Some("alice"));
        assert_eq!(jaas(&props["sasl.jaas.config"]), Some(("bob".into(), "b=c".into())));
        assert_eq!(props.len(), 4, "{props:?}");
        // A stray secret on a line of its own is refused without being shown.
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("client.properties");
        std::fs::write(&file, "security.protocol=SASL_SSL\nhunter2\n").expect("write");
        let err = command_config(&file).expect_err("not a property").to_string();
        assert!(!err.contains("hunter2") && err.contains("not a Kafka client property"), "{err}");
    }

    #[test]
    fn properties_files_and_their_errors() {
        let props = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let sec = properties(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"s3 cret\";"),
        ]))
        .expect("valid");
        let sasl = sec.sasl.as_ref().expect("sasl");
        assert_eq!((sasl.username.as_str(), sasl.password.0.as_str()), ("alice", "s3 cret"));
        assert!(!format!("{sec:?}").contains("s3 cret"), "the password never prints");
        let err =
            properties(&props(&[("security.protocol", "SASL_SSL"), ("bogus.key", "1")])).expect_err("unknown key");
        assert!(err.to_string().contains("bogus.key"), "{err}");
        let err = properties(&props(&[("security.protocol", "SSL"), ("ssl.truststore.location", "/x.jks")]))
            .expect_err("Java key store");
        assert!(
            err.to_string().contains("ssl.truststore.location") && err.to_string().contains("ssl.ca.location"),
            "{err}"
        );
        let err = properties(&props(&[("security.protocol", "SASL_PLAINTEXT")])).expect_err("no mechanism");
        assert!(err.to_string().contains("sasl_mechanism"), "{err}");
        let err = properties(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "GSSAPI"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
        ]))
        .expect_err("unsupported mechanism");
        assert!(err.to_string().contains("GSSAPI"), "{err}");
    }
}
