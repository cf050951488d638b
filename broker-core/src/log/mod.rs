//! The partition log of one replica: an ordered run of segments in `{topic}-{partition}/`.
//!
//! Owns offset assignment, segment roll, retention, flushing, truncation and crash recovery.
//! Invariants: segments are sorted by base offset and never empty as a list; the last one is
//! the active segment; `log_start_offset <= log_end_offset`; offsets grow strictly across
//! batches. Reads take a snapshot (file handle, position, length) under the caller's lock and do
//! the I/O outside it, so a slow reader never holds back producers.

pub mod batch;
mod compact;
pub mod epochs;
pub mod index;
pub mod records;
pub mod segment;

pub use compact::{Compacted, TxnFate};

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;

use batch::{BatchError, BatchHeader, HEADER_LEN};
use epochs::EpochCache;
use segment::{Recovered, Segment};

/// Kafka's default `max.message.bytes` (1 MiB plus the batch overhead).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;

/// Per-log settings, from `[log]` and per-topic overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Roll to a new segment when the active one would pass this size.
    pub segment_bytes: u64,
    /// Roll to a new segment when the active one is older than this (Kafka's `log.roll.hours`).
    pub segment_age: Duration,
    /// Delete segments whose newest record is older than this; `None` keeps them forever.
    pub retention: Option<Duration>,
    /// Delete the oldest segments while the log is larger than this; `None` for no limit.
    pub retention_bytes: Option<u64>,
    /// Largest batch a client may append (`max.message.bytes`, as sent, compressed or not).
    pub max_message_bytes: usize,
    /// Largest a batch's records may inflate to when decompressed, at produce and on every read
    /// that decodes records.
    pub max_uncompressed_batch_bytes: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_age: Duration::from_secs(7 * 24 * 3600),
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            retention_bytes: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_uncompressed_batch_bytes: records::DEFAULT_MAX_UNCOMPRESSED,
        }
    }
}

#[derive(Debug, Error)]
pub enum LogError {
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange { offset: i64, log_start_offset: i64, log_end_offset: i64 },
    #[error("corrupt record batch: {0}")]
    Corrupt(#[from] BatchError),
    #[error("replicated batch at offset {base_offset} does not follow log end offset {log_end_offset}")]
    NonContiguous { base_offset: i64, log_end_offset: i64 },
    #[error("log I/O failed: {0}")]
    Io(#[from] io::Error),
}

/// How a log was left, from the log dir's checkpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenState {
    /// The log dir carried a clean-shutdown marker.
    pub clean: bool,
    /// Everything below this offset was flushed before the stop.
    pub recovery_point: i64,
    pub log_start_offset: i64,
}

/// Offsets assigned by one append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

/// A read planned under the log's lock, carried out without it.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    file: Arc<File>,
    position: u64,
    len: usize,
    upper_bound: i64,
}

impl ReadPlan {
    /// Reads the planned bytes and keeps only whole batches whose last offset is below the upper
    /// bound (the first batch is always whole; it may exceed the byte budget, as KIP-74 asks).
    pub fn execute(&self) -> io::Result<Bytes> {
        let mut buf = vec![0u8; self.len];
        let n = read_up_to(&self.file, &mut buf, self.position)?;
        buf.truncate(n);
        let mut keep = 0;
        while keep + HEADER_LEN <= buf.len() {
            let Ok(h) = BatchHeader::parse(&buf[keep..]) else {
                break;
            };
            if h.last_offset() >= self.upper_bound || keep + h.total_len() > buf.len() {
                break;
            }
            keep += h.total_len();
        }
        buf.truncate(keep);
        Ok(Bytes::from(buf))
    }
}

fn read_up_to(file: &File, buf: &mut [u8], position: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], position + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// What opening a log found; the caller logs it.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    pub segments_checked: usize,
    pub truncated: Vec<(PathBuf, Recovered)>,
    pub dropped_segments: Vec<PathBuf>,
}

#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    config: LogConfig,
    segments: Vec<Segment>,
    log_start_offset: i64,
    recovery_point: i64,
    epochs: EpochCache,
    /// A segment file was created or removed since the directory was last fsynced.
    dir_unsynced: bool,
}

impl Log {
    /// Opens or creates the log in `dir`, recovering every segment past the recovery point when
    /// the previous stop was not clean.
    pub fn open(dir: &Path, config: LogConfig, state: OpenState) -> Result<(Log, RecoveryReport), LogError> {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            // A new partition directory must survive a power loss once data is acknowledged.
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".log.cleaned") {
                // A compaction cut short by a crash: the original segment is still whole.
                std::fs::remove_file(dir.join(&*name))?;
                continue;
            }
            if let Some(stem) = name.strip_suffix(".log") {
                if let Ok(base) = stem.parse::<i64>() {
                    bases.push(base);
                }
            }
        }
        bases.sort_unstable();
        let mut report = RecoveryReport::default();
        let mut segments: Vec<Segment> = Vec::with_capacity(bases.len().max(1));
        // The first segment that may hold unflushed data: the last one starting at or below the
        // recovery point.
        let first_dirty =
            if state.clean { bases.len() } else { bases.iter().rposition(|b| *b <= state.recovery_point).unwrap_or(0) };
        let mut cut = false;
        for (i, base) in bases.iter().copied().enumerate() {
            if cut {
                let seg = Segment::open(dir, base)?;
                report.dropped_segments.push(seg.path().to_path_buf());
                seg.delete()?;
                continue;
            }
            let seg = if i >= first_dirty {
                let (seg, recovered) = Segment::open_and_recover(dir, base)?;
                report.segments_checked += 1;
                if recovered.truncated_bytes > 0 {
                    report.truncated.push((seg.path().to_path_buf(), recovered));
                    cut = true;
                }
                seg
            } else {
                Segment::open(dir, base)?
            };
            if segments.last().is_some_and(|prev| seg.base_offset < prev.next_offset()) {
                // Overlapping segments cannot come from warren; keep the older data.
                report.dropped_segments.push(seg.path().to_path_buf());
                seg.delete()?;
                continue;
            }
            segments.push(seg);
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, state.log_start_offset.max(0))?);
            sync_dir(dir)?;
        }
        let closed = segments.len() - 1;
        for segment in &mut segments[..closed] {
            segment.close();
        }
        let log_end_offset = segments.last().map_or(0, Segment::next_offset);
        let first_base = segments[0].base_offset;
        let log_start_offset = state.log_start_offset.clamp(first_base, log_end_offset);
        let mut epochs = EpochCache::load(dir)?;
        epochs.truncate_from(log_end_offset)?;
        let log = Log {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset,
            recovery_point: state.recovery_point.min(log_end_offset),
            epochs,
            dir_unsynced: false,
        };
        Ok((log, report))
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }

    pub fn active_base_offset(&self) -> i64 {
        self.active().base_offset
    }

    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(Segment::size).sum()
    }

    #[cfg(test)]
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub fn epochs(&self) -> &EpochCache {
        &self.epochs
    }

    fn active(&self) -> &Segment {
        self.segments.last().expect("a log always has an active segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments.last_mut().expect("a log always has an active segment")
    }

    /// Appends client batches as leader: stamps each with the next offset and `leader_epoch`.
    /// `headers` must come from [`batch::split_batches`] over `batches`. All or nothing: when one
    /// batch cannot be written, the ones before it are cut off again, so a client told that its
    /// request failed retries without duplicating them.
    pub fn append_as_leader(
        &mut self,
        batches: &mut [u8],
        headers: &[(usize, BatchHeader)],
        leader_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        let first_offset = self.log_end_offset();
        let mut next = first_offset;
        let mut max_timestamp = -1;
        for (pos, header) in headers {
            let mut header = *header;
            header.base_offset = next;
            header.partition_leader_epoch = leader_epoch;
            let bytes = &mut batches[*pos..*pos + header.total_len()];
            batch::stamp(bytes, next, leader_epoch);
            if let Err(e) = self.append_batch(&header, bytes) {
                if next > first_offset {
                    if let Err(undo) = self.truncate_to(first_offset) {
                        tracing::error!(dir = %self.dir.display(), error = %undo, "could not undo a partial append");
                    }
                }
                return Err(e);
            }
            max_timestamp = max_timestamp.max(header.max_timestamp);
            next = header.next_offset();
        }
        Ok(AppendInfo { first_offset, last_offset: next - 1, max_timestamp })
    }

    /// Appends batches copied from the leader's log, keeping their offsets and epochs.
    pub fn append_replicated(&mut self, bytes: &[u8]) -> Result<Option<AppendInfo>, LogError> {
        let headers = batch::split_trusted(bytes)?;
        let Some(first) = headers.first() else {
            return Ok(None);
        };
        let first_offset = first.1.base_offset;
        let mut info = AppendInfo { first_offset, last_offset: first_offset - 1, max_timestamp: -1 };
        for (pos, header) in headers {
            let log_end_offset = self.log_end_offset();
            // A compacted leader log has gaps between batches; never overlaps.
            if header.base_offset < log_end_offset {
                return Err(LogError::NonContiguous { base_offset: header.base_offset, log_end_offset });
            }
            self.append_batch(&header, &bytes[pos..pos + header.total_len()])?;
            info.last_offset = header.last_offset();
            info.max_timestamp = info.max_timestamp.max(header.max_timestamp);
        }
        Ok(Some(info))
    }

    fn append_batch(&mut self, header: &BatchHeader, bytes: &[u8]) -> Result<(), LogError> {
        let active = self.active();
        // Index entries hold offsets relative to the segment's base in 32 bits: roll before a
        // batch would leave that range, as Kafka does.
        let offsets_fit = header.last_offset() - active.base_offset <= i64::from(i32::MAX);
        if !active.is_empty()
            && (active.size() + bytes.len() as u64 > self.config.segment_bytes
                || active.age() >= self.config.segment_age
                || !offsets_fit)
        {
            self.roll()?;
        }
        self.epochs.assign(header.partition_leader_epoch, header.base_offset)?;
        self.active_mut().append(header, bytes)?;
        Ok(())
    }

    /// Starts a new active segment at the log end offset.
    pub fn roll(&mut self) -> io::Result<()> {
        let base = self.log_end_offset();
        let segment = Segment::create(&self.dir, base)?;
        // The new file's directory entry must survive a power loss like its data: the next
        // flush fsyncs the directory.
        self.dir_unsynced = true;
        // The closed segment keeps no descriptor; the next flush fsyncs it through a new one.
        self.active_mut().close();
        self.segments.push(segment);
        Ok(())
    }

    /// Plans a read of whole batches from the one containing `offset`, up to `max_bytes` (at
    /// least one batch), never returning a batch at or past `upper_bound` (the high watermark
    /// for consumers, the log end offset for followers). `None` means nothing to read yet.
    pub fn plan_read(&self, offset: i64, max_bytes: usize, upper_bound: i64) -> Result<Option<ReadPlan>, LogError> {
        let log_end_offset = self.log_end_offset();
        if offset < self.log_start_offset || offset > log_end_offset {
            return Err(LogError::OffsetOutOfRange { offset, log_start_offset: self.log_start_offset, log_end_offset });
        }
        if offset >= upper_bound {
            return Ok(None);
        }
        let start = self.segments.partition_point(|s| s.base_offset <= offset).saturating_sub(1);
        for segment in &self.segments[start..] {
            if let Some((position, first)) = segment.find_batch(offset)? {
                if first.last_offset() >= upper_bound {
                    return Ok(None);
                }
                let remaining = usize::try_from(segment.size() - position).unwrap_or(usize::MAX);
                let len = remaining.min(max_bytes.max(first.total_len()));
                return Ok(Some(ReadPlan { file: segment.handle()?, position, len, upper_bound }));
            }
        }
        Ok(None)
    }

    /// Reads now, under whatever lock the caller holds. For tests and small internal reads.
    pub fn read(&self, offset: i64, max_bytes: usize, upper_bound: i64) -> Result<Bytes, LogError> {
        match self.plan_read(offset, max_bytes, upper_bound)? {
            Some(plan) => Ok(plan.execute()?),
            None => Ok(Bytes::new()),
        }
    }

    /// The first batch whose max timestamp is >= `timestamp`, at or above the log start, as
    /// `(position in its segment's file, header, the segment's file)`; the caller decodes the batch
    /// to find the exact record.
    pub fn find_batch_by_time(&self, timestamp: i64) -> Result<Option<(Bytes, BatchHeader)>, LogError> {
        for segment in &self.segments {
            if segment.max_timestamp() < timestamp {
                continue;
            }
            let mut position = segment.time_scan_start(timestamp);
            let file = segment.handle()?;
            let mut header = [0u8; HEADER_LEN];
            while position + HEADER_LEN as u64 <= segment.size() {
                file.read_exact_at(&mut header, position)?;
                let h = BatchHeader::parse(&header)?;
                if h.max_timestamp >= timestamp && h.last_offset() >= self.log_start_offset {
                    let mut bytes = vec![0u8; h.total_len()];
                    file.read_exact_at(&mut bytes, position)?;
                    return Ok(Some((Bytes::from(bytes), h)));
                }
                position += h.total_len() as u64;
            }
        }
        Ok(None)
    }

    /// The header of the batch holding `offset` (`None` below the log start or at the end).
    pub fn batch_header_at(&self, offset: i64) -> Result<Option<BatchHeader>, LogError> {
        if offset < self.log_start_offset || offset >= self.log_end_offset() {
            return Ok(None);
        }
        let start = self.segments.partition_point(|s| s.base_offset <= offset).saturating_sub(1);
        for segment in &self.segments[start..] {
            if let Some((_, header)) = segment.find_batch(offset)? {
                return Ok((header.base_offset <= offset).then_some(header));
            }
        }
        Ok(None)
    }

    /// The newest record timestamp in the log.
    pub fn max_timestamp(&self) -> i64 {
        self.segments.iter().map(Segment::max_timestamp).max().unwrap_or(-1)
    }

    /// Fsyncs every segment that may hold data past the recovery point and moves it to the log
    /// end offset.
    pub fn flush(&mut self) -> io::Result<()> {
        let log_end_offset = self.log_end_offset();
        if self.recovery_point < log_end_offset {
            let start = self.segments.partition_point(|s| s.base_offset <= self.recovery_point).saturating_sub(1);
            for segment in &mut self.segments[start..] {
                segment.sync()?;
            }
        }
        if self.dir_unsynced {
            sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        self.recovery_point = log_end_offset;
        Ok(())
    }

    /// Removes every record at or after `offset` (a follower dropping a divergent tail).
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        if offset <= self.segments[0].base_offset {
            return self.truncate_fully_and_start_at(offset.max(0));
        }
        while self.segments.len() > 1 && self.active().base_offset >= offset {
            let seg = self.segments.pop().expect("more than one segment");
            seg.delete()?;
            self.dir_unsynced = true;
        }
        self.active_mut().truncate_to(offset)?;
        self.epochs.truncate_from(offset)?;
        self.recovery_point = self.recovery_point.min(self.log_end_offset());
        Ok(())
    }

    /// Deletes everything and restarts the log empty at `offset`.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), LogError> {
        for seg in self.segments.drain(..) {
            seg.delete()?;
            self.dir_unsynced = true;
        }
        self.segments.push(Segment::create(&self.dir, offset)?);
        self.epochs.truncate_from(0)?;
        self.log_start_offset = offset;
        self.recovery_point = offset;
        Ok(())
    }

    /// Moves the log start offset up to `offset` (DeleteRecords, or a follower adopting its
    /// leader's): records below it are gone for readers at once, and segments wholly below it are
    /// deleted. Never past the log end offset; never backwards.
    pub fn advance_log_start(&mut self, offset: i64) -> Result<(), LogError> {
        let offset = offset.min(self.log_end_offset());
        if offset <= self.log_start_offset {
            return Ok(());
        }
        self.log_start_offset = offset;
        while self.segments.len() > 1 && self.segments[1].base_offset <= offset {
            self.segments.remove(0).delete()?;
            self.dir_unsynced = true;
        }
        Ok(())
    }

    /// Applies time and size retention to segments wholly below `high_watermark`; returns the
    /// number of segments deleted. `now_ms` is the wall clock in milliseconds.
    pub fn apply_retention(&mut self, now_ms: i64, high_watermark: i64) -> Result<usize, LogError> {
        let mut deleted = 0;
        loop {
            let total = self.size_bytes();
            let first = &self.segments[0];
            if first.next_offset() > high_watermark || first.is_empty() && self.segments.len() == 1 {
                break;
            }
            let expired = self.config.retention.is_some_and(|r| {
                first.max_timestamp() >= 0
                    && now_ms.saturating_sub(first.max_timestamp()) > i64::try_from(r.as_millis()).unwrap_or(i64::MAX)
            });
            let oversized =
                self.config.retention_bytes.is_some_and(|limit| total.saturating_sub(first.size()) >= limit);
            if !(expired || oversized) {
                break;
            }
            if self.segments.len() == 1 {
                // The active segment itself is due: roll so the log keeps an active segment.
                self.roll()?;
            }
            let seg = self.segments.remove(0);
            seg.delete()?;
            self.dir_unsynced = true;
            deleted += 1;
            self.log_start_offset = self.log_start_offset.max(self.segments[0].base_offset);
        }
        Ok(deleted)
    }
}

/// Writes `bytes` to `path` through a temporary file, fsync, rename and a directory fsync, so
/// readers see the old or the new content, never a mix, and the new one survives a power loss.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
    }
    std::fs::rename(&tmp, path)?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Fsyncs a directory, so the entries created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
