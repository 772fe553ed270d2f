//! Recognising what a plugin file is, and checking it against the contract.
//!
//! Checking at load time, with messages that name the file and the problem,
//! turns "the worker traps on every task" into "the host refuses to load
//! email.wasm because it was built for wasmq:plugin@2.0.0".

use super::error::LoadProblem;
use serde::Serialize;
use std::fmt;
use wasmtime::component::Component;
use wasmtime::{Engine, ExternType, Module};

/// The interface a component plugin must export.
pub const HANDLER_INTERFACE: &str = "wasmq:plugin/handler";
/// The contract version this host implements (`wit/wasmq.wit`).
pub const CONTRACT_VERSION: (u64, u64, u64) = (0, 2, 0);

/// The contract versions a component may be built against: the current
/// one, and 0.1 (`wit/compat/0.1`), whose plugins run unchanged, without
/// `task.children`. Below 1.0 each minor is its own, incompatible version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contract {
    /// `wasmq:plugin@0.1.x`.
    V0_1,
    /// `wasmq:plugin@0.2.x`, [`CONTRACT_VERSION`].
    V0_2,
}

impl Contract {
    const ALL: [(Contract, (u64, u64, u64)); 2] = [
        (Contract::V0_2, CONTRACT_VERSION),
        (Contract::V0_1, (0, 1, 0)),
    ];

    /// The supported contract `found` is compatible with.
    fn of(found: (u64, u64, u64)) -> Option<Contract> {
        Contract::ALL
            .iter()
            .find(|(_, v)| compatible(found, *v))
            .map(|(c, _)| *c)
    }
}
/// The `wasmq:` interfaces a plugin may import.
const GRANTED_IMPORTS: &[&str] = &[
    "wasmq:plugin/log",
    "wasmq:plugin/progress",
    "wasmq:plugin/tasks",
    "wasmq:plugin/types",
];

/// The two kinds of plugin the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// A component of world `wasmq:plugin/task-handler` (wasm32-wasip2).
    Component,
    /// A WASI command (wasm32-wasip1): payload on stdin, output on stdout,
    /// exit 0 success, 75 retryable, anything else permanent.
    Command,
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginKind::Component => "component",
            PluginKind::Command => "command",
        })
    }
}

/// Tells a component from a core module by the 8-byte header.
pub(crate) fn detect(bytes: &[u8]) -> Result<PluginKind, LoadProblem> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        let head = bytes
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>();
        let head = if head.is_empty() {
            "nothing: the file is empty".to_owned()
        } else {
            format!(
                "{} {:?}",
                head.join(" "),
                String::from_utf8_lossy(&bytes[..bytes.len().min(8)])
            )
        };
        return Err(LoadProblem::NotWasm { head });
    }
    match bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(PluginKind::Component),
        [0x01, 0x00, 0x00, 0x00] => Ok(PluginKind::Command),
        _ => Err(LoadProblem::UnknownEncoding {
            version: bytes[4..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" "),
        }),
    }
}

/// A `major.minor.patch` version, ignoring any pre-release or build suffix.
pub(crate) fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// Semver compatibility as the component model reads it: below 1.0 the
/// minor version must match, from 1.0 on the major.
pub(crate) fn compatible(found: (u64, u64, u64), host: (u64, u64, u64)) -> bool {
    match (found.0, host.0) {
        (0, 0) => found.1 == host.1,
        (a, b) => a == b,
    }
}

fn supported() -> String {
    Contract::ALL
        .iter()
        .map(|(_, (major, minor, _))| {
            if *major == 0 {
                format!("{major}.{minor}.x")
            } else {
                format!("{major}.x")
            }
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Checks that the component exports a handler of a supported contract
/// and imports no `wasmq:` interface the host does not grant (nor one of
/// another contract version), and says which contract it was built for.
pub(crate) fn check_component(
    engine: &Engine,
    component: &Component,
) -> Result<Contract, LoadProblem> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let handler = exports
        .iter()
        .find(|name| name.split('@').next() == Some(HANDLER_INTERFACE));
    let Some(handler) = handler else {
        return Err(LoadProblem::WrongWorld {
            exports: if exports.is_empty() {
                "none".to_owned()
            } else {
                exports.join(", ")
            },
        });
    };
    let found = handler
        .split_once('@')
        .map(|(_, v)| v)
        .unwrap_or("unversioned");
    let Some((contract, version)) = parse_version(found).and_then(|v| Some((Contract::of(v)?, v)))
    else {
        return Err(LoadProblem::IncompatibleContract {
            found: found.to_owned(),
            supported: supported(),
        });
    };
    let refused: Vec<String> = ty
        .imports(engine)
        .filter(|(name, _)| {
            let interface = name.split('@').next().unwrap_or(name);
            let is_wasmq = interface.starts_with("wasmq:");
            let granted = GRANTED_IMPORTS.contains(&interface)
                && name
                    .split_once('@')
                    .and_then(|(_, v)| parse_version(v))
                    .is_some_and(|v| compatible(v, version));
            is_wasmq && !granted
        })
        .map(|(name, _)| name.to_owned())
        .collect();
    if !refused.is_empty() {
        return Err(LoadProblem::UnsatisfiedImports {
            what: format!("capabilities {}", refused.join(", ")),
            message: format!(
                "this host grants wasmq:plugin/log, progress and tasks, of the version the \
                 handler was built for ({found}), only"
            ),
        });
    }
    Ok(contract)
}

/// Checks that a core module is a WASI command: exports `_start: [] -> []`
/// and `memory`.
pub(crate) fn check_command(module: &Module) -> Result<(), LoadProblem> {
    let missing = |missing| LoadProblem::MissingStart { missing };
    match module.get_export("_start") {
        Some(ExternType::Func(func)) if func.params().len() == 0 && func.results().len() == 0 => {}
        _ => return Err(missing("_start")),
    }
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => Ok(()),
        _ => Err(missing("memory")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn detects_kinds_and_non_wasm() {
        assert_eq!(
            detect(b"\0asm\x0d\x00\x01\x00rest").unwrap(),
            PluginKind::Component
        );
        assert_eq!(
            detect(b"\0asm\x01\x00\x00\x00").unwrap(),
            PluginKind::Command
        );
        let refused = |bytes: &[u8]| detect(bytes).unwrap_err().in_file("x.wasm").to_string();
        let err = refused(b"#!/bin/sh\necho");
        assert!(
            err.contains("x.wasm is not a WebAssembly file (starts with 23 21 2f"),
            "{err}"
        );
        let err = refused(b"");
        assert!(err.contains("the file is empty"), "{err}");
        let err = refused(b"\0asm\x02\x00\x00\x00");
        assert!(
            err.contains("unknown WebAssembly version/layer (02 00 00 00)"),
            "{err}"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("0.1.0"), Some((0, 1, 0)));
        assert_eq!(parse_version("2.0.0-rc1"), Some((2, 0, 0)));
        assert_eq!(parse_version("1.2"), None);
        assert!(compatible((0, 1, 7), (0, 1, 0)));
        assert!(!compatible((0, 2, 0), (0, 1, 0)));
        assert!(!compatible((2, 0, 0), (0, 1, 0)));
        assert!(compatible((1, 9, 0), (1, 0, 0)));
        assert_eq!(Contract::of((0, 1, 3)), Some(Contract::V0_1));
        assert_eq!(Contract::of((0, 2, 0)), Some(Contract::V0_2));
        assert_eq!(Contract::of((0, 3, 0)), None);
        assert_eq!(Contract::of((2, 0, 0)), None);
        assert_eq!(supported(), "0.2.x and 0.1.x");
    }

    proptest! {
        #[test]
        fn versions_round_trip(a in 0u64..1000, b in 0u64..1000, c in 0u64..1000) {
            prop_assert_eq!(parse_version(&format!("{a}.{b}.{c}")), Some((a, b, c)));
            prop_assert_eq!(compatible((a, b, c), (a, b, 0)), true);
        }
    }
}
