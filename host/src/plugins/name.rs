//! Which files in the plugins directory matter, and which task type they
//! belong to.
//!
//! The file stem is the task type, which is also the Redis queue name, so it
//! is validated here before anything is compiled: a plugin whose name cannot
//! be a queue must be reported, not silently served under a mangled name.
//! Everything that is neither `<type>.wasm` nor `<type>.toml` (editor swap
//! files, `.tmp` files of an atomic rename in progress, README files) is
//! ignored, so an operator can keep notes next to the plugins.

use super::error::PluginDirError;
use std::collections::BTreeSet;
use std::path::Path;
use tracing::debug;

/// Longest accepted task type name.
pub const MAX_TYPE_LEN: usize = 64;

/// What one directory entry is to the plugin loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRole {
    /// `<type>.wasm`: the plugin of a task type.
    Wasm(String),
    /// `<type>.toml`: the manifest of a task type.
    Manifest(String),
    /// A `.wasm` or `.toml` file whose stem is not a valid task type; the
    /// string is the stem as written (lossily decoded) and the reason.
    InvalidName {
        /// The file stem as written.
        stem: String,
        /// Why it is not a valid task type.
        reason: String,
    },
    /// Anything else: not ours.
    Ignored,
}

/// Classifies a path by its file name alone (the file need not exist).
pub fn classify(path: &Path) -> FileRole {
    let Some(name) = path.file_name() else {
        return FileRole::Ignored;
    };
    let name = name.to_string_lossy();
    let (stem, is_wasm) = if let Some(stem) = name.strip_suffix(".wasm") {
        (stem, true)
    } else if let Some(stem) = name.strip_suffix(".toml") {
        (stem, false)
    } else {
        return FileRole::Ignored;
    };
    // Hidden files (`.echo.wasm.swp` never gets here, but `.echo.wasm` does)
    // are the usual temporary names of editors and `rsync`: not plugins.
    if stem.is_empty() || name.starts_with('.') {
        return FileRole::Ignored;
    }
    match validate_task_type(stem) {
        Ok(()) if is_wasm => FileRole::Wasm(stem.to_owned()),
        Ok(()) => FileRole::Manifest(stem.to_owned()),
        Err(reason) => FileRole::InvalidName {
            stem: stem.to_owned(),
            reason,
        },
    }
}

/// Checks a task type name: 1 to 64 characters out of `A-Z a-z 0-9 _ . -`.
///
/// The error says what is wrong and what is allowed.
pub fn validate_task_type(name: &str) -> Result<(), String> {
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "task type `{name}` contains {bad:?}; only letters, digits, `_`, `.` and `-` are allowed"
        ));
    }
    // Only ASCII is left here, so bytes are characters.
    if name.is_empty() || name.len() > MAX_TYPE_LEN {
        return Err(format!(
            "task type `{name}` is {} characters long; it must have 1 to {MAX_TYPE_LEN}",
            name.len()
        ));
    }
    Ok(())
}

/// The task types (stems) of the `.wasm` files in `dir`, valid or not.
pub(super) fn list_task_types(dir: &Path) -> Result<BTreeSet<String>, PluginDirError> {
    let list_error = |source| PluginDirError::List {
        path: dir.to_owned(),
        source,
    };
    let mut task_types = BTreeSet::new();
    for entry in std::fs::read_dir(dir).map_err(list_error)? {
        let path = entry.map_err(list_error)?.path();
        match classify(&path) {
            FileRole::Wasm(task_type) => {
                task_types.insert(task_type);
            }
            FileRole::InvalidName { stem, .. } if path.extension() == Some("wasm".as_ref()) => {
                task_types.insert(stem);
            }
            FileRole::Manifest(_) | FileRole::InvalidName { .. } => {}
            FileRole::Ignored => {
                debug!(file = %path.display(), "ignoring a file that is not <type>.wasm or <type>.toml")
            }
        }
    }
    Ok(task_types)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::PathBuf;

    #[test]
    fn roles_of_common_names() {
        let role = |name: &str| classify(&PathBuf::from("/plugins").join(name));
        assert_eq!(role("echo.wasm"), FileRole::Wasm("echo".into()));
        assert_eq!(role("echo-v2.wasm"), FileRole::Wasm("echo-v2".into()));
        assert_eq!(
            role("mail.send.toml"),
            FileRole::Manifest("mail.send".into())
        );
        assert_eq!(role("echo.wasm.tmp"), FileRole::Ignored);
        assert_eq!(role(".echo.wasm"), FileRole::Ignored);
        assert_eq!(role(".wasm"), FileRole::Ignored);
        assert_eq!(role("README.md"), FileRole::Ignored);
        assert_eq!(role("echo"), FileRole::Ignored);
        assert!(
            matches!(role("my queue.wasm"), FileRole::InvalidName { ref stem, .. } if stem == "my queue")
        );
        let long = format!("{}.wasm", "a".repeat(65));
        assert!(matches!(role(&long), FileRole::InvalidName { .. }));
    }

    #[test]
    fn errors_say_what_is_allowed() {
        let err = validate_task_type("a b").unwrap_err();
        assert!(
            err.contains("' '") && err.contains("only letters, digits"),
            "{err}"
        );
        let err = validate_task_type(&"x".repeat(70)).unwrap_err();
        assert!(
            err.contains("70 characters") && err.contains("1 to 64"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn valid_names_are_accepted(name in "[A-Za-z0-9_.-]{1,64}") {
            prop_assert_eq!(validate_task_type(&name), Ok(()));
        }

        #[test]
        fn names_with_other_characters_are_rejected(
            prefix in "[a-z]{0,10}",
            bad in "[^A-Za-z0-9_.-]",
            suffix in "[a-z]{0,10}",
        ) {
            let name = format!("{prefix}{bad}{suffix}");
            prop_assert!(validate_task_type(&name).is_err());
        }

        #[test]
        fn wasm_and_manifest_of_a_type_agree(name in "[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}") {
            let dir = PathBuf::from("/p");
            prop_assert_eq!(classify(&dir.join(format!("{name}.wasm"))), FileRole::Wasm(name.clone()));
            prop_assert_eq!(classify(&dir.join(format!("{name}.toml"))), FileRole::Manifest(name));
        }

        #[test]
        fn classify_never_panics(name in "\\PC{0,80}") {
            let _ = classify(&PathBuf::from("/p").join(name));
        }
    }
}
