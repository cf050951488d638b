//! One consumer group's membership state machine, as Kafka's classic group coordinator runs it:
//! Empty -> PreparingRebalance -> CompletingRebalance -> Stable, with generations, the join and
//! sync barriers, session and rebalance timeouts, static membership and pending (v4+) members.
//!
//! Pure state: no I/O and no clock reads (`now` is passed in). Requests that must wait (a join
//! until every member has rejoined, a sync until the leader's assignment is stored) leave a
//! oneshot sender in their member; the transition that completes the barrier answers them.
//! Invariants: `leader_id` is a member whenever the group is CompletingRebalance or Stable;
//! every static member's instance id maps to its current member id and back.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::records::{GroupValue, MemberValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// Kafka's spelling, as ListGroups and DescribeGroups report it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// A JoinGroup request, decoded.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a first join gets MEMBER_ID_REQUIRED and a member id.
    pub require_known_member_id: bool,
}

/// A member as the join response lists it (to the leader only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    pub error: Option<ResponseError>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    pub members: Vec<JoinedMember>,
}

impl JoinResult {
    pub fn error(error: ResponseError, member_id: &str) -> JoinResult {
        JoinResult {
            error: Some(error),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            members: Vec::new(),
        }
    }
}

pub type SyncResult = Result<Bytes, ResponseError>;

/// A join or sync answered now, or later through the receiver.
pub enum Outcome<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

#[derive(Debug)]
pub struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    last_heartbeat: Instant,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    /// The member's subscription bytes for `protocol`.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols.iter().find(|(name, _)| name == protocol).map(|(_, m)| m.clone()).unwrap_or_default()
    }

    /// Members waiting on a barrier are kept alive: their client is blocked in our answer.
    fn expired(&self, now: Instant) -> bool {
        self.join_waiter.is_none()
            && self.sync_waiter.is_none()
            && now.saturating_duration_since(self.last_heartbeat) > self.session_timeout
    }
}

/// A committed offset as the coordinator caches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    /// -1 when the client sent none.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// Only for commits that asked for their own retention (OffsetCommit v2-v4).
    pub expire_timestamp_ms: Option<i64>,
    /// Where the commit record sits in `__consumer_offsets`: a commit never replaces a later one.
    pub record_offset: i64,
}

/// A group write the caller must store in `__consumer_offsets` (the group's metadata record).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupWrite {
    pub group_id: String,
    pub generation_id: i32,
    pub value: GroupValue,
}

#[derive(Debug)]
pub struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: Option<String>,
    /// Wall-clock ms of the last state change (GroupMetadataValue's `currentStateTimestamp`).
    pub state_timestamp_ms: i64,
    pub members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, until they rejoin or expire.
    pending_members: HashMap<String, Instant>,
    static_members: HashMap<String, String>,
    /// Assignments from the leader's SyncGroup while they are being stored.
    pending_assignment: Option<HashMap<String, Bytes>>,
    /// When the join barrier gives up on members that have not rejoined.
    join_deadline: Option<Instant>,
    /// A group rebalancing from Empty waits this long for more members (Kafka's
    /// `group.initial.rebalance.delay.ms`).
    initial_delay_until: Option<Instant>,
    /// Committed offsets by (topic, partition).
    pub offsets: BTreeMap<(String, i32), CommittedOffset>,
}

impl Group {
    pub fn new(id: &str, now_ms: i64) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            state_timestamp_ms: now_ms,
            members: BTreeMap::new(),
            pending_members: HashMap::new(),
            static_members: HashMap::new(),
            pending_assignment: None,
            join_deadline: None,
            initial_delay_until: None,
            offsets: BTreeMap::new(),
        }
    }

    /// Rebuilds a group from its last metadata record: Stable with its members (who must
    /// heartbeat within their session timeout) or Empty.
    pub fn load(id: &str, value: &GroupValue, now: Instant) -> Group {
        let mut group = Group::new(id, value.current_state_timestamp_ms);
        group.generation_id = value.generation_id;
        group.protocol_type = (!value.protocol_type.is_empty()).then(|| value.protocol_type.clone());
        group.protocol_name = value.protocol.clone();
        group.leader_id = value.leader.clone();
        for m in &value.members {
            let protocol = value.protocol.clone().unwrap_or_default();
            let member = Member {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                session_timeout: Duration::from_millis(m.session_timeout_ms.max(0) as u64),
                rebalance_timeout: Duration::from_millis(m.rebalance_timeout_ms.max(0) as u64),
                protocols: vec![(protocol, m.subscription.clone())],
                assignment: m.assignment.clone(),
                last_heartbeat: now,
                join_waiter: None,
                sync_waiter: None,
            };
            if let Some(instance) = &m.group_instance_id {
                group.static_members.insert(instance.clone(), m.member_id.clone());
            }
            group.members.insert(m.member_id.clone(), member);
        }
        let leader_ok = group.leader_id.as_ref().is_some_and(|l| group.members.contains_key(l));
        group.state = if group.members.is_empty() || !leader_ok { GroupState::Empty } else { GroupState::Stable };
        if group.state == GroupState::Empty {
            group.members.clear();
            group.static_members.clear();
            group.leader_id = None;
        }
        group
    }

    /// The group's metadata record as of now.
    pub fn to_value(&self) -> GroupValue {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation_id: self.generation_id,
            protocol: self.protocol_name.clone(),
            leader: self.leader_id.clone(),
            current_state_timestamp_ms: self.state_timestamp_ms,
            members: self
                .members
                .values()
                .map(|m| MemberValue {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: duration_ms(m.rebalance_timeout),
                    session_timeout_ms: duration_ms(m.session_timeout),
                    subscription: m.metadata(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    fn write(&self) -> GroupWrite {
        GroupWrite { group_id: self.id.clone(), generation_id: self.generation_id, value: self.to_value() }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.pending_members.is_empty()
    }

    fn set_state(&mut self, state: GroupState, now_ms: i64) {
        self.state = state;
        self.state_timestamp_ms = now_ms;
    }

    /// Handles a JoinGroup. Writes it returns must be stored (a group that became Empty).
    pub fn join(
        &mut self,
        req: &JoinRequest,
        now: Instant,
        now_ms: i64,
        initial_delay: Duration,
        new_member_id: impl FnOnce() -> String,
    ) -> (Outcome<JoinResult>, Vec<GroupWrite>) {
        let now_err = |e: ResponseError| (Outcome::Now(JoinResult::error(e, &req.member_id)), Vec::new());
        if self.state == GroupState::Dead {
            return now_err(ResponseError::CoordinatorNotAvailable);
        }
        if !self.supports(&req.protocol_type, &req.protocols) {
            return now_err(ResponseError::InconsistentGroupProtocol);
        }
        if req.member_id.is_empty() {
            let member_id = new_member_id();
            if let Some(instance) = &req.group_instance_id {
                if let Some(old) = self.static_members.get(instance).cloned() {
                    return self.replace_static_member(req, &old, member_id, now, now_ms, initial_delay);
                }
            } else if req.require_known_member_id {
                self.pending_members.insert(member_id.clone(), now + req.session_timeout);
                let result = JoinResult::error(ResponseError::MemberIdRequired, &member_id);
                return (Outcome::Now(result), Vec::new());
            }
            return self.add_member(req, member_id, now, now_ms, initial_delay);
        }
        if self.pending_members.remove(&req.member_id).is_some() {
            return self.add_member(req, req.member_id.clone(), now, now_ms, initial_delay);
        }
        if !self.members.contains_key(&req.member_id) {
            return now_err(ResponseError::UnknownMemberId);
        }
        if self.fenced(&req.member_id, req.group_instance_id.as_deref()) {
            return now_err(ResponseError::FencedInstanceId);
        }
        self.rejoin(req, now, now_ms, initial_delay)
    }

    /// Whether the member's protocols fit the group's type and share one with every member.
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return self.protocol_type.as_deref().is_none_or(|t| t == protocol_type || self.state == GroupState::Empty);
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|(name, _)| self.members.values().all(|m| m.protocols.iter().any(|(n, _)| n == name)))
    }

    /// Takes a stored commit unless the offset it has was written later (a commit never
    /// replaces one with a later record offset).
    pub fn record_commit(&mut self, topic: String, partition: i32, committed: CommittedOffset) {
        match self.offsets.entry((topic, partition)) {
            std::collections::btree_map::Entry::Occupied(mut o) => {
                if o.get().record_offset < committed.record_offset {
                    o.insert(committed);
                }
            }
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(committed);
            }
        }
    }

    /// TxnOffsetCommit's checks (Kafka's): a named member must belong to the group, a given
    /// generation must be the group's; an unnamed, generation-less commit (v0-2) passes.
    pub fn check_txn_commit(
        &self,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ResponseError> {
        if self.state == GroupState::Dead {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if self.fenced(member_id, instance) {
            return Err(ResponseError::FencedInstanceId);
        }
        if !member_id.is_empty() && !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation_id >= 0 && generation_id != self.generation_id {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    fn fenced(&self, member_id: &str, instance: Option<&str>) -> bool {
        instance.is_some_and(|i| self.static_members.get(i).is_some_and(|m| m != member_id))
    }

    fn add_member(
        &mut self,
        req: &JoinRequest,
        member_id: String,
        now: Instant,
        now_ms: i64,
        initial_delay: Duration,
    ) -> (Outcome<JoinResult>, Vec<GroupWrite>) {
        let (tx, rx) = oneshot::channel();
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if let Some(instance) = &req.group_instance_id {
            self.static_members.insert(instance.clone(), member_id.clone());
        }
        self.members.insert(
            member_id.clone(),
            Member {
                member_id,
                group_instance_id: req.group_instance_id.clone(),
                client_id: req.client_id.clone(),
                client_host: req.client_host.clone(),
                session_timeout: req.session_timeout,
                rebalance_timeout: req.rebalance_timeout,
                protocols: req.protocols.clone(),
                assignment: Bytes::new(),
                last_heartbeat: now,
                join_waiter: Some(tx),
                sync_waiter: None,
            },
        );
        match self.state {
            GroupState::PreparingRebalance => {
                // A member arriving during the initial delay buys the others more time.
                if let (Some(until), Some(deadline)) = (self.initial_delay_until, self.join_deadline) {
                    self.initial_delay_until = Some((until.max(now + initial_delay)).min(deadline));
                }
            }
            _ => self.prepare_rebalance(now, now_ms, initial_delay),
        }
        (Outcome::Wait(rx), self.try_complete_join(now, now_ms))
    }

    fn replace_static_member(
        &mut self,
        req: &JoinRequest,
        old_id: &str,
        new_id: String,
        now: Instant,
        now_ms: i64,
        initial_delay: Duration,
    ) -> (Outcome<JoinResult>, Vec<GroupWrite>) {
        let Some(mut member) = self.members.remove(old_id) else {
            return self.add_member(req, new_id, now, now_ms, initial_delay);
        };
        // The old incarnation is fenced: whatever it waits on fails.
        if let Some(tx) = member.join_waiter.take() {
            let _ = tx.send(JoinResult::error(ResponseError::FencedInstanceId, old_id));
        }
        if let Some(tx) = member.sync_waiter.take() {
            let _ = tx.send(Err(ResponseError::FencedInstanceId));
        }
        member.member_id = new_id.clone();
        if let Some(instance) = &req.group_instance_id {
            self.static_members.insert(instance.clone(), new_id.clone());
        }
        if self.leader_id.as_deref() == Some(old_id) {
            self.leader_id = Some(new_id.clone());
        }
        self.members.insert(new_id.clone(), member);
        let req = JoinRequest { member_id: new_id, ..req.clone() };
        self.rejoin(&req, now, now_ms, initial_delay)
    }

    /// A known member joins again.
    fn rejoin(
        &mut self,
        req: &JoinRequest,
        now: Instant,
        now_ms: i64,
        initial_delay: Duration,
    ) -> (Outcome<JoinResult>, Vec<GroupWrite>) {
        let is_leader = self.leader_id.as_deref() == Some(req.member_id.as_str());
        let member = self.members.get_mut(&req.member_id).expect("caller checked membership");
        let unchanged = member.protocols == req.protocols;
        member.last_heartbeat = now;
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        member.client_id.clone_from(&req.client_id);
        member.client_host.clone_from(&req.client_host);
        match self.state {
            GroupState::CompletingRebalance | GroupState::Stable
                if unchanged && (self.state == GroupState::CompletingRebalance || !is_leader) =>
            {
                // Nothing changed: hand back the current generation (a retried join).
                return (Outcome::Now(self.join_result(&req.member_id)), Vec::new());
            }
            GroupState::Empty | GroupState::Dead => {
                return (Outcome::Now(JoinResult::error(ResponseError::UnknownMemberId, &req.member_id)), Vec::new());
            }
            _ => {}
        }
        let member = self.members.get_mut(&req.member_id).expect("caller checked membership");
        member.protocols.clone_from(&req.protocols);
        let (tx, rx) = oneshot::channel();
        if let Some(old) = member.join_waiter.replace(tx) {
            let _ = old.send(JoinResult::error(ResponseError::UnknownMemberId, &req.member_id));
        }
        if self.state != GroupState::PreparingRebalance {
            self.prepare_rebalance(now, now_ms, initial_delay);
        }
        (Outcome::Wait(rx), self.try_complete_join(now, now_ms))
    }

    /// The join response for `member_id` in the current generation (the leader gets the members).
    fn join_result(&self, member_id: &str) -> JoinResult {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let leader = self.leader_id.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.members
                .values()
                .map(|m| JoinedMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    metadata: m.metadata(&protocol),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: None,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader,
            member_id: member_id.to_string(),
            members,
        }
    }

    fn prepare_rebalance(&mut self, now: Instant, now_ms: i64, initial_delay: Duration) {
        if self.state == GroupState::CompletingRebalance {
            self.pending_assignment = None;
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                if let Some(tx) = m.sync_waiter.take() {
                    let _ = tx.send(Err(ResponseError::RebalanceInProgress));
                }
            }
        }
        let timeout = self.members.values().map(|m| m.rebalance_timeout).max().unwrap_or_default();
        let from_empty = self.state == GroupState::Empty;
        self.set_state(GroupState::PreparingRebalance, now_ms);
        self.join_deadline = Some(now + timeout);
        self.initial_delay_until = from_empty.then(|| now + initial_delay.min(timeout));
    }

    /// Completes the join barrier when every member has rejoined (and the initial delay is over),
    /// or when the rebalance timeout has passed.
    fn try_complete_join(&mut self, now: Instant, now_ms: i64) -> Vec<GroupWrite> {
        if self.state != GroupState::PreparingRebalance {
            return Vec::new();
        }
        let all_joined = self.pending_members.is_empty() && self.members.values().all(|m| m.join_waiter.is_some());
        let delay_over = self.initial_delay_until.is_none_or(|t| now >= t);
        let timed_out = self.join_deadline.is_some_and(|d| now >= d);
        if (all_joined && delay_over) || timed_out {
            self.complete_join(now, now_ms)
        } else {
            Vec::new()
        }
    }

    fn complete_join(&mut self, now: Instant, now_ms: i64) -> Vec<GroupWrite> {
        let gone: Vec<String> =
            self.members.values().filter(|m| m.join_waiter.is_none()).map(|m| m.member_id.clone()).collect();
        for id in gone {
            self.drop_member(&id);
        }
        self.pending_members.clear();
        self.join_deadline = None;
        self.initial_delay_until = None;
        self.generation_id += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader_id = None;
            self.set_state(GroupState::Empty, now_ms);
            return vec![self.write()];
        }
        self.protocol_name = self.select_protocol();
        if !self.leader_id.as_ref().is_some_and(|l| self.members.contains_key(l)) {
            self.leader_id = self.members.keys().next().cloned();
        }
        self.set_state(GroupState::CompletingRebalance, now_ms);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let result = self.join_result(&id);
            if let Some(m) = self.members.get_mut(&id) {
                m.last_heartbeat = now;
                if let Some(tx) = m.join_waiter.take() {
                    let _ = tx.send(result);
                }
            }
        }
        Vec::new()
    }

    /// Kafka's vote: among the protocols every member supports, each member votes for its first
    /// preference; the most votes win (ties to the name sorted first, to stay deterministic).
    fn select_protocol(&self) -> Option<String> {
        let candidates: Vec<&String> = self
            .members
            .values()
            .next()?
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| self.members.values().all(|m| m.protocols.iter().any(|(p, _)| p == *n)))
            .collect();
        let mut votes: BTreeMap<&String, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some((name, _)) = m.protocols.iter().find(|(p, _)| candidates.contains(&p)) {
                *votes.entry(name).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        votes.into_iter().find(|(_, v)| *v == best).map(|(n, _)| n.clone())
    }

    fn drop_member(&mut self, member_id: &str) {
        if let Some(mut m) = self.members.remove(member_id) {
            if let Some(instance) = &m.group_instance_id {
                if self.static_members.get(instance).is_some_and(|id| id == member_id) {
                    self.static_members.remove(instance);
                }
            }
            if let Some(tx) = m.join_waiter.take() {
                let _ = tx.send(JoinResult::error(ResponseError::UnknownMemberId, member_id));
            }
            if let Some(tx) = m.sync_waiter.take() {
                let _ = tx.send(Err(ResponseError::UnknownMemberId));
            }
        }
    }

    /// Removes a member (LeaveGroup or session expiry) and rebalances the rest.
    fn remove_member(
        &mut self,
        member_id: &str,
        now: Instant,
        now_ms: i64,
        initial_delay: Duration,
    ) -> Vec<GroupWrite> {
        self.drop_member(member_id);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now, now_ms, initial_delay);
                self.try_complete_join(now, now_ms)
            }
            GroupState::PreparingRebalance => self.try_complete_join(now, now_ms),
            GroupState::Empty | GroupState::Dead => Vec::new(),
        }
    }

    /// Checks a SyncGroup's identity; `Ok` carries nothing, errors are Kafka's.
    fn check_member(&self, member_id: &str, instance: Option<&str>, generation_id: i32) -> Result<(), ResponseError> {
        if !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if self.fenced(member_id, instance) {
            return Err(ResponseError::FencedInstanceId);
        }
        if generation_id != self.generation_id {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    /// Handles a SyncGroup. A leader's sync in CompletingRebalance returns the write that must be
    /// stored before the group turns Stable ([`Group::sync_stored`]).
    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> (Outcome<SyncResult>, Option<GroupWrite>) {
        if let Err(e) = self.check_member(member_id, instance, generation_id) {
            return (Outcome::Now(Err(e)), None);
        }
        if protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != self.protocol_name.as_deref())
        {
            return (Outcome::Now(Err(ResponseError::InconsistentGroupProtocol)), None);
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => (Outcome::Now(Err(ResponseError::UnknownMemberId)), None),
            GroupState::PreparingRebalance => (Outcome::Now(Err(ResponseError::RebalanceInProgress)), None),
            GroupState::Stable => {
                let m = self.members.get_mut(member_id).expect("checked");
                m.last_heartbeat = now;
                (Outcome::Now(Ok(m.assignment.clone())), None)
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                let m = self.members.get_mut(member_id).expect("checked");
                m.last_heartbeat = now;
                m.sync_waiter = Some(tx);
                let is_leader = self.leader_id.as_deref() == Some(member_id);
                if !is_leader || self.pending_assignment.is_some() {
                    return (Outcome::Wait(rx), None);
                }
                let assignments: HashMap<String, Bytes> =
                    assignments.into_iter().filter(|(id, _)| self.members.contains_key(id)).collect();
                let mut value = self.to_value();
                for m in &mut value.members {
                    m.assignment = assignments.get(&m.member_id).cloned().unwrap_or_default();
                }
                self.pending_assignment = Some(assignments);
                let write = GroupWrite { group_id: self.id.clone(), generation_id: self.generation_id, value };
                (Outcome::Wait(rx), Some(write))
            }
        }
    }

    /// The leader's assignment was stored (or not): the group turns Stable and every waiting
    /// member gets its assignment, or the rebalance starts over.
    pub fn sync_stored(
        &mut self,
        generation_id: i32,
        stored: Result<(), ResponseError>,
        now: Instant,
        now_ms: i64,
        initial_delay: Duration,
    ) -> Vec<GroupWrite> {
        if self.state != GroupState::CompletingRebalance || self.generation_id != generation_id {
            return Vec::new();
        }
        let Some(assignments) = self.pending_assignment.take() else {
            return Vec::new();
        };
        if let Err(e) = stored {
            for m in self.members.values_mut() {
                if let Some(tx) = m.sync_waiter.take() {
                    let _ = tx.send(Err(e));
                }
            }
            self.prepare_rebalance(now, now_ms, initial_delay);
            return self.try_complete_join(now, now_ms);
        }
        self.set_state(GroupState::Stable, now_ms);
        for m in self.members.values_mut() {
            m.assignment = assignments.get(&m.member_id).cloned().unwrap_or_default();
            m.last_heartbeat = now;
            if let Some(tx) = m.sync_waiter.take() {
                let _ = tx.send(Ok(m.assignment.clone()));
            }
        }
        Vec::new()
    }

    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
        now: Instant,
    ) -> Result<(), ResponseError> {
        match self.state {
            GroupState::Dead => return Err(ResponseError::CoordinatorNotAvailable),
            GroupState::Empty => return Err(ResponseError::UnknownMemberId),
            _ => {}
        }
        self.check_member(member_id, instance, generation_id)?;
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_heartbeat = now;
        }
        match self.state {
            GroupState::PreparingRebalance => Err(ResponseError::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// LeaveGroup for one member, named by member id or (static members) by instance id.
    pub fn leave(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        now: Instant,
        now_ms: i64,
        initial_delay: Duration,
    ) -> Result<Vec<GroupWrite>, ResponseError> {
        let id = match instance {
            Some(i) => match self.static_members.get(i) {
                Some(id) if member_id.is_empty() || id == member_id => id.clone(),
                Some(_) => return Err(ResponseError::FencedInstanceId),
                None => return Err(ResponseError::UnknownMemberId),
            },
            None if self.members.contains_key(member_id) => member_id.to_string(),
            None if self.pending_members.remove(member_id).is_some() => {
                return Ok(self.try_complete_join(now, now_ms));
            }
            None => return Err(ResponseError::UnknownMemberId),
        };
        Ok(self.remove_member(&id, now, now_ms, initial_delay))
    }

    /// Checks whether an OffsetCommit may write (Kafka's order of checks).
    pub fn check_commit(
        &self,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ResponseError> {
        match self.state {
            GroupState::Dead => Err(ResponseError::CoordinatorNotAvailable),
            // The group only stores offsets (a standalone consumer or an admin).
            GroupState::Empty if generation_id < 0 && member_id.is_empty() => Ok(()),
            GroupState::CompletingRebalance => Err(ResponseError::RebalanceInProgress),
            _ if self.fenced(member_id, instance) => Err(ResponseError::FencedInstanceId),
            _ if !self.members.contains_key(member_id) => Err(ResponseError::UnknownMemberId),
            _ if generation_id != self.generation_id => Err(ResponseError::IllegalGeneration),
            _ => Ok(()),
        }
    }

    /// Expires silent members and pending member ids, and completes a join barrier whose time
    /// has come. Returns the writes to store.
    pub fn tick(&mut self, now: Instant, now_ms: i64, initial_delay: Duration) -> Vec<GroupWrite> {
        let mut writes = Vec::new();
        let before = self.pending_members.len();
        self.pending_members.retain(|_, expiry| *expiry > now);
        let expired: Vec<String> =
            self.members.values().filter(|m| m.expired(now)).map(|m| m.member_id.clone()).collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "member session expired; rebalancing");
            writes.extend(self.remove_member(&id, now, now_ms, initial_delay));
        }
        if self.pending_members.len() != before || self.state == GroupState::PreparingRebalance {
            writes.extend(self.try_complete_join(now, now_ms));
        }
        writes
    }
}

fn duration_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
