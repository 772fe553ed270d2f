//! A real HTTP/1.1 server on 127.0.0.1, for the outbound-HTTP tests: one
//! thread, one connection at a time, `Connection: close`. Its routes make
//! the behaviours a plugin's requests must be bounded against:
//!
//! | route | answer |
//! |---|---|
//! | `/hello` | `200 hello` |
//! | `/echo` | `200` with the request body |
//! | `/big?n=N` | `200`, `N` bytes of `x`, chunked (no `Content-Length`) |
//! | `/slow?ms=N` | waits `N` ms before answering `200 late` |
//! | `/drip?ms=N` | sends its head, then one byte every `N` ms, forever |
//! | anything else | `404` |
//!
//! Every request line and its headers are recorded, so a test can check
//! what reached the server (and what must not have).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A running server; it stops serving when dropped (its thread ends at the
/// next connection attempt or with the process).
pub struct HttpServer {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    /// Starts the server on a free port of 127.0.0.1.
    pub fn start() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test HTTP server");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                // One thread per connection, so a slow route does not hold
                // up the others.
                thread::spawn(move || {
                    let _ = serve(stream, &log);
                });
            }
        });
        HttpServer { port, seen }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far: its request line and headers, one string each.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 request from `stream` (waiting at most `wait` for
/// each read): its request line and headers as sent, and its body.
pub fn read_request(stream: &TcpStream, wait: Duration) -> std::io::Result<(String, Vec<u8>)> {
    stream.set_read_timeout(Some(wait))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok((head, body))
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let (head, body) = read_request(&stream, Duration::from_secs(30))?;
    seen.lock().unwrap().push(head.clone());
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let number = |key: &str| -> u64 {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut out = stream;
    match path {
        "/hello" => reply(&mut out, 200, b"hello"),
        "/echo" => reply(&mut out, 200, &body),
        "/slow" => {
            thread::sleep(Duration::from_millis(number("ms")));
            reply(&mut out, 200, b"late")
        }
        "/big" => {
            out.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            )?;
            let mut left = number("n") as usize;
            let chunk = vec![b'x'; 16 << 10];
            while left > 0 {
                let n = left.min(chunk.len());
                write!(out, "{n:x}\r\n")?;
                out.write_all(&chunk[..n])?;
                out.write_all(b"\r\n")?;
                left -= n;
            }
            out.write_all(b"0\r\n\r\n")
        }
        "/drip" => {
            out.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            )?;
            loop {
                thread::sleep(Duration::from_millis(number("ms").max(1)));
                out.write_all(b"1\r\nx\r\n")?;
                out.flush()?;
            }
        }
        _ => reply(&mut out, 404, b"not found"),
    }
}

fn reply(out: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    out.write_all(body)?;
    out.flush()
}
