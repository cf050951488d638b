"""Independent reader of __consumer_offsets, written from Kafka's published record schemas
(shared/docs/kafka-protocol.md section 9) with struct only: it shares no code with warren.

Usage: read_consumer_offsets.py BOOTSTRAP
Assigns every partition of __consumer_offsets to a group-less kafka-python consumer, reads from the
beginning up to the end offsets taken at start, decodes every key and value, and prints one JSON object:
  commits     [{group, topic, partition, offset, leader_epoch, metadata, commit_timestamp,
                expire_timestamp, value_version, record_partition, record_offset}]
  groups      [{group, protocol_type, generation, protocol, leader, state_timestamp, members: [{member_id,
                group_instance_id, client_id, client_host, rebalance_timeout, session_timeout, subscription,
                assignment: {topic: [partitions]}}], value_version, record_partition, record_offset}]
  tombstones  [{kind: "offset"|"group", group, topic?, partition?, record_partition, record_offset}]
  undecodable int, with the reasons in undecodable_details
  misplaced   [{group, expected_partition, record_partition, record_offset}]: records whose partition is not
              abs(java_hashCode(group)) % 50
  partition_count, end_offsets {"partition": offset}
Lists are in log order (partition, then offset). Exits non-zero on any error or after 55 s.
Run with Debian's /usr/bin/python3 (python3-kafka 2.0.2).
"""
import json
import os
import signal
import struct
import sys
import time
import traceback

from kafka import KafkaConsumer, TopicPartition

TOPIC = "__consumer_offsets"
OFFSETS_TOPIC_NUM_PARTITIONS = 50  # Kafka's offsets.topic.num.partitions default
DEADLINE_S = 55
READ_S = 40


def fail(msg):
    sys.stderr.write("read_consumer_offsets: %s\n" % msg)
    sys.stderr.flush()
    os._exit(2)


def on_alarm(signum, frame):
    fail("timed out after %d s" % DEADLINE_S)


# ---------------------------------------------------------------- partitioning


def java_string_hash(s):
    """Java String.hashCode: h = 31*h + c over UTF-16 code units, wrapping i32."""
    data = s.encode("utf-16-be")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h


def kafka_abs(n):
    """org.apache.kafka.common.utils.Utils.abs: Integer.MIN_VALUE maps to 0."""
    return 0 if n == -(1 << 31) else abs(n)


def partition_for(group, num_partitions=OFFSETS_TOPIC_NUM_PARTITIONS):
    return kafka_abs(java_string_hash(group)) % num_partitions


# ---------------------------------------------------------------- primitive decoding


class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError("need %d bytes at %d, have %d" % (n, self.pos, len(self.data) - self.pos))
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        shift = 0
        value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 28:
                raise DecodeError("unsigned varint too long")

    def _utf8(self, raw):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError("bad utf-8: %s" % e)

    def string(self):
        n = self.i16()
        if n < 0:
            raise DecodeError("null where a non-nullable string is required")
        return self._utf8(self.take(n))

    def nullable_string(self):
        n = self.i16()
        if n == -1:
            return None
        if n < 0:
            raise DecodeError("string length %d" % n)
        return self._utf8(self.take(n))

    def compact_string(self, nullable=False):
        n = self.uvarint()
        if n == 0:
            if nullable:
                return None
            raise DecodeError("null where a non-nullable compact string is required")
        return self._utf8(self.take(n - 1))

    def nullable_bytes(self):
        n = self.i32()
        if n == -1:
            return None
        if n < 0:
            raise DecodeError("bytes length %d" % n)
        return self.take(n)

    def tagged_fields(self):
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self.take(self.uvarint())

    def array_len(self):
        n = self.i32()
        if n < 0:
            raise DecodeError("array length %d" % n)
        return n

    def end(self, what):
        if self.pos != len(self.data):
            raise DecodeError("%d trailing bytes after %s" % (len(self.data) - self.pos, what))


# ---------------------------------------------------------------- record schemas


def decode_key(key):
    """(kind, fields) for OffsetCommitKey v0/v1 and GroupMetadataKey v2."""
    if key is None:
        raise DecodeError("null key")
    r = Reader(key)
    version = r.i16()
    if version in (0, 1):
        fields = {"group": r.string(), "topic": r.string(), "partition": r.i32()}
        r.end("OffsetCommitKey v%d" % version)
        return "offset", fields
    if version == 2:
        fields = {"group": r.string()}
        r.end("GroupMetadataKey v2")
        return "group", fields
    raise DecodeError("unknown key version %d" % version)


def decode_offset_value(value):
    r = Reader(value)
    v = r.i16()
    out = {"value_version": v, "leader_epoch": -1, "expire_timestamp": None}
    if v in (0, 1, 2):
        out["offset"] = r.i64()
        out["metadata"] = r.string()
        out["commit_timestamp"] = r.i64()
        if v == 1:
            out["expire_timestamp"] = r.i64()
    elif v == 3:
        out["offset"] = r.i64()
        out["leader_epoch"] = r.i32()
        out["metadata"] = r.string()
        out["commit_timestamp"] = r.i64()
    elif v == 4:  # flexible: compact metadata string and a tag buffer
        out["offset"] = r.i64()
        out["leader_epoch"] = r.i32()
        out["metadata"] = r.compact_string()
        out["commit_timestamp"] = r.i64()
        r.tagged_fields()
    else:
        raise DecodeError("unknown OffsetCommitValue version %d" % v)
    r.end("OffsetCommitValue v%d" % v)
    return out


def decode_assignment(data):
    """ConsumerProtocol assignment: i16 version, [string topic, [i32 partition]], bytes userData."""
    if data is None or len(data) == 0:
        return {}
    r = Reader(data)
    version = r.i16()
    if version < 0:
        raise DecodeError("assignment version %d" % version)
    out = {}
    for _ in range(r.array_len()):
        topic = r.string()
        parts = [r.i32() for _ in range(r.array_len())]
        out.setdefault(topic, []).extend(parts)
    r.nullable_bytes()  # userData
    if version == 0:
        r.end("ConsumerProtocolAssignment v0")
    return {t: sorted(ps) for t, ps in sorted(out.items())}


def decode_subscription(data):
    """ConsumerProtocol subscription: i16 version, [string topic], bytes userData, then (v1+) owned partitions,
    (v2+) generation, (v3+) rack. Only version and topics are reported."""
    if data is None or len(data) == 0:
        return None
    r = Reader(data)
    version = r.i16()
    if version < 0:
        raise DecodeError("subscription version %d" % version)
    topics = [r.string() for _ in range(r.array_len())]
    r.nullable_bytes()  # userData
    if version == 0:
        r.end("ConsumerProtocolSubscription v0")
    return {"version": version, "topics": topics}


def decode_group_value(value):
    r = Reader(value)
    v = r.i16()
    if v not in (0, 1, 2, 3):
        raise DecodeError("unknown GroupMetadataValue version %d" % v)
    out = {"value_version": v}
    out["protocol_type"] = r.string()
    out["generation"] = r.i32()
    out["protocol"] = r.nullable_string()
    out["leader"] = r.nullable_string()
    out["state_timestamp"] = r.i64() if v >= 2 else None
    members = []
    for _ in range(r.array_len()):
        m = {"member_id": r.string()}
        m["group_instance_id"] = r.nullable_string() if v >= 3 else None
        m["client_id"] = r.string()
        m["client_host"] = r.string()
        m["rebalance_timeout"] = r.i32() if v >= 1 else None
        m["session_timeout"] = r.i32()
        subscription = r.nullable_bytes()
        assignment = r.nullable_bytes()
        if out["protocol_type"] == "consumer":
            m["subscription"] = decode_subscription(subscription)
            m["assignment"] = decode_assignment(assignment)
        else:
            m["subscription"] = None if subscription is None else subscription.hex()
            m["assignment"] = None if assignment is None else assignment.hex()
        members.append(m)
    out["members"] = members
    r.end("GroupMetadataValue v%d" % v)
    return out


# ---------------------------------------------------------------- reading


def main():
    if len(sys.argv) != 2:
        fail("usage: read_consumer_offsets.py BOOTSTRAP")
    bootstrap = sys.argv[1]
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(DEADLINE_S)
    start = time.monotonic()

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        client_id="read-consumer-offsets",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=15000,
        fetch_max_wait_ms=200,
        retry_backoff_ms=100,
    )
    partitions = consumer.partitions_for_topic(TOPIC)
    result = {
        "commits": [],
        "groups": [],
        "tombstones": [],
        "undecodable": 0,
        "undecodable_details": [],
        "misplaced": [],
        "partition_count": 0,
        "end_offsets": {},
    }
    if not partitions:
        sys.stderr.write("read_consumer_offsets: %s does not exist (yet)\n" % TOPIC)
        consumer.close()
        print(json.dumps(result, sort_keys=True))
        return
    tps = [TopicPartition(TOPIC, p) for p in sorted(partitions)]
    result["partition_count"] = len(tps)
    consumer.assign(tps)
    end = consumer.end_offsets(tps)
    result["end_offsets"] = {str(tp.partition): end[tp] for tp in tps}
    consumer.seek_to_beginning(*tps)

    records = {tp.partition: [] for tp in tps}
    pending = {tp for tp in tps if end[tp] > 0}
    # Partitions with nothing to read: stop fetching them at once.
    if len(pending) != len(tps):
        consumer.pause(*[tp for tp in tps if tp not in pending])
    while pending:
        if time.monotonic() - start > READ_S:
            fail(
                "still reading after %d s: %s"
                % (READ_S, {tp.partition: (consumer.position(tp), end[tp]) for tp in pending})
            )
        for tp, batch in consumer.poll(timeout_ms=500).items():
            for m in batch:
                if m.offset < end[tp]:
                    records[tp.partition].append(m)
        for tp in list(pending):
            if consumer.position(tp) >= end[tp]:
                pending.discard(tp)
                consumer.pause(tp)
    consumer.close()

    for p in sorted(records):
        seen = set()
        for m in records[p]:
            if m.offset in seen:
                fail("partition %d offset %d delivered twice" % (p, m.offset))
            seen.add(m.offset)
            where = {"record_partition": p, "record_offset": m.offset}
            try:
                kind, key = decode_key(m.key)
            except DecodeError as e:
                result["undecodable"] += 1
                result["undecodable_details"].append(dict(where, reason="key: %s" % e, key=None if m.key is None else m.key.hex()))
                continue
            expected = partition_for(key["group"])
            if expected != p:
                result["misplaced"].append(dict(where, group=key["group"], expected_partition=expected))
            if m.value is None:
                result["tombstones"].append(dict(where, kind=kind, **key))
                continue
            try:
                value = decode_offset_value(m.value) if kind == "offset" else decode_group_value(m.value)
            except DecodeError as e:
                result["undecodable"] += 1
                result["undecodable_details"].append(dict(where, reason="%s value: %s" % (kind, e), value=m.value.hex()))
                continue
            entry = dict(key)
            entry.update(value)
            entry.update(where)
            result["commits" if kind == "offset" else "groups"].append(entry)

    signal.alarm(0)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - report anything, exit non-zero
        traceback.print_exc(file=sys.stderr)
        fail("%s: %s" % (type(e).__name__, e))
