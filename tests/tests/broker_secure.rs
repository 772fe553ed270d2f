//! TLS (`rediss://`) and AUTH through the URL, against a real `redis-server`
//! that requires a password on both its plain and its TLS port.
//!
//! The certificate is self-signed and made here with `openssl`, so the TLS
//! URL carries `#insecure` (skip certificate verification); what this proves
//! is that the broker speaks TLS and authenticates, end to end, through the
//! same `Client::connect(url)` producers and hosts use.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use wasmq::Client;
use wasmq::broker::Settlement;
use wasmq::task::{TaskSpec, TaskState};
use wasmq_tests::broker::{done, opts};

const PASSWORD: &str = "s3cret-pass";

/// A redis-server with `requirepass`, a plain port and a TLS port.
struct SecureRedis {
    child: Child,
    plain: u16,
    tls: u16,
    _dir: TempDir,
}

impl SecureRedis {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl not found: install it with `apt-get install openssl`");
        assert!(
            status.success(),
            "openssl could not make a test certificate"
        );
        let (plain, tls) = (free_port(), free_port());
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &plain.to_string(), "--tls-port", &tls.to_string()])
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .arg("--tls-ca-cert-file")
            .arg(&cert)
            .args(["--tls-auth-clients", "no", "--requirepass", PASSWORD])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server not found: install it with `apt-get install redis-server`");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", tls)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server with TLS did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SecureRedis {
            child,
            plain,
            tls,
            _dir: dir,
        }
    }
}

impl Drop for SecureRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Enqueue, lease, ack and look up one task through `client`.
async fn round_trip(client: &Client, queue: &str) {
    let id = client
        .enqueue(TaskSpec::new(queue, b"{\"n\":1}".to_vec()))
        .await
        .unwrap();
    let leased = client.lease(queue, 10).await.unwrap();
    assert_eq!(leased.len(), 1);
    let settled = client
        .ack_many(&[(leased[0].clone(), done("ok"))])
        .await
        .unwrap();
    assert_eq!(settled, vec![Settlement::Completed]);
    let status = client
        .status(&id)
        .await
        .unwrap()
        .expect("status of an acked task");
    assert_eq!(status.state, TaskState::Completed);
}

#[tokio::test]
async fn tls_and_auth_through_the_url() {
    let redis = SecureRedis::start();
    let tls_url = format!("rediss://:{PASSWORD}@127.0.0.1:{}/#insecure", redis.tls);
    let client = Client::connect(&tls_url, opts()).await.unwrap();
    round_trip(&client, "over-tls").await;

    let plain_url = format!("redis://:{PASSWORD}@127.0.0.1:{}", redis.plain);
    let client = Client::connect(&plain_url, opts()).await.unwrap();
    round_trip(&client, "with-auth").await;
}

#[tokio::test]
async fn a_wrong_or_missing_password_is_a_clear_error() {
    let redis = SecureRedis::start();
    for url in [
        format!("redis://:wrong@127.0.0.1:{}", redis.plain),
        format!("redis://127.0.0.1:{}", redis.plain),
    ] {
        let outcome = async {
            let client = Client::connect(&url, opts()).await?;
            client.enqueue(TaskSpec::new("q", b"x".to_vec())).await
        }
        .await;
        let message = outcome.expect_err("Redis requires a password").to_string();
        let lower = message.to_lowercase();
        assert!(
            lower.contains("auth") || lower.contains("password") || lower.contains("noperm"),
            "the error should say authentication failed: {message}"
        );
        println!("{url} -> {message}");
    }
}
