//! `warren consumer-groups`: `kafka-consumer-groups.sh`. List, describe and delete groups, and
//! reset a group's committed offsets.
//!
//! `--describe` prints Kafka's table (`GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG
//! CONSUMER-ID HOST CLIENT-ID`): one row per partition that is assigned or has a commit, `-` for
//! what is unknown, LOG-END-OFFSET being the high watermark. `--reset-offsets` refuses, as Kafka
//! does, while the group has members (state other than Empty or Dead); it computes the new
//! offsets, prints `GROUP TOPIC PARTITION NEW-OFFSET`, and commits them only with `--execute`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context};
use clap::{ArgGroup, Args};

use super::table::{or_dash, render, text_or_dash};
use crate::kafka::{Client, GroupDescription, OffsetSpec};

#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("action").required(true).args(["list", "describe", "delete", "reset_offsets"])))]
#[command(group(ArgGroup::new("target").args(["to_earliest", "to_latest", "to_offset", "to_datetime", "shift_by"])))]
pub struct GroupsArgs {
    /// The cluster to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: String,
    /// A Kafka client properties file for TLS and SASL (`security.protocol`, `sasl.mechanism`,
    /// `sasl.jaas.config`, `ssl.ca.location`, ...), as Kafka's tools take it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,
    /// List all consumer groups.
    #[arg(long)]
    pub list: bool,
    /// Describe groups: committed offsets, lag and owners.
    #[arg(long)]
    pub describe: bool,
    /// Delete groups (they must have no members).
    #[arg(long)]
    pub delete: bool,
    /// Reset a group's committed offsets (the group must have no members).
    #[arg(long)]
    pub reset_offsets: bool,
    /// The group(s) to act on (repeatable).
    #[arg(long)]
    pub group: Vec<String>,
    /// --describe every group.
    #[arg(long)]
    pub all_groups: bool,
    /// --reset-offsets: TOPIC or TOPIC:P,P (repeatable).
    #[arg(long)]
    pub topic: Vec<String>,
    /// --reset-offsets: every topic the group has committed offsets for.
    #[arg(long)]
    pub all_topics: bool,
    /// Reset to the log start offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// Reset to the high watermark.
    #[arg(long)]
    pub to_latest: bool,
    /// Reset to this offset (kept within the log).
    #[arg(long, value_name = "OFFSET", allow_negative_numbers = true)]
    pub to_offset: Option<i64>,
    /// Reset to the first offset at or after this time, e.g. 2026-11-26T17:00:00Z.
    #[arg(long, value_name = "ISO8601")]
    pub to_datetime: Option<String>,
    /// Move the committed offsets by N (negative: back).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// Show the new offsets without committing them.
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
    /// Commit the new offsets.
    #[arg(long)]
    pub execute: bool,
}

pub async fn run(args: GroupsArgs) -> anyhow::Result<()> {
    let client = super::connect(&args.bootstrap_server, "consumer-groups", args.command_config.as_deref()).await?;
    if args.list {
        for g in client.list_groups().await? {
            println!("{}", g.group_id);
        }
        return Ok(());
    }
    let groups = if args.all_groups && args.describe {
        client.list_groups().await?.into_iter().map(|g| g.group_id).collect()
    } else if args.group.is_empty() {
        bail!("--group is required with this action");
    } else {
        args.group.clone()
    };
    if args.describe {
        let mut out = String::new();
        for g in &groups {
            out.push_str(&describe(&client, g).await?);
        }
        print!("{out}");
    } else if args.delete {
        let mut failures = Vec::new();
        for (group, result) in client.delete_groups(&groups).await? {
            if let Err(e) = result {
                failures.push(match e.code() {
                    Some(68) => format!("group '{group}' is not empty (it has active members)"),
                    Some(69) => format!("group '{group}' does not exist"),
                    _ => format!("group '{group}': {e}"),
                });
            }
        }
        if !failures.is_empty() {
            bail!("Deletion of some consumer groups failed: {}", failures.join("; "));
        }
        let list: Vec<String> = groups.iter().map(|g| format!("'{g}'")).collect();
        println!("Deletion of requested consumer groups ({}) was successful.", list.join(", "));
    } else if args.reset_offsets {
        let [group] = groups.as_slice() else { bail!("--reset-offsets takes exactly one --group") };
        reset_offsets(&client, group, &args).await?;
    }
    Ok(())
}

/// One describe row per (topic, partition) assigned or committed, plus members without any.
async fn describe(client: &Client, group: &str) -> anyhow::Result<String> {
    let description = client
        .describe_groups(&[group.to_string()])
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("consumer group '{group}' does not exist"))?;
    let committed = client.offset_fetch(group).await?;
    if description.state == "Dead" && committed.is_empty() {
        bail!("consumer group '{group}' does not exist");
    }
    let partitions: BTreeSet<(String, i32)> = committed
        .keys()
        .cloned()
        .chain(
            description
                .members
                .iter()
                .flat_map(|m| m.assignment.iter().flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))),
        )
        .collect();
    let keys: Vec<(String, i32)> = partitions.iter().cloned().collect();
    let ends: BTreeMap<(String, i32), i64> = client
        .list_offsets(&keys, OffsetSpec::Latest)
        .await
        .into_iter()
        .filter_map(|(k, r)| Some((k, r.ok()?)))
        .collect();
    let mut text = String::from("\n");
    match description.state.as_str() {
        "Empty" | "Dead" => text.push_str(&format!("Consumer group '{group}' has no active members.\n\n")),
        "PreparingRebalance" | "CompletingRebalance" => {
            text.push_str(&format!("Warning: Consumer group '{group}' is rebalancing.\n\n"))
        }
        _ => {}
    }
    text.push_str(&render(&DESCRIBE_HEADER, &describe_rows(&description, &committed, &ends)));
    Ok(text)
}

pub const DESCRIBE_HEADER: [&str; 9] =
    ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"];

/// The rows of `consumer-groups --describe`, sorted by topic and partition; members that own
/// nothing come last with `-` for topic and partition.
pub fn describe_rows(
    description: &GroupDescription,
    committed: &BTreeMap<(String, i32), i64>,
    ends: &BTreeMap<(String, i32), i64>,
) -> Vec<Vec<String>> {
    let group = &description.group_id;
    let mut owners: BTreeMap<(String, i32), &crate::kafka::MemberDescription> = BTreeMap::new();
    for m in &description.members {
        for (t, ps) in &m.assignment {
            for p in ps {
                owners.insert((t.clone(), *p), m);
            }
        }
    }
    let keys: BTreeSet<&(String, i32)> = committed.keys().chain(owners.keys()).collect();
    let mut rows = Vec::new();
    for key in keys {
        let current = committed.get(key).copied();
        let end = ends.get(key).copied();
        let lag = match (current, end) {
            (Some(c), Some(e)) => Some((e - c).max(0)),
            _ => None,
        };
        let owner = owners.get(key);
        rows.push(vec![
            group.clone(),
            key.0.clone(),
            key.1.to_string(),
            or_dash(current),
            or_dash(end),
            or_dash(lag),
            owner.map_or_else(|| "-".to_string(), |m| text_or_dash(&m.member_id)),
            owner.map_or_else(|| "-".to_string(), |m| text_or_dash(&m.client_host)),
            owner.map_or_else(|| "-".to_string(), |m| text_or_dash(&m.client_id)),
        ]);
    }
    for m in description.members.iter().filter(|m| m.assignment.iter().all(|(_, ps)| ps.is_empty())) {
        rows.push(vec![
            group.clone(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            text_or_dash(&m.member_id),
            text_or_dash(&m.client_host),
            text_or_dash(&m.client_id),
        ]);
    }
    rows
}

/// Where `--reset-offsets` moves each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTarget {
    Earliest,
    Latest,
    Offset(i64),
    Datetime(i64),
    ShiftBy(i64),
}

/// The new offset of one partition: targets are kept within [log start, high watermark], as
/// Kafka does; a time after the last record means the high watermark.
pub fn new_offset(target: ResetTarget, start: i64, end: i64, current: Option<i64>, by_time: Option<i64>) -> i64 {
    let wanted = match target {
        ResetTarget::Earliest => start,
        ResetTarget::Latest => end,
        ResetTarget::Offset(o) => o,
        ResetTarget::Datetime(_) => by_time.filter(|o| *o >= 0).unwrap_or(end),
        ResetTarget::ShiftBy(n) => current.unwrap_or(start).saturating_add(n),
    };
    wanted.clamp(start, end.max(start))
}

async fn reset_offsets(client: &Client, group: &str, args: &GroupsArgs) -> anyhow::Result<()> {
    let target = match (args.to_earliest, args.to_latest, args.to_offset, &args.to_datetime, args.shift_by) {
        (true, ..) => ResetTarget::Earliest,
        (_, true, ..) => ResetTarget::Latest,
        (_, _, Some(o), ..) => ResetTarget::Offset(o),
        (_, _, _, Some(text), _) => {
            ResetTarget::Datetime(crate::time::parse_iso8601_ms(text).map_err(anyhow::Error::msg)?)
        }
        (.., Some(n)) => ResetTarget::ShiftBy(n),
        _ => bail!("--reset-offsets needs one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by"),
    };
    if !args.dry_run && !args.execute {
        eprintln!("WARN: No action will be performed as the --execute option is missing. Add --dry-run to keep this behaviour without the warning.");
    }
    let description = client.describe_groups(&[group.to_string()]).await?.pop();
    if let Some(d) = description.filter(|d| !matches!(d.state.as_str(), "Empty" | "Dead")) {
        bail!(
            "Assignments can only be reset if the group '{group}' is inactive, but the current state is {}.",
            d.state
        );
    }
    let committed = client.offset_fetch(group).await?;
    let mut partitions: Vec<(String, i32)> = Vec::new();
    if args.all_topics {
        partitions.extend(committed.keys().cloned());
    }
    let specs = args.topic.iter().map(|t| super::topic_spec(t)).collect::<anyhow::Result<Vec<_>>>()?;
    if !specs.is_empty() {
        let names: Vec<&str> = specs.iter().map(|(t, _)| t.as_str()).collect();
        let metadata = client.metadata(Some(&names)).await?;
        for (topic, wanted) in specs {
            let t = metadata.topics.get(&topic).filter(|t| t.error_code == 0);
            let t = t.ok_or_else(|| anyhow::anyhow!("topic '{topic}' does not exist"))?;
            for p in &t.partitions {
                if wanted.as_ref().is_none_or(|w| w.contains(&p.partition)) {
                    partitions.push((topic.clone(), p.partition));
                }
            }
        }
    }
    if partitions.is_empty() {
        bail!("--reset-offsets needs --topic TOPIC or --all-topics");
    }
    partitions.sort();
    partitions.dedup();
    let starts = client.list_offsets(&partitions, OffsetSpec::Earliest).await;
    let ends = client.list_offsets(&partitions, OffsetSpec::Latest).await;
    let by_time = match target {
        ResetTarget::Datetime(ms) => client.list_offsets(&partitions, OffsetSpec::Timestamp(ms)).await,
        _ => BTreeMap::new(),
    };
    let mut new_offsets = BTreeMap::new();
    for key in &partitions {
        let lookup = |m: &BTreeMap<(String, i32), crate::kafka::Result<i64>>| -> anyhow::Result<i64> {
            match m.get(key) {
                Some(Ok(o)) => Ok(*o),
                Some(Err(e)) => Err(anyhow::anyhow!("{e}")),
                None => Err(anyhow::anyhow!("no offsets for {}-{}", key.0, key.1)),
            }
        };
        let (start, end) = (lookup(&starts)?, lookup(&ends)?);
        let time = if by_time.is_empty() { None } else { Some(lookup(&by_time)?) };
        new_offsets.insert(key.clone(), new_offset(target, start, end, committed.get(key).copied(), time));
    }
    if args.execute {
        client.offset_commit(group, -1, "", &new_offsets).await.context("cannot commit the new offsets")?;
    }
    let rows: Vec<Vec<String>> = new_offsets
        .iter()
        .map(|((t, p), o)| vec![group.to_string(), t.clone(), p.to_string(), o.to_string()])
        .collect();
    print!("\n{}", render(&["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], &rows));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::MemberDescription;

    #[test]
    fn describe_rows_cover_owned_committed_and_idle() {
        let member = |id: &str, assignment: Vec<(String, Vec<i32>)>| MemberDescription {
            member_id: id.into(),
            group_instance_id: None,
            client_id: "cli".into(),
            client_host: "/127.0.0.1".into(),
            assignment,
        };
        let description = GroupDescription {
            group_id: "g".into(),
            state: "Stable".into(),
            protocol_type: "consumer".into(),
            protocol: "range".into(),
            members: vec![member("m-1", vec![("t".into(), vec![0, 1])]), member("m-2", vec![])],
        };
        let committed = BTreeMap::from([(("t".to_string(), 0), 5), (("u".to_string(), 0), 2)]);
        let ends = BTreeMap::from([(("t".to_string(), 0), 9), (("t".to_string(), 1), 4), (("u".to_string(), 0), 2)]);
        let text = render(&DESCRIBE_HEADER, &describe_rows(&description, &committed, &ends));
        assert_eq!(
            text,
            "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST       CLIENT-ID\n\
             g     t     0         5              9              4   m-1         /127.0.0.1 cli\n\
             g     t     1         -              4              -   m-1         /127.0.0.1 cli\n\
             g     u     0         2              2              0   -           -          -\n\
             g     -     -         -              -              -   m-2         /127.0.0.1 cli\n"
        );
    }

    #[test]
    fn reset_targets_stay_within_the_log() {
        use ResetTarget::*;
        assert_eq!(new_offset(Earliest, 3, 10, Some(5), None), 3);
        assert_eq!(new_offset(Latest, 3, 10, Some(5), None), 10);
        assert_eq!(new_offset(Offset(7), 3, 10, None, None), 7);
        assert_eq!(new_offset(Offset(1), 3, 10, None, None), 3);
        assert_eq!(new_offset(Offset(99), 3, 10, None, None), 10);
        assert_eq!(new_offset(Datetime(0), 3, 10, None, Some(6)), 6);
        assert_eq!(new_offset(Datetime(0), 3, 10, None, Some(-1)), 10);
        assert_eq!(new_offset(ShiftBy(-4), 3, 10, Some(5), None), 3);
        assert_eq!(new_offset(ShiftBy(2), 3, 10, Some(5), None), 7);
    }
}
