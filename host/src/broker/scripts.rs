//! The Lua scripts, one per atomic operation, and how a call to one is built.
//!
//! Each script lives in `lua/<name>.lua`. Its opening comment lists its keys
//! one per line (`-- KEYS[n] name TYPE: what`) and its arguments likewise,
//! and its body begins by giving every key a local name; below that it
//! never reads `KEYS` again, so a reader finds what `KEYS[13]` is in one
//! place. `lua/prelude.lua` and `lua/prelude_queue.lua` (shared helpers,
//! which take keys as arguments and never read `KEYS`; two files only to
//! keep each readable) are prepended to each, in that order. The lint in `scripts/lint.rs`
//! holds every script to this.
//!
//! [`SCRIPTS`] declares how many keys each script takes, and every call is
//! built with [`LuaScript::prepare_invoke`] and sent by
//! [`Client::invoke`](super::client::Client::invoke), which refuses a call
//! with another number of keys before it reaches Redis: a key missing from
//! a call site would otherwise shift every key after it and make the script
//! write to the wrong key.
//!
//! Calls go out as `EVALSHA`; when Redis answers `NOSCRIPT` (after a
//! restart, a failover or `SCRIPT FLUSH`) the call is sent again as `EVAL`
//! with the script's text, which also caches it on that server. `EVAL` is
//! routed like `EVALSHA`, by its first key, so on Cluster it reaches exactly
//! the node that owns the queue's slot. [`redis::Script`]'s own retry is not
//! used: on Cluster it sends `SCRIPT LOAD` to every node and waits for all
//! of them, so one slow or unreachable node (a failover in progress) would
//! hold up a call to a healthy one for its whole response timeout.
//!
//! A script that may push a wake token (prelude's `wake`) takes the wake
//! channel as `ARGV[1]` (`''` = announce nothing; see `waiter.rs`), its
//! header naming it `wake channel`. Such a call starts with
//! [`Call::wake_channel`], and [`Call::checked`] refuses one that does not,
//! or a call of any other script that does, as it refuses a wrong number of
//! keys.
//!
//! No script uses Redis 7 script flags or functions, so Redis 6.2 and newer
//! work (`LPOP` with a count needs 6.2).

use redis::{Cmd, Script, ToRedisArgs};
use std::sync::LazyLock;

#[cfg(test)]
mod lint;

/// The helpers every script starts with.
const PRELUDE: &str = concat!(
    include_str!("lua/prelude.lua"),
    "\n",
    include_str!("lua/prelude_queue.lua")
);

/// How many keys a script takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keys {
    /// Exactly this many.
    Exactly(usize),
    /// This many named ones, then any number more (result buckets, unique
    /// keys), which the script takes as a list.
    AtLeast(usize),
}

impl Keys {
    /// Whether a call passing `n` keys fits.
    pub(crate) fn allows(self, n: usize) -> bool {
        match self {
            Keys::Exactly(k) => n == k,
            Keys::AtLeast(k) => n >= k,
        }
    }
}

/// One script: its file name, the keys it takes, and the code Redis runs.
pub(crate) struct LuaScript {
    /// The file under `lua/`, for error messages.
    pub(crate) file: &'static str,
    /// The keys every call must pass.
    pub(crate) keys: Keys,
    /// The script's own text, without the prelude (for the lint).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) source: &'static str,
    /// The prelude and the source: what Redis runs.
    code: String,
    /// Whether it takes the wake channel as `ARGV[1]` (it may wake).
    pub(crate) wakes: bool,
    script: Script,
}

/// How the header of a script that may wake names its `ARGV[1]`.
pub(crate) const WAKE_CHANNEL_ARG: &str = "-- ARGV[1] wake channel: ";

impl LuaScript {
    fn new(file: &'static str, source: &'static str, keys: Keys) -> Self {
        let code = format!("{PRELUDE}\n{source}");
        Self {
            file,
            keys,
            source,
            wakes: source.lines().any(|l| l.starts_with(WAKE_CHANNEL_ARG)),
            script: Script::new(&code),
            code,
        }
    }

    /// The `redis` script, for preloading.
    pub(crate) fn script(&self) -> &Script {
        &self.script
    }

    /// A call of this script, to fill with keys and arguments and send with
    /// [`Client::invoke`](super::client::Client::invoke).
    pub(crate) fn prepare_invoke(&self) -> Call<'_> {
        Call {
            script: self,
            keys: Vec::new(),
            args: Vec::new(),
            wake_channel: false,
        }
    }
}

/// A script call being built: its keys and arguments, encoded.
pub(crate) struct Call<'a> {
    script: &'a LuaScript,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
    /// Whether [`Call::wake_channel`] gave `ARGV[1]`.
    wake_channel: bool,
}

impl<'a> Call<'a> {
    /// Adds keys (`KEYS[i]` in the script): one, or each of a slice.
    pub(crate) fn key<T: ToRedisArgs>(&mut self, key: T) -> &mut Self {
        key.write_redis_args(&mut self.keys);
        self
    }

    /// The keys added so far: the `KEYS` index of the last one.
    pub(crate) fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Adds arguments (`ARGV[i]` in the script): one, or each of a slice.
    pub(crate) fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        arg.write_redis_args(&mut self.args);
        self
    }

    /// Adds the wake channel as `ARGV[1]` of a script that may wake (`''`
    /// = announce nothing): [`Client::wake_channel`](super::client::Client::wake_channel).
    pub(crate) fn wake_channel(&mut self, channel: &str) -> &mut Self {
        self.wake_channel = self.args.is_empty();
        self.arg(channel)
    }

    /// The `EVALSHA` command, once its number of keys is one the script
    /// takes and it passes the wake channel first if and only if the script
    /// takes it.
    pub(crate) fn checked(&self) -> Result<Cmd, String> {
        if !self.script.keys.allows(self.keys.len()) {
            return Err(format!(
                "{} takes {:?} keys, the call passes {}",
                self.script.file,
                self.script.keys,
                self.keys.len()
            ));
        }
        match (self.script.wakes, self.wake_channel) {
            (true, false) => Err(format!(
                "{} takes the wake channel as ARGV[1], the call does not pass it first",
                self.script.file
            )),
            (false, true) => Err(format!(
                "{} does not take the wake channel, the call passes it",
                self.script.file
            )),
            _ => Ok(self.command("EVALSHA", self.script.script.get_hash())),
        }
    }

    /// The same call as `EVAL` with the script's text, for a server that
    /// answered `NOSCRIPT`.
    pub(crate) fn with_text(&self) -> Cmd {
        self.command("EVAL", &self.script.code)
    }

    fn command(&self, name: &str, script: &str) -> Cmd {
        let mut cmd = Cmd::with_capacity(3 + self.keys.len() + self.args.len(), 0);
        cmd.arg(name)
            .arg(script)
            .arg(self.keys.len())
            .arg(&self.keys)
            .arg(&self.args);
        cmd
    }
}

/// Declares the scripts: the [`Scripts`] table, [`SCRIPTS`], and
/// [`Scripts::all`], so a script cannot be added without being preloaded.
macro_rules! scripts {
    ($($field:ident: $file:literal, $keys:expr;)*) => {
        /// Every script the broker runs.
        pub(crate) struct Scripts {
            $(pub $field: LuaScript,)*
        }

        /// The scripts, hashed once per process.
        pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
            $($field: LuaScript::new($file, include_str!(concat!("lua/", $file)), $keys),)*
        });

        impl Scripts {
            /// All scripts, for preloading.
            pub(crate) fn all(&self) -> Vec<&LuaScript> {
                vec![$(&self.$field),*]
            }
        }
    };
}

scripts! {
    enqueue: "enqueue.lua", Keys::AtLeast(8);
    lease: "lease.lua", Keys::Exactly(15);
    ack: "ack.lua", Keys::AtLeast(11);
    retry: "retry.lua", Keys::Exactly(18);
    dead: "dead.lua", Keys::Exactly(11);
    extend: "extend.lua", Keys::Exactly(2);
    release: "release.lua", Keys::Exactly(12);
    reap: "reap.lua", Keys::Exactly(15);
    promote: "promote.lua", Keys::Exactly(11);
    trim: "trim.lua", Keys::Exactly(4);
    trim_results: "trim_results.lua", Keys::AtLeast(1);
    maintain: "maintain.lua", Keys::Exactly(19);
    cancel: "cancel.lua", Keys::Exactly(16);
    status: "status.lua", Keys::AtLeast(10);
    final_record: "final.lua", Keys::AtLeast(0);
    stats: "stats.lua", Keys::Exactly(11);
    dead_list: "dead_list.lua", Keys::Exactly(3);
    requeue_dead: "requeue_dead.lua", Keys::Exactly(8);
    purge_dead: "purge_dead.lua", Keys::Exactly(3);
    remove_queue: "remove_queue.lua", Keys::AtLeast(19);
    kv_set: "kv_set.lua", Keys::Exactly(1);
    kv_incr: "kv_incr.lua", Keys::Exactly(1);
    kv_swap: "kv_swap.lua", Keys::Exactly(1);
    forward: "forward.lua", Keys::Exactly(8);
    flow_enqueue: "flow_enqueue.lua", Keys::Exactly(4);
    flow_settle: "flow_settle.lua", Keys::Exactly(11);
    schedule_add: "schedule_add.lua", Keys::Exactly(4);
    schedule_claim: "schedule_claim.lua", Keys::Exactly(2);
    schedule_pause: "schedule_pause.lua", Keys::Exactly(3);
    schedule_remove: "schedule_remove.lua", Keys::Exactly(4);
    throttle: "throttle.lua", Keys::Exactly(1);
    limits_set: "limits_set.lua", Keys::Exactly(2);
    rekey: "rekey.lua", Keys::Exactly(1);
    due_mark: "due_mark.lua", Keys::Exactly(2);
    due_claim: "due_claim.lua", Keys::Exactly(2);
    due_settle: "due_settle.lua", Keys::Exactly(2);
    plugin_push: "plugin_push.lua", Keys::AtLeast(4);
    plugin_rollback: "plugin_rollback.lua", Keys::Exactly(2);
    plugin_board: "plugin_board.lua", Keys::Exactly(1);
    plugin_remove: "plugin_remove.lua", Keys::AtLeast(2);
    resume: "resume.lua", Keys::Exactly(2);
    rewake: "rewake.lua", Keys::Exactly(4);
    progress: "progress.lua", Keys::Exactly(2);
    task_page: "task_page.lua", Keys::Exactly(10);
    result_page: "result_page.lua", Keys::Exactly(1);
    promote_now: "promote_now.lua", Keys::Exactly(6);
    delete_tasks: "delete_tasks.lua", Keys::Exactly(8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_counts_its_keys_as_redis_sends_them() {
        let many = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let pair = ["x", "y"];
        let mut call = SCRIPTS.trim_results.prepare_invoke();
        call.key("one")
            .key(&many[..])
            .key(&pair[..])
            .key(String::from("s"))
            .key(&many[1])
            .arg(&many[..]);
        assert_eq!(call.key_count(), 8);
        let empty: &[String] = &[];
        call.key(empty);
        assert_eq!(call.key_count(), 8);
        // What goes to Redis: the count, then the keys, then the arguments.
        let sent: Vec<Vec<u8>> = call
            .with_text()
            .args_iter()
            .map(|a| match a {
                redis::Arg::Simple(bytes) => bytes.to_vec(),
                _ => Vec::new(),
            })
            .collect();
        let sent: Vec<&str> = sent
            .iter()
            .map(|b| std::str::from_utf8(b).unwrap())
            .collect();
        assert_eq!(sent[0], "EVAL");
        assert!(sent[1].ends_with(SCRIPTS.trim_results.source));
        assert_eq!(
            sent[2..],
            ["8", "one", "a", "b", "c", "x", "y", "s", "b", "a", "b", "c"]
        );
    }

    #[test]
    fn evalsha_and_eval_send_the_same_call() {
        let mut call = SCRIPTS.extend.prepare_invoke();
        call.key("active").key("lease").arg(5);
        let evalsha = call.checked().unwrap();
        let mut sha = evalsha.args_iter();
        assert!(matches!(sha.next(), Some(redis::Arg::Simple(b"EVALSHA"))));
        let hash = SCRIPTS.extend.script().get_hash().as_bytes().to_vec();
        assert!(matches!(sha.next(), Some(redis::Arg::Simple(h)) if h == hash.as_slice()));
        let text = call.with_text();
        assert_eq!(sha.count(), text.args_iter().skip(2).count());
    }

    #[test]
    fn a_call_with_the_wrong_number_of_keys_is_refused() {
        let mut call = SCRIPTS.extend.prepare_invoke();
        call.key("active");
        let err = call.checked().err().unwrap();
        assert!(
            err.contains("extend.lua") && err.contains("passes 1"),
            "{err}"
        );
        call.key("lease");
        assert!(call.checked().is_ok());
        call.key("extra");
        assert!(call.checked().is_err());

        let mut call = SCRIPTS.status.prepare_invoke();
        call.key(&["k"; 9][..]);
        assert!(call.checked().is_err());
        call.key("flow").key(&["bucket"; 3][..]);
        assert!(call.checked().is_ok());
    }

    #[test]
    fn a_waking_call_must_start_with_the_wake_channel() {
        let keys = ["k"; 11];
        let mut call = SCRIPTS.promote.prepare_invoke();
        call.key(&keys[..]).arg(100);
        let err = call.checked().err().unwrap();
        assert!(err.contains("promote.lua takes the wake channel"), "{err}");
        let mut call = SCRIPTS.promote.prepare_invoke();
        call.key(&keys[..]).arg(100).wake_channel("");
        assert!(call.checked().is_err(), "not first");
        let mut call = SCRIPTS.promote.prepare_invoke();
        call.key(&keys[..]).wake_channel("").arg(100);
        assert!(call.checked().is_ok());
        let mut call = SCRIPTS.extend.prepare_invoke();
        call.key("a").key("b").wake_channel("");
        assert!(call.checked().is_err(), "extend.lua never wakes");
    }
}
