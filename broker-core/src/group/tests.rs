//! The group state machine driven through whole rebalances: joins, syncs, heartbeats, leaves,
//! timeouts, static members and the metadata record round trip.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::state::*;

const DELAY: Duration = Duration::from_millis(0);

fn request(member_id: &str, protocols: &[&str]) -> JoinRequest {
    JoinRequest {
        group_id: "g".into(),
        member_id: member_id.into(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(30),
        protocol_type: "consumer".into(),
        protocols: protocols.iter().map(|p| (p.to_string(), Bytes::from(format!("meta-{p}")))).collect(),
        require_known_member_id: true,
    }
}

fn now_result(outcome: Outcome<JoinResult>) -> JoinResult {
    match outcome {
        Outcome::Now(r) => r,
        Outcome::Wait(_) => panic!("expected an immediate answer"),
    }
}

fn waited<T>(outcome: Outcome<T>) -> oneshot::Receiver<T> {
    match outcome {
        Outcome::Now(_) => panic!("expected to wait"),
        Outcome::Wait(rx) => rx,
    }
}

/// A member id through the MEMBER_ID_REQUIRED round trip, then its join.
fn join_new(g: &mut Group, id: &str, protocols: &[&str], now: Instant) -> oneshot::Receiver<JoinResult> {
    let first = now_result(g.join(&request("", protocols), now, 0, DELAY, || id.to_string()).0);
    assert_eq!(first.error, Some(ResponseError::MemberIdRequired));
    assert_eq!(first.member_id, id);
    waited(g.join(&request(id, protocols), now, 0, DELAY, || unreachable!()).0)
}

#[test]
fn two_members_join_sync_and_rebalance_when_one_leaves() {
    let now = Instant::now();
    let mut g = Group::new("g", 0);
    let mut a = join_new(&mut g, "a", &["range", "roundrobin"], now);
    // Only member so far, the barrier completes at once (no initial delay here).
    let ra = a.try_recv().expect("a joined");
    assert_eq!((ra.generation_id, ra.leader.as_str(), ra.members.len()), (1, "a", 1));
    assert_eq!(ra.protocol_name.as_deref(), Some("range"));
    assert_eq!(g.state, GroupState::CompletingRebalance);

    // b arrives: a new rebalance; a learns of it through its heartbeat and rejoins.
    let mut b = join_new(&mut g, "b", &["roundrobin", "range"], now);
    assert_eq!(g.state, GroupState::PreparingRebalance);
    assert_eq!(g.heartbeat("a", None, 1, now), Err(ResponseError::RebalanceInProgress));
    assert!(b.try_recv().is_err(), "b waits for a");
    let mut a = waited(g.join(&request("a", &["range", "roundrobin"]), now, 0, DELAY, || unreachable!()).0);
    let (ra, rb) = (a.try_recv().expect("a"), b.try_recv().expect("b"));
    assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
    assert_eq!(ra.leader, "a");
    assert_eq!(ra.members.len(), 2, "the leader sees every member");
    assert!(rb.members.is_empty(), "followers see none");
    // One vote each: the tie goes to the name sorted first.
    assert_eq!(ra.protocol_name.as_deref(), Some("range"));

    // b syncs first and waits; the leader's sync produces the write to store.
    let mut sb = waited(g.sync("b", None, 2, None, None, vec![], now).0);
    let (sa, write) = g.sync("a", None, 2, None, None, vec![("a".into(), "A".into()), ("b".into(), "B".into())], now);
    let mut sa = waited(sa);
    let write = write.expect("leader's assignment must be stored");
    assert_eq!(write.value.members.iter().map(|m| m.assignment.clone()).collect::<Vec<_>>(), vec!["A", "B"]);
    assert!(sb.try_recv().is_err(), "nobody is answered before the store");
    g.sync_stored(2, Ok(()), now, 0, DELAY);
    assert_eq!(g.state, GroupState::Stable);
    assert_eq!(sa.try_recv().expect("a"), Ok(Bytes::from("A")));
    assert_eq!(sb.try_recv().expect("b"), Ok(Bytes::from("B")));
    assert_eq!(g.check_commit("b", None, 2), Ok(()));
    assert_eq!(g.check_commit("b", None, 1), Err(ResponseError::IllegalGeneration));
    assert_eq!(g.check_commit("zz", None, 2), Err(ResponseError::UnknownMemberId));
    assert_eq!(g.check_commit("", None, -1), Err(ResponseError::UnknownMemberId));

    // b leaves: a rebalance that only a must rejoin.
    g.leave("b", None, now, 0, DELAY).expect("leave");
    assert_eq!(g.state, GroupState::PreparingRebalance);
    let mut a = waited(g.join(&request("a", &["range"]), now, 0, DELAY, || unreachable!()).0);
    assert_eq!(a.try_recv().expect("a").generation_id, 3);
    assert_eq!(g.leave("b", None, now, 0, DELAY), Err(ResponseError::UnknownMemberId));
}

#[test]
fn silent_members_expire_and_the_group_empties() {
    let start = Instant::now();
    let mut g = Group::new("g", 0);
    let mut a = join_new(&mut g, "a", &["range"], start);
    a.try_recv().expect("joined");
    let mut sa = waited(g.sync("a", None, 1, None, None, vec![("a".into(), "A".into())], start).0);
    g.sync_stored(1, Ok(()), start, 0, DELAY);
    sa.try_recv().expect("synced").expect("ok");
    assert!(g.tick(start + Duration::from_secs(9), 9, DELAY).is_empty());
    assert_eq!(g.state, GroupState::Stable);
    let writes = g.tick(start + Duration::from_secs(11), 11, DELAY);
    assert_eq!(g.state, GroupState::Empty);
    assert_eq!(g.generation_id, 2);
    assert_eq!(writes.len(), 1, "an emptied group is stored");
    assert!(writes[0].value.members.is_empty());
    assert_eq!(g.check_commit("", None, -1), Ok(()));
}

#[test]
fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let start = Instant::now();
    let mut g = Group::new("g", 0);
    join_new(&mut g, "a", &["range"], start).try_recv().expect("a");
    let _b = join_new(&mut g, "b", &["range"], start);
    assert_eq!(g.state, GroupState::PreparingRebalance);
    // a never rejoins (it waits on no barrier, so it could expire, but its session is 10 s and
    // the rebalance timeout 30 s: keep it alive with heartbeats).
    for s in 1..30 {
        let _ = g.heartbeat("a", None, 1, start + Duration::from_secs(s));
        g.tick(start + Duration::from_secs(s), s as i64, DELAY);
    }
    assert_eq!(g.state, GroupState::PreparingRebalance);
    g.tick(start + Duration::from_secs(31), 31, DELAY);
    assert_eq!(g.state, GroupState::CompletingRebalance);
    assert_eq!(g.members.keys().collect::<Vec<_>>(), vec!["b"]);
    assert_eq!(g.leader_id.as_deref(), Some("b"));
}

#[test]
fn initial_delay_waits_for_more_members() {
    let start = Instant::now();
    let delay = Duration::from_secs(3);
    let mut g = Group::new("g", 0);
    let first = now_result(g.join(&request("", &["range"]), start, 0, delay, || "a".into()).0);
    let mut a = waited(g.join(&request(&first.member_id, &["range"]), start, 0, delay, || unreachable!()).0);
    assert!(a.try_recv().is_err(), "the initial delay holds the first member");
    let t1 = start + Duration::from_secs(1);
    now_result(g.join(&request("", &["range"]), t1, 0, delay, || "b".into()).0);
    let mut b = waited(g.join(&request("b", &["range"]), t1, 0, delay, || unreachable!()).0);
    g.tick(start + Duration::from_secs(3), 3, delay);
    assert!(a.try_recv().is_err(), "b's arrival extended the delay to t1 + 3 s");
    g.tick(start + Duration::from_secs(4), 4, delay);
    assert_eq!(a.try_recv().expect("a").members.len(), 2);
    assert_eq!(b.try_recv().expect("b").generation_id, 1);
}

#[test]
fn static_member_rejoining_keeps_its_assignment_without_rebalance() {
    let now = Instant::now();
    let mut g = Group::new("g", 0);
    join_new(&mut g, "a", &["range"], now).try_recv().expect("a leads");
    let mut req = request("", &["range"]);
    req.group_instance_id = Some("i-1".into());
    let mut s = waited(g.join(&req, now, 0, DELAY, || "i-1-x".into()).0);
    let mut a = waited(g.join(&request("a", &["range"]), now, 0, DELAY, || unreachable!()).0);
    assert_eq!(s.try_recv().expect("static joined").member_id, "i-1-x");
    assert_eq!(a.try_recv().expect("a rejoined").leader, "a");
    let assignments = vec![("i-1-x".to_string(), Bytes::from("S")), ("a".to_string(), Bytes::from("A"))];
    let (_, write) = g.sync("a", None, 2, None, None, assignments, now);
    assert!(write.is_some());
    g.sync_stored(2, Ok(()), now, 0, DELAY);
    assert_eq!(g.state, GroupState::Stable);
    // The static member restarts with an empty member id: same instance, new member id, the
    // old id fenced, and no rebalance because it does not lead.
    let r = now_result(g.join(&req, now, 0, DELAY, || "i-1-y".into()).0);
    assert_eq!((r.member_id.as_str(), r.generation_id), ("i-1-y", 2));
    assert_eq!(g.state, GroupState::Stable);
    assert_eq!(g.heartbeat("i-1-x", Some("i-1"), 2, now), Err(ResponseError::UnknownMemberId));
    assert_eq!(g.heartbeat("i-1-y", Some("i-1"), 2, now), Ok(()));
    assert_eq!(g.members["i-1-y"].assignment, Bytes::from("S"));
    // Leaving by instance id alone works for static members.
    g.leave("", Some("i-1"), now, 0, DELAY).expect("leave by instance");
    assert_eq!(g.state, GroupState::PreparingRebalance);
}

#[test]
fn bad_requests_get_kafkas_errors() {
    let now = Instant::now();
    let mut g = Group::new("g", 0);
    join_new(&mut g, "a", &["range"], now).try_recv().expect("a");
    let r = now_result(g.join(&request("nobody", &["range"]), now, 0, DELAY, || unreachable!()).0);
    assert_eq!(r.error, Some(ResponseError::UnknownMemberId));
    let mut other = request("", &["range"]);
    other.protocol_type = "connect".into();
    let r = now_result(g.join(&other, now, 0, DELAY, || "x".into()).0);
    assert_eq!(r.error, Some(ResponseError::InconsistentGroupProtocol));
    let r = now_result(g.join(&request("", &["sticky"]), now, 0, DELAY, || "x".into()).0);
    assert_eq!(r.error, Some(ResponseError::InconsistentGroupProtocol));
    assert!(matches!(
        g.sync("a", None, 7, None, None, vec![], now).0,
        Outcome::Now(Err(ResponseError::IllegalGeneration))
    ));
    assert!(matches!(
        g.sync("zz", None, 1, None, None, vec![], now).0,
        Outcome::Now(Err(ResponseError::UnknownMemberId))
    ));
    assert_eq!(g.check_commit("a", None, 1), Err(ResponseError::RebalanceInProgress));
    assert_eq!(g.heartbeat("a", None, 0, now), Err(ResponseError::IllegalGeneration));
}

#[test]
fn metadata_record_round_trip_restores_a_stable_group() {
    let now = Instant::now();
    let mut g = Group::new("g", 0);
    join_new(&mut g, "a", &["range"], now).try_recv().expect("a");
    let (_, write) = g.sync("a", None, 1, None, None, vec![("a".into(), "A".into())], now);
    g.sync_stored(1, Ok(()), now, 5, DELAY);
    let value = g.to_value();
    assert_eq!(write.expect("write").value.members[0].assignment, Bytes::from("A"));
    let loaded = Group::load("g", &value, now);
    assert_eq!(loaded.state, GroupState::Stable);
    assert_eq!(loaded.generation_id, 1);
    assert_eq!(loaded.members["a"].assignment, Bytes::from("A"));
    assert_eq!(loaded.to_value(), value);
}
