"""kafka-python round trip against warren: produce COUNT records with keys and headers using
CODEC, read them all back from every partition, and check every byte and offset.

Usage: kafka_python_roundtrip.py BOOTSTRAP TOPIC CODEC COUNT
Prints one summary line; exits non-zero on any mismatch.
"""
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def value(i):
    return (b"v%d-" % i) * (i % 7 + 1)


def main():
    bootstrap, topic, codec, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        compression_type=None if codec == "none" else codec,
        acks="all",
        linger_ms=5,
        batch_size=64 * 1024,
    )
    futures = []
    for i in range(count):
        futures.append(
            producer.send(topic, key=b"key-%d" % i, value=value(i), headers=[("seq", str(i).encode()), ("codec", codec.encode())])
        )
    producer.flush()
    acked = {}
    for i, f in enumerate(futures):
        md = f.get(timeout=30)
        acked[(md.partition, md.offset)] = i
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, consumer_timeout_ms=10000)
    partitions = sorted(consumer.partitions_for_topic(topic))
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    seen = {}
    for m in consumer:
        seen[(m.partition, m.offset)] = m
        if len(seen) >= count:
            break
    consumer.close()

    errors = []
    for (p, o), i in acked.items():
        m = seen.get((p, o))
        if m is None:
            errors.append("missing %s/%s" % (p, o))
        elif m.key != b"key-%d" % i or m.value != value(i) or dict(m.headers).get("seq") != str(i).encode():
            errors.append("record %s/%s differs" % (p, o))
    for p in partitions:
        offsets = sorted(o for (q, o) in seen if q == p)
        if offsets != list(range(len(offsets))):
            errors.append("partition %s offsets not contiguous" % p)
    print("kafka-python codec=%s acked=%d read=%d errors=%d %s" % (codec, len(acked), len(seen), len(errors), errors[:5]))
    sys.exit(1 if errors or len(acked) != count else 0)


if __name__ == "__main__":
    main()
