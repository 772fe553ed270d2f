//! `/api/v1/queues/{queue}/limits` and the enqueue rate limit (429).

use serde_json::json;
use wasmq::ratelimit::Rate;
use wasmq_tests::api::Api;

use wasmq_tests::api::TOKEN;

#[tokio::test]
async fn limits_are_set_read_validated_and_cleared() {
    let api = Api::start(Some(TOKEN), None).await;
    let path = "/api/v1/queues/email/limits";
    let (status, body) = api.get(path).await;
    assert_eq!(
        (status, body["source"].as_str()),
        (200, Some("none")),
        "{body}"
    );
    let put = |body: serde_json::Value| {
        api.http
            .put(api.url(path))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    let r = put(json!({ "rate": "100/s", "burst": 20, "concurrency": 5 }))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (
            &body["source"],
            &body["rate"],
            &body["burst"],
            &body["concurrency"]
        ),
        (&json!("redis"), &json!("100/s"), &json!(20), &json!(5)),
        "{body}"
    );
    let stored = api.client.limits("email").await.unwrap().unwrap();
    assert_eq!(stored.limits.rate, Some(Rate::parse("100/s").unwrap()));
    for (bad, says) in [
        (json!({ "rate": "0/s" }), "at least 1"),
        (json!({ "rate": "100/d" }), "unknown unit"),
        (json!({ "rate": "2000000/s" }), "too large"),
        (json!({ "rate": "10/s", "burst": 0 }), "burst 0"),
        (json!({ "concurrency": 0 }), "concurrency 0"),
        (json!({ "burst": 3 }), "a burst needs a rate"),
        (json!({ "rate": "1/s", "speed": 3 }), "speed"),
    ] {
        let r = put(bad.clone()).await.unwrap();
        let want = if bad.get("speed").is_some() { 422 } else { 400 };
        assert_eq!(r.status(), want, "{bad}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{bad}: {text}");
    }
    let r = api
        .http
        .put(api.url(path))
        .json(&json!({ "rate": "1/s" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "changing limits needs the token");
    let r = api
        .http
        .delete(api.url(path))
        .bearer_auth(TOKEN)
        .header("x-wasmq-request", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(api.client.limits("email").await.unwrap(), None);
    let (_, doc) = api.get("/api/v1/openapi.json").await;
    let item = &doc["paths"]["/api/v1/queues/{queue}/limits"];
    assert!(item["put"].is_object() && item["get"].is_object(), "{item}");
}

#[tokio::test]
async fn enqueues_over_the_rate_get_429_with_retry_after() {
    let rate = Rate::parse("1/m").unwrap();
    let api = Api::start_with(Some(TOKEN), None, |s| s.limit_enqueues(rate, 2)).await;
    let task = json!({ "type": "echo", "payload": { "n": 1 } });
    for _ in 0..2 {
        let (status, body) = api.post("/api/v1/tasks", &task, Some(TOKEN)).await;
        assert_eq!(status, 201, "{body}");
    }
    let r = api
        .http
        .post(api.url("/api/v1/tasks"))
        .bearer_auth(TOKEN)
        .json(&task)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&after), "{after}");
    let text = r.text().await.unwrap();
    assert!(text.contains("too many enqueue requests"), "{text}");
    // Reads are not limited; the batch endpoint counts against the same client.
    let (status, _) = api.get("/api/v1/queues").await;
    assert_eq!(status, 200);
    let (status, _) = api
        .post("/api/v1/tasks/batch", &json!([task]), Some(TOKEN))
        .await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn without_a_token_enqueues_are_limited_per_client_ip() {
    let rate = Rate::parse("1/h").unwrap();
    let api = Api::start_with(None, None, |s| s.limit_enqueues(rate, 1)).await;
    let task = json!({ "type": "echo", "payload": {} });
    let (status, _) = api.post("/api/v1/tasks", &task, None).await;
    assert_eq!(status, 201);
    // A made-up bearer token does not make a new client.
    let (status, _) = api.post("/api/v1/tasks", &task, Some("made-up")).await;
    assert_eq!(status, 429);
}
