//! An idle host's Redis load does not grow with the queues it serves
//! (worker/wake.rs): a queue whose lease found nothing is not leased again
//! until its wake token comes, so a host serving a hundred idle queues
//! makes no more calls than one serving one; and a quiet queue still wakes
//! at once when work arrives.
//!
//! Counts, not clocks: the check compares the commands two idle hosts cost
//! their own Redis over the same window. Before quiet queues, each window
//! of the 100-queue host held about 100 lease calls per second (a dozen
//! commands each) more than the 1-queue host's.

use std::time::Duration;
use wasmq::task::TaskSpec;
use wasmq_tests::broker::client;
use wasmq_tests::host::{HostProcess, eventually, settled};
use wasmq_tests::plugins_dir::PluginsDir;
use wasmq_tests::redis::RedisServer;

const QUEUES: usize = 100;

/// Commands a server has run, those inside scripts included.
fn commands(server: &RedisServer) -> i64 {
    server.info("stats")["total_commands_processed"]
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_host_costs_the_same_for_1_or_100_queues() {
    let (one, many) = (RedisServer::start(), RedisServer::start());
    let names: Vec<String> = (0..QUEUES).map(|i| format!("idle-{i}")).collect();
    let copies: Vec<(&str, &str)> = names.iter().map(|n| ("noop", n.as_str())).collect();
    let (one_dir, many_dir) = (PluginsDir::with(&copies[..1]), PluginsDir::with(&copies));
    let _one_host = HostProcess::start(&one.url(), one_dir.path(), &[]);
    let _many_host = HostProcess::start(&many.url(), many_dir.path(), &[]);
    // Start-up looks at every queue once (and maintenance sweeps them);
    // after that, a window in which the big host costs fewer extra commands
    // than it has queues. The old leaser never had one.
    let extra = eventually(
        "the 100-queue host's idle load to come down to the 1-queue host's",
        Duration::from_secs(120),
        || async {
            let (a, b) = (commands(&one), commands(&many));
            tokio::time::sleep(Duration::from_secs(3)).await;
            let extra = (commands(&many) - b) - (commands(&one) - a);
            (extra < QUEUES as i64).then_some(extra)
        },
    )
    .await;
    println!("extra commands over 3 s for {QUEUES} idle queues instead of 1: {extra}");
    // Quiet queues wake when work comes: the last and the first.
    let producer = client(&many.url()).await;
    for queue in [&names[QUEUES - 1], &names[0]] {
        producer.enqueue(TaskSpec::new(queue, "{}")).await.unwrap();
    }
    let queues = [names[QUEUES - 1].as_str(), names[0].as_str()];
    let totals = settled(&producer, &queues, 2, Duration::from_secs(60)).await;
    assert_eq!(totals.completed, 2, "{totals:?}");
}
