//! `wasmq hosts`: the hosts that are alive right now.
//!
//! "Alive" means "sent a heartbeat recently": each host refreshes a key with
//! an expiry, so a crashed host drops out of this list by itself within a few
//! heartbeats. There is no registration to clean up.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;

use super::Common;
use super::exit::within;
use super::table::{Table, emit, list_or_dash, print_json, relative, short_duration};
use crate::broker::HostInfo;

/// Arguments of `wasmq hosts`.
#[derive(Debug, Args)]
pub struct HostsArgs {
    #[command(flatten)]
    pub common: Common,
}

/// Runs `wasmq hosts`.
pub async fn run(args: HostsArgs) -> anyhow::Result<()> {
    let client = args.common.connect().await?;
    let mut hosts = within("list the live hosts", client.hosts()).await?;
    hosts.sort_by(|a, b| (&a.hostname, a.pid).cmp(&(&b.hostname, b.pid)));
    if args.common.json {
        return print_json(&hosts);
    }
    emit(render(&hosts, SystemTime::now()))
}

fn render(hosts: &[HostInfo], now: SystemTime) -> String {
    if hosts.is_empty() {
        return "no live hosts: start one with `wasmq run --plugins DIR`\n".to_owned();
    }
    let mut table = Table::new([
        "id",
        "hostname",
        "pid",
        "version",
        "uptime",
        "in-flight",
        "processed",
        "last seen",
        "plugins",
    ]);
    for host in hosts {
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        let uptime = now
            .duration_since(at(host.started_at_ms))
            .unwrap_or_default();
        table.row([
            host.host_id.clone(),
            host.hostname.clone(),
            host.pid.to_string(),
            host.version.clone(),
            short_duration(uptime),
            host.in_flight.to_string(),
            host.processed.to_string(),
            relative(at(host.last_seen_ms), now),
            list_or_dash(&host.plugins),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_row_per_host() {
        let now = UNIX_EPOCH + Duration::from_secs(100_000);
        let host = HostInfo {
            host_id: "h1".into(),
            hostname: "box".into(),
            pid: 42,
            version: "0.1.0".into(),
            started_at_ms: 100_000_000 - 3_700_000,
            plugins: vec!["echo@1a2b".into(), "noop@3c4d".into()],
            in_flight: 2,
            processed: 17,
            last_seen_ms: 100_000_000 - 2_000,
        };
        let text = render(&[host], now);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for expected in ["h1", "box", "42", "1h 1m", "2s ago", "echo@1a2b, noop@3c4d"] {
            assert!(lines[1].contains(expected), "{expected} missing in {text}");
        }
        assert!(render(&[], now).contains("no live hosts"));
    }
}
