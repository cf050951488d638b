"""Independent reader of Kafka Connect's connect-offsets topic, written from Kafka's documented
format (key: the JSON array ["<connector>", {partition}], value: the JSON object {offset}, a null
value removing it) with kafka-python only: it shares no code with warren.

Usage: read_connect_offsets.py BOOTSTRAP
Reads every partition of connect-offsets from the beginning to the end offsets taken at start,
keeps the latest value per key, and prints one JSON object:
  offsets  [{connector, partition, offset}] latest per key, tombstoned keys left out
  records  how many records were read
kafka-python 2.0.2 cannot read read_committed: records of an aborted transaction (a task killed
mid-write) show too, so callers compare the latest offsets once the connector has committed
past them. Exits non-zero on any error or after 55 s. Run with Debian's /usr/bin/python3 (python3-kafka 2.0.2).
"""
import json
import os
import signal
import sys
import time

from kafka import KafkaConsumer, TopicPartition

TOPIC = "connect-offsets"


def fail(msg):
    sys.stderr.write("read_connect_offsets: %s\n" % msg)
    sys.stderr.flush()
    os._exit(2)


def main():
    signal.signal(signal.SIGALRM, lambda *_: fail("timed out"))
    signal.alarm(55)
    consumer = KafkaConsumer(
        bootstrap_servers=sys.argv[1],
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    partitions = consumer.partitions_for_topic(TOPIC)
    if not partitions:
        fail("no partitions for %s" % TOPIC)
    tps = [TopicPartition(TOPIC, p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    latest = {}
    records = 0
    deadline = time.time() + 40
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        if time.time() > deadline:
            fail("did not reach the end offsets %s" % ends)
        for tp, messages in consumer.poll(timeout_ms=500).items():
            for m in messages:
                if m.offset >= ends[tp]:
                    continue
                if m.key is not None and len(m.key) == 4 and m.key[:3] == b"\x00\x00\x00" and m.key[3] in (0, 1):
                    # kafka-python 2.0.2 hands transaction markers over as records: their key is
                    # the control record's version (int16 0) and type (int16 0 abort, 1 commit).
                    continue
                records += 1
                key = json.loads(m.key.decode("utf-8"))
                if not (isinstance(key, list) and len(key) == 2 and isinstance(key[0], str) and isinstance(key[1], dict)):
                    fail("bad key %r" % m.key)
                canonical = json.dumps(key, sort_keys=True)
                if m.value is None:
                    latest.pop(canonical, None)
                else:
                    latest[canonical] = (key[0], key[1], json.loads(m.value.decode("utf-8")))
    out = [{"connector": c, "partition": p, "offset": o} for (c, p, o) in latest.values()]
    print(json.dumps({"offsets": out, "records": records}))
    consumer.close()


if __name__ == "__main__":
    main()
