//! The plugin's configuration and secrets, as its manifest grants them:
//!
//! ```toml
//! # <type>.toml, next to <type>.wasm
//! [config]
//! mail_api = "https://mail.example.com/v1/send"
//!
//! [secrets]
//! mail_token = "env:MAILER_TOKEN"   # or "file:/run/secrets/mail_token"
//! ```
//!
//! ```no_run
//! use wasmq_plugin_sdk::{config, Output, Task, TaskError};
//!
//! #[wasmq_plugin_sdk::handler]
//! fn send(task: Task) -> Result<Output, TaskError> {
//!     let api = config::require("mail_api")?;
//!     let token = config::secret("mail_token")?;
//!     # let _ = (api, token, task);
//!     Ok(Output::empty())
//! }
//! # fn main() {}
//! ```
//!
//! The host resolves secrets when it loads the plugin (a missing one fails
//! the load, not a task) and serves both through `wasi:config/store`. A
//! plugin that uses this module without a `[config]` or `[secrets]` table is
//! refused at load, with the table to add.
//!
//! Natively (unit tests), values come from the environment:
//! `WASMQ_CONFIG_<KEY>`, the key upper-cased with `.` and `-` as `_`.

use crate::TaskError;

/// The value of `key` from `[config]` or `[secrets]`, if set.
pub fn get(key: &str) -> Option<String> {
    imp::get(key)
}

/// The value of `key`, or a permanent error naming the manifest key to set.
pub fn require(key: &str) -> Result<String, TaskError> {
    get(key).ok_or_else(|| {
        TaskError::permanent(format!(
            "config `{key}` is not set: add `{key} = \"...\"` under [config] in the plugin's manifest"
        ))
    })
}

/// The secret `key`, or a permanent error naming the manifest key to set.
/// Never log or return the value.
pub fn secret(key: &str) -> Result<String, TaskError> {
    get(key).ok_or_else(|| {
        TaskError::permanent(format!(
            "secret `{key}` is not set: add `{key} = \"env:NAME\"` under [secrets] in the plugin's manifest"
        ))
    })
}

#[cfg(target_family = "wasm")]
mod imp {
    use crate::capability_bindings::wasi::config::store;

    pub fn get(key: &str) -> Option<String> {
        store::get(key).ok().flatten()
    }
}

#[cfg(not(target_family = "wasm"))]
mod imp {
    pub fn get(key: &str) -> Option<String> {
        let name: String = key
            .chars()
            .map(|c| match c {
                '.' | '-' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        std::env::var(format!("WASMQ_CONFIG_{name}")).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_values_come_from_the_environment() {
        // SAFETY (edition 2024 `set_var`): this test is the only one that
        // touches this variable.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("WASMQ_CONFIG_MAIL_API_URL", "http://x");
        }
        assert_eq!(get("mail-api.url").as_deref(), Some("http://x"));
        assert_eq!(require("mail-api.url").unwrap(), "http://x");
        let missing = secret("nope").unwrap_err();
        assert!(
            missing.message().contains("[secrets]"),
            "{}",
            missing.message()
        );
    }
}
