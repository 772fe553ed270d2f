//! `wasmq call`'s capability flags: try a plugin with grants its manifest
//! does not have yet, without writing one.
//!
//! `--allow-http URL`, `--kv BUCKET`, `--enqueue TYPE`, `--config KEY=VALUE`
//! and `--secret KEY=SOURCE` are
//! written into a manifest fragment and parsed by the manifest's own rules,
//! so a flag is validated exactly like the key it stands for, and errors
//! name the flag's value. The fragment is then merged over the manifest next
//! to the plugin by [`PluginManifest::with_grants_from`], as a host merges
//! `wasmq dev --demo`'s grants: HTTP grants and buckets add up, config and
//! secrets override by key.

use crate::config::PluginManifest;
use anyhow::{Context, Result, bail};
use std::path::Path;

/// How errors name the flags' grants.
const FLAGS_SOURCE: &str = "the command line's --allow-http/--kv/--enqueue/--config/--secret";

/// The capability flags of `wasmq call`, as given.
#[derive(Debug, Default, Clone)]
pub struct GrantFlags {
    /// `--allow-http` entries.
    pub http: Vec<String>,
    /// `--config KEY=VALUE` pairs.
    pub config: Vec<String>,
    /// `--secret KEY=env:NAME|file:/path` pairs.
    pub secrets: Vec<String>,
    /// `--kv BUCKET` names.
    pub kv: Vec<String>,
    /// `--enqueue TYPE` child task types.
    pub enqueue: Vec<String>,
}

impl GrantFlags {
    /// Whether any flag was given.
    pub fn is_empty(&self) -> bool {
        self.http.is_empty()
            && self.config.is_empty()
            && self.secrets.is_empty()
            && self.kv.is_empty()
            && self.enqueue.is_empty()
    }

    /// The file's manifest (if any) with these flags merged over it.
    pub fn merged(&self, file: Option<&PluginManifest>) -> Result<Option<PluginManifest>> {
        if self.is_empty() {
            return Ok(file.cloned());
        }
        let flags = self.as_manifest()?;
        let merged = file
            .cloned()
            .unwrap_or_default()
            .with_grants_from(&flags, Path::new(FLAGS_SOURCE))?;
        Ok(Some(merged))
    }

    /// The flags as a manifest of their own, validated by its rules.
    fn as_manifest(&self) -> Result<PluginManifest> {
        let mut root = toml::Table::new();
        let mut caps = toml::Table::new();
        for (key, list) in [
            ("http", &self.http),
            ("kv", &self.kv),
            ("enqueue", &self.enqueue),
        ] {
            if !list.is_empty() {
                let values = list.iter().cloned().map(toml::Value::String).collect();
                caps.insert(key.into(), toml::Value::Array(values));
            }
        }
        if !caps.is_empty() {
            root.insert("capabilities".into(), toml::Value::Table(caps));
        }
        for (flag, table, pairs) in [
            ("--config", "config", &self.config),
            ("--secret", "secrets", &self.secrets),
        ] {
            let mut values = toml::Table::new();
            for pair in pairs {
                let Some((key, value)) = pair.split_once('=') else {
                    bail!("{flag} `{}`: write KEY=VALUE", redact(flag, pair));
                };
                values.insert(key.trim().to_owned(), toml::Value::String(value.to_owned()));
            }
            if !values.is_empty() {
                root.insert(table.into(), toml::Value::Table(values));
            }
        }
        let text = toml::to_string(&root).context("writing the flags as a manifest")?;
        PluginManifest::parse(&text, Path::new(FLAGS_SOURCE)).map_err(Into::into)
    }
}

/// A flag's value for an error: a `--secret` pair is shown without its
/// value side, which may be the secret itself typed by mistake.
fn redact(flag: &str, pair: &str) -> String {
    match flag {
        "--secret" => "…".to_owned(),
        _ => pair.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_merge_over_the_manifest() {
        let file = PluginManifest::parse(
            "[capabilities]\nhttp = [\"https://a.example\"]\n[config]\nx = \"file\"\ny = \"kept\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let flags = GrantFlags {
            http: vec!["http://127.0.0.1:8025".into()],
            config: vec!["x=flag".into()],
            secrets: vec!["token=env:TOKEN".into()],
            kv: vec!["counts".into()],
            enqueue: vec!["echo".into()],
        };
        let merged = flags.merged(Some(&file)).unwrap().unwrap();
        assert!(merged.capabilities.http.allows("https", "a.example", None));
        assert!(
            merged
                .capabilities
                .http
                .allows("http", "127.0.0.1", Some(8025))
        );
        assert_eq!(merged.config["x"], "flag");
        assert_eq!(merged.config["y"], "kept");
        assert_eq!(merged.secrets["token"].to_string(), "env:TOKEN");
        assert_eq!(merged.capabilities.kv, ["counts"]);
        assert_eq!(merged.capabilities.enqueue, ["echo"]);
    }

    #[test]
    fn bad_flags_are_errors_that_name_them() {
        let bad = |flags: GrantFlags| format!("{:#}", flags.merged(None).unwrap_err());
        let http = bad(GrantFlags {
            http: vec!["ftp://x".into()],
            ..Default::default()
        });
        assert!(http.contains("ftp"), "{http}");
        let config = bad(GrantFlags {
            config: vec!["novalue".into()],
            ..Default::default()
        });
        assert!(
            config.contains("--config `novalue`: write KEY=VALUE"),
            "{config}"
        );
        let secret = bad(GrantFlags {
            secrets: vec!["hunter2".into()],
            ..Default::default()
        });
        assert!(!secret.contains("hunter2"), "{secret}");
        let source = bad(GrantFlags {
            secrets: vec!["k=plain".into()],
            ..Default::default()
        });
        assert!(!source.contains("plain"), "{source}");
    }
}
