//! The phases that run while the hosts are up: wait for them, drain the
//! backlog, read the records, the live phase and, with `--rate`, the cost of
//! a rate-limited lease. Each phase shows a progress bar on a terminal.

use super::launch::HostUnderTest;
use super::target::Target;
use super::{BenchArgs, limited, live, phases};
use crate::Client;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What every phase run under the host needs.
pub struct Phase<'a> {
    pub client: &'a Client,
    pub task_type: &'static str,
    /// The queues of the backlog (the first is `task_type`, the live phase's).
    pub queues: &'a [String],
    pub payload: &'a [u8],
    pub show: bool,
}

/// What the phases run under the host measured.
pub struct Measured {
    pub host_start: std::time::Duration,
    pub drained: phases::Drained,
    pub records: phases::Records,
    pub live: live::LiveResult,
    pub limit_cost: Option<limited::LimitCost>,
}

/// Waits for the host, drains the backlog, reads the records and runs the
/// live phase.
pub async fn with_host(
    args: &BenchArgs,
    ctx: &Phase<'_>,
    target: &mut Target,
    host: &mut HostUnderTest,
    enqueued: &phases::Enqueued,
) -> Result<Measured> {
    let host_start = host.wait_ready(ctx.client, ctx.queues).await?;

    let bar = progress(ctx.show, args.n, "drain");
    let drained = phases::drain(ctx.client, target, host, ctx.queues, args.n, &bar).await?;
    bar.finish_and_clear();

    let bar = progress(ctx.show, args.n, "read results");
    let records = phases::read_records(ctx.client, &enqueued.ids, &bar).await?;
    bar.finish_and_clear();

    let bar = progress(ctx.show, u64::from(args.live_n), "live");
    let live = live::run(
        ctx.client,
        ctx.task_type,
        ctx.payload,
        args.live_rate,
        args.live_n as usize,
        &bar,
    )
    .await?;
    bar.finish_and_clear();
    let limit_cost = match args.rate {
        Some(rate) => Some(
            limited::measure(
                ctx.client,
                target,
                host,
                ctx.task_type,
                ctx.payload,
                args.n,
                rate,
            )
            .await?,
        ),
        None => None,
    };
    Ok(Measured {
        host_start,
        drained,
        records,
        live,
        limit_cost,
    })
}

/// A progress bar on stderr, or a hidden one.
pub fn progress(show: bool, len: u64, phase: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(phase);
    bar
}
