//! A real headless Chromium, driven over the Chrome DevTools Protocol.
//!
//! The dashboard is plain JavaScript that only runs in a browser, so the only
//! honest test of it is a browser: this fixture starts `chromium --headless`
//! on a throwaway profile, attaches to one page over a websocket and offers
//! the handful of commands a test needs (navigate, evaluate, wait, resize,
//! screenshot). It speaks CDP directly with `tokio-tungstenite` rather than
//! through a browser-automation crate, which keeps the moving parts few and
//! the failure messages ours.
//!
//! A missing Chromium is a failure, not a skip: a dashboard test that passes
//! without a browser would prove nothing. Install it with `bash tests/deps.sh`.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long Chromium may take to start and print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one CDP command may take to answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A headless Chromium with one page attached. Killed on drop.
pub struct Browser {
    child: Child,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    session_id: String,
    next_id: u64,
    /// Uncaught page exceptions and `console.error` calls seen so far.
    page_errors: Vec<String>,
    _profile: tempfile::TempDir,
}

/// Where Chromium is: `$WASMQ_CHROMIUM`, else `/usr/bin/chromium`, else
/// `chromium` or `chromium-browser` on the `PATH`.
pub fn chromium_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("WASMQ_CHROMIUM") {
        return Ok(PathBuf::from(path));
    }
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.exists() {
        return Ok(fixed.to_path_buf());
    }
    for name in ["chromium", "chromium-browser"] {
        if let Some(dir) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&dir) {
                let candidate = dir.join(name);
                if candidate.exists() {
                    return Ok(candidate);
                }
            }
        }
    }
    bail!(
        "install chromium: the dashboard test needs a real headless Chromium at \
         /usr/bin/chromium (or set WASMQ_CHROMIUM); run `bash tests/deps.sh`"
    )
}

impl Browser {
    /// Starts headless Chromium and attaches to a fresh blank page.
    pub async fn launch() -> Result<Self> {
        Self::launch_with(&[]).await
    }

    /// Like [`Browser::launch`], with extra Chromium switches (for example
    /// `--host-resolver-rules=MAP evil.example 127.0.0.1`, which makes a
    /// name resolve to loopback the way a DNS-rebinding attack does).
    pub async fn launch_with(extra_args: &[&str]) -> Result<Self> {
        let binary = chromium_path()?;
        let profile = tempfile::tempdir().context("creating the Chromium profile dir")?;
        let mut child = Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-port=0",
            ])
            .args(extra_args)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let reader = tokio::task::spawn_blocking(move || read_devtools_url(stderr));
        let ws_url = match tokio::time::timeout(LAUNCH_TIMEOUT, reader).await {
            Ok(Ok(Ok(url))) => url,
            Ok(Ok(Err(e))) => {
                let _ = child.kill();
                return Err(e);
            }
            Ok(Err(join)) => {
                let _ = child.kill();
                return Err(anyhow!("the Chromium stderr reader panicked: {join}"));
            }
            Err(_) => {
                let _ = child.kill();
                bail!("Chromium printed no DevTools address within {LAUNCH_TIMEOUT:?}");
            }
        };
        let (ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .with_context(|| format!("connecting to the DevTools websocket {ws_url}"))?;
        let mut browser = Browser {
            child,
            ws,
            session_id: String::new(),
            next_id: 0,
            page_errors: Vec::new(),
            _profile: profile,
        };
        let target = browser
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await?;
        let target_id = target["targetId"]
            .as_str()
            .context("no targetId")?
            .to_owned();
        let attached = browser
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await?;
        browser.session_id = attached["sessionId"]
            .as_str()
            .context("no sessionId")?
            .to_owned();
        browser.call("Page.enable", json!({})).await?;
        browser.call("Runtime.enable", json!({})).await?;
        Ok(browser)
    }

    /// Sends one CDP command to the attached page (or to the browser before
    /// a page is attached) and returns its `result`.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session_id.is_empty() {
            message["sessionId"] = json!(self.session_id);
        }
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .with_context(|| format!("sending {method}"))?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.ws.next())
                .await
                .map_err(|_| anyhow!("{method}: no answer from Chromium in {COMMAND_TIMEOUT:?}"))?
                .with_context(|| format!("{method}: the DevTools websocket closed"))?
                .with_context(|| format!("{method}: reading the DevTools websocket"))?;
            let Message::Text(text) = frame else { continue };
            let reply: Value = serde_json::from_str(&text).context("CDP sent bad JSON")?;
            if reply["id"].as_u64() == Some(id) {
                if let Some(error) = reply.get("error") {
                    bail!("{method} failed: {error}");
                }
                return Ok(reply["result"].clone());
            }
            self.note_event(&reply);
        }
    }

    /// Records page errors from CDP events, so a test can assert there were none.
    fn note_event(&mut self, event: &Value) {
        match event["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let details = &event["params"]["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or(details["text"].as_str())
                    .unwrap_or("unknown exception");
                self.page_errors.push(text.to_owned());
            }
            Some("Runtime.consoleAPICalled") if event["params"]["type"] == "error" => {
                let args: Vec<String> = event["params"]["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        a["value"]
                            .as_str()
                            .map_or_else(|| a.to_string(), str::to_owned)
                    })
                    .collect();
                self.page_errors
                    .push(format!("console.error: {}", args.join(" ")));
            }
            _ => {}
        }
    }

    /// Panics with the page's errors, if it logged any.
    pub fn assert_no_page_errors(&self) {
        let errors = self.page_errors();
        assert!(errors.is_empty(), "the page logged errors: {errors:?}");
    }

    /// Uncaught exceptions and `console.error` messages the page produced.
    pub fn page_errors(&self) -> &[String] {
        &self.page_errors
    }

    /// Loads `url` and waits until the document has finished loading.
    pub async fn navigate(&mut self, url: &str) -> Result<()> {
        let result = self.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(error) = result.get("errorText") {
            bail!("navigating to {url}: {error}");
        }
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
        )
        .await
        .with_context(|| format!("waiting for {url} to load"))
    }

    /// Evaluates `js` in the page (awaiting a returned promise) and returns
    /// its value as JSON. A thrown exception is an error.
    pub async fn evaluate(&mut self, js: &str) -> Result<Value> {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": js, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("unknown exception");
            bail!("evaluating `{js}` threw: {text}");
        }
        Ok(result["result"]["value"].clone())
    }

    /// Polls `predicate` (a JS expression) every 100 ms until it is `true`.
    /// On timeout the error names the predicate.
    pub async fn wait_for(&mut self, predicate: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.evaluate(predicate).await {
                Ok(Value::Bool(true)) => return Ok(()),
                Ok(other) => other,
                Err(e) => Value::String(e.to_string()),
            };
            if Instant::now() >= deadline {
                bail!("`{predicate}` was not true within {timeout:?} (last value: {last})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Emulates a viewport of `width` x `height` CSS pixels (`mobile` also
    /// turns on the mobile meta-viewport handling).
    pub async fn set_viewport(&mut self, width: u32, height: u32, mobile: bool) -> Result<()> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await
        .map(drop)
    }

    /// Saves a PNG screenshot of the whole page (not just the viewport) to
    /// `path`, creating its directory.
    pub async fn screenshot(&mut self, path: &Path) -> Result<()> {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
        let size = &metrics["cssContentSize"];
        let (width, height) = (
            size["width"].as_f64().unwrap_or(800.0),
            size["height"].as_f64().unwrap_or(600.0),
        );
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
                }),
            )
            .await?;
        let data = shot["data"]
            .as_str()
            .context("captureScreenshot returned no data")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .context("captureScreenshot returned bad base64")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads Chromium's stderr until it prints `DevTools listening on ws://...`,
/// then keeps draining it on a thread so Chromium never blocks on a full pipe.
fn read_devtools_url(stderr: std::process::ChildStderr) -> Result<String> {
    let mut reader = BufReader::new(stderr);
    let mut seen = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .context("reading Chromium's stderr")?;
        if n == 0 {
            bail!("Chromium exited before printing its DevTools address; its stderr:\n{seen}");
        }
        if let Some(at) = line.find("ws://") {
            let url = line[at..].trim().to_owned();
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                    sink.clear();
                }
            });
            return Ok(url);
        }
        seen.push_str(&line);
    }
}

/// `document.querySelector(selector) !== null`, as a JS expression.
pub fn exists(selector: &str) -> String {
    format!("document.querySelector({selector:?}) !== null")
}

/// Clicks the element matching `selector`, failing if there is none.
pub async fn click(browser: &mut Browser, selector: &str) {
    let found = browser
        .evaluate(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return false; \
             e.click(); return true; }})()"
        ))
        .await
        .unwrap();
    assert_eq!(found, json!(true), "nothing matches {selector}");
}

/// The text of the element matching `selector` (empty if there is none).
pub async fn text(browser: &mut Browser, selector: &str) -> String {
    let value = browser
        .evaluate(&format!(
            "document.querySelector({selector:?})?.textContent ?? null"
        ))
        .await
        .unwrap();
    value.as_str().unwrap_or_default().to_owned()
}

/// Where a browser test keeps a screenshot: `target/test-artifacts/<name>`.
pub fn artifact(name: &str) -> PathBuf {
    crate::plugins::target_dir()
        .join("test-artifacts")
        .join(name)
}
