//! The live dashboard: one HTML page, five scripts (the panels in `app.js`,
//! the flow tree in `flows.js`, the task browser and the views' addresses
//! in `tasks.js`, one task in `detail.js`, the throughput chart and the
//! plugin cost panel in `costs.js`, split to keep each file readable), one
//! stylesheet. The views have addresses in the URL fragment
//! (`#/queues/<queue>/<state>`, `#/tasks/<id>`), which never reach the
//! server, so `/` serves them all.
//!
//! The assets are compiled into the binary with `include_str!`, so a host
//! needs no files besides itself and the page works offline (no CDN). The
//! script only talks to the JSON API of the same server; the strict
//! Content-Security-Policy below lets the page load nothing else, which also
//! means an injected `<script>` in, say, a plugin's error text could not run
//! even if the page rendered it as HTML (it does not: it uses textContent).

use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const FLOWS_JS: &str = include_str!("assets/flows.js");
const TASKS_JS: &str = include_str!("assets/tasks.js");
const DETAIL_JS: &str = include_str!("assets/detail.js");
const COSTS_JS: &str = include_str!("assets/costs.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Same-origin everything, no inline script or style, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The assets change with the binary; revalidate rather than pin a stale script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /`: the dashboard page.
pub async fn index() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

/// `GET /assets/app.js`.
pub async fn script() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

/// `GET /assets/flows.js`.
pub async fn flows_script() -> Response {
    asset(FLOWS_JS, "text/javascript; charset=utf-8")
}

/// `GET /assets/tasks.js`.
pub async fn tasks_script() -> Response {
    asset(TASKS_JS, "text/javascript; charset=utf-8")
}

/// `GET /assets/detail.js`.
pub async fn detail_script() -> Response {
    asset(DETAIL_JS, "text/javascript; charset=utf-8")
}

/// `GET /assets/costs.js`.
pub async fn costs_script() -> Response {
    asset(COSTS_JS, "text/javascript; charset=utf-8")
}

/// `GET /assets/app.css`.
pub async fn stylesheet() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_references_only_embedded_assets() {
        assert!(INDEX_HTML.contains("/assets/app.js"));
        assert!(INDEX_HTML.contains("/assets/app.css"));
        assert!(INDEX_HTML.contains("/assets/flows.js"));
        assert!(INDEX_HTML.contains("/assets/tasks.js"));
        assert!(INDEX_HTML.contains("/assets/detail.js"));
        assert!(INDEX_HTML.contains("/assets/costs.js"));
        for text in [
            INDEX_HTML, APP_JS, FLOWS_JS, TASKS_JS, DETAIL_JS, COSTS_JS, APP_CSS,
        ] {
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "no CDN"
            );
        }
        // No inline script: the CSP would block it.
        assert!(!INDEX_HTML.contains("<script>"));
        for script in [APP_JS, FLOWS_JS, TASKS_JS, DETAIL_JS, COSTS_JS] {
            assert!(
                !script.contains("innerHTML") && !script.contains("insertAdjacentHTML"),
                "render untrusted text with textContent"
            );
        }
    }
}
