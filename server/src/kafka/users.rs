//! SCRAM users through the protocol (what `kafka-configs.sh --entity-type users` does):
//! DescribeUserScramCredentials and AlterUserScramCredentials. Passwords are salted here, on the
//! client, as Kafka's admin client does: the broker only ever sees the salted password.

use bytes::Bytes;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest};
use kafka_protocol::protocol::StrBytes;

use broker_core::security::scram::ScramHash;

use super::client::{retry, Client};
use super::error::{Error, Result};

/// Kafka's default iteration count for a SCRAM credential set without one.
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// One change to a user's credentials.
#[derive(Debug, Clone)]
pub enum UserChange {
    Set { user: String, hash: ScramHash, iterations: u32, password: String },
    Delete { user: String, hash: ScramHash },
}

fn rejected(code: i16, message: Option<&StrBytes>, what: String) -> Error {
    match message.filter(|m| !m.is_empty()) {
        Some(m) => Error::Rejected { code, message: m.to_string() },
        None => Error::kafka(code, what),
    }
}

impl Client {
    /// Each user's SCRAM mechanisms and iteration counts (every user for `None`).
    pub async fn describe_scram_users(&self, users: Option<&[String]>) -> Result<Vec<(String, Vec<(ScramHash, i32)>)>> {
        let build = |_v: i16| {
            DescribeUserScramCredentialsRequest::default().with_users(users.map(|names| {
                names.iter().map(|n| UserName::default().with_name(StrBytes::from_string(n.clone()))).collect()
            }))
        };
        let response = retry!(self, self.call_any(&build).await)?;
        if response.error_code != 0 {
            return Err(rejected(response.error_code, response.error_message.as_ref(), "describing users".into()));
        }
        let mut out = Vec::new();
        for r in response.results {
            if r.error_code != 0 {
                return Err(rejected(r.error_code, r.error_message.as_ref(), format!("user '{}'", r.user.as_str())));
            }
            let infos = r
                .credential_infos
                .iter()
                .filter_map(|c| Some((ScramHash::from_kafka_id(c.mechanism)?, c.iterations)))
                .collect();
            out.push((r.user.to_string(), infos));
        }
        Ok(out)
    }

    /// Applies credential changes; the password is salted here with a fresh random salt.
    pub async fn alter_scram_users(&self, changes: &[UserChange]) -> Result<()> {
        let mut upsertions = Vec::new();
        let mut deletions = Vec::new();
        for change in changes {
            match change {
                UserChange::Set { user, hash, iterations, password } => {
                    let salt = broker_core::security::random_bytes(32);
                    let salted = hash.salted_password(password.as_bytes(), &salt, *iterations);
                    upsertions.push(
                        ScramCredentialUpsertion::default()
                            .with_name(StrBytes::from_string(user.clone()))
                            .with_mechanism(hash.kafka_id())
                            .with_iterations(i32::try_from(*iterations).unwrap_or(i32::MAX))
                            .with_salt(Bytes::from(salt))
                            .with_salted_password(Bytes::from(salted)),
                    );
                }
                UserChange::Delete { user, hash } => deletions.push(
                    ScramCredentialDeletion::default()
                        .with_name(StrBytes::from_string(user.clone()))
                        .with_mechanism(hash.kafka_id()),
                ),
            }
        }
        let build = |_v: i16| {
            AlterUserScramCredentialsRequest::default()
                .with_upsertions(upsertions.clone())
                .with_deletions(deletions.clone())
        };
        let response = self.call_controller(build).await?;
        for r in &response.results {
            if r.error_code != 0 {
                return Err(rejected(r.error_code, r.error_message.as_ref(), format!("user '{}'", r.user.as_str())));
            }
        }
        Ok(())
    }
}
