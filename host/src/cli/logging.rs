//! Log output of the long-running commands (`wasmq run`, `wasmq dev`).
//!
//! Humans read the default format in a terminal; log collectors want one JSON
//! object per line, so `--log-format json` switches the whole output (spans
//! included: each line carries the task id and type of the task it belongs
//! to). The filter comes from `--log-level` when given, else `RUST_LOG`, else
//! `info`, so an operator can turn on `wasmq::worker=debug` without a
//! rebuild. Logs go to stderr; stdout stays free for what a command prints
//! for the user (`wasmq dev` prints its instructions there).

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The filter text does not parse.
    #[error(
        "invalid log filter `{filter}`: {message}; write a level (`info`) or directives such as `wasmq=debug,info`"
    )]
    Filter { filter: String, message: String },
}

/// The filter in force: `level` if given, else `RUST_LOG`, else `info`.
///
/// wasmtime-wasi-http's own events are kept to errors unless a directive
/// names it: a plugin's failed request is already one line of its task log
/// (and a count of `wasmq_plugin_http_requests_total`), and a guest can
/// make thousands.
pub fn filter(level: Option<&str>) -> Result<EnvFilter, LoggingError> {
    let text = match level {
        Some(level) => level.to_owned(),
        None => std::env::var("RUST_LOG")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "info".to_owned()),
    };
    let full = match text.contains("wasmtime_wasi_http") {
        true => text.clone(),
        false => format!("{text}{QUIET_HTTP}"),
    };
    EnvFilter::builder()
        .parse(&full)
        .map_err(|e| LoggingError::Filter {
            filter: text.clone(),
            message: e.to_string(),
        })
}

/// Appended to every filter that does not mention wasmtime-wasi-http.
pub(crate) const QUIET_HTTP: &str = ",wasmtime_wasi_http=error";

/// Installs the global subscriber. Calling it again (a test embedding two
/// hosts, say) keeps the first subscriber and is not an error.
pub fn init(format: LogFormat, level: Option<&str>) -> Result<(), LoggingError> {
    let filter = filter(level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a log file or collector gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_span_events(FmtSpan::NONE);
    // `try_init` only fails when a subscriber is already set: keep that one.
    let _ = match format {
        LogFormat::Human => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_level_wins_and_bad_filters_say_how_to_fix_them() {
        assert!(filter(Some("wasmq=debug,info")).is_ok());
        assert!(filter(Some("warn")).is_ok());
        assert!(
            filter(Some("info"))
                .unwrap()
                .to_string()
                .contains("wasmtime_wasi_http=error")
        );
        let chosen = filter(Some("wasmtime_wasi_http=debug,info"))
            .unwrap()
            .to_string();
        assert!(!chosen.contains("wasmtime_wasi_http=error"), "{chosen}");
        let err = filter(Some("wasmq=loud")).unwrap_err().to_string();
        assert!(err.contains("`wasmq=loud`"), "{err}");
        assert!(err.contains("wasmq=debug,info"), "{err}");
    }

    #[test]
    fn init_twice_is_harmless() {
        init(LogFormat::Human, Some("off")).unwrap();
        init(LogFormat::Json, Some("off")).unwrap();
    }
}
