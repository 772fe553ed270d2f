//! `wasmq schedule ...` and `/api/v1/schedules` against a real Redis: add,
//! list, pause, resume and remove through both doors, and the validation
//! errors, which must name the field that was wrong (exit code 2, HTTP 400)
//! before anything reaches Redis.

use serde_json::json;
use wasmq_tests::api::Api;
use wasmq_tests::cli::wasmq;
use wasmq_tests::redis::RedisServer;

#[tokio::test(flavor = "multi_thread")]
async fn schedule_commands_add_list_pause_resume_and_remove() {
    let redis = RedisServer::start();
    let url = redis.url();
    let add = [
        "schedule",
        "add",
        "nightly",
        "--cron",
        "0 3 * * *",
        "--tz",
        "Europe/Berlin",
        "--type",
        "report",
        "--payload",
        r#"{"kind":"daily"}"#,
        "--catch-up",
        "--json",
    ];
    let added = wasmq(&url, &add).await.expect(0).json();
    assert_eq!(added["name"], "nightly");
    assert!(added["next_fire_ms"].as_u64().unwrap() > 0);
    let again = wasmq(&url, &add).await.expect(1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    let list = wasmq(&url, &["schedule", "list", "--json"])
        .await
        .expect(0)
        .json();
    let s = &list[0];
    assert_eq!(
        (
            &s["name"],
            &s["tz"],
            &s["type"],
            &s["catch_up"],
            &s["paused"]
        ),
        (
            &json!("nightly"),
            &json!("Europe/Berlin"),
            &json!("report"),
            &json!(true),
            &json!(false)
        )
    );
    assert_eq!(s["next_fire_ms"], added["next_fire_ms"]);

    wasmq(&url, &["schedule", "pause", "nightly"])
        .await
        .expect(0);
    let list = wasmq(&url, &["schedule", "list", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(
        (&list[0]["paused"], &list[0]["next_fire_ms"]),
        (&json!(true), &json!(null))
    );
    wasmq(&url, &["schedule", "resume", "nightly"])
        .await
        .expect(0);
    let list = wasmq(&url, &["schedule", "list", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(list[0]["paused"], json!(false));
    assert!(list[0]["next_fire_ms"].as_u64().is_some());
    let table = wasmq(&url, &["schedule", "list"]).await.expect(0);
    assert!(table.stdout.contains("nightly") && table.stdout.contains("0 3 * * *"));

    wasmq(&url, &["schedule", "rm", "nightly"]).await.expect(0);
    let gone = wasmq(&url, &["schedule", "rm", "nightly"]).await.expect(1);
    assert!(
        gone.stderr.contains("no schedule named nightly"),
        "{}",
        gone.stderr
    );
    wasmq(&url, &["schedule", "pause", "nightly"])
        .await
        .expect(1);
    let empty = wasmq(&url, &["schedule", "list", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(empty, json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_add_names_the_bad_field_and_writes_nothing() {
    let redis = RedisServer::start();
    let url = redis.url();
    let cases: [(&[&str], &str); 5] = [
        (
            &["bad name", "--cron", "* * * * *", "--type", "t"],
            "schedule name",
        ),
        (&["ok", "--cron", "61 * * * *", "--type", "t"], "`cron`"),
        (
            &["ok", "--cron", "0 0 30 2 *", "--type", "t"],
            "never matches",
        ),
        (
            &[
                "ok",
                "--cron",
                "* * * * *",
                "--tz",
                "Mars/Base",
                "--type",
                "t",
            ],
            "`tz`",
        ),
        (
            &["ok", "--cron", "* * * * *", "--type", "no/such"],
            "queue name",
        ),
    ];
    for (args, needle) in cases {
        let mut argv = vec!["schedule", "add"];
        argv.extend_from_slice(args);
        let run = wasmq(&url, &argv).await.expect(2);
        assert!(run.stderr.contains(needle), "{argv:?}: {}", run.stderr);
    }
    let bad_json = [
        "schedule",
        "add",
        "ok",
        "--cron",
        "* * * * *",
        "--type",
        "t",
        "--payload",
        "{",
    ];
    wasmq(&url, &bad_json).await.expect(2);
    wasmq(&url, &["schedule", "rm", "bad name"]).await.expect(2);
    assert_eq!(redis.cli(&["DBSIZE"]).trim(), "0", "nothing reached Redis");
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_over_http() {
    let api = Api::start(None, None).await;
    let body = json!({ "name": "hourly", "cron": "@hourly", "type": "report",
                       "payload": { "k": 1 } });
    let (status, added) = api.post("/api/v1/schedules", &body, None).await;
    assert_eq!(status, 201, "{added}");
    assert!(added["next_fire_ms"].as_u64().is_some());
    let (status, _) = api.post("/api/v1/schedules", &body, None).await;
    assert_eq!(status, 409);

    let (status, list) = api.get("/api/v1/schedules").await;
    assert_eq!(status, 200);
    assert_eq!(list["schedules"][0]["name"], "hourly");
    assert_eq!(list["schedules"][0]["payload"], r#"{"k":1}"#);
    assert_eq!(list["schedules"][0]["tz"], "UTC");

    let (status, paused) = api
        .post("/api/v1/schedules/hourly/pause", &json!({}), None)
        .await;
    assert_eq!((status, &paused["paused"]), (200, &json!(true)), "{paused}");
    let (status, resumed) = api
        .post("/api/v1/schedules/hourly/resume", &json!({}), None)
        .await;
    assert_eq!(
        (status, &resumed["paused"]),
        (200, &json!(false)),
        "{resumed}"
    );
    assert!(resumed["next_fire_ms"].as_u64().is_some());
    let (status, _) = api
        .post("/api/v1/schedules/nope/pause", &json!({}), None)
        .await;
    assert_eq!(status, 404);

    for (field, bad) in [
        (
            "`cron`",
            json!({ "name": "x", "cron": "* * *", "type": "t" }),
        ),
        (
            "`tz`",
            json!({ "name": "x", "cron": "* * * * *", "tz": "Nowhere", "type": "t" }),
        ),
        (
            "schedule name",
            json!({ "name": "a b", "cron": "* * * * *", "type": "t" }),
        ),
    ] {
        let (status, error) = api.post("/api/v1/schedules", &bad, None).await;
        assert_eq!(status, 400, "{error}");
        assert!(error["error"].as_str().unwrap().contains(field), "{error}");
    }

    let delete = |path: &str| {
        api.http
            .delete(api.url(path))
            .header("X-Wasmq-Request", "1")
            .send()
    };
    assert_eq!(
        delete("/api/v1/schedules/hourly").await.unwrap().status(),
        200
    );
    assert_eq!(
        delete("/api/v1/schedules/hourly").await.unwrap().status(),
        404
    );
    assert_eq!(
        delete("/api/v1/schedules/a%20b").await.unwrap().status(),
        400
    );

    let (_, doc) = api.get("/api/v1/openapi.json").await;
    for path in ["/api/v1/schedules", "/api/v1/schedules/{name}/pause"] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} in the OpenAPI document"
        );
    }
    api.stop().await;
}
