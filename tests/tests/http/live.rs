//! `GET /api/v1/stats/throughput/stream`, the dashboard chart's live feed,
//! read as a browser's EventSource reads it: bad parameters are a plain 400
//! before any stream, the first `throughput` event comes at once, a
//! completion brings another, and at most `MAX_STREAMS` streams are open at
//! once, a closed one making room.

use serde_json::Value;
use std::time::Duration;
use wasmq::http::MAX_STREAMS;
use wasmq_tests::api::Api;

/// How long an event may take on a loaded machine.
const IN_TIME: Duration = Duration::from_secs(60);

/// An open event stream and what was read of it.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(api: &Api, query: &str) -> Result<Stream, (u16, Value)> {
        let url = api.url(&format!("/api/v1/stats/throughput/stream{query}"));
        let response = api.http.get(url).send().await.expect("GET the stream");
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.json().await.unwrap_or(Value::Null);
            return Err((status, body));
        }
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Ok(Stream {
            response,
            buffer: String::new(),
        })
    }

    /// The next event with data: its name and its JSON.
    async fn next(&mut self) -> (String, Value) {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name).map(str::trim).map(str::to_owned))
                };
                // Keep-alive comments carry no data.
                if let Some(data) = field("data:") {
                    let event = field("event:").unwrap_or_default();
                    return (event, serde_json::from_str(&data).expect("JSON data"));
                }
            }
            let chunk = tokio::time::timeout(IN_TIME, self.response.chunk())
                .await
                .expect("an event in time")
                .expect("read the stream")
                .expect("the stream stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// Completed tasks over the event's points.
fn completed(event: &Value) -> u64 {
    let points = event["points"].as_array().expect("points");
    points
        .iter()
        .map(|p| p["completed"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_chart_stream_sends_events_and_is_bounded() {
    let api = Api::start(None, None).await;
    for (query, needle) in [("?minutes=0", "minutes"), ("?queue=bad%20name", "queue")] {
        let (status, body) = Stream::open(&api, query).await.err().expect("refused");
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }

    // At once, then after a completion.
    let mut stream = Stream::open(&api, "?queue=metered&minutes=5")
        .await
        .unwrap();
    let (event, first) = stream.next().await;
    assert_eq!(event, "throughput");
    assert_eq!(
        (first["queue"].as_str(), completed(&first)),
        (Some("metered"), 0)
    );
    api.enqueue("metered", 0).await;
    api.complete_next("metered", "{}").await;
    let (_, after) = stream.next().await;
    assert_eq!(completed(&after), 1, "{after}");

    // Bounded: MAX_STREAMS at once; a closed one makes room.
    let mut open = vec![stream];
    for _ in 1..MAX_STREAMS {
        open.push(Stream::open(&api, "").await.expect("room for it"));
    }
    let (status, body) = Stream::open(&api, "").await.err().expect("one too many");
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("poll /api/v1/stats/throughput"),
        "{body}"
    );
    drop(open.pop());
    wasmq_tests::host::eventually("a closed stream frees its slot", IN_TIME, || async {
        Stream::open(&api, "").await.ok()
    })
    .await;
    api.stop().await;
}
