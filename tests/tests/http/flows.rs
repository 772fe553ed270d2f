//! `POST /api/v1/flows`: a parent held until its dependencies settled, and
//! bad input refused with a 400 that names it; a waiting parent looked up
//! and cancelled through the task routes.

use serde_json::json;
use wasmq::task::{TaskId, TaskState};
use wasmq_tests::api::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_waits_then_runs_and_bad_flows_are_400() {
    let api = Api::start(None, None).await;
    let (_, doc) = api.get("/api/v1/openapi.json").await;
    assert!(doc["paths"]["/api/v1/flows"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/flows/{id}"]["get"].is_object());

    let dep = api.enqueue("kid", 0).await;
    let body = json!({
        "parent": {"type": "report", "payload": {"n": 1}},
        "after": [dep.to_string()],
        "on_child_failure": "continue",
    });
    let (status, reply) = api.post("/api/v1/flows", &body, None).await;
    assert_eq!(status, 201, "{reply}");
    let parent: TaskId = reply["id"].as_str().unwrap().parse().unwrap();
    let (status, task) = api.get(&format!("/api/v1/tasks/{parent}")).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["state"], "waiting", "held: {task}");
    let (status, flow) = api.get(&format!("/api/v1/flows/{parent}")).await;
    assert_eq!(status, 200, "{flow}");
    assert_eq!(flow["outstanding"], 1, "{flow}");
    assert_eq!(flow["dependencies"][0]["counted_as"], json!(null), "{flow}");
    api.complete_next("kid", "{}").await;
    api.client.maintain_once(100).await.unwrap();
    let status = api.client.status(&parent).await.unwrap().unwrap();
    assert_eq!(status.state, TaskState::Pending);
    let (_, flow) = api.get(&format!("/api/v1/flows/{parent}")).await;
    assert_eq!(flow["outcome"], "released", "{flow}");
    assert_eq!(flow["dependencies"][0]["counted_as"], "completed", "{flow}");
    let (status, _) = api.get(&format!("/api/v1/flows/{dep}")).await;
    assert_eq!(status, 404, "a task that is no flow parent");

    let many: Vec<String> = (0..10_001).map(|i| format!("kid:x{i}")).collect();
    for (after, policy, says) in [
        (json!(["kid:nope"]), "fail", "kid:nope"),
        (json!(many), "fail", "10001 dependencies"),
        (json!(["not an id"]), "fail", "after[0]"),
        (json!([dep.to_string()]), "sometimes", "on_child_failure"),
    ] {
        let body =
            json!({"parent": {"type": "report"}, "after": after, "on_child_failure": policy});
        let (status, reply) = api.post("/api/v1/flows", &body, None).await;
        assert_eq!(status, 400, "{reply}");
        assert!(reply.to_string().contains(says), "{says}: {reply}");
    }
}

/// `GET /api/v1/tasks/{id}` shows a waiting parent with its priority, and
/// `POST /api/v1/tasks/{id}/cancel` cancels it for good: its dependency
/// completing later does not release it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_parent_is_shown_and_cancelled() {
    let api = Api::start(None, None).await;
    let dep = api.enqueue("kid", 0).await;
    let body = json!({
        "parent": {"type": "report", "priority": "low", "max_retries": 2},
        "after": [dep.to_string()],
    });
    let (status, reply) = api.post("/api/v1/flows", &body, None).await;
    assert_eq!(status, 201, "{reply}");
    let parent = reply["id"].as_str().unwrap().to_owned();
    let (status, task) = api.get(&format!("/api/v1/tasks/{parent}")).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(
        (&task["state"], &task["priority"], &task["max_attempts"]),
        (&json!("waiting"), &json!("low"), &json!(3)),
        "{task}"
    );
    let (_, queues) = api.get("/api/v1/queues").await;
    let report = queues["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "report")
        .unwrap();
    assert_eq!(report["sizes"]["waiting"], 1, "{report}");

    let cancel = format!("/api/v1/tasks/{parent}/cancel");
    let (status, reply) = api.post(&cancel, &json!({}), None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["outcome"], "cancelled", "{reply}");
    let (status, reply) = api.post(&cancel, &json!({}), None).await;
    assert_eq!(status, 409, "{reply}");

    api.complete_next("kid", "{}").await;
    api.client.maintain_once(100).await.unwrap();
    let (_, task) = api.get(&format!("/api/v1/tasks/{parent}")).await;
    assert_eq!(task["state"], "cancelled", "{task}");
    let (_, flow) = api.get(&format!("/api/v1/flows/{parent}")).await;
    assert_eq!(flow["outcome"], "cancelled", "{flow}");
    assert_eq!(flow["dependencies"][0]["counted_as"], json!(null), "{flow}");
    assert!(api.client.lease("report", 10).await.unwrap().is_empty());
}
