//! How the message browser shows keys, values and headers: as text, JSON, hex or base64. When the
//! bytes are not what the chosen format expects (the serialization mismatch users meet in real
//! life: Avro or Protobuf read as text, a string read as JSON), it says so in plain words and
//! shows the bytes in hex instead of garbage. Everything returned here is plain text; the
//! templates escape it.

use base64::Engine;

/// A display format the user picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Hex,
    Base64,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format, String> {
        match text {
            "" | "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "hex" => Ok(Format::Hex),
            "base64" => Ok(Format::Base64),
            other => Err(format!("format '{other}' is not text, json, hex or base64")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Hex => "hex",
            Format::Base64 => "base64",
        }
    }
}

/// Bytes shown in a format, or a note explaining why they are shown otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub text: String,
    /// Set when the bytes did not decode as the chosen format.
    pub note: Option<String>,
}

const MAX_SHOWN: usize = 64 * 1024;

pub fn show(bytes: Option<&[u8]>, format: Format) -> Shown {
    let Some(bytes) = bytes else {
        return Shown { text: "null".into(), note: Some("null (no bytes at all)".into()) };
    };
    let clipped = &bytes[..bytes.len().min(MAX_SHOWN)];
    let clip_note =
        (bytes.len() > MAX_SHOWN).then(|| format!("showing the first {MAX_SHOWN} of {} bytes", bytes.len()));
    let shown = match format {
        Format::Hex => Shown { text: hex(clipped), note: None },
        Format::Base64 => Shown { text: base64::engine::general_purpose::STANDARD.encode(clipped), note: None },
        Format::Text => match std::str::from_utf8(clipped) {
            Ok(text) if !text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) => {
                Shown { text: text.to_string(), note: None }
            }
            Ok(_) => Shown {
                text: hex(clipped),
                note: Some("contains control characters, so it is probably not text: shown as hex".into()),
            },
            Err(e) => Shown {
                text: hex(clipped),
                note: Some(format!(
                    "not UTF-8 text (invalid byte at position {}): shown as hex; try another format",
                    e.valid_up_to()
                )),
            },
        },
        Format::Json => match serde_json::from_slice::<serde_json::Value>(clipped) {
            Ok(value) => Shown { text: serde_json::to_string_pretty(&value).unwrap_or_default(), note: None },
            Err(e) => {
                let text_ok = std::str::from_utf8(clipped).is_ok();
                Shown {
                    text: if text_ok { String::from_utf8_lossy(clipped).into_owned() } else { hex(clipped) },
                    note: Some(format!("not JSON ({e}): shown as {}", if text_ok { "text" } else { "hex" })),
                }
            }
        },
    };
    match clip_note {
        Some(clip) => Shown { note: Some(shown.note.map_or(clip.clone(), |n| format!("{n}; {clip}"))), ..shown },
        None => shown,
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(if i % 16 == 0 { '\n' } else { ' ' });
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_mismatches() {
        assert_eq!(show(Some(b"hello"), Format::Text), Shown { text: "hello".into(), note: None });
        assert_eq!(show(Some(b"{\"a\":1}"), Format::Json).text, "{\n  \"a\": 1\n}");
        assert_eq!(show(Some(&[0, 255]), Format::Hex).text, "00 ff");
        assert_eq!(show(Some(b"hi"), Format::Base64).text, "aGk=");
        let avro = show(Some(&[0x02, 0xc3, 0x28, 0x10]), Format::Text);
        assert!(avro.note.as_deref().is_some_and(|n| n.contains("not UTF-8")), "{avro:?}");
        assert_eq!(avro.text, "02 c3 28 10");
        let plain = show(Some(b"plain words"), Format::Json);
        assert!(plain.note.as_deref().is_some_and(|n| n.starts_with("not JSON")), "{plain:?}");
        assert_eq!(plain.text, "plain words");
        assert_eq!(show(None, Format::Text).text, "null");
        assert!(Format::parse("xml").is_err());
        let big = vec![b'a'; MAX_SHOWN + 10];
        assert!(show(Some(&big), Format::Text).note.is_some_and(|n| n.contains("first")));
    }
}
