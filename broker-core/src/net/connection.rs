//! One client connection: length-prefixed frames in, responses out, in request order.
//!
//! A frame whose length prefix is above `max_request_bytes` (or below a header's size) is refused
//! before anything is allocated for it. Any framing or decoding error closes this connection with
//! one log line; nothing else is affected.
//!
//! Requests are handled one at a time, in order, as Kafka does, with one exception: an acks=all
//! produce is appended in order and then waits for the ISR while the next requests are read and
//! appended (up to `MAX_DEFERRED` of them). Responses still leave in request order, and any other
//! request waits until every deferred produce before it has been answered.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};

use super::dispatch::{self, Deferred, Handled};
use super::sasl::Session;
use crate::cluster::{Broker, Cluster};
use crate::protocol;
use crate::security::Principal;

/// How many acks=all produces of one connection may wait for the ISR at once.
const MAX_DEFERRED: usize = 16;

/// The largest frame a client may send before it has authenticated (Kafka's
/// `sasl.server.max.receive.size`): SASL tokens and ApiVersions are small, and anyone may connect.
pub const MAX_UNAUTHENTICATED_BYTES: usize = 512 * 1024;

/// Serves one connection: a TCP stream, or a TLS one over it. `principal` is who the transport
/// says the client is (a client certificate's name, or anonymous); a SASL listener asks for
/// authentication before anything else.
pub async fn serve<S>(cluster: Arc<Cluster>, broker: Arc<Broker>, stream: S, peer: SocketAddr, principal: Principal)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut stopped = broker.watch_stopped();
    let mut session = Session::new(cluster.config.security.protocol.uses_sasl(), principal);
    let (read, write) = tokio::io::split(stream);
    let mut reader = BufReader::with_capacity(64 * 1024, read);
    let mut writer = BufWriter::with_capacity(64 * 1024, write);
    let max = cluster.config.max_request_bytes;
    let traffic = cluster.stats.broker(broker.id);
    if let Some(t) = traffic {
        t.connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let mut deferred: VecDeque<Deferred> = VecDeque::new();
    loop {
        // With produces waiting, answer whichever comes first: the oldest one's acks, or more
        // request bytes (`fill_buf` is cancel-safe; the frame itself is read outside the select).
        while !deferred.is_empty() {
            let more_input = deferred.len() < MAX_DEFERRED;
            let Some(front) = deferred.front_mut() else { break };
            let response = tokio::select! {
                biased;
                response = front => response,
                filled = reader.fill_buf(), if more_input => match filled {
                    Ok([]) | Err(_) => return,
                    Ok(_) => break,
                },
                _ = super::wait_stopped(&mut stopped) => return,
            };
            deferred.pop_front();
            let flush = reader.buffer().is_empty();
            if !write_response(&mut writer, response, flush, &cluster, &broker, peer).await {
                return;
            }
        }
        let idle = cluster.config.limits.connections_max_idle;
        let size = tokio::select! {
            size = tokio::time::timeout(idle, reader.read_i32()) => match size {
                Ok(Ok(size)) => size,
                Ok(Err(_)) => return, // closed by the client
                Err(_) => {
                    tracing::debug!(broker = broker.id, %peer, ?idle, "closing an idle connection (connections_max_idle)");
                    return;
                }
            },
            _ = super::wait_stopped(&mut stopped) => return,
        };
        let max = if session.principal().is_some() { max } else { max.min(MAX_UNAUTHENTICATED_BYTES) };
        // A request has at least its header; a raw SASL token (after a v0 handshake) may be short.
        let min = if session.expects_raw_token() { 1 } else { 8 };
        if size < min || size as usize > max {
            let authenticated = session.principal().is_some();
            tracing::warn!(broker = broker.id, %peer, size, max, authenticated, "refusing request: size out of bounds; closing connection");
            return;
        }
        // Memory follows the bytes that arrive, not the length prefix: a client that announces
        // 100 MB and sends a trickle holds a trickle. The whole frame must arrive within the idle
        // limit.
        let mut frame = Vec::with_capacity((size as usize).min(64 * 1024));
        let read = tokio::time::timeout(idle, (&mut reader).take(size as u64).read_to_end(&mut frame)).await;
        match read {
            Ok(Ok(n)) if n == size as usize => {}
            Ok(Ok(n)) => {
                tracing::warn!(broker = broker.id, %peer, size, got = n, "truncated request; closing connection");
                return;
            }
            Ok(Err(e)) => {
                tracing::warn!(broker = broker.id, %peer, error = %e, "truncated request; closing connection");
                return;
            }
            Err(_) => {
                tracing::warn!(broker = broker.id, %peer, size, ?idle, "request not received within connections_max_idle; closing connection");
                return;
            }
        }
        let frame = bytes::Bytes::from(frame);
        if let Some(t) = traffic {
            t.bytes_in.fetch_add(4 + size as u64, std::sync::atomic::Ordering::Relaxed);
        }
        if session.expects_raw_token() {
            // After a v0 handshake the client sends bare SASL tokens, and gets bare ones back.
            match session.authenticate(&cluster, &frame, peer).await {
                Ok(reply) => {
                    let mut out = BytesMut::with_capacity(4 + reply.len());
                    out.extend_from_slice(&(reply.len() as i32).to_be_bytes());
                    out.extend_from_slice(&reply);
                    if !write_response(&mut writer, Ok(out), true, &cluster, &broker, peer).await {
                        return;
                    }
                    continue;
                }
                Err(_) => return,
            }
        }
        if session.principal().is_none() {
            // Before authentication the header alone decides: no other body is ever decoded.
            let api = protocol::peek_header(&frame)
                .ok()
                .and_then(|h| kafka_protocol::messages::ApiKey::try_from(h.api_key).ok());
            if !api.is_some_and(|api| session.allows(api)) {
                tracing::warn!(broker = broker.id, %peer, api = ?api, "request before SASL authentication; closing connection");
                return;
            }
        }
        let decoded = match protocol::decode_request(frame) {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::warn!(broker = broker.id, %peer, error = %e, "bad request; closing connection");
                let _ = writer.flush().await;
                return;
            }
        };
        if !dispatch::may_defer(&decoded) {
            // Everything else waits for the deferred produces before it, as if handled in order.
            while let Some(front) = deferred.pop_front() {
                let response = tokio::select! {
                    r = front => r,
                    _ = super::wait_stopped(&mut stopped) => return,
                };
                if !write_response(&mut writer, response, false, &cluster, &broker, peer).await {
                    return;
                }
            }
        }
        let handled = tokio::select! {
            r = dispatch::handle(&cluster, &broker, peer, &mut session, decoded) => r,
            _ = super::wait_stopped(&mut stopped) => return,
        };
        match handled {
            Ok(Handled::Later(future)) => deferred.push_back(future),
            Ok(Handled::Last(bytes)) => {
                let _ = write_response(&mut writer, Ok(bytes), true, &cluster, &broker, peer).await;
                return;
            }
            Ok(Handled::Now(response)) => {
                let flush = reader.buffer().is_empty();
                let written = match response {
                    Some(bytes) => write_response(&mut writer, Ok(bytes), flush, &cluster, &broker, peer).await,
                    None => !flush || writer.flush().await.is_ok(),
                };
                if !written {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(broker = broker.id, %peer, error = %e, "bad request; closing connection");
                let _ = writer.flush().await;
                return;
            }
        }
    }
}

/// Writes one response (flushing unless the client already sent more, i.e. pipelines); returns
/// whether the connection is still good.
async fn write_response<W: AsyncWrite + Unpin>(
    writer: &mut BufWriter<W>,
    response: Result<BytesMut, protocol::ProtocolError>,
    flush: bool,
    cluster: &Cluster,
    broker: &Broker,
    peer: SocketAddr,
) -> bool {
    match response {
        Ok(bytes) => {
            if let Some(t) = cluster.stats.broker(broker.id) {
                t.bytes_out.fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            writer.write_all(&bytes).await.is_ok() && (!flush || writer.flush().await.is_ok())
        }
        Err(e) => {
            tracing::warn!(broker = broker.id, %peer, error = %e, "cannot encode a response; closing connection");
            let _ = writer.flush().await;
            false
        }
    }
}
