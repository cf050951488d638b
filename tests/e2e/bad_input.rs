//! Malformed frames close that connection only: garbage, oversized length prefixes, truncated
//! frames and unknown API keys. A well-behaved connection keeps working throughout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use warren_tests::{Options, Warren};

/// An ApiVersions v0 request frame.
fn api_versions(correlation_id: i32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&correlation_id.to_be_bytes());
    body.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend(body);
    frame
}

fn ask_api_versions(stream: &mut TcpStream, correlation_id: i32) {
    stream.write_all(&api_versions(correlation_id)).expect("write");
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("response size");
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).expect("response body");
    assert_eq!(&body[0..4], &correlation_id.to_be_bytes());
    assert_eq!(&body[4..6], &[0, 0], "error code");
}

/// Sends `bytes` and expects the broker to close the connection.
fn expect_closed(addr: SocketAddr, bytes: &[u8]) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(bytes).expect("write");
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("connection should be closed after {:?}: {other:?}", &bytes[..bytes.len().min(16)]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_their_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(1)).await.expect("start");
    let addr = warren.kafka[0];
    tokio::task::spawn_blocking(move || {
        let mut good = TcpStream::connect(addr).expect("connect");
        ask_api_versions(&mut good, 1);

        expect_closed(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"); // length prefix of 1.2 GB
        expect_closed(addr, &i32::MAX.to_be_bytes());
        expect_closed(addr, &(-5i32).to_be_bytes());
        let mut unknown = api_versions(2);
        unknown[4..6].copy_from_slice(&999i16.to_be_bytes());
        expect_closed(addr, &unknown);
        // Metadata v12 whose body is garbage.
        let mut garbage = vec![0, 0, 0, 14, 0, 3, 0, 12, 0, 0, 0, 9];
        garbage.extend_from_slice(&[0xff; 6]);
        expect_closed(addr, &garbage);
        // A frame cut short, then the client goes away: nothing to answer, nothing breaks.
        let mut cut = TcpStream::connect(addr).expect("connect");
        cut.write_all(&[0, 0, 0, 100, 0, 18, 0, 0]).expect("write");
        drop(cut);

        ask_api_versions(&mut good, 3);
        // An ApiVersions version warren does not know gets error 35 in the v0 layout.
        let mut future = api_versions(4);
        future[6..8].copy_from_slice(&99i16.to_be_bytes());
        good.write_all(&future).expect("write");
        let mut size = [0u8; 4];
        good.read_exact(&mut size).expect("size");
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        good.read_exact(&mut body).expect("body");
        assert_eq!(&body[4..6], &35i16.to_be_bytes());
        ask_api_versions(&mut good, 5);
    })
    .await
    .expect("client thread");
    warren.stop().await.expect("stop");
}
