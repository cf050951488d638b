//! One client connection: length-prefixed frames in, responses out, in order.
//!
//! A frame whose length prefix is above `max_request_bytes` (or below a header's size) is refused
//! before anything is allocated for it. Any framing or decoding error closes this connection with
//! one log line; nothing else is affected.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;

use super::dispatch;
use crate::cluster::{Broker, Cluster};

pub async fn serve(cluster: Arc<Cluster>, broker: Arc<Broker>, stream: TcpStream, peer: SocketAddr) {
    let mut stopped = broker.watch_stopped();
    let (read, write) = stream.into_split();
    let mut reader = BufReader::with_capacity(64 * 1024, read);
    let mut writer = BufWriter::with_capacity(64 * 1024, write);
    let max = cluster.config.max_request_bytes;
    loop {
        let size = tokio::select! {
            size = reader.read_i32() => match size {
                Ok(size) => size,
                Err(_) => return, // closed by the client
            },
            _ = super::wait_stopped(&mut stopped) => return,
        };
        if size < 8 || size as usize > max {
            tracing::warn!(broker = broker.id, %peer, size, max, "refusing request: size out of bounds; closing connection");
            return;
        }
        let mut frame = BytesMut::zeroed(size as usize);
        if let Err(e) = reader.read_exact(&mut frame).await {
            tracing::warn!(broker = broker.id, %peer, error = %e, "truncated request; closing connection");
            return;
        }
        let response = tokio::select! {
            r = dispatch::handle(&cluster, &broker, peer, frame.freeze()) => r,
            _ = super::wait_stopped(&mut stopped) => return,
        };
        match response {
            Ok(Some(bytes)) => {
                if writer.write_all(&bytes).await.is_err() {
                    return;
                }
                // Flush unless the client already sent the next request (pipelining).
                if reader.buffer().is_empty() && writer.flush().await.is_err() {
                    return;
                }
            }
            Ok(None) => {
                if reader.buffer().is_empty() && writer.flush().await.is_err() {
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
