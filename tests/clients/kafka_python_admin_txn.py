"""kafka-python against warren's issue-16 APIs where kafka-python 2.0.2 can go (it has no
transactional producer and reads read_uncommitted only): its admin client alters a topic's config
(AlterConfigs) and describes it back (DescribeConfigs), and its consumer reads a topic holding
transactions, markers included, without tripping over the control batches.

Usage: kafka_python_admin_txn.py BOOTSTRAP CONFIG_TOPIC TXN_TOPIC
Prints one JSON object: {"retention_ms": value after the change, "source": its config source
(DescribeConfigs v1's layout, which kafka-python picks against warren), "values": [every value read from TXN_TOPIC
partition 0, in order]}. kafka-python 2.0.2 hands control records (transaction markers) to the
application as records; they come out as their 6-byte values.
Run with Debian's /usr/bin/python3 (python3-kafka 2.0.2).
"""
import json
import sys

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType


def main():
    bootstrap, config_topic, txn_topic = sys.argv[1:4]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="py-admin", request_timeout_ms=30000)
    resource = ConfigResource(ConfigResourceType.TOPIC, config_topic, configs={"retention.ms": "7200000"})
    altered = admin.alter_configs([resource])
    for _code_resource in altered.resources:
        if _code_resource[0] != 0:
            raise SystemExit("alter_configs failed: %r" % (_code_resource,))
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, config_topic)])
    retention, source = None, None
    for response in described:
        for resource in response.resources:
            for entry in resource[4]:
                if entry[0] == "retention.ms":
                    retention = entry[1]
                    source = entry[3]
    admin.close()

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000)
    partition = TopicPartition(txn_topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    values = [message.value.decode() for message in consumer]
    consumer.close()
    print(json.dumps({"retention_ms": retention, "source": source, "values": values}))


if __name__ == "__main__":
    main()
