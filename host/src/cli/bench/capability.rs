//! The bench's capability variants, which measure what a task that reaches
//! out costs, end to end through a host:
//!
//! - `--plugin fetch`: one HTTP GET per task to a loopback server the bench
//!   starts (a 64-byte answer), through the host's grant check, guarded
//!   sender and per-run caps;
//! - `--plugin tally`: a KV set and a get of the same key per task, in the
//!   host's Redis (the value padded to `--payload-bytes`).
//!
//! Each writes the grant its plugin needs as `<plugin>.toml` in the bench's
//! own plugins directory, as an operator would: default-deny holds in the
//! bench too. Every other plugin gets the plain padded payload.

use super::BenchPlugin;
use super::phases;
use crate::cli::demo::server::LoopbackServer;
use anyhow::{Context, Result};
use std::path::Path;

/// The bucket `tally` uses in the bench.
const BUCKET: &str = "bench";
/// The body the bench's HTTP server answers.
const BODY: &[u8; 64] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// What a variant needs while it runs: the payload of every task, and the
/// server it reaches (stopped when dropped).
#[derive(Debug)]
pub struct Setup {
    /// Every task's payload.
    pub payload: Vec<u8>,
    _server: Option<LoopbackServer>,
}

/// Prepares `plugin`'s payload, and for a capability variant its server
/// and its grant in `plugins_dir`.
pub fn prepare(plugin: BenchPlugin, plugins_dir: &Path, payload_bytes: usize) -> Result<Setup> {
    let (payload, manifest, server) = match plugin {
        BenchPlugin::Fetch => {
            let router =
                axum::Router::new().route("/hello", axum::routing::get(|| async { &BODY[..] }));
            let server = LoopbackServer::start("bench-http", router)
                .context("starting the bench's HTTP server")?;
            let payload = serde_json::json!({ "url": format!("{}/hello", server.origin()) });
            let manifest = format!("[capabilities]\nhttp = [\"{}\"]\n", server.origin());
            (
                payload.to_string().into_bytes(),
                Some(manifest),
                Some(server),
            )
        }
        BenchPlugin::Tally => {
            let fixed =
                serde_json::json!({ "bucket": BUCKET, "set": "k", "value": "", "get": "k" });
            let pad = payload_bytes.saturating_sub(fixed.to_string().len());
            let payload = serde_json::json!({ "bucket": BUCKET, "set": "k", "value": "x".repeat(pad), "get": "k" });
            let manifest = format!("[capabilities]\nkv = [\"{BUCKET}\"]\n");
            (payload.to_string().into_bytes(), Some(manifest), None)
        }
        BenchPlugin::Noop | BenchPlugin::Cpu50 | BenchPlugin::Sleep200 => {
            (phases::payload(payload_bytes), None, None)
        }
    };
    if let Some(manifest) = manifest {
        let path = plugins_dir.join(format!("{}.toml", plugin.task_type()));
        std::fs::write(&path, manifest).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(Setup {
        payload,
        _server: server,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_payloads_are_padded_to_the_size_asked() {
        let dir = tempfile::tempdir().unwrap();
        let setup = prepare(BenchPlugin::Tally, dir.path(), 200).unwrap();
        assert_eq!(setup.payload.len(), 200);
        let manifest = std::fs::read_to_string(dir.path().join("tally.toml")).unwrap();
        assert!(manifest.contains("kv = [\"bench\"]"), "{manifest}");
    }

    #[test]
    fn fetch_is_granted_exactly_its_server() {
        let dir = tempfile::tempdir().unwrap();
        let setup = prepare(BenchPlugin::Fetch, dir.path(), 100).unwrap();
        let payload: serde_json::Value = serde_json::from_slice(&setup.payload).unwrap();
        let url = payload["url"].as_str().unwrap();
        let manifest = std::fs::read_to_string(dir.path().join("fetch.toml")).unwrap();
        let origin = url.trim_end_matches("/hello");
        assert!(manifest.contains(origin), "{manifest}");
    }
}
