//! A connector config checked as Kafka's worker checks it before creating or updating a
//! connector, and as `PUT /connector-plugins/{p}/config/validate` answers (Kafka's
//! `ConfigInfos`): the framework's keys (name, class, tasks.max, converters, transforms, a sink's
//! topics) and then the connector's own. Errors are per key, in Kafka's words.

use serde_json::{json, Value as Json};

use super::converter::Converter;
use super::plugin::{self, Config, ConfigDef, ConfigErrors, Kind, Plugin};

/// The most tasks one connector may ask for: one worker gains nothing from more, and each
/// costs memory and connections.
pub const MAX_TASKS: i64 = 256;

pub const WORKER_KEY_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

const COMMON: &[ConfigDef] = &[
    ConfigDef::required("name", "STRING", "Globally unique name to use for this connector."),
    ConfigDef::required("connector.class", "STRING", "Name or alias of the class for this connector."),
    ConfigDef::optional("tasks.max", "INT", "1", "Maximum number of tasks to use for this connector."),
    ConfigDef::optional("key.converter", "CLASS", "", "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka."),
    ConfigDef::optional("value.converter", "CLASS", "", "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka."),
    ConfigDef::optional("transforms", "LIST", "", "Aliases for the transformations to be applied to records."),
];

const SINK_COMMON: &[ConfigDef] = &[
    ConfigDef::optional("topics", "LIST", "", "List of topics to consume, separated by commas"),
    ConfigDef::optional("topics.regex", "STRING", "", "Regular expression giving topics to consume."),
];

/// Why a config cannot even be checked: Kafka answers these with 400 before validating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unvalidatable {
    #[error("Connector config {0} contains no connector type")]
    NoClass(String),
    #[error(
        "Failed to find any class that implements Connector and which name matches {0}, available connectors are: {1}"
    )]
    UnknownClass(String, String),
}

/// A checked config.
#[derive(Debug, Clone)]
pub struct Validation {
    pub plugin: Plugin,
    pub errors: ConfigErrors,
    /// Kafka's `ConfigInfos` for the validate endpoint.
    pub infos: Json,
}

impl Validation {
    pub fn error_count(&self) -> usize {
        self.errors.values().map(Vec::len).sum()
    }

    /// Kafka's 400 message for a create or update with errors (None: no errors).
    pub fn failure(&self) -> Option<String> {
        let count = self.error_count();
        if count == 0 {
            return None;
        }
        let mut message = format!("Connector configuration is invalid and contains the following {count} error(s):\n");
        for errors in self.errors.values() {
            for e in errors {
                message.push_str(e);
                message.push('\n');
            }
        }
        message.push_str(
            "You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
        );
        Some(message)
    }
}

/// The plugin `config` names.
pub fn plugin_of(config: &Config) -> Result<Plugin, Unvalidatable> {
    let Some(class) = config.get("connector.class").filter(|c| !c.trim().is_empty()) else {
        return Err(Unvalidatable::NoClass(serde_json::to_string(config).unwrap_or_default()));
    };
    Plugin::find(class).ok_or_else(|| {
        let available = Plugin::ALL.iter().map(|p| p.class()).collect::<Vec<_>>().join(", ");
        Unvalidatable::UnknownClass(class.clone(), available)
    })
}

/// A converter as a connector configures it (`key.converter`, `key.converter.schemas.enable`);
/// the worker's default is JsonConverter with schemas.
pub fn converter(config: &Config, side: &str) -> Result<Converter, String> {
    let class = config.get(&format!("{side}.converter")).map(|s| s.trim()).filter(|s| !s.is_empty());
    let schemas = config.get(&format!("{side}.converter.schemas.enable")).map(String::as_str);
    Converter::from_class(class.unwrap_or(WORKER_KEY_CONVERTER), schemas).map_err(|e| e.to_string())
}

/// Checks `config` as Kafka does.
pub async fn validate(config: &Config) -> Result<Validation, Unvalidatable> {
    let plugin = plugin_of(config)?;
    let mut errors = ConfigErrors::new();
    let mut add = |key: &str, message: String| errors.entry(key.to_string()).or_default().push(message);
    if let Some(name) = config.get("name") {
        if name.trim().is_empty() {
            add("name", "String may not be empty".into());
        } else if name.chars().any(char::is_control) {
            add("name", "String may not contain control sequences".into());
        }
    }
    match config.get("tasks.max").map(|s| s.trim().parse::<i64>()) {
        None => {}
        Some(Ok(n)) if (1..=MAX_TASKS).contains(&n) => {}
        Some(Ok(n)) if n > MAX_TASKS => add(
            "tasks.max",
            format!(
                "Invalid value {n} for configuration tasks.max: warren runs at most {MAX_TASKS} tasks per connector"
            ),
        ),
        Some(Ok(n)) => {
            add("tasks.max", format!("Invalid value {n} for configuration tasks.max: Value must be at least 1"))
        }
        Some(Err(_)) => add(
            "tasks.max",
            format!(
                "Invalid value {} for configuration tasks.max: Not a number of type INT",
                config.get("tasks.max").cloned().unwrap_or_default()
            ),
        ),
    }
    for side in ["key", "value"] {
        if let Err(e) = converter(config, side) {
            add(&format!("{side}.converter"), e);
        }
    }
    if let Err(e) = super::transforms::from_config(config) {
        add("transforms", e);
    }
    if plugin.kind() == Kind::Sink {
        let topics = plugin::list(config, "topics");
        let regex = config.get("topics.regex").map(|s| s.trim()).filter(|s| !s.is_empty());
        match (topics.is_empty(), regex) {
            (true, None) => add("topics", "Must configure one of topics or topics.regex".into()),
            (false, Some(_)) => {
                add("topics", "topics and topics.regex are mutually exclusive options, but both are set.".into())
            }
            (true, Some(r)) => {
                if let Err(e) = regex::Regex::new(&format!("^(?:{r})$")) {
                    add("topics.regex", format!("Invalid value {r} for configuration topics.regex: {e}"));
                }
            }
            (false, None) => {}
        }
    }
    for (key, mut messages) in plugin.validate(config).await {
        errors.entry(key).or_default().append(&mut messages);
    }
    let infos = infos(plugin, config, &errors);
    Ok(Validation { plugin, errors, infos })
}

/// Whether a key holds a secret: shown masked everywhere (Kafka's PASSWORD type prints `[hidden]`).
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password") || key.contains("secret")
}

/// A value with any `password=...` parameter replaced by `mask` (JDBC URLs may carry one).
pub fn mask_url_password(value: &str, mask: &str) -> String {
    let lower = value.to_ascii_lowercase();
    let Some(at) = lower.find("password=") else { return value.to_string() };
    let start = at + "password=".len();
    let end = value[start..].find(['&', ';']).map_or(value.len(), |e| start + e);
    format!("{}{mask}{}", &value[..start], mask_url_password(&value[end..], mask))
}

/// A config with its secrets hidden as Kafka shows PASSWORD values: `[hidden]`.
pub fn hide_secrets(config: &mut serde_json::Map<String, Json>) {
    for (key, value) in config.iter_mut() {
        if let Json::String(text) = value {
            *text = if is_secret(key) { "[hidden]".to_string() } else { mask_url_password(text, "[hidden]") };
        }
    }
}

fn infos(plugin: Plugin, config: &Config, errors: &ConfigErrors) -> Json {
    let simple = plugin.class().rsplit('.').next().unwrap_or_default();
    let mut defs: Vec<(&ConfigDef, &str)> = COMMON.iter().map(|d| (d, "Common")).collect();
    if plugin.kind() == Kind::Sink {
        defs.extend(SINK_COMMON.iter().map(|d| (d, "Common")));
    }
    defs.extend(plugin.config_defs().iter().map(|d| (d, simple)));
    let mut configs: Vec<Json> = Vec::new();
    let mut shown = std::collections::BTreeSet::new();
    for (order, (def, group)) in defs.iter().enumerate() {
        shown.insert(def.name);
        let value = config.get(def.name).map(String::as_str).or(def.default.filter(|d| !d.is_empty()));
        let value = value.map(|v| if def.kind == "PASSWORD" || is_secret(def.name) { "[hidden]" } else { v });
        configs.push(json!({
            "definition": {
                "name": def.name,
                "type": def.kind,
                "required": def.default.is_none(),
                "default_value": def.default,
                "importance": def.importance,
                "documentation": def.documentation,
                "group": group,
                "order": order + 1,
                "width": "NONE",
                "display_name": def.name,
                "dependents": [],
            },
            "value": value_info(def.name, value, errors),
        }));
    }
    for key in errors.keys().filter(|k| !shown.contains(k.as_str())) {
        let value = config.get(key).map(|v| if is_secret(key) { "[hidden]" } else { v.as_str() });
        configs.push(json!({ "definition": null, "value": value_info(key, value, errors) }));
    }
    json!({
        "name": plugin.class(),
        "error_count": errors.values().map(Vec::len).sum::<usize>(),
        "groups": ["Common", "Transforms", simple],
        "configs": configs,
    })
}

fn value_info(name: &str, value: Option<&str>, errors: &ConfigErrors) -> Json {
    json!({
        "name": name,
        "value": value,
        "recommended_values": [],
        "errors": errors.get(name).cloned().unwrap_or_default(),
        "visible": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[tokio::test]
    async fn names_each_mistake_in_kafkas_words() {
        let v = validate(&config(&[("connector.class", "FileStreamSource"), ("file", "/tmp/x"), ("tasks.max", "0")]))
            .await
            .expect("test");
        assert_eq!(v.plugin, Plugin::FileSource);
        assert_eq!(v.errors["topic"], vec!["Missing required configuration \"topic\" which has no default value."]);
        assert_eq!(
            v.errors["tasks.max"],
            vec!["Invalid value 0 for configuration tasks.max: Value must be at least 1"]
        );
        assert_eq!(v.infos["error_count"], 2);
        assert_eq!(v.infos["name"], "org.apache.kafka.connect.file.FileStreamSourceConnector");
        let failure = v.failure().expect("test");
        assert!(failure.starts_with("Connector configuration is invalid and contains the following 2 error(s):\n"));

        let sink = validate(&config(&[("connector.class", "FileStreamSinkConnector"), ("file", "/tmp/y")]))
            .await
            .expect("test");
        assert_eq!(sink.errors["topics"], vec!["Must configure one of topics or topics.regex"]);
        let ok =
            validate(&config(&[("connector.class", Plugin::FileSink.class()), ("file", "/tmp/y"), ("topics", "a")]))
                .await
                .expect("test");
        assert_eq!(ok.error_count(), 0, "{:?}", ok.errors);

        assert!(matches!(validate(&config(&[("file", "x")])).await, Err(Unvalidatable::NoClass(_))));
        let unknown = validate(&config(&[("connector.class", "com.example.Nope")])).await.expect_err("test");
        assert!(unknown
            .to_string()
            .starts_with("Failed to find any class that implements Connector and which name matches com.example.Nope"));
        let bad_converter = validate(&config(&[
            ("connector.class", "FileStreamSource"),
            ("file", "x"),
            ("topic", "t"),
            ("value.converter", "com.example.Avro"),
            ("transforms", "a"),
        ]))
        .await
        .expect("test");
        assert!(bad_converter.errors.contains_key("value.converter"));
        assert!(bad_converter.errors.contains_key("transforms"));
    }

    #[test]
    fn secrets_are_named_by_their_keys() {
        assert!(is_secret("connection.password"));
        assert!(is_secret("sasl.client.SECRET"));
        assert!(!is_secret("connection.user"));
    }
}
