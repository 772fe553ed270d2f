//! `image`: a thumbnailer. It takes a source image, shrinks it by `scale`
//! (default 0.5) with a box filter, and keeps the thumbnail as a PNG in the
//! key-value bucket `thumbnails`, reporting progress at each step.
//!
//! The source is one of:
//!
//! - `{"url": "http://.../photo.png"}`: a PNG fetched with GET. Any colour
//!   type and depth is accepted (it is normalised to 8-bit RGBA), but the
//!   size is checked from the PNG's header before a pixel is decoded. The
//!   thumbnail is stored under `key`, by default `thumb:<FNV-1a of the url>`;
//! - `{"width": W, "height": H}`: a deterministic procedural image, drawn
//!   without any I/O: a CPU-bound task for the host's tests and benchmarks.
//!   Its thumbnail is stored only if the payload gives a `key`.
//!
//! Either way the source is at most 4096 on a side and 4 Mi pixels, and the
//! output is `{"width", "height", "source": {"width", "height", "url"},
//! "checksum", "stored": {"bucket", "key", "bytes"} | null}`, where the
//! checksum is FNV-1a of the thumbnail's RGBA, so a test can compare runs.
//!
//! What goes wrong says whether a retry can help: a bad payload, a 4xx
//! answer, a body that is no usable PNG, or a missing grant is permanent;
//! a 429 or 5xx answer, a transport failure or a failed store is retryable.
//!
//! The plugin imports both `wasi:http` and `wasi:keyvalue`, so the host
//! loads it only with a manifest next to it that grants both, even for the
//! draw mode (`kv_max_value` is optional: the default 1 MiB holds most
//! thumbnails):
//!
//! ```toml
//! # image.toml
//! [capabilities]
//! http = ["http://127.0.0.1:8026"]
//! kv = ["thumbnails"]
//! kv_max_value = "4MiB"
//! ```

mod codec;
mod fetch;
mod pixels;

use serde::Deserialize;
use wasmq_plugin_sdk::kv::{self, KvError};
use wasmq_plugin_sdk::{Output, Task, TaskError, progress};

use pixels::{Image, MAX_PIXELS, MAX_SIDE, fnv1a64};

/// The bucket thumbnails go to.
const BUCKET: &str = "thumbnails";
/// Longest `key`, in bytes.
const MAX_KEY: usize = 256;

/// The payload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    url: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    #[serde(default = "half")]
    scale: f64,
    key: Option<String>,
}

fn half() -> f64 {
    0.5
}

/// Where the source image comes from.
#[derive(Debug, PartialEq)]
enum Source {
    Url(String),
    Draw { width: u32, height: u32 },
}

/// A checked request: what to thumbnail, how small, and where to keep it.
#[derive(Debug, PartialEq)]
struct Plan {
    source: Source,
    scale: f64,
    key: Option<String>,
}

#[wasmq_plugin_sdk::handler]
fn thumbnail(task: Task) -> Result<Output, TaskError> {
    let plan = plan(task.json()?)?;
    let (source, url) = match &plan.source {
        Source::Url(url) => {
            progress(0, &format!("fetching {url}"));
            let body = fetch::get(url)?;
            progress(25, &format!("decoding {} bytes", body.len()));
            let image = codec::decode(&body)
                .map_err(|why| TaskError::permanent(format!("image: {url} {why}")))?;
            (image, Some(url.as_str()))
        }
        Source::Draw { width, height } => {
            progress(0, "drawing the source image");
            (pixels::draw(*width, *height), None)
        }
    };
    progress(50, "downsampling");
    let (width, height) = pixels::target_size(source.width, source.height, plan.scale);
    let small = pixels::downsample(&source, width, height);
    let stored = match &plan.key {
        Some(key) => {
            progress(75, &format!("storing the thumbnail under `{key}`"));
            Some(store(key, &small)?)
        }
        None => None,
    };
    progress(100, "done");
    Output::json(&serde_json::json!({
        "width": small.width,
        "height": small.height,
        "source": { "width": source.width, "height": source.height, "url": url },
        "checksum": format!("{:016x}", fnv1a64(&small.rgba)),
        "stored": stored,
    }))
}

/// Checks the payload, before any I/O.
fn plan(req: Request) -> Result<Plan, TaskError> {
    let give = "give `url` (a PNG to fetch) or `width` and `height` (an image to draw)";
    let source = match (req.url, req.width, req.height) {
        (Some(url), None, None) => Source::Url(url),
        (None, Some(width), Some(height)) => Source::Draw { width, height },
        (Some(_), _, _) => return Err(payload_error(&format!("{give}, not both"))),
        (None, None, None) => return Err(payload_error(give)),
        (None, Some(_), None) => {
            return Err(payload_error(&format!("missing field `height`: {give}")));
        }
        (None, None, Some(_)) => {
            return Err(payload_error(&format!("missing field `width`: {give}")));
        }
    };
    if !(req.scale > 0.0 && req.scale <= 1.0) {
        return Err(payload_error(&format!(
            "field `scale` is {}, must be in (0, 1]",
            req.scale
        )));
    }
    if let Some(key) = &req.key {
        check_key(key)?;
    }
    let key = match &source {
        Source::Url(url) => Some(
            req.key
                .unwrap_or_else(|| format!("thumb:{:016x}", fnv1a64(url.as_bytes()))),
        ),
        Source::Draw { width, height } => {
            check_draw_size(*width, *height)?;
            req.key
        }
    };
    Ok(Plan {
        source,
        scale: req.scale,
        key,
    })
}

fn check_draw_size(width: u32, height: u32) -> Result<(), TaskError> {
    for (name, side) in [("width", width), ("height", height)] {
        if side == 0 || side > MAX_SIDE {
            return Err(payload_error(&format!(
                "field `{name}` is {side}, must be 1..={MAX_SIDE}"
            )));
        }
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(payload_error(&format!(
            "{width}x{height} is {pixels} pixels, at most {MAX_PIXELS} are allowed"
        )));
    }
    Ok(())
}

/// A key the host will take: 1..=256 bytes of text, no control characters.
fn check_key(key: &str) -> Result<(), TaskError> {
    let problem = if key.is_empty() {
        "is empty".to_owned()
    } else if key.len() > MAX_KEY {
        format!("is {} bytes long", key.len())
    } else if let Some((at, c)) = key.char_indices().find(|(_, c)| c.is_control()) {
        format!("has the control character {c:?} at byte {at}")
    } else {
        return Ok(());
    };
    Err(payload_error(&format!(
        "field `key` {problem}: give 1..={MAX_KEY} bytes of text without control characters, \
         or leave it out"
    )))
}

fn payload_error(problem: &str) -> TaskError {
    TaskError::permanent(format!("image payload: {problem}"))
}

/// Encodes the thumbnail and keeps it in [`BUCKET`] under `key`; returns
/// the output's `stored` object.
fn store(key: &str, thumb: &Image) -> Result<serde_json::Value, TaskError> {
    let png = codec::encode(thumb).map_err(|e| {
        TaskError::permanent(format!(
            "image: cannot encode the {}x{} thumbnail as PNG ({e}): this is a bug in the plugin",
            thumb.width, thumb.height
        ))
    })?;
    let denied = |e: KvError| match e {
        KvError::AccessDenied(_) => TaskError::permanent(format!(
            "image: bucket `{BUCKET}` is not granted: add kv = [\"{BUCKET}\"] under \
             [capabilities] in image.toml"
        )),
        KvError::Failed(why) => TaskError::retryable(format!(
            "image: storing the {}-byte thumbnail under `{key}` in bucket `{BUCKET}` failed \
             ({why}): if it is over kv_max_value, raise that in image.toml; otherwise it may pass",
            png.len()
        )),
    };
    kv::Bucket::open(BUCKET)
        .and_then(|bucket| bucket.set(key, &png))
        .map_err(denied)?;
    Ok(serde_json::json!({ "bucket": BUCKET, "key": key, "bytes": png.len() }))
}

#[cfg(test)]
mod tests;
