//! Enqueueing, looking up, completing and cancelling tasks; queues and
//! pausing; and the 4xx answers to bad input.

use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use wasmq_tests::api::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_status_result_and_cancel() {
    let api = Api::start(None, None).await;

    let (status, body) = api
        .post(
            "/api/v1/tasks",
            &json!({"type": "email", "payload": {"to": "a@b.c"}, "priority": "high"}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("email:"), "{id}");

    let (status, task) = api.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["state"], "pending");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["queue"], "email");

    let (status, body) = api.get(&format!("/api/v1/tasks/{id}/result")).await;
    assert_eq!(status, 409, "no result before completion: {body}");
    assert!(
        body["error"].as_str().unwrap().contains("pending"),
        "{body}"
    );

    // Complete it the way a host does, then read the result.
    let done = api.complete_next("email", r#"{"sent":true}"#).await;
    assert_eq!(done.to_string(), id);
    let (status, result) = api.get(&format!("/api/v1/tasks/{id}/result")).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["output"], json!({"sent": true}));
    assert_eq!(result["content_type"], "application/json");
    assert_eq!(result["fuel_used"], wasmq_tests::broker::FUEL_USED);
    let (_, task) = api.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(task["state"], "completed");

    // Cancelling a finished task is a conflict, not a success.
    let (status, body) = api
        .post(&format!("/api/v1/tasks/{id}/cancel"), &json!({}), None)
        .await;
    assert_eq!(status, 409, "{body}");

    // A scheduled task cancels at once, through POST .../cancel and DELETE.
    let (_, body) = api
        .post(
            "/api/v1/tasks",
            &json!({"type": "email", "delay": "1h"}),
            None,
        )
        .await;
    let later = body["id"].as_str().unwrap().to_owned();
    let (_, task) = api.get(&format!("/api/v1/tasks/{later}")).await;
    assert_eq!(task["state"], "scheduled");
    assert!(task["due_at_ms"].as_u64().is_some(), "{task}");
    let (status, body) = api
        .post(&format!("/api/v1/tasks/{later}/cancel"), &json!({}), None)
        .await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("cancelled")),
        "{body}"
    );
    let (_, task) = api.get(&format!("/api/v1/tasks/{later}")).await;
    assert_eq!(task["state"], "cancelled");

    let other = api.enqueue("email", 3).await;
    let response = api
        .http
        .delete(api.url(&format!("/api/v1/tasks/{other}")))
        .header("X-Wasmq-Request", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let (status, body) = api.get("/api/v1/tasks/email:doesnotexist").await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("email:doesnotexist"),
        "{body}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_queues_pause_and_resume() {
    let api = Api::start(None, None).await;
    let in_a_month = wasmq::task::unix_ms(SystemTime::now() + Duration::from_secs(30 * 86400));
    let batch = json!([
        {"type": "resize", "payload_b64": "AAEC"},
        {"type": "resize", "priority": "low", "delay": 60000},
        {"type": "report", "run_at": in_a_month, "max_retries": 0},
    ]);
    let (status, body) = api.post("/api/v1/tasks/batch", &batch, None).await;
    assert_eq!(status, 201, "{body}");
    let ids: Vec<&str> = body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids[0].starts_with("resize:") && ids[2].starts_with("report:"),
        "{ids:?}"
    );

    let (status, body) = api.get("/api/v1/queues").await;
    assert_eq!(status, 200, "{body}");
    let queue = |name: &str| -> Value {
        body["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(queue("resize")["sizes"]["pending"], 1);
    assert_eq!(queue("resize")["sizes"]["scheduled"], 1);
    assert_eq!(queue("report")["sizes"]["scheduled"], 1);
    assert_eq!(queue("resize")["counters"]["enqueued"], 2);
    assert_eq!(queue("resize")["paused"], false);

    let (status, body) = api
        .post("/api/v1/queues/resize/pause", &json!({}), None)
        .await;
    assert_eq!((status, &body["paused"]), (200, &json!(true)), "{body}");
    assert!(api.client.is_paused("resize").await.unwrap());
    let (_, body) = api.get("/api/v1/queues").await;
    let paused = body["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "resize")
        .unwrap();
    assert_eq!(paused["paused"], true);
    let (status, _) = api
        .post("/api/v1/queues/resize/resume", &json!({}), None)
        .await;
    assert_eq!(status, 200);
    assert!(!api.client.is_paused("resize").await.unwrap());

    let (status, stats) = api.get("/api/v1/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["queues"], 2);
    assert_eq!(stats["sizes"]["scheduled"], 2);
    assert_eq!(stats["counters"]["enqueued"], 3);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx() {
    let api = Api::start(None, None).await;
    let raw = |path: &str, body: &'static str, content_type: &'static str| {
        api.http
            .post(api.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(reqwest::Response, u16, &str)> = vec![
        (
            raw("/api/v1/tasks", "{not json", "application/json")
                .await
                .unwrap(),
            400,
            "not valid JSON",
        ),
        (
            raw("/api/v1/tasks", r#"{"type":"t"}"#, "text/plain")
                .await
                .unwrap(),
            415,
            "Content-Type",
        ),
        (
            raw(
                "/api/v1/tasks",
                r#"{"type":"t","priority":"urgent"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            400,
            "`priority`",
        ),
        (
            raw(
                "/api/v1/tasks",
                r#"{"type":"t","delay":-5}"#,
                "application/json",
            )
            .await
            .unwrap(),
            400,
            "negative",
        ),
        (
            raw(
                "/api/v1/tasks",
                r#"{"type":"bad queue"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            400,
            "invalid queue name",
        ),
        (
            raw(
                "/api/v1/tasks",
                r#"{"type":"t","priorty":"high"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            422,
            "priorty",
        ),
        (
            raw("/api/v1/tasks", r#"{"payload":1}"#, "application/json")
                .await
                .unwrap(),
            422,
            "type",
        ),
        (
            raw("/api/v1/tasks/batch", "[]", "application/json")
                .await
                .unwrap(),
            400,
            "empty",
        ),
        (
            raw(
                "/api/v1/tasks/batch",
                r#"[{"type":"t"},{"type":"t","fuel":-1}]"#,
                "application/json",
            )
            .await
            .unwrap(),
            400,
            "`[1].fuel`",
        ),
        (
            raw("/api/v1/queues/bad%20name/pause", "{}", "application/json")
                .await
                .unwrap(),
            400,
            "invalid queue name",
        ),
        (
            raw("/api/v1/dead/retry", "{}", "application/json")
                .await
                .unwrap(),
            400,
            "say which",
        ),
        (
            raw(
                "/api/v1/dead/retry",
                r#"{"id":"nocolon"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            400,
            "no ':'",
        ),
        (
            raw("/api/v1/tasks/nocolon/cancel", "", "application/json")
                .await
                .unwrap(),
            400,
            "invalid task id",
        ),
    ];
    for (response, expected, needle) in cases {
        let url = response.url().to_string();
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("every error is JSON");
        let error = body["error"].as_str().unwrap_or_default();
        assert_eq!(status, expected, "{url}: {body}");
        assert!(error.contains(needle), "{url}: {error:?} lacks {needle:?}");
    }
    for (path, expected, needle) in [
        ("/api/v1/tasks/no-colon", 400, "invalid task id"),
        ("/api/v1/tasks/a%20b:1", 400, "invalid task id"),
        ("/api/v1/dead?limit=0", 400, "`limit`"),
        ("/api/v1/dead?offset=-1", 400, "offset"),
        ("/api/v1/dead?queue=a%7Bb", 400, "invalid queue name"),
        ("/api/v1/stats/throughput?minutes=0", 400, "`minutes`"),
        ("/api/v1/nothing-here", 404, "openapi.json"),
    ] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap_or_default().contains(needle),
            "{path}: {body}"
        );
    }
    let response = api.http.get(api.url("/api/v1/tasks")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    api.stop().await;
}

/// Issue 9 item 4: a batch whose last task has a unique TTL of 2^64 - 1 ms
/// used to set the first task's unique key and then fail in Redis, so the
/// key pointed at a task that was never written (a 404 for an hour).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_batch_leaves_no_unique_key() {
    let api = Api::start(None, None).await;
    let batch = json!([
        {"type": "invoice", "unique": {"key": "order-7", "ttl": "1h"}},
        {"type": "invoice", "unique": {"key": "order-8", "ttl": u64::MAX}},
    ]);
    let (status, body) = api.post("/api/v1/tasks/batch", &batch, None).await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("`[1].unique.ttl`") && error.contains("365 days"),
        "{error}"
    );
    let keys = api.redis.cli(&["--scan", "--pattern", "wasmq:{invoice}:*"]);
    assert_eq!(keys.trim(), "", "nothing of the batch was written");

    let single = json!({"type": "invoice", "unique": {"key": "order-7", "ttl": "1h"}});
    let (status, body) = api.post("/api/v1/tasks", &single, None).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap();
    let (status, task) = api.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!((status, &task["state"]), (200, &json!("pending")), "{task}");
    let (_, again) = api.post("/api/v1/tasks", &single, None).await;
    assert_eq!(again["id"], id, "the unique key now holds the real task");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_beyond_a_year_get_400() {
    let api = Api::start(None, None).await;
    for (task, field) in [
        (
            json!({"type": "t", "delay": 9_223_372_036_854_775_807_u64}),
            "`delay`",
        ),
        (json!({"type": "t", "delay": "366days"}), "`delay`"),
        (
            json!({"type": "t", "run_at": "2999-01-01T00:00:00Z"}),
            "`run_at`",
        ),
        (json!({"type": "t", "timeout": "400days"}), "`timeout`"),
        (json!({"type": "t", "fuel": 1_u64 << 60}), "`fuel`"),
    ] {
        let (status, body) = api.post("/api/v1/tasks", &task, None).await;
        assert_eq!(status, 400, "{task}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(field), "{task}: {error}");
    }
    let (_, queues) = api.get("/api/v1/queues").await;
    assert_eq!(queues["queues"], json!([]), "nothing was enqueued");
    api.stop().await;
}
