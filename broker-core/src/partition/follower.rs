//! A replica's follower side, and what its leader keeps of each follower: whom it follows, the
//! batches it copies, truncation and reset on divergence, the leader's log start it adopts; on
//! the leader, follower positions, ISR growth and the followers that lag.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;

use super::producer::ProducerStates;
use super::{
    log_error_code, rebuild_producer_state, track_batch, FollowerState, Following, Inner, IsrChanged, Partition, Role,
};
use crate::log::batch;
use crate::log::{LogError, ReadPlan};

impl Partition {
    /// Whom this replica follows now, or `None` when it leads or is offline. A fetcher captures
    /// this once per round and passes it to every follower-side change, which happens only while
    /// the assignment is still the same: a replica elected leader meanwhile is never truncated or
    /// written as a follower.
    pub fn following(&self) -> Option<Following> {
        let inner = self.lock();
        match inner.role {
            Role::Follower { leader } => {
                Some(Following { leader, epoch: inner.leader_epoch, session: inner.follower_sessions })
            }
            Role::Leader | Role::Offline => None,
        }
    }

    fn still_following(inner: &Inner, following: Following) -> bool {
        inner.role == (Role::Follower { leader: following.leader })
            && inner.leader_epoch == following.epoch
            && inner.follower_sessions == following.session
    }

    /// Leader side: whether `follower` is in the ISR and last reported `log_end_offset`, so a
    /// fetch from there that would copy nothing has nothing to tell this leader either.
    pub fn knows_follower_at(&self, follower: i32, log_end_offset: i64) -> bool {
        let inner = self.lock();
        inner.role == Role::Leader
            && inner.isr.contains(&follower)
            && inner.followers.get(&follower).is_some_and(|f| f.log_end_offset == log_end_offset)
    }

    /// Plans a follower read and records the follower's position (its fetch offset is its log end
    /// offset). Returns the read and, when the ISR grew, the new ISR for the controller.
    /// `epoch` is the leader epoch the follower checked its log against: a fetch under another
    /// epoch is fenced (FENCED_LEADER_EPOCH), so no position is counted for a log that was
    /// checked against a different leader.
    pub fn plan_follower_read(
        &self,
        follower: i32,
        epoch: i32,
        fetch_offset: i64,
        max_bytes: usize,
    ) -> Result<(Option<ReadPlan>, Option<IsrChanged>), ResponseError> {
        let mut inner = self.lock();
        if inner.role != Role::Leader {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        if inner.leader_epoch != epoch {
            return Err(ResponseError::FencedLeaderEpoch);
        }
        let leo = inner.log.log_end_offset();
        if fetch_offset > leo || fetch_offset < inner.log.log_start_offset() {
            return Err(ResponseError::OffsetOutOfRange);
        }
        let change = self.note_follower(&mut inner, follower, fetch_offset);
        let plan = inner.log.plan_read(fetch_offset, max_bytes, leo).map_err(log_error_code)?;
        Ok((plan, change))
    }

    /// Records a follower's log end offset as soon as it has appended what it fetched (what its
    /// next fetch would report), so acks=all waits for one copy round, not two. Returns the new
    /// ISR when the follower rejoined it.
    pub fn report_follower_position(&self, follower: i32, epoch: i32, log_end_offset: i64) -> Option<IsrChanged> {
        let mut inner = self.lock();
        if inner.role != Role::Leader || inner.leader_epoch != epoch || log_end_offset > inner.log.log_end_offset() {
            return None;
        }
        self.note_follower(&mut inner, follower, log_end_offset)
    }

    fn note_follower(&self, inner: &mut Inner, follower: i32, log_end_offset: i64) -> Option<IsrChanged> {
        let leo = inner.log.log_end_offset();
        let now = Instant::now();
        let state = inner.followers.entry(follower).or_insert(FollowerState { log_end_offset, caught_up_at: now });
        state.log_end_offset = log_end_offset;
        if log_end_offset >= leo {
            state.caught_up_at = now;
        }
        let mut change = None;
        if !inner.isr.contains(&follower)
            && inner.replicas.contains(&follower)
            && log_end_offset >= self.high_watermark()
        {
            inner.isr.push(follower);
            inner.isr.sort_unstable();
            change = Some(IsrChanged);
        }
        self.maybe_advance_hw(inner);
        change
    }

    /// The ISR members that have not caught up within `max_lag`. The leader keeps counting them
    /// until the controller has recorded the smaller ISR (`Cluster::shrink_isr`) and pushed it
    /// back: a shrink takes effect only once it is persisted, so the recorded ISR always holds
    /// every record below any high watermark this leader published.
    pub fn lagging_followers(&self, max_lag: Duration) -> Vec<i32> {
        let inner = self.lock();
        if inner.role != Role::Leader {
            return Vec::new();
        }
        let now = Instant::now();
        let leo = inner.log.log_end_offset();
        inner
            .isr
            .iter()
            .copied()
            .filter(|r| *r != self.broker_id)
            .filter(|r| {
                inner
                    .followers
                    .get(r)
                    .is_none_or(|f| f.log_end_offset < leo && now.duration_since(f.caught_up_at) > max_lag)
            })
            .collect()
    }

    /// Follower side: appends batches fetched under `following` and adopts the leader's HW.
    /// Nothing happens when this replica's assignment changed since (it may lead now, or follow
    /// someone else): the bytes belong to the old assignment.
    pub fn append_replicated(&self, following: Following, records: &[u8], leader_hw: i64) -> Result<(), LogError> {
        let mut inner = self.lock();
        if !Self::still_following(&inner, following) {
            return Ok(());
        }
        let headers = batch::split_trusted(records)?;
        if headers.iter().any(|(_, h)| h.is_transactional()) {
            Self::flag_transactions(&mut inner)?;
        }
        if inner.log.append_replicated(records)?.is_some() {
            for (pos, header) in headers {
                track_batch(&mut inner.producers, &records[pos..pos + header.total_len()], &header);
            }
        }
        let leo = inner.log.log_end_offset();
        self.log_end_offset.store(leo, Ordering::Release);
        let hw = leader_hw.min(leo);
        if hw != self.high_watermark() {
            self.set_high_watermark(hw);
        }
        // Followers prune what the high watermark passed too (leaders do it when asked).
        inner.producers.first_unstable_offset(hw);
        Ok(())
    }

    /// Follower side: drops the log tail at or after `offset` (divergence from the leader), if
    /// the assignment is still `following`.
    pub fn truncate_to(&self, following: Following, offset: i64) -> Result<(), LogError> {
        let mut inner = self.lock();
        if !Self::still_following(&inner, following) {
            return Ok(());
        }
        inner.log.truncate_to(offset)?;
        if inner.has_transactions {
            // A truncated marker reopens its transaction: rebuild from the log.
            inner.producers = rebuild_producer_state(&inner.log, true)?;
        } else {
            inner.producers.truncate_from(offset);
            inner.producers.data_end = inner.producers.data_end.min(inner.log.log_end_offset());
        }
        let leo = inner.log.log_end_offset();
        self.log_end_offset.store(leo, Ordering::Release);
        self.log_start_offset.store(inner.log.log_start_offset(), Ordering::Release);
        if self.high_watermark() > leo {
            self.set_high_watermark(leo);
        }
        Ok(())
    }

    /// Follower side: the leader's log starts after ours ends; restart empty at its start, if the
    /// assignment is still `following`.
    pub fn reset_to(&self, following: Following, offset: i64) -> Result<(), LogError> {
        let mut inner = self.lock();
        if !Self::still_following(&inner, following) {
            return Ok(());
        }
        inner.log.truncate_fully_and_start_at(offset)?;
        inner.producers = ProducerStates::default();
        inner.producers.data_end = offset;
        self.log_end_offset.store(offset, Ordering::Release);
        self.log_start_offset.store(offset, Ordering::Release);
        self.set_high_watermark(offset);
        Ok(())
    }

    /// Follower side: adopts the leader's log start offset, up to this replica's high watermark,
    /// if the assignment is still `following`. Returns whether it moved.
    pub fn follow_log_start(&self, following: Following, leader_log_start: i64) -> Result<bool, LogError> {
        let mut inner = self.lock();
        let target = leader_log_start.min(self.high_watermark());
        if !Self::still_following(&inner, following) || target <= inner.log.log_start_offset() {
            return Ok(false);
        }
        inner.log.advance_log_start(target)?;
        let start = inner.log.log_start_offset();
        inner.producers.forget_aborted_before(start);
        self.log_start_offset.store(start, Ordering::Release);
        Ok(true)
    }
}
