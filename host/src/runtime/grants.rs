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
                rest = &rest[unchecked_range.len()..];
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
