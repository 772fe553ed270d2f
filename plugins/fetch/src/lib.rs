//! `fetch`: GETs `{"url": "..."}` and returns the response body, with its
//! status in the log. With `"post": "text"` it POSTs that text instead; with
//! `"times": N` it sends the request N times (to test the per-run cap).
//!
//! Outbound HTTP is default-deny: the host loads this plugin only with a
//! grant in `fetch.toml` next to it, e.g.
//!
//! ```toml
//! [capabilities]
//! http = ["https://example.com"]
//! ```
//!
//! and refuses each request to a URL outside the grant.

use wasmq_plugin_sdk::{Output, Task, TaskError, http, info};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Fetch {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    post: Option<String>,
    /// Requests to send (the same URL), to test the per-run cap.
    #[serde(default)]
    times: Option<u32>,
}

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    let fetch: Fetch = task.json()?;
    let url = fetch.url.ok_or_else(|| TaskError::permanent("give `url`"))?;
    let mut last = None;
    for _ in 0..fetch.times.unwrap_or(1) {
        let response = match &fetch.post {
            Some(text) => http::post(&url, "text/plain", text.as_bytes())?,
            None => http::get(&url)?,
        };
        info!("{} answered {} with {} bytes", url, response.status, response.body.len());
        last = Some(response);
    }
    let response = last.ok_or_else(|| TaskError::permanent("`times` must be at least 1"))?;
    if response.status >= 400 {
        return Err(TaskError::permanent(format!("{url} answered {}", response.status)));
    }
    Ok(Output::bytes(response.body))
}
