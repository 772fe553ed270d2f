//! Unit and property tests of the scheduler's bookkeeping.

use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

fn served(names: &[(&str, Option<usize>)]) -> Vec<(String, Option<usize>)> {
    names.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
}

#[test]
fn nothing_is_prefetched_before_run_times_are_known() {
    let mut q: Queues<u32> = Queues::new(4, 64);
    q.set_queues(&served(&[("a", None), ("b", Some(1))]));
    let (wants, room) = q.wants();
    assert_eq!(room, 4);
    assert_eq!(wants.len(), 2, "{wants:?}");
    assert!(wants.contains(&("a".to_owned(), 4)) && wants.contains(&("b".to_owned(), 1)));
    assert!(q.push("a", vec![1, 2, 3, 4]).is_empty());
    // `a` holds the whole concurrency: no room for anyone until one finishes.
    assert_eq!(q.wants(), (Vec::new(), 0));
}

#[test]
fn every_queue_is_offered_the_room_so_an_empty_one_cannot_starve_others() {
    let mut q: Queues<u32> = Queues::new(2, 64);
    let names: Vec<String> = (0..15).map(|i| format!("q{i}")).collect();
    let config: Vec<(String, Option<usize>)> = names.iter().map(|n| (n.clone(), None)).collect();
    q.set_queues(&config);
    let (wants, room) = q.wants();
    assert_eq!(room, 2);
    assert_eq!(wants.len(), 15, "{wants:?}");
    // The order rotates, so a lease round that runs out of room starts
    // elsewhere next time.
    let (again, _) = q.wants();
    assert_ne!(wants[0].0, again[0].0);
}

#[test]
fn short_tasks_are_prefetched_in_batches_long_ones_are_not() {
    let mut q: Queues<u32> = Queues::new(2, 64);
    q.set_queues(&served(&[("noop", None)]));
    q.push("noop", vec![1]);
    let job = q.pop().unwrap();
    q.finish(&job.queue, Duration::from_micros(50));
    // 20 ms / 50 µs = 400, bounded by the batch size: 2 slots + 64 ahead.
    assert_eq!(q.wants(), (vec![("noop".to_owned(), 64)], 66));
    q.push("noop", (0..66).collect());
    // Ten started and finished: not yet half a prefetch behind, no round trip.
    for _ in 0..10 {
        let job = q.pop().unwrap();
        q.finish(&job.queue, Duration::from_micros(50));
    }
    assert_eq!(q.wants().0, []);
    for _ in 0..30 {
        let job = q.pop().unwrap();
        q.finish(&job.queue, Duration::from_micros(50));
    }
    assert_eq!(q.wants().0, [("noop".to_owned(), 40)]);

    let mut q: Queues<u32> = Queues::new(2, 64);
    q.set_queues(&served(&[("image", None)]));
    q.push("image", vec![1]);
    let job = q.pop().unwrap();
    q.finish(&job.queue, Duration::from_secs(1));
    assert_eq!(q.wants(), (vec![("image".to_owned(), 2)], 2));
}

#[test]
fn round_robin_alternates_between_queues() {
    let mut q: Queues<u32> = Queues::new(8, 64);
    q.set_queues(&served(&[("a", None), ("b", None)]));
    q.push("a", vec![1, 2, 3]);
    q.push("b", vec![10, 20, 30]);
    let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|j| j.item).collect();
    assert_eq!(order, [1, 10, 2, 20, 3, 30]);
}

#[test]
fn removed_queue_gives_back_its_buffer_and_refuses_more() {
    let mut q: Queues<u32> = Queues::new(1, 64);
    q.set_queues(&served(&[("a", None), ("b", None)]));
    q.push("a", vec![1, 2]);
    let running = q.pop().unwrap();
    assert_eq!(q.set_queues(&served(&[("b", None)])), [2]);
    assert_eq!(q.push("a", vec![3]), [3]);
    // The running task still counts until it finishes.
    assert_eq!(q.running(), 1);
    q.finish(&running.queue, Duration::from_millis(1));
    assert_eq!(q.running(), 0);
}

#[test]
fn close_returns_the_buffer_and_stops_everything() {
    let mut q: Queues<u32> = Queues::new(1, 64);
    q.set_queues(&served(&[("a", None)]));
    q.push("a", vec![1, 2, 3]);
    let _running = q.pop().unwrap();
    assert_eq!(q.close(), [2, 3]);
    assert!(q.pop().is_none());
    assert_eq!(q.wants(), (Vec::new(), 0));
    assert_eq!(q.push("a", vec![4]), [4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executors_wake_when_work_arrives_and_stop_when_closed() {
    // More executors than tasks in flight, pushed one at a time from the
    // test while they look and wait: a missed wake-up leaves a task
    // buffered and this loop spinning (the test's timeout fails it).
    let sched = std::sync::Arc::new(Scheduler::<u32>::new(8, 8));
    sched.with(|q| q.set_queues(&served(&[("a", None)])));
    let executor = |sched: std::sync::Arc<Scheduler<u32>>| {
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut finished: Option<String> = None;
            while let Some(job) = sched
                .next_job(finished.as_deref().map(|q| (q, Duration::ZERO)))
                .await
            {
                seen.push(job.item);
                tokio::task::yield_now().await;
                finished = Some(job.queue);
            }
            seen
        })
    };
    let executors: Vec<_> = (0..8).map(|_| executor(sched.clone())).collect();
    for item in 0..1000 {
        assert!(sched.push("a", vec![item]).is_empty());
        if item % 7 == 0 {
            tokio::task::yield_now().await;
        }
    }
    // Wait until the executors have drained the buffer, then close.
    let drained = async {
        while sched.with(|q| q.buffered() + q.running()) > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), drained)
        .await
        .expect("a buffered task was never started: an executor missed its wake-up");
    assert!(sched.close().is_empty());
    let mut seen = Vec::new();
    for executor in executors {
        seen.extend(executor.await.unwrap());
    }
    seen.sort();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
}

#[derive(Debug, Clone)]
enum Op {
    Push(usize, usize),
    Pop,
    Finish(usize),
    Reconfigure(Vec<bool>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..3, 1usize..10).prop_map(|(q, n)| Op::Push(q, n)),
        Just(Op::Pop),
        Just(Op::Pop),
        (0usize..3).prop_map(Op::Finish),
        proptest::collection::vec(any::<bool>(), 3).prop_map(Op::Reconfigure),
    ]
}

proptest! {
    /// Caps always hold, and every task pushed is popped, returned or still
    /// buffered: none is lost or handed out twice.
    #[test]
    fn caps_hold_and_no_task_is_lost_or_duplicated(
        concurrency in 1usize..6,
        caps in proptest::collection::vec(proptest::option::of(1usize..4), 3),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let names = ["a", "b", "c"];
        let config = |on: &[bool]| -> Vec<(String, Option<usize>)> {
            names.iter().zip(&caps).zip(on).filter(|(_, on)| **on)
                .map(|((n, c), _)| ((*n).to_owned(), *c)).collect()
        };
        let mut q: Queues<u64> = Queues::new(concurrency, 16);
        q.set_queues(&config(&[true, true, true]));
        let mut next_id = 0u64;
        let mut accounted: HashMap<u64, &str> = HashMap::new();
        let mut running: Vec<String> = Vec::new();
        for op in ops {
            match op {
                Op::Push(i, n) => {
                    let items: Vec<u64> = (0..n as u64).map(|k| next_id + k).collect();
                    next_id += n as u64;
                    for back in q.push(names[i], items.clone()) {
                        prop_assert!(accounted.insert(back, "returned").is_none());
                    }
                }
                Op::Pop => {
                    if running.len() < concurrency
                        && let Some(job) = q.pop()
                    {
                        prop_assert!(accounted.insert(job.item, "popped").is_none());
                        running.push(job.queue);
                    }
                }
                Op::Finish(i) => {
                    if !running.is_empty() {
                        let queue = running.remove(i % running.len());
                        q.finish(&queue, Duration::from_micros(100));
                    }
                }
                Op::Reconfigure(on) => {
                    for back in q.set_queues(&config(&on)) {
                        prop_assert!(accounted.insert(back, "returned").is_none());
                    }
                }
            }
            prop_assert_eq!(q.running(), running.len());
            for (name, cap) in names.iter().zip(&caps) {
                let n = running.iter().filter(|r| r == name).count();
                prop_assert!(n <= cap.unwrap_or(concurrency).min(concurrency));
            }
            // The leaser never asks for more than the global room.
            let (wants, room) = q.wants();
            prop_assert!(room <= (concurrency + 16).saturating_sub(q.running() + q.buffered()));
            prop_assert!(wants.iter().all(|(_, n)| *n >= 1 && *n <= 16));
        }
        for back in q.close() {
            prop_assert!(accounted.insert(back, "returned").is_none());
        }
        prop_assert_eq!(accounted.len() as u64, next_id);
    }
}
