//! The group APIs refuse bad requests with Kafka's error codes, never a dropped connection:
//! MEMBER_ID_REQUIRED on a first v4+ join, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
//! REBALANCE_IN_PROGRESS, OFFSET_METADATA_TOO_LARGE, INVALID_GROUP_ID, and -1 for offsets
//! never committed. Hand-built requests through the `kafka-protocol` codec.

use std::net::TcpStream;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use warren_tests::{Options, Warren};

use crate::wire::call;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn join(group: &str, member: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(s(member))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(Bytes::from_static(b"sub"))])
}

fn commit(group: &str, generation: i32, member: &str, offset: i64, metadata: &str) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(vec![OffsetCommitRequestTopic::default().with_name(TopicName(s("gw"))).with_partitions(vec![
            OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)
                .with_committed_metadata(Some(s(metadata))),
        ])])
}

fn commit_error(resp: &OffsetCommitResponse) -> i16 {
    resp.topics[0].partitions[0].error_code
}

fn fetch(group: &str) -> OffsetFetchRequest {
    OffsetFetchRequest::default().with_group_id(GroupId(s(group))).with_topics(Some(vec![
        OffsetFetchRequestTopic::default().with_name(TopicName(s("gw"))).with_partition_indexes(vec![0, 1]),
    ]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_apis_answer_bad_requests_with_kafkas_error_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[cluster]\ndefault_partitions = 2\n[groups]\ninitial_rebalance_delay = \"0s\"";
    let warren = Warren::start(dir.path(), Options::brokers(1).with_toml(toml)).await.expect("start");
    warren
        .cluster
        .create_topic(&broker_core::NewTopic { name: "gw".into(), ..Default::default() }, false)
        .expect("create");
    let addr = warren.kafka[0];
    tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(addr).expect("connect");
        let code = |e: ResponseError| e.code();

        // FindCoordinator: the only broker.
        let found: FindCoordinatorResponse =
            call(&mut c, ApiKey::FindCoordinator, 3, &FindCoordinatorRequest::default().with_key(s("g1")));
        assert_eq!((found.error_code, found.node_id.0), (0, 1));

        // JoinGroup v5: the first join is sent back for a member id (KIP-394).
        let first: JoinGroupResponse = call(&mut c, ApiKey::JoinGroup, 5, &join("g1", ""));
        assert_eq!(first.error_code, code(ResponseError::MemberIdRequired));
        let member = first.member_id.to_string();
        assert!(member.starts_with("wire-test-"), "member id {member} carries the client id");
        let joined: JoinGroupResponse = call(&mut c, ApiKey::JoinGroup, 5, &join("g1", &member));
        assert_eq!((joined.error_code, joined.generation_id), (0, 1));
        assert_eq!(joined.leader, joined.member_id);
        assert_eq!(joined.members.len(), 1);
        assert_eq!(joined.protocol_name.as_deref(), Some("range"));

        // Commits before the group is stable: REBALANCE_IN_PROGRESS.
        let resp: OffsetCommitResponse = call(&mut c, ApiKey::OffsetCommit, 8, &commit("g1", 1, &member, 5, ""));
        assert_eq!(commit_error(&resp), code(ResponseError::RebalanceInProgress));

        // SyncGroup with the wrong generation, then the right one.
        let sync = |generation: i32| {
            SyncGroupRequest::default()
                .with_group_id(GroupId(s("g1")))
                .with_generation_id(generation)
                .with_member_id(s(&member))
                .with_assignments(vec![SyncGroupRequestAssignment::default()
                    .with_member_id(s(&member))
                    .with_assignment(Bytes::from_static(b"assignment"))])
        };
        let bad: SyncGroupResponse = call(&mut c, ApiKey::SyncGroup, 3, &sync(7));
        assert_eq!(bad.error_code, code(ResponseError::IllegalGeneration));
        let good: SyncGroupResponse = call(&mut c, ApiKey::SyncGroup, 3, &sync(1));
        assert_eq!((good.error_code, &good.assignment[..]), (0, &b"assignment"[..]));

        // Heartbeats: unknown member, wrong generation, then a good one.
        let hb = |m: &str, generation: i32| {
            HeartbeatRequest::default()
                .with_group_id(GroupId(s("g1")))
                .with_generation_id(generation)
                .with_member_id(s(m))
        };
        let r: HeartbeatResponse = call(&mut c, ApiKey::Heartbeat, 3, &hb("stranger", 1));
        assert_eq!(r.error_code, code(ResponseError::UnknownMemberId));
        let r: HeartbeatResponse = call(&mut c, ApiKey::Heartbeat, 3, &hb(&member, 0));
        assert_eq!(r.error_code, code(ResponseError::IllegalGeneration));
        let r: HeartbeatResponse = call(&mut c, ApiKey::Heartbeat, 3, &hb(&member, 1));
        assert_eq!(r.error_code, 0);

        // OffsetCommit: a non-member, a stale generation, metadata over 4 KiB, then a good one.
        let r: OffsetCommitResponse = call(&mut c, ApiKey::OffsetCommit, 8, &commit("g1", 1, "stranger", 5, ""));
        assert_eq!(commit_error(&r), code(ResponseError::UnknownMemberId));
        let r: OffsetCommitResponse = call(&mut c, ApiKey::OffsetCommit, 8, &commit("g1", -1, "", 5, ""));
        assert_eq!(commit_error(&r), code(ResponseError::UnknownMemberId), "a stable group refuses non-members");
        let r: OffsetCommitResponse = call(&mut c, ApiKey::OffsetCommit, 8, &commit("g1", 0, &member, 5, ""));
        assert_eq!(commit_error(&r), code(ResponseError::IllegalGeneration));
        let r: OffsetCommitResponse =
            call(&mut c, ApiKey::OffsetCommit, 8, &commit("g1", 1, &member, 5, &"m".repeat(4097)));
        assert_eq!(commit_error(&r), code(ResponseError::OffsetMetadataTooLarge));
        let r: OffsetCommitResponse =
            call(&mut c, ApiKey::OffsetCommit, 2, &commit("g1", 1, &member, 5, "checkpoint-a"));
        assert_eq!(commit_error(&r), 0);

        // OffsetFetch: the commit with its metadata, and -1 for a partition never committed.
        for version in [1, 5, 7] {
            let r: OffsetFetchResponse = call(&mut c, ApiKey::OffsetFetch, version, &fetch("g1"));
            let parts = &r.topics[0].partitions;
            assert_eq!(
                (parts[0].committed_offset, parts[0].metadata.as_deref()),
                (5, Some("checkpoint-a")),
                "v{version}"
            );
            assert_eq!((parts[1].committed_offset, parts[1].error_code), (-1, 0), "v{version}");
        }

        // Group ids: empty and oversized are INVALID_GROUP_ID.
        for bad in [String::new(), "g".repeat(300)] {
            let r: JoinGroupResponse = call(&mut c, ApiKey::JoinGroup, 5, &join(&bad, ""));
            assert_eq!(r.error_code, code(ResponseError::InvalidGroupId));
            let r: OffsetCommitResponse = call(&mut c, ApiKey::OffsetCommit, 8, &commit(&bad, -1, "", 1, ""));
            assert_eq!(commit_error(&r), code(ResponseError::InvalidGroupId));
            let r: OffsetFetchResponse = call(&mut c, ApiKey::OffsetFetch, 7, &fetch(&bad));
            assert_eq!(r.error_code, code(ResponseError::InvalidGroupId));
        }

        // ListGroups and DescribeGroups see the member; DeleteGroups refuses a group in use.
        let listed: ListGroupsResponse = call(&mut c, ApiKey::ListGroups, 4, &ListGroupsRequest::default());
        let g1 = listed.groups.iter().find(|g| g.group_id.as_str() == "g1").expect("g1 listed");
        assert_eq!((g1.protocol_type.as_str(), g1.group_state.as_str()), ("consumer", "Stable"));
        let described: DescribeGroupsResponse = call(
            &mut c,
            ApiKey::DescribeGroups,
            5,
            &DescribeGroupsRequest::default().with_groups(vec![GroupId(s("g1")), GroupId(s("nobody"))]),
        );
        let d = &described.groups[0];
        assert_eq!((d.group_state.as_str(), d.protocol_data.as_str(), d.members.len()), ("Stable", "range", 1));
        assert_eq!(d.members[0].client_id.as_str(), "wire-test");
        assert_eq!(d.members[0].client_host.as_str(), "/127.0.0.1");
        assert_eq!(&d.members[0].member_assignment[..], b"assignment");
        assert_eq!(described.groups[1].group_state.as_str(), "Dead");
        let delete = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("g1")), GroupId(s("nobody"))]);
        let r: DeleteGroupsResponse = call(&mut c, ApiKey::DeleteGroups, 2, &delete);
        assert_eq!(r.results[0].error_code, code(ResponseError::NonEmptyGroup));
        assert_eq!(r.results[1].error_code, code(ResponseError::GroupIdNotFound));

        // LeaveGroup v3 (by member), then the group is empty and can be deleted.
        let leave = LeaveGroupRequest::default().with_group_id(GroupId(s("g1"))).with_members(vec![
            leave_group_request::MemberIdentity::default().with_member_id(s(&member)),
            leave_group_request::MemberIdentity::default().with_member_id(s("stranger")),
        ]);
        let r: LeaveGroupResponse = call(&mut c, ApiKey::LeaveGroup, 3, &leave);
        assert_eq!(
            r.members.iter().map(|m| m.error_code).collect::<Vec<_>>(),
            vec![0, code(ResponseError::UnknownMemberId)]
        );
        let r: DeleteGroupsResponse = call(&mut c, ApiKey::DeleteGroups, 2, &delete);
        assert_eq!(r.results[0].error_code, 0);
        let r: OffsetFetchResponse = call(&mut c, ApiKey::OffsetFetch, 7, &fetch("g1"));
        assert_eq!(r.topics[0].partitions[0].committed_offset, -1, "deleted with its offsets");

        // A standalone consumer (no membership) may store offsets in an empty group.
        let r: OffsetCommitResponse = call(&mut c, ApiKey::OffsetCommit, 8, &commit("solo", -1, "", 9, ""));
        assert_eq!(commit_error(&r), 0);
        let r: OffsetFetchResponse = call(&mut c, ApiKey::OffsetFetch, 3, &fetch("solo"));
        assert_eq!(r.topics[0].partitions[0].committed_offset, 9);
    })
    .await
    .expect("client");
    warren.stop().await.expect("stop");
}
