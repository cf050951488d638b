//! Listeners and connections of the logical brokers, and one handler per API.
//!
//! Each broker accepts on its own port while it is up; stopping it closes its listener and every
//! connection. A connection serves requests in order, as Kafka does; a malformed frame closes
//! that connection only.

mod connection;
mod dispatch;
mod handlers;
pub mod limits;
mod sasl;
pub use connection::MAX_UNAUTHENTICATED_BYTES;

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::cluster::{AdminError, Cluster};
use crate::security::Principal;

/// Serves broker `id` on `listener` until the broker is stopped.
pub fn spawn_listener(cluster: Arc<Cluster>, id: i32, listener: TcpListener) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(broker) = cluster.broker(id).cloned() else {
            return;
        };
        let mut stopped = broker.watch_stopped();
        // Refusals are logged at most every 10 s, with how many there were: a flood of
        // connections must not become a flood of log lines.
        let mut refusals = (0u64, None::<std::time::Instant>);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => match cluster.connections.acquire(peer.ip(), &cluster.config.limits) {
                        Ok(slot) => {
                            let _ = stream.set_nodelay(true);
                            let cluster = Arc::clone(&cluster);
                            let broker = Arc::clone(&broker);
                            tokio::spawn(async move {
                                serve(cluster, broker, stream, peer).await;
                                drop(slot);
                            });
                        }
                        Err(refused) => {
                            drop(stream);
                            refusals.0 += 1;
                            if refusals.1.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(10)) {
                                tracing::warn!(broker = id, %peer, refused = refusals.0, "connection refused: {refused}");
                                refusals = (0, Some(std::time::Instant::now()));
                            }
                        }
                    },
                    Err(e) => {
                        // Out of descriptors (or another transient failure): back off instead of
                        // spinning on the error.
                        tracing::warn!(broker = id, error = %e, "accept failed; retrying in 1 s");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                },
                _ = wait_stopped(&mut stopped) => {
                    tracing::info!(broker = id, "listener closed");
                    return;
                }
            }
        }
    })
}

/// One accepted connection: over TLS when the listener's protocol asks for it (the handshake,
/// bounded by 10 s, decides the principal when the client shows a certificate), as it is
/// otherwise.
async fn serve(
    cluster: Arc<Cluster>,
    broker: Arc<crate::cluster::Broker>,
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
) {
    let security = &cluster.config.security;
    let Some(tls) = security.tls.as_ref().filter(|_| security.protocol.uses_tls()) else {
        connection::serve(cluster, broker, stream, peer, Principal::Anonymous).await;
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(tls));
    let stream = match tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::info!(broker = broker.id, %peer, error = %e, "TLS handshake failed; closing connection");
            return;
        }
        Err(_) => {
            tracing::info!(broker = broker.id, %peer, "TLS handshake did not finish within 10 s; closing connection");
            return;
        }
    };
    // A verified client certificate always names someone, never Anonymous (who may administer):
    // its common name, or a name no super user has when it has none.
    let principal = match stream.get_ref().1.peer_certificates().and_then(|certs| certs.first()) {
        None => Principal::Anonymous,
        Some(cert) => {
            let name = crate::security::certificate_common_name(cert)
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| crate::security::UNNAMED_CERTIFICATE.to_string());
            let super_user = security.super_users.contains(&name);
            Principal::User { name, super_user }
        }
    };
    connection::serve(cluster, broker, stream, peer, principal).await;
}

/// Resolves once the broker is stopped (or its cluster is gone).
pub(crate) async fn wait_stopped(stopped: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// Starts a stopped broker again: rebinds its address and rejoins the cluster.
pub async fn start_broker(cluster: &Arc<Cluster>, id: i32) -> Result<(), AdminError> {
    let broker = cluster.broker(id).ok_or_else(|| {
        AdminError::new(kafka_protocol::ResponseError::BrokerNotAvailable, format!("no broker with id {id}"))
    })?;
    if broker.is_up() {
        return Ok(());
    }
    let listener = TcpListener::bind(broker.addr).await.map_err(|e| {
        AdminError::new(
            kafka_protocol::ResponseError::BrokerNotAvailable,
            format!("cannot listen on {}: {e}", broker.addr),
        )
    })?;
    cluster.start_broker(id)?;
    spawn_listener(Arc::clone(cluster), id, listener);
    Ok(())
}
