//! One connection's authentication: SaslHandshake v0-1 then SaslAuthenticate v0-2 (or, after a
//! v0 handshake, raw SASL tokens), for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. Until it succeeds
//! only ApiVersions and these two are answered; a failure answers SASL_AUTHENTICATION_FAILED with
//! a message, is logged and counted (never with the password), and closes the connection.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, SaslAuthenticateResponse, SaslHandshakeResponse};
use kafka_protocol::ResponseError;

use crate::cluster::Cluster;
use crate::security::scram::{self, ServerScram};
use crate::security::{Mechanism, Principal};

/// Where a connection is in its authentication.
#[derive(Debug)]
enum Stage {
    /// SASL is required and has not started.
    Handshake,
    /// A mechanism was chosen; `raw` after a v0 handshake (tokens without Kafka framing).
    Authenticating { mechanism: Mechanism, scram: Option<ServerScram>, raw: bool },
    /// Done: the principal is known.
    Done(Principal),
}

#[derive(Debug)]
pub struct Session {
    stage: Stage,
}

/// What a SASL step asks the connection to do after sending its answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// Authentication failed: close after the answer.
    Close,
}

impl Session {
    /// A connection's session: authenticated already (`principal`) unless its listener requires
    /// SASL.
    pub fn new(sasl_required: bool, principal: Principal) -> Session {
        Session { stage: if sasl_required { Stage::Handshake } else { Stage::Done(principal) } }
    }

    /// The principal once authenticated.
    pub fn principal(&self) -> Option<&Principal> {
        match &self.stage {
            Stage::Done(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the next frame is a raw SASL token (after a v0 handshake).
    pub fn expects_raw_token(&self) -> bool {
        matches!(self.stage, Stage::Authenticating { raw: true, .. })
    }

    /// Whether `api` may be served in the current stage.
    pub fn allows(&self, api: ApiKey) -> bool {
        match self.stage {
            // Afterwards (or on a listener without SASL) the SASL requests are answered with
            // ILLEGAL_SASL_STATE, as Kafka does, so a misconfigured client learns why.
            Stage::Done(_) => true,
            Stage::Handshake => matches!(api, ApiKey::ApiVersions | ApiKey::SaslHandshake),
            Stage::Authenticating { raw, .. } => !raw && matches!(api, ApiKey::ApiVersions | ApiKey::SaslAuthenticate),
        }
    }

    /// SaslHandshake: picks the mechanism, or lists the enabled ones with
    /// UNSUPPORTED_SASL_MECHANISM.
    pub fn handshake(&mut self, cluster: &Cluster, version: i16, mechanism: &str) -> SaslHandshakeResponse {
        let security = &cluster.config.security;
        let enabled: &[Mechanism] = if security.protocol.uses_sasl() { &security.mechanisms } else { &[] };
        let names = enabled.iter().map(|m| super::handlers::str_bytes(m.name())).collect();
        let response = SaslHandshakeResponse::default().with_mechanisms(names);
        if !matches!(self.stage, Stage::Handshake) {
            return response.with_error_code(ResponseError::IllegalSaslState.code());
        }
        match Mechanism::parse(mechanism).filter(|m| enabled.contains(m)) {
            Some(mechanism) => {
                let scram = match mechanism {
                    Mechanism::Scram(hash) => Some(ServerScram::new(hash)),
                    Mechanism::Plain => None,
                };
                self.stage = Stage::Authenticating { mechanism, scram, raw: version == 0 };
                response
            }
            None => response.with_error_code(ResponseError::UnsupportedSaslMechanism.code()),
        }
    }

    /// One SASL token in (SaslAuthenticate's `auth_bytes`, or a raw token): the answer token,
    /// or the failure message. Successes and failures are logged; failures are counted.
    pub async fn authenticate(
        &mut self,
        cluster: &Arc<Cluster>,
        token: &[u8],
        peer: std::net::SocketAddr,
    ) -> Result<Bytes, String> {
        let Stage::Authenticating { mechanism, scram, .. } = &mut self.stage else {
            return Err("no SASL handshake before SaslAuthenticate".into());
        };
        let mechanism = *mechanism;
        let users = &cluster.users;
        // The user once the exchange is complete, and the token to answer with.
        let outcome: Result<(Option<String>, Bytes), String> = match (mechanism, scram) {
            (Mechanism::Plain, _) => match scram::parse_plain(token) {
                Err(e) => Err(e.to_string()),
                Ok((user, password)) => {
                    // PBKDF2 over the stored salt costs milliseconds, and anyone who connects may
                    // ask for it: on the blocking pool, never on the async workers.
                    let (check, name) = (Arc::clone(cluster), user.clone());
                    let verified = tokio::task::spawn_blocking(move || check.users.verify_password(&name, &password))
                        .await
                        .unwrap_or(false);
                    if verified {
                        Ok((Some(user), Bytes::new()))
                    } else {
                        Err(format!("Authentication failed: invalid credentials with SASL mechanism PLAIN (user '{user}')"))
                    }
                }
            },
            (Mechanism::Scram(hash), Some(state)) => match state {
                ServerScram::Start { .. } => {
                    let server_nonce = scram::nonce(&crate::security::random_bytes(18));
                    state
                        .first(token, &server_nonce, |user| users.credential(user, hash))
                        .map(|first| (None, Bytes::from(first)))
                        .map_err(|e| format!("Authentication failed with SASL mechanism {}: {e}", hash.mechanism()))
                }
                ServerScram::Challenged { .. } => state.finish(token).map(|(user, last)| (Some(user), Bytes::from(last))).map_err(|e| {
                    format!("Authentication failed during authentication due to invalid credentials with SASL mechanism {}: {e}", hash.mechanism())
                }),
            },
            (Mechanism::Scram(_), None) => Err("SCRAM exchange without state".into()),
        };
        match outcome {
            Ok((Some(user), reply)) => {
                let super_user = cluster.config.security.super_users.contains(&user);
                tracing::info!(%peer, user, mechanism = mechanism.name(), super_user, "authenticated");
                self.stage = Stage::Done(Principal::User { name: user, super_user });
                Ok(reply)
            }
            Ok((None, reply)) => Ok(reply),
            Err(message) => {
                cluster.stats.auth_failure(mechanism.name());
                tracing::warn!(%peer, mechanism = mechanism.name(), reason = %message, "SASL authentication failed; closing connection");
                Err(message)
            }
        }
    }

    /// SaslAuthenticate: [`Session::authenticate`] in Kafka's response.
    pub async fn authenticate_response(
        &mut self,
        cluster: &Arc<Cluster>,
        token: &[u8],
        peer: std::net::SocketAddr,
    ) -> (SaslAuthenticateResponse, Next) {
        if let Stage::Done(_) = self.stage {
            let message = if cluster.config.security.protocol.uses_sasl() {
                "SaslAuthenticate request received after successful authentication"
            } else {
                "this listener does not use SASL"
            };
            let response = SaslAuthenticateResponse::default()
                .with_error_code(ResponseError::IllegalSaslState.code())
                .with_error_message(Some(super::handlers::str_bytes(message)));
            return (response, Next::Continue);
        }
        match self.authenticate(cluster, token, peer).await {
            Ok(reply) => (SaslAuthenticateResponse::default().with_auth_bytes(reply), Next::Continue),
            Err(message) => (
                SaslAuthenticateResponse::default()
                    .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                    .with_error_message(Some(super::handlers::str_bytes(message))),
                Next::Close,
            ),
        }
    }
}
