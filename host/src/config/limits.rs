//! Resource limits for one task run.
//!
//! Every run is bounded four ways, because each bound catches a different
//! runaway: fuel stops a CPU hog deterministically, the wall-clock timeout
//! stops a handler that blocks or loops without spending fuel quickly enough,
//! the memory cap stops a handler that allocates without end, and the output
//! cap stops a handler from flooding Redis with a huge result.

use super::manifest::PluginManifest;
use super::units::{format_duration, format_size, format_size_exact};
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// The bounds on one task run. See [`Limits::default`] for the host defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Fuel budget: roughly one unit per WebAssembly instruction executed.
    pub fuel: u64,
    /// Wall-clock budget, from instantiation to the handler's return.
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    /// Maximum linear memory of the plugin instance, in bytes.
    pub memory: u64,
    /// Maximum size of the handler's output, in bytes.
    pub max_output: u64,
}

/// A limit outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` {message}")]
pub struct InvalidLimit {
    /// The configuration key, as written in a manifest (`fuel`, `timeout`, ...).
    pub key: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Limits {
    /// Default fuel: about one second of pure computation (wasmtime burns
    /// roughly 10^10 fuel a second on a current x86 core). The heaviest
    /// example, a 4-megapixel thumbnail, needs 6 * 10^8; a spinning handler
    /// is stopped by fuel long before the 30s timeout.
    pub const DEFAULT_FUEL: u64 = 10_000_000_000;
    /// Default wall-clock timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default memory cap.
    pub const DEFAULT_MEMORY: u64 = 64 << 20;
    /// Default output cap.
    pub const DEFAULT_MAX_OUTPUT: u64 = 1 << 20;

    /// Largest fuel budget accepted (about a week of computation).
    pub const MAX_FUEL: u64 = 1_000_000_000_000_000;
    /// Largest timeout accepted.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
    /// Smallest memory cap accepted: one WebAssembly page.
    pub const MIN_MEMORY: u64 = 64 << 10;
    /// Largest memory cap accepted: the 32-bit address space.
    pub const MAX_MEMORY: u64 = 4 << 30;
    /// Largest output cap accepted.
    pub const MAX_OUTPUT: u64 = 256 << 20;

    /// These limits with every value the manifest sets replacing ours.
    pub fn merged(&self, manifest: &PluginManifest) -> Limits {
        Limits {
            fuel: manifest.fuel.unwrap_or(self.fuel),
            timeout: manifest.timeout.unwrap_or(self.timeout),
            memory: manifest.memory.unwrap_or(self.memory),
            max_output: manifest.max_output.unwrap_or(self.max_output),
        }
    }

    /// Checks every value against its allowed range.
    pub fn validate(&self) -> Result<(), InvalidLimit> {
        Self::check_fuel(self.fuel)?;
        Self::check_timeout(self.timeout)?;
        Self::check_memory(self.memory)?;
        Self::check_max_output(self.max_output)?;
        Ok(())
    }

    /// Checks a fuel budget: positive and at most [`Limits::MAX_FUEL`].
    pub fn check_fuel(fuel: u64) -> Result<u64, InvalidLimit> {
        if fuel == 0 || fuel > Self::MAX_FUEL {
            return Err(InvalidLimit {
                key: "fuel",
                message: format!("must be between 1 and {}, got {fuel}", Self::MAX_FUEL),
            });
        }
        Ok(fuel)
    }

    /// Checks a timeout: at least 1ms and at most [`Limits::MAX_TIMEOUT`].
    pub fn check_timeout(timeout: Duration) -> Result<Duration, InvalidLimit> {
        if timeout < Duration::from_millis(1) || timeout > Self::MAX_TIMEOUT {
            return Err(InvalidLimit {
                key: "timeout",
                message: format!(
                    "must be between 1ms and {}, got {}",
                    format_duration(Self::MAX_TIMEOUT),
                    format_duration(timeout)
                ),
            });
        }
        Ok(timeout)
    }

    /// Checks a memory cap: between [`Limits::MIN_MEMORY`] (one page) and
    /// [`Limits::MAX_MEMORY`].
    pub fn check_memory(memory: u64) -> Result<u64, InvalidLimit> {
        if !(Self::MIN_MEMORY..=Self::MAX_MEMORY).contains(&memory) {
            return Err(InvalidLimit {
                key: "memory",
                message: format!(
                    "must be between {} and {}, got {}",
                    format_size_exact(Self::MIN_MEMORY),
                    format_size_exact(Self::MAX_MEMORY),
                    format_size(memory)
                ),
            });
        }
        Ok(memory)
    }

    /// Checks an output cap: positive and at most [`Limits::MAX_OUTPUT`].
    pub fn check_max_output(max_output: u64) -> Result<u64, InvalidLimit> {
        if max_output == 0 || max_output > Self::MAX_OUTPUT {
            return Err(InvalidLimit {
                key: "max_output",
                message: format!(
                    "must be between 1 byte and {}, got {}",
                    format_size_exact(Self::MAX_OUTPUT),
                    format_size(max_output)
                ),
            });
        }
        Ok(max_output)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: Self::DEFAULT_FUEL,
            timeout: Self::DEFAULT_TIMEOUT,
            memory: Self::DEFAULT_MEMORY,
            max_output: Self::DEFAULT_MAX_OUTPUT,
        }
    }
}

impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fuel {}, timeout {}, memory {}, max output {}",
            self.fuel,
            format_duration(self.timeout),
            format_size(self.memory),
            format_size(self.max_output)
        )
    }
}

/// Serializes a duration as humantime text (`"30s"`), the manifest syntax.
mod duration_text {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&super::format_duration(*value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Limits::default().validate().unwrap();
    }

    #[test]
    fn merged_takes_only_what_the_manifest_sets() {
        let manifest = PluginManifest {
            fuel: Some(5),
            memory: Some(1 << 20),
            ..PluginManifest::default()
        };
        let merged = Limits::default().merged(&manifest);
        assert_eq!(merged.fuel, 5);
        assert_eq!(merged.memory, 1 << 20);
        assert_eq!(merged.timeout, Limits::DEFAULT_TIMEOUT);
        assert_eq!(merged.max_output, Limits::DEFAULT_MAX_OUTPUT);
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let zero_fuel = Limits {
            fuel: 0,
            ..Limits::default()
        };
        assert_eq!(zero_fuel.validate().unwrap_err().key, "fuel");
        let tiny = Limits {
            memory: 1000,
            ..Limits::default()
        };
        let err = tiny.validate().unwrap_err();
        assert!(
            err.to_string()
                .contains("`memory` must be between 64KiB and 4GiB"),
            "{err}"
        );
        let forever = Limits {
            timeout: Duration::from_secs(10 * 86400),
            ..Limits::default()
        };
        assert_eq!(forever.validate().unwrap_err().key, "timeout");
        let none = Limits {
            max_output: 0,
            ..Limits::default()
        };
        assert_eq!(none.validate().unwrap_err().key, "max_output");
    }
}
