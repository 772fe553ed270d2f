//! `wasmq keys rotate`: re-encrypts stored task bodies, errors and results
//! with the first key of the ring, so an older key can then be dropped.
//!
//! It walks every queue (or those given) a page at a time, through
//! [`crate::Client::rekey_page`], whose compare-and-set write never
//! clobbers a task settled meanwhile. After each page it prints a resume
//! token on stderr (`<queue>/<hash>/<cursor>`); `--resume TOKEN` starts
//! there after an interruption. A pass is idempotent: values already under
//! the first key are skipped, so starting over is always safe too. Run it
//! with the new ring (new key first, old keys after) once every host and
//! producer has the new ring; drop the old key once a pass reports nothing
//! unreadable.

use super::Common;
use super::exit::{BadInput, within_for};
use super::table::print_json;
use clap::{Args, Subcommand};
use serde::Serialize;
use std::time::Duration;

/// How long one page may take before the command gives up.
const PAGE_DEADLINE: Duration = Duration::from_secs(60);

/// Largest `--batch`: a page is re-sealed in one script call, kept as short
/// as a lease call by the same bound.
const MAX_PAGE: u64 = crate::broker::MAX_BATCH as u64;

/// Arguments of `wasmq keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: KeysAction,
}

/// What `wasmq keys` does.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Re-encrypt stored payloads, errors and outputs with the first key.
    Rotate(RotateArgs),
}

/// Arguments of `wasmq keys rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Only these queues (repeatable; default: every queue).
    #[arg(long, value_name = "QUEUE")]
    pub queue: Vec<String>,
    /// Fields per page (HSCAN COUNT).
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=MAX_PAGE))]
    pub batch: u64,
    /// Continue from a token an interrupted run printed.
    #[arg(long, value_name = "TOKEN")]
    pub resume: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

/// What a rotation did, summed over every page.
#[derive(Debug, Default, Serialize)]
struct Summary {
    queues: u64,
    scanned: u64,
    rewritten: u64,
    changed: u64,
    unreadable: u64,
}

/// Runs `wasmq keys`.
pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    match args.action {
        KeysAction::Rotate(args) => rotate(args).await,
    }
}

async fn rotate(args: RotateArgs) -> anyhow::Result<()> {
    let client = args.common.connect().await?;
    let Some(ring) = client.key_ring() else {
        return Err(BadInput(
            "no key ring: give the new ring (new key first) with --keys-file or WASMQ_KEYS".into(),
        )
        .into());
    };
    let primary = ring.primary_id().to_owned();
    let resume = args.resume.as_deref().map(parse_token).transpose()?;
    let mut queues = match args.queue.is_empty() {
        true => within("list the queues", client.queues()).await?,
        false => args.queue.clone(),
    };
    queues.sort();
    let mut sum = Summary::default();
    for queue in &queues {
        if let Some((q, _, _)) = &resume
            && queue < q
        {
            continue;
        }
        sum.queues += 1;
        let hashes = within("list the hashes of a queue", client.rekey_hashes(queue)).await?;
        let start = match &resume {
            Some((q, hash, cursor)) if q == queue => hashes
                .iter()
                .position(|h| h == hash)
                .map_or((0, 0), |i| (i, *cursor)),
            _ => (0, 0),
        };
        for (i, hash) in hashes.iter().enumerate().skip(start.0) {
            let mut cursor = if i == start.0 { start.1 } else { 0 };
            loop {
                let page = within_for(
                    "re-encrypt a page",
                    PAGE_DEADLINE,
                    client.rekey_page(queue, hash, cursor, args.batch as usize),
                )
                .await?;
                sum.scanned += page.scanned;
                sum.rewritten += page.rewritten;
                sum.changed += page.changed;
                sum.unreadable += page.unreadable;
                cursor = page.cursor;
                if cursor == 0 {
                    break;
                }
                eprintln!("resume token: {queue}/{hash}/{cursor}");
            }
        }
    }
    if args.common.json {
        return print_json(&sum);
    }
    println!(
        "re-encrypted {} of {} values in {} queues with key `{primary}`; {} changed meanwhile \
         (their new value is sealed already), {} no key of the ring opens",
        sum.rewritten, sum.scanned, sum.queues, sum.changed, sum.unreadable
    );
    Ok(())
}

async fn within<T, E>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    within_for(what, PAGE_DEADLINE, call).await
}

/// Splits `<queue>/<hash>/<cursor>`.
fn parse_token(token: &str) -> Result<(String, String, u64), BadInput> {
    let bad = || {
        BadInput(format!(
            "--resume {token:?} is not a token `wasmq keys rotate` printed"
        ))
    };
    let mut parts = token.splitn(3, '/');
    let (Some(queue), Some(hash), Some(cursor)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let cursor = cursor.parse().map_err(|_| bad())?;
    Ok((queue.to_owned(), hash.to_owned(), cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        assert_eq!(
            parse_token("email/wasmq:{email}:t/17").unwrap(),
            ("email".into(), "wasmq:{email}:t".into(), 17)
        );
        assert!(parse_token("email/t").is_err());
        assert!(parse_token("email/t/x").is_err());
    }
}
