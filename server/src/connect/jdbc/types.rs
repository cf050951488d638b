//! Values between the databases and Connect data: which Connect type a column becomes (by its
//! SQLite declared type or its PostgreSQL type), PostgreSQL's binary wire formats (integers,
//! floats, `numeric`, `timestamp[tz]`, `date`, `time`, `uuid`, `jsonb`), SQLite's dynamically
//! typed cells, Kafka's Decimal bytes (big-endian two's complement of the unscaled value, as
//! Java's `BigInteger.toByteArray` writes it, minimal length) and the date-time text both
//! databases read. Date-times are UTC throughout (Confluent's default `db.timezone`).

use anyhow::{bail, Context};

use crate::connect::data::{Schema, Type, Value, DATE, TIME};

/// What a result column becomes in Connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Boolean,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Bytes,
    /// A `numeric`, at this scale.
    Decimal(u32),
    /// Milliseconds since the epoch in Connect (microseconds inside `db`, for offsets).
    Timestamp,
    Date,
    Time,
}

impl Kind {
    pub fn schema(self, optional: bool) -> Schema {
        let logical = |kind, name: &str| Schema { name: Some(name.into()), version: Some(1), ..Schema::new(kind) };
        let schema = match self {
            Kind::Boolean => Schema::new(Type::Boolean),
            Kind::Int16 => Schema::new(Type::Int16),
            Kind::Int32 => Schema::new(Type::Int32),
            Kind::Int64 => Schema::new(Type::Int64),
            Kind::Float32 => Schema::new(Type::Float32),
            Kind::Float64 => Schema::new(Type::Float64),
            Kind::String => Schema::new(Type::String),
            Kind::Bytes => Schema::new(Type::Bytes),
            Kind::Decimal(scale) => Schema::decimal(scale as i32),
            Kind::Timestamp => Schema::timestamp(),
            Kind::Date => logical(Type::Int32, DATE),
            Kind::Time => logical(Type::Int32, TIME),
        };
        Schema { optional, ..schema }
    }
}

/// The Connect type of a SQLite column by its declared type, following SQLite's affinity rules
/// (a type containing INT is an integer, and so on), with date-time names first because
/// upstream's driver reports them as timestamps. None: no declared type, so the stored values
/// decide.
pub fn sqlite_kind(declared: &str) -> Option<Kind> {
    let d = declared.to_ascii_uppercase();
    let has = |s: &str| d.contains(s);
    Some(if has("BOOL") {
        Kind::Boolean
    } else if has("DATE") || has("TIMESTAMP") {
        Kind::Timestamp
    } else if has("INT") {
        Kind::Int64
    } else if has("CHAR") || has("CLOB") || has("TEXT") {
        Kind::String
    } else if has("BLOB") {
        Kind::Bytes
    } else if has("REAL") || has("FLOA") || has("DOUB") || has("NUMERIC") || has("DECIMAL") {
        Kind::Float64
    } else {
        return None;
    })
}

/// A SQLite value as stored (its storage class).
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Stored {
    /// The Connect type a column of no declared type gets from this value.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Stored::Null => None,
            Stored::Integer(_) => Some(Kind::Int64),
            Stored::Real(_) => Some(Kind::Float64),
            Stored::Text(_) => Some(Kind::String),
            Stored::Blob(_) => Some(Kind::Bytes),
        }
    }

    /// The value as `kind` wants it. SQLite stores anything in any column, so text in an
    /// integer column is parsed, and what cannot be converted fails the poll rather than
    /// producing a record that does not match its schema. Timestamps come out in microseconds.
    pub fn convert(self, kind: Kind, column: &str) -> anyhow::Result<Value> {
        let bad = |what: &str| anyhow::anyhow!("Column {column} holds {what}, which is not a {kind:?}");
        Ok(match (kind, self) {
            (_, Stored::Null) => Value::Null,
            (Kind::Boolean, Stored::Integer(i)) => Value::Boolean(i != 0),
            (Kind::Boolean, Stored::Text(t)) => match t.to_ascii_lowercase().as_str() {
                "true" | "1" => Value::Boolean(true),
                "false" | "0" => Value::Boolean(false),
                _ => return Err(bad(&format!("text '{t}'"))),
            },
            (Kind::Int64, Stored::Integer(i)) => Value::Int(i),
            (Kind::Int64, Stored::Real(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Value::Int(f as i64),
            (Kind::Int64, Stored::Text(t)) => Value::Int(t.trim().parse().map_err(|_| bad(&format!("text '{t}'")))?),
            (Kind::Float64, Stored::Real(f)) => Value::Float(f),
            (Kind::Float64, Stored::Integer(i)) => Value::Float(i as f64),
            (Kind::Float64, Stored::Text(t)) => {
                Value::Float(t.trim().parse().map_err(|_| bad(&format!("text '{t}'")))?)
            }
            (Kind::String, Stored::Text(t)) => Value::String(t),
            (Kind::String, Stored::Integer(i)) => Value::String(i.to_string()),
            (Kind::String, Stored::Real(f)) => Value::String(f.to_string()),
            (Kind::String, Stored::Blob(b)) => Value::String(String::from_utf8_lossy(&b).into_owned()),
            (Kind::Bytes, Stored::Blob(b)) => Value::Bytes(b),
            (Kind::Bytes, Stored::Text(t)) => Value::Bytes(t.into_bytes()),
            (Kind::Timestamp, Stored::Integer(ms)) => Value::Int(ms.saturating_mul(1000)),
            (Kind::Timestamp, Stored::Real(ms)) => Value::Int((ms * 1000.0) as i64),
            (Kind::Timestamp, Stored::Text(t)) => Value::Int(parse_timestamp_ms(&t)? * 1000),
            (_, Stored::Blob(_)) => return Err(bad("a blob")),
            (_, other) => return Err(bad(&format!("{other:?}"))),
        })
    }
}

/// SQLite date-time text as its date functions read it: `YYYY-MM-DD[ HH:MM[:SS[.fff]]]`, also
/// with `T` and a zone, UTC when none, into milliseconds. Sub-millisecond digits round, as
/// SQLite's own `julianday` does, so the offset matches the SQL-side comparison exactly.
pub fn parse_timestamp_ms(text: &str) -> anyhow::Result<i64> {
    let t = text.trim();
    let with_clock = if t.len() == 10 { format!("{t} 00:00") } else { t.to_string() };
    let (head, round_up) = match with_clock.find('.') {
        Some(dot) => {
            let digits = with_clock[dot + 1..].chars().take_while(char::is_ascii_digit).count();
            let fourth = with_clock[dot + 1..].chars().nth(3).filter(|_| digits > 3);
            let cut = dot + 1 + digits.min(3);
            let rest = &with_clock[dot + 1 + digits..];
            (format!("{}{rest}", &with_clock[..cut]), fourth.is_some_and(|c| c >= '5'))
        }
        None => (with_clock, false),
    };
    let ms = crate::time::parse_iso8601_ms(&head).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(ms + i64::from(round_up))
}

fn civil(days: i64) -> String {
    let (y, m, d) = crate::time::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` (UTC) for microseconds since the epoch: the text both
/// databases compare and cast without a zone.
pub fn micros_text(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    format!("{} {}.{:06}", civil(days), clock(rem), micros.rem_euclid(1_000_000))
}

/// `YYYY-MM-DD HH:MM:SS.fff` (UTC) for milliseconds since the epoch.
pub fn millis_text(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    format!("{} {}.{:03}", civil(days), clock(rem), ms.rem_euclid(1000))
}

/// `YYYY-MM-DD` for days since the epoch.
pub fn date_text(days: i64) -> String {
    civil(days)
}

/// `HH:MM:SS.fff` for milliseconds since midnight.
pub fn time_text(ms: i64) -> String {
    format!("{}.{:03}", clock(ms.div_euclid(1000)), ms.rem_euclid(1000))
}

fn clock(secs_of_day: i64) -> String {
    format!("{:02}:{:02}:{:02}", secs_of_day / 3600, secs_of_day % 3600 / 60, secs_of_day % 60)
}

/// Kafka's Decimal bytes for an unscaled integer written in decimal `digits`.
pub fn decimal_bytes(negative: bool, digits: &str) -> Vec<u8> {
    // The magnitude, base 256, little-endian while it grows.
    let mut magnitude: Vec<u8> = Vec::new();
    for d in digits.bytes().filter(u8::is_ascii_digit) {
        let mut carry = u32::from(d - b'0');
        for byte in magnitude.iter_mut() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            magnitude.push(carry as u8);
            carry >>= 8;
        }
    }
    magnitude.push(0); // room for the sign bit
    if negative && magnitude.iter().any(|b| *b != 0) {
        let mut carry = true;
        for byte in magnitude.iter_mut() {
            let (v, c) = (!*byte).overflowing_add(u8::from(carry));
            *byte = v;
            carry = c;
        }
    }
    magnitude.reverse();
    // Minimal length: drop a leading byte that only repeats the next byte's sign bit.
    while magnitude.len() > 1
        && ((magnitude[0] == 0 && magnitude[1] < 0x80) || (magnitude[0] == 0xff && magnitude[1] >= 0x80))
    {
        magnitude.remove(0);
    }
    magnitude
}

/// The decimal text (`-123.45`) of Kafka's Decimal bytes at `scale`.
pub fn decimal_text(bytes: &[u8], scale: u32) -> String {
    let negative = bytes.first().is_some_and(|b| *b >= 0x80);
    let mut magnitude: Vec<u8> = bytes.to_vec();
    if negative {
        // Two's complement back to the magnitude: invert and add one.
        let mut carry = true;
        for byte in magnitude.iter_mut().rev() {
            let (v, c) = (!*byte).overflowing_add(u8::from(carry));
            *byte = v;
            carry = c;
        }
    }
    let mut digits = Vec::new();
    while magnitude.iter().any(|b| *b != 0) {
        let mut rem = 0u32;
        for byte in magnitude.iter_mut() {
            let v = (rem << 8) | u32::from(*byte);
            *byte = (v / 10) as u8;
            rem = v % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    while digits.len() <= scale as usize {
        digits.push(b'0');
    }
    digits.reverse();
    let mut text = String::from_utf8(digits).unwrap_or_default();
    if scale > 0 {
        text.insert(text.len() - scale as usize, '.');
    }
    if negative {
        text.insert(0, '-');
    }
    text
}

/// A PostgreSQL `numeric` as decoded: its unscaled digits and scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Numeric {
    pub negative: bool,
    pub digits: String,
    pub scale: u32,
}

impl Numeric {
    /// Kafka's Decimal bytes at `scale` (not below the value's own scale).
    pub fn to_bytes(&self, scale: u32) -> Value {
        let zeros = "0".repeat(scale.saturating_sub(self.scale) as usize);
        Value::Bytes(decimal_bytes(self.negative, &format!("{}{zeros}", self.digits)))
    }
}

/// PostgreSQL's binary `numeric`: counts, weight and sign, display scale, then base-10000
/// digits; the value is the sum of digit[i] * 10000^(weight - i).
fn numeric(b: &[u8]) -> anyhow::Result<Numeric> {
    let u16_at = |i: usize| b.get(i..i + 2).map(|s| u16::from_be_bytes([s[0], s[1]])).context("short numeric");
    let (ndigits, weight, sign, scale) = (u16_at(0)? as usize, u16_at(2)? as i16, u16_at(4)?, u32::from(u16_at(6)?));
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => bail!("NaN cannot be written as a Kafka Decimal"),
        _ => bail!("Infinity cannot be written as a Kafka Decimal"),
    }
    let group = |e: i32| -> anyhow::Result<u16> {
        let i = i32::from(weight) - e;
        if i < 0 || i as usize >= ndigits {
            return Ok(0);
        }
        u16_at(8 + 2 * i as usize)
    };
    let mut text = String::new();
    let fraction_groups = scale.div_ceil(4) as i32;
    for e in (-fraction_groups..=i32::from(weight).max(0)).rev() {
        text.push_str(&format!("{:04}", group(e)?));
    }
    text.truncate(text.len() - (4 * fraction_groups as usize - scale as usize));
    let digits = text.trim_start_matches('0');
    Ok(Numeric { negative: sign == 0x4000, digits: if digits.is_empty() { "0".into() } else { digits.into() }, scale })
}

/// A PostgreSQL value decoded from its binary form: Connect data, or a `numeric` waiting for
/// its column's scale.
#[derive(Debug, Clone, PartialEq)]
pub enum PgCell {
    Value(Value),
    Numeric(Numeric),
}

/// The Connect type of a PostgreSQL type (sqlx's upper-case name); None: not readable in
/// binary here, to be cast to text.
pub fn pg_kind(type_name: &str) -> Option<Kind> {
    Some(match type_name.to_ascii_uppercase().as_str() {
        "INT2" => Kind::Int16,
        "INT4" => Kind::Int32,
        "INT8" | "OID" => Kind::Int64,
        "FLOAT4" => Kind::Float32,
        "FLOAT8" => Kind::Float64,
        "BOOL" => Kind::Boolean,
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "CITEXT" | "JSON" | "JSONB" | "UUID" | "XML" => Kind::String,
        "BYTEA" => Kind::Bytes,
        "NUMERIC" => Kind::Decimal(0),
        "TIMESTAMP" | "TIMESTAMPTZ" => Kind::Timestamp,
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        _ => return None,
    })
}

/// Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One binary PostgreSQL value of type `type_name` (an enum's label is text too).
pub fn pg_decode(type_name: &str, kind: Kind, b: &[u8]) -> anyhow::Result<PgCell> {
    let fixed = |n: usize| -> anyhow::Result<[u8; 8]> {
        let mut out = [0u8; 8];
        out[8 - n..].copy_from_slice(b.get(..n).with_context(|| format!("short {type_name} value"))?);
        Ok(out)
    };
    let int = |n: usize| -> anyhow::Result<i64> {
        let raw = i64::from_be_bytes(fixed(n)?);
        let shift = 64 - 8 * n as u32;
        Ok(if type_name.eq_ignore_ascii_case("OID") { raw } else { (raw << shift) >> shift })
    };
    let text = || String::from_utf8(b.to_vec()).context("text that is not UTF-8");
    Ok(PgCell::Value(match kind {
        Kind::Int16 => Value::Int(int(2)?),
        Kind::Int32 => Value::Int(int(4)?),
        Kind::Int64 if type_name.eq_ignore_ascii_case("OID") => Value::Int(int(4)?),
        Kind::Int64 => Value::Int(int(8)?),
        Kind::Float32 => Value::Float(f64::from(f32::from_bits(int(4)? as u32))),
        Kind::Float64 => Value::Float(f64::from_bits(int(8)? as u64)),
        Kind::Boolean => Value::Boolean(b.first().is_some_and(|v| *v != 0)),
        Kind::Bytes => Value::Bytes(b.to_vec()),
        Kind::Decimal(_) => return Ok(PgCell::Numeric(numeric(b)?)),
        Kind::Timestamp => {
            let micros = int(8)?;
            if micros == i64::MAX || micros == i64::MIN {
                bail!("an infinite {type_name} cannot be written as a Kafka Timestamp");
            }
            Value::Int(micros + PG_EPOCH_MICROS)
        }
        Kind::Date => Value::Int(int(4)? + 10_957),
        Kind::Time => Value::Int(int(8)?.div_euclid(1000)),
        Kind::String => match type_name.to_ascii_uppercase().as_str() {
            "UUID" if b.len() == 16 => {
                let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                Value::String(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
            }
            // jsonb's binary form is a version byte, then the text.
            "JSONB" => Value::String(String::from_utf8(b.get(1..).unwrap_or_default().to_vec())?),
            _ => Value::String(text()?),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_bytes_match_java() {
        let check = |negative, digits: &str, want: &[u8]| {
            assert_eq!(decimal_bytes(negative, digits), want, "{negative} {digits}");
            let scale = 2;
            let text = decimal_text(want, scale);
            let mut expect = format!("{:0>3}", digits.trim_start_matches('0'));
            expect.insert(expect.len() - 2, '.');
            if negative && !digits.trim_start_matches('0').is_empty() {
                expect.insert(0, '-');
            }
            assert_eq!(text, expect);
        };
        check(false, "12345", &[0x30, 0x39]);
        check(false, "0", &[0]);
        check(false, "128", &[0, 0x80]);
        check(true, "128", &[0x80]);
        check(true, "129", &[0xff, 0x7f]);
        check(true, "1", &[0xff]);
        check(false, "255", &[0, 0xff]);
        check(false, "123456789012345678901234567890", &decimal_bytes(false, "123456789012345678901234567890"));
    }

    #[test]
    fn numeric_binary() {
        // 12345.678: ndigits 3, weight 1, positive, dscale 3, digits 1 2345 6780.
        let b = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c];
        assert_eq!(numeric(&b).expect("numeric"), Numeric { negative: false, digits: "12345678".into(), scale: 3 });
        // -0.05: ndigits 1, weight -1, negative, dscale 2, digit 500.
        let b = [0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x01, 0xf4];
        assert_eq!(numeric(&b).expect("numeric"), Numeric { negative: true, digits: "5".into(), scale: 2 });
        // 0 at scale 0.
        assert_eq!(numeric(&[0, 0, 0, 0, 0, 0, 0, 0]).expect("zero").digits, "0");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp_ms("1970-01-01 00:00:01.5").expect("ts"), 1500);
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:01.2345Z").expect("ts"), 1235);
        assert_eq!(parse_timestamp_ms("1970-01-02").expect("ts"), 86_400_000);
        assert_eq!(micros_text(1_500_001), "1970-01-01 00:00:01.500001");
        assert_eq!(millis_text(-1), "1969-12-31 23:59:59.999");
        assert_eq!(time_text(3_723_004), "01:02:03.004");
    }
}
