//! `tally`: one key-value operation per task, on a bucket its manifest
//! grants (`[capabilities] kv = ["counts"]`):
//!
//! * `{"bucket": "counts", "incr": "k", "by": 1}` → the new value;
//! * `{"bucket": "counts", "set": "k", "value": "text"}` → `ok`;
//! * `{"bucket": "counts", "get": "k"}` → the value (`<none>` if absent);
//! * `{"bucket": "counts", "set": "k", "value": "text", "get": "k"}` → sets,
//!   then reads back (`wasmq bench --plugin tally`: a set and a get per task);
//! * `{"bucket": "counts", "keys": true}` → the sorted keys, comma-separated.
//!
//! Two copies under two task types share nothing: a bucket is scoped to
//! the plugin that opens it.

use wasmq_plugin_sdk::{Output, Task, TaskError, kv};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Op {
    bucket: String,
    #[serde(default)]
    incr: Option<String>,
    #[serde(default)]
    by: Option<i64>,
    #[serde(default)]
    set: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    get: Option<String>,
    #[serde(default)]
    keys: bool,
}

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    let op: Op = task.json()?;
    let bucket = kv::Bucket::open(&op.bucket)?;
    if let Some(key) = op.incr {
        return Ok(Output::text(bucket.increment(&key, op.by.unwrap_or(1))?.to_string()));
    }
    if let Some(key) = op.set {
        bucket.set(&key, op.value.unwrap_or_default().as_bytes())?;
        if op.get.is_none() {
            return Ok(Output::text("ok"));
        }
    }
    if let Some(key) = op.get {
        return Ok(Output::text(match bucket.get(&key)? {
            Some(value) => String::from_utf8_lossy(&value).into_owned(),
            None => "<none>".to_owned(),
        }));
    }
    if op.keys {
        let mut keys = bucket.keys()?;
        keys.sort();
        return Ok(Output::text(keys.join(",")));
    }
    Err(TaskError::permanent("give one of incr, set, get or keys"))
}
