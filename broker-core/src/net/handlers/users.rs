//! DescribeUserScramCredentials and AlterUserScramCredentials (what `kafka-configs.sh
//! --entity-type users` uses). Super users only (CLUSTER_AUTHORIZATION_FAILED otherwise).
//! Credentials arrive salted: warren never sees the password. As in Kafka, alterations are
//! answered once per user and a user's are applied all together or not at all.

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
};
use std::collections::BTreeMap;

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

/// One user's alterations in a request, checked before any is applied.
#[derive(Default)]
struct Plan {
    deletions: Vec<ScramHash>,
    upsertions: Vec<(ScramHash, ScramCredential)>,
    /// The first thing wrong with them: none of the user's alterations is applied then.
    error: Option<(ResponseError, String)>,
}

impl Plan {
    /// Checks the parts every alteration has; the mechanism when they hold.
    fn check(&mut self, name: &str, mechanism: i8) -> Option<ScramHash> {
        if self.error.is_some() {
            return None;
        }
        let refuse = |code, message: &str| Some((code, message.to_string()));
        let hash = ScramHash::from_kafka_id(mechanism);
        self.error = if name.is_empty() {
            refuse(ResponseError::UnacceptableCredential, "Username must not be empty")
        } else if hash.is_none() {
            refuse(ResponseError::UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
        } else if self.deletions.iter().chain(self.upsertions.iter().map(|(h, _)| h)).any(|h| Some(*h) == hash) {
            refuse(ResponseError::DuplicateResource, "A user credential cannot be altered twice in the same request")
        } else {
            None
        };
        hash.filter(|_| self.error.is_none())
    }
}

pub async fn alter(ctx: &Ctx<'_>, request: AlterUserScramCredentialsRequest) -> AlterUserScramCredentialsResponse {
    // Kafka answers once per user, in the order users first appear, and applies a user's
    // alterations all together or not at all.
    let mut order: Vec<String> = Vec::new();
    let mut plans: BTreeMap<String, Plan> = BTreeMap::new();
    fn plan<'a>(order: &mut Vec<String>, plans: &'a mut BTreeMap<String, Plan>, name: &str) -> &'a mut Plan {
        if !plans.contains_key(name) {
            order.push(name.to_string());
        }
        plans.entry(name.to_string()).or_default()
    }
    for deletion in &request.deletions {
        let p = plan(&mut order, &mut plans, deletion.name.as_str());
        if let Some(hash) = p.check(deletion.name.as_str(), deletion.mechanism) {
            p.deletions.push(hash);
        }
    }
    for upsertion in &request.upsertions {
        let p = plan(&mut order, &mut plans, upsertion.name.as_str());
        let Some(hash) = p.check(upsertion.name.as_str(), upsertion.mechanism) else { continue };
        let iterations = u32::try_from(upsertion.iterations).unwrap_or(0);
        let salted_bytes = match hash {
            ScramHash::Sha256 => 32,
            ScramHash::Sha512 => 64,
        };
        p.error = if iterations < MIN_ITERATIONS {
            Some((ResponseError::UnacceptableCredential, format!("Too few iterations (at least {MIN_ITERATIONS})")))
        } else if iterations > MAX_ITERATIONS {
            Some((ResponseError::UnacceptableCredential, format!("Too many iterations (at most {MAX_ITERATIONS})")))
        } else if upsertion.salt.is_empty() || upsertion.salted_password.len() != salted_bytes {
            Some((
                ResponseError::UnacceptableCredential,
                format!("a {} credential needs a salt and a {salted_bytes}-byte salted password", hash.mechanism()),
            ))
        } else {
            let credential =
                ScramCredential::from_salted(hash, upsertion.salt.to_vec(), iterations, &upsertion.salted_password);
            p.upsertions.push((hash, credential));
            None
        };
    }
    let allowed = ctx.principal.may_administer();
    let by = ctx.principal.name().to_string();
    let cluster = std::sync::Arc::clone(ctx.cluster);
    // Off the async workers: each user's change is written and fsynced.
    let results = tokio::task::spawn_blocking(move || {
        order
            .into_iter()
            .map(|name| {
                let plan = plans.remove(&name).unwrap_or_default();
                let outcome = match plan.error {
                    _ if !allowed => Err((ResponseError::ClusterAuthorizationFailed, NOT_ALLOWED.to_string())),
                    Some(error) => Err(error),
                    None => match cluster.users.alter(&name, &plan.deletions, plan.upsertions) {
                        Ok(Ok(())) => {
                            tracing::info!(user = %name, by, "SCRAM credentials changed");
                            Ok(())
                        }
                        Ok(Err(_)) => Err((
                            ResponseError::ResourceNotFound,
                            "Attempt to delete a user credential that does not exist".to_string(),
                        )),
                        Err(e) => Err((ResponseError::UnknownServerError, format!("cannot write the user store: {e}"))),
                    },
                };
                let result = AlterUserScramCredentialsResult::default().with_user(str_bytes(name));
                match outcome {
                    Ok(()) => result,
                    Err((code, message)) => {
                        result.with_error_code(code.code()).with_error_message(Some(str_bytes(message)))
                    }
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    AlterUserScramCredentialsResponse::default().with_results(results)
}
