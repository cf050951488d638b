//! Sparse offset and time indexes of one segment, in Kafka's file formats.
//!
//! `.index` holds 8-byte entries `(relative offset i32, position i32)`; `.timeindex` holds 12-byte
//! entries `(timestamp i64, relative offset i32)`. Both are kept in memory as well and appended to
//! their files as entries are added. Neither has a checksum: after an unclean stop they are
//! rebuilt from the log. Invariants: relative offsets and positions strictly increase in `.index`;
//! timestamps strictly increase in `.timeindex`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

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
    offset_file: File,
    time_file: File,
}

impl SegmentIndex {
    /// Opens (creating if needed) both index files and loads their entries. Trailing partial or
    /// out-of-order entries are dropped, as Kafka's sanity check would.
    pub fn open(offset_path: &Path, time_path: &Path, truncate: bool) -> io::Result<Self> {
        let mut offset_file = open_rw(offset_path, truncate)?;
        let mut time_file = open_rw(time_path, truncate)?;
        let mut raw = Vec::new();
        offset_file.read_to_end(&mut raw)?;
        let mut offsets: Vec<OffsetEntry> = Vec::with_capacity(raw.len() / 8);
        for chunk in raw.chunks_exact(8) {
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
        raw.clear();
        time_file.read_to_end(&mut raw)?;
        let mut times: Vec<TimeEntry> = Vec::with_capacity(raw.len() / 12);
        for chunk in raw.chunks_exact(12) {
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
        let mut index = SegmentIndex { offsets, times, offset_file, time_file };
        index.rewrite_files()?;
        Ok(index)
    }

    pub fn offsets(&self) -> &[OffsetEntry] {
        &self.offsets
    }

    pub fn times(&self) -> &[TimeEntry] {
        &self.times
    }

    pub fn append_offset(&mut self, relative_offset: u32, position: u32) -> io::Result<()> {
        if let Some(last) = self.offsets.last() {
            if last.relative_offset >= relative_offset || last.position >= position {
                return Ok(());
            }
        }
        self.offsets.push(OffsetEntry { relative_offset, position });
        let mut buf = [0u8; 8];
        buf[0..4].copy_from_slice(&relative_offset.to_be_bytes());
        buf[4..8].copy_from_slice(&position.to_be_bytes());
        self.offset_file.write_all(&buf)
    }

    pub fn append_time(&mut self, timestamp: i64, relative_offset: u32) -> io::Result<()> {
        if self.times.last().is_some_and(|last| last.timestamp >= timestamp) {
            return Ok(());
        }
        self.times.push(TimeEntry { timestamp, relative_offset });
        let mut buf = [0u8; 12];
        buf[0..8].copy_from_slice(&timestamp.to_be_bytes());
        buf[8..12].copy_from_slice(&relative_offset.to_be_bytes());
        self.time_file.write_all(&buf)
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
    pub fn truncate_to(&mut self, relative_offset: u32, position: u32) -> io::Result<()> {
        self.offsets.retain(|e| e.relative_offset < relative_offset && e.position < position);
        self.times.retain(|e| e.relative_offset < relative_offset);
        self.rewrite_files()
    }

    /// Forgets every entry (before a rebuild from the log).
    pub fn clear(&mut self) -> io::Result<()> {
        self.offsets.clear();
        self.times.clear();
        self.rewrite_files()
    }

    pub fn sync(&self) -> io::Result<()> {
        self.offset_file.sync_data()?;
        self.time_file.sync_data()
    }

    fn rewrite_files(&mut self) -> io::Result<()> {
        self.offset_file.set_len(0)?;
        let mut buf = Vec::with_capacity(self.offsets.len() * 8);
        for e in &self.offsets {
            buf.extend_from_slice(&e.relative_offset.to_be_bytes());
            buf.extend_from_slice(&e.position.to_be_bytes());
        }
        self.offset_file.write_all(&buf)?;
        self.time_file.set_len(0)?;
        buf.clear();
        for e in &self.times {
            buf.extend_from_slice(&e.timestamp.to_be_bytes());
            buf.extend_from_slice(&e.relative_offset.to_be_bytes());
        }
        self.time_file.write_all(&buf)
    }
}

fn open_rw(path: &Path, truncate: bool) -> io::Result<File> {
    // Append mode: every write lands at the end, so set_len(0) + write rewrites from scratch.
    OpenOptions::new().read(true).append(true).create(true).open(path).and_then(|f| {
        if truncate {
            f.set_len(0)?;
        }
        Ok(f)
    })
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
            idx.append_offset(10, 4096).expect("append");
            idx.append_offset(20, 8192).expect("append");
            idx.append_offset(15, 9000).expect("ignored: not increasing");
            idx.append_time(100, 10).expect("append");
            idx.append_time(200, 20).expect("append");
            assert_eq!(idx.lookup_offset(5).position, 0);
            assert_eq!(idx.lookup_offset(10).position, 4096);
            assert_eq!(idx.lookup_offset(19).position, 4096);
            assert_eq!(idx.lookup_offset(1000).position, 8192);
            assert_eq!(idx.lookup_time(50), 0);
            assert_eq!(idx.lookup_time(150), 10);
            assert_eq!(idx.lookup_time(200), 10);
        }
        let mut idx = SegmentIndex::open(&oi, &ti, false).expect("reopen");
        assert_eq!(idx.offsets().len(), 2);
        assert_eq!(idx.times().len(), 2);
        idx.truncate_to(20, 8192).expect("truncate");
        assert_eq!(idx.offsets().len(), 1);
        assert_eq!(idx.times().len(), 1);
        assert_eq!(std::fs::metadata(&oi).expect("meta").len(), 8);
    }
}
