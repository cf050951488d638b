//! `warren configs`: `kafka-configs.sh` for topics, brokers and users of any Kafka-compatible
//! cluster.
//! `--describe` prints Kafka's layout (`Dynamic configs for topic t are:` then one indented
//! `name=value sensitive=false synonyms={...}` line each; `--all` for every config), `--alter`
//! applies `--add-config` and `--delete-config` with IncrementalAlterConfigs. `--entity-type
//! users` manages SCRAM credentials (Describe/AlterUserScramCredentials).

use clap::{ArgGroup, Args};

use broker_core::security::scram::ScramHash;

use crate::kafka::admin::{ConfigEntry, ConfigOp, ConfigSource, BROKER_RESOURCE, TOPIC_RESOURCE};
use crate::kafka::users::{UserChange, DEFAULT_ITERATIONS};

#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("action").required(true).args(["describe", "alter"])))]
pub struct ConfigsArgs {
    /// The cluster to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: String,
    /// A Kafka client properties file for TLS and SASL, as Kafka's tools take it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,
    /// Print the configs.
    #[arg(long)]
    pub describe: bool,
    /// Change the configs (--add-config, --delete-config).
    #[arg(long)]
    pub alter: bool,
    /// `topics`, `brokers` or `users`.
    #[arg(long, value_name = "TYPE")]
    pub entity_type: Option<String>,
    /// The topic name or broker id.
    #[arg(long, value_name = "NAME")]
    pub entity_name: Option<String>,
    /// Shorthand for --entity-type topics --entity-name TOPIC.
    #[arg(long, conflicts_with_all = ["entity_type", "broker"])]
    pub topic: Option<String>,
    /// Shorthand for --entity-type brokers --entity-name ID.
    #[arg(long, conflicts_with = "entity_type")]
    pub broker: Option<String>,
    /// With --entity-type brokers: the cluster-wide default (the broker configs warren changes
    /// at run time are set here).
    #[arg(long, conflicts_with_all = ["entity_name", "broker", "topic"])]
    pub entity_default: bool,
    /// With --describe: every config, defaults included (not only the ones set).
    #[arg(long)]
    pub all: bool,
    /// KEY=VALUE[,KEY=VALUE...]; a value with commas goes in brackets: `cleanup.policy=[compact,delete]`.
    #[arg(long, value_name = "CONFIGS")]
    pub add_config: Option<String>,
    /// KEY[,KEY...] to return to their defaults.
    #[arg(long, value_name = "KEYS")]
    pub delete_config: Option<String>,
}

/// What the flags name: a resource type, its wire code and a name.
fn entity(args: &ConfigsArgs) -> anyhow::Result<(&'static str, i8, String)> {
    if let Some(topic) = &args.topic {
        return Ok(("topic", TOPIC_RESOURCE, topic.clone()));
    }
    if let Some(broker) = &args.broker {
        return Ok(("broker", BROKER_RESOURCE, broker.clone()));
    }
    if args.entity_default {
        return match args.entity_type.as_deref() {
            Some("brokers") => Ok(("default", BROKER_RESOURCE, String::new())),
            _ => anyhow::bail!("--entity-default needs --entity-type brokers"),
        };
    }
    let name =
        args.entity_name.clone().ok_or_else(|| anyhow::anyhow!("--entity-name (or --topic, --broker) is required"))?;
    match args.entity_type.as_deref() {
        Some("topics") => Ok(("topic", TOPIC_RESOURCE, name)),
        Some("brokers") => Ok(("broker", BROKER_RESOURCE, name)),
        Some(other) => anyhow::bail!("--entity-type {other} is not supported (topics, brokers or users)"),
        None => anyhow::bail!("--entity-type is required with --entity-name"),
    }
}

/// `--add-config a=1,b=[x,y]` as (key, value) pairs.
pub fn parse_add_config(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            anyhow::bail!("--add-config: '{rest}' is not KEY=VALUE");
        };
        let key = key.trim();
        if key.is_empty() {
            anyhow::bail!("--add-config: an empty key in '{text}'");
        }
        let (value, next) = if let Some(list) = after.strip_prefix('[') {
            let Some((inside, next)) = list.split_once(']') else {
                anyhow::bail!("--add-config: '[' without ']' in the value of {key}");
            };
            (inside.to_string(), next)
        } else {
            match after.split_once(',') {
                Some((value, next)) => (value.to_string(), next),
                None => (after.to_string(), ""),
            }
        };
        out.push((key.to_string(), value));
        rest = next.trim_start_matches(',').trim();
    }
    Ok(out)
}

pub async fn run(args: ConfigsArgs) -> anyhow::Result<()> {
    if args.entity_type.as_deref() == Some("users") {
        return users(&args).await;
    }
    let (kind, resource_type, name) = entity(&args)?;
    let client = super::connect(&args.bootstrap_server, "warren-configs", args.command_config.as_deref()).await?;
    if args.alter {
        let mut ops = Vec::new();
        if let Some(add) = &args.add_config {
            ops.extend(parse_add_config(add)?.into_iter().map(|(k, v)| ConfigOp::Set(k, v)));
        }
        if let Some(delete) = &args.delete_config {
            ops.extend(delete.split(',').map(str::trim).filter(|k| !k.is_empty()).map(|k| ConfigOp::Delete(k.into())));
        }
        if ops.is_empty() {
            anyhow::bail!("--alter needs --add-config or --delete-config");
        }
        client.alter_configs(resource_type, &name, &ops).await?;
        if kind == "default" {
            println!("Completed updating default config for brokers in the cluster.");
        } else {
            println!("Completed updating config for {kind} {name}.");
        }
        return Ok(());
    }
    let entries = client.describe_configs(resource_type, &name).await?;
    print!("{}", describe_text(kind, &name, &entries, args.all));
    Ok(())
}

/// `--entity-type users`: SCRAM credentials (`--add-config
/// 'SCRAM-SHA-256=[iterations=8192,password=secret]'`, `--delete-config SCRAM-SHA-512`), salted
/// here as Kafka's tool does; `--describe` lists each user's mechanisms and iterations.
async fn users(args: &ConfigsArgs) -> anyhow::Result<()> {
    let client = super::connect(&args.bootstrap_server, "warren-configs", args.command_config.as_deref()).await?;
    if !args.alter {
        let names = args.entity_name.clone().map(|n| vec![n]);
        let described = client.describe_scram_users(names.as_deref()).await?;
        print!("{}", users_text(&described));
        return Ok(());
    }
    let user = args.entity_name.clone().ok_or_else(|| anyhow::anyhow!("--entity-name is required to alter a user"))?;
    let mut changes = Vec::new();
    if let Some(add) = &args.add_config {
        for (mechanism, settings) in parse_add_config(add)? {
            let hash = scram_hash(&mechanism)?;
            let mut iterations = DEFAULT_ITERATIONS;
            let mut password = None;
            for part in settings.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match part.split_once('=') {
                    Some(("iterations", n)) => {
                        iterations =
                            n.parse().map_err(|_| anyhow::anyhow!("{mechanism}: iterations '{n}' is not a number"))?;
                    }
                    Some(("password", p)) => password = Some(p.to_string()),
                    _ => anyhow::bail!("{mechanism}: '{part}' is not iterations=N or password=P"),
                }
            }
            let password = password.ok_or_else(|| anyhow::anyhow!("{mechanism}: a password is required"))?;
            changes.push(UserChange::Set { user: user.clone(), hash, iterations, password });
        }
    }
    if let Some(delete) = &args.delete_config {
        for mechanism in delete.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            changes.push(UserChange::Delete { user: user.clone(), hash: scram_hash(mechanism)? });
        }
    }
    if changes.is_empty() {
        anyhow::bail!("--alter needs --add-config or --delete-config");
    }
    client.alter_scram_users(&changes).await?;
    println!("Completed updating config for user {user}.");
    Ok(())
}

fn scram_hash(mechanism: &str) -> anyhow::Result<ScramHash> {
    ScramHash::from_mechanism(mechanism)
        .ok_or_else(|| anyhow::anyhow!("'{mechanism}' is not a SCRAM mechanism (SCRAM-SHA-256, SCRAM-SHA-512)"))
}

/// Kafka's text for users: `SCRAM credential configs for user-principal 'alice' are
/// SCRAM-SHA-256=iterations=8192`.
pub fn users_text(users: &[(String, Vec<(ScramHash, i32)>)]) -> String {
    users
        .iter()
        .map(|(user, infos)| {
            let infos: Vec<String> =
                infos.iter().map(|(h, iterations)| format!("{}=iterations={iterations}", h.mechanism())).collect();
            format!("SCRAM credential configs for user-principal '{user}' are {}\n", infos.join(", "))
        })
        .collect()
}

/// Kafka's `--describe` text: only the dynamically set configs, or every one with `--all`.
pub fn describe_text(kind: &str, name: &str, entries: &[ConfigEntry], all: bool) -> String {
    let dynamic = |e: &&ConfigEntry| {
        matches!(
            e.source,
            ConfigSource::DynamicTopic | ConfigSource::DynamicBroker | ConfigSource::DynamicDefaultBroker
        )
    };
    let mut out = if kind == "default" {
        "Default configs for brokers in the cluster are:\n".to_string()
    } else {
        format!("{} configs for {kind} {name} are:\n", if all { "All" } else { "Dynamic" })
    };
    for e in entries.iter().filter(|e| all || dynamic(e)) {
        let synonyms: Vec<String> =
            e.synonyms.iter().map(|(n, v, s)| format!("{}:{n}={}", s.name(), v.as_deref().unwrap_or("null"))).collect();
        out.push_str(&format!(
            "  {}={} sensitive={} synonyms={{{}}}\n",
            e.name,
            e.value.as_deref().unwrap_or("null"),
            e.value.is_none(),
            synonyms.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_config_lists_and_brackets() {
        let parsed =
            parse_add_config("retention.ms=1000,cleanup.policy=[compact,delete], segment.bytes=65536").expect("parse");
        assert_eq!(
            parsed,
            vec![
                ("retention.ms".into(), "1000".into()),
                ("cleanup.policy".into(), "compact,delete".into()),
                ("segment.bytes".into(), "65536".into())
            ]
        );
        assert!(parse_add_config("novalue").is_err());
        assert!(parse_add_config("a=[x,y").is_err());
        assert!(parse_add_config("=3").is_err());
    }
}
