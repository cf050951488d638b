//! The JSON API's contract: shapes, JSON errors with 4xx statuses, and the guard on mutations
//! (`--read-only` refuses with 403, `--admin-token` requires the bearer token or cookie).

use serde_json::Value;
use warren_tests::{http, Options, Warren};

async fn call(warren: &Warren, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, _, body) = http(warren.http, method, path, body, headers).await.expect("http");
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_shapes_errors_and_the_admin_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options::brokers(3).with_toml("[http]\nadmin_token = \"s3cret\"");
    let warren = Warren::start(dir.path(), options).await.expect("start");
    let auth = [("Authorization", "Bearer s3cret")];

    let (status, cluster) = call(&warren, "GET", "/api/v1/cluster", None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(cluster["name"], "local");
    assert_eq!(cluster["brokers"].as_array().map(Vec::len), Some(3));
    assert_eq!(cluster["brokers"][0]["status"], "up");

    // Mutations without the token are refused, and say why.
    let body =
        r#"{"name": "api-topic", "partitions": 4, "replication_factor": 2, "config": {"retention.ms": "3600000"}}"#;
    let (status, err) = call(&warren, "POST", "/api/v1/topics", Some(body), &[]).await;
    assert_eq!((status, err["error"].as_str()), (401, Some("unauthorized")));
    let (status, _) = call(&warren, "POST", "/api/v1/topics", Some(body), &[("Authorization", "Bearer wrong")]).await;
    assert_eq!(status, 401);
    let (status, created) = call(&warren, "POST", "/api/v1/topics", Some(body), &auth).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["partitions"].as_array().map(Vec::len), Some(4));
    assert_eq!(created["config"]["retention.ms"], "3600000");
    let (status, err) = call(&warren, "POST", "/api/v1/topics", Some(body), &auth).await;
    assert_eq!((status, err["error"].as_str()), (409, Some("already_exists")));

    // Bad input: 4xx with a JSON message, never a plain-text rejection.
    for (bad, want) in [
        ("{", 400),
        (r#"{"name": "x", "partitions": "many"}"#, 400),
        (r#"{"name": "a b"}"#, 400),
        (r#"{"nme": "x"}"#, 400),
    ] {
        let (status, err) = call(&warren, "POST", "/api/v1/topics", Some(bad), &auth).await;
        assert_eq!(status, want, "{bad}: {err}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "{bad}: {err}");
    }
    let (status, err) = call(&warren, "GET", "/api/v1/topics/nope", None, &[]).await;
    assert_eq!((status, err["error"].as_str()), (404, Some("not_found")));
    let (status, _) = call(&warren, "GET", "/api/v1/no/such/route", None, &[]).await;
    assert_eq!(status, 404);
    let (status, _) = call(&warren, "POST", "/api/v1/brokers/7/stop", None, &auth).await;
    assert_eq!(status, 404);
    let (status, _) = call(&warren, "POST", "/api/v1/brokers/x/stop", None, &auth).await;
    assert_eq!(status, 400);

    // Topics: the summary and the per-partition detail.
    let (_, topics) = call(&warren, "GET", "/api/v1/topics", None, &[]).await;
    let t = topics.as_array().expect("list").iter().find(|t| t["name"] == "api-topic").expect("listed").clone();
    assert_eq!(
        (t["partitions"].as_i64(), t["replication_factor"].as_i64(), t["internal"].as_bool()),
        (Some(4), Some(2), Some(false))
    );
    let offsets =
        topics.as_array().expect("list").iter().find(|t| t["name"] == "__consumer_offsets").expect("internal topic");
    assert_eq!((offsets["partitions"].as_i64(), offsets["internal"].as_bool()), (Some(50), Some(true)));

    // Broker stop and start through the API: the cluster view follows, partitions stay served.
    let (status, after) = call(&warren, "POST", "/api/v1/brokers/2/stop", None, &auth).await;
    assert_eq!(status, 200);
    assert_eq!(after["brokers"][1]["status"], "down");
    assert_eq!(after["brokers"][1]["leader_count"], 0);
    let (_, topic) = call(&warren, "GET", "/api/v1/topics/api-topic", None, &[]).await;
    for p in topic["partitions"].as_array().expect("partitions") {
        assert_ne!(p["leader"], 2, "{p}");
        assert!(!p["isr"].as_array().expect("isr").contains(&Value::from(2)), "{p}");
    }
    let (status, after) = call(&warren, "POST", "/api/v1/brokers/2/start", None, &auth).await;
    assert_eq!((status, after["brokers"][1]["status"].as_str()), (200, Some("up")));
    let (status, _) =
        call(&warren, "DELETE", "/api/v1/topics/api-topic", None, &[("Cookie", "warren_admin=s3cret")]).await;
    assert_eq!(status, 401, "the raw token is not a session cookie");
    let session = format!("warren_admin={}", server::web::auth::session_value("s3cret"));
    let (status, _) = call(&warren, "DELETE", "/api/v1/topics/api-topic", None, &[("Cookie", &session)]).await;
    assert_eq!(status, 204, "the login cookie works too");
    warren.stop().await.expect("stop");

    // --read-only: every mutation is refused with 403, even with the token.
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options::brokers(1).with_toml("[http]\nread_only = true\nadmin_token = \"s3cret\"");
    let warren = Warren::start(dir.path(), options).await.expect("start");
    let (status, err) = call(&warren, "POST", "/api/v1/brokers/1/stop", None, &auth).await;
    assert_eq!((status, err["error"].as_str()), (403, Some("read_only")));
    assert!(warren.cluster.broker(1).expect("broker").is_up());
    let (status, _) = call(&warren, "GET", "/api/v1/cluster", None, &[]).await;
    assert_eq!(status, 200, "reads stay open");
    warren.stop().await.expect("stop");
}
