//! The HTTP API as its clients see it: a real server on 127.0.0.1 port 0
//! over its own `redis-server`, driven with a real HTTP client (or raw bytes
//! when a test must control every header). The API suites, the dashboard
//! and browser-attack suites and the schedule CLI suite all need the same
//! server; tasks are moved through their states with the broker calls of
//! [`crate::broker`], so no worker is needed.

use crate::broker::{connect, done, failure, lease_one};
use crate::redis::RedisServer;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wasmq::Client;
use wasmq::broker::BrokerOptions;
use wasmq::http::{HttpError, HttpState, bind, serve};
use wasmq::plugins::Registry;
use wasmq::task::{TaskId, TaskSpec, TaskState};

/// A token long enough for [`wasmq::http::validate_token`].
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// A running API server over its own Redis. Stops the server on drop.
pub struct Api {
    pub redis: RedisServer,
    pub client: Client,
    pub base: String,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    server: Option<JoinHandle<Result<(), HttpError>>>,
}

impl Api {
    /// Starts Redis, a client, and the server (with `token` and `registry`).
    pub async fn start(token: Option<&str>, registry: Option<Registry>) -> Self {
        Self::start_with(token, registry, |state| state).await
    }

    /// Like [`Api::start`], with `configure` applied to the server's state
    /// (allowed hosts, protected reads).
    pub async fn start_with(
        token: Option<&str>,
        registry: Option<Registry>,
        configure: impl FnOnce(HttpState) -> HttpState,
    ) -> Self {
        let redis = RedisServer::start();
        let opts = BrokerOptions {
            response_timeout: Duration::from_secs(2),
            ..BrokerOptions::default()
        };
        let client = connect(&redis.url(), opts).await;
        let listener = bind("127.0.0.1:0".parse().unwrap(), token)
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let state = configure(
            HttpState::new(client.clone(), registry, token.map(str::to_owned))
                .expect("build the HTTP state"),
        );
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve(listener, state, shutdown.clone()));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Api {
            redis,
            client,
            base: format!("http://127.0.0.1:{port}"),
            http,
            shutdown,
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path`; returns the status and the JSON body (Null if not JSON).
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        split(response).await
    }

    /// POST a JSON body to `path` with an optional bearer token.
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        token: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.http.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        split(request.send().await.expect("POST")).await
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Sends `request` (the head, CRLF line ends, without the final empty
    /// line) and `body` byte for byte over a new connection, so a test
    /// controls every header (or its absence); returns the status and the
    /// JSON body (Null if not JSON).
    pub async fn raw(&self, head: &str, body: &str) -> (u16, serde_json::Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port()))
            .await
            .expect("connect to the API");
        let length = if body.is_empty() && head.starts_with("GET") {
            String::new()
        } else {
            format!("Content-Length: {}\r\n", body.len())
        };
        let request = format!("{head}\r\n{length}Connection: close\r\n\r\n{body}");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
            .await
            .expect("the server answers in time")
            .expect("read the response");
        let text = String::from_utf8_lossy(&response);
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        (
            status,
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("the server stops on shutdown")
                .expect("the server task does not panic")
                .expect("the server ends without error");
        }
    }

    /// Enqueues one task through the broker directly.
    pub async fn enqueue(&self, queue: &str, max_retries: u32) -> TaskId {
        self.client
            .enqueue(TaskSpec::new(queue, b"{}".to_vec()).max_retries(max_retries))
            .await
            .expect("enqueue")
    }

    /// Leases the next task of `queue` and dead-letters it with `error`.
    pub async fn kill_next(&self, queue: &str, error: &str) -> TaskId {
        let task = lease_one(&self.client, queue).await;
        self.client
            .dead(&task, &failure(error))
            .await
            .expect("dead-letter");
        task.id
    }

    /// The task's state now; panics when it is unknown.
    pub async fn state_of(&self, id: &TaskId) -> TaskState {
        let status = self.client.status(id).await.expect("status");
        status
            .unwrap_or_else(|| panic!("task {id} is unknown"))
            .state
    }

    /// Waits (at most a minute) until the task is in `want`.
    pub async fn until_state(&self, id: &TaskId, want: TaskState) {
        let what = format!("{id} {want}");
        crate::host::eventually(&what, Duration::from_secs(60), || async {
            let s = self.client.status(id).await.expect("status")?;
            (s.state == want).then_some(())
        })
        .await;
    }

    /// POSTs a task-browser action for `queue`.
    pub async fn act(&self, queue: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let path = format!("/api/v1/queues/{queue}/tasks/actions");
        self.post(&path, &body, None).await
    }

    /// Leases the next task of `queue` and acks it with a JSON output.
    pub async fn complete_next(&self, queue: &str, output: &str) -> TaskId {
        let task = lease_one(&self.client, queue).await;
        self.client.ack(&task, done(output)).await.expect("ack");
        task.id
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The ids of a task-browser page, in order.
pub fn page_ids(page: &serde_json::Value) -> Vec<String> {
    page["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("no tasks in {page}"))
        .iter()
        .map(|t| t["id"].as_str().expect("an id").to_owned())
        .collect()
}

async fn split(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("read the body");
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// The Prometheus text a host's HTTP server at `addr` (`host:port`) serves
/// at `/metrics`, without a token.
pub async fn metrics_text(addr: &str) -> String {
    let url = format!("http://{addr}/metrics");
    let reply = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    reply
        .text()
        .await
        .unwrap_or_else(|e| panic!("read {url}: {e}"))
}
