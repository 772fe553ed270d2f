//! The dead-letter set, the token rules and the body limit.

use serde_json::json;
use wasmq_tests::api::{Api, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_list_retry_and_purge() {
    let api = Api::start(None, None).await;
    let first = api.enqueue("fragile", 0).await;
    let second = api.enqueue("fragile", 0).await;
    let other = api.enqueue("brittle", 0).await;
    assert_eq!(api.kill_next("fragile", "boom: first").await, first);
    assert_eq!(api.kill_next("fragile", "boom: second").await, second);
    assert_eq!(api.kill_next("brittle", "crack").await, other);

    let (status, page) = api.get("/api/v1/dead?queue=fragile").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 2);
    let errors: Vec<&str> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["error"].as_str().unwrap())
        .collect();
    assert!(
        errors.contains(&"boom: first") && errors.contains(&"boom: second"),
        "{errors:?}"
    );
    let (_, all) = api.get("/api/v1/dead?limit=2").await;
    assert_eq!(
        (
            all["total"].as_u64(),
            all["tasks"].as_array().unwrap().len()
        ),
        (Some(3), 2),
        "{all}"
    );

    let (status, body) = api
        .post(
            "/api/v1/dead/retry",
            &json!({"id": first.to_string()}),
            None,
        )
        .await;
    assert_eq!((status, &body["requeued"]), (200, &json!(1)), "{body}");
    let (_, task) = api.get(&format!("/api/v1/tasks/{first}")).await;
    assert_eq!(task["state"], "pending");
    let (status, body) = api
        .post(
            "/api/v1/dead/retry",
            &json!({"id": first.to_string()}),
            None,
        )
        .await;
    assert_eq!(
        status, 404,
        "retrying a task that is no longer dead: {body}"
    );

    let (status, body) = api
        .post("/api/v1/dead/purge", &json!({"queue": "fragile"}), None)
        .await;
    assert_eq!((status, &body["purged"]), (200, &json!(1)), "{body}");
    let (_, page) = api.get("/api/v1/dead?queue=fragile").await;
    assert_eq!(page["total"], 0);
    let (status, body) = api
        .post("/api/v1/dead/retry", &json!({"all": true}), None)
        .await;
    assert_eq!((status, &body["requeued"]), (200, &json!(1)), "{body}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_rules() {
    let refused = wasmq::http::bind("0.0.0.0:0".parse().unwrap(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("WASMQ_HTTP_TOKEN") && refused.contains("0.0.0.0"),
        "{refused}"
    );
    wasmq::http::check_bind("0.0.0.0:8080".parse().unwrap(), Some(TOKEN)).unwrap();
    assert!(wasmq::http::check_bind("0.0.0.0:8080".parse().unwrap(), Some("short")).is_err());

    let api = Api::start(Some(TOKEN), None).await;
    let task = json!({"type": "secured"});
    let (status, body) = api.post("/api/v1/tasks", &task, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{body}"
    );
    let (status, _) = api
        .post("/api/v1/tasks", &task, Some("test-token-0123456789abcdeX"))
        .await;
    assert_eq!(status, 401, "a wrong token of the right length");
    let (status, _) = api
        .post("/api/v1/queues/secured/pause", &json!({}), Some("nope"))
        .await;
    assert_eq!(status, 401);
    let response = api
        .http
        .delete(api.url("/api/v1/tasks/secured:1"))
        .header("X-Wasmq-Request", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        401,
        "DELETE needs the token too"
    );
    assert!(
        api.client.queues().await.unwrap().is_empty(),
        "nothing was changed"
    );

    let (status, body) = api.post("/api/v1/tasks", &task, Some(TOKEN)).await;
    assert_eq!(status, 201, "{body}");
    let (status, info) = api.get("/api/v1/info").await;
    assert_eq!(
        (status, &info["auth_required"]),
        (200, &json!(true)),
        "reads need no token"
    );
    let (status, _) = api.get("/api/v1/queues").await;
    assert_eq!(status, 200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413() {
    let api = Api::start(None, None).await;
    let big = "x".repeat(3 * 1024 * 1024);
    let (status, body) = api
        .post("/api/v1/tasks", &json!({"type": "t", "payload": big}), None)
        .await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error"].as_str().unwrap().contains("2 MiB"), "{body}");
    // Below the body limit but above the broker's 1 MiB payload limit.
    let payload = "y".repeat(1536 * 1024);
    let (status, body) = api
        .post(
            "/api/v1/tasks",
            &json!({"type": "t", "payload": payload}),
            None,
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("max_payload_bytes"),
        "{body}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_an_empty_queue_only() {
    let api = Api::start(Some(TOKEN), None).await;
    api.enqueue("typo", 0).await;
    let delete = |queue: &str| {
        api.http
            .delete(api.url(&format!("/api/v1/queues/{queue}")))
            .bearer_auth(TOKEN)
            .header("X-Wasmq-Request", "1")
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().await.unwrap())
    };
    let (status, body) = answer(delete("typo").await.unwrap()).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("it holds 1 pending"),
        "{body}"
    );
    api.complete_next("typo", "{}").await;
    let (status, body) = answer(delete("typo").await.unwrap()).await;
    assert_eq!(
        (status, body),
        (200, json!({"queue": "typo", "removed": true}))
    );
    let (_, queues) = api.get("/api/v1/queues").await;
    assert_eq!(queues["queues"], json!([]));
    let (status, body) = answer(delete("typo").await.unwrap()).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = answer(delete("bad%20name").await.unwrap()).await;
    assert_eq!(status, 400, "{body}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_say_how_many_live_hosts_serve_them() {
    let api = Api::start(None, None).await;
    api.enqueue("served", 0).await;
    api.enqueue("orphan", 0).await;
    let host = wasmq::broker::HostInfo {
        host_id: "h1".into(),
        hostname: "box".into(),
        pid: 1,
        version: "0".into(),
        started_at_ms: 0,
        plugins: vec!["served@v1".into()],
        in_flight: 0,
        processed: 0,
        last_seen_ms: 0,
    };
    api.client
        .heartbeat(&host, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let (status, body) = api.get("/api/v1/queues").await;
    assert_eq!(status, 200, "{body}");
    let hosts: Vec<(&str, u64, bool)> = body["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["name"].as_str().unwrap(),
                q["live_hosts"].as_u64().unwrap(),
                q["ever_run"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(hosts, [("orphan", 0, false), ("served", 1, false)]);
    api.stop().await;
}
