//! What a plugin's manifest grants it, resolved at load: outbound HTTP,
//! key-value buckets, and the values of `wasi:config/store` (its `[config]`,
//! and its `[secrets]` read from the host's environment or files).
//!
//! Every capability is default-deny. The linker provides the interfaces to
//! every component, so that what decides is the manifest, and a component
//! that imports an interface its manifest does not grant is refused at load
//! with the key to set, rather than failing at its first request. Secrets
//! are resolved here, once per load, so a missing one fails the load (with
//! its source named, never its value) instead of a task.

use super::error::LoadProblem;
use super::kv_host::KvGrant;
use super::outbound::HttpGrant;
use super::tasks_host::TasksGrant;
use crate::config::{Capabilities, PluginManifest};
use std::sync::Arc;
use wasmtime_wasi_config::WasiConfigVariables;

/// The capabilities of one loaded plugin, shared by all its runs.
#[derive(Clone, Default)]
pub(crate) struct Grants {
    /// Outbound HTTP; an empty allow-list denies every request.
    pub http: Arc<HttpGrant>,
    /// `[config]` and resolved `[secrets]`, as `wasi:config/store` serves
    /// them. Never printed: it holds secret values.
    pub config: Arc<WasiConfigVariables>,
    /// How many values of `config` are secrets (for listings).
    pub secrets: usize,
    /// Key-value buckets and their bounds.
    pub kv: KvGrant,
    /// Child task types and the cap per run.
    pub tasks: TasksGrant,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants")
            .field("http", &self.http)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl Grants {
    /// Resolves the grants of `manifest` (none without one). Fails on a
    /// secret that cannot be read.
    pub fn resolve(manifest: Option<&PluginManifest>) -> Result<Grants, LoadProblem> {
        let Some(manifest) = manifest else {
            return Ok(Grants::default());
        };
        let Capabilities {
            http,
            http_max_requests,
            http_max_response,
            kv,
            kv_max_value,
            kv_ttl,
            enqueue,
            enqueue_max_children,
        } = &manifest.capabilities;
        let mut config = WasiConfigVariables::new();
        for (key, value) in &manifest.config {
            config.insert(key, value);
        }
        for (key, source) in &manifest.secrets {
            let secret = source.resolve(key).map_err(|e| LoadProblem::Secret {
                message: e.to_string(),
            })?;
            config.insert(key, secret.expose());
        }
        Ok(Grants {
            http: Arc::new(HttpGrant {
                allow: http.clone(),
                max_requests: *http_max_requests,
                max_response: *http_max_response,
            }),
            config: Arc::new(config),
            secrets: manifest.secrets.len(),
            kv: KvGrant {
                buckets: Arc::new(kv.clone()),
                max_value: *kv_max_value,
                ttl: Arc::new(kv_ttl.clone()),
            },
            tasks: TasksGrant {
                types: Arc::new(enqueue.clone()),
                max_children: *enqueue_max_children,
            },
        })
    }
}

/// The names a component imports (`wasi:http/outgoing-handler@0.2.12`,
/// ...), read from its top-level import section without compiling it.
///
/// Why before compiling: a JavaScript or Python component takes 10-30 s
/// to compile, and a plugin its manifest does not allow must be refused
/// at once, not after that. Nested modules and components are skipped: what
/// they import is satisfied inside the component.
pub(crate) fn component_imports(bytes: &[u8]) -> Result<Vec<String>, LoadProblem> {
    use wasmparser::{Parser, Payload};
    let corrupt = |e: wasmparser::BinaryReaderError| LoadProblem::Corrupt {
        kind: "component",
        message: format!("reading its imports: {e}"),
    };
    let mut names = Vec::new();
    let mut parser = Parser::new(0);
    let mut rest = bytes;
    loop {
        let (consumed, payload) = match parser.parse(rest, true).map_err(corrupt)? {
            wasmparser::Chunk::NeedMoreData(_) => {
                return Err(LoadProblem::Corrupt {
                    kind: "component",
                    message: "it ends in the middle of a section".to_owned(),
                });
            }
            wasmparser::Chunk::Parsed { consumed, payload } => (consumed, payload),
        };
        rest = &rest[consumed..];
        match payload {
            Payload::ComponentImportSection(reader) => {
                for import in reader {
                    names.push(import.map_err(corrupt)?.name.name.to_owned());
                }
            }
            // Skip nested modules and components whole: the parser has
            // counted their bytes, the slice must too.
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => {
                rest = rest
                    .get(unchecked_range.len()..)
                    .ok_or_else(|| LoadProblem::Corrupt {
                        kind: "component",
                        message: "it ends in the middle of a nested module".to_owned(),
                    })?;
            }
            Payload::End(_) => return Ok(names),
            _ => {}
        }
    }
}

/// Refuses a component that imports a capability its manifest does not
/// grant; the message names the import and the manifest key to set.
pub(crate) fn check_imports<'a>(
    imports: impl IntoIterator<Item = &'a str>,
    manifest: Option<&PluginManifest>,
) -> Result<(), LoadProblem> {
    let empty = PluginManifest::default();
    let manifest = manifest.unwrap_or(&empty);
    for name in imports {
        let refuse = |key: &str, how: &str| {
            Err(LoadProblem::Ungranted {
                import: name.to_owned(),
                key: key.to_owned(),
                how: how.to_owned(),
            })
        };
        if name.starts_with("wasi:http/outgoing-handler") && manifest.capabilities.http.is_empty() {
            return refuse(
                "[capabilities] http",
                "list the URLs it may call, e.g. http = [\"https://api.example.com\"]",
            );
        }
        if name.starts_with("wasi:config/")
            && manifest.config.is_empty()
            && manifest.secrets.is_empty()
        {
            return refuse(
                "[config] or [secrets]",
                "give it values, e.g. [config] mail_api = \"https://...\" or [secrets] token = \"env:TOKEN\"",
            );
        }
        if name.starts_with("wasmq:plugin/tasks") && manifest.capabilities.enqueue.is_empty() {
            return refuse(
                "[capabilities] enqueue",
                "list the task types it may enqueue, e.g. enqueue = [\"email\"]",
            );
        }
        if name.starts_with("wasi:keyvalue/") && manifest.capabilities.kv.is_empty() {
            return refuse(
                "[capabilities] kv",
                "name the buckets it may open, e.g. kv = [\"thumbnails\"]",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component (binary, by hand) with a nested core module whose own
    /// import must not count, then one top-level instance import.
    fn component(import: &str) -> Vec<u8> {
        let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
        // A core module section holding an empty module.
        let module = b"\0asm\x01\0\0\0";
        bytes.push(1);
        bytes.push(module.len() as u8);
        bytes.extend_from_slice(module);
        // An import section: one import, `name` as an instance of type 0.
        let mut section = vec![1, 0x00, import.len() as u8];
        section.extend_from_slice(import.as_bytes());
        section.extend_from_slice(&[0x05, 0x00]);
        bytes.push(10);
        bytes.push(section.len() as u8);
        bytes.extend_from_slice(&section);
        bytes
    }

    #[test]
    fn imports_are_read_without_compiling_and_refused_by_key() {
        let bytes = component("wasi:keyvalue/store@0.2.0-draft2");
        let names = component_imports(&bytes).unwrap();
        assert_eq!(names, vec!["wasi:keyvalue/store@0.2.0-draft2"]);
        let refused = check_imports(names.iter().map(String::as_str), None).unwrap_err();
        assert!(
            matches!(&refused, LoadProblem::Ungranted { key, .. } if key == "[capabilities] kv"),
            "{refused:?}"
        );
    }

    #[test]
    fn a_truncated_component_is_corrupt_not_a_panic() {
        let bytes = component("wasi:http/outgoing-handler@0.2.12");
        for cut in 9..bytes.len() {
            // Corrupt, or (cut between sections) a component without it.
            match component_imports(&bytes[..cut]) {
                Err(LoadProblem::Corrupt {
                    kind: "component", ..
                }) => {}
                Ok(names) if names.is_empty() => {}
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }
}
