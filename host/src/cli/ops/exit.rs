//! Exit codes of the operator commands, and the one-line error report.
//!
//! Commands fail with an [`anyhow::Error`] carrying context; the exit code is
//! derived from what is *in* the error chain rather than from where it was
//! raised: a [`BadInput`], a [`ValidationError`] or a bad Redis URL anywhere
//! in the chain is a usage error (2), a Redis connection failure (see
//! [`BrokerError::is_connection`]) is "unreachable" (3), and
//! anything else, including [`Refused`], is 1. Classifying the chain means a
//! new failure path cannot forget to pick a code.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::Client;
use crate::broker::{BrokerError, BrokerOptions, mask_password};
use crate::error::ValidationError;

/// Exit code: not found, or the operation was refused.
pub const FAILURE: u8 = 1;
/// Exit code: usage error or bad input.
pub const BAD_INPUT: u8 = 2;
/// Exit code: Redis is unreachable.
pub const UNREACHABLE: u8 = 3;

/// The exit codes, as shown at the end of every command's `--help`.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 ok, 1 not found or refused, \
                                   2 usage error or bad input, 3 Redis unreachable";

/// Input the operator got wrong (exit code 2). The message says which flag
/// or argument, what was wrong, and what to write instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Something that does not exist, or an operation that cannot be done in the
/// current state (exit code 1). The message says what and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Redis did not answer in time (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("Redis did not answer within {}s", after.as_secs())]
pub struct Unreachable {
    /// How long we waited.
    pub after: Duration,
}

/// Connects to Redis within `deadline`, which also bounds each command the
/// client sends later.
pub async fn connect(
    url: &str,
    options: BrokerOptions,
    deadline: Duration,
) -> anyhow::Result<Client> {
    let shown = mask_password(url);
    let connecting = Client::connect(url, options);
    let client = tokio::time::timeout(deadline, connecting)
        .await
        .map_err(|_| Unreachable { after: deadline })
        .with_context(|| format!("cannot reach Redis at {shown}"))?
        .with_context(|| format!("cannot connect to Redis at {shown}"))?;
    Ok(client)
}

/// Runs one client call, giving up after [`super::REDIS_DEADLINE`] so a
/// Redis that goes away mid-command is reported instead of hanging. `what`
/// completes "cannot ..." in the error message.
pub async fn within<T, E>(what: &str, call: impl Future<Output = Result<T, E>>) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    within_for(what, super::REDIS_DEADLINE, call).await
}

/// [`within`] with a longer deadline, for calls that loop over many script
/// calls (re-driving or purging a whole dead-letter set).
pub async fn within_for<T, E>(
    what: &str,
    deadline: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(deadline, call).await {
        Ok(result) => result.with_context(|| format!("cannot {what}")),
        Err(_) => Err(anyhow::Error::new(Unreachable { after: deadline }))
            .with_context(|| format!("cannot {what}")),
    }
}

/// Prints `error` as one line on stderr and returns its exit code.
pub fn report(error: &anyhow::Error) -> ExitCode {
    let code = classify(error);
    let mut line = format!("error: {}", one_line(error));
    if code == UNREACHABLE && !line.contains("--redis") {
        line.push_str("; check --redis (or WASMQ_REDIS) and that redis-server is running");
    }
    eprintln!("{line}");
    ExitCode::from(code)
}

/// The error chain joined with `: `, leaving out causes whose text an outer
/// message already includes (the broker and the Redis client both repeat
/// their source in their own message).
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

/// The exit code for an error, from the causes in its chain.
pub fn classify(error: &anyhow::Error) -> u8 {
    let mut code = FAILURE;
    for cause in error.chain() {
        if cause.is::<BadInput>() || cause.is::<ValidationError>() {
            return BAD_INPUT;
        }
        match cause.downcast_ref::<BrokerError>() {
            Some(BrokerError::Invalid(_) | BrokerError::Url { .. }) => return BAD_INPUT,
            Some(broker) if broker.is_connection() => code = UNREACHABLE,
            _ => {}
        }
        if cause.is::<Unreachable>() {
            code = UNREACHABLE;
        }
        if let Some(redis) = cause.downcast_ref::<redis::RedisError>()
            && is_connection_failure(redis)
        {
            code = UNREACHABLE;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && is_connection_io(io.kind())
        {
            code = UNREACHABLE;
        }
    }
    code
}

fn is_connection_failure(error: &redis::RedisError) -> bool {
    error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_io_error()
        || error.is_timeout()
}

fn is_connection_io(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        kind,
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | NotConnected
            | BrokenPipe
            | TimedOut
            | HostUnreachable
            | NetworkUnreachable
            | AddrNotAvailable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_the_chain() {
        let bad = anyhow::Error::new(BadInput("x".into())).context("enqueue");
        assert_eq!(classify(&bad), BAD_INPUT);
        let refused = anyhow::Error::new(Refused("gone".into()));
        assert_eq!(classify(&refused), FAILURE);
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            classify(&anyhow::Error::new(io).context("ping")),
            UNREACHABLE
        );
        let timeout = Unreachable {
            after: Duration::from_secs(5),
        };
        assert_eq!(classify(&anyhow::Error::new(timeout)), UNREACHABLE);
        let other = anyhow::anyhow!("something else");
        assert_eq!(classify(&other), FAILURE);
    }

    #[test]
    fn repeated_causes_are_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = anyhow::Error::new(io)
            .context("Redis error during ping: refused")
            .context("cannot reach Redis");
        assert_eq!(
            one_line(&error),
            "cannot reach Redis: Redis error during ping: refused"
        );
    }

    #[tokio::test]
    async fn connect_errors_hide_every_password_of_a_seed_list() {
        // Nothing listens on port 1: connecting fails, and the error shows the URL.
        let url = "redis://:Secret1@127.0.0.1:1,redis://:Secret2@127.0.0.1:1";
        let options = BrokerOptions {
            namespace: "ns".into(),
            ..BrokerOptions::default()
        };
        let error = connect(url, options, Duration::from_secs(5))
            .await
            .expect_err("nothing listens on port 1");
        let report = format!("{error:#}");
        assert!(report.contains("127.0.0.1:1"), "{report}");
        assert!(
            !report.contains("Secret1") && !report.contains("Secret2"),
            "{report}"
        );
    }
}
