//! One plain-English line saying what is probably wrong with an unhealthy group and what to do,
//! built only from the evaluated `GroupStatus` and the group's member count.
//!
//! The first matching cause wins, most actionable first: stopped commits, stuck commits,
//! rewound offsets, then lag, where the shape of the lag (one partition, too few consumers, or
//! every partition) points at the remedy. Healthy and NOTFOUND groups get no line.

use super::group::{GroupState, GroupStatus};
use super::partition::{PartitionState, PartitionStatus};

/// Explains a WARN or ERR group; `None` for OK and NOTFOUND.
pub fn diagnose(group: &GroupStatus, members: usize, now_ms: i64) -> Option<String> {
    if matches!(group.status, GroupState::Ok | GroupState::NotFound) {
        return None;
    }
    let with = |state| group.partitions.iter().filter(move |p| p.status == state).collect::<Vec<_>>();
    let stopped = with(PartitionState::Stop);
    if let Some(last_ms) = stopped.iter().filter_map(|p| p.end.map(|e| e.timestamp_ms)).max() {
        let why = match members {
            0 => "the group has no members".to_string(),
            n => format!("its {n} member(s) are connected but not committing: suspect a hung consumer"),
        };
        return Some(format!("commits stopped {} ago on {}: {why}", age(now_ms - last_ms), list(&stopped)));
    }
    let stalled = with(PartitionState::Stall);
    if !stalled.is_empty() {
        let what = "the consumer commits but does not advance: suspect a poison record or a hung handler";
        return Some(format!("commits stuck on {}: {what}", list(&stalled)));
    }
    let rewound = with(PartitionState::Rewind);
    if !rewound.is_empty() {
        return Some(format!(
            "offsets rewound on {}: an offset reset or a replay moved the consumer back",
            list(&rewound)
        ));
    }
    let lagging = with(PartitionState::Warn);
    let count = group.partition_count;
    match lagging.as_slice() {
        [] => None,
        [only] if count > 1 => Some(format!(
            "only partition {} is falling behind ({}, lag {}): \
             suspect that partition: its leader, its broker or a poison record",
            name(only),
            owner(only),
            only.current_lag
        )),
        // Without members the offsets come from outside the group protocol (a standalone consumer
        // or an admin tool): "add consumers" would be the wrong advice.
        _ if members > 0 && members < count => {
            Some(format!("{members} consumers for {count} partitions: add consumers"))
        }
        _ if lagging.len() == count => {
            Some("all partitions are falling behind: add partitions and consumers".to_string())
        }
        _ => Some(format!(
            "{} of {count} partitions are falling behind ({}): check their consumers",
            lagging.len(),
            list(&lagging)
        )),
    }
}

fn name(p: &PartitionStatus) -> String {
    format!("{}-{}", p.topic, p.partition)
}

fn owner(p: &PartitionStatus) -> String {
    match p.owner.as_str() {
        "" => "no owner".to_string(),
        owner => format!("owner {owner}"),
    }
}

/// "t-0 (owner a), t-1 (no owner) and 2 more".
fn list(partitions: &[&PartitionStatus]) -> String {
    const SHOWN: usize = 3;
    let shown: Vec<String> = partitions.iter().take(SHOWN).map(|p| format!("{} ({})", name(p), owner(p))).collect();
    match partitions.len().saturating_sub(SHOWN) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Whole units, largest first: "45s", "12m", "5h", "3d".
fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..172_800 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::group::roll_up;
    use crate::evaluator::window::CommitEntry;

    const NOW_MS: i64 = 1_700_000_000_000;

    /// Partitions of topic `t` as (status, current lag, owner, seconds since the newest commit).
    fn check(partitions: &[(PartitionState, i64, &str, i64)], members: usize, expect: Option<&str>) {
        let partitions = partitions
            .iter()
            .zip(0..)
            .map(|(&(status, current_lag, owner, age_s), partition)| PartitionStatus {
                topic: "t".to_string(),
                partition,
                owner: owner.to_string(),
                client_id: String::new(),
                status,
                start: None,
                end: Some(CommitEntry { offset: 0, timestamp_ms: NOW_MS - age_s * 1000, lag: None }),
                current_lag,
                complete: 1.0,
            })
            .collect();
        assert_eq!(diagnose(&roll_up(partitions), members, NOW_MS).as_deref(), expect);
    }

    #[test]
    fn lines() {
        use PartitionState::{Ok, Rewind, Stall, Stop, Warn};
        check(&[(Ok, 0, "a", 5), (Ok, 10, "b", 5)], 2, None);
        assert_eq!(diagnose(&GroupStatus::not_found(), 0, NOW_MS), None);
        check(
            &[(Stop, 50, "", 3_600), (Ok, 0, "", 3_700)],
            0,
            Some("commits stopped 1h ago on t-0 (no owner): the group has no members"),
        );
        check(
            &[(Stop, 50, "a", 7_200), (Stop, 50, "b", 125), (Warn, 9, "c", 5)],
            3,
            Some("commits stopped 2m ago on t-0 (owner a), t-1 (owner b): its 3 member(s) are connected but not committing: suspect a hung consumer"),
        );
        check(
            &[(Stall, 500, "a", 5), (Rewind, 5, "b", 5)],
            2,
            Some("commits stuck on t-0 (owner a): the consumer commits but does not advance: suspect a poison record or a hung handler"),
        );
        check(
            &[(Rewind, 810, "a", 5), (Warn, 5, "b", 5)],
            2,
            Some("offsets rewound on t-0 (owner a): an offset reset or a replay moved the consumer back"),
        );
        // One lagging partition points at the partition, even with too few consumers.
        check(
            &[(Ok, 0, "a", 5), (Ok, 0, "a", 5), (Ok, 3, "a", 5), (Warn, 900, "a", 5)],
            1,
            Some("only partition t-3 is falling behind (owner a, lag 900): suspect that partition: its leader, its broker or a poison record"),
        );
        check(
            &[(Warn, 9, "a", 5), (Warn, 9, "a", 5), (Ok, 0, "b", 5)],
            2,
            Some("2 consumers for 3 partitions: add consumers"),
        );
        check(
            &[(Warn, 9, "a", 5), (Warn, 9, "b", 5)],
            2,
            Some("all partitions are falling behind: add partitions and consumers"),
        );
        check(&[(Warn, 9, "a", 5)], 1, Some("all partitions are falling behind: add partitions and consumers"));
        // No members: offsets committed from outside the group protocol; "add consumers" would mislead.
        check(
            &[(Warn, 9, "", 5), (Warn, 9, "", 5)],
            0,
            Some("all partitions are falling behind: add partitions and consumers"),
        );
        let mixed = [(Warn, 9, "a", 5), (Ok, 0, "b", 5), (Warn, 9, "c", 5), (Warn, 9, "d", 5), (Warn, 9, "e", 5)];
        check(
            &mixed,
            5,
            Some("4 of 5 partitions are falling behind (t-0 (owner a), t-2 (owner c), t-3 (owner d) and 1 more): check their consumers"),
        );
    }

    #[test]
    fn ages() {
        let got: Vec<String> = [0, 59_999, 60_000, 3_599_999, 3_600_000, 172_799_999, 172_800_000, -5].map(age).into();
        assert_eq!(got, ["0s", "59s", "1m", "59m", "1h", "47h", "2d", "0s"]);
    }
}
