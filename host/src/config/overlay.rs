//! Grants added to a plugin's manifest from outside its file.
//!
//! Two places grant a plugin more than its `<type>.toml` says, and both must
//! merge the same way, or a plugin tried with `wasmq call --allow-http ...`
//! would behave differently on a host given the same grant:
//!
//! - `wasmq call`'s flags (`--allow-http`, `--kv`, `--config`, `--secret`),
//!   for trying a plugin before writing its manifest;
//! - `wasmq dev --demo`, which starts a mail API and an image server on
//!   free loopback ports and grants them to `email` and `image`: the ports
//!   are known only at run time, so no file can name them.
//!
//! The rule: HTTP hosts, buckets and child task types add up (a grant is never taken away),
//! `[config]` and `[secrets]` entries override by key. Limits and the
//! capability bounds stay the file's, since an overlay is about what a
//! plugin may reach, not how much it may spend.

use super::manifest::{ManifestError, PluginManifest};
use super::outbound::AllowList;
use std::path::Path;

impl PluginManifest {
    /// This manifest with `extra`'s grants added (see the module docs).
    /// `source` names where `extra` came from, for the error if the two HTTP
    /// grants cannot be combined.
    pub fn with_grants_from(
        &self,
        extra: &PluginManifest,
        source: &Path,
    ) -> Result<PluginManifest, ManifestError> {
        let mut merged = self.clone();
        if !extra.capabilities.http.is_empty() {
            let entries: Vec<String> = self
                .capabilities
                .http
                .rules()
                .iter()
                .chain(extra.capabilities.http.rules())
                .map(ToString::to_string)
                .collect();
            merged.capabilities.http =
                AllowList::parse(&entries).map_err(|message| ManifestError::Capability {
                    path: source.to_owned(),
                    key: "http".into(),
                    message,
                })?;
        }
        for bucket in &extra.capabilities.kv {
            if !merged.capabilities.kv.contains(bucket) {
                merged.capabilities.kv.push(bucket.clone());
            }
        }
        for task_type in &extra.capabilities.enqueue {
            if !merged.capabilities.enqueue.contains(task_type) {
                merged.capabilities.enqueue.push(task_type.clone());
            }
        }
        merged
            .config
            .extend(extra.config.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged
            .secrets
            .extend(extra.secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> PluginManifest {
        PluginManifest::parse(text, Path::new("p.toml")).unwrap()
    }

    #[test]
    fn grants_add_up_and_settings_override_by_key() {
        let file = manifest(
            "timeout = \"3s\"\n[capabilities]\nhttp = [\"https://a.example\"]\nkv = [\"x\"]\n\
             [config]\nmail_api = \"file\"\nkept = \"yes\"\n",
        );
        let extra = manifest(
            "timeout = \"9s\"\n[capabilities]\nhttp = [\"http://127.0.0.1:8025\"]\nkv = [\"x\", \"y\"]\nenqueue = [\"echo\"]\n\
             [config]\nmail_api = \"overlay\"\n[secrets]\nmail_token = \"env:T\"\n",
        );
        let merged = file.with_grants_from(&extra, Path::new("demo")).unwrap();
        let http = &merged.capabilities.http;
        assert!(http.allows("https", "a.example", None));
        assert!(http.allows("http", "127.0.0.1", Some(8025)));
        assert_eq!(merged.capabilities.kv, ["x", "y"]);
        assert_eq!(merged.capabilities.enqueue, ["echo"]);
        assert_eq!(merged.config["mail_api"], "overlay");
        assert_eq!(merged.config["kept"], "yes");
        assert_eq!(merged.secrets["mail_token"].to_string(), "env:T");
        assert_eq!(
            merged.timeout,
            Some(std::time::Duration::from_secs(3)),
            "limits stay the file's"
        );
    }

    #[test]
    fn an_empty_overlay_changes_nothing() {
        let file = manifest("[capabilities]\nhttp = [\"https://a.example\"]\n");
        let merged = file
            .with_grants_from(&PluginManifest::default(), Path::new("demo"))
            .unwrap();
        assert_eq!(merged, file);
    }
}
