//! Plugin secrets: `[secrets]` in a manifest names where each value lives.
//!
//! A manifest is a file that gets copied, committed and shown by `wasmq
//! plugins`, so it never holds a secret itself, only its source: an
//! environment variable of the host (`env:MAILER_KEY`) or a file
//! (`file:/run/secrets/signing`, as Docker and Kubernetes mount them).
//! The value is read when the plugin is loaded, so a missing secret is an
//! error at deploy time, not in the middle of a task.
//!
//! A resolved [`Secret`] prints as `[redacted]` and has no `Serialize`, so
//! it cannot end up in a log line, an API response or an error message by
//! accident; [`Secret::expose`] is the one way to the value, easy to find
//! in review. Errors name the secret's key and source and say what to do,
//! but never carry the value or the file's contents.

use super::file::{FileError, FileRules, read_regular_file};
use std::fmt;
use std::path::PathBuf;

/// Largest secret file read: 64 KiB, more than any key or token.
pub const MAX_SECRET_FILE: u64 = 64 << 10;

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretSource {
    /// `env:NAME`: an environment variable of the host.
    Env(String),
    /// `file:/absolute/path`: the contents of a file, less one trailing newline.
    File(PathBuf),
}

/// A secret's value. Shown as `[redacted]`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Why a secret could not be read. Messages name the key and the source,
/// never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("secret `{key}` (env:{name}): {name} is not set; set {name} in the host's environment")]
    EnvMissing {
        /// The secret's key in the manifest.
        key: String,
        /// The variable.
        name: String,
    },
    /// The environment variable is set but is not UTF-8.
    #[error(
        "secret `{key}` (env:{name}): {name} is not valid UTF-8; set {name} in the host's environment to UTF-8 text"
    )]
    EnvNotUnicode {
        /// The secret's key in the manifest.
        key: String,
        /// The variable.
        name: String,
    },
    /// The file could not be read.
    #[error("secret `{key}` (file:{}): {source}; create the file or fix the path", path.display())]
    File {
        /// The secret's key in the manifest.
        key: String,
        /// The file.
        path: PathBuf,
        /// Why it could not be read (its messages name the path, not the contents).
        source: FileError,
    },
    /// The file is not UTF-8 text.
    #[error(
        "secret `{key}` (file:{}): the file is not valid UTF-8 text; write the secret as text",
        path.display()
    )]
    FileNotUnicode {
        /// The secret's key in the manifest.
        key: String,
        /// The file.
        path: PathBuf,
    },
    /// The value is empty, which is almost always a variable or file left unset.
    #[error("secret `{key}` ({from}) is empty; put the secret's value there")]
    Empty {
        /// The secret's key in the manifest.
        key: String,
        /// Where it was read from.
        from: SecretSource,
    },
}

impl SecretSource {
    /// Parses `env:NAME` or `file:/absolute/path`. The error says what is
    /// wrong and which forms are accepted.
    pub fn parse(text: &str) -> Result<SecretSource, String> {
        const FORMS: &str = "write env:NAME for an environment variable of the host or \
                             file:/absolute/path for a file";
        if let Some(name) = text.strip_prefix("env:") {
            let mut bytes = name.bytes();
            let valid = bytes
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && name.len() <= 128;
            if !valid {
                return Err(format!(
                    "`{text}` does not name a valid environment variable: a name is 1 to 128 \
                     letters, digits and `_`, not starting with a digit; {FORMS}"
                ));
            }
            return Ok(SecretSource::Env(name.to_owned()));
        }
        if let Some(path) = text.strip_prefix("file:") {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err(format!(
                    "`{text}` is not an absolute path; the host's working directory is no \
                     place to look for a secret, so {FORMS}"
                ));
            }
            return Ok(SecretSource::File(path));
        }
        // Not echoed: a value in neither form may be the secret itself.
        Err(format!(
            "is not a secret source: a manifest names where a secret is, never the secret \
             itself (if it is, remove it and rotate it); {FORMS}"
        ))
    }

    /// Reads the secret `key` (its name in the manifest, for errors) from
    /// this source. A file's one trailing newline (`\n` or `\r\n`) is
    /// removed, since editors and `echo` add one.
    pub fn resolve(&self, key: &str) -> Result<Secret, SecretError> {
        let value = match self {
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(value) => value,
                Err(std::env::VarError::NotPresent) => {
                    return Err(SecretError::EnvMissing {
                        key: key.to_owned(),
                        name: name.clone(),
                    });
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(SecretError::EnvNotUnicode {
                        key: key.to_owned(),
                        name: name.clone(),
                    });
                }
            },
            SecretSource::File(path) => {
                let rules = FileRules {
                    what: "secret file",
                    max: MAX_SECRET_FILE,
                    confine: None,
                };
                let bytes = read_regular_file(path, rules).map_err(|source| SecretError::File {
                    key: key.to_owned(),
                    path: path.clone(),
                    source,
                })?;
                let mut text =
                    String::from_utf8(bytes).map_err(|_| SecretError::FileNotUnicode {
                        key: key.to_owned(),
                        path: path.clone(),
                    })?;
                if text.ends_with('\n') {
                    text.pop();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                }
                text
            }
        };
        if value.is_empty() {
            return Err(SecretError::Empty {
                key: key.to_owned(),
                from: self.clone(),
            });
        }
        Ok(Secret(value))
    }
}

impl std::str::FromStr for SecretSource {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        SecretSource::parse(text)
    }
}

/// The source as written (`env:MAILER_KEY`), never a value.
impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "env:{name}"),
            SecretSource::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

impl Secret {
    /// The value. Pass it only to what needs it; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests;
