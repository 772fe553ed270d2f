//! Eight `email-py` runs at once on one host of `--concurrency 8`, under
//! the default limits: each run's request is held by a mail API that
//! answers none until eight are in flight, so all eight succeed on their
//! first attempt only if the host really runs eight Python instances at
//! once (a Python component instantiates 14 core modules, and the pool
//! must hold that many for each of them).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use wasmq::task::TaskState;
use wasmq_tests::broker::client;
use wasmq_tests::host::{HostProcess, enqueue, json_tasks, settled, statuses};
use wasmq_tests::http_server::read_request;
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

/// Requests held until this many are in flight at once.
const AT_ONCE: usize = 8;
/// How long a request waits for the others before it is answered anyway
/// (so a host that runs fewer at once fails the count, not the test's
/// deadline); well inside the default 30 s task timeout.
const HOLD_AT_MOST: Duration = Duration::from_secs(20);

/// The requests in flight now, and the most there ever were.
#[derive(Default)]
struct InFlight {
    now: usize,
    most: usize,
}

/// A mail API on 127.0.0.1 that holds every request until [`AT_ONCE`] are
/// in flight, then answers each `202 {"id": ...}`.
struct HeldMailApi {
    port: u16,
    state: Arc<(Mutex<InFlight>, Condvar)>,
}

impl HeldMailApi {
    fn start() -> HeldMailApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the held mail API");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new((Mutex::new(InFlight::default()), Condvar::new()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = hold_and_answer(stream, &state);
                });
            }
        });
        HeldMailApi { port, state }
    }

    fn most_in_flight(&self) -> usize {
        self.state.0.lock().unwrap().most
    }
}

/// Reads one request, waits until [`AT_ONCE`] are in flight (or
/// [`HOLD_AT_MOST`]), answers it.
fn hold_and_answer(stream: TcpStream, state: &(Mutex<InFlight>, Condvar)) -> std::io::Result<()> {
    read_request(&stream, Duration::from_secs(60))?;
    let (lock, arrived) = state;
    let number = {
        let mut flight = lock.lock().unwrap();
        flight.now += 1;
        flight.most = flight.most.max(flight.now);
        let number = flight.most;
        arrived.notify_all();
        let (mut flight, _) = arrived
            .wait_timeout_while(flight, HOLD_AT_MOST, |f| f.most < AT_ONCE)
            .unwrap();
        flight.now -= 1;
        number
    };
    let answer = format!("{{\"id\":\"held-{number}\"}}");
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    stream.flush()
}

/// Starts a host of `--concurrency 8` (default limits, `cache` shared with
/// the other tests) with `email-py` as `held-py`, granted the held mail
/// API, and sends it eight messages at once.
pub async fn eight_email_py_tasks_run_at_once(redis: &RedisServer, cache: &std::path::Path) {
    let api = HeldMailApi::start();
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("mail_token");
    std::fs::write(&token, "held-token").unwrap();
    let plugins = PluginsDir::with(&[("email-py", "held-py")]);
    plugins.manifest(
        "held-py",
        &format!(
            "[capabilities]\nhttp = [\"http://127.0.0.1:{port}\"]\n[config]\n\
             mail_api = \"http://127.0.0.1:{port}/v1/messages\"\n[secrets]\n\
             mail_token = \"file:{}\"\n",
            token.display(),
            port = api.port
        ),
    );
    let host = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "8", "--cache-dir", cache.to_str().unwrap()],
    );
    let client = client(&redis.url()).await;
    let payloads = (0..AT_ONCE)
        .map(|i| serde_json::json!({"to": format!("held{i}@example.com"), "subject": "at once"}));
    let ids = enqueue(&client, json_tasks("held-py", payloads)).await;
    let totals = settled(&client, &["held-py"], AT_ONCE as u64, super::LONG).await;
    let states = statuses(&client, &ids).await;
    assert_eq!(
        totals.completed,
        AT_ONCE as u64,
        "{states:?}\n{}",
        host.log()
    );
    for state in &states {
        assert_eq!(
            (state.state, state.attempts),
            (TaskState::Completed, 1),
            "{states:?}"
        );
    }
    assert_eq!(
        api.most_in_flight(),
        AT_ONCE,
        "the eight requests were not all in flight at once\n{}",
        host.log()
    );
}
