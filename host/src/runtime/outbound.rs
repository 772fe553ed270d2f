//! Outbound HTTP for plugins (`wasi:http/outgoing-handler`), granted per
//! plugin by its manifest's `[capabilities] http` allow-list.
//!
//! wasmtime-wasi-http turns the guest's request into an `http::Request` and
//! hands it to [`WasiHttpHooks::send_request`]; this module is that hook.
//! Every request is checked here, before any DNS lookup or connection:
//!
//! * the URL must match the allow-list (scheme, host, port), else the guest
//!   gets `HttpRequestDenied` and the task log a `denied` line;
//! * a run may send at most `http_max_requests` requests;
//! * the connect, first-byte and between-bytes timeouts are clamped to what
//!   is left of the task's deadline, so no request outlives its run;
//!
//! and then [`super::outbound_send`] resolves, filters and connects: a name
//! that resolves into a private range is refused unless the grant names that
//! address literally, and a response body is cut at `http_max_response`.
//!
//! Each request ends as one task-log line (method, host, status, bytes, ms:
//! never the path or query, which may carry tokens) and one count of
//! `wasmq_plugin_http_requests_total{task_type,host,status}`.

use super::outbound_send::{CappedBody, guarded_send};
use super::sandbox::SharedLog;
use crate::config::outbound::AllowList;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// A boxed future of the kind the hook hands back to wasmtime-wasi-http.
type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
/// What `send_request` returns.
/// How much of a denied request's body is read before the denial is
/// answered (see [`OutboundHooks::deny`]).
const DENIED_BODY_DRAIN: usize = 1 << 20;

type Sent =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// What a plugin's manifest grants of outbound HTTP, fixed at load.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpGrant {
    /// Where requests may go; empty denies everything.
    pub allow: AllowList,
    /// Most requests per run.
    pub max_requests: u32,
    /// Most bytes of one response body.
    pub max_response: u64,
}

/// The hook of one run: the plugin's grant, the run's deadline and its
/// request count, and the task log the requests are written to.
pub(crate) struct OutboundHooks {
    grant: Arc<HttpGrant>,
    task_type: Arc<str>,
    deadline: Instant,
    sent: u32,
    log: SharedLog,
}

impl OutboundHooks {
    /// The hooks of a run of a `task_type` task that must end by `deadline`.
    pub fn new(
        grant: Arc<HttpGrant>,
        task_type: Arc<str>,
        deadline: Instant,
        log: SharedLog,
    ) -> Self {
        OutboundHooks {
            grant,
            task_type,
            deadline,
            sent: 0,
            log,
        }
    }

    /// Refuses a request: a `denied` task-log line and metric, and the
    /// guest's `HttpRequestDenied`, as the answer to the request.
    ///
    /// The body the guest writes is read and thrown away first (up to
    /// [`DENIED_BODY_DRAIN`]): dropped at once, the guest's writes to it
    /// fail with "closed" before it ever sees the denial, and some guests
    /// (componentize-js's `fetch`) trap on that instead of reporting it.
    fn deny(&self, method: &http::Method, host: &str, why: &str, body: WasiBody) -> Sent {
        self.log
            .push("WARN", &format!("http {method} {host} denied: {why}"));
        count(&self.task_type, host, "denied");
        Box::new(async move {
            let mut body = body;
            let mut read = 0usize;
            while read <= DENIED_BODY_DRAIN {
                match http_body_util::BodyExt::frame(&mut body).await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                    Some(Err(_)) | None => break,
                }
            }
            Err(HttpError::HttpRequestDenied)
        })
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Sent {
        let method = request.method().clone();
        let uri = request.uri().clone();
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let Some(host) = uri.host().map(str::to_ascii_lowercase) else {
            return Box::new(async { Err(HttpError::HttpRequestUriInvalid) });
        };
        if !self.grant.allow.allows(&scheme, &host, uri.port_u16()) {
            let why = format!(
                "{scheme}://{host}{} is not in the plugin's [capabilities] http grant",
                uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default()
            );
            return self.deny(&method, &host, &why, request.into_body());
        }
        self.sent += 1;
        if self.sent > self.grant.max_requests {
            let why = format!(
                "more than {} requests in one run ([capabilities] http_max_requests)",
                self.grant.max_requests
            );
            return self.deny(&method, &host, &why, request.into_body());
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        let options = clamp(options, left);
        let (grant, task_type, log) =
            (self.grant.clone(), self.task_type.clone(), self.log.clone());
        Box::new(async move {
            let started = Instant::now();
            match guarded_send(request, options, &grant.allow).await {
                Ok((response, io)) => {
                    let status = response.status();
                    let end = RequestEnd {
                        line: format!("http {method} {host} {}", status.as_u16()),
                        started,
                        log,
                    };
                    count(&task_type, &host, status.as_str());
                    // Only the body is wrapped: status and headers pass as sent.
                    let response = response.map(|body| {
                        let body = CappedBody::new(
                            body,
                            grant.max_response,
                            options.between_bytes_timeout,
                            Box::new(move |bytes, error| end.finish(bytes, error)),
                        );
                        http_body_util::BodyExt::boxed_unsync(body)
                    });
                    Ok((response, io))
                }
                Err(error) => {
                    log.push(
                        "WARN",
                        &format!(
                            "http {method} {host} failed after {} ms: {}",
                            started.elapsed().as_millis(),
                            describe(&error)
                        ),
                    );
                    count(&task_type, &host, "error");
                    Err(error)
                }
            }
        })
    }
}

/// Writes a request's log line once its body has ended (or was dropped).
struct RequestEnd {
    line: String,
    started: Instant,
    log: SharedLog,
}

impl RequestEnd {
    fn finish(self, bytes: u64, error: Option<&HttpError>) {
        let ms = self.started.elapsed().as_millis();
        let line = match error {
            None => format!("{}, {bytes} bytes, {ms} ms", self.line),
            Some(e) => format!(
                "{}, {bytes} bytes, {ms} ms; body: {}",
                self.line,
                describe(e)
            ),
        };
        self.log.push("INFO", &line);
    }
}

/// The request's timeouts, each at most `left` (the time to the deadline).
fn clamp(options: Option<RequestOptions>, left: Duration) -> RequestOptions {
    let options = options.unwrap_or_default();
    let bound = |t: Option<Duration>| Some(t.map_or(left, |t| t.min(left)));
    RequestOptions {
        connect_timeout: bound(options.connect_timeout),
        first_byte_timeout: bound(options.first_byte_timeout),
        between_bytes_timeout: bound(options.between_bytes_timeout),
    }
}

/// One word or phrase for an HTTP error, for the task log.
pub(crate) fn describe(error: &HttpError) -> String {
    match error {
        HttpError::HttpResponseBodySize(Some(n)) => {
            format!("the response body is over the {n}-byte cap ([capabilities] http_max_response)")
        }
        HttpError::DestinationIpProhibited => {
            "the name resolves to a private address that the grant does not name literally".into()
        }
        HttpError::ConnectionTimeout => "connect timed out (clamped to the task's deadline)".into(),
        HttpError::ConnectionReadTimeout => {
            "read timed out (clamped to the task's deadline)".into()
        }
        other => format!("{other:?}"),
    }
}

fn count(task_type: &str, host: &str, status: &str) {
    metrics::counter!("wasmq_plugin_http_requests_total",
        "task_type" => task_type.to_owned(), "host" => host.to_owned(), "status" => status.to_owned())
    .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_clamped_to_the_deadline() {
        let left = Duration::from_millis(300);
        let asked = RequestOptions {
            connect_timeout: Some(Duration::from_millis(100)),
            first_byte_timeout: Some(Duration::from_secs(60)),
            between_bytes_timeout: None,
        };
        let clamped = clamp(Some(asked), left);
        assert_eq!(clamped.connect_timeout, Some(Duration::from_millis(100)));
        assert_eq!(clamped.first_byte_timeout, Some(left));
        assert_eq!(clamped.between_bytes_timeout, Some(left));
        assert_eq!(clamp(None, left).connect_timeout, Some(left));
    }
}
