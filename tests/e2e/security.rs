//! TLS and SASL with real clients (issue 14): kcat/librdkafka and the `rdkafka` crate over
//! SASL_SSL with SCRAM-SHA-512 and SCRAM-SHA-256, kafka-python over SASL_SSL with PLAIN and over
//! SSL with a client certificate, warren's own client and CLI with `--command-config`, and a
//! second warren monitoring the first over SASL_SSL. Refusals: wrong passwords, unknown users, a
//! plaintext client on a TLS port, a client without a certificate on an mTLS port, and a user who
//! is not a super user changing topics or users. Certificates come from Debian's `openssl`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use broker_core::security::scram::ScramHash;
use broker_core::security::{Mechanism, Protocol, Secret};
use broker_core::NewTopic;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use server::kafka::connection::Connection;
use server::kafka::security::{client_tls, ClientSecurity, SaslCredentials, TlsFiles};
use warren_tests::{http, warren_binary, MonitorOnly, Options, Warren};

/// A test CA with a server certificate for 127.0.0.1/localhost and client certificates.
struct Pki {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (installed by .ci/run)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=warren-test-ca",
            ],
        );
        let pki = Pki { dir: dir.to_path_buf() };
        pki.issue(
            "server",
            "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        for cn in ["admin", "reader"] {
            pki.issue(cn, &format!("/CN={cn}"), "extendedKeyUsage=clientAuth\n");
        }
        // A service-mesh style certificate: a name only in its SAN, none in its subject.
        pki.issue("nameless", "/O=mesh", "subjectAltName=URI:spiffe://mesh/reader\nextendedKeyUsage=clientAuth\n");
        pki
    }

    fn issue(&self, name: &str, subject: &str, extensions: &str) {
        let ext = format!("{name}.ext");
        std::fs::write(self.dir.join(&ext), extensions).expect("ext");
        let (key, csr, pem) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
        openssl(&self.dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subject]);
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }
}

const ADMIN_PASSWORD: &str = "admin-secret";
const ALICE_PASSWORD: &str = "alice in wonderland";

fn security_toml(pki: &Pki, protocol: &str, client_ca: bool) -> String {
    let alice_file = pki.dir.join("alice.password");
    std::fs::write(&alice_file, format!("{ALICE_PASSWORD}\n")).expect("password file");
    let mut toml = format!(
        "[security]\nprotocol = \"{protocol}\"\nssl_certificate = \"{}\"\nssl_key = \"{}\"\nsuper_users = [\"admin\"]\n",
        pki.path("server.pem"),
        pki.path("server.key"),
    );
    if client_ca {
        toml.push_str(&format!("ssl_client_ca = \"{}\"\n", pki.path("ca.pem")));
    }
    toml.push_str(&format!(
        "[[security.users]]\nname = \"admin\"\npassword = \"{ADMIN_PASSWORD}\"\n[[security.users]]\nname = \"alice\"\npassword_file = \"{}\"\n[[security.users]]\nname = \"monitor\"\npassword = \"watching\"\n",
        alice_file.display()
    ));
    toml
}

/// kafka-python against a secured warren (`tests/clients/kafka_python_secure.py ARGS...`).
fn kafka_python() -> Command {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/kafka_python_secure.py"));
    cmd
}

fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn kcat_sasl(pki: &Pki, bootstrap: &str, mechanism: &str, user: &str, password: &str) -> Vec<String> {
    [
        "-b".to_string(),
        bootstrap.to_string(),
        "-X".into(),
        "security.protocol=SASL_SSL".into(),
        "-X".into(),
        format!("sasl.mechanisms={mechanism}"),
        "-X".into(),
        format!("sasl.username={user}"),
        "-X".into(),
        format!("sasl.password={password}"),
        "-X".into(),
        format!("ssl.ca.location={}", pki.path("ca.pem")),
    ]
    .to_vec()
}

/// `warren <tool> ... --command-config FILE`, with `properties` written to FILE.
fn warren_tool(dir: &Path, name: &str, properties: &str, args: &[&str]) -> Output {
    let file = dir.join(format!("{name}.properties"));
    std::fs::write(&file, properties).expect("properties");
    output(Command::new(warren_binary()).args(args).arg("--command-config").arg(&file))
}

fn sasl_properties(pki: &Pki, mechanism: &str, user: &str, password: &str) -> String {
    let module = if mechanism == "PLAIN" { "plain.PlainLoginModule" } else { "scram.ScramLoginModule" };
    format!(
        "security.protocol=SASL_SSL\nsasl.mechanism={mechanism}\nsasl.jaas.config=org.apache.kafka.common.security.{module} required username=\"{user}\" password=\"{password}\";\nssl.ca.location={}\n",
        pki.path("ca.pem")
    )
}

fn client_security(pki: &Pki, user: &str, password: &str) -> ClientSecurity {
    let ca = PathBuf::from(pki.path("ca.pem"));
    let tls =
        client_tls(&TlsFiles { ca: Some(&ca), certificate: None, key: None, verify_hostname: true }).expect("tls");
    ClientSecurity {
        protocol: Protocol::SaslSsl,
        tls: Some(tls),
        sasl: Some(SaslCredentials {
            mechanism: Mechanism::Scram(ScramHash::Sha512),
            username: user.into(),
            password: Secret(password.into()),
        }),
    }
}

/// A one-broker warren under `dir` with `protocol` (mTLS with `client_ca`), and a one-partition
/// `topic` when given.
async fn start_secured(dir: &Path, protocol: &str, client_ca: bool, topic: Option<&str>) -> (Pki, Warren) {
    let pki = Pki::new(dir);
    let options = Options::brokers(1).with_toml(&security_toml(&pki, protocol, client_ca));
    let warren = Warren::start(&dir.join("data"), options).await.expect("start");
    if let Some(name) = topic {
        let topic = NewTopic { name: name.into(), partitions: Some(1), ..NewTopic::default() };
        warren.cluster.create_topic(&topic, false).expect("topic");
    }
    (pki, warren)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_with_scram_and_plain_for_real_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pki, warren) = start_secured(dir.path(), "SASL_SSL", false, Some("secure")).await;
    let b = warren.bootstrap();
    let addr = warren.kafka[0];

    // kcat (librdkafka) with SCRAM-SHA-512 and SCRAM-SHA-256: produce, then read back.
    for (mechanism, n) in [("SCRAM-SHA-512", 50), ("SCRAM-SHA-256", 30)] {
        let base = kcat_sasl(&pki, &b, mechanism, "alice", ALICE_PASSWORD);
        let input: String = (0..n).map(|i| format!("{mechanism}-{i}\n")).collect();
        let mut child = Command::new("kcat")
            .args(&base)
            .args(["-t", "secure", "-P"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kcat (installed by .ci/run)");
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), input.as_bytes()).expect("write");
        let out = child.wait_with_output().expect("kcat");
        assert!(out.status.success(), "kcat produce over {mechanism}: {}", String::from_utf8_lossy(&out.stderr));
        let out = output(Command::new("kcat").args(&base).args(["-t", "secure", "-C", "-o", "beginning", "-e", "-q"]));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.lines().filter(|l| l.starts_with(mechanism)).count() == n,
            "kcat read over {mechanism}: {text}"
        );
    }

    // The rdkafka crate, SCRAM-SHA-512.
    let config = |cfg: &mut ClientConfig| {
        cfg.set("bootstrap.servers", &b)
            .set("security.protocol", "SASL_SSL")
            .set("sasl.mechanisms", "SCRAM-SHA-512")
            .set("sasl.username", "alice")
            .set("sasl.password", ALICE_PASSWORD)
            .set("ssl.ca.location", pki.path("ca.pem"));
    };
    let mut cfg = ClientConfig::new();
    config(&mut cfg);
    let producer: FutureProducer = cfg.clone().set("acks", "all").create().expect("producer");
    for i in 0..20 {
        let payload = format!("rdkafka-{i}");
        producer
            .send(FutureRecord::<(), str>::to("secure").payload(&payload), Duration::from_secs(30))
            .await
            .expect("delivered");
    }
    let consumer: BaseConsumer = cfg
        .set("group.id", "secure-readers")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&["secure"]).expect("subscribe");
    let read = tokio::task::spawn_blocking(move || {
        let mut seen = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while seen < 100 && std::time::Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                seen += 1;
                if seen == 100 {
                    consumer.commit_message(&m, rdkafka::consumer::CommitMode::Sync).expect("commit");
                }
            }
        }
        seen
    })
    .await
    .expect("consumer");
    assert_eq!(read, 100, "the rdkafka consumer read everything over SASL_SSL");

    // kafka-python, SASL_SSL with PLAIN.
    let out = output(kafka_python().args([
        &b,
        "secure",
        "10",
        "SASL_SSL",
        &pki.path("ca.pem"),
        "PLAIN",
        "alice",
        ALICE_PASSWORD,
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "kafka-python over SASL_SSL/PLAIN: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_str(text.trim()).expect("json");
    assert_eq!(summary["read"], 110);

    // warren's own CLI with a Kafka properties file.
    let admin = sasl_properties(&pki, "SCRAM-SHA-512", "admin", ADMIN_PASSWORD);
    let out = warren_tool(
        dir.path(),
        "admin",
        &admin,
        &["topics", "--bootstrap-server", &b, "--create", "--topic", "made-by-admin"],
    );
    assert!(out.status.success(), "a super user creates topics: {}", String::from_utf8_lossy(&out.stderr));
    let alice = sasl_properties(&pki, "SCRAM-SHA-256", "alice", ALICE_PASSWORD);
    let out = warren_tool(dir.path(), "alice", &alice, &["topics", "--bootstrap-server", &b, "--list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && listed.contains("made-by-admin"), "{listed}");
    // ...but alice is not a super user.
    for args in [
        &["topics", "--bootstrap-server", &b, "--create", "--topic", "made-by-alice"][..],
        &["topics", "--bootstrap-server", &b, "--delete", "--topic", "made-by-admin"][..],
    ] {
        let out = warren_tool(dir.path(), "alice", &alice, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("TOPIC_AUTHORIZATION_FAILED"), "{args:?}: {err}");
    }
    assert!(warren.cluster.has_topic("made-by-admin") && !warren.cluster.has_topic("made-by-alice"));

    // Refused: a wrong password and an unknown user, each one line, no password in it.
    for (name, user, password) in [("wrong", "alice", "not her password"), ("nobody", "mallory", "guess")] {
        let props = sasl_properties(&pki, "SCRAM-SHA-512", user, password);
        let out = warren_tool(dir.path(), name, &props, &["topics", "--bootstrap-server", &b, "--list"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("Authentication failed"), "{name}: {err}");
        assert!(!err.contains(password), "{name}: the password leaked: {err}");
    }
    let out = output(Command::new("kcat").args(kcat_sasl(&pki, &b, "PLAIN", "alice", "wrong")).args(["-L", "-m", "5"]));
    assert!(!out.status.success(), "kcat with a wrong PLAIN password");
    let (_, _, metrics) = http(warren.http, "GET", "/metrics", None, &[]).await.expect("metrics");
    let failures = |mechanism: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("warren_auth_failures_total{{mechanism=\"{mechanism}\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(failures("SCRAM-SHA-512") >= 2.0 && failures("PLAIN") >= 1.0, "{metrics}");
    assert!(!metrics.contains(ALICE_PASSWORD) && !metrics.contains(ADMIN_PASSWORD));

    // A plaintext client on the TLS port is refused; everyone else is still served.
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
        let frame = [0u8, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff];
        s.write_all(&frame).expect("write");
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        assert!(n == 0 || buf[0] == 0x15, "no Kafka answer to a plaintext request on a TLS port ({n} bytes)");
    })
    .await
    .expect("plaintext client");
    let out = warren_tool(
        dir.path(),
        "alice",
        &alice,
        &["consumer-groups", "--bootstrap-server", &b, "--describe", "--group", "secure-readers"],
    );
    let described = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && described.contains("secure"), "{described}");

    // The API and the dashboard show the protocol and mechanisms, never a credential.
    let (_, _, cluster) = http(warren.http, "GET", "/api/v1/cluster", None, &[]).await.expect("cluster");
    let cluster: Value = serde_json::from_str(&cluster).expect("json");
    assert_eq!(cluster["security_protocol"], "SASL_SSL");
    assert!(cluster["sasl_mechanism"].as_str().is_some_and(|m| m.contains("SCRAM-SHA-512")), "{cluster}");
    let (_, _, page) = http(warren.http, "GET", "/", None, &[]).await.expect("overview");
    assert!(page.contains("SASL_SSL") && !page.contains(ALICE_PASSWORD));
    warren.stop().await.expect("stop");
}

/// DescribeUserScramCredentials and AlterUserScramCredentials (what kafka-configs.sh uses):
/// super users only, credentials arrive salted, changes persist under the data dir.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_users_are_managed_over_the_protocol_and_persist() {
    use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion;
    use kafka_protocol::messages::{AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest};
    use kafka_protocol::protocol::StrBytes;
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(dir.path());
    let data = dir.path().join("data");
    let toml = security_toml(&pki, "SASL_SSL", false);
    let warren = Warren::start(&data, Options::brokers(1).with_toml(&toml)).await.expect("start");
    let addr = warren.bootstrap();
    let timeout = Duration::from_secs(10);
    let admin =
        Connection::open(&addr, "test", timeout, &client_security(&pki, "admin", ADMIN_PASSWORD)).await.expect("admin");
    let described = admin.call(0, &DescribeUserScramCredentialsRequest::default(), timeout).await.expect("describe");
    let users: Vec<&str> = described.results.iter().map(|r| r.user.as_str()).collect();
    assert_eq!(users, ["admin", "alice", "monitor"]);
    assert!(described.results[0].credential_infos.iter().all(|c| c.iterations == 4096));
    let salt = b"bob's salt, 16+ bytes".to_vec();
    let upsert = AlterUserScramCredentialsRequest::default().with_upsertions(vec![ScramCredentialUpsertion::default()
        .with_name(StrBytes::from_static_str("bob"))
        .with_mechanism(2)
        .with_iterations(8192)
        .with_salt(bytes::Bytes::from(salt.clone()))
        .with_salted_password(bytes::Bytes::from(ScramHash::Sha512.salted_password(b"bob's password", &salt, 8192)))]);
    let altered = admin.call(0, &upsert, timeout).await.expect("alter");
    assert_eq!(altered.results[0].error_code, 0, "{altered:?}");
    // As Kafka answers: one result per user; a credential named twice is DUPLICATE_RESOURCE;
    // a user with one bad alteration gets none applied (carol's good SHA-256 is not set).
    use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialDeletion;
    use kafka_protocol::ResponseError;
    let carol = |mechanism: i8, iterations: i32| {
        let hash = ScramHash::from_kafka_id(mechanism).unwrap_or(ScramHash::Sha256);
        ScramCredentialUpsertion::default()
            .with_name(StrBytes::from_static_str("carol"))
            .with_mechanism(mechanism)
            .with_iterations(iterations)
            .with_salt(bytes::Bytes::from(salt.clone()))
            .with_salted_password(bytes::Bytes::from(hash.salted_password(b"c", &salt, 4096)))
    };
    let mixed = AlterUserScramCredentialsRequest::default()
        .with_upsertions(vec![carol(1, 4096), carol(2, 100), upsert.upsertions[0].clone()])
        .with_deletions(vec![ScramCredentialDeletion::default()
            .with_name(StrBytes::from_static_str("bob"))
            .with_mechanism(2)]);
    let answer = admin.call(0, &mixed, timeout).await.expect("mixed alter");
    let codes: Vec<(&str, i16)> = answer.results.iter().map(|r| (r.user.as_str(), r.error_code)).collect();
    assert_eq!(
        codes,
        [("bob", ResponseError::DuplicateResource.code()), ("carol", ResponseError::UnacceptableCredential.code())],
        "{answer:?}"
    );
    let described = admin.call(0, &DescribeUserScramCredentialsRequest::default(), timeout).await.expect("describe");
    assert!(!described.results.iter().any(|r| r.user.as_str() == "carol"), "nothing of carol's was applied");
    Connection::open(&addr, "test", timeout, &client_security(&pki, "bob", "bob's password"))
        .await
        .expect("bob logs in");
    let alice =
        Connection::open(&addr, "test", timeout, &client_security(&pki, "alice", ALICE_PASSWORD)).await.expect("alice");
    let refused = alice.call(0, &upsert, timeout).await.expect("alter as alice");
    assert_eq!(refused.results[0].error_code, kafka_protocol::ResponseError::ClusterAuthorizationFailed.code());
    let refused =
        alice.call(0, &DescribeUserScramCredentialsRequest::default(), timeout).await.expect("describe as alice");
    assert_eq!(refused.error_code, kafka_protocol::ResponseError::ClusterAuthorizationFailed.code());
    let store = std::fs::read_to_string(data.join("security/users.json")).expect("store");
    assert!(store.contains("bob") && !store.contains("bob's password") && !store.contains(ALICE_PASSWORD));
    drop((admin, alice));
    warren.stop().await.expect("stop");
    let warren = Warren::start(&data, Options::brokers(1).with_toml(&toml)).await.expect("restart");
    Connection::open(&warren.bootstrap(), "test", timeout, &client_security(&pki, "bob", "bob's password"))
        .await
        .expect("bob's credential survived the restart");
    let wrong = Connection::open(&warren.bootstrap(), "test", timeout, &client_security(&pki, "bob", "nope")).await;
    assert!(matches!(wrong, Err(server::kafka::Error::Auth { .. })), "{:?}", wrong.err());
    warren.stop().await.expect("stop");
}

/// SSL with client certificates: kafka-python with a certificate is served (its common name is
/// its principal), a client without one is refused, and a certificate that is not a super
/// user's may not create topics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_with_client_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pki, warren) = start_secured(dir.path(), "SSL", true, Some("mtls")).await;
    let b = warren.bootstrap();
    let out = output(kafka_python().args([
        &b,
        "mtls",
        "10",
        "SSL",
        &pki.path("ca.pem"),
        &pki.path("reader.pem"),
        &pki.path("reader.key"),
    ]));
    assert!(out.status.success(), "kafka-python over SSL with a certificate: {}", String::from_utf8_lossy(&out.stderr));
    let ssl = |cert: Option<&str>| {
        let mut p = format!("security.protocol=SSL\nssl.ca.location={}\n", pki.path("ca.pem"));
        if let Some(cn) = cert {
            p.push_str(&format!(
                "ssl.certificate.location={}\nssl.key.location={}\n",
                pki.path(&format!("{cn}.pem")),
                pki.path(&format!("{cn}.key"))
            ));
        }
        p
    };
    // Without ssl_ca the client trusts the system's bundle (the first one it finds), else Mozilla's.
    let missing = dir.path().join("no-such-bundle.crt");
    let ca = PathBuf::from(pki.path("ca.pem"));
    assert_eq!(server::kafka::security::first_bundle([missing.as_path(), ca.as_path()]).len(), 1);
    assert!(server::kafka::security::first_bundle([missing.as_path()]).len() > 100, "Mozilla's roots");
    let out = warren_tool(dir.path(), "nocert", &ssl(None), &["topics", "--bootstrap-server", &b, "--list"]);
    assert!(!out.status.success(), "no client certificate, no service: {}", String::from_utf8_lossy(&out.stdout));
    let out = warren_tool(
        dir.path(),
        "reader",
        &ssl(Some("reader")),
        &["topics", "--bootstrap-server", &b, "--create", "--topic", "by-reader"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("TOPIC_AUTHORIZATION_FAILED"), "{err}");
    // A verified certificate without a common name is somebody, not anonymous: no super user.
    let nameless = ["topics", "--bootstrap-server", &b, "--create", "--topic", "by-nameless"];
    let out = warren_tool(dir.path(), "nameless", &ssl(Some("nameless")), &nameless);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("TOPIC_AUTHORIZATION_FAILED"), "{err}");
    let out = warren_tool(
        dir.path(),
        "admin-cert",
        &ssl(Some("admin")),
        &["topics", "--bootstrap-server", &b, "--create", "--topic", "by-admin"],
    );
    assert!(out.status.success(), "CN=admin is a super user: {}", String::from_utf8_lossy(&out.stderr));
    warren.stop().await.expect("stop");
}

/// A second warren monitors the first as an external cluster over SASL_SSL: its group, lag and
/// verdict, as over PLAINTEXT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_warren_monitors_a_sasl_ssl_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(dir.path());
    let toml = format!("{}\n[monitor]\nsample_interval = \"1s\"\n", security_toml(&pki, "SASL_SSL", false));
    let warren = Warren::start(&dir.path().join("data"), Options::brokers(1).with_toml(&toml)).await.expect("start");
    warren
        .cluster
        .create_topic(&NewTopic { name: "watched".into(), partitions: Some(1), ..NewTopic::default() }, false)
        .expect("topic");
    for i in 0..10i64 {
        warren
            .cluster
            .produce_record("watched", 0, None, Some(bytes::Bytes::from(format!("r{i}"))), Vec::new())
            .await
            .expect("produce");
    }
    let committer = broker_core::Committer::standalone();
    let commit = broker_core::OffsetCommit {
        topic: "watched".into(),
        partition: 0,
        offset: 4,
        leader_epoch: -1,
        metadata: None,
    };
    assert!(warren.cluster.commit_offsets(None, "watchers", &committer, vec![commit]).await.iter().all(Result::is_ok));
    let monitor_toml = format!(
        "[cluster]\nembedded = false\n[monitor]\nsample_interval = \"1s\"\n[[clusters]]\nname = \"secure\"\nbootstrap_servers = [\"{}\"]\nsecurity_protocol = \"SASL_SSL\"\nsasl_mechanism = \"SCRAM-SHA-512\"\nsasl_username = \"monitor\"\nsasl_password = \"watching\"\nssl_ca = \"{}\"\n",
        warren.bootstrap(),
        pki.path("ca.pem")
    );
    let monitor = MonitorOnly::start(&dir.path().join("monitor"), &monitor_toml).await.expect("monitor");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Value::Null));
    let found = {
        let seen = std::sync::Arc::clone(&seen);
        let addr = monitor.http;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (_, _, body) =
                http(addr, "GET", "/api/v1/groups/watchers?cluster=secure", None, &[]).await.expect("group");
            let detail: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            *seen.lock().expect("seen") = detail.clone();
            if detail["total_lag"] == 6 && detail["status"].is_string() {
                break true;
            }
            if tokio::time::Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    assert!(found, "the monitor sees the group's lag over SASL_SSL: {}", seen.lock().expect("seen"));
    let (_, _, overview) = http(monitor.http, "GET", "/?cluster=secure", None, &[]).await.expect("overview");
    assert!(overview.contains("SASL_SSL") && overview.contains("SCRAM-SHA-512") && !overview.contains("watching"));
    let (_, _, burrow) = http(monitor.http, "GET", "/v3/kafka/secure", None, &[]).await.expect("burrow cluster");
    let burrow: Value = serde_json::from_str(&burrow).expect("json");
    assert_eq!(burrow["module"]["client-profile"]["sasl"], "SCRAM-SHA-512", "{burrow}");
    assert_eq!(burrow["module"]["client-profile"]["tls"], "SASL_SSL", "{burrow}");
    let (_, _, metrics) = http(monitor.http, "GET", "/metrics", None, &[]).await.expect("metrics");
    assert!(metrics.contains("cluster=\"secure\"") && !metrics.contains("watching"));
    monitor.stop().await.expect("stop monitor");
    warren.stop().await.expect("stop");
}

/// Hostile bytes at a SASL listener (SASL_PLAINTEXT, so the test can write them by hand): a
/// request before authentication, an oversized frame before authentication, malformed SCRAM
/// and PLAIN tokens (Kafka framing and raw after a v0 handshake) and a handshake naming no
/// mechanism. Each connection gets a refusal or is closed; the broker keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_sasl_input_is_refused_and_the_broker_keeps_serving() {
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::ResponseError;
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let (_pki, warren) = start_secured(dir.path(), "SASL_PLAINTEXT", false, None).await;
    let addr = warren.kafka[0];
    let cluster = std::sync::Arc::clone(&warren.cluster);
    tokio::task::spawn_blocking(move || {
        let connect = || {
            let s = std::net::TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
            s
        };
        let closed = |s: &mut std::net::TcpStream| {
            let mut buf = [0u8; 64];
            match s.read(&mut buf) {
                Ok(n) => n == 0,
                Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
            }
        };
        let handshake = |s: &mut std::net::TcpStream, version: i16, mechanism: &str| -> SaslHandshakeResponse {
            let request = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.into()));
            crate::wire::call(s, ApiKey::SaslHandshake, version, &request)
        };
        let authenticate = |s: &mut std::net::TcpStream, token: &[u8]| -> SaslAuthenticateResponse {
            let request = SaslAuthenticateRequest::default().with_auth_bytes(bytes::Bytes::copy_from_slice(token));
            crate::wire::call(s, ApiKey::SaslAuthenticate, 2, &request)
        };

        // ApiVersions is answered before authentication; Metadata is not, and closes the connection.
        let mut s = connect();
        let versions: ApiVersionsResponse =
            crate::wire::call(&mut s, ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
        assert_eq!(versions.error_code, 0);
        s.write_all(&crate::wire::frame(ApiKey::Metadata, 12, 7, &MetadataRequest::default())).expect("write");
        assert!(closed(&mut s), "Metadata before authentication closes the connection");

        // An oversized frame before authentication: refused on its length prefix alone.
        let mut s = connect();
        let size = (broker_core::MAX_UNAUTHENTICATED_BYTES + 1) as i32;
        s.write_all(&size.to_be_bytes()).expect("write");
        s.write_all(&[0u8; 1024]).expect("write");
        assert!(closed(&mut s), "a 512 KiB+ frame before authentication closes the connection");

        // A mechanism that is not offered: listed, the connection stays usable.
        let mut s = connect();
        let refused = handshake(&mut s, 1, "GSSAPI");
        assert_eq!(refused.error_code, ResponseError::UnsupportedSaslMechanism.code());
        assert!(refused.mechanisms.iter().any(|m| m.as_str() == "SCRAM-SHA-512"), "{refused:?}");
        assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 0);
        s.write_all(&crate::wire::frame(ApiKey::SaslHandshake, 1, 8, &SaslHandshakeRequest::default())).expect("write");
        assert!(closed(&mut s), "a second handshake closes the connection, as in Kafka");

        // Malformed tokens, each on a fresh connection: SASL_AUTHENTICATION_FAILED, then closed.
        let scram_garbage: [&[u8]; 6] =
            [b"", b"n,,", b"p=tls-unique,,n=alice,r=abc", b"n,,n=alice", b"n,a=mallory,n=alice,r=abc", &[0xff; 300]];
        for token in scram_garbage {
            let mut s = connect();
            assert_eq!(handshake(&mut s, 1, "SCRAM-SHA-256").error_code, 0);
            let answer = authenticate(&mut s, token);
            assert_eq!(answer.error_code, ResponseError::SaslAuthenticationFailed.code(), "{token:?}");
            assert!(answer.error_message.is_some_and(|m| !m.is_empty()));
            assert!(closed(&mut s), "{token:?}");
        }
        // A good client-first then a forged client-final (wrong proof, wrong nonce, garbage).
        for last in [&b"c=biws,r=WRONG,p=AAAA"[..], b"c=biws", b"\x00\x01\x02"] {
            let mut s = connect();
            assert_eq!(handshake(&mut s, 1, "SCRAM-SHA-256").error_code, 0);
            let first = authenticate(&mut s, b"n,,n=alice,r=clientnonce");
            assert_eq!(first.error_code, 0, "{first:?}");
            let answer = authenticate(&mut s, last);
            assert_eq!(answer.error_code, ResponseError::SaslAuthenticationFailed.code(), "{last:?}");
            assert!(closed(&mut s));
        }
        for token in [&b"alice"[..], b"\0alice", b"\0alice\0wrong", b"\0\0", &[0u8; 4096]] {
            let mut s = connect();
            assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 0);
            assert_eq!(
                authenticate(&mut s, token).error_code,
                ResponseError::SaslAuthenticationFailed.code(),
                "{token:?}"
            );
            assert!(closed(&mut s));
        }
        // After a v0 handshake, tokens are raw: a short wrong one closes without an answer, a
        // short right one is answered with an empty token.
        let mut s = connect();
        assert_eq!(handshake(&mut s, 0, "PLAIN").error_code, 0);
        s.write_all(&[0, 0, 0, 3, 0, b'a', 0]).expect("write");
        assert!(closed(&mut s), "a wrong raw PLAIN token");
        let mut s = connect();
        assert_eq!(handshake(&mut s, 0, "PLAIN").error_code, 0);
        let token = format!("\0alice\0{ALICE_PASSWORD}");
        s.write_all(&(token.len() as i32).to_be_bytes()).expect("write");
        s.write_all(token.as_bytes()).expect("write");
        let mut size = [0u8; 4];
        s.read_exact(&mut size).expect("raw answer");
        assert_eq!(size, [0, 0, 0, 0]);
        let metadata: MetadataResponse = crate::wire::call(&mut s, ApiKey::Metadata, 12, &MetadataRequest::default());
        assert_eq!(metadata.brokers.len(), 1, "served after a raw PLAIN authentication");
        // Auto-creation by a user who is not a super user: refused by name, as Kafka does.
        let wanted = MetadataRequest::default()
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("alices-new-topic"))))]))
            .with_allow_auto_topic_creation(true);
        let metadata: MetadataResponse = crate::wire::call(&mut s, ApiKey::Metadata, 12, &wanted);
        assert_eq!(metadata.topics[0].error_code, ResponseError::TopicAuthorizationFailed.code(), "{metadata:?}");
        // The SASL requests after success: ILLEGAL_SASL_STATE, as in Kafka, and the connection serves on.
        let again = authenticate(&mut s, b"\0alice\0whatever");
        assert_eq!(again.error_code, ResponseError::IllegalSaslState.code(), "{again:?}");
        assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, ResponseError::IllegalSaslState.code());
        let metadata: MetadataResponse = crate::wire::call(&mut s, ApiKey::Metadata, 12, &MetadataRequest::default());
        assert_eq!(metadata.brokers.len(), 1, "still served after the refused SASL requests");
    })
    .await
    .expect("hostile SASL");
    let failures = cluster.stats.auth_failures();
    assert!(failures.iter().map(|(_, n)| n).sum::<u64>() >= 15, "{failures:?}");
    // Everyone else is still served.
    let cfg = ClientConfig::new()
        .set("bootstrap.servers", warren.bootstrap())
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanisms", "SCRAM-SHA-256")
        .set("sasl.username", "alice")
        .set("sasl.password", ALICE_PASSWORD)
        .clone();
    let consumer: BaseConsumer = cfg.create().expect("consumer");
    let metadata = tokio::task::spawn_blocking(move || {
        consumer.fetch_metadata(None, Duration::from_secs(30)).map(|m| m.brokers().len())
    })
    .await
    .expect("join");
    assert_eq!(metadata.expect("metadata over SASL_PLAINTEXT after the hostile connections"), 1);
    warren.stop().await.expect("stop");
}

/// A client that speaks SASL to a PLAINTEXT listener is told so (ILLEGAL_SASL_STATE, no
/// mechanisms offered), as Kafka answers, instead of losing its connection without a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_on_a_plaintext_listener_is_illegal_sasl_state() {
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::ResponseError;
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(1)).await.expect("start");
    let addr = warren.kafka[0];
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let request = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("SCRAM-SHA-512"));
        let answer: SaslHandshakeResponse = crate::wire::call(&mut s, ApiKey::SaslHandshake, 1, &request);
        assert_eq!(answer.error_code, ResponseError::IllegalSaslState.code(), "{answer:?}");
        assert!(answer.mechanisms.is_empty(), "a PLAINTEXT listener offers no mechanism: {answer:?}");
        let request = SaslAuthenticateRequest::default().with_auth_bytes(bytes::Bytes::from_static(b"\0u\0p"));
        let answer: SaslAuthenticateResponse = crate::wire::call(&mut s, ApiKey::SaslAuthenticate, 2, &request);
        assert_eq!(answer.error_code, ResponseError::IllegalSaslState.code(), "{answer:?}");
        assert!(answer.error_message.is_some_and(|m| m.contains("does not use SASL")));
        let metadata: MetadataResponse = crate::wire::call(&mut s, ApiKey::Metadata, 12, &MetadataRequest::default());
        assert_eq!(metadata.brokers.len(), 1, "the connection serves on");
    })
    .await
    .expect("plaintext SASL");
    warren.stop().await.expect("stop");
}

/// `warren configs --entity-type users`, as kafka-configs.sh: adds a SCRAM credential (salted by
/// the tool, never sent in clear), describes users, deletes a mechanism; the new user logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warren_configs_manages_scram_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pki, warren) = start_secured(dir.path(), "SASL_SSL", false, None).await;
    let b = warren.bootstrap();
    let admin = sasl_properties(&pki, "SCRAM-SHA-512", "admin", ADMIN_PASSWORD);
    let run = |args: Vec<String>| {
        let (dir, admin) = (dir.path().to_path_buf(), admin.clone());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            warren_tool(&dir, "admin", &admin, &args)
        })
    };
    let add = [
        "configs",
        "--bootstrap-server",
        &b,
        "--entity-type",
        "users",
        "--entity-name",
        "dave",
        "--alter",
        "--add-config",
        "SCRAM-SHA-512=[iterations=8192,password=dave-secret],SCRAM-SHA-256=[password=dave-256]",
    ];
    let out = run(add.iter().map(|s| s.to_string()).collect()).await.expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Completed updating config for user dave.\n");
    let describe =
        ["configs", "--bootstrap-server", &b, "--entity-type", "users", "--entity-name", "dave", "--describe"];
    let out = run(describe.iter().map(|s| s.to_string()).collect()).await.expect("join");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "SCRAM credential configs for user-principal 'dave' are SCRAM-SHA-256=iterations=4096, SCRAM-SHA-512=iterations=8192\n"
    );
    let timeout = Duration::from_secs(10);
    Connection::open(&b, "test", timeout, &client_security(&pki, "dave", "dave-secret")).await.expect("dave logs in");
    let delete = [
        "configs",
        "--bootstrap-server",
        &b,
        "--entity-type",
        "users",
        "--entity-name",
        "dave",
        "--alter",
        "--delete-config",
        "SCRAM-SHA-512",
    ];
    let out = run(delete.iter().map(|s| s.to_string()).collect()).await.expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let refused = Connection::open(&b, "test", timeout, &client_security(&pki, "dave", "dave-secret")).await;
    assert!(refused.is_err(), "dave's SCRAM-SHA-512 credential is gone");
    let bad = [
        "configs",
        "--bootstrap-server",
        &b,
        "--entity-type",
        "users",
        "--entity-name",
        "dave",
        "--alter",
        "--add-config",
        "SCRAM-SHA-1=[password=x]",
    ];
    let out = run(bad.iter().map(|s| s.to_string()).collect()).await.expect("join");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a SCRAM mechanism"));
    let store = std::fs::read_to_string(dir.path().join("data/security/users.json")).expect("store");
    assert!(!store.contains("dave-secret") && !store.contains("dave-256"));
    warren.stop().await.expect("stop");
}

/// A stream job on a SASL_SSL embedded cluster: it connects as the first super user, over TLS
/// pinned to the listener's own certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_jobs_reach_a_secured_embedded_cluster() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = Pki::new(dir.path());
    let toml = format!(
        "{}[[streams]]\nname = \"secure-job\"\nsource = [\"secure-in\"]\nfilter = {{ pointer = \"/ok\", equals = true }}\nsink = \"secure-out\"\n",
        security_toml(&pki, "SASL_SSL", false)
    );
    let warren = Warren::start(&dir.path().join("data"), Options::brokers(1).with_toml(&toml)).await.expect("start");
    let topic = NewTopic { name: "secure-in".into(), partitions: Some(1), ..NewTopic::default() };
    warren.cluster.create_topic(&topic, false).expect("topic");
    for i in 0..10 {
        let value = bytes::Bytes::from(format!(r#"{{"ok":{},"i":{i}}}"#, i % 2 == 0));
        warren.cluster.produce_record("secure-in", 0, None, Some(value), Vec::new()).await.expect("produce");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let written = || warren.cluster.leader_replica("secure-out", 0).map(|r| r.high_watermark());
    while written() != Some(5) {
        assert!(std::time::Instant::now() < deadline, "the job wrote {:?} of 5 records", written());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _, body) =
        warren_tests::http(warren.http, "GET", "/api/v1/streams/secure-job", None, &[]).await.expect("api");
    assert_eq!(status, 200);
    let job: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!((job["status"].as_str(), job["records_out"].as_u64()), (Some("RUNNING"), Some(5)), "{job}");
    warren.stop().await.expect("stop");
}
