//! The Lua scripts, one per atomic operation.
//!
//! Each script lives in `lua/<name>.lua`, opening with a comment that lists
//! its `KEYS` and `ARGV`. `lua/prelude.lua` (shared helpers, no key access) is
//! prepended at build time. Calls go out as `EVALSHA`; when Redis answers
//! `NOSCRIPT` (after a restart, a failover or `SCRIPT FLUSH`) the client loads
//! the script and retries, which [`redis::Script`] does for us. On Cluster the
//! `SCRIPT LOAD` is routed to every primary, so the retry finds it wherever
//! the queue's slot lives.
//!
//! No script uses Redis 7 script flags or functions, so Redis 6.2 and newer
//! work (`LPOP` with a count needs 6.2).

use redis::Script;
use std::sync::LazyLock;

macro_rules! lua {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("lua/prelude.lua"),
            "\n",
            include_str!(concat!("lua/", $file))
        ))
    };
}

/// Every script the broker runs.
pub(crate) struct Scripts {
    pub enqueue: Script,
    pub lease: Script,
    pub ack: Script,
    pub retry: Script,
    pub dead: Script,
    pub extend: Script,
    pub release: Script,
    pub reap: Script,
    pub promote: Script,
    pub trim: Script,
    pub trim_results: Script,
    pub maintain: Script,
    pub cancel: Script,
    pub status: Script,
    pub final_record: Script,
    pub stats: Script,
    pub dead_list: Script,
    pub requeue_dead: Script,
    pub purge_dead: Script,
    pub remove_queue: Script,
    pub kv_set: Script,
    pub kv_incr: Script,
    pub kv_swap: Script,
    pub forward: Script,
    pub flow_enqueue: Script,
    pub flow_settle: Script,
    pub schedule_add: Script,
    pub schedule_claim: Script,
    pub schedule_pause: Script,
    pub schedule_remove: Script,
    pub throttle: Script,
    pub limits_set: Script,
}

/// The scripts, hashed once per process.
pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    enqueue: lua!("enqueue.lua"),
    lease: lua!("lease.lua"),
    ack: lua!("ack.lua"),
    retry: lua!("retry.lua"),
    dead: lua!("dead.lua"),
    extend: lua!("extend.lua"),
    release: lua!("release.lua"),
    reap: lua!("reap.lua"),
    promote: lua!("promote.lua"),
    trim: lua!("trim.lua"),
    trim_results: lua!("trim_results.lua"),
    maintain: lua!("maintain.lua"),
    cancel: lua!("cancel.lua"),
    status: lua!("status.lua"),
    final_record: lua!("final.lua"),
    stats: lua!("stats.lua"),
    dead_list: lua!("dead_list.lua"),
    requeue_dead: lua!("requeue_dead.lua"),
    purge_dead: lua!("purge_dead.lua"),
    remove_queue: lua!("remove_queue.lua"),
    kv_set: lua!("kv_set.lua"),
    kv_incr: lua!("kv_incr.lua"),
    kv_swap: lua!("kv_swap.lua"),
    forward: lua!("forward.lua"),
    flow_enqueue: lua!("flow_enqueue.lua"),
    flow_settle: lua!("flow_settle.lua"),
    schedule_add: lua!("schedule_add.lua"),
    schedule_claim: lua!("schedule_claim.lua"),
    schedule_pause: lua!("schedule_pause.lua"),
    schedule_remove: lua!("schedule_remove.lua"),
    throttle: lua!("throttle.lua"),
    limits_set: lua!("limits_set.lua"),
});

impl Scripts {
    /// All scripts, for preloading.
    pub(crate) fn all(&self) -> [&Script; 30] {
        [
            &self.enqueue,
            &self.lease,
            &self.ack,
            &self.retry,
            &self.dead,
            &self.extend,
            &self.release,
            &self.reap,
            &self.promote,
            &self.trim,
            &self.trim_results,
            &self.maintain,
            &self.cancel,
            &self.status,
            &self.final_record,
            &self.stats,
            &self.dead_list,
            &self.requeue_dead,
            &self.purge_dead,
            &self.remove_queue,
            &self.kv_set,
            &self.kv_incr,
            &self.kv_swap,
            &self.forward,
            &self.flow_enqueue,
            &self.flow_settle,
            &self.schedule_add,
            &self.schedule_claim,
            &self.schedule_pause,
            &self.schedule_remove,
        ]
    }
}
