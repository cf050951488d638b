//! A connector's committed offsets through the REST API (Kafka's `ConnectorOffsets`): a source's
//! from `connect-offsets`, a sink's from its group `connect-<name>`; changed (`PATCH`) or reset
//! (`DELETE`) only while the connector is STOPPED, with Kafka's messages. The worker also keeps
//! the sources' offsets in memory here, as the tasks read and commit them.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::plugin::{set_offset, Config, Kind, Offsets, Plugin};
use super::topics::{OffsetMap, TargetState};
use super::worker::{internal, sink_group, Worker, WorkerError};

impl Worker {
    /// A connector's committed offsets, Kafka's `ConnectorOffsets`: a source's from
    /// `connect-offsets`, a sink's from its group `connect-<name>`.
    pub async fn offsets(&self, name: &str) -> Result<Json, WorkerError> {
        self.ready().await?;
        let state = self.entry(name)?.state();
        let offsets: Vec<Json> = match state.plugin.kind() {
            Kind::Source => self
                .source_offsets(name)
                .into_values()
                .map(|(partition, offset)| json!({"partition": partition, "offset": offset}))
                .collect(),
            Kind::Sink => self
                .client()
                .offset_fetch(&sink_group(name))
                .await
                .map_err(|e| WorkerError::Internal(e.to_string()))?
                .into_iter()
                .map(|((topic, partition), offset)| {
                    json!({"partition": {"kafka_topic": topic, "kafka_partition": partition}, "offset": {"kafka_offset": offset}})
                })
                .collect(),
        };
        Ok(json!({ "offsets": offsets }))
    }

    /// `PATCH` (Some: the new offsets, a null offset removing one) or `DELETE` (None: all) of a
    /// stopped connector's offsets.
    pub async fn modify_offsets(
        &self,
        name: &str,
        changes: Option<Vec<(OffsetMap, Option<OffsetMap>)>>,
    ) -> Result<Json, WorkerError> {
        self.ready().await?;
        let _write = self.writes.lock().await;
        let state = self.entry(name)?.state();
        if state.target != TargetState::Stopped || !state.tasks.is_empty() {
            return Err(WorkerError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        let op = if changes.is_some() { "altered" } else { "reset" };
        match state.plugin.kind() {
            Kind::Source => {
                let changes = changes.unwrap_or_else(|| {
                    self.source_offsets(name).into_values().map(|(partition, _)| (partition, None)).collect()
                });
                if state.plugin == Plugin::FileSource {
                    check_file_offsets(&state.config, &changes)?;
                }
                self.storage.write_offsets(name, &changes).await.map_err(internal)?;
                self.commit_offsets(name, changes);
            }
            Kind::Sink => self.modify_sink_offsets(name, changes).await?,
        }
        // Kafka's file connectors say they manage nothing outside Kafka; the JDBC ones say nothing.
        let message = if matches!(state.plugin, Plugin::FileSource | Plugin::FileSink) {
            format!("The offsets for this connector have been {op} successfully")
        } else {
            format!(
                "The Connect framework-managed offsets for this connector have been {op} successfully. However, if this connector manages offsets externally, they will need to be manually {op} in the system that the connector uses."
            )
        };
        Ok(json!({ "message": message }))
    }

    async fn modify_sink_offsets(
        &self,
        name: &str,
        changes: Option<Vec<(OffsetMap, Option<OffsetMap>)>>,
    ) -> Result<(), WorkerError> {
        let group = sink_group(name);
        let client = self.client();
        let Some(changes) = changes else {
            let deleted = client
                .delete_groups(std::slice::from_ref(&group))
                .await
                .map_err(|e| WorkerError::Internal(e.to_string()))?;
            for (_, result) in deleted {
                // A group that never committed has nothing to delete.
                if let Err(e) = result {
                    if e.code() != Some(69) {
                        return Err(WorkerError::Internal(format!("deleting the offsets of group {group}: {e}")));
                    }
                }
            }
            return Ok(());
        };
        let mut commits = BTreeMap::new();
        for (partition, offset) in changes {
            let topic = partition.get("kafka_topic").and_then(Json::as_str);
            let p = partition.get("kafka_partition").and_then(Json::as_i64).and_then(|p| i32::try_from(p).ok());
            let (Some(topic), Some(p)) = (topic, p) else {
                return Err(WorkerError::BadRequest(
                    "Sink connector partitions need 'kafka_topic' (a string) and 'kafka_partition' (an integer)".into(),
                ));
            };
            let Some(offset) = offset else {
                return Err(WorkerError::BadRequest(
                    "warren cannot remove one partition's committed offset of a sink; reset them all with DELETE"
                        .into(),
                ));
            };
            let Some(o) = offset.get("kafka_offset").and_then(Json::as_i64).filter(|o| *o >= 0) else {
                return Err(WorkerError::BadRequest(
                    "Sink connector offsets need 'kafka_offset', a non-negative integer".into(),
                ));
            };
            commits.insert((topic.to_string(), p), o);
        }
        client.offset_commit(&group, -1, "", &commits).await.map_err(|e| WorkerError::Internal(e.to_string()))
    }

    /// The committed offsets of a source connector's partitions.
    pub fn source_offsets(&self, name: &str) -> Offsets {
        self.offsets.lock().expect("offsets lock").get(name).cloned().unwrap_or_default()
    }

    /// Replaces what the worker knows of a source connector's offsets (a task read them afresh).
    pub fn set_source_offsets(&self, name: &str, offsets: Offsets) {
        self.offsets.lock().expect("offsets lock").insert(name.to_string(), offsets);
    }

    /// Records offsets a task committed (None: removed).
    pub fn commit_offsets(&self, name: &str, offsets: impl IntoIterator<Item = (OffsetMap, Option<OffsetMap>)>) {
        let mut all = self.offsets.lock().expect("offsets lock");
        let mine = all.entry(name.to_string()).or_default();
        for (partition, offset) in offsets {
            set_offset(mine, partition, offset);
        }
    }
}

/// Kafka's FileStreamSource checks of new offsets.
fn check_file_offsets(config: &Config, changes: &[(OffsetMap, Option<OffsetMap>)]) -> Result<(), WorkerError> {
    let file = config.get("file").cloned().unwrap_or_default();
    for (partition, offset) in changes {
        let Some(filename) = partition.get("filename") else {
            return Err(WorkerError::BadRequest("The partition should contain the key 'filename'".into()));
        };
        if filename.as_str() != Some(file.as_str()) {
            return Err(WorkerError::BadRequest(
                "The value for the 'filename' key in the partition should match the configured value for the connector configuration 'file'".into(),
            ));
        }
        if let Some(offset) = offset {
            if offset.get("position").is_none_or(|p| p.as_u64().is_none()) {
                return Err(WorkerError::BadRequest(
                    "The offset should contain the key 'position' with a non-negative integer value".into(),
                ));
            }
        }
    }
    Ok(())
}
