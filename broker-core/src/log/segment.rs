//! One log segment: `{base_offset:020}.log` with its `.index` and `.timeindex`.
//!
//! The `.log` file holds record batches v2 exactly as clients sent them (with `baseOffset` and
//! `partitionLeaderEpoch` stamped). Writes go to the end with positional I/O so readers can share
//! the file handle without a lock. Invariants: `size` is the end of the last whole, valid batch;
//! `next_offset` is one past that batch's last offset; an index entry is added whenever at least
//! `index_interval_bytes` were appended since the previous one.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::batch::{BatchError, BatchHeader, HEADER_LEN};
use super::index::SegmentIndex;

/// Bytes of log between two sparse index entries (Kafka's `log.index.interval.bytes`).
pub const INDEX_INTERVAL_BYTES: u32 = 4096;

/// File name stem of a segment: its base offset padded to 20 digits.
pub fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

#[derive(Debug)]
pub struct Segment {
    pub base_offset: i64,
    path: PathBuf,
    /// Held while the segment is active (or being recovered); a closed segment opens its file
    /// for each read and holds no descriptor, so a partition needs one however many segments it
    /// has.
    file: Option<Arc<File>>,
    index: SegmentIndex,
    size: u64,
    next_offset: i64,
    max_timestamp: i64,
    created: Instant,
    bytes_since_index: u32,
}

/// What recovery found in one segment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub batches: u64,
    pub truncated_bytes: u64,
    /// The validation error at the cut, when the tail was not simply empty.
    pub reason: Option<String>,
}

impl Segment {
    /// Creates a new, empty segment in `dir`.
    pub fn create(dir: &Path, base_offset: i64) -> io::Result<Segment> {
        Self::open_files(dir, base_offset, true)
    }

    /// Opens an existing segment trusting its indexes (after a clean shutdown). The end of the
    /// segment is found by walking batch headers from the last index entry; when that walk does
    /// not end exactly at the end of the file, the files changed while warren was down, and the
    /// segment is re-validated and its indexes rebuilt as after an unclean stop.
    pub fn open(dir: &Path, base_offset: i64) -> io::Result<Segment> {
        let mut segment = Self::open_files(dir, base_offset, false)?;
        let file_len = segment.handle()?.metadata()?.len();
        let last = segment.index.offsets().last().copied();
        let start = last.map_or(0, |e| u64::from(e.position));
        if start == 0 || start < file_len {
            segment.next_offset = last.map_or(base_offset, |e| base_offset + i64::from(e.relative_offset));
            let pos = segment.walk_tail(start, file_len)?;
            if pos == file_len {
                segment.size = pos;
                return Ok(segment);
            }
        }
        let recovered = segment.recover()?;
        tracing::warn!(
            segment = %segment.path.display(),
            batches = recovered.batches,
            truncated_bytes = recovered.truncated_bytes,
            reason = recovered.reason.as_deref().unwrap_or("-"),
            "the indexes did not lead to the end of the log after a clean stop; re-validated the segment and rebuilt them"
        );
        Ok(segment)
    }

    /// Walks the batch headers from `start` (an indexed batch) up to `end`, setting the next
    /// offset and the greatest timestamp from what the indexes do not cover; returns where the
    /// last whole batch ends.
    fn walk_tail(&mut self, start: u64, end: u64) -> io::Result<u64> {
        self.max_timestamp = self.index.times().last().map_or(-1, |e| e.timestamp);
        let file = self.handle()?;
        let mut pos = start;
        let mut header = [0u8; HEADER_LEN];
        while pos + HEADER_LEN as u64 <= end {
            file.read_exact_at(&mut header, pos)?;
            let Ok(h) = BatchHeader::parse(&header) else {
                break;
            };
            if pos + h.total_len() as u64 > end {
                break;
            }
            self.next_offset = h.next_offset();
            self.max_timestamp = self.max_timestamp.max(h.max_timestamp);
            pos += h.total_len() as u64;
        }
        Ok(pos)
    }

    /// Opens an existing segment and re-validates it whole (after an unclean stop).
    pub fn open_and_recover(dir: &Path, base_offset: i64) -> io::Result<(Segment, Recovered)> {
        let mut segment = Self::open_files(dir, base_offset, false)?;
        let recovered = segment.recover()?;
        Ok((segment, recovered))
    }

    fn open_files(dir: &Path, base_offset: i64, truncate: bool) -> io::Result<Segment> {
        let stem = file_stem(base_offset);
        let path = dir.join(format!("{stem}.log"));
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(truncate).open(&path)?;
        let index =
            SegmentIndex::open(&dir.join(format!("{stem}.index")), &dir.join(format!("{stem}.timeindex")), truncate)?;
        Ok(Segment {
            base_offset,
            path,
            file: Some(Arc::new(file)),
            index,
            size: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            created: Instant::now(),
            bytes_since_index: 0,
        })
    }

    /// Re-validates every batch from the start, rebuilds both indexes, and truncates the file at
    /// the first torn, garbage or CRC-bad batch.
    pub fn recover(&mut self) -> io::Result<Recovered> {
        self.index.clear()?;
        let file = self.writable()?;
        let file_len = file.metadata()?.len();
        let mut recovered = Recovered::default();
        self.next_offset = self.base_offset;
        self.max_timestamp = -1;
        self.size = 0;
        self.bytes_since_index = 0;
        let mut pos = 0u64;
        let mut buf = Vec::new();
        while pos < file_len {
            // Read one batch at a time: memory stays bounded by the largest batch, and a garbage
            // length field is checked against the file size before anything is allocated.
            let head_len = (file_len - pos).min(HEADER_LEN as u64) as usize;
            buf.resize(head_len, 0);
            file.read_exact_at(&mut buf, pos)?;
            let total = match BatchHeader::parse(&buf) {
                Ok(h) if h.magic == super::batch::MAGIC_V2 && pos + h.total_len() as u64 <= file_len => h.total_len(),
                Ok(h) if h.magic != super::batch::MAGIC_V2 => {
                    recovered.reason = Some(BatchError::BadMagic(h.magic).to_string());
                    break;
                }
                Ok(h) => {
                    recovered.reason = Some(
                        BatchError::Truncated { available: (file_len - pos) as usize, needed: h.total_len() }
                            .to_string(),
                    );
                    break;
                }
                Err(BatchError::Truncated { .. }) if buf.iter().all(|b| *b == 0) => break,
                Err(e) => {
                    recovered.reason = Some(e.to_string());
                    break;
                }
            };
            buf.resize(total, 0);
            file.read_exact_at(&mut buf, pos)?;
            match BatchHeader::validate(&buf) {
                Ok(h) if h.base_offset >= self.next_offset || recovered.batches == 0 => {
                    self.track_append(&h, pos);
                    pos += total as u64;
                    recovered.batches += 1;
                }
                Ok(h) => {
                    recovered.reason = Some(format!(
                        "batch at position {pos} has base offset {} below {}",
                        h.base_offset, self.next_offset
                    ));
                    break;
                }
                Err(e) => {
                    recovered.reason = Some(e.to_string());
                    break;
                }
            }
        }
        recovered.truncated_bytes = file_len - pos;
        if recovered.truncated_bytes > 0 {
            file.set_len(pos)?;
        }
        // The rebuilt indexes go to their files now, so a clean stop that follows finds them
        // whole even when no new data asks for a flush.
        self.index.write_new(false)?;
        Ok(recovered)
    }

    /// Appends one already validated and stamped batch.
    pub fn append(&mut self, header: &BatchHeader, bytes: &[u8]) -> io::Result<()> {
        debug_assert_eq!(bytes.len(), header.total_len());
        assert!(header.base_offset >= self.next_offset, "offsets must grow within a segment");
        self.writable()?.write_all_at(bytes, self.size)?;
        let position = self.size;
        self.track_append(header, position);
        Ok(())
    }

    fn track_append(&mut self, header: &BatchHeader, position: u64) {
        let relative = u32::try_from(header.base_offset - self.base_offset).unwrap_or(u32::MAX);
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
        if self.size == 0 || self.bytes_since_index >= INDEX_INTERVAL_BYTES {
            // Position fits: segments roll long before 4 GiB.
            self.index.append_offset(relative, u32::try_from(position).unwrap_or(u32::MAX));
            // The time index is as sparse as Kafka's: at each offset index entry, the greatest
            // timestamp so far and the last offset it covers.
            let last_rel = u32::try_from(header.last_offset() - self.base_offset).unwrap_or(u32::MAX);
            self.index.append_time(self.max_timestamp, last_rel);
            self.bytes_since_index = 0;
        }
        let len = header.total_len() as u64;
        self.size = position + len;
        self.bytes_since_index = self.bytes_since_index.saturating_add(len as u32);
        self.next_offset = header.next_offset();
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    pub fn age(&self) -> std::time::Duration {
        self.created.elapsed()
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The segment's file: the held handle, or a fresh read-only one for a closed segment.
    pub fn handle(&self) -> io::Result<Arc<File>> {
        match &self.file {
            Some(file) => Ok(Arc::clone(file)),
            None => Ok(Arc::new(File::open(&self.path)?)),
        }
    }

    /// A handle that can write, opened and held again when the segment was closed.
    fn writable(&mut self) -> io::Result<Arc<File>> {
        if self.file.is_none() {
            self.file = Some(Arc::new(OpenOptions::new().read(true).write(true).open(&self.path)?));
        }
        self.handle()
    }

    /// Drops the held descriptor: the segment is no longer written (it rolled, or was opened
    /// only to be read).
    pub fn close(&mut self) {
        self.file = None;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(test)]
    pub(crate) fn index(&self) -> &SegmentIndex {
        &self.index
    }

    /// Byte position to start scanning from for `offset`: the greatest indexed batch start at or
    /// below it.
    pub fn scan_start(&self, offset: i64) -> u64 {
        let relative = u32::try_from((offset - self.base_offset).max(0)).unwrap_or(u32::MAX);
        u64::from(self.index.lookup_offset(relative).position)
    }

    /// Byte position to scan from to find the first record with timestamp >= `timestamp`.
    pub fn time_scan_start(&self, timestamp: i64) -> u64 {
        let relative = self.index.lookup_time(timestamp);
        self.scan_start(self.base_offset + i64::from(relative))
    }

    /// Finds the start position of the batch containing `offset` (or the first batch after it),
    /// or `None` when the segment ends before it.
    pub fn find_batch(&self, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        let mut pos = self.scan_start(offset);
        let mut header = [0u8; HEADER_LEN];
        let file = self.handle()?;
        while pos + (HEADER_LEN as u64) <= self.size {
            file.read_exact_at(&mut header, pos)?;
            let h = BatchHeader::parse(&header).map_err(io::Error::other)?;
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
            pos += h.total_len() as u64;
        }
        Ok(None)
    }

    /// Cuts the segment so that `offset` is its next offset. `offset` must be a batch boundary
    /// or past the end; a batch straddling it is removed whole.
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        if offset >= self.next_offset {
            return Ok(());
        }
        let (pos, next) = match self.find_batch(offset)? {
            Some((pos, h)) if h.base_offset < offset => (pos, h.base_offset),
            Some((pos, _)) => (pos, offset),
            None => return Ok(()),
        };
        self.writable()?.set_len(pos)?;
        let relative = u32::try_from(next - self.base_offset).unwrap_or(u32::MAX);
        self.index.truncate_to(relative, u32::try_from(pos).unwrap_or(u32::MAX));
        self.size = pos;
        // The greatest timestamp left: the time index's, plus the batches after its last entry.
        let start = self.index.offsets().last().map_or(0, |e| u64::from(e.position));
        self.walk_tail(start, pos)?;
        self.next_offset = next.max(self.base_offset);
        Ok(())
    }

    /// Fsyncs the log file (through a fresh handle when the segment is closed: fsync covers the
    /// file's dirty pages whichever descriptor wrote them) and the indexes.
    pub fn sync(&mut self) -> io::Result<()> {
        self.handle()?.sync_data()?;
        self.index.sync()
    }

    /// Removes the segment's three files.
    pub fn delete(self) -> io::Result<()> {
        let stem = file_stem(self.base_offset);
        let dir = self.path.parent().map(Path::to_path_buf).unwrap_or_default();
        for ext in ["log", "index", "timeindex"] {
            match std::fs::remove_file(dir.join(format!("{stem}.{ext}"))) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}
