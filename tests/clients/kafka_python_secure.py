"""kafka-python against a secured warren: produce COUNT records to TOPIC and read them back.

Usage: kafka_python_secure.py BOOTSTRAP TOPIC COUNT PROTOCOL CA [MECHANISM USER PASSWORD | CERT KEY]
  PROTOCOL SASL_SSL with PLAIN (or SCRAM-SHA-256/512) and a user, or SSL with a client
  certificate. Prints {"produced": N, "read": N} as JSON; exits non-zero on any failure.
"""
import json
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def main():
    bootstrap, topic, count, protocol, ca = sys.argv[1:6]
    count = int(count)
    options = {"bootstrap_servers": bootstrap, "security_protocol": protocol, "ssl_cafile": ca}
    if protocol.startswith("SASL"):
        mechanism, user, password = sys.argv[6:9]
        options.update(sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=password)
    else:
        cert, key = sys.argv[6:8]
        options.update(ssl_certfile=cert, ssl_keyfile=key)
    producer = KafkaProducer(acks="all", **options)
    for f in [producer.send(topic, value=b"secure-%d" % i) for i in range(count)]:
        f.get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(consumer_timeout_ms=10000, auto_offset_reset="earliest", **options)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    read = [m.value for m in consumer]
    consumer.close()
    print(json.dumps({"produced": count, "read": len(read), "first": read[0].decode() if read else None}))


if __name__ == "__main__":
    main()
