"""kafka-python consumer group against warren: a group member consumes every record already in TOPIC,
commits synchronously, and then, while it is still a member, asks the cluster about the group with
KafkaAdminClient (ListGroups, DescribeGroups, OffsetFetch).

Usage: kafka_python_groups.py BOOTSTRAP TOPIC GROUP COUNT
The caller produces COUNT records to TOPIC beforehand. Prints one JSON object on stdout:
  consumed       int, records received by the member
  committed      {"partition": offset}, the consumer's committed offsets after commit()
  listed         [[group_id, protocol_type], ...] from list_consumer_groups(), sorted
  described      {group, state, protocol_type, protocol, members: [{member_id, client_id, client_host,
                  assignment: {topic: [partitions]}}]} from describe_consumer_groups([GROUP])
  admin_offsets  {"partition": offset} from list_consumer_group_offsets(GROUP) (other topics, which
                  should not be there, appear as "topic/partition")
Exits non-zero with a message on stderr on any error, or when the whole run exceeds 55 s.
Run with Debian's /usr/bin/python3 (python3-kafka 2.0.2).
"""
import json
import os
import signal
import sys
import time
import traceback

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.coordinator.protocol import ConsumerProtocolMemberAssignment

DEADLINE_S = 55  # the whole script, including close()
CONSUME_S = 35  # joining the group and receiving COUNT records


def fail(msg):
    sys.stderr.write("kafka_python_groups: %s\n" % msg)
    sys.stderr.flush()
    os._exit(2)


def on_alarm(signum, frame):
    # os._exit, not an exception: kafka-python swallows some exceptions inside its poll loops.
    fail("timed out after %d s" % DEADLINE_S)


def assignment_dict(assignment):
    """{topic: sorted partitions} from a decoded ConsumerProtocolMemberAssignment (or raw bytes)."""
    if assignment is None:
        return {}
    if isinstance(assignment, (bytes, bytearray)):
        if len(assignment) == 0:
            return {}
        assignment = ConsumerProtocolMemberAssignment.decode(bytes(assignment))
    out = {}
    for topic, partitions in assignment.assignment:
        out.setdefault(topic, []).extend(partitions)
    return {t: sorted(ps) for t, ps in sorted(out.items())}


def main():
    if len(sys.argv) != 5:
        fail("usage: kafka_python_groups.py BOOTSTRAP TOPIC GROUP COUNT")
    bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(DEADLINE_S)
    start = time.monotonic()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id="kafka-python-groups",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        request_timeout_ms=15000,
        fetch_max_wait_ms=200,
        retry_backoff_ms=100,
    )

    # Join, get an assignment and receive COUNT records.
    consumed = 0
    seen = set()
    while True:
        if time.monotonic() - start > CONSUME_S:
            fail(
                "consumed %d of %d records in %d s (assignment %s)"
                % (consumed, count, CONSUME_S, sorted(consumer.assignment()))
            )
        batches = consumer.poll(timeout_ms=500)
        for tp, records in batches.items():
            if tp.topic != topic:
                fail("record from unexpected topic %s" % (tp,))
            for r in records:
                if (r.partition, r.offset) in seen:
                    fail("record %d/%d received twice" % (r.partition, r.offset))
                seen.add((r.partition, r.offset))
                consumed += 1
        if consumed >= count and consumer.assignment():
            break
    assigned = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
    for tp in assigned:
        consumer.position(tp)  # every assigned partition has a position, so commit() covers it

    consumer.commit()
    committed = {}
    for tp in assigned:
        offset = consumer.committed(tp)
        committed[str(tp.partition)] = offset

    # Still a member (heartbeats run in kafka-python's background thread): ask the cluster.
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kafka-python-groups-admin", request_timeout_ms=15000)
    try:
        listed = sorted([g[0], g[1]] for g in admin.list_consumer_groups())
        descriptions = admin.describe_consumer_groups([group])
        if len(descriptions) != 1:
            fail("describe_consumer_groups returned %d groups" % len(descriptions))
        d = descriptions[0]
        members = []
        for m in d.members:
            members.append(
                {
                    "member_id": m.member_id,
                    "client_id": m.client_id,
                    "client_host": m.client_host,
                    "assignment": assignment_dict(m.member_assignment),
                }
            )
        members.sort(key=lambda m: m["member_id"])
        described = {
            "group": d.group,
            "state": d.state,
            "protocol_type": d.protocol_type,
            "protocol": d.protocol,
            "members": members,
        }
        admin_offsets = {}
        for tp, om in sorted(admin.list_consumer_group_offsets(group).items()):
            key = str(tp.partition) if tp.topic == topic else "%s/%d" % (tp.topic, tp.partition)
            admin_offsets[key] = om.offset
    finally:
        admin.close()

    consumer.close(autocommit=False)
    signal.alarm(0)
    print(
        json.dumps(
            {
                "consumed": consumed,
                "committed": committed,
                "listed": listed,
                "described": described,
                "admin_offsets": admin_offsets,
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - report anything, exit non-zero
        traceback.print_exc(file=sys.stderr)
        fail("%s: %s" % (type(e).__name__, e))
