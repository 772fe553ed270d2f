//! The HTTP API end to end: a real `redis-server`, the real server on
//! 127.0.0.1:0, and a real HTTP client. Tasks are moved through their states
//! with the broker's own consumer API (lease, ack, dead), the same calls a
//! host makes, so no worker is needed. Requests that change something send
//! JSON (or `X-Wasmq-Request: 1`), as the server requires.

mod admin;
mod flows;
mod guard;
mod limits;
mod live;
mod observe;
mod tasks;
