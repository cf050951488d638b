//! Sparse offset and time indexes of one segment, in Kafka's file formats.
//!
//! `.index` holds 8-byte entries `(relative offset i32, position i32)`; `.timeindex` holds 12-byte
//! entries `(timestamp i64, relative offset i32)`. Lookups use the copy in memory; the files are
//! written when the segment is synced (new entries appended) or cut (rewritten), and are not kept
//! open, so a partition holds one descriptor (its `.log`) instead of three. Neither file has a
//! checksum: entries newer than the last sync belong to data past the recovery point, and after
//! an unclean stop the indexes of those segments are rebuilt from the log. Invariants: relative
//! offsets and positions strictly increase in `.index`; timestamps strictly increase in
//! `.timeindex`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One `.index` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

/// One `.timeindex` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

/// The pair of sparse indexes of one segment.
#[derive(Debug)]
pub struct SegmentIndex {
    offsets: Vec<OffsetEntry>,
    times: Vec<TimeEntry>,
    offset_path: PathBuf,
    time_path: PathBuf,
    /// How many entries of each are in their file; the rest go out with the next sync.
    offsets_written: usize,
    times_written: usize,
    /// The files hold entries the memory no longer has (a rewrite after a truncation failed):
    /// the next write rewrites them whole.
    stale: bool,
}

impl SegmentIndex {
    /// Loads both index files (creating them if needed, emptying them with `truncate`). Trailing
    /// partial or out-of-order entries are dropped, as Kafka's sanity check would.
    pub fn open(offset_path: &Path, time_path: &Path, truncate: bool) -> io::Result<Self> {
        let raw_offsets = if truncate { Vec::new() } else { read_or_empty(offset_path)? };
        let mut offsets: Vec<OffsetEntry> = Vec::with_capacity(raw_offsets.len() / 8);
        for chunk in raw_offsets.chunks_exact(8) {
            let entry = OffsetEntry {
                relative_offset: u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
                position: u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]),
            };
            if offsets
                .last()
                .is_some_and(|last| last.relative_offset >= entry.relative_offset || last.position >= entry.position)
            {
                break;
            }
            offsets.push(entry);
        }
        let raw_times = if truncate { Vec::new() } else { read_or_empty(time_path)? };
        let mut times: Vec<TimeEntry> = Vec::with_capacity(raw_times.len() / 12);
        for chunk in raw_times.chunks_exact(12) {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&chunk[0..8]);
            let entry = TimeEntry {
                timestamp: i64::from_be_bytes(ts),
                relative_offset: u32::from_be_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]),
            };
            if times.last().is_some_and(|last| last.timestamp >= entry.timestamp) {
                break;
            }
            times.push(entry);
        }
        let whole = !truncate && raw_offsets.len() == offsets.len() * 8 && raw_times.len() == times.len() * 12;
        let mut index = SegmentIndex {
            offsets,
            times,
            offset_path: offset_path.to_path_buf(),
            time_path: time_path.to_path_buf(),
            offsets_written: 0,
            times_written: 0,
            stale: false,
        };
        if whole && offset_path.exists() && time_path.exists() {
            index.offsets_written = index.offsets.len();
            index.times_written = index.times.len();
        } else {
            index.rewrite_files()?;
        }
        Ok(index)
    }

    pub fn offsets(&self) -> &[OffsetEntry] {
        &self.offsets
    }

    pub fn times(&self) -> &[TimeEntry] {
        &self.times
    }

    pub fn append_offset(&mut self, relative_offset: u32, position: u32) {
        if let Some(last) = self.offsets.last() {
            if last.relative_offset >= relative_offset || last.position >= position {
                return;
            }
        }
        self.offsets.push(OffsetEntry { relative_offset, position });
    }

    pub fn append_time(&mut self, timestamp: i64, relative_offset: u32) {
        if self.times.last().is_some_and(|last| last.timestamp >= timestamp) {
            return;
        }
        self.times.push(TimeEntry { timestamp, relative_offset });
    }

    /// Greatest indexed entry with relative offset <= `relative_offset`; position 0 if none.
    pub fn lookup_offset(&self, relative_offset: u32) -> OffsetEntry {
        let idx = self.offsets.partition_point(|e| e.relative_offset <= relative_offset);
        if idx == 0 {
            OffsetEntry { relative_offset: 0, position: 0 }
        } else {
            self.offsets[idx - 1]
        }
    }

    /// Relative offset from which to scan for the first record with timestamp >= `timestamp`:
    /// the entry before the first indexed timestamp >= target (0 if none).
    pub fn lookup_time(&self, timestamp: i64) -> u32 {
        let idx = self.times.partition_point(|e| e.timestamp < timestamp);
        if idx == 0 {
            0
        } else {
            self.times[idx - 1].relative_offset
        }
    }

    /// Drops every entry at or past `relative_offset` / `position` (after a log truncation).
    /// The entries in memory are cut whatever happens; when the files cannot be rewritten now
    /// (the truncation may be undoing a failed append), the next write rewrites them.
    pub fn truncate_to(&mut self, relative_offset: u32, position: u32) {
        self.offsets.retain(|e| e.relative_offset < relative_offset && e.position < position);
        self.times.retain(|e| e.relative_offset < relative_offset);
        if let Err(e) = self.rewrite_files() {
            tracing::warn!(index = %self.offset_path.display(), error = %e, "cannot rewrite an index after a truncation; retrying at the next flush");
            self.stale = true;
        }
    }

    /// Forgets every entry (before a rebuild from the log).
    pub fn clear(&mut self) -> io::Result<()> {
        self.offsets.clear();
        self.times.clear();
        self.rewrite_files()
    }

    /// Appends the entries added since the last write to their files, fsynced.
    pub fn sync(&mut self) -> io::Result<()> {
        self.write_new(true)
    }

    /// Appends the entries added since the last write to their files, without fsync.
    pub fn write_new(&mut self, fsync: bool) -> io::Result<()> {
        if self.stale {
            self.rewrite_files()?;
            self.stale = false;
        }
        if self.offsets_written < self.offsets.len() {
            let file = OpenOptions::new().append(true).create(true).open(&self.offset_path)?;
            write_file(file, &encode_offsets(&self.offsets[self.offsets_written..]), fsync)?;
            self.offsets_written = self.offsets.len();
        }
        if self.times_written < self.times.len() {
            let file = OpenOptions::new().append(true).create(true).open(&self.time_path)?;
            write_file(file, &encode_times(&self.times[self.times_written..]), fsync)?;
            self.times_written = self.times.len();
        }
        Ok(())
    }

    fn rewrite_files(&mut self) -> io::Result<()> {
        write_file(File::create(&self.offset_path)?, &encode_offsets(&self.offsets), false)?;
        self.offsets_written = self.offsets.len();
        write_file(File::create(&self.time_path)?, &encode_times(&self.times), false)?;
        self.times_written = self.times.len();
        Ok(())
    }
}

fn read_or_empty(path: &Path) -> io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        other => other,
    }
}

fn write_file(mut file: File, bytes: &[u8], fsync: bool) -> io::Result<()> {
    file.write_all(bytes)?;
    if fsync {
        file.sync_data()?;
    }
    Ok(())
}

fn encode_offsets(entries: &[OffsetEntry]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(entries.len() * 8);
    for e in entries {
        buf.extend_from_slice(&e.relative_offset.to_be_bytes());
        buf.extend_from_slice(&e.position.to_be_bytes());
    }
    buf
}

fn encode_times(entries: &[TimeEntry]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(entries.len() * 12);
    for e in entries {
        buf.extend_from_slice(&e.timestamp.to_be_bytes());
        buf.extend_from_slice(&e.relative_offset.to_be_bytes());
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (oi, ti) = (dir.path().join("0.index"), dir.path().join("0.timeindex"));
        {
            let mut idx = SegmentIndex::open(&oi, &ti, false).expect("open");
            idx.append_offset(10, 4096);
            idx.append_offset(20, 8192);
            idx.append_offset(15, 9000); // ignored: not increasing
            idx.append_time(100, 10);
            idx.append_time(200, 20);
            assert_eq!(idx.lookup_offset(5).position, 0);
            assert_eq!(idx.lookup_offset(10).position, 4096);
            assert_eq!(idx.lookup_offset(19).position, 4096);
            assert_eq!(idx.lookup_offset(1000).position, 8192);
            assert_eq!(idx.lookup_time(50), 0);
            assert_eq!(idx.lookup_time(150), 10);
            assert_eq!(idx.lookup_time(200), 10);
            assert_eq!(std::fs::metadata(&oi).expect("meta").len(), 0, "written at sync, not before");
            idx.sync().expect("sync");
            idx.append_offset(30, 12288);
            idx.sync().expect("sync appends only the new entry");
        }
        let mut idx = SegmentIndex::open(&oi, &ti, false).expect("reopen");
        assert_eq!(idx.offsets().len(), 3);
        assert_eq!(idx.times().len(), 2);
        idx.truncate_to(20, 8192);
        assert_eq!(idx.offsets().len(), 1);
        assert_eq!(idx.times().len(), 1);
        assert_eq!(std::fs::metadata(&oi).expect("meta").len(), 8);
    }
}
