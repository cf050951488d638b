//! Tests of the windowing engine: tables built from Kafka Streams' formulas (`TimeWindows.windowsFor`,
//! close bounds, the KIP-450 examples, session merging), changelog restore, and a property test that
//! runs random out-of-order input through the engine and a naive reference model side by side, for
//! every window type and both emit modes (updates: Put and Delete; final: Close).

use std::collections::{BTreeMap, BTreeSet};

use super::*;

fn tumbling(size: i64, grace: i64) -> Windows {
    Windows::Time { size, advance: size, grace }
}

fn hopping(size: i64, advance: i64, grace: i64) -> Windows {
    Windows::Time { size, advance, grace }
}

fn sliding(difference: i64, grace: i64) -> Windows {
    Windows::Sliding { difference, grace }
}

fn session(gap: i64, grace: i64) -> Windows {
    Windows::Session { gap, grace }
}

/// One event as a short table cell: `put a 0,10 #2` (bounds, count), `del`, `close`, `point`, `unpoint`.
fn show(event: &Event<&str>) -> String {
    match event {
        Event::Put { key, window, agg } => format!("put {key} {},{} #{}", window.start, window.end, agg.count),
        Event::Delete { key, window } => format!("del {key} {},{}", window.start, window.end),
        Event::Close { key, window, agg } => format!("close {key} {},{} #{}", window.start, window.end, agg.count),
        Event::PointPut { key, timestamp, agg } => format!("point {key} {timestamp} #{}", agg.count),
        Event::PointDelete { key, timestamp } => format!("unpoint {key} {timestamp}"),
    }
}

/// Feeds `records` (key, timestamp; value 1) and compares each record's events, joined by "; "
/// and followed by "late" when the record was dropped; then the late count.
fn check(windows: Windows, records: &[(&'static str, i64)], expected: &[&str]) {
    assert_eq!(records.len(), expected.len(), "one expected line per record");
    let mut engine = Engine::new(windows);
    let mut late = 0;
    for (&(key, timestamp), want) in records.iter().zip(expected) {
        let mut events = Vec::new();
        let accepted = engine.process(key, timestamp, 1.0, &mut events);
        let mut cells: Vec<String> = events.iter().map(show).collect();
        if !accepted {
            cells.push("late".to_string());
            late += 1;
        }
        assert_eq!(cells.join("; "), *want, "{windows:?}: record {key}@{timestamp}");
    }
    assert_eq!(engine.late_dropped(), late, "{windows:?}: late count");
}

/// The windows a lone record lands in (with a grace that keeps them all open), in emit order.
fn check_windows_for(size: i64, advance: i64, timestamp: i64, expected: &[(i64, i64)]) {
    let mut engine = Engine::new(hopping(size, advance, 1000));
    let mut events = Vec::new();
    assert!(engine.process("k", timestamp, 1.0, &mut events));
    let got: Vec<(i64, i64)> = events
        .iter()
        .map(|event| match event {
            Event::Put { window, .. } => (window.start, window.end),
            other => panic!("a first record only puts, got {other:?}"),
        })
        .collect();
    assert_eq!(got, expected, "size {size} advance {advance} ts {timestamp}");
}

#[test]
fn time_windows_follow_kafka_windows_for() {
    // TimeWindows.windowsFor: start = (max(0, ts - size + advance) / advance) * advance, then one
    // window per advance while start <= ts.
    // (size, advance, ts, expected [start, end) windows)
    type Row = (i64, i64, i64, &'static [(i64, i64)]);
    let table: &[Row] = &[
        // Tumbling.
        (10, 10, 0, &[(0, 10)]),
        (10, 10, 9, &[(0, 10)]),
        (10, 10, 10, &[(10, 20)]),
        (10, 10, 25, &[(20, 30)]),
        (1, 1, 7, &[(7, 8)]),
        // Hopping: starts never go below 0, and a multiple of the advance opens a window.
        (10, 5, 12, &[(5, 15), (10, 20)]),
        (10, 5, 3, &[(0, 10)]),
        (10, 5, 0, &[(0, 10)]),
        (10, 5, 5, &[(0, 10), (5, 15)]),
        (10, 5, 10, &[(5, 15), (10, 20)]),
        (10, 5, 15, &[(10, 20), (15, 25)]),
        (10, 3, 2, &[(0, 10)]),
        (10, 3, 6, &[(0, 10), (3, 13), (6, 16)]),
        (10, 3, 10, &[(3, 13), (6, 16), (9, 19)]),
        (4, 1, 2, &[(0, 4), (1, 5), (2, 6)]),
        (4, 1, 5, &[(2, 6), (3, 7), (4, 8), (5, 9)]),
    ];
    for &(size, advance, timestamp, expected) in table {
        check_windows_for(size, advance, timestamp, expected);
    }
}

/// Key "z" at `newest` sets stream time, then key "a" at `timestamp`: is "a" accepted?
fn check_late(windows: Windows, newest: i64, timestamp: i64, accepted: bool) {
    let mut engine = Engine::new(windows);
    let mut events = Vec::new();
    assert!(engine.process("z", newest, 1.0, &mut events), "{windows:?}: the newest record is never late");
    assert_eq!(engine.process("a", timestamp, 1.0, &mut events), accepted, "{windows:?}: a@{timestamp} after {newest}");
    assert_eq!(engine.late_dropped(), u64::from(!accepted));
}

#[test]
fn lateness_bounds_per_window_type() {
    // Each pair: a record whose last window's close bound equals stream time - grace (dropped), and
    // one a millisecond inside it (accepted).
    let table = [
        // Time windows close at their exclusive end.
        (tumbling(10, 0), 20, 19, false),
        (tumbling(10, 0), 19, 10, true),
        (tumbling(10, 0), 20, 20, true),
        (tumbling(10, 5), 25, 19, false),
        (tumbling(10, 5), 24, 19, true),
        // Hopping: accepted while any of its windows is open.
        (hopping(10, 5, 0), 20, 12, false),
        (hopping(10, 5, 0), 19, 12, true),
        (hopping(10, 5, 0), 15, 12, true),
        // Sliding windows close at end + 1; a record is late when its own left window is closed.
        (sliding(10, 0), 20, 19, false),
        (sliding(10, 0), 20, 20, true),
        (sliding(10, 5), 25, 19, false),
        (sliding(10, 5), 25, 20, true),
        (sliding(0, 0), 7, 6, false),
        // Sessions close at end + gap (different keys, so nothing merges).
        (session(5, 0), 20, 15, false),
        (session(5, 0), 20, 16, true),
        (session(5, 3), 23, 15, false),
        (session(5, 3), 23, 16, true),
        (session(1, 0), 9, 9, true),
        // Negative timestamps are always dropped.
        (tumbling(10, 100), 5, -1, false),
        (sliding(10, 100), 5, -1, false),
        (session(5, 100), 5, -1, false),
    ];
    for (windows, newest, timestamp, accepted) in table {
        check_late(windows, newest, timestamp, accepted);
    }
}

#[test]
fn negative_timestamps_are_late_and_leave_stream_time_alone() {
    check(tumbling(10, 0), &[("a", -1), ("a", 3)], &["late", "put a 0,10 #1"]);
    let mut engine: Engine<&str> = Engine::new(session(5, 0));
    assert!(!engine.process("a", -7, 1.0, &mut Vec::new()));
    assert_eq!((engine.stream_time(), engine.late_dropped()), (None, 1));
}

#[test]
fn time_windows_close_when_stream_time_minus_grace_reaches_end() {
    check(
        tumbling(10, 3),
        &[("a", 5), ("b", 12), ("b", 13), ("a", 9)],
        &["put a 0,10 #1", "put b 10,20 #1", "close a 0,10 #1; put b 10,20 #2", "late"],
    );
    check(
        tumbling(10, 0),
        &[("a", 5), ("a", 9), ("a", 10)],
        &["put a 0,10 #1", "put a 0,10 #2", "close a 0,10 #2; put a 10,20 #1"],
    );
    // Closes come by close bound, then key, then window; a late window of a hop is skipped.
    check(
        hopping(10, 5, 0),
        &[("b", 3), ("a", 0), ("a", 7), ("z", 15), ("a", 12)],
        &[
            "put b 0,10 #1",
            "put a 0,10 #1",
            "put a 0,10 #2; put a 5,15 #1",
            "close a 0,10 #2; close b 0,10 #1; close a 5,15 #1; put z 10,20 #1; put z 15,25 #1",
            "put a 10,20 #1",
        ],
    );
}

#[test]
fn sliding_windows_follow_kip_450() {
    // KIP-450's example, d = 10: records at 5, 8 and 20. 8 falls in 5's right window [6, 16]; 20
    // makes no right window for 8, since [9, 19] would be empty.
    check(
        sliding(10, 100),
        &[("a", 5), ("a", 8), ("a", 20)],
        &["point a 5 #1; put a -5,5 #1", "point a 8 #1; put a -2,8 #2; put a 6,16 #1", "point a 20 #1; put a 10,20 #1"],
    );
    // Equal timestamps share a point and a left window.
    check(
        sliding(10, 100),
        &[("a", 5), ("a", 5), ("a", 8), ("a", 8)],
        &[
            "point a 5 #1; put a -5,5 #1",
            "point a 5 #2; put a -5,5 #2",
            "point a 8 #1; put a -2,8 #3; put a 6,16 #1",
            "point a 8 #2; put a -2,8 #4; put a 6,16 #2",
        ],
    );
    // In order, each record lands in the right windows of the earlier ones within d + 1.
    check(
        sliding(10, 100),
        &[("a", 0), ("a", 1), ("a", 2)],
        &[
            "point a 0 #1; put a -10,0 #1",
            "point a 1 #1; put a -9,1 #2; put a 1,11 #1",
            "point a 2 #1; put a -8,2 #3; put a 1,11 #2; put a 2,12 #1",
        ],
    );
    // Out of order, a record joins later left windows and creates its own right window.
    check(
        sliding(10, 100),
        &[("a", 20), ("a", 12), ("a", 3)],
        &[
            "point a 20 #1; put a 10,20 #1",
            "point a 12 #1; put a 2,12 #1; put a 10,20 #2; put a 13,23 #1",
            "point a 3 #1; put a -7,3 #1; put a 2,12 #2; put a 4,14 #1",
        ],
    );
    // Out of order inside the grace: accepted until its left window closes.
    check(
        sliding(10, 5),
        &[("a", 20), ("a", 16), ("a", 14)],
        &["point a 20 #1; put a 10,20 #1", "point a 16 #1; put a 6,16 #1; put a 10,20 #2; put a 17,27 #1", "late"],
    );
}

#[test]
fn sliding_points_are_evicted_at_the_safe_bound() {
    // Closing [-2, 0] at closeTime 10 also evicts point 0 (0 + 2 + 1 <= 10).
    check(
        sliding(2, 0),
        &[("a", 0), ("a", 10)],
        &["point a 0 #1; put a -2,0 #1", "close a -2,0 #1; unpoint a 0; point a 10 #1; put a 8,10 #1"],
    );
    // At closeTime 6 point 0 (0 + 5 + 1 <= 6) goes; 0's right window [1, 6] is 6's left window.
    check(
        sliding(5, 0),
        &[("a", 0), ("a", 6)],
        &["point a 0 #1; put a -5,0 #1", "close a -5,0 #1; unpoint a 0; point a 6 #1; put a 1,6 #1"],
    );
    // At closeTime 5 point 0 must stay: a record at 5 is accepted and its left window holds 0.
    check(
        sliding(5, 0),
        &[("a", 0), ("a", 5)],
        &["point a 0 #1; put a -5,0 #1", "close a -5,0 #1; point a 5 #1; put a 0,5 #2; put a 1,6 #1"],
    );
}

#[test]
fn sessions_merge_and_close() {
    // A bridging record merges two sessions: both deleted, then the merged one put.
    check(
        session(5, 100),
        &[("a", 0), ("a", 10), ("a", 5)],
        &["put a 0,0 #1", "put a 10,10 #1", "del a 0,0; del a 10,10; put a 0,10 #3"],
    );
    // Out of order: sessions grow both ways; a record inside a session only updates it.
    check(
        session(5, 100),
        &[("a", 10), ("a", 7), ("a", 12), ("a", 8), ("a", 1), ("a", 4)],
        &[
            "put a 10,10 #1",
            "del a 10,10; put a 7,10 #2",
            "del a 7,10; put a 7,12 #3",
            "put a 7,12 #4",
            "put a 1,1 #1",
            "del a 1,1; del a 7,12; put a 1,12 #6",
        ],
    );
    // Late records are counted; a closed session is not merged into; a record that would be late on
    // its own is accepted when it merges into an open session.
    check(
        session(5, 0),
        &[("a", 0), ("b", 5), ("a", 1), ("b", 20), ("a", 15), ("a", 16), ("a", 14)],
        &[
            "put a 0,0 #1",
            "close a 0,0 #1; put b 5,5 #1",
            "put a 1,1 #1",
            "close a 1,1 #1; close b 5,5 #1; put b 20,20 #1",
            "late",
            "put a 16,16 #1",
            "del a 16,16; put a 14,16 #2",
        ],
    );
}

#[test]
fn restored_stream_time_closes_on_the_next_record() {
    let mut engine = Engine::new(tumbling(10, 0));
    engine.restore_window("a", Window { start: 0, end: 10 }, Agg::of(1.0, 3));
    engine.restore_stream_time(12);
    assert_eq!((engine.open_windows(), engine.stream_time()), (1, Some(12)));
    let mut events = Vec::new();
    assert!(engine.process("b", 11, 1.0, &mut events));
    assert_eq!(events.iter().map(show).collect::<Vec<_>>(), ["close a 0,10 #1", "put b 10,20 #1"]);
}

#[test]
fn agg_merges_count_sum_min_max_and_latest_timestamp() {
    let mut agg = Agg::of(2.0, 7);
    agg.add(-1.0, 3);
    let mut other = Agg::of(5.0, 9);
    other.add(0.5, 1);
    agg.merge(&other);
    assert_eq!(agg, Agg { count: 4, sum: 6.5, min: -1.0, max: 5.0, timestamp: 9 });
    assert_eq!(agg.avg(), 1.625);
}

// ---- Random input -------------------------------------------------------------------------------

/// A record of the random tests: key, timestamp, value.
type Record = (u8, i64, f64);

/// xorshift64, seeded through a multiply so small seeds do not start with low-entropy output.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// Any window type (tumbling, hopping, sliding, session) with small sizes and grace, often 0.
fn random_windows(rng: &mut Rng) -> Windows {
    let grace = if rng.below(3) == 0 { 0 } else { rng.between(0, 12) };
    match rng.below(4) {
        0 => tumbling(rng.between(1, 20), grace),
        1 => {
            let size = rng.between(1, 20);
            hopping(size, rng.between(1, size), grace)
        }
        2 => sliding(rng.between(0, 15), grace),
        _ => session(rng.between(1, 12), grace),
    }
}

/// `count` records over a few keys: mostly moving forward, often out of order (some within grace,
/// some far behind), with jumps that close windows, repeats, and the odd negative timestamp.
fn random_records(rng: &mut Rng, count: i64) -> Vec<Record> {
    let keys = rng.between(1, 4) as u64;
    let mut newest = rng.between(0, 40);
    (0..count)
        .map(|_| {
            let timestamp = match rng.below(20) {
                0..=8 => newest + rng.between(0, 4),
                9..=13 => newest - rng.between(0, 15),
                14 | 15 => newest + rng.between(10, 40),
                16 | 17 => newest,
                18 => newest - rng.between(15, 60),
                _ => -rng.between(1, 5),
            };
            newest = newest.max(timestamp);
            (rng.below(keys) as u8, timestamp, rng.between(-3, 3) as f64)
        })
        .collect()
}

// ---- The naive reference ------------------------------------------------------------------------

/// The semantics, written as plainly as possible: accepted records in a `Vec`, windows recomputed
/// from them on every step (sessions, whose shape depends on what closed when, replay the merge
/// rule over a map of open sessions) and diffed against the previous step's open windows.
struct Reference {
    windows: Windows,
    stream_time: Option<i64>,
    late: u64,
    accepted: Vec<Record>,
    open: BTreeMap<(u8, Window), Agg>,
}

impl Reference {
    fn new(windows: Windows) -> Reference {
        Reference { windows, stream_time: None, late: 0, accepted: Vec::new(), open: BTreeMap::new() }
    }

    /// A window is closed once stream time - grace reaches this.
    fn close_bound(&self, window: Window) -> i64 {
        match self.windows {
            Windows::Time { .. } => window.end,
            Windows::Sliding { .. } => window.end + 1,
            Windows::Session { gap, .. } => window.end + gap,
        }
    }

    /// One record: whether it is accepted, and the events (in any order) it must cause.
    fn step(&mut self, record: Record) -> (bool, Vec<Event<u8>>) {
        let (key, timestamp, _) = record;
        let mut events = Vec::new();
        if timestamp < 0 {
            self.late += 1;
            return (false, events);
        }
        let stream_time = self.stream_time.map_or(timestamp, |t| t.max(timestamp));
        self.stream_time = Some(stream_time);
        let close_time = stream_time - self.windows.grace();
        let closed: Vec<((u8, Window), Agg)> =
            self.open.iter().filter(|((_, w), _)| self.close_bound(*w) <= close_time).map(|(k, a)| (*k, *a)).collect();
        for ((key, window), agg) in closed {
            self.open.remove(&(key, window));
            events.push(Event::Close { key, window, agg });
        }
        let accepted = match self.windows {
            Windows::Time { size, advance, .. } => {
                time_windows(size, advance, timestamp).iter().any(|w| self.close_bound(*w) > close_time)
            }
            Windows::Sliding { .. } => timestamp + 1 > close_time,
            Windows::Session { gap, .. } => self.session(record, gap, close_time, &mut events),
        };
        if !accepted {
            self.late += 1;
        } else if !matches!(self.windows, Windows::Session { .. }) {
            self.accepted.push(record);
            self.rebuild(key, close_time, &mut events);
        }
        (accepted, events)
    }

    /// Recomputes every open time or sliding window of `key` from the accepted records and puts
    /// those that are new or changed.
    fn rebuild(&mut self, key: u8, close_time: i64, events: &mut Vec<Event<u8>>) {
        let records: Vec<Record> = self.accepted.iter().copied().filter(|r| r.0 == key).collect();
        let mut windows = BTreeSet::new();
        match self.windows {
            Windows::Time { size, advance, .. } => {
                for r in &records {
                    windows.extend(time_windows(size, advance, r.1));
                }
            }
            Windows::Sliding { difference: d, .. } => {
                for r in &records {
                    windows.insert(Window { start: r.1 - d, end: r.1 });
                    if records.iter().any(|u| r.1 < u.1 && u.1 <= r.1 + 1 + d) {
                        windows.insert(Window { start: r.1 + 1, end: r.1 + 1 + d });
                    }
                }
            }
            Windows::Session { .. } => unreachable!("sessions are not rebuilt"),
        }
        let inclusive_end = matches!(self.windows, Windows::Sliding { .. });
        let mut now = BTreeMap::new();
        for window in windows.into_iter().filter(|w| self.close_bound(*w) > close_time) {
            let inside = |t: i64| window.start <= t && (t < window.end || inclusive_end && t == window.end);
            let mut agg: Option<Agg> = None;
            for r in records.iter().filter(|r| inside(r.1)) {
                match agg.as_mut() {
                    Some(agg) => agg.add(r.2, r.1),
                    None => agg = Some(Agg::of(r.2, r.1)),
                }
            }
            if let Some(agg) = agg {
                now.insert(window, agg);
            }
        }
        for ((k, window), _) in self.open.iter().filter(|((k, _), _)| *k == key) {
            assert!(now.contains_key(window), "reference: open window {k} {window:?} vanished without closing");
        }
        for (window, agg) in now {
            if self.open.insert((key, window), agg) != Some(agg) {
                events.push(Event::Put { key, window, agg });
            }
        }
    }

    /// Sessions: merge with every open session of the key within the gap, unless the result is closed.
    fn session(&mut self, record: Record, gap: i64, close_time: i64, events: &mut Vec<Event<u8>>) -> bool {
        let (key, timestamp, value) = record;
        let found: Vec<(Window, Agg)> = self
            .open
            .iter()
            .filter(|((k, w), _)| *k == key && w.end >= timestamp - gap && w.start <= timestamp + gap)
            .map(|((_, w), a)| (*w, *a))
            .collect();
        let mut merged = Window { start: timestamp, end: timestamp };
        let mut agg = Agg::of(value, timestamp);
        for (window, session_agg) in &found {
            merged = Window { start: merged.start.min(window.start), end: merged.end.max(window.end) };
            agg.merge(session_agg);
        }
        if merged.end + gap <= close_time {
            return false;
        }
        for (window, _) in found {
            self.open.remove(&(key, window));
            if window != merged {
                events.push(Event::Delete { key, window });
            }
        }
        self.open.insert((key, merged), agg);
        events.push(Event::Put { key, window: merged, agg });
        self.accepted.push(record);
        true
    }
}

/// Every window [n * advance, n * advance + size), n >= 0, holding `timestamp`: the definition, not
/// Kafka's loop.
fn time_windows(size: i64, advance: i64, timestamp: i64) -> Vec<Window> {
    let first = ((timestamp - size) / advance).max(0);
    (first..=timestamp / advance)
        .map(|n| Window { start: n * advance, end: n * advance + size })
        .filter(|w| w.start <= timestamp && timestamp < w.end)
        .collect()
}

// ---- Comparing engine and reference -------------------------------------------------------------

/// What the caller sends downstream: updates (Put as upserts, Delete as tombstones) or final
/// results (Close).
#[derive(Debug, Clone, Copy)]
enum Emit {
    Updates,
    Final,
}

/// One record's downstream output in `emit` mode, sorted so that emit order within a record does not matter.
fn downstream(events: &[Event<u8>], emit: Emit) -> Vec<Event<u8>> {
    let mut out: Vec<Event<u8>> = events
        .iter()
        .filter(|e| match emit {
            Emit::Updates => matches!(e, Event::Put { .. } | Event::Delete { .. }),
            Emit::Final => matches!(e, Event::Close { .. }),
        })
        .cloned()
        .collect();
    out.sort_by_key(|e| match e {
        Event::Put { key, window, .. } => (0, *key, *window),
        Event::Delete { key, window } => (1, *key, *window),
        Event::Close { key, window, .. } => (2, *key, *window),
        Event::PointPut { key, timestamp, .. } | Event::PointDelete { key, timestamp } => {
            (3, *key, Window { start: *timestamp, end: *timestamp })
        }
    });
    out
}

/// Windows by (key, window), with their aggregates.
type OpenWindows = BTreeMap<(u8, Window), Agg>;

/// The final value of every window in an event stream (its last Put, reported when it is closed or
/// deleted), by window then time; plus the windows still open at the end. Checks along the way that
/// a Close carries the window's last update.
fn finals(events: &[Event<u8>]) -> (Vec<(u8, Window, Agg)>, OpenWindows) {
    let mut last = BTreeMap::new();
    let mut ended = Vec::new();
    for event in events {
        match *event {
            Event::Put { key, window, agg } => {
                last.insert((key, window), agg);
            }
            Event::Delete { key, window } => {
                let agg = last.remove(&(key, window)).expect("a deleted window was put before");
                ended.push((key, window, agg));
            }
            Event::Close { key, window, agg } => {
                let put = last.remove(&(key, window)).expect("a closed window was put before");
                assert_eq!(put, agg, "window {key} {window:?} closes with its last update");
                ended.push((key, window, agg));
            }
            Event::PointPut { .. } | Event::PointDelete { .. } => {}
        }
    }
    ended.sort_by_key(|(key, window, _)| (*key, *window));
    (ended, last)
}

/// Rebuilds an engine from a changelog by applying each state event in order as a write or delete.
fn replay(windows: Windows, events: &[Event<u8>], stream_time: Option<i64>) -> Engine<u8> {
    let mut engine = Engine::new(windows);
    for event in events {
        match *event {
            Event::Put { key, window, agg } => engine.restore_window(key, window, agg),
            Event::Delete { key, window } | Event::Close { key, window, .. } => {
                engine.restore_window_delete(&key, window)
            }
            Event::PointPut { key, timestamp, agg } => engine.restore_point(key, timestamp, agg),
            Event::PointDelete { key, timestamp } => engine.restore_point_delete(&key, timestamp),
        }
    }
    if let Some(stream_time) = stream_time {
        engine.restore_stream_time(stream_time);
    }
    engine
}

/// Rebuilds an engine from a compacted changelog: the last write per state key, deletes dropped.
fn restore_compacted(windows: Windows, events: &[Event<u8>], stream_time: Option<i64>) -> Engine<u8> {
    let mut window_log = BTreeMap::new();
    let mut point_log = BTreeMap::new();
    for event in events {
        match *event {
            Event::Put { key, window, agg } => window_log.insert((key, window), Some(agg)),
            Event::Delete { key, window } | Event::Close { key, window, .. } => window_log.insert((key, window), None),
            Event::PointPut { key, timestamp, agg } => point_log.insert((key, timestamp), Some(agg)),
            Event::PointDelete { key, timestamp } => point_log.insert((key, timestamp), None),
        };
    }
    let mut engine = Engine::new(windows);
    for ((key, window), agg) in window_log {
        if let Some(agg) = agg {
            engine.restore_window(key, window, agg);
        }
    }
    for ((key, timestamp), agg) in point_log {
        if let Some(agg) = agg {
            engine.restore_point(key, timestamp, agg);
        }
    }
    if let Some(stream_time) = stream_time {
        engine.restore_stream_time(stream_time);
    }
    engine
}

/// How often the interesting paths ran, so the property test can fail when it stops exercising them.
#[derive(Debug, Default)]
struct Coverage {
    late: u64,
    closes: u64,
    deletes: u64,
    point_deletes: u64,
    out_of_order_accepted: u64,
}

/// Runs one random case through the engine and the reference and compares everything observable;
/// at record `split` an engine replayed from the changelog so far joins in and must match exactly.
fn run_case(windows: Windows, records: &[Record], split: usize, case: &str, coverage: &mut Coverage) {
    let mut engine = Engine::new(windows);
    let mut reference = Reference::new(windows);
    let mut engine_log = Vec::new();
    let mut reference_log = Vec::new();
    let mut restored: Option<Engine<u8>> = None;
    for (i, &record) in records.iter().enumerate() {
        let (key, timestamp, value) = record;
        if i == split {
            let replayed = replay(windows, &engine_log, engine.stream_time());
            assert_eq!(replayed.snapshot(), engine.snapshot(), "{case}: replayed state at record {i}");
            assert_eq!(replayed.points_held(), engine.points_held(), "{case}: replayed points at record {i}");
            restored = Some(replayed);
        }
        let newest = timestamp >= 0 && engine.stream_time().is_none_or(|t| timestamp >= t);
        let mut events = Vec::new();
        let accepted = engine.process(key, timestamp, value, &mut events);
        let (want_accepted, want_events) = reference.step(record);
        let at = format!("{case}: record {i} {record:?}");
        assert_eq!(accepted, want_accepted, "{at}: accepted");
        assert!(accepted || !newest, "{at}: the newest record is never late");
        coverage.out_of_order_accepted += u64::from(accepted && !newest);

        let bounds: Vec<(i64, u8, Window)> = events
            .iter()
            .filter_map(|e| match *e {
                Event::Close { key, window, .. } => Some((windows.close_bound(window), key, window)),
                _ => None,
            })
            .collect();
        assert!(bounds.windows(2).all(|pair| pair[0] < pair[1]), "{at}: closes by bound, key, window");
        for emit in [Emit::Updates, Emit::Final] {
            assert_eq!(downstream(&events, emit), downstream(&want_events, emit), "{at}: {emit:?} output");
        }
        if let Some(restored) = restored.as_mut() {
            let mut again = Vec::new();
            assert_eq!(restored.process(key, timestamp, value, &mut again), accepted, "{at}: restored accepted");
            assert_eq!(again, events, "{at}: restored engine events");
        }
        engine_log.extend(events);
        reference_log.extend(want_events);
    }
    assert_eq!(engine.late_dropped(), reference.late, "{case}: late count");

    let (engine_ended, engine_open) = finals(&engine_log);
    let (reference_ended, reference_open) = finals(&reference_log);
    assert_eq!(engine_ended, reference_ended, "{case}: final values of closed and deleted windows");
    assert_eq!(engine_open, reference_open, "{case}: windows still open");
    let open: Vec<(u8, Window, Agg)> = reference.open.iter().map(|(&(k, w), &a)| (k, w, a)).collect();
    assert_eq!(engine.snapshot(), open, "{case}: snapshot");
    assert_eq!(engine.open_windows(), open.len(), "{case}: open window count");
    if split == records.len() {
        let replayed = replay(windows, &engine_log, engine.stream_time());
        assert_eq!(replayed.snapshot(), engine.snapshot(), "{case}: replayed state at the end");
    }

    // Sliding points: each live point is its records' merge and is kept no longer than its bound.
    let mut points = BTreeMap::new();
    for event in &engine_log {
        match *event {
            Event::PointPut { key, timestamp, agg } => {
                points.insert((key, timestamp), agg);
            }
            Event::PointDelete { key, timestamp } => {
                assert!(points.remove(&(key, timestamp)).is_some(), "{case}: deleted point {key}@{timestamp} was put");
                coverage.point_deletes += 1;
            }
            _ => {}
        }
    }
    assert_eq!(engine.points_held(), points.len(), "{case}: points held");
    if let (Windows::Sliding { difference, grace }, Some(stream_time)) = (windows, engine.stream_time()) {
        for (&(key, timestamp), agg) in &points {
            assert!(
                timestamp + difference + 1 > stream_time - grace,
                "{case}: point {key}@{timestamp} outlived its bound"
            );
            let mut merged: Option<Agg> = None;
            for r in reference.accepted.iter().filter(|r| r.0 == key && r.1 == timestamp) {
                match merged.as_mut() {
                    Some(m) => m.add(r.2, r.1),
                    None => merged = Some(Agg::of(r.2, r.1)),
                }
            }
            assert_eq!(merged.as_ref(), Some(agg), "{case}: point {key}@{timestamp}");
        }
    } else {
        assert!(points.is_empty(), "{case}: only sliding windows keep points");
    }

    coverage.late += reference.late;
    coverage.closes += engine_log.iter().filter(|e| matches!(e, Event::Close { .. })).count() as u64;
    coverage.deletes += engine_log.iter().filter(|e| matches!(e, Event::Delete { .. })).count() as u64;
}

#[test]
fn engine_agrees_with_naive_reference() {
    let mut coverage = Coverage::default();
    for seed in [1, 2, 3, 0x5eed, 0xdead_beef] {
        let mut rng = Rng::new(seed);
        for case in 0..2000 {
            let windows = random_windows(&mut rng);
            let count = rng.between(1, 60);
            let records = random_records(&mut rng, count);
            let split = rng.below(records.len() as u64 + 1) as usize;
            run_case(windows, &records, split, &format!("seed {seed} case {case} {windows:?}"), &mut coverage);
        }
    }
    // Every path must have run often, or the comparison proves little.
    let Coverage { late, closes, deletes, point_deletes, out_of_order_accepted } = coverage;
    for (what, count) in [
        ("late drops", late),
        ("closes", closes),
        ("session deletes", deletes),
        ("point deletes", point_deletes),
        ("accepted out-of-order records", out_of_order_accepted),
    ] {
        assert!(count >= 1000, "only {count} {what} in the property test");
    }
}

#[test]
fn restore_from_compacted_changelog_continues_identically() {
    for (seed, windows) in [(11, tumbling(10, 2)), (12, hopping(12, 4, 3)), (13, sliding(8, 4)), (14, session(6, 3))] {
        let mut rng = Rng::new(seed);
        let records = random_records(&mut rng, 80);
        let (first, rest) = records.split_at(40);
        let mut engine = Engine::new(windows);
        let mut log = Vec::new();
        for &(key, timestamp, value) in first {
            engine.process(key, timestamp, value, &mut log);
        }
        let mut restored = restore_compacted(windows, &log, engine.stream_time());
        assert_eq!(restored.snapshot(), engine.snapshot(), "{windows:?}: restored state");
        assert_eq!(restored.points_held(), engine.points_held(), "{windows:?}: restored points");
        for &(key, timestamp, value) in rest {
            let (mut want, mut got) = (Vec::new(), Vec::new());
            let accepted = engine.process(key, timestamp, value, &mut want);
            assert_eq!(restored.process(key, timestamp, value, &mut got), accepted, "{windows:?}: {key}@{timestamp}");
            assert_eq!(got, want, "{windows:?}: {key}@{timestamp}");
        }
        assert_eq!(restored.snapshot(), engine.snapshot(), "{windows:?}: final state");
    }
}
