//! A loopback HTTP server on a thread of its own, for the demo's mail API
//! and image server.
//!
//! Each runs on its own current-thread tokio runtime rather than the
//! caller's, so the same server serves `wasmq dev --demo` (inside a
//! multi-threaded runtime) and the synchronous runtime tests (outside any
//! runtime) alike. Dropping the handle stops it: the runtime is dropped
//! with its connections, so stopping never waits on a client.

use axum::Router;
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// A running server; it stops when dropped.
#[derive(Debug)]
pub struct LoopbackServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl LoopbackServer {
    /// Serves `router` on a free port of 127.0.0.1, on a thread named `name`.
    pub fn start(name: &str, router: Router) -> std::io::Result<LoopbackServer> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    // Either the server fails or the handle is dropped; then
                    // the runtime goes, and its open connections with it.
                    tokio::select! {
                        _ = axum::serve(listener, router) => {}
                        _ = stopped => {}
                    }
                });
            })?;
        Ok(LoopbackServer {
            addr,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:<port>`: the origin to grant.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
