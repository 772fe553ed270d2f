//! Issue 11: the example plugins do real work through their grants, against
//! the demo's real servers on loopback and a real redis-server:
//!
//! - `email` POSTs each message to the mail API with the `mail_token`
//!   secret as a bearer token, retries when the API is busy (honouring its
//!   `Retry-After`), fails for good on refused credentials, and never shows
//!   the token in an output, an error or a log;
//! - `image` fetches its photo from the image server, and a host stores the
//!   thumbnail in the plugin's `thumbnails` bucket in Redis and counts each
//!   request in `wasmq_plugin_http_requests_total`.

use std::time::Duration;
use wasmq::cli::demo::DemoServices;
use wasmq::cli::demo::mail_api::MailApi;
use wasmq::config::{Limits, PluginManifest};
use wasmq::runtime::{CancelToken, Invocation, Outcome, OutcomeKind, Plugin, PluginFile};
use wasmq::task::{TaskSpec, TaskState};
use wasmq_tests::broker::client;
use wasmq_tests::host::{HostProcess, enqueue, results, settled, statuses};
use wasmq_tests::plugins::{granted, plugin, plugin_bytes, test_runtime};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::{RedisServer, free_port};

const LONG: Duration = Duration::from_secs(600);

fn load(file: &PluginFile) -> Plugin {
    test_runtime(4)
        .load_file("email", file, Limits::default())
        .unwrap_or_else(|e| panic!("load email: {e}"))
}

async fn send(plugin: &Plugin, payload: &str) -> Outcome {
    let invocation = Invocation::new("email:1", "email", payload.as_bytes().to_vec());
    plugin.run(invocation, &CancelToken::new()).await
}

/// `email` granted to post to `api` with the token in `token_file`.
fn email_for(api: &MailApi, token_file: &std::path::Path) -> PluginFile {
    let text = format!(
        "[capabilities]\nhttp = [\"{}\"]\n[config]\nmail_api = \"{}\"\n[secrets]\nmail_token = \"file:{}\"\n",
        api.origin(),
        api.messages_url(),
        token_file.display()
    );
    let manifest = PluginManifest::parse(&text, std::path::Path::new("email.toml")).unwrap();
    PluginFile::new(&plugin("email"), plugin_bytes("email"), Some(manifest))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_posts_the_message_with_its_token_and_never_shows_it() {
    let services = DemoServices::start().unwrap();
    let token_path = services.mail_token_source().replacen("file:", "", 1);
    let token = std::fs::read_to_string(&token_path).unwrap();
    let email = load(&granted("email", &services));
    let payload = r#"{"to":"ada@example.com","subject":"Welcome","body":"Hello Ada"}"#;
    let outcome = send(&email, payload).await;
    let OutcomeKind::Success { output, .. } = &outcome.kind else {
        panic!("{:?}\n{}", outcome.kind, outcome.log);
    };
    let report: serde_json::Value = serde_json::from_slice(output).unwrap();
    assert_eq!(report["sent"], true);
    assert_eq!(report["provider_id"], "msg-1", "{report}");
    let sent = services.mail.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].to.as_str(),
            sent[0].subject.as_str(),
            sent[0].body.as_str()
        ),
        ("ada@example.com", "Welcome", "Hello Ada")
    );
    // The same payload again is a replay (same idempotency key): the API
    // answers the same id and sends nothing twice.
    let again = send(&email, payload).await;
    assert!(
        matches!(again.kind, OutcomeKind::Success { .. }),
        "{:?}",
        again.kind
    );
    assert_eq!(
        services.mail.sent().len(),
        1,
        "a retried send is not mailed twice"
    );
    for text in [
        String::from_utf8_lossy(output).into_owned(),
        outcome.log.clone(),
    ] {
        assert!(!text.contains(token.trim()), "the token leaked: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_retries_a_busy_api_and_fails_for_good_on_refused_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "right-token").unwrap();
    let payload = r#"{"to":"ada@example.com","subject":"hi"}"#;

    // Busy on every message's first attempt: a retry after its Retry-After.
    let busy = MailApi::start("right-token", Some(1)).unwrap();
    let email = load(&email_for(&busy, &token_file));
    let first = send(&email, payload).await;
    assert!(
        matches!(&first.kind, OutcomeKind::Retryable { retry_after: Some(after), .. } if *after == Duration::from_secs(1)),
        "{:?}\n{}",
        first.kind,
        first.log
    );
    let second = send(&email, payload).await;
    assert!(
        matches!(second.kind, OutcomeKind::Success { .. }),
        "{:?}",
        second.kind
    );
    assert_eq!(busy.sent().len(), 1);

    // A token the API does not accept: permanent, and the error says which
    // secret to fix without showing either token.
    let strict = MailApi::start("another-token", None).unwrap();
    let email = load(&email_for(&strict, &token_file));
    let refused = send(&email, payload).await;
    let OutcomeKind::Permanent { message } = &refused.kind else {
        panic!("{:?}\n{}", refused.kind, refused.log);
    };
    assert!(message.contains("mail_token"), "{message}");
    assert!(message.contains("401"), "{message}");
    for text in [message.as_str(), refused.log.as_str()] {
        assert!(
            !text.contains("right-token") && !text.contains("another-token"),
            "{text}"
        );
    }
    assert!(strict.sent().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn image_fetches_its_photo_and_the_host_keeps_the_thumbnail_in_redis() {
    let redis = RedisServer::start();
    let services = DemoServices::start().unwrap();
    let plugins = PluginsDir::with(&[("image", "image")]);
    plugins.granted("image", &services, "");
    let http = format!("127.0.0.1:{}", free_port());
    let _host = HostProcess::start(
        &redis.url(),
        plugins.path(),
        &["--concurrency", "2", "--http", &http],
    );
    let client = client(&redis.url()).await;
    let job =
        |payload: serde_json::Value| TaskSpec::new("image", payload.to_string()).max_retries(0);
    let ids = enqueue(
        &client,
        vec![
            job(serde_json::json!({ "url": services.images.photo_url(320, 240), "key": "p1" })),
            job(serde_json::json!({ "url": format!("{}/photos/missing.png", services.images.origin()) })),
            job(serde_json::json!({ "url": services.mail.messages_url() })),
        ],
    )
    .await;
    let t = settled(&client, &["image"], 3, LONG).await;
    assert_eq!((t.completed, t.dead), (1, 2), "{t:?}");

    let done = results(&client, &ids[..1]).await;
    let report: serde_json::Value = serde_json::from_slice(&done[0].output).unwrap();
    assert_eq!(
        (report["width"].as_u64(), report["height"].as_u64()),
        (Some(160), Some(120))
    );
    assert_eq!(report["stored"]["key"], "p1", "{report}");
    assert_eq!(services.images.served(), 1);
    // The thumbnail is in the plugin's bucket: one hash per plugin and bucket.
    let mut redis_conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let png: Vec<u8> = redis::cmd("HGET")
        .arg("wasmq:{kv:image:thumbnails}")
        .arg("p1")
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let info = decoder.read_info().expect("the stored thumbnail is a PNG");
    assert_eq!((info.info().width, info.info().height), (160, 120));

    let failed = statuses(&client, &ids[1..]).await;
    assert_eq!(
        failed.iter().map(|s| s.state).collect::<Vec<_>>(),
        [TaskState::Dead; 2]
    );
    let missing = failed[0].last_error.clone().unwrap_or_default();
    assert!(missing.contains("404"), "{missing}");
    let denied = failed[1].last_error.clone().unwrap_or_default();
    assert!(
        denied.contains("denied"),
        "a URL outside the grant: {denied}"
    );
}
