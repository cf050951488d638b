//! Kafka's file connectors: `FileStreamSource` tails a file into a topic, one record per line,
//! remembering the byte position after each line under partition `{"filename": file}` (offset
//! `{"position": n}`), so a restart neither repeats nor skips a line; `FileStreamSink` appends
//! each record's value to a file, one line per record.
//!
//! As Kafka's task does, the source splits lines on `\n`, `\r\n` or a lone `\r`, and holds back a
//! last line that has no terminator yet. Positions count bytes (Kafka counts chars, which is the
//! same for ASCII). Reads go through `read_at` on a blocking thread, and nothing of the task's
//! state changes until a read has returned, so a dropped poll loses nothing. warren runs as a
//! service: `file` is required (Kafka falls back to stdin and stdout).

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use super::data::{Schema, Type, Value};
use super::plugin::{self, offset_of, Config, ConfigDef, ConfigErrors, Offsets, SinkTask, SourceRecord, SourceTask};
use super::topics::OffsetMap;
use super::transforms::ConnectRecord;

pub const SOURCE_CONFIG: &[ConfigDef] = &[
    ConfigDef::required("file", "STRING", "Source filename."),
    ConfigDef::required("topic", "STRING", "The topic to publish data to"),
    ConfigDef::optional(
        "batch.size",
        "INT",
        "2000",
        "The maximum number of records the source task can read from the file each time it is polled",
    ),
];

pub const SINK_CONFIG: &[ConfigDef] = &[ConfigDef::required("file", "STRING", "Destination filename.")];

/// How long a source waits when the file has no new line (Kafka waits a second).
const IDLE_WAIT: Duration = Duration::from_millis(250);
/// The most bytes one read takes in.
const READ_BYTES: usize = 1 << 20;

pub fn validate_source(config: &Config) -> ConfigErrors {
    let mut errors = ConfigErrors::new();
    plugin::require(config, "file", &mut errors);
    plugin::require(config, "topic", &mut errors);
    let batch: i64 = plugin::number(config, "batch.size", 2000, &mut errors);
    if batch < 1 {
        errors
            .entry("batch.size".into())
            .or_default()
            .push(format!("Invalid value {batch} for configuration batch.size: Value must be at least 1"));
    }
    errors
}

pub fn validate_sink(config: &Config) -> ConfigErrors {
    let mut errors = ConfigErrors::new();
    plugin::require(config, "file", &mut errors);
    errors
}

/// A running FileStreamSource task.
pub struct FileSourceTask {
    path: PathBuf,
    filename: String,
    topic: String,
    batch_size: usize,
    file: Option<Arc<std::fs::File>>,
    /// The byte position of the first byte in `pending`: where the next line starts.
    position: u64,
    /// Bytes read but not yet emitted as lines.
    pending: Vec<u8>,
}

impl FileSourceTask {
    pub fn start(config: &Config, offsets: &Offsets) -> anyhow::Result<FileSourceTask> {
        let filename = config.get("file").cloned().unwrap_or_default();
        let mut errors = ConfigErrors::new();
        let batch_size: usize = plugin::number(config, "batch.size", 2000, &mut errors);
        let mut task = FileSourceTask {
            path: PathBuf::from(&filename),
            topic: config.get("topic").cloned().unwrap_or_default(),
            batch_size: batch_size.max(1),
            file: None,
            position: 0,
            pending: Vec::new(),
            filename,
        };
        if let Some(offset) = offset_of(offsets, &task.partition()) {
            task.position = offset
                .get("position")
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| anyhow::anyhow!("Offset position is the incorrect type"))?;
        }
        Ok(task)
    }

    fn partition(&self) -> OffsetMap {
        let mut map = OffsetMap::new();
        map.insert("filename".into(), json!(self.filename));
        map
    }

    /// Splits complete lines off `pending`: (line, bytes it took with its terminator). A `\r`
    /// ending the buffer waits: it may be the first half of `\r\n`.
    fn lines(&self, limit: usize) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = &self.pending;
        let mut i = 0;
        while i < bytes.len() && out.len() < limit {
            let end = match bytes[i] {
                b'\n' => i + 1,
                b'\r' if i + 1 < bytes.len() => i + 1 + usize::from(bytes[i + 1] == b'\n'),
                b'\r' => break,
                _ => {
                    i += 1;
                    continue;
                }
            };
            out.push((String::from_utf8_lossy(&bytes[start..i]).into_owned(), end - start));
            start = end;
            i = end;
        }
        out
    }
}

impl SourceTask for FileSourceTask {
    async fn poll(&mut self) -> anyhow::Result<Vec<SourceRecord>> {
        if self.file.is_none() {
            match std::fs::File::open(&self.path) {
                Ok(file) => self.file = Some(Arc::new(file)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(file = %self.path.display(), "couldn't find file, waiting for it to be created");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return Ok(Vec::new());
                }
                Err(e) => return Err(e).with_context(|| format!("cannot open {}", self.path.display())),
            }
        }
        let mut lines = self.lines(self.batch_size);
        if lines.is_empty() {
            let file = Arc::clone(self.file.as_ref().expect("opened above"));
            let at = self.position + self.pending.len() as u64;
            let read = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; READ_BYTES];
                let n = file.read_at(&mut buf, at)?;
                buf.truncate(n);
                Ok::<_, std::io::Error>(buf)
            })
            .await
            .context("file read thread")?
            .with_context(|| format!("cannot read {}", self.path.display()))?;
            if read.is_empty() {
                tokio::time::sleep(IDLE_WAIT).await;
                return Ok(Vec::new());
            }
            self.pending.extend_from_slice(&read);
            lines = self.lines(self.batch_size);
        }
        if lines.is_empty() {
            // Only part of a line so far: its end comes with a later read.
            return Ok(Vec::new());
        }
        let now = crate::monitor::now_ms();
        let mut consumed = 0;
        let last = lines.len() - 1;
        let mut records = Vec::with_capacity(lines.len());
        for (i, (line, taken)) in lines.into_iter().enumerate() {
            consumed += taken;
            // One poll is written in one transaction: only its last position needs keeping.
            let (partition, offset) = if i == last {
                let mut offset = OffsetMap::new();
                offset.insert("position".into(), json!(self.position + consumed as u64));
                (self.partition(), Some(offset))
            } else {
                (OffsetMap::new(), None)
            };
            records.push(SourceRecord {
                partition,
                offset,
                topic: self.topic.clone(),
                key_schema: None,
                key: Value::Null,
                value_schema: Some(Schema::new(Type::String)),
                value: Value::String(line),
                timestamp: Some(now),
            });
        }
        self.pending.drain(..consumed);
        self.position += consumed as u64;
        Ok(records)
    }
}

/// A running FileStreamSink task.
pub struct FileSinkTask {
    out: std::io::BufWriter<std::fs::File>,
}

impl FileSinkTask {
    pub fn start(config: &Config) -> anyhow::Result<FileSinkTask> {
        let path = config.get("file").cloned().unwrap_or_default();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("Couldn't find or create file '{path}' for FileStreamSinkTask"))?;
        Ok(FileSinkTask { out: std::io::BufWriter::with_capacity(1 << 20, file) })
    }
}

impl SinkTask for FileSinkTask {
    async fn put(&mut self, records: Vec<ConnectRecord>) -> anyhow::Result<()> {
        for record in records {
            let mut line = java_string(&record.value);
            line.push('\n');
            self.out.write_all(line.as_bytes()).context("writing the sink file")?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        // Written to the OS, the lines survive a crash of the process (not of the machine).
        self.out.flush().context("writing the sink file")
    }
}

/// A value as Java's `toString` prints it, which is what Kafka's file sink writes.
pub fn java_string(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e7 => format!("{f:.1}"),
        Value::Float(f) => f.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(java_string).collect::<Vec<_>>().join(", ")),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}={}", java_string(k), java_string(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Struct(fields) => format!(
            "Struct{{{}}}",
            fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{k}={}", java_string(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &std::path::Path, offsets: &Offsets) -> FileSourceTask {
        let config: Config =
            [("file", dir.join("in.txt").to_str().expect("test")), ("topic", "t"), ("batch.size", "3")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        FileSourceTask::start(&config, offsets).expect("test")
    }

    /// Each line, and the position after the poll's last line (on that line only).
    fn lines(records: &[SourceRecord]) -> Vec<(String, Option<u64>)> {
        records
            .iter()
            .map(|r| {
                let Value::String(s) = &r.value else { panic!("not a string") };
                (s.clone(), r.offset.as_ref().map(|o| o["position"].as_u64().expect("test")))
            })
            .collect()
    }

    #[tokio::test]
    async fn source_splits_lines_as_kafka_does_and_resumes_from_its_offset() {
        let dir = tempfile::tempdir().expect("test");
        let mut task = source(dir.path(), &Offsets::new());
        assert!(task.poll().await.expect("test").is_empty(), "no file yet: wait, do not fail");
        std::fs::write(dir.path().join("in.txt"), "a\r\nbb\rc\nd\r").expect("test");
        let first = task.poll().await.expect("test");
        assert_eq!(lines(&first), vec![("a".into(), None), ("bb".into(), None), ("c".into(), Some(8))]);
        // `d\r` may be the start of `d\r\n`: it waits for the next byte.
        assert!(task.poll().await.expect("test").is_empty());
        let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join("in.txt")).expect("test");
        f.write_all(b"\nlast-without-newline").expect("test");
        let second = task.poll().await.expect("test");
        assert_eq!(lines(&second), vec![("d".into(), Some(11))]);
        assert!(task.poll().await.expect("test").is_empty(), "an unterminated line waits");
        assert_eq!(first[2].partition["filename"], json!(dir.path().join("in.txt").to_str().expect("test")));

        // A new task from a committed offset after "bb" starts at "c".
        let mut offsets = Offsets::new();
        let partition = first[2].partition.clone();
        offsets.insert(
            super::plugin::partition_key(&partition),
            (partition, [("position".to_string(), json!(6))].into_iter().collect()),
        );
        let mut again = source(dir.path(), &offsets);
        assert_eq!(lines(&again.poll().await.expect("test")), vec![("c".into(), None), ("d".into(), Some(11))]);
    }

    #[tokio::test]
    async fn sink_appends_one_line_per_value() {
        let dir = tempfile::tempdir().expect("test");
        let path = dir.path().join("out.txt");
        let config: Config = [("file".to_string(), path.to_str().expect("test").to_string())].into();
        let mut sink = FileSinkTask::start(&config).expect("test");
        let record = |value| ConnectRecord {
            topic: "t".into(),
            partition: Some(0),
            offset: Some(0),
            timestamp: None,
            key_schema: None,
            key: Value::Null,
            value_schema: None,
            value,
        };
        let records = vec![
            record(Value::String("x".into())),
            record(Value::Null),
            record(Value::Struct(vec![("a".into(), Value::Int(1)), ("b".into(), Value::String("y".into()))])),
        ];
        sink.put(records).await.expect("test");
        sink.flush().await.expect("test");
        assert_eq!(std::fs::read_to_string(&path).expect("test"), "x\nnull\nStruct{a=1,b=y}\n");
        assert!(FileSinkTask::start(&[("file".to_string(), "/nonexistent/dir/x".to_string())].into()).is_err());
    }
}
