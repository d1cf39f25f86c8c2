//! Resource limits of `lifeline serve` as a real process over real TCP: a flood of `validate`
//! from one address is refused (429 + Retry-After) while another address is served; oversized
//! bodies are refused (413), announced or not, without the server waiting for them. (A client
//! dribbling its headers is cut off: `server.rs`.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lifeline");

/// A `lifeline serve` process on 127.0.0.1, killed on drop.
struct Node {
    child: Child,
    port: u16,
    admin: String,
}

impl Node {
    fn start(data: &Path, args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(BIN)
            .args(["serve", "--data-dir", data.to_str().unwrap(), "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env_remove("LIFELINE_ADMIN_TOKEN")
            .env_remove("LIFELINE_CONSOLE_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut node = Self {
            child,
            port,
            admin: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|s| exchange(s, &request("GET", "/readyz", None, b"")).status);
            if ready == Some(200) {
                break;
            }
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        node.admin = std::fs::read_to_string(data.join("admin-token"))
            .unwrap()
            .trim()
            .to_owned();
        node
    }

    /// A connection from `source` (any 127.0.0.0/8 address: Linux routes them all to lo).
    fn connect_from(&self, source: Ipv4Addr) -> TcpStream {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let to = SocketAddr::from(([127, 0, 0, 1], self.port));
        let stream = rt
            .block_on(async {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.bind(SocketAddr::from((source, 0)))?;
                socket.connect(to).await
            })
            .unwrap();
        let stream = stream.into_std().unwrap();
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// An HTTP/1.1 request's head (and body), `Connection: close`.
fn request(method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: lifeline.test\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The head of a POST announcing a JSON body of `length` bytes (none of which it carries).
fn announcing_head(path: &str, token: Option<&str>, length: u64) -> String {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: lifeline.test\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n"
    );
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Sends `bytes`, reads the answer until the server closes.
fn exchange(mut stream: TcpStream, bytes: &[u8]) -> Response {
    stream.write_all(bytes).unwrap();
    read_response(stream)
}

fn read_response(mut stream: TcpStream) -> Response {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

#[test]
fn a_validate_flood_from_one_address_does_not_starve_another() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    // 2 requests per second per address, a burst of 4.
    let node = Node::start(&dir.path().join("data"), &["--validate-rate", "2"]);
    let validate = request("POST", "/api/v1/validate", None, br#"{"token":"x"}"#);
    let flooder = Ipv4Addr::new(127, 0, 0, 1);
    let other = Ipv4Addr::new(127, 0, 0, 2);
    let started = Instant::now();
    let flood = std::thread::scope(|scope| {
        // Two threads flood from 127.0.0.1, 150 requests each, as fast as they are answered.
        let floods: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    (0..150)
                        .map(|_| exchange(node.connect_from(flooder), &validate))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // Meanwhile 127.0.0.2 asks now and then: answered every time, promptly.
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(100));
            let asked = Instant::now();
            let r = exchange(node.connect_from(other), &validate);
            assert_eq!(r.status, 200, "127.0.0.2 is served during the flood");
            assert_eq!(r.json()["verdict"]["reason"], "malformed");
            assert!(
                asked.elapsed() < Duration::from_secs(2),
                "{:?}",
                asked.elapsed()
            );
        }
        floods
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let served = flood.iter().filter(|r| r.status == 200).count();
    let refused: Vec<&Response> = flood.iter().filter(|r| r.status == 429).collect();
    assert_eq!(served + refused.len(), 300, "only 200 or 429 answers");
    // The burst, plus what 2/s refills over the flood's duration (and one for rounding).
    let budget = 4.0 + 2.0 * elapsed + 1.0;
    assert!(
        served >= 4 && served as f64 <= budget,
        "{served} served in {elapsed:.1} s (budget {budget:.0})"
    );
    for r in &refused {
        assert_eq!(r.json()["code"], "rate_limited");
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
    }
    // The flooder itself gets its budget back with time.
    std::thread::sleep(Duration::from_millis(1500));
    let r = exchange(node.connect_from(flooder), &validate);
    assert_eq!(r.status, 200, "127.0.0.1 is served again after a pause");
}

#[test]
fn oversized_bodies_are_refused_without_waiting_for_them() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &[]);
    let local = Ipv4Addr::LOCALHOST;
    let admin = node.admin.clone();
    // Announced: a head claiming 10 GiB (and only a few bytes of it) is answered 413 at once, on
    // the public validate route and on an authenticated one; bulk's larger limit has its end too.
    for (path, token, length) in [
        ("/api/v1/validate", None, 10u64 << 30),
        ("/api/v1/licenses", Some(admin.as_str()), 10 << 30),
        ("/api/v1/validate", None, (1 << 20) + 1),
        (
            "/api/v1/licenses/bulk",
            Some(admin.as_str()),
            (32 << 20) + 1,
        ),
    ] {
        let mut head = announcing_head(path, token, length);
        head.push_str("{\"token\":\"");
        let asked = Instant::now();
        let r = exchange(node.connect_from(local), head.as_bytes());
        assert_eq!(r.status, 413, "{path} with Content-Length {length}");
        assert_eq!(r.json()["code"], "body_too_large", "{path}");
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "{path}: answered only after {:?}",
            asked.elapsed()
        );
    }
    // Not announced (chunked): refused once the limit is crossed, not read to its end.
    let mut stream = node.connect_from(local);
    stream
        .write_all(
            b"POST /api/v1/validate HTTP/1.1\r\nHost: lifeline.test\r\nConnection: close\r\n\
              Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap();
    let reader = stream.try_clone().unwrap();
    let answer = std::thread::spawn(move || read_response(reader));
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0usize;
    // Up to 64 MiB, stopping as soon as the server stops reading.
    while sent < 64 << 20 {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        if stream.write_all(&framed).is_err() {
            break;
        }
        sent += chunk.len();
        if answer.is_finished() {
            break;
        }
    }
    let r = answer.join().unwrap();
    assert_eq!(r.status, 413, "chunked body of at least {sent} bytes");
    assert_eq!(r.json()["code"], "body_too_large");
    assert!(
        sent < 16 << 20,
        "the server read {sent} bytes before refusing"
    );
    // Bulk takes more than 1 MiB: a 2 MiB body gets the route's own answer, not 413.
    let mut body = br#"{"licenses": []"#.to_vec();
    body.resize(2 << 20, b' ');
    body.push(b'}');
    let r = exchange(
        node.connect_from(local),
        &request("POST", "/api/v1/licenses/bulk", Some(&admin), &body),
    );
    assert!(
        r.status != 413 && r.status < 500,
        "bulk with 2 MiB: {} {:?}",
        r.status,
        r.json()
    );
    // The server is still fine.
    let r = exchange(
        node.connect_from(local),
        &request("GET", "/healthz", None, b""),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn a_body_dribbled_slower_than_the_deadline_is_cut_off_while_others_are_served() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &[]);
    let local = Ipv4Addr::LOCALHOST;
    // Headers at once, then a body announced at 100 bytes of which only a few ever come.
    let mut slow = node.connect_from(local);
    slow.write_all(
        b"POST /api/v1/validate HTTP/1.1\r\nHost: lifeline.test\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tok",
    )
    .unwrap();
    let started = Instant::now();
    let reader = slow.try_clone().unwrap();
    let answer = std::thread::spawn(move || read_response(reader));
    // Meanwhile another client is served at once.
    let other = exchange(
        node.connect_from(local),
        &request("GET", "/healthz", None, b""),
    );
    assert_eq!(other.status, 200);
    assert!(started.elapsed() < lifeline_server::BODY_READ_TIMEOUT);
    // A byte now and then does not keep the connection alive past the deadline.
    for _ in 0..4 {
        std::thread::sleep(Duration::from_secs(2));
        if slow.write_all(b"e").is_err() {
            break;
        }
    }
    let r = answer.join().unwrap();
    let waited = started.elapsed();
    assert_eq!(r.status, 408, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["code"], "body_timeout");
    assert!(
        waited >= lifeline_server::BODY_READ_TIMEOUT
            && waited < lifeline_server::BODY_READ_TIMEOUT + Duration::from_secs(5),
        "cut off after {waited:?}"
    );
}

/// The server's resident memory, KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Sends the head of a request announcing `length` body bytes, then up to `send` bytes of
/// body while the server reads; returns the answer and how long it took to come.
fn announce_and_trickle(
    node: &Node,
    source: Ipv4Addr,
    path: &str,
    token: Option<&str>,
    length: usize,
    send: usize,
) -> (Response, Duration) {
    let mut stream = node.connect_from(source);
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let head = announcing_head(path, token, length as u64);
    let started = Instant::now();
    stream.write_all(head.as_bytes()).unwrap();
    let reader = stream.try_clone().unwrap();
    let answer = std::thread::spawn(move || {
        let r = read_response(reader);
        (r, started.elapsed())
    });
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < send && !answer.is_finished() {
        if stream.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    answer.join().unwrap()
}

/// The red-team finding "unauthenticated memory hold": a client announcing a 32 MiB body to
/// the bulk route and sending it slowly held ~33 MiB of server memory per connection until the
/// body deadline, then got 408 (48 such connections: RSS 534 -> 1,593 MiB). Now the token and
/// its role are checked before any of the body is read: 401 / 403 at once, and the memory
/// does not move. What an authorised client can make the node hold is bounded by
/// MAX_BODY_BYTES_IN_FLIGHT (503 `busy` beyond it), and returned when its requests end.
#[test]
fn bodies_are_read_only_after_authentication_and_within_a_budget() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &["--validate-rate", "0"]);
    let bulk = "/api/v1/licenses/bulk";
    let big = lifeline_server::MAX_BULK_BODY_BYTES;
    let pid = node.child.id();
    let before = rss_kib(pid);

    // 48 anonymous connections, each announcing 32 MiB and pushing 4 MiB of it (each from its
    // own address, so that none is refused for too many failed authentications instead).
    let answers: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..48u8)
            .map(|i| {
                let source = Ipv4Addr::new(127, 0, 1, i + 1);
                let node = &node;
                s.spawn(move || announce_and_trickle(node, source, bulk, None, big, 4 << 20))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (r, took) in &answers {
        assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["code"], "unauthorized");
        assert!(*took < Duration::from_secs(5), "401 only after {took:?}");
    }
    let after = rss_kib(pid);
    println!("48 anonymous 32 MiB bulk bodies: server RSS {before} KiB -> {after} KiB");
    assert!(
        after < before + 48 * 1024,
        "48 anonymous 32 MiB bodies moved the server's memory from {before} KiB to {after} KiB"
    );

    // A viewer may not issue: refused 403 before its body is read, too.
    let created = exchange(
        node.connect_from(Ipv4Addr::LOCALHOST),
        &request(
            "POST",
            "/api/v1/tokens",
            Some(&node.admin),
            br#"{"name":"reader","role":"viewer"}"#,
        ),
    );
    assert_eq!(created.status, 201, "{:?}", created.json());
    let viewer = created.json()["token"].as_str().unwrap().to_owned();
    let (r, took) = announce_and_trickle(
        &node,
        Ipv4Addr::LOCALHOST,
        bulk,
        Some(&viewer),
        big,
        1 << 20,
    );
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert!(took < Duration::from_secs(5), "403 only after {took:?}");

    // An admin's bodies are read, but the node holds at most its in-flight budget of them:
    // four announced bulk bodies take it all, a fifth request is told to come back.
    let budget = lifeline_server::MAX_BODY_BYTES_IN_FLIGHT / big;
    let holders: Vec<TcpStream> = (0..budget)
        .map(|_| {
            let mut s = node.connect_from(Ipv4Addr::LOCALHOST);
            let mut head = announcing_head(bulk, Some(&node.admin), big as u64);
            head.push('{');
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let full = exchange(
        node.connect_from(Ipv4Addr::LOCALHOST),
        &request("POST", bulk, Some(&node.admin), br#"{"licenses":[]}"#),
    );
    assert_eq!(full.status, 503, "{}", String::from_utf8_lossy(&full.body));
    assert_eq!(full.json()["code"], "busy");
    assert_eq!(full.header("retry-after"), Some("1"));
    // Their clients go away: the budget comes back at once.
    drop(holders);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = exchange(
            node.connect_from(Ipv4Addr::LOCALHOST),
            &request("POST", bulk, Some(&node.admin), br#"{"licenses":[]}"#),
        );
        if r.status != 503 {
            assert!(r.status < 500, "{} {:?}", r.status, r.json());
            break;
        }
        assert!(Instant::now() < deadline, "the budget did not come back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What hyper refuses before the router sees a request (not HTTP, a URI over 65,534 bytes,
/// too many headers) was a bare head with an empty body; now each is an RFC 9457 problem
/// like every other refusal, and the server goes on serving.
#[test]
fn transport_refusals_are_problems_too() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &[]);
    let local = Ipv4Addr::new(127, 0, 0, 1);
    let many_headers: String = (0..150).map(|i| format!("X-Filler-{i}: v\r\n")).collect();
    let cases = [
        (b"NOT HTTP AT ALL\r\n\r\n".to_vec(), 400, "bad_http"),
        (
            format!(
                "GET /api/v1/licenses/{} HTTP/1.1\r\nHost: x\r\n\r\n",
                "a".repeat(70_000)
            )
            .into_bytes(),
            414,
            "uri_too_long",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n").into_bytes(),
            431,
            "headers_too_large",
        ),
    ];
    for (bytes, status, code) in cases {
        let answer = exchange(node.connect_from(local), &bytes);
        assert_eq!(answer.status, status, "{code}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json"),
            "{code}"
        );
        let problem = answer.json();
        assert_eq!(
            (problem["status"].as_u64(), problem["code"].as_str()),
            (Some(u64::from(status)), Some(code))
        );
        assert_eq!(problem["type"], format!("urn:lifeline:problem:{code}"));
    }
    let healthy = exchange(
        node.connect_from(local),
        &request("GET", "/healthz", None, b""),
    );
    assert_eq!(healthy.status, 200);
}
