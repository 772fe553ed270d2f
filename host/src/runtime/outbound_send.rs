//! Sending one granted request: resolve, filter, connect, TLS, HTTP/1.1,
//! and a response body bounded in size and in time between bytes.
//!
//! wasmtime-wasi-http's own sender resolves and connects in one step, so it
//! cannot refuse an address after resolution. An allow-listed public name
//! that resolves to 127.0.0.1 or 169.254.169.254 (DNS rebinding, or a
//! mistaken record) would reach an internal service. Here the name is
//! resolved once, every non-public address is dropped unless the grant names
//! that address literally, and the connection goes to the addresses left,
//! never to a second resolution. TLS still verifies the certificate against
//! the name.

use super::outbound::describe;
use crate::config::outbound::{AllowList, is_non_public};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Sleep, timeout};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

/// Sends `request` with `options` (already clamped to the deadline), to an
/// address `allow` permits after resolution.
pub(crate) async fn guarded_send(
    request: http::Request<WasiBody>,
    options: RequestOptions,
    allow: &AllowList,
) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
    let uri = request.uri();
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let host = uri
        .host()
        .ok_or(HttpError::HttpRequestUriInvalid)?
        .trim_matches(['[', ']'])
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let connect = options.connect_timeout.unwrap_or(Duration::ZERO);
    let resolved: Vec<SocketAddr> =
        timeout(connect, tokio::net::lookup_host((host.as_str(), port)))
            .await
            .map_err(|_| HttpError::DnsTimeout)?
            .map_err(|e| HttpError::DnsError {
                rcode: Some(e.to_string()),
                info_code: None,
            })?
            .collect();
    // Only public addresses, or private ones the grant names literally.
    let usable: Vec<SocketAddr> = resolved
        .iter()
        .copied()
        .filter(|a| !is_non_public(a.ip()) || allow.grants_ip_literally(a.ip(), port))
        .collect();
    if usable.is_empty() {
        return Err(if resolved.is_empty() {
            HttpError::DestinationNotFound
        } else {
            HttpError::DestinationIpProhibited
        });
    }
    let tcp = timeout(connect, TcpStream::connect(&usable[..]))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(HttpError::Connect)?;
    let _ = tcp.set_nodelay(true);
    if !https {
        return exchange(tcp, request, options).await;
    }
    let name = rustls::pki_types::ServerName::try_from(host)
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let tls = timeout(connect, tls_connector().connect(name, tcp))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(HttpError::Tls)?;
    exchange(tls, request, options).await
}

/// One TLS client configuration per process: the web PKI roots, ring.
fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .expect("ring supports the default TLS versions");
        Arc::new(config)
    });
    tokio_rustls::TlsConnector::from(config.clone())
}

/// HTTP/1.1 over `stream`: handshake, send, wait for the head.
async fn exchange<S>(
    stream: S,
    mut request: http::Request<WasiBody>,
    options: RequestOptions,
) -> Result<(http::Response<WasiBody>, IoFuture), HttpError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let connect = options.connect_timeout.unwrap_or(Duration::ZERO);
    let (mut sender, connection) = timeout(
        connect,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)??;
    // The connection is driven beside the request until the body is done.
    let driver = tokio::spawn(connection);
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = path.parse().map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let first_byte = options.first_byte_timeout.unwrap_or(Duration::ZERO);
    let response = timeout(first_byte, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)??;
    let response = response.map(|body| body.map_err(HttpError::from).boxed_unsync());
    let io = async move {
        match driver.await {
            Ok(result) => result.map_err(HttpError::from),
            Err(_) => Ok(()),
        }
    };
    Ok((response, Box::new(io) as IoFuture))
}

/// Called once when a response body ends: its byte count and the error
/// that ended it early, if any.
pub(crate) type OnEnd = Box<dyn FnOnce(u64, Option<&HttpError>) + Send>;

/// A response body cut at `max` bytes, failing when no byte arrives for
/// `between` (the between-bytes timeout), and reporting its end once.
pub(crate) struct CappedBody {
    inner: WasiBody,
    seen: u64,
    max: u64,
    between: Option<Duration>,
    idle: Option<Pin<Box<Sleep>>>,
    on_end: Option<OnEnd>,
}

impl CappedBody {
    pub fn new(inner: WasiBody, max: u64, between: Option<Duration>, on_end: OnEnd) -> Self {
        CappedBody {
            inner,
            seen: 0,
            max,
            between,
            idle: None,
            on_end: Some(on_end),
        }
    }

    fn end(&mut self, error: Option<&HttpError>) {
        if let Some(on_end) = self.on_end.take() {
            on_end(self.seen, error);
        }
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                // Waiting for bytes: bounded by the between-bytes timeout.
                if let Some(between) = this.between {
                    let idle = this
                        .idle
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(between)));
                    if idle.as_mut().poll(cx).is_ready() {
                        let error = HttpError::ConnectionReadTimeout;
                        this.end(Some(&error));
                        return Poll::Ready(Some(Err(error)));
                    }
                }
                return Poll::Pending;
            }
        };
        this.idle = None;
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.max {
                        let error = HttpError::HttpResponseBodySize(Some(this.max));
                        this.end(Some(&error));
                        return Poll::Ready(Some(Err(error)));
                    }
                }
            }
            Some(Err(error)) => {
                tracing::debug!(error = %describe(error), "response body failed");
                let copy = HttpError::ConnectionTerminated;
                this.end(Some(&copy));
            }
            None => this.end(None),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for CappedBody {
    fn drop(&mut self) {
        // A body the guest never read to its end still gets its log line.
        self.end(None);
    }
}
