//! `membomb`: allocates memory until the host refuses to grow it.
//!
//! It takes 1 MiB chunks, writes to every 4 KiB page of each (so the memory
//! is really used, not just reserved), and keeps them all alive. When an
//! allocation is refused (the host's memory cap made `memory.grow` fail) it
//! reacts as the payload asks:
//!
//! - by default it returns a permanent error `allocation refused after N MiB`,
//!   so a test can check that N stayed under the cap;
//! - with `{"on_refusal": "abort"}` it aborts like `Vec::push` would, which
//!   traps.

use serde::Deserialize;
use wasmq_plugin_sdk::{Output, Task, TaskError};

const CHUNK: usize = 1024 * 1024;
const PAGE: usize = 4096;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(default)]
    on_refusal: OnRefusal,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum OnRefusal {
    #[default]
    Error,
    Abort,
}

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    let req: Request = if task.payload.is_empty() {
        Request::default()
    } else {
        task.json()?
    };
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::new();
        let grown = chunk
            .try_reserve_exact(CHUNK)
            .and_then(|()| chunks.try_reserve(1));
        if grown.is_err() {
            break;
        }
        chunk.resize(CHUNK, 0);
        for (i, page) in chunk.chunks_mut(PAGE).enumerate() {
            page[0] = (i as u8) | 1;
        }
        chunks.push(std::hint::black_box(chunk));
    }
    match req.on_refusal {
        OnRefusal::Error => Err(TaskError::permanent(format!(
            "allocation refused after {} MiB",
            chunks.len()
        ))),
        OnRefusal::Abort => {
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u8; CHUNK]>())
        }
    }
}
