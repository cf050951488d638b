//! How the client reaches a secured cluster: TLS (rustls; a given CA, else the system's CA bundle,
//! else Mozilla's roots; optional client certificate; hostname verification that can be turned
//! off) and SASL
//! (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, through SaslHandshake v1 and SaslAuthenticate). Secrets
//! live in [`Secret`]s and never appear in errors, logs or `Debug` output.

use std::path::Path;
use std::sync::Arc;

use broker_core::security::scram::ClientScram;
use broker_core::security::{Mechanism, Protocol, Secret};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// SASL credentials for one cluster.
#[derive(Debug, Clone)]
pub struct SaslCredentials {
    pub mechanism: Mechanism,
    pub username: String,
    pub password: Secret,
}

/// Everything a connection needs to get past a cluster's listener.
#[derive(Debug, Clone, Default)]
pub struct ClientSecurity {
    pub protocol: Protocol,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub sasl: Option<SaslCredentials>,
}

/// The TLS side of a client, from PEM files.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles<'a> {
    /// Roots to trust; the system's ([`system_roots`]) when `None`.
    pub ca: Option<&'a Path>,
    /// A client certificate chain and key, for clusters that require one (mTLS).
    pub certificate: Option<&'a Path>,
    pub key: Option<&'a Path>,
    pub verify_hostname: bool,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> =
        CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?.collect();
    let certs = certs.map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

/// Reads a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: no usable PEM private key ({e})", path.display()))
}

/// A root store of the certificates in `path`.
pub fn read_roots(path: &Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certificates(path)? {
        roots.add(cert).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(roots)
}

/// Where distributions keep their CA bundle (Debian and Ubuntu, Fedora and RHEL, openSUSE,
/// Alpine and macOS), as OpenSSL-based clients find it.
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system's trusted roots (so a private CA installed there is trusted, as librdkafka and the
/// Java client trust it), or Mozilla's (webpki-roots) on a system without a bundle.
pub fn system_roots() -> rustls::RootCertStore {
    first_bundle(SYSTEM_BUNDLES.iter().map(Path::new))
}

/// The roots of the first readable bundle among `paths` holding a usable certificate; Mozilla's
/// when none does.
pub fn first_bundle<'a>(paths: impl IntoIterator<Item = &'a Path>) -> rustls::RootCertStore {
    for path in paths {
        if let Ok(certs) = read_certificates(path) {
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(certs);
            if added > 0 {
                return roots;
            }
        }
    }
    rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

/// A rustls client configuration (TLS 1.2 and 1.3).
pub fn client_tls(files: &TlsFiles<'_>) -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = match files.ca {
        Some(path) => read_roots(path)?,
        None => system_roots(),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if files.verify_hostname {
        builder.with_root_certificates(roots)
    } else {
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| e.to_string())?;
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyName { inner }))
    };
    let config = match (files.certificate, files.key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(read_certificates(cert)?, read_key(key)?)
            .map_err(|e| format!("client certificate: {e}"))?,
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("a client certificate needs both the certificate and the key".into()),
    };
    Ok(Arc::new(config))
}

/// TLS to a listener whose own certificate is known (warren's clients of its embedded brokers):
/// the server must present exactly `certificate` as its end entity, and prove it holds its key.
/// Pinning needs no CA and no host name, and trusts nothing else.
pub fn pinned_tls(certificate: CertificateDer<'static>) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = provider();
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned { certificate, provider }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct Pinned {
    certificate: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Chain verification without the hostname check (`ssl_verify_hostname = false`, Kafka's
/// `ssl.endpoint.identification.algorithm=`): the certificate must still chain to a trusted root.
#[derive(Debug)]
struct AnyName {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
}

impl rustls::client::danger::ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// One step of a SASL exchange on the client side.
pub enum ClientSasl {
    Plain,
    Scram(Box<ClientScram>),
}

impl ClientSasl {
    /// The first token to send.
    pub fn start(credentials: &SaslCredentials) -> (ClientSasl, Vec<u8>) {
        match credentials.mechanism {
            Mechanism::Plain => {
                let token = format!("\0{}\0{}", credentials.username, credentials.password.0).into_bytes();
                (ClientSasl::Plain, token)
            }
            Mechanism::Scram(hash) => {
                let nonce = broker_core::security::scram::nonce(&broker_core::security::random_bytes(18));
                let (scram, first) = ClientScram::start(hash, &credentials.username, &credentials.password.0, nonce);
                (ClientSasl::Scram(Box::new(scram)), first)
            }
        }
    }
}
