//! What operators watch: the OpenAPI document, Prometheus metrics, hosts,
//! throughput, plugins and readiness (including with Redis killed).

use serde_json::json;
use std::time::Duration;
use wasmq::broker::HostInfo;
use wasmq_tests::api::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_metrics_hosts_and_throughput() {
    let api = Api::start(None, None).await;
    let (status, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/api/v1/tasks",
        "/api/v1/tasks/{id}",
        "/api/v1/dead/retry",
        "/api/v1/stats/throughput",
        "/readyz",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }

    api.enqueue("metered", 3).await;
    api.enqueue("metered", 3).await;
    api.complete_next("metered", "{}").await;
    metrics::histogram!("wasmq_task_duration_seconds", "task_type" => "metered").record(0.02);
    let text = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"wasmq_queue_depth{queue="metered",state="pending"} 1"#),
        "{text}"
    );
    assert!(text.contains("wasmq_broker_up 1"), "{text}");
    assert!(
        text.contains(r#"wasmq_http_requests_total{route="/api/v1/openapi.json",status="200"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"wasmq_task_duration_seconds_bucket{task_type="metered",le="0.025"}"#),
        "{text}"
    );
    assert!(
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .all(|l| l.starts_with("wasmq_")),
        "{text}"
    );

    let (status, points) = api.get("/api/v1/stats/throughput?minutes=30").await;
    assert_eq!(status, 200, "{points}");
    let points = points["points"].as_array().unwrap();
    assert_eq!(points.len(), 30);
    assert_eq!(
        points
            .iter()
            .map(|p| p["completed"].as_u64().unwrap())
            .sum::<u64>(),
        1
    );

    let host = HostInfo {
        host_id: "host-a".into(),
        hostname: "box".into(),
        pid: 42,
        version: "0.1.0".into(),
        started_at_ms: 1,
        plugins: vec!["metered@abc".into()],
        in_flight: 2,
        processed: 7,
        last_seen_ms: 0,
    };
    api.client
        .heartbeat(&host, Duration::from_secs(30))
        .await
        .unwrap();
    let (status, hosts) = api.get("/api/v1/hosts").await;
    assert_eq!(status, 200, "{hosts}");
    assert_eq!(hosts["hosts"][0]["id"], "host-a");
    assert_eq!(hosts["hosts"][0]["in_flight"], 2);
    assert!(
        hosts["hosts"][0]["last_heartbeat_ms"].as_u64().unwrap() > 0,
        "{hosts}"
    );
    let (_, stats) = api.get("/api/v1/stats").await;
    assert_eq!(
        (stats["hosts"].as_u64(), stats["in_flight"].as_u64()),
        (Some(1), Some(2)),
        "{stats}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_and_readiness_then_redis_dies() {
    use wasmq::config::Limits;
    use wasmq::plugins::{PluginDir, Registry};
    use wasmq::runtime::{Runtime, RuntimeOptions};

    let dir = tempfile::tempdir().unwrap();
    wasmq_tests::plugins::copy_plugin("echo", dir.path(), "echo");
    std::fs::write(dir.path().join("broken.wasm"), b"this is not wasm").unwrap();
    let options = RuntimeOptions {
        disk_cache: false,
        max_instances: 4,
        ..RuntimeOptions::default()
    };
    let runtime = Runtime::new(options).unwrap();
    let plugins = PluginDir::open(dir.path(), runtime, Limits::default()).unwrap();
    let registry = Registry::new();
    plugins.scan(&registry).await.unwrap();

    let mut api = Api::start(None, Some(registry)).await;
    let (status, body) = api.get("/api/v1/plugins").await;
    assert_eq!((status, &body["available"]), (200, &json!(true)), "{body}");
    let find = |name: &str| {
        body["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["task_type"] == name)
            .cloned()
    };
    let echo = find("echo").expect("echo is listed");
    assert_eq!(echo["serving"], true);
    assert_eq!(echo["kind"], "component");
    assert_eq!(echo["version"].as_str().unwrap().len(), 12, "{echo}");
    assert_eq!(echo["limits"]["fuel"], Limits::default().fuel);
    assert!(echo["error"].is_null(), "{echo}");
    let broken = find("broken").expect("the broken file is listed");
    assert_eq!(broken["serving"], false);
    assert!(!broken["error"].as_str().unwrap().is_empty(), "{broken}");

    let (status, ready) = api.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["redis"]["ok"], true);
    assert!(
        ready["checks"]["plugins"]["detail"]
            .as_str()
            .unwrap()
            .contains("1 with load errors"),
        "{ready}"
    );

    api.redis.kill();
    let (status, ready) = api.get("/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["checks"]["redis"]["ok"], false, "{ready}");
    assert_eq!(ready["checks"]["plugins"]["ok"], true, "{ready}");
    let (status, body) = api.get("/api/v1/queues").await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("Redis"), "{body}");
    let (status, body) = api
        .post("/api/v1/tasks", &json!({"type": "echo"}), None)
        .await;
    assert_eq!(status, 503, "{body}");
    let (status, _) = api.get("/healthz").await;
    assert_eq!(status, 200, "the process is still up");
    let text = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("wasmq_broker_up 0"), "{text}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_plugin_directory_is_not_ready() {
    let api = Api::start(None, Some(wasmq::plugins::Registry::new())).await;
    let (status, ready) = api.get("/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["checks"]["plugins"]["ok"], false);
    assert!(
        ready["checks"]["plugins"]["detail"]
            .as_str()
            .unwrap()
            .contains(".wasm"),
        "{ready}"
    );
    let (status, body) = api.get("/api/v1/plugins").await;
    assert_eq!(
        (status, body["plugins"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    api.stop().await;
}
