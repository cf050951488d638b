//! One TCP connection to one broker: length-prefixed frames, requests pipelined by correlation
//! id, a per-request timeout, and the ApiVersions handshake that fixes which version of each API
//! is sent on it.
//!
//! A reader task owns the read half and hands each response frame to the request waiting for its
//! correlation id; a frame nobody waits for (its request timed out) is dropped. When the socket
//! fails, or a request times out, the connection is marked closed and every waiter learns why; the
//! client then opens a new one. Nothing here panics on a broker's bytes: sizes are checked before
//! allocating and every decode error is an `Error::Malformed`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::error::{io_reason, Error, Result};
use super::security::{ClientSasl, ClientSecurity, SaslCredentials};
use super::versions::{api_name, client_range, BrokerVersions};

/// Larger response frames are refused rather than allocated (fetches ask for far less).
const MAX_FRAME_BYTES: usize = 256 << 20;
/// UNSUPPORTED_VERSION: the broker answered ApiVersions in the v0 layout.
const UNSUPPORTED_VERSION: i16 = 35;

#[derive(Default)]
struct State {
    pending: HashMap<i32, oneshot::Sender<Bytes>>,
    closed: Option<String>,
}

pub struct Connection {
    pub addr: String,
    client_id: StrBytes,
    writer: tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>,
    state: Arc<Mutex<State>>,
    next_correlation_id: AtomicI32,
    /// What the broker advertised in the handshake.
    pub versions: BrokerVersions,
    /// Per API key, the highest version whose answers this broker sent decodable: set below the
    /// negotiated one after an answer could not be decoded.
    caps: Mutex<HashMap<i16, i16>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Requests that change nothing on the broker, so asking again is harmless.
fn resendable(api: ApiKey) -> bool {
    matches!(
        api,
        ApiKey::Metadata
            | ApiKey::ListOffsets
            | ApiKey::Fetch
            | ApiKey::ListGroups
            | ApiKey::DescribeGroups
            | ApiKey::OffsetFetch
            | ApiKey::FindCoordinator
            | ApiKey::DescribeConfigs
            | ApiKey::DescribeCluster
    )
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Connection {
    /// Connects to `addr` (over TLS when `security` asks for it), negotiates API versions and
    /// authenticates (SASL), all within `timeout`.
    pub async fn open(addr: &str, client_id: &str, timeout: Duration, security: &ClientSecurity) -> Result<Connection> {
        let connect_error = |reason: String| Error::Connect { addr: addr.to_string(), reason };
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(connect_error(io_reason(&e))),
            Err(_) => return Err(connect_error(format!("no answer within {} ms", timeout.as_millis()))),
        };
        let _ = stream.set_nodelay(true);
        type Read = Box<dyn AsyncRead + Send + Unpin>;
        type Write = Box<dyn AsyncWrite + Send + Unpin>;
        let (read, write): (Read, Write) = match security.tls.as_ref().filter(|_| security.protocol.uses_tls()) {
            Some(tls) => {
                let auth_error = |reason: String| Error::Auth { addr: addr.to_string(), reason };
                let host = host_of(addr);
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|_| auth_error(format!("'{host}' is not a host name for TLS")))?;
                let connector = tokio_rustls::TlsConnector::from(Arc::clone(tls));
                let stream = match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
                    Ok(Ok(stream)) => stream,
                    // A refused certificate, or an end of stream (a plaintext listener closes on
                    // a TLS hello), will not get better: final. A reset or a timeout may: retried.
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        return Err(auth_error(format!("TLS handshake failed: {e} (is this a TLS listener?)")));
                    }
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                        return Err(auth_error(format!("TLS handshake failed: {e}")));
                    }
                    Ok(Err(e)) => return Err(connect_error(format!("TLS handshake interrupted: {e}"))),
                    Err(_) => return Err(connect_error("no TLS handshake within the connect timeout".into())),
                };
                let (read, write) = tokio::io::split(stream);
                (Box::new(read), Box::new(write))
            }
            None => {
                let (read, write) = stream.into_split();
                (Box::new(read), Box::new(write))
            }
        };
        let state = Arc::new(Mutex::new(State::default()));
        let reader = tokio::spawn(read_loop(read, Arc::clone(&state)));
        let mut connection = Connection {
            addr: addr.to_string(),
            client_id: StrBytes::from_string(client_id.to_string()),
            writer: tokio::sync::Mutex::new(write),
            state,
            next_correlation_id: AtomicI32::new(1),
            versions: BrokerVersions::default(),
            caps: Mutex::new(HashMap::new()),
            reader,
        };
        connection.versions = connection.handshake(timeout).await.map_err(|e| match e {
            Error::Disconnected { reason, .. } => connect_error(format!("closed during the handshake ({reason})")),
            Error::Timeout { .. } => connect_error("no ApiVersions answer (is this a Kafka broker?)".to_string()),
            other => other,
        })?;
        if security.protocol.uses_sasl() {
            let credentials = security.sasl.as_ref().ok_or_else(|| Error::Auth {
                addr: addr.to_string(),
                reason: format!("{} needs a SASL mechanism, user and password", security.protocol.name()),
            })?;
            connection.authenticate(credentials, timeout).await?;
        }
        Ok(connection)
    }

    /// SaslHandshake v1, then SaslAuthenticate rounds until the mechanism is done.
    async fn authenticate(&self, credentials: &SaslCredentials, timeout: Duration) -> Result<()> {
        use kafka_protocol::messages::SaslHandshakeRequest;
        let auth_error = |reason: String| Error::Auth { addr: self.addr.clone(), reason };
        let mechanism = credentials.mechanism.name();
        let handshake = self.version(ApiKey::SaslHandshake)?;
        if handshake < 1 {
            return Err(auth_error("the broker only speaks SaslHandshake v0 (no SaslAuthenticate)".into()));
        }
        let request = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
        let response = self.call(handshake, &request, timeout).await?;
        if response.error_code != 0 {
            let offered: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(auth_error(format!(
                "the broker does not offer {mechanism} (it offers {})",
                offered.join(", ")
            )));
        }
        let version = self.version(ApiKey::SaslAuthenticate)?;
        let (state, first) = ClientSasl::start(credentials);
        let reply = self.sasl_round(version, first, timeout, mechanism).await?;
        match state {
            ClientSasl::Plain => Ok(()),
            ClientSasl::Scram(mut scram) => {
                let last = scram.respond(&reply).map_err(|e| auth_error(e.to_string()))?;
                let server_final = self.sasl_round(version, last, timeout, mechanism).await?;
                scram.verify(&server_final).map_err(|e| auth_error(e.to_string()))
            }
        }
    }

    /// One SaslAuthenticate: our token out, the broker's back (or its refusal).
    async fn sasl_round(&self, version: i16, token: Vec<u8>, timeout: Duration, mechanism: &str) -> Result<Bytes> {
        let request = kafka_protocol::messages::SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
        let response = self.call(version, &request, timeout).await?;
        if response.error_code != 0 {
            let message = response.error_message.as_ref().map_or("", |m| m.as_str());
            return Err(Error::Auth { addr: self.addr.clone(), reason: format!("{mechanism}: {message}") });
        }
        Ok(response.auth_bytes)
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed.is_some()
    }

    /// The version this connection sends `api` in.
    pub fn version(&self, api: ApiKey) -> Result<i16> {
        let picked = self.versions.pick(api).map_err(|m| Error::Unsupported {
            api: api_name(api),
            addr: self.addr.clone(),
            detail: m.to_string(),
        })?;
        let cap = self.caps.lock().unwrap_or_else(|e| e.into_inner()).get(&(api as i16)).copied();
        Ok(cap.map_or(picked, |cap| picked.min(cap)))
    }

    /// Sends `request` in `version` and decodes the response. An answer to a read-only request
    /// that does not decode (a Kafka-compatible broker with its own idea of a version) is asked
    /// again one version lower, down to the lowest both sides speak, and the connection keeps
    /// using the version that worked.
    pub async fn call<R: Request>(&self, version: i16, request: &R, timeout: Duration) -> Result<R::Response> {
        let api = api_key::<R>();
        let lowest = match (client_range(api), self.versions.range(api)) {
            (Some(client), Some(broker)) if resendable(api) => client.0.max(broker.0),
            _ => version,
        };
        let mut version = version;
        loop {
            match self.call_once(version, request, timeout).await {
                Err(e @ Error::Malformed { .. }) if version > lowest => {
                    tracing::warn!(addr = %self.addr, api = api_name(api), version, error = %e, "an answer did not decode; asking one version lower");
                    version -= 1;
                    self.caps.lock().unwrap_or_else(|e| e.into_inner()).insert(api as i16, version);
                }
                other => return other,
            }
        }
    }

    async fn call_once<R: Request>(&self, version: i16, request: &R, timeout: Duration) -> Result<R::Response> {
        let api = api_key::<R>();
        let mut frame = self.roundtrip(api, version, request, timeout, true).await?.unwrap_or_default();
        let malformed = |reason: String| Error::Malformed { api: api_name(api), addr: self.addr.clone(), reason };
        ResponseHeader::decode(&mut frame, R::Response::header_version(version))
            .map_err(|e| malformed(format!("header: {e}")))?;
        R::Response::decode(&mut frame, version).map_err(|e| malformed(format!("v{version} body: {e}")))
    }

    /// Sends `request` and returns once it is written (Produce with acks=0 has no response).
    pub async fn send_only<R: Request>(&self, version: i16, request: &R, timeout: Duration) -> Result<()> {
        self.roundtrip(api_key::<R>(), version, request, timeout, false).await.map(|_| ())
    }

    /// Writes one request frame; when `expect_response`, waits for its response frame.
    async fn roundtrip<R: Encodable + HeaderVersion>(
        &self,
        api: ApiKey,
        version: i16,
        request: &R,
        timeout: Duration,
        expect_response: bool,
    ) -> Result<Option<Bytes>> {
        let correlation_id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(&[0; 4]);
        header
            .encode(&mut buf, R::header_version(version))
            .and_then(|()| request.encode(&mut buf, version))
            .map_err(|e| Error::Invalid(format!("cannot encode {} v{version}: {e}", api_name(api))))?;
        let size = i32::try_from(buf.len() - 4).map_err(|_| Error::Invalid("request too large".into()))?;
        buf[..4].copy_from_slice(&size.to_be_bytes());

        let receiver = {
            let mut state = lock(&self.state);
            if let Some(reason) = &state.closed {
                return Err(Error::Disconnected { addr: self.addr.clone(), reason: reason.clone() });
            }
            expect_response.then(|| {
                let (tx, rx) = oneshot::channel();
                state.pending.insert(correlation_id, tx);
                rx
            })
        };
        let timed_out = || Error::Timeout { api: api_name(api), addr: self.addr.clone(), timeout_ms: ms(timeout) };
        let write = async {
            let mut writer = self.writer.lock().await;
            writer.write_all(&buf).await
        };
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(self.close(&io_reason(&e))),
            Err(_) => {
                self.close("a request write timed out");
                return Err(timed_out());
            }
        }
        let Some(receiver) = receiver else { return Ok(None) };
        match tokio::time::timeout(timeout, receiver).await {
            Ok(Ok(frame)) => Ok(Some(frame)),
            Ok(Err(_)) => {
                let reason = lock(&self.state).closed.clone().unwrap_or_else(|| "closed".to_string());
                Err(Error::Disconnected { addr: self.addr.clone(), reason })
            }
            Err(_) => {
                // Like Kafka's clients: a request that outlived its timeout poisons the connection.
                self.close("a request timed out");
                Err(timed_out())
            }
        }
    }

    /// Marks the connection closed and fails every waiter.
    fn close(&self, reason: &str) -> Error {
        close(&self.state, reason);
        Error::Disconnected { addr: self.addr.clone(), reason: reason.to_string() }
    }

    /// ApiVersions v3, or the version the broker's UNSUPPORTED_VERSION answer allows (KIP-511).
    async fn handshake(&self, timeout: Duration) -> Result<BrokerVersions> {
        let mut version = 3;
        for _ in 0..3 {
            let request = if version >= 3 {
                ApiVersionsRequest::default()
                    .with_client_software_name(StrBytes::from_static_str("warren"))
                    .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")))
            } else {
                ApiVersionsRequest::default()
            };
            let mut frame =
                self.roundtrip(ApiKey::ApiVersions, version, &request, timeout, true).await?.unwrap_or_default();
            let malformed = |reason: String| Error::Malformed { api: "ApiVersions", addr: self.addr.clone(), reason };
            // ApiVersions responses always use header v0: the correlation id alone.
            if frame.remaining() < 6 {
                return Err(malformed(format!("{} bytes", frame.len())));
            }
            frame.advance(4);
            let error_code = i16::from_be_bytes([frame[0], frame[1]]);
            let decode_version = if error_code == UNSUPPORTED_VERSION { 0 } else { version };
            let response = ApiVersionsResponse::decode(&mut frame, decode_version)
                .map_err(|e| malformed(format!("v{decode_version} body: {e}")))?;
            if error_code == UNSUPPORTED_VERSION {
                let broker_max = response
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                    .map_or(0, |k| k.max_version);
                let next = broker_max.min(version - 1).max(0);
                if version == 0 || next == version {
                    return Err(Error::kafka(error_code, format!("ApiVersions to {}", self.addr)));
                }
                version = next;
                continue;
            }
            super::error::check(error_code, || format!("ApiVersions to {}", self.addr))?;
            return Ok(BrokerVersions::new(
                response.api_keys.iter().map(|k| (k.api_key, k.min_version, k.max_version)),
            ));
        }
        Err(Error::Malformed { api: "ApiVersions", addr: self.addr.clone(), reason: "no usable version".into() })
    }
}

fn close(state: &Mutex<State>, reason: &str) {
    let mut state = lock(state);
    if state.closed.is_none() {
        state.closed = Some(reason.to_string());
    }
    // Dropping the senders wakes every waiter with a receive error.
    state.pending.clear();
}

/// The host part of `host:port` (or `[v6]:port`).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

async fn read_loop(mut read: Box<dyn AsyncRead + Send + Unpin>, state: Arc<Mutex<State>>) {
    let reason = loop {
        let mut size = [0u8; 4];
        if let Err(e) = read.read_exact(&mut size).await {
            break io_reason(&e);
        }
        let size = i32::from_be_bytes(size);
        let Ok(size) = usize::try_from(size) else { break format!("negative frame size {size}") };
        if !(4..=MAX_FRAME_BYTES).contains(&size) {
            break format!("response frame of {size} bytes");
        }
        let mut frame = vec![0u8; size];
        if let Err(e) = read.read_exact(&mut frame).await {
            break io_reason(&e);
        }
        let correlation_id = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let waiter = lock(&state).pending.remove(&correlation_id);
        if let Some(waiter) = waiter {
            let _ = waiter.send(Bytes::from(frame));
        }
    };
    close(&state, &reason);
}

/// The API key of a request type (every `Request` the codec defines has a known key).
pub fn api_key<R: Request>() -> ApiKey {
    ApiKey::try_from(R::KEY).unwrap_or(ApiKey::ApiVersions)
}

pub fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
    use tokio::net::TcpListener;

    /// Reads one request frame: (api key, api version, correlation id).
    async fn read_request(s: &mut TcpStream) -> (i16, i16, i32) {
        let size = s.read_i32().await.expect("size");
        let mut frame = vec![0u8; size as usize];
        s.read_exact(&mut frame).await.expect("frame");
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        (key, version, i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]))
    }

    async fn write_frame(s: &mut TcpStream, correlation_id: i32, body: &[u8]) {
        let mut out = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&correlation_id.to_be_bytes());
        out.extend_from_slice(body);
        s.write_all(&out).await.expect("write");
    }

    fn versions_body(version: i16, error_code: i16, apis: &[(ApiKey, i16, i16)]) -> Vec<u8> {
        let response = ApiVersionsResponse::default().with_error_code(error_code).with_api_keys(
            apis.iter()
                .map(|(k, min, max)| {
                    ApiVersion::default().with_api_key(*k as i16).with_min_version(*min).with_max_version(*max)
                })
                .collect(),
        );
        let mut buf = BytesMut::new();
        response.encode(&mut buf, version).expect("encode");
        buf.to_vec()
    }

    /// A broker that only speaks ApiVersions v0-2 answers v3 with UNSUPPORTED_VERSION in the v0
    /// layout; the client retries with v2 (KIP-511) and then uses the table it gets.
    #[tokio::test]
    async fn api_versions_falls_back_on_unsupported_version() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let broker = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let (key, version, cid) = read_request(&mut s).await;
            assert_eq!((key, version), (ApiKey::ApiVersions as i16, 3));
            write_frame(&mut s, cid, &versions_body(0, UNSUPPORTED_VERSION, &[(ApiKey::ApiVersions, 0, 2)])).await;
            let (key, version, cid) = read_request(&mut s).await;
            assert_eq!((key, version), (ApiKey::ApiVersions as i16, 2));
            let apis = [(ApiKey::ApiVersions, 0, 2), (ApiKey::Metadata, 0, 8)];
            write_frame(&mut s, cid, &versions_body(2, 0, &apis)).await;
            // Then a Metadata request in the negotiated version, answered with garbage; asked
            // again one version lower, answered with a null where the broker array belongs.
            let (key, version, cid) = read_request(&mut s).await;
            assert_eq!((key, version), (ApiKey::Metadata as i16, 8));
            write_frame(&mut s, cid, &[0xff; 7]).await;
            let (key, version, cid) = read_request(&mut s).await;
            assert_eq!((key, version), (ApiKey::Metadata as i16, 7));
            let mut body = BytesMut::new();
            MetadataResponse::default().with_controller_id(BrokerId(3)).encode(&mut body, 7).expect("encode");
            body[4..8].copy_from_slice(&(-1i32).to_be_bytes()); // after throttle_time_ms: the brokers count
            write_frame(&mut s, cid, &body).await;
            s
        });
        let connection = Connection::open(&addr, "test", Duration::from_secs(5), &ClientSecurity::default())
            .await
            .expect("handshake");
        assert_eq!(connection.version(ApiKey::Metadata).expect("metadata"), 8);
        assert!(matches!(connection.version(ApiKey::Fetch), Err(Error::Unsupported { .. })));
        let answer = connection.call(8, &MetadataRequest::default(), Duration::from_secs(5)).await.expect("v7 answer");
        assert_eq!((answer.controller_id, answer.brokers.len()), (BrokerId(3), 0), "a null array reads as empty");
        assert_eq!(connection.version(ApiKey::Metadata).expect("metadata"), 7, "the version that worked sticks");
        drop(broker.await.expect("broker"));
    }

    /// At the lowest version both sides speak, an answer that does not decode is an error naming
    /// the API; requests that change something (Produce) are never sent twice.
    #[tokio::test]
    async fn undecodable_answers_at_the_lowest_version_or_to_writes_are_errors() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let broker = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let (_, _, cid) = read_request(&mut s).await;
            write_frame(&mut s, cid, &versions_body(3, 0, &[(ApiKey::Metadata, 0, 4), (ApiKey::Produce, 3, 9)])).await;
            for _ in 0..2 {
                let (_, _, cid) = read_request(&mut s).await;
                write_frame(&mut s, cid, &[0xff; 3]).await;
            }
            s
        });
        let connection = Connection::open(&addr, "test", Duration::from_secs(5), &ClientSecurity::default())
            .await
            .expect("handshake");
        let lowest = client_range(ApiKey::Metadata).expect("metadata").0.max(0);
        let error = connection.call(lowest, &MetadataRequest::default(), Duration::from_secs(5)).await;
        assert!(matches!(error, Err(Error::Malformed { api: "Metadata", .. })), "{error:?}");
        let produce = kafka_protocol::messages::ProduceRequest::default().with_acks(1);
        let error = connection.call(9, &produce, Duration::from_secs(5)).await;
        assert!(matches!(error, Err(Error::Malformed { api: "Produce", .. })), "{error:?}");
        drop(broker.await.expect("broker"));
    }

    /// Responses are matched by correlation id, whatever their order; a closed socket fails the
    /// waiters with the reason; a silent broker times out.
    #[tokio::test]
    async fn pipelined_responses_timeouts_and_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let broker = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let (_, _, cid) = read_request(&mut s).await;
            write_frame(&mut s, cid, &versions_body(3, 0, &[(ApiKey::Metadata, 0, 12)])).await;
            let (_, _, first) = read_request(&mut s).await;
            let (_, _, second) = read_request(&mut s).await;
            for (cid, controller) in [(second, 2), (first, 1)] {
                let response = MetadataResponse::default().with_controller_id(BrokerId(controller));
                let mut body = BytesMut::new();
                body.extend_from_slice(&[0]); // response header v1: empty tag buffer
                response.encode(&mut body, 12).expect("encode");
                write_frame(&mut s, cid, &body).await;
            }
            // Swallow the next request, then hang up after the client gave up on it.
            let _ = read_request(&mut s).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let connection = Connection::open(&addr, "test", Duration::from_secs(5), &ClientSecurity::default())
            .await
            .expect("handshake");
        let request = MetadataRequest::default();
        let (a, b) = tokio::join!(
            connection.call(12, &request, Duration::from_secs(5)),
            connection.call(12, &request, Duration::from_secs(5))
        );
        assert_eq!(a.expect("first").controller_id, BrokerId(1));
        assert_eq!(b.expect("second").controller_id, BrokerId(2));
        let timed_out = connection.call(12, &request, Duration::from_millis(100)).await;
        assert!(matches!(timed_out, Err(Error::Timeout { .. })), "{timed_out:?}");
        assert!(connection.is_closed(), "a timed-out request poisons the connection");
        let after = connection.call(12, &request, Duration::from_secs(1)).await;
        assert!(matches!(after, Err(Error::Disconnected { .. })), "{after:?}");
        broker.await.expect("broker");
    }
}
