//! The leader-epoch cache of one replica: `(epoch, start offset)` pairs, persisted as Kafka's
//! `leader-epoch-checkpoint` text file (`0`, count, then `epoch startOffset` lines).
//!
//! Invariants: epochs and start offsets both strictly increase. Written with a temp file and a
//! rename so a crash leaves either the old or the new checkpoint.

use std::io;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "leader-epoch-checkpoint";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

#[derive(Debug)]
pub struct EpochCache {
    path: PathBuf,
    entries: Vec<EpochEntry>,
}

impl EpochCache {
    pub fn load(dir: &Path) -> io::Result<EpochCache> {
        let path = dir.join(FILE_NAME);
        let entries = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(EpochCache { path, entries })
    }

    #[cfg(test)]
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> i32 {
        self.entries.last().map_or(-1, |e| e.epoch)
    }

    /// Records that `epoch` starts at `start_offset`, if it is newer than the latest epoch.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> io::Result<()> {
        if epoch < 0 || self.entries.last().is_some_and(|e| e.epoch >= epoch) {
            return Ok(());
        }
        // A newer epoch starting at an offset an older one claimed replaces that one.
        self.entries.retain(|e| e.start_offset < start_offset);
        self.entries.push(EpochEntry { epoch, start_offset });
        self.write()
    }

    /// The end offset of `epoch` as Kafka's OffsetForLeaderEpoch answers it: the start offset of
    /// the first later epoch, or `log_end_offset` for the latest. Returns the epoch actually
    /// found (the greatest <= requested) with it, or `(-1, -1)` when `epoch` is below them all.
    pub fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> (i32, i64) {
        let idx = self.entries.partition_point(|e| e.epoch <= epoch);
        if idx == 0 {
            return (-1, -1);
        }
        let found = self.entries[idx - 1].epoch;
        let end = self.entries.get(idx).map_or(log_end_offset, |next| next.start_offset);
        (found, end)
    }

    /// Forgets epochs starting at or after `offset` (the log was truncated there).
    pub fn truncate_from(&mut self, offset: i64) -> io::Result<()> {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < offset);
        if self.entries.len() != before {
            self.write()?;
        }
        Ok(())
    }

    fn write(&self) -> io::Result<()> {
        let mut text = format!("0\n{}\n", self.entries.len());
        for e in &self.entries {
            text.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
        }
        crate::log::write_atomically(&self.path, text.as_bytes())
    }
}

fn parse(text: &str) -> Vec<EpochEntry> {
    let mut entries = Vec::new();
    for line in text.lines().skip(2) {
        let mut parts = line.split_whitespace();
        let (Some(epoch), Some(start)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let (Ok(epoch), Ok(start_offset)) = (epoch.parse(), start.parse()) {
            entries.push(EpochEntry { epoch, start_offset });
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_lookup_truncate_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cache = EpochCache::load(dir.path()).expect("load");
        cache.assign(0, 0).expect("assign");
        cache.assign(0, 5).expect("same epoch ignored");
        cache.assign(2, 10).expect("assign");
        cache.assign(3, 20).expect("assign");
        assert_eq!(cache.end_offset_for(0, 30), (0, 10));
        assert_eq!(cache.end_offset_for(1, 30), (0, 10));
        assert_eq!(cache.end_offset_for(2, 30), (2, 20));
        assert_eq!(cache.end_offset_for(3, 30), (3, 30));
        cache.truncate_from(15).expect("truncate");
        let reloaded = EpochCache::load(dir.path()).expect("reload");
        assert_eq!(
            reloaded.entries(),
            &[EpochEntry { epoch: 0, start_offset: 0 }, EpochEntry { epoch: 2, start_offset: 10 }]
        );
    }
}
