//! The windowing engine of warren's stream processing, with Kafka Streams' semantics: time windows
//! (tumbling and hopping), KIP-450 sliding windows and session windows over mergeable `Agg`s.
//!
//! Pure: records go in, `Event`s come out (state writes and deletes, window updates, closes); no
//! I/O, no clock. Time is stream time, the largest record timestamp seen. One `Engine` per task (a
//! partition); the caller writes its state events to a changelog and rebuilds an engine from them
//! with the `restore_*` calls, which reproduces the original's behaviour exactly.
//!
//! Invariants kept:
//! - after `process` has closed what stream time made closed, every window held is open (its close
//!   bound is above stream time - grace), and a record is never aggregated into a closed window;
//! - `closing` holds exactly one entry per window held, so closing costs O(log n) per closed window
//!   and nothing otherwise;
//! - a key's sessions are pairwise more than `gap` apart (a record within `gap` of two merges them),
//!   so ordering them by start also orders them by end;
//! - a sliding point is held exactly as long as an open window or a future accepted record's
//!   windows can contain it (the bound is proved at `close`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::{Excluded, Included};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Windows {
    /// Tumbling (advance == size) and hopping windows: epoch-aligned [N*advance, N*advance + size), end exclusive.
    Time { size: i64, advance: i64, grace: i64 },
    /// KIP-450 sliding windows: [t - difference, t], both ends inclusive.
    Sliding { difference: i64, grace: i64 },
    /// Session windows: [first, last] record timestamps, inclusive; merge within `gap`.
    Session { gap: i64, grace: i64 },
}

impl Windows {
    /// How long after its close bound a window still accepts records, in stream time.
    pub fn grace(&self) -> i64 {
        match *self {
            Windows::Time { grace, .. } | Windows::Sliding { grace, .. } | Windows::Session { grace, .. } => grace,
        }
    }

    /// The stream time - grace at which `window` is closed: its exclusive end for time windows, the
    /// inclusive end made exclusive for sliding windows, the last record plus the gap for sessions
    /// (a record at `end + gap` could no longer merge into it).
    pub fn close_bound(&self, window: Window) -> i64 {
        match *self {
            Windows::Time { .. } => window.end,
            Windows::Sliding { .. } => window.end.saturating_add(1),
            Windows::Session { gap, .. } => window.end.saturating_add(gap),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

/// A mergeable aggregate: enough for count, sum, min, max and avg. `timestamp` is the largest record
/// timestamp in it (Kafka Streams gives a window result the latest record's timestamp).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agg {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub timestamp: i64,
}

impl Agg {
    /// The aggregate of one record.
    pub fn of(value: f64, timestamp: i64) -> Agg {
        Agg { count: 1, sum: value, min: value, max: value, timestamp }
    }

    pub fn add(&mut self, value: f64, timestamp: i64) {
        self.merge(&Agg::of(value, timestamp));
    }

    pub fn merge(&mut self, other: &Agg) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.timestamp = self.timestamp.max(other.timestamp);
    }

    /// The mean; an `Agg` always holds at least one record, so this is never 0/0.
    pub fn avg(&self) -> f64 {
        self.sum / self.count as f64
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event<K> {
    /// A window was created or its aggregate changed: a state write; downstream an upsert when emitting updates.
    Put { key: K, window: Window, agg: Agg },
    /// A session merged into another: a state delete; downstream a tombstone for its key when emitting
    /// updates.
    Delete { key: K, window: Window },
    /// The window closed (stream time - grace reached its close bound): a state delete; downstream the
    /// final result when emitting final.
    Close { key: K, window: Window, agg: Agg },
    /// Sliding windows only: the per-timestamp aggregate of a key's records at `timestamp` (state write),
    /// needed to build later windows.
    PointPut { key: K, timestamp: i64, agg: Agg },
    /// Sliding windows only: a point no open or future window can contain any more (state delete).
    PointDelete { key: K, timestamp: i64 },
}

/// The windowed aggregation state of one task. See the module header for its invariants.
pub struct Engine<K> {
    windows: Windows,
    stream_time: Option<i64>,
    late_dropped: u64,
    /// Open windows per key, ordered by (start, end); sessions search this by start.
    open: BTreeMap<K, BTreeMap<Window, Agg>>,
    /// One entry per open window, in the order they close: close bound, then key, then window.
    closing: BTreeSet<(i64, K, Window)>,
    /// Sliding windows only: per key, the merged aggregate of its records at each timestamp.
    points: BTreeMap<K, BTreeMap<i64, Agg>>,
    /// Sliding windows only: one entry per point, in the order points are evicted.
    point_index: BTreeSet<(i64, K)>,
    /// Reused by sliding and session records so they allocate no list of their own.
    scratch: Vec<Window>,
}

impl<K: Ord + Clone> Engine<K> {
    /// An empty engine. Panics on parameters Kafka Streams rejects too: a non-positive size or
    /// advance, an advance beyond the size, a negative difference or grace, a non-positive gap (with
    /// gap and grace 0 a session would close at its own newest record).
    pub fn new(windows: Windows) -> Engine<K> {
        match windows {
            Windows::Time { size, advance, .. } => {
                assert!(size > 0 && advance > 0 && advance <= size, "time windows need 0 < advance <= size");
            }
            Windows::Sliding { difference, .. } => assert!(difference >= 0, "sliding windows need difference >= 0"),
            Windows::Session { gap, .. } => assert!(gap > 0, "session windows need gap > 0"),
        }
        assert!(windows.grace() >= 0, "windows need grace >= 0");
        Engine {
            windows,
            stream_time: None,
            late_dropped: 0,
            open: BTreeMap::new(),
            closing: BTreeSet::new(),
            points: BTreeMap::new(),
            point_index: BTreeSet::new(),
            scratch: Vec::new(),
        }
    }

    pub fn windows(&self) -> Windows {
        self.windows
    }

    /// The largest record timestamp processed (or restored); None before any.
    pub fn stream_time(&self) -> Option<i64> {
        self.stream_time
    }

    /// Processes one record. Order of work: stream time = max(stream time, timestamp); then every
    /// window whose close bound is reached is closed (Close events, state removed, ordered by close
    /// bound then key then window); then the record is aggregated. Returns false when the record was
    /// dropped as late (aggregated into no window); the engine counts those.
    ///
    /// A negative timestamp is dropped and counted as late before anything else: Kafka skips such
    /// records at the source, so they do not advance stream time either.
    pub fn process(&mut self, key: K, timestamp: i64, value: f64, events: &mut Vec<Event<K>>) -> bool {
        if timestamp < 0 {
            self.late_dropped += 1;
            return false;
        }
        let stream_time = self.stream_time.map_or(timestamp, |t| t.max(timestamp));
        self.stream_time = Some(stream_time);
        let close_time = stream_time.saturating_sub(self.windows.grace());
        self.close(close_time, events);
        let accepted = match self.windows {
            Windows::Time { size, advance, .. } => {
                self.aggregate_time(&key, timestamp, value, (size, advance), close_time, events)
            }
            Windows::Sliding { difference, .. } => {
                self.aggregate_sliding(key, timestamp, value, difference, close_time, events)
            }
            Windows::Session { gap, .. } => self.aggregate_session(key, timestamp, value, gap, close_time, events),
        };
        if !accepted {
            self.late_dropped += 1;
        }
        accepted
    }

    pub fn late_dropped(&self) -> u64 {
        self.late_dropped
    }

    /// Open windows held (all keys).
    pub fn open_windows(&self) -> usize {
        self.closing.len()
    }

    /// Sliding points held (all keys).
    pub fn points_held(&self) -> usize {
        self.point_index.len()
    }

    /// Current open windows with aggregates (for tests and pages), sorted.
    pub fn snapshot(&self) -> Vec<(K, Window, Agg)> {
        let windows = self.open.iter().flat_map(|(key, held)| held.iter().map(move |(w, agg)| (key.clone(), *w, *agg)));
        windows.collect()
    }

    /// The aggregate of one held window (None: not held, e.g. closed).
    pub fn window(&self, key: &K, window: Window) -> Option<Agg> {
        self.open.get(key)?.get(&window).copied()
    }

    /// Sliding windows: the aggregate of a key's records at `timestamp`, while held.
    pub fn point(&self, key: &K, timestamp: i64) -> Option<Agg> {
        self.points.get(key)?.get(&timestamp).copied()
    }

    /// Restore from a changelog: state entries as the events above wrote them (last write per key
    /// wins; the caller applies deletes by not calling or by the delete fns).
    pub fn restore_window(&mut self, key: K, window: Window, agg: Agg) {
        self.insert_window(&key, window, agg);
    }

    pub fn restore_window_delete(&mut self, key: &K, window: Window) {
        self.remove_window(key, window);
    }

    pub fn restore_point(&mut self, key: K, timestamp: i64, agg: Agg) {
        if self.points.entry(key.clone()).or_default().insert(timestamp, agg).is_none() {
            self.point_index.insert((timestamp, key));
        }
    }

    pub fn restore_point_delete(&mut self, key: &K, timestamp: i64) {
        if let Some(points) = self.points.get_mut(key) {
            points.remove(&timestamp);
            if points.is_empty() {
                self.points.remove(key);
            }
        }
        self.point_index.remove(&(timestamp, key.clone()));
    }

    /// Sets stream time after a restore (does not close anything by itself; the next process() does).
    pub fn restore_stream_time(&mut self, stream_time: i64) {
        self.stream_time = Some(stream_time);
    }

    /// Closes every window whose close bound is at most `close_time`, then evicts the sliding points
    /// nothing can use any more.
    fn close(&mut self, close_time: i64, events: &mut Vec<Event<K>>) {
        while self.closing.first().is_some_and(|(bound, _, _)| *bound <= close_time) {
            let Some((_, key, window)) = self.closing.pop_first() else { break };
            let Some(agg) = Self::take_held(&mut self.open, &key, window) else {
                unreachable!("every closing entry has its window held")
            };
            events.push(Event::Close { key, window, agg });
        }
        let Windows::Sliding { difference, .. } = self.windows else { return };
        // A point at t is evicted once t + d + 1 <= closeTime (C), i.e. t < C - d. Safe because:
        // - an open window [s, e] has e + 1 > C and e - s = d, so s >= C - d > t;
        // - a future record is accepted only if ts + 1 > C' >= C, so ts >= C. The windows it
        //   builds or changes are its left window [ts - d, ts], left windows of later points and
        //   right windows [u + 1, u + 1 + d] of points u in [ts - 1 - d, ts - 1]; all start at
        //   >= ts - d >= C - d > t, so none contains t. The one point it consults that may be below
        //   C - d is u = ts - 1 - d (whether its right window exists), but that window's bounds are
        //   [ts - d, ts], the record's own left window, so `aggregate_sliding` never asks.
        // Evicting any later (t = C - d) would be wrong: a record at ts = C is accepted and its left
        // window [C - d, C] contains t.
        while self.point_index.first().is_some_and(|(t, _)| t.saturating_add(difference) < close_time) {
            let Some((timestamp, key)) = self.point_index.pop_first() else { break };
            if let Some(points) = self.points.get_mut(&key) {
                points.remove(&timestamp);
                if points.is_empty() {
                    self.points.remove(&key);
                }
            }
            events.push(Event::PointDelete { key, timestamp });
        }
    }

    /// Time windows: the record joins each of its windows (Kafka's `TimeWindows.windowsFor`) that is
    /// still open; late only when none is.
    fn aggregate_time(
        &mut self,
        key: &K,
        timestamp: i64,
        value: f64,
        (size, advance): (i64, i64),
        close_time: i64,
        events: &mut Vec<Event<K>>,
    ) -> bool {
        let mut accepted = false;
        // The first window whose exclusive end is past the record; epoch-aligned, never before 0.
        let mut start = timestamp.saturating_sub(size).saturating_add(advance).max(0) / advance * advance;
        while start <= timestamp {
            let window = Window { start, end: start.saturating_add(size) };
            if window.end > close_time {
                let agg = self.add_to_window(key, window, value, timestamp);
                events.push(Event::Put { key: key.clone(), window, agg });
                accepted = true;
            }
            let Some(next) = start.checked_add(advance) else { break };
            start = next;
        }
        accepted
    }

    /// Sliding windows (KIP-450): the record joins its key's point at its timestamp, then every
    /// window holding it, and any window it brings into existence, is rebuilt from the points.
    fn aggregate_sliding(
        &mut self,
        key: K,
        timestamp: i64,
        value: f64,
        difference: i64,
        close_time: i64,
        events: &mut Vec<Event<K>>,
    ) -> bool {
        // The record's own left window [ts - d, ts] ends first among the windows holding it; when it
        // is open, so are they all.
        if timestamp.saturating_add(1) <= close_time {
            return false;
        }
        let d = difference;
        let points = self.points.entry(key.clone()).or_default();
        let point = match points.get_mut(&timestamp) {
            Some(point) => {
                point.add(value, timestamp);
                *point
            }
            None => {
                let point = Agg::of(value, timestamp);
                points.insert(timestamp, point);
                self.point_index.insert((timestamp, key.clone()));
                point
            }
        };
        events.push(Event::PointPut { key: key.clone(), timestamp, agg: point });

        let mut affected = std::mem::take(&mut self.scratch);
        affected.clear();
        // The windows holding the record: its left window, the left windows of later points within
        // d, and the right windows of earlier points within d + 1 (which exist now, if not before).
        // The right window of ts - 1 - d is [ts - d, ts], the record's left window again.
        affected.push(Window { start: timestamp - d, end: timestamp });
        // (Bounds as a pair: with d = 0 the range `ts + 1..=ts` would make `range` panic.)
        for &u in points.range((Excluded(timestamp), Included(timestamp.saturating_add(d)))).map(|(u, _)| u) {
            affected.push(Window { start: u - d, end: u });
        }
        for &u in points.range(timestamp - d..timestamp).map(|(u, _)| u) {
            affected.push(Window { start: u + 1, end: u.saturating_add(1 + d) });
        }
        // The record's right window exists once a later point is within d + 1; it does not hold the
        // record, so it only needs writing when it is new.
        let right = Window { start: timestamp.saturating_add(1), end: timestamp.saturating_add(1 + d) };
        let right_is_new = self.open.get(&key).is_none_or(|held| !held.contains_key(&right));
        if right_is_new && points.range(right.start..=right.end).next().is_some() {
            affected.push(right);
        }
        // A right window and a left window with the same bounds are one window.
        affected.sort_unstable();
        affected.dedup();

        for &window in &affected {
            let Some(agg) = self.points.get(&key).and_then(|points| merge_points(points, window)) else {
                unreachable!("every affected window holds a point")
            };
            self.insert_window(&key, window, agg);
            events.push(Event::Put { key: key.clone(), window, agg });
        }
        self.scratch = affected;
        true
    }

    /// Session windows: the record merges with every open session of its key within `gap`; the
    /// merged session replaces them unless it is already closed, in which case nothing changes.
    fn aggregate_session(
        &mut self,
        key: K,
        timestamp: i64,
        value: f64,
        gap: i64,
        close_time: i64,
        events: &mut Vec<Event<K>>,
    ) -> bool {
        let mut found = std::mem::take(&mut self.scratch);
        found.clear();
        let mut merged = Window { start: timestamp, end: timestamp };
        let mut agg = Agg::of(value, timestamp);
        if let Some(sessions) = self.open.get(&key) {
            let last_start = Window { start: timestamp.saturating_add(gap), end: i64::MAX };
            for (&session, session_agg) in sessions.range(..=last_start).rev() {
                // Sessions are more than `gap` apart, so their ends fall with their starts: once one
                // ends before ts - gap, every earlier one does too.
                if session.end < timestamp.saturating_sub(gap) {
                    break;
                }
                found.push(session);
                merged.start = merged.start.min(session.start);
                merged.end = merged.end.max(session.end);
                agg.merge(session_agg);
            }
        }
        let accepted = self.windows.close_bound(merged) > close_time;
        if accepted {
            for &session in found.iter().rev() {
                if session != merged {
                    self.remove_window(&key, session);
                    events.push(Event::Delete { key: key.clone(), window: session });
                }
            }
            self.insert_window(&key, merged, agg);
            events.push(Event::Put { key, window: merged, agg });
        }
        self.scratch = found;
        accepted
    }

    /// Adds a record to a window, creating it if needed; returns the new aggregate. The hot path of
    /// time windows: an existing window costs two lookups and no allocation.
    fn add_to_window(&mut self, key: &K, window: Window, value: f64, timestamp: i64) -> Agg {
        if let Some(agg) = self.open.get_mut(key).and_then(|held| held.get_mut(&window)) {
            agg.add(value, timestamp);
            return *agg;
        }
        let agg = Agg::of(value, timestamp);
        self.insert_window(key, window, agg);
        agg
    }

    /// Writes a window's aggregate, indexing the window for closing when it is new.
    fn insert_window(&mut self, key: &K, window: Window, agg: Agg) {
        let held = match self.open.get_mut(key) {
            Some(held) => held,
            None => self.open.entry(key.clone()).or_default(),
        };
        if held.insert(window, agg).is_none() {
            self.closing.insert((self.windows.close_bound(window), key.clone(), window));
        }
    }

    /// Removes a window and its closing entry; returns its aggregate if it was held.
    fn remove_window(&mut self, key: &K, window: Window) -> Option<Agg> {
        let agg = Self::take_held(&mut self.open, key, window)?;
        self.closing.remove(&(self.windows.close_bound(window), key.clone(), window));
        Some(agg)
    }

    /// Removes a window from `open` only, dropping the key's map once empty so idle keys cost nothing.
    fn take_held(open: &mut BTreeMap<K, BTreeMap<Window, Agg>>, key: &K, window: Window) -> Option<Agg> {
        let held = open.get_mut(key)?;
        let agg = held.remove(&window)?;
        if held.is_empty() {
            open.remove(key);
        }
        Some(agg)
    }
}

/// The merge of a key's points inside `window` (inclusive bounds); None when it holds none.
fn merge_points(points: &BTreeMap<i64, Agg>, window: Window) -> Option<Agg> {
    let mut inside = points.range(window.start..=window.end).map(|(_, agg)| agg);
    let mut agg = *inside.next()?;
    inside.for_each(|point| agg.merge(point));
    Some(agg)
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
