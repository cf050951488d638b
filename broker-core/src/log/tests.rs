//! Log tests: a model test against a `Vec` of batches, crash recovery at every byte of the tail,
//! roll, retention and truncation.

use super::batch::split_batches;
use super::batch::tests::encode_batch;
use super::*;
use kafka_protocol::records::Compression;

fn config() -> LogConfig {
    LogConfig { segment_bytes: 1024, ..LogConfig::default() }
}

fn append(log: &mut Log, values: &[&[u8]], ts: i64) -> AppendInfo {
    let mut bytes = encode_batch(values, ts, Compression::None);
    let headers = split_batches(&bytes).expect("valid");
    log.append_as_leader(&mut bytes, &headers, 0).expect("append")
}

/// Every batch in `bytes`, as (base offset, record count).
fn batches(bytes: &[u8]) -> Vec<(i64, i32)> {
    split_batches(bytes).expect("whole batches").iter().map(|(_, h)| (h.base_offset, h.records_count)).collect()
}

fn read_all(log: &Log) -> Vec<(i64, i32)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let bytes = log.read(offset, 100, log.log_end_offset()).expect("read");
        let got = batches(&bytes);
        assert!(!got.is_empty(), "read at {offset} returned nothing");
        offset = split_batches(&bytes).expect("valid").last().map_or(offset, |(_, h)| h.next_offset());
        out.extend(got);
    }
    out
}

#[test]
fn model_appends_reads_and_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut model: Vec<(i64, i32)> = Vec::new();
    let (mut log, _) = Log::open(dir.path(), config(), OpenState::default()).expect("open");
    for i in 0..200i64 {
        let n = (i % 5 + 1) as usize;
        let values: Vec<Vec<u8>> = (0..n).map(|j| vec![b'a' + (j as u8); (i as usize * 7) % 90]).collect();
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let info = append(&mut log, &refs, 1_000 + i);
        assert_eq!(info.first_offset, model.iter().map(|(_, c)| i64::from(*c)).sum::<i64>());
        model.push((info.first_offset, n as i32));
    }
    assert!(log.segment_count() > 5, "small segment_bytes must roll");
    assert_eq!(read_all(&log), model);
    // Reads from the middle of a batch start at the batch containing the offset.
    let (base, count) = model[100];
    let inside = log.read(base + i64::from(count) - 1, 1, log.log_end_offset()).expect("read");
    assert_eq!(batches(&inside)[0].0, base);
    // Clean reopen trusts the indexes; unclean reopen rebuilds them; both give the same log.
    log.flush().expect("flush");
    let rp = log.recovery_point();
    drop(log);
    for clean in [true, false] {
        let state = OpenState { clean, recovery_point: if clean { rp } else { 0 }, log_start_offset: 0 };
        let (log, report) = Log::open(dir.path(), config(), state).expect("reopen");
        assert!(report.truncated.is_empty());
        assert_eq!(read_all(&log), model, "clean={clean}");
    }
}

/// Index entries reach their files when the log is flushed, so a clean reopen finds the sparse
/// indexes a rebuild from the log would make; and a log keeps one descriptor open, its active
/// segment's `.log`, however many segments it has (tiny `segment.bytes` cannot exhaust them).
#[test]
fn indexes_are_written_at_flush_and_keep_no_file_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().canonicalize().expect("canonical");
    let config = LogConfig { segment_bytes: 64 * 1024, ..LogConfig::default() };
    let indexes = |log: &Log| -> Vec<_> {
        log.segments.iter().map(|s| (s.index().offsets().to_vec(), s.index().times().to_vec())).collect()
    };
    let open_files = || {
        std::fs::read_dir("/proc/self/fd")
            .expect("proc")
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|p| p.starts_with(&root))
            .count()
    };
    let (mut log, _) = Log::open(dir.path(), config.clone(), OpenState::default()).expect("open");
    for i in 0..600 {
        append(&mut log, &[&[b'x'; 200]], 1_000 + i);
    }
    assert!(log.segment_count() >= 2, "600 batches of 200 bytes roll a 64 KiB segment");
    assert_eq!(open_files(), 1);
    let before = indexes(&log);
    let (offsets, times) = &before[0];
    assert!(offsets.len() > 10 && times.len() == offsets.len(), "both indexes sparse, as Kafka's");
    log.flush().expect("flush");
    let rp = log.recovery_point();
    drop(log);
    for clean in [true, false] {
        let state = OpenState { clean, recovery_point: if clean { rp } else { 0 }, log_start_offset: 0 };
        let (log, report) = Log::open(dir.path(), config.clone(), state).expect("reopen");
        assert!(report.truncated.is_empty());
        assert_eq!(indexes(&log), before, "clean={clean}");
        assert_eq!(open_files(), 1);
        // Reading a closed segment opens it only for the read.
        assert!(!log.read(0, 1 << 10, log.log_end_offset()).expect("read").is_empty());
        assert_eq!(open_files(), 1);
    }
}

#[test]
fn high_watermark_bounds_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Log::open(dir.path(), config(), OpenState::default()).expect("open");
    append(&mut log, &[b"a", b"b"], 1);
    append(&mut log, &[b"c"], 2);
    assert_eq!(batches(&log.read(0, 1 << 20, 2).expect("read")), vec![(0, 2)]);
    assert!(log.read(2, 1 << 20, 2).expect("read").is_empty());
    assert!(matches!(log.read(4, 100, 3), Err(LogError::OffsetOutOfRange { .. })));
}

#[test]
fn recovery_keeps_exactly_the_whole_valid_batches_at_every_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = LogConfig { segment_bytes: 1 << 20, ..LogConfig::default() };
    let (mut log, _) = Log::open(dir.path(), big.clone(), OpenState::default()).expect("open");
    let mut ends = vec![0u64];
    for i in 0..6 {
        append(&mut log, &[b"value-1", b"value-22", b"value-333"], i);
        ends.push(log.size_bytes());
    }
    drop(log);
    let log_path = dir.path().join("00000000000000000000.log");
    let full = std::fs::read(&log_path).expect("read log");
    for cut in 0..=full.len() {
        // A torn tail, then the same length of garbage (inode size updated before the data).
        for garbage in [false, true] {
            let mut bytes = full[..cut].to_vec();
            if garbage {
                bytes.extend(std::iter::repeat_n(0xA5u8, full.len() - cut));
            }
            std::fs::write(&log_path, &bytes).expect("write");
            let (log, report) = Log::open(dir.path(), big.clone(), OpenState::default()).expect("open");
            let whole = ends.iter().filter(|e| **e <= cut as u64).count() - 1;
            assert_eq!(log.log_end_offset(), whole as i64 * 3, "cut at {cut}, garbage={garbage}");
            assert_eq!(log.size_bytes(), ends[whole], "cut at {cut}");
            let expect_truncation = bytes.len() as u64 > ends[whole];
            assert_eq!(!report.truncated.is_empty(), expect_truncation, "cut at {cut}");
        }
    }
}

#[test]
fn a_corrupt_batch_in_the_middle_cuts_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Log::open(dir.path(), LogConfig::default(), OpenState::default()).expect("open");
    for i in 0..3 {
        append(&mut log, &[b"abc"], i);
    }
    let first_len = log.size_bytes() / 3;
    drop(log);
    let path = dir.path().join("00000000000000000000.log");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[first_len as usize + 70] ^= 0x01; // inside the second batch's records
    std::fs::write(&path, &bytes).expect("write");
    let (log, report) = Log::open(dir.path(), LogConfig::default(), OpenState::default()).expect("open");
    assert_eq!(log.log_end_offset(), 1);
    assert!(report.truncated[0].1.reason.as_deref().is_some_and(|r| r.contains("CRC")));
}

#[test]
fn retention_by_bytes_and_time_moves_the_log_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = LogConfig { segment_bytes: 200, retention: None, retention_bytes: Some(600), ..LogConfig::default() };
    let (mut log, _) = Log::open(dir.path(), cfg, OpenState::default()).expect("open");
    for i in 0..20 {
        append(&mut log, &[&[b'x'; 100]], i);
    }
    let hw = log.log_end_offset();
    let deleted = log.apply_retention(0, hw).expect("retention");
    assert!(deleted > 0);
    assert!(log.size_bytes() <= 600 + 200);
    assert!(log.log_start_offset() > 0);
    assert!(matches!(log.read(0, 10, hw), Err(LogError::OffsetOutOfRange { .. })));
    assert_eq!(read_all(&log).last().map(|b| b.0), Some(19));

    let mut cfg = log.config().clone();
    cfg.retention_bytes = None;
    cfg.retention = Some(Duration::from_millis(10));
    log.set_config(cfg);
    // Nothing is deleted above the high watermark.
    assert_eq!(log.apply_retention(1_000_000, 0).expect("retention"), 0);
    log.apply_retention(1_000_000, hw).expect("retention");
    assert_eq!(log.log_start_offset(), 20);
    assert_eq!(log.log_end_offset(), 20);
    assert_eq!(log.segment_count(), 1);
}

#[test]
fn truncation_drops_the_tail_and_its_epochs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Log::open(dir.path(), config(), OpenState::default()).expect("open");
    for i in 0..30 {
        let mut bytes = encode_batch(&[&[b'y'; 50]], i, Compression::None);
        let headers = split_batches(&bytes).expect("valid");
        log.append_as_leader(&mut bytes, &headers, (i / 10) as i32).expect("append");
    }
    assert_eq!(log.epochs().latest_epoch(), 2);
    log.truncate_to(15).expect("truncate");
    assert_eq!(log.log_end_offset(), 15);
    assert_eq!(log.epochs().latest_epoch(), 1);
    assert_eq!(read_all(&log).len(), 15);
    // Replicated appends must continue exactly at the end.
    let leader_dir = tempfile::tempdir().expect("tempdir");
    let (mut leader, _) = Log::open(leader_dir.path(), config(), OpenState::default()).expect("open");
    for i in 0..16 {
        append(&mut leader, &[b"z"], i);
    }
    let tail = leader.read(15, 1 << 20, 16).expect("read");
    log.append_replicated(&tail).expect("contiguous");
    assert_eq!(log.log_end_offset(), 16);
    assert!(matches!(log.append_replicated(&tail), Err(LogError::NonContiguous { .. })));
}

#[test]
fn finds_batches_by_timestamp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Log::open(dir.path(), config(), OpenState::default()).expect("open");
    for i in 0..50 {
        append(&mut log, &[&[b'q'; 40]], 1_000 + i * 10);
    }
    let (_, h) = log.find_batch_by_time(1_205).expect("lookup").expect("found");
    assert_eq!(h.base_offset, 21);
    let (_, h) = log.find_batch_by_time(0).expect("lookup").expect("found");
    assert_eq!(h.base_offset, 0);
    assert!(log.find_batch_by_time(10_000).expect("lookup").is_none());
}

/// Files changed while warren was down (a log cut short behind indexes that point past its end,
/// then a torn tail): a clean open notices, re-validates and keeps exactly the whole batches.
#[test]
fn a_clean_open_rebuilds_indexes_that_do_not_match_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig { segment_bytes: 1 << 20, ..LogConfig::default() };
    let (mut log, _) = Log::open(dir.path(), config.clone(), OpenState::default()).expect("open");
    for i in 0..100 {
        append(&mut log, &[&[b'c'; 100]], 1_000 + i);
    }
    log.flush().expect("flush");
    let rp = log.recovery_point();
    drop(log);
    let segment = dir.path().join("00000000000000000000.log");
    let file = std::fs::OpenOptions::new().write(true).open(&segment).expect("open");
    file.set_len(1_000).expect("cut");
    let state = OpenState { clean: true, recovery_point: rp, log_start_offset: 0 };
    let (log, _) = Log::open(dir.path(), config.clone(), state).expect("reopen");
    let kept = read_all(&log);
    assert!(!kept.is_empty() && kept.len() < 100, "whole batches before the cut: {}", kept.len());
    assert_eq!(log.log_end_offset(), kept.len() as i64);
    assert_eq!(std::fs::metadata(&segment).expect("meta").len(), log.segments[0].size());
    // A torn tail after the last indexed batch: cut, not walked into.
    let end = log.segments[0].size();
    drop(log);
    let mut file = std::fs::OpenOptions::new().append(true).open(&segment).expect("open");
    std::io::Write::write_all(&mut file, &[0xAB; 40]).expect("garbage");
    let state = OpenState { clean: true, recovery_point: kept.len() as i64, log_start_offset: 0 };
    let (log, _) = Log::open(dir.path(), config, state).expect("reopen");
    assert_eq!(read_all(&log), kept);
    assert_eq!(std::fs::metadata(&segment).expect("meta").len(), end);
}

/// With a sparse time index (one entry per 4 KiB, as Kafka's), every timestamp is still found,
/// and the greatest timestamp stays exact after a truncation between two entries and a reopen.
#[test]
fn sparse_time_index_finds_every_timestamp_and_keeps_the_maximum_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig { segment_bytes: 1 << 20, ..LogConfig::default() };
    let (mut log, _) = Log::open(dir.path(), config.clone(), OpenState::default()).expect("open");
    // Timestamps rise by 10 but every seventh batch carries an older one, as clients' clocks do.
    let ts = |i: i64| if i % 7 == 6 { 1_000 + (i - 5) * 10 } else { 1_000 + i * 10 };
    for i in 0..400 {
        append(&mut log, &[&[b't'; 100]], ts(i));
    }
    assert_eq!(log.segment_count(), 1);
    for i in 0..400 {
        let (_, h) = log.find_batch_by_time(ts(i)).expect("lookup").expect("found");
        let first = (0..400).find(|j| ts(*j) >= ts(i)).expect("some");
        assert_eq!(h.base_offset, first, "first batch at or after {}", ts(i));
    }
    assert_eq!(log.max_timestamp(), ts(399));
    log.truncate_to(250).expect("truncate");
    let max = (0..250).map(ts).max().expect("some");
    assert_eq!(log.max_timestamp(), max);
    log.flush().expect("flush");
    let rp = log.recovery_point();
    drop(log);
    let state = OpenState { clean: true, recovery_point: rp, log_start_offset: 0 };
    let (log, _) = Log::open(dir.path(), config, state).expect("reopen");
    assert_eq!(log.max_timestamp(), max);
    assert_eq!(log.log_end_offset(), 250);
}

/// Keyed records: `(key, value)`, `None` values are tombstones.
fn append_keyed(log: &mut Log, records: &[(&str, Option<&str>)], ts: i64) -> AppendInfo {
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: ts,
            key: Some(Bytes::from(k.to_string())),
            value: v.map(|v| Bytes::from(v.to_string())),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::Lz4 })
        .expect("encode");
    let mut bytes = buf.to_vec();
    let headers = split_batches(&bytes).expect("valid");
    assert_eq!(headers.len(), 1, "one batch");
    log.append_as_leader(&mut bytes, &headers, 0).expect("append")
}

/// Every record as (offset, key, value).
fn records(log: &Log) -> Vec<(i64, String, Option<String>)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    loop {
        let bytes = log.read(offset, 1 << 20, log.log_end_offset()).expect("read");
        if bytes.is_empty() {
            return out;
        }
        for batch in super::records::decode_batches(bytes, 1 << 20).expect("decode") {
            for r in batch.records {
                offset = r.offset + 1;
                let text = |b: &bytes::Bytes| String::from_utf8(b.to_vec()).expect("utf8");
                out.push((r.offset, r.key.as_ref().map(text).expect("key"), r.value.as_ref().map(text)));
            }
        }
    }
}

#[test]
fn compaction_keeps_the_latest_record_per_key_and_drops_old_tombstones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig { segment_bytes: 1024, retention: None, ..LogConfig::default() };
    let (mut log, _) = Log::open(dir.path(), config.clone(), OpenState::default()).expect("open");
    let day = 24 * 3600 * 1000;
    let now = 10 * day;
    // Old history: keys a..e rewritten many times; "b" deleted long ago, "c" deleted recently.
    for round in 0..40 {
        let v = format!("v{round}");
        append_keyed(&mut log, &[("a", Some(&v)), ("b", Some(&v)), ("c", Some(&v)), ("d", Some(&v))], now - 5 * day);
    }
    append_keyed(&mut log, &[("b", None)], now - 3 * day);
    append_keyed(&mut log, &[("c", None)], now - 1000);
    append_keyed(&mut log, &[("e", Some("only"))], now - 5 * day);
    // Force the active segment past everything above, then a fresh "a" in the active segment.
    log.roll().expect("roll");
    append_keyed(&mut log, &[("a", Some("newest"))], now);
    let end = log.log_end_offset();
    let before = records(&log);
    assert_eq!(before.len(), 164);

    let done = log.compact(now, day, end, &|_, _| TxnFate::Committed).expect("compact");
    assert!(done.segments_rewritten > 0 && done.bytes_after < done.bytes_before, "{done:?}");
    let after = records(&log);
    let expect = |key: &str| before.iter().rev().find(|(_, k, _)| k == key).cloned().expect("key");
    let mut want = vec![expect("a"), expect("c"), expect("d"), expect("e")];
    want.sort();
    assert_eq!(after, want, "the latest record of each key, a young tombstone for c, none for b");
    assert_eq!(after.iter().find(|(_, k, _)| k == "c").map(|r| r.2.clone()), Some(None));
    assert_eq!(done.records_removed, 164 - 4);
    assert_eq!(log.log_end_offset(), end, "compaction never moves the end");
    // Reads inside a gap start at the next kept batch; a reopen (clean or not) sees the same.
    let first_kept = after[0].0;
    let got = log.read(first_kept - 1, 1 << 20, end).expect("read in gap");
    assert!(!got.is_empty());
    log.flush().expect("flush");
    let recovery_point = log.recovery_point();
    drop(log);
    for clean in [true, false] {
        let state = OpenState { clean, recovery_point: if clean { recovery_point } else { 0 }, log_start_offset: 0 };
        let (log, report) = Log::open(dir.path(), config.clone(), state).expect("reopen");
        assert!(report.truncated.is_empty(), "clean={clean}: {report:?}");
        assert_eq!(records(&log), after, "clean={clean}");
    }
    // A second pass has nothing to do.
    let (mut log, _) = Log::open(dir.path(), config.clone(), OpenState::default()).expect("reopen");
    assert_eq!(log.compact(now, day, end, &|_, _| TxnFate::Committed).expect("again").segments_rewritten, 0);

    // A follower copying the compacted log accepts the gaps.
    let follower_dir = tempfile::tempdir().expect("tempdir");
    let (mut follower, _) = Log::open(follower_dir.path(), config, OpenState::default()).expect("open follower");
    let mut offset = 0;
    loop {
        let bytes = log.read(offset, 1 << 20, end).expect("read");
        let Some((_, last)) = split_batches(&bytes).expect("batches").last().copied() else {
            break;
        };
        follower.append_replicated(&bytes).expect("gaps are fine");
        offset = last.next_offset();
    }
    assert_eq!(records(&follower), after);
}

/// An append of several batches is all or nothing: when a later batch cannot be written (here
/// its segment cannot be created), the earlier ones are cut off again, so a client told that
/// the request failed retries without duplicating them.
#[test]
fn a_failed_multi_batch_append_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logdir = dir.path().join("t-0");
    let (mut log, _) = Log::open(&logdir, config(), OpenState::default()).expect("open");
    append(&mut log, &[b"before"], 1);
    // Two batches: the first fits the 1 KiB segment, the second needs a new one.
    let mut bytes = encode_batch(&[&[b'a'; 300]], 2, Compression::None);
    bytes.extend_from_slice(&encode_batch(&[&[b'b'; 900]], 3, Compression::None));
    let headers = split_batches(&bytes).expect("valid");
    // The directory goes: the open active segment can still be written, a new one cannot.
    let moved = dir.path().join("elsewhere");
    std::fs::rename(&logdir, &moved).expect("move the directory away");
    assert!(log.append_as_leader(&mut bytes, &headers, 0).is_err(), "the roll fails");
    assert_eq!(log.log_end_offset(), 1, "the first batch of the failed request was undone");
    std::fs::rename(&moved, &logdir).expect("move it back");
    append(&mut log, &[b"after"], 4);
    assert_eq!(read_all(&log), vec![(0, 1), (1, 1)]);
}

/// DeleteRecords: the log start moves to any offset, reads below it are out of range, segments
/// wholly below it go, it never moves backwards or past the end, and a reopen at the
/// checkpointed start keeps it.
#[test]
fn advancing_the_log_start_deletes_below_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = Log::open(dir.path(), config(), OpenState::default()).expect("open");
    for i in 0..60 {
        append(&mut log, &[&[b'd'; 60]], 1_000 + i);
    }
    let segments = log.segment_count();
    assert!(segments > 3);
    log.advance_log_start(37).expect("advance");
    assert_eq!(log.log_start_offset(), 37);
    assert!(log.segment_count() < segments, "segments wholly below 37 are deleted");
    assert!(matches!(log.read(36, 100, 60), Err(LogError::OffsetOutOfRange { .. })));
    assert_eq!(batches(&log.read(37, 1, 60).expect("read"))[0].0, 37);
    log.advance_log_start(10).expect("never backwards");
    assert_eq!(log.log_start_offset(), 37);
    log.advance_log_start(1_000).expect("capped");
    assert_eq!(log.log_start_offset(), 60);
    log.flush().expect("flush");
    drop(log);
    let state = OpenState { clean: true, recovery_point: 60, log_start_offset: 60 };
    let (log, _) = Log::open(dir.path(), config(), state).expect("reopen");
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (60, 60));
}

/// Compaction and transactions, as Kafka's cleaner: an aborted transaction's records go, a
/// committed one's count like any record (a later aborted write never costs an earlier committed
/// one, a later plain write supersedes it), an open one's stay, markers stay.
#[test]
fn compaction_drops_aborted_records_and_counts_committed_ones() {
    use super::batch::{encode_as, encode_marker, PlainRecord, ProducerTag};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig { segment_bytes: 1024, retention: None, ..LogConfig::default() };
    let (mut log, _) = Log::open(dir.path(), config, OpenState::default()).expect("open");
    let put = |log: &mut Log, mut bytes: bytes::BytesMut| {
        let headers = split_batches(&bytes).expect("valid");
        log.append_as_leader(&mut bytes, &headers, 0).expect("append").first_offset
    };
    let tag = |pid| Some(ProducerTag { producer_id: pid, producer_epoch: 0, transactional: true });
    let record = |k: &str, v: &str| PlainRecord {
        key: Some(k.to_string().into()),
        value: Some(v.to_string().into()),
        headers: Vec::new(),
    };
    put(&mut log, encode_as([record("k", "committed")], 1, tag(9)).expect("encode")); // 0
    put(&mut log, encode_marker(9, 0, 0, true, 1).expect("marker")); // 1
    put(&mut log, encode_as([record("k", "aborted")], 1, tag(9)).expect("encode")); // 2
    put(&mut log, encode_marker(9, 0, 0, false, 1).expect("marker")); // 3
    put(&mut log, encode_as([record("j", "open")], 1, tag(7)).expect("encode")); // 4
    put(&mut log, encode_as([record("j", "plain")], 1, None).expect("encode")); // 5
    for i in 0..30 {
        append_keyed(&mut log, &[("other", Some(&format!("{i}")))], 1);
    }
    log.roll().expect("roll");
    let end = log.log_end_offset();
    let fate = |pid: i64, offset: i64| match (pid, offset) {
        (9, 2) => TxnFate::Aborted,
        (7, _) => TxnFate::Open,
        _ => TxnFate::Committed,
    };
    log.compact(10, 1, end, &fate).expect("compact");
    let kept: Vec<(i64, Option<String>)> =
        records(&log).into_iter().filter(|(o, _, _)| *o < 6).map(|(o, _, v)| (o, v)).collect();
    let offsets: Vec<i64> = kept.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, vec![0, 1, 3, 4, 5], "the aborted record goes, markers and the open record stay: {kept:?}");
    assert_eq!(kept[0].1.as_deref(), Some("committed"), "the committed record is k's latest that counts");
    assert_eq!(records(&log).iter().filter(|(_, k, _)| k == "other").count(), 1, "plain records still compact");
}
