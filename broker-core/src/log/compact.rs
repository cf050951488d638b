//! Log compaction (`cleanup.policy=compact`): keeps only the latest record of every key in the
//! closed segments, and drops tombstones (null values) once they are older than the delete
//! retention, as Kafka's log cleaner does.
//!
//! Only closed segments wholly below the high watermark are rewritten; the active segment never
//! is. A rewritten batch keeps its records' offsets, timestamps, producer fields and codec, so
//! offsets only gain gaps, which every consumer handles. Crash safety: the new segment is written
//! to `.cleaned` and fsynced, the old indexes are removed, then the rename replaces the `.log`
//! atomically; whichever file survives a crash is a whole, valid segment, and a segment without
//! indexes is read by scanning (its indexes are rebuilt on the next recovery or rewrite).

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::FileExt;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, RecordSet};

use super::batch::{BatchHeader, HEADER_LEN};
use super::segment::{file_stem, Segment};
use super::{Log, LogError};

/// What one compaction pass did.
/// What became of the transaction a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnFate {
    Committed,
    Aborted,
    Open,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Compacted {
    pub segments_rewritten: usize,
    pub records_removed: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

impl Log {
    /// Compacts the closed segments below `high_watermark`. Tombstones older than
    /// `delete_retention_ms` (by record timestamp, against `now_ms`) are removed too.
    pub fn compact(
        &mut self,
        now_ms: i64,
        delete_retention_ms: i64,
        high_watermark: i64,
        fate: &dyn Fn(i64, i64) -> TxnFate,
    ) -> Result<Compacted, LogError> {
        let mut report = Compacted::default();
        let limit = self.config.max_uncompressed_batch_bytes;
        let closed = self.segments.len().saturating_sub(1);
        let cleanable = self.segments[..closed].iter().take_while(|s| s.next_offset() <= high_watermark).count();
        if cleanable == 0 {
            return Ok(report);
        }
        // The latest offset of every key in the whole log, the active segment included, so a
        // key rewritten there supersedes its older copies. A transactional record counts once its
        // transaction committed; an aborted one never counts and goes, as Kafka's cleaner
        // removes aborted data; one of a transaction still open is kept and does not count.
        // Markers stay.
        let counts =
            |r: &Record| !r.control && (!r.transactional || fate(r.producer_id, r.offset) == TxnFate::Committed);
        let mut latest: HashMap<Bytes, i64> = HashMap::new();
        for segment in &self.segments {
            for_each_batch(segment, limit, |batch| {
                for r in batch.records.iter().filter(|r| counts(r)) {
                    if let Some(key) = &r.key {
                        latest.insert(key.clone(), r.offset);
                    }
                }
                Ok(())
            })?;
        }
        let keep = |r: &Record| match &r.key {
            _ if r.control => true,
            _ if r.transactional && fate(r.producer_id, r.offset) == TxnFate::Aborted => false,
            _ if r.transactional && fate(r.producer_id, r.offset) == TxnFate::Open => true,
            None => true,
            Some(key) => {
                latest.get(key) == Some(&r.offset)
                    && (r.value.is_some() || now_ms.saturating_sub(r.timestamp) < delete_retention_ms)
            }
        };
        let mut index = 0;
        while index < cleanable.min(self.segments.len() - 1) {
            let base = self.segments[index].base_offset;
            let cleaned = self.dir.join(format!("{}.log.cleaned", file_stem(base)));
            let out = std::fs::File::create(&cleaned)?;
            let mut written = 0u64;
            let (mut total, mut kept) = (0u64, 0u64);
            for_each_batch(&self.segments[index], limit, |batch| {
                total += batch.records.len() as u64;
                let records: Vec<&Record> = batch.records.iter().filter(|r| keep(r)).collect();
                if records.is_empty() {
                    return Ok(());
                }
                kept += records.len() as u64;
                let mut buf = BytesMut::new();
                let options = RecordEncodeOptions { version: 2, compression: batch.compression };
                RecordBatchEncoder::encode(&mut buf, records.iter().copied(), &options)
                    .map_err(|e| io::Error::other(format!("re-encoding a compacted batch: {e}")))?;
                out.write_all_at(&buf, written)?;
                written += buf.len() as u64;
                Ok(())
            })?;
            if kept == total {
                drop(out);
                std::fs::remove_file(&cleaned)?;
                index += 1;
                continue;
            }
            out.sync_all()?;
            drop(out);
            report.records_removed += total - kept;
            report.bytes_before += self.segments[index].size();
            report.bytes_after += written;
            report.segments_rewritten += 1;
            if written == 0 && index > 0 {
                // Nothing left: the segment goes (the first one stays, empty, to hold the log start).
                std::fs::remove_file(&cleaned)?;
                self.segments.remove(index).delete()?;
                self.dir_unsynced = true;
                continue;
            }
            let mut replaced = replace_segment(&self.dir, base, &cleaned)?;
            replaced.close();
            self.segments[index] = replaced;
            self.dir_unsynced = true;
            index += 1;
        }
        Ok(report)
    }
}

/// Calls `f` with every batch of `segment`, decoded, one at a time (memory stays bounded by the
/// largest batch).
fn for_each_batch(
    segment: &Segment,
    limit: usize,
    mut f: impl FnMut(&RecordSet) -> io::Result<()>,
) -> Result<(), LogError> {
    let file = segment.handle()?;
    let mut pos = 0u64;
    let mut header = [0u8; HEADER_LEN];
    while pos + HEADER_LEN as u64 <= segment.size() {
        file.read_exact_at(&mut header, pos)?;
        let h = BatchHeader::parse(&header)?;
        let mut buf = vec![0u8; h.total_len()];
        file.read_exact_at(&mut buf, pos)?;
        let mut bytes = Bytes::from(buf);
        let batch = super::records::decode_batch(&mut bytes, limit).map_err(|e| {
            io::Error::other(format!("decoding {} at {pos} for compaction: {e}", segment.path().display()))
        })?;
        f(&batch)?;
        pos += h.total_len() as u64;
    }
    Ok(())
}

/// Makes the fsynced `cleaned` file segment `base` and reopens it with fresh indexes.
fn replace_segment(dir: &std::path::Path, base: i64, cleaned: &std::path::Path) -> Result<Segment, LogError> {
    let stem = file_stem(base);
    for ext in ["index", "timeindex"] {
        match std::fs::remove_file(dir.join(format!("{stem}.{ext}"))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    std::fs::rename(cleaned, dir.join(format!("{stem}.log")))?;
    let (segment, recovered) = Segment::open_and_recover(dir, base)?;
    if recovered.truncated_bytes > 0 {
        return Err(LogError::Io(io::Error::other(format!(
            "a compacted segment failed validation: {}",
            recovered.reason.unwrap_or_default()
        ))));
    }
    Ok(segment)
}
