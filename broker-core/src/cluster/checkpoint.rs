//! Per-log-dir checkpoint files in Kafka's text format (`version\ncount\n(topic partition offset\n)*`)
//! and the clean-shutdown marker.
//!
//! `recovery-point-offset-checkpoint` says how far each log was fsynced, `replication-offset-checkpoint`
//! holds high watermarks, `log-start-offset-checkpoint` log start offsets. All are written
//! atomically (temp file, fsync, rename).

use std::collections::HashMap;
use std::io;
use std::path::Path;

use crate::log::write_atomically;

pub const RECOVERY_POINT: &str = "recovery-point-offset-checkpoint";
pub const HIGH_WATERMARK: &str = "replication-offset-checkpoint";
pub const LOG_START: &str = "log-start-offset-checkpoint";
pub const CLEAN_SHUTDOWN: &str = ".kafka_cleanshutdown";

pub type Offsets = HashMap<(String, i32), i64>;

pub fn read(dir: &Path, name: &str) -> io::Result<Offsets> {
    let text = match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Offsets::new()),
        Err(e) => return Err(e),
    };
    let mut out = Offsets::new();
    for line in text.lines().skip(2) {
        // Topic names cannot contain spaces, so the last two fields are partition and offset.
        let mut parts = line.rsplitn(3, ' ');
        let (Some(offset), Some(partition), Some(topic)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if let (Ok(partition), Ok(offset)) = (partition.parse(), offset.parse()) {
            out.insert((topic.to_string(), partition), offset);
        }
    }
    Ok(out)
}

pub fn write(dir: &Path, name: &str, offsets: &[(String, i32, i64)]) -> io::Result<()> {
    let mut text = format!("0\n{}\n", offsets.len());
    for (topic, partition, offset) in offsets {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    write_atomically(&dir.join(name), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), HIGH_WATERMARK, &[("a.b-c".into(), 0, 10), ("x".into(), 3, 7)]).expect("write");
        let read = read(dir.path(), HIGH_WATERMARK).expect("read");
        assert_eq!(read.get(&("a.b-c".to_string(), 0)), Some(&10));
        assert_eq!(read.get(&("x".to_string(), 3)), Some(&7));
        assert!(super::read(dir.path(), LOG_START).expect("missing is empty").is_empty());
    }
}
