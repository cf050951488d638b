//! ListOffsets v0, which sarama (Burrow 1.2.1) always sends and `kafka-protocol` 0.18 no longer
//! decodes. Request (header v1): `replica_id i32, [topic string, [partition i32, timestamp i64,
//! max_num_offsets i32]]`; response (header v0): `[topic string, [partition i32, error_code i16,
//! [offset i64]]]`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::ProtocolError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRequest {
    pub partition: i32,
    pub timestamp: i64,
    pub max_num_offsets: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub replica_id: i32,
    pub topics: Vec<(String, Vec<PartitionRequest>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionResponse {
    pub partition: i32,
    pub error_code: i16,
    pub offsets: Vec<i64>,
}

fn err(reason: &str) -> ProtocolError {
    ProtocolError::Decode { what: "ListOffsets v0", reason: reason.into() }
}

fn need(buf: &Bytes, n: usize) -> Result<(), ProtocolError> {
    if buf.remaining() < n {
        Err(err("truncated"))
    } else {
        Ok(())
    }
}

/// Array lengths are checked against the bytes left before anything is allocated.
fn array_len(buf: &mut Bytes, min_item: usize) -> Result<usize, ProtocolError> {
    need(buf, 4)?;
    let n = buf.get_i32();
    let n = usize::try_from(n).map_err(|_| err("negative array length"))?;
    if n.saturating_mul(min_item) > buf.remaining() {
        return Err(err("array longer than the request"));
    }
    Ok(n)
}

fn string(buf: &mut Bytes) -> Result<String, ProtocolError> {
    need(buf, 2)?;
    let len = usize::try_from(buf.get_i16()).map_err(|_| err("null topic name"))?;
    need(buf, len)?;
    String::from_utf8(buf.split_to(len).to_vec()).map_err(|_| err("topic name is not UTF-8"))
}

pub fn decode(body: &mut Bytes) -> Result<Request, ProtocolError> {
    need(body, 4)?;
    let replica_id = body.get_i32();
    let n = array_len(body, 6)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let name = string(body)?;
        let np = array_len(body, 16)?;
        let mut parts = Vec::with_capacity(np);
        for _ in 0..np {
            need(body, 16)?;
            parts.push(PartitionRequest {
                partition: body.get_i32(),
                timestamp: body.get_i64(),
                max_num_offsets: body.get_i32(),
            });
        }
        topics.push((name, parts));
    }
    Ok(Request { replica_id, topics })
}

/// A whole response frame (size prefix and header v0 included).
pub fn encode(correlation_id: i32, topics: &[(String, Vec<PartitionResponse>)]) -> BytesMut {
    let mut body = BytesMut::new();
    body.put_i32(correlation_id);
    body.put_i32(topics.len() as i32);
    for (name, parts) in topics {
        body.put_i16(name.len() as i16);
        body.put_slice(name.as_bytes());
        body.put_i32(parts.len() as i32);
        for p in parts {
            body.put_i32(p.partition);
            body.put_i16(p.error_code);
            body.put_i32(p.offsets.len() as i32);
            for o in &p.offsets {
                body.put_i64(*o);
            }
        }
    }
    let mut frame = BytesMut::with_capacity(body.len() + 4);
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(&body);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_sarama_sends_and_rejects_lies() {
        let mut b = BytesMut::new();
        b.put_i32(-1);
        b.put_i32(1);
        b.put_i16(3);
        b.put_slice(b"abc");
        b.put_i32(2);
        for (p, ts) in [(0, -1i64), (1, -2)] {
            b.put_i32(p);
            b.put_i64(ts);
            b.put_i32(1);
        }
        let req = decode(&mut b.clone().freeze()).expect("decode");
        assert_eq!(req.topics[0].0, "abc");
        assert_eq!(req.topics[0].1[1], PartitionRequest { partition: 1, timestamp: -2, max_num_offsets: 1 });
        let mut lie = BytesMut::new();
        lie.put_i32(-1);
        lie.put_i32(i32::MAX);
        assert!(decode(&mut lie.freeze()).is_err());
        let frame =
            encode(9, &[("abc".into(), vec![PartitionResponse { partition: 0, error_code: 0, offsets: vec![42] }])]);
        assert_eq!(frame.len(), 4 + 4 + 4 + 2 + 3 + 4 + 4 + 2 + 4 + 8);
    }
}
