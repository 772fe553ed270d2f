//! Configuration: resource limits and per-plugin manifests (and, later, the
//! daemon's own settings).
//!
//! This is a leaf module: it knows nothing of Redis or wasmtime, so every
//! other module can depend on it, and bad configuration is reported before
//! anything expensive (compiling a plugin, connecting to Redis) happens.
//!
//! * [`Limits`] bounds one task run: fuel, wall-clock time, linear memory and
//!   output size. The host has defaults; a plugin's manifest may change them.
//! * [`PluginManifest`] is the optional `<type>.toml` next to `<type>.wasm`.
//!   It is strict (unknown keys are errors) because a silently ignored typo in
//!   a limit is exactly the kind of mistake that only shows up in production.
//!   Its [`Capabilities`] say what the plugin may reach: HTTP hosts by an
//!   [`outbound`] allow-list, and key-value buckets. Its [`secrets`] are
//!   sources (`env:NAME`, `file:/path`), resolved when the plugin is loaded.
//! * [`AllowedHost`] is one name the HTTP API answers to besides its own
//!   address (`--http-allowed-host`).
//! * [`units`] parses human-friendly durations (`"2s"`) and sizes (`"64MiB"`).
//! * [`read_regular_file`] reads a plugin or manifest dropped into a
//!   directory without blocking on a FIFO, reading past a cap, or following
//!   a symlink out of the directory.

mod allowed_host;
mod capabilities;
mod daemon;
mod file;
mod host_rule;
mod limits;
mod manifest;
pub mod outbound;
mod overlay;
pub mod secrets;
pub mod units;

pub use allowed_host::AllowedHost;
pub(crate) use allowed_host::{ip_text, normalize_host, split_host_port};
pub use capabilities::{
    Capabilities, DEFAULT_HTTP_MAX_REQUESTS, DEFAULT_HTTP_MAX_RESPONSE, GrantsSummary,
    MAX_CONFIG_ENTRIES, MAX_CONFIG_VALUE, MAX_HTTP_ENTRIES, MAX_HTTP_REQUESTS, MAX_HTTP_RESPONSE,
    MAX_KV_BUCKETS,
};
pub use daemon::{
    DaemonConfigError, InvalidSetting, LogFormat, MAX_DURABLE_REPLICAS, RunConfig, RunOverrides,
    Secret, default_concurrency, parse_socket_addr,
};
pub use file::{FileError, FileRules, read_regular_file};
pub use limits::{InvalidLimit, Limits};
pub use manifest::{MAX_MANIFEST_SIZE, ManifestError, PluginManifest};
pub use outbound::{AllowList, HostRule, is_non_public};
pub use secrets::{SecretError, SecretSource};
