//! Looking tasks up, fetching results, cancelling, and refusing bad input,
//! against real Redis (standalone and a 3-master cluster).

use std::time::Duration;
use wasmq::Client;
use wasmq::broker::{BrokerOptions, CancelOutcome, Settlement};
use wasmq::error::ValidationError;
use wasmq::task::{Priority, TaskId, TaskSpec, TaskState};
use wasmq_tests::broker::{connect, done, failure, numbered, opts};

wasmq_tests::both_backends!(
    status_in_every_state,
    cancel_in_every_state,
    result_ttl_zero_keeps_nothing,
    results_expire_after_ttl,
    completions_are_announced,
    bad_input_is_refused,
);

async fn status_in_every_state(url: String) {
    let client = connect(&url, opts()).await;
    let q = "st";
    let spec = |p: &str| {
        TaskSpec::new(q, p.to_owned())
            .max_retries(4)
            .priority(Priority::High)
    };
    let pending = client.enqueue(spec("pending")).await.unwrap();
    let sched = client
        .enqueue(spec("sched").delay(Duration::from_secs(60)))
        .await
        .unwrap();
    let ids = client
        .enqueue_many(vec![
            spec("active"),
            spec("retry"),
            spec("dead"),
            spec("done"),
        ])
        .await
        .unwrap();
    // Lease the four after "pending" by leasing five and releasing the first.
    let mut five = client.lease(q, 5).await.unwrap();
    let first = five.remove(0);
    assert_eq!(first.id, pending);
    assert_eq!(
        client.release(&[first]).await.unwrap(),
        vec![Settlement::Released]
    );
    let [active, retry, dead, done_task] = <[_; 4]>::try_from(five).unwrap();
    let due = client
        .retry(&retry, Duration::from_secs(60), &failure("smtp timeout"))
        .await
        .unwrap();
    assert!(matches!(due, Settlement::RetryScheduled { .. }));
    assert_eq!(
        client.dead(&dead, &failure("bad address")).await.unwrap(),
        Settlement::Dead
    );
    assert_eq!(
        client
            .ack(&done_task, done("{\"sent\":true}"))
            .await
            .unwrap(),
        Settlement::Completed
    );

    let s = client.status(&pending).await.unwrap().unwrap();
    assert_eq!(
        (s.state, s.attempts, s.max_attempts),
        (TaskState::Pending, 0, Some(5))
    );
    assert_eq!(s.priority, Some(Priority::High));
    assert!(s.enqueued_at_ms.is_some());

    let s = client.status(&sched).await.unwrap().unwrap();
    assert_eq!(s.state, TaskState::Scheduled);
    assert!(s.due_at_ms.is_some());

    let s = client.status(&active.id).await.unwrap().unwrap();
    assert_eq!((s.state, s.attempts), (TaskState::Active, 1));
    assert_eq!(s.lease_deadline_ms, Some(active.lease_deadline_ms));
    assert_eq!(s.last_started_at_ms, Some(active.started_at_ms));

    let s = client.status(&retry.id).await.unwrap().unwrap();
    assert_eq!((s.state, s.attempts), (TaskState::RetryWait, 1));
    assert_eq!(s.last_error.as_deref(), Some("smtp timeout"));
    assert_eq!(s.plugin_version.as_deref(), Some("1.0.0"));
    assert!(s.due_at_ms.is_some());

    let s = client.status(&dead.id).await.unwrap().unwrap();
    assert_eq!(s.state, TaskState::Dead);
    assert_eq!(s.dead_reason.as_deref(), Some("permanent"));
    assert_eq!(s.last_error.as_deref(), Some("bad address"));
    assert!(s.finished_at_ms.is_some());

    let s = client.status(&done_task.id).await.unwrap().unwrap();
    assert_eq!((s.state, s.attempts), (TaskState::Completed, 1));
    assert_eq!(s.plugin_version.as_deref(), Some("1.0.0"));
    assert_eq!(s.enqueued_at_ms, Some(done_task.enqueued_at_ms));
    assert!(s.finished_at_ms.unwrap() >= done_task.started_at_ms);

    let r = client.result(&done_task.id).await.unwrap().unwrap();
    assert_eq!(r.output, b"{\"sent\":true}");
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!((r.wall_ms, r.fuel_used), (Some(3), Some(42)));
    assert!(
        client.result(&pending).await.unwrap().is_none(),
        "not completed: no result"
    );

    assert_eq!(ids.len(), 4);
    let unknown = TaskId::new(q, "zzzz").unwrap();
    assert!(client.status(&unknown).await.unwrap().is_none());
}

async fn cancel_in_every_state(url: String) {
    let client = connect(&url, opts()).await;
    let mut subscription = client.cancel_subscription().await.unwrap();
    let q = "cx";
    let pending = client.enqueue(TaskSpec::new(q, "p")).await.unwrap();
    let sched = client
        .enqueue(TaskSpec::new(q, "s").delay(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(
        client.cancel(&pending).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(
        client.cancel(&sched).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert!(
        client.lease(q, 10).await.unwrap().is_empty(),
        "cancelled tasks are gone"
    );
    assert_eq!(
        client.status(&pending).await.unwrap().unwrap().state,
        TaskState::Cancelled
    );
    assert_eq!(
        client.cancel(&pending).await.unwrap(),
        CancelOutcome::AlreadyFinished
    );

    client.enqueue_many(numbered(q, 4)).await.unwrap();
    let [a, b, c, d] = <[_; 4]>::try_from(client.lease(q, 4).await.unwrap()).unwrap();
    // Retry-waiting: cancelled at once.
    client
        .retry(&a, Duration::from_secs(60), &failure("x"))
        .await
        .unwrap();
    assert_eq!(
        client.cancel(&a.id).await.unwrap(),
        CancelOutcome::Cancelled
    );
    // Active: flagged and announced.
    for t in [&b, &c, &d] {
        assert_eq!(
            client.cancel(&t.id).await.unwrap(),
            CancelOutcome::Requested
        );
    }
    let mut heard = Vec::new();
    while heard.len() < 3 {
        let next = tokio::time::timeout(Duration::from_secs(5), subscription.next()).await;
        heard.push(
            next.expect("cancellation not announced within 5 s")
                .unwrap(),
        );
    }
    heard.sort();
    let mut expected = vec![b.id.clone(), c.id.clone(), d.id.clone()];
    expected.sort();
    assert_eq!(heard, expected);
    let flags = client
        .cancel_requested(q, &[a.id.clone(), b.id.clone()])
        .await
        .unwrap();
    assert_eq!(flags, vec![false, true]);
    assert!(
        client
            .status(&b.id)
            .await
            .unwrap()
            .unwrap()
            .cancel_requested
    );
    // The host interrupts b (reports a failure), gives c back, and d finished anyway.
    assert_eq!(
        client
            .retry(&b, Duration::ZERO, &failure("interrupted"))
            .await
            .unwrap(),
        Settlement::Cancelled
    );
    assert_eq!(
        client.release(std::slice::from_ref(&c)).await.unwrap(),
        vec![Settlement::Cancelled]
    );
    assert_eq!(
        client.ack(&d, done("{}")).await.unwrap(),
        Settlement::Completed
    );
    for (id, state) in [
        (&b.id, TaskState::Cancelled),
        (&c.id, TaskState::Cancelled),
        (&d.id, TaskState::Completed),
    ] {
        assert_eq!(
            client.status(id).await.unwrap().unwrap().state,
            state,
            "{id}"
        );
    }
    client.enqueue(TaskSpec::new(q, "dead")).await.unwrap();
    let e = client.lease(q, 1).await.unwrap().remove(0);
    client.dead(&e, &failure("x")).await.unwrap();
    assert_eq!(
        client.cancel(&e.id).await.unwrap(),
        CancelOutcome::AlreadyDead
    );
    let unknown = TaskId::new(q, "nope").unwrap();
    assert_eq!(
        client.cancel(&unknown).await.unwrap(),
        CancelOutcome::NotFound
    );
    let stats = client.queue_stats(q).await.unwrap();
    assert_eq!(stats.counters.cancelled, 5);
    assert_eq!(
        (
            stats.pending,
            stats.active,
            stats.scheduled,
            stats.retry_wait
        ),
        (0, 0, 0, 0)
    );
}

async fn result_ttl_zero_keeps_nothing(url: String) {
    let opts = BrokerOptions {
        result_ttl: Duration::ZERO,
        ..opts()
    };
    let client = connect(&url, opts).await;
    let id = client.enqueue(TaskSpec::new("ttl0", "x")).await.unwrap();
    let task = client.lease("ttl0", 1).await.unwrap().remove(0);
    assert_eq!(
        client.ack(&task, done("{}")).await.unwrap(),
        Settlement::Completed
    );
    assert!(
        client.status(&id).await.unwrap().is_none(),
        "documented: not found after completion"
    );
    assert!(client.result(&id).await.unwrap().is_none());
    assert_eq!(
        client.queue_stats("ttl0").await.unwrap().counters.completed,
        1
    );
}

async fn results_expire_after_ttl(url: String) {
    let ttl = Duration::from_secs(2);
    let opts = BrokerOptions {
        result_ttl: ttl,
        ..opts()
    };
    let client = connect(&url, opts).await;
    let id = client.enqueue(TaskSpec::new("ttl2", "x")).await.unwrap();
    let task = client.lease("ttl2", 1).await.unwrap().remove(0);
    client.ack(&task, done("{\"n\":1}")).await.unwrap();
    assert_eq!(
        client.result(&id).await.unwrap().unwrap().output,
        b"{\"n\":1}"
    );
    client.trim("ttl2", 100).await.unwrap();
    assert!(
        client.result(&id).await.unwrap().is_some(),
        "kept for the TTL"
    );
    // Records live between the TTL and the TTL plus one bucket (ttl / 24, at least 1 s).
    tokio::time::sleep(ttl + Duration::from_millis(1100)).await;
    client.trim("ttl2", 100).await.unwrap();
    assert!(
        client.result(&id).await.unwrap().is_none(),
        "gone after the TTL"
    );
    assert!(client.status(&id).await.unwrap().is_none());
}

async fn completions_are_announced(url: String) {
    let client = connect(&url, opts()).await;
    let mut done_ids = client.completion_subscription().await.unwrap();
    let ids = client.enqueue_many(numbered("an", 5)).await.unwrap();
    let tasks = client.lease("an", 5).await.unwrap();
    let (acked, failed) = tasks.split_at(3);
    let acks: Vec<_> = acked.iter().map(|t| (t.clone(), done("{}"))).collect();
    client.ack_many(&acks).await.unwrap();
    for t in failed {
        client
            .retry(t, Duration::from_secs(60), &failure("x"))
            .await
            .unwrap();
    }
    let mut heard = Vec::new();
    while heard.len() < 3 {
        let next = tokio::time::timeout(Duration::from_secs(5), done_ids.next()).await;
        heard.push(next.expect("completion not announced within 5 s").unwrap());
    }
    assert_eq!(heard, ids[..3], "one message per ack call, ids in order");
    let quiet = tokio::time::timeout(Duration::from_millis(300), done_ids.next()).await;
    assert!(quiet.is_err(), "retries are not announced as completions");

    let silent = BrokerOptions {
        publish_completions: false,
        ..opts()
    };
    let silent = connect(&url, silent).await;
    silent.enqueue(TaskSpec::new("an", "x")).await.unwrap();
    let t = silent.lease("an", 1).await.unwrap().remove(0);
    silent.ack(&t, done("{}")).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), done_ids.next()).await;
    assert!(
        quiet.is_err(),
        "publish_completions = false announces nothing"
    );
}

async fn bad_input_is_refused(url: String) {
    let opts = BrokerOptions {
        max_payload_bytes: 1000,
        ..opts()
    };
    let client = connect(&url, opts).await;
    let err = client
        .enqueue(TaskSpec::new("big", vec![b'x'; 1001]))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("\"big\"") && text.contains("1001") && text.contains("1000"),
        "{text}"
    );
    assert!(matches!(
        err,
        wasmq::broker::BrokerError::Invalid(ValidationError::PayloadTooLarge { .. })
    ));
    let err = client
        .enqueue(TaskSpec::new("bad name", "x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("invalid queue name") && err.contains("' '"),
        "{err}"
    );
    let err = client.lease("ok", 0).await.unwrap_err().to_string();
    assert!(err.contains("lease count"), "{err}");
    let err = client
        .enqueue(TaskSpec::new("ok", "x").unique("", Duration::from_secs(1)))
        .await;
    assert!(err.unwrap_err().to_string().contains("unique key"));
    // Nothing of a refused batch is enqueued.
    let batch = vec![
        TaskSpec::new("ok", "fine"),
        TaskSpec::new("ok", vec![0u8; 2000]),
    ];
    assert!(client.enqueue_many(batch).await.is_err());
    assert_eq!(client.queue_stats("ok").await.unwrap().pending, 0);
    let err = Client::connect("http://127.0.0.1:1", BrokerOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid Redis URL"), "{err}");
}
