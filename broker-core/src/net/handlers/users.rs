//! DescribeUserScramCredentials and AlterUserScramCredentials (what `kafka-configs.sh
//! --entity-type users` uses). Super users only (CLUSTER_AUTHORIZATION_FAILED otherwise).
//! Credentials arrive salted: warren never sees the password.

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
};
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::net::dispatch::Ctx;
use crate::security::scram::{ScramCredential, ScramHash, MAX_ITERATIONS, MIN_ITERATIONS};

const NOT_ALLOWED: &str = "only super users may manage users";

pub async fn describe(
    ctx: &Ctx<'_>,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let response = DescribeUserScramCredentialsResponse::default();
    if !ctx.principal.may_administer() {
        return response
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(str_bytes(NOT_ALLOWED)));
    }
    let all = ctx.cluster.users.describe();
    let result = |name: &str, infos: &[(ScramHash, u32)]| {
        DescribeUserScramCredentialsResult::default().with_user(str_bytes(name)).with_credential_infos(
            infos
                .iter()
                .map(|(hash, iterations)| {
                    CredentialInfo::default().with_mechanism(hash.kafka_id()).with_iterations(*iterations as i32)
                })
                .collect(),
        )
    };
    // Null or empty asks for every user, as in Kafka.
    let results = match request.users.as_ref().filter(|names| !names.is_empty()) {
        None => all.iter().map(|(name, infos)| result(name, infos)).collect(),
        Some(names) => names
            .iter()
            .map(|wanted| match all.iter().find(|(name, _)| name.as_str() == wanted.name.as_str()) {
                Some((name, infos)) => result(name, infos),
                None => DescribeUserScramCredentialsResult::default()
                    .with_user(wanted.name.clone())
                    .with_error_code(ResponseError::ResourceNotFound.code())
                    .with_error_message(Some(str_bytes(format!("no SCRAM credentials for user '{}'", wanted.name)))),
            })
            .collect(),
    };
    response.with_results(results)
}

pub async fn alter(ctx: &Ctx<'_>, request: AlterUserScramCredentialsRequest) -> AlterUserScramCredentialsResponse {
    let mut results = Vec::new();
    let refuse = |user: &kafka_protocol::protocol::StrBytes, code: ResponseError, message: String| {
        AlterUserScramCredentialsResult::default()
            .with_user(user.clone())
            .with_error_code(code.code())
            .with_error_message(Some(str_bytes(message)))
    };
    let users = &ctx.cluster.users;
    for deletion in &request.deletions {
        let outcome = if !ctx.principal.may_administer() {
            Err((ResponseError::ClusterAuthorizationFailed, NOT_ALLOWED.to_string()))
        } else if let Some(hash) = ScramHash::from_kafka_id(deletion.mechanism) {
            match users.delete(deletion.name.as_str(), hash) {
                Ok(true) => Ok(()),
                Ok(false) => Err((
                    ResponseError::ResourceNotFound,
                    format!("user '{}' has no {} credential", deletion.name, hash.mechanism()),
                )),
                Err(e) => Err((ResponseError::UnknownServerError, format!("cannot write the user store: {e}"))),
            }
        } else {
            Err((ResponseError::UnsupportedSaslMechanism, format!("unknown SCRAM mechanism {}", deletion.mechanism)))
        };
        results.push(match outcome {
            Ok(()) => AlterUserScramCredentialsResult::default().with_user(deletion.name.clone()),
            Err((code, message)) => refuse(&deletion.name, code, message),
        });
    }
    for upsertion in &request.upsertions {
        let iterations = u32::try_from(upsertion.iterations).unwrap_or(0);
        let outcome = if !ctx.principal.may_administer() {
            Err((ResponseError::ClusterAuthorizationFailed, NOT_ALLOWED.to_string()))
        } else if upsertion.name.is_empty() {
            Err((ResponseError::UnacceptableCredential, "the user name is empty".to_string()))
        } else if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            Err((
                ResponseError::UnacceptableCredential,
                format!(
                    "iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}, got {}",
                    upsertion.iterations
                ),
            ))
        } else if upsertion.salt.is_empty() || upsertion.salted_password.is_empty() {
            Err((ResponseError::UnacceptableCredential, "the salt and the salted password must be given".to_string()))
        } else if let Some(hash) = ScramHash::from_kafka_id(upsertion.mechanism) {
            let want = match hash {
                ScramHash::Sha256 => 32,
                ScramHash::Sha512 => 64,
            };
            if upsertion.salted_password.len() != want {
                results.push(refuse(
                    &upsertion.name,
                    ResponseError::UnacceptableCredential,
                    format!(
                        "a {} salted password has {want} bytes, got {}",
                        hash.mechanism(),
                        upsertion.salted_password.len()
                    ),
                ));
                continue;
            }
            let credential =
                ScramCredential::from_salted(hash, upsertion.salt.to_vec(), iterations, &upsertion.salted_password);
            users
                .upsert(upsertion.name.as_str(), hash, credential)
                .map_err(|e| (ResponseError::UnknownServerError, format!("cannot write the user store: {e}")))
        } else {
            Err((ResponseError::UnsupportedSaslMechanism, format!("unknown SCRAM mechanism {}", upsertion.mechanism)))
        };
        results.push(match outcome {
            Ok(()) => {
                tracing::info!(user = %upsertion.name, by = ctx.principal.name(), "SCRAM credential changed");
                AlterUserScramCredentialsResult::default().with_user(upsertion.name.clone())
            }
            Err((code, message)) => refuse(&upsertion.name, code, message),
        });
    }
    AlterUserScramCredentialsResponse::default().with_results(results)
}
