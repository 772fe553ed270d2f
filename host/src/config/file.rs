//! Reading a file an operator dropped into a directory, safely.
//!
//! Plugins and their manifests come from a directory that anyone with write
//! access to it controls, and the host reads it unattended. A plain
//! `std::fs::read` trusts that directory three ways, and each is a way to
//! hang or exhaust the host:
//!
//! * **Special files.** Opening a FIFO for reading blocks until a writer
//!   appears, forever if none does; a device can stream without end. So the
//!   path is `lstat`ed first and only a regular file is opened, the open is
//!   non-blocking (a FIFO swapped in after the check cannot block it either),
//!   and the opened handle is `fstat`ed again, since the name may now point
//!   at something else than what was checked.
//! * **Size.** The file is read through `take(max + 1)`, so a file that grows
//!   while it is read is refused at the cap instead of being read whole.
//! * **Symlinks.** With a `confine` directory, a symlink is followed only if
//!   its fully resolved target lies inside that directory (itself resolved,
//!   so a plugins directory that is a symlink works). That keeps in-directory
//!   layouts working, such as `echo.wasm -> releases/echo-3.wasm` or the
//!   `..data/` links of a Kubernetes volume, while a link to a file outside
//!   (`ln -s /etc/shadow x.toml`, or a file another user controls) is
//!   refused with an error that names both ends. The resolved target is then
//!   opened with `O_NOFOLLOW`. Without `confine` (a path typed by a user, as
//!   in `wasmq call FILE`), symlinks are followed.
//!
//! The bytes are returned in one piece so that whatever is derived from the
//! file (its hash, its compiled code) comes from one read of it.

use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file could not be read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Nothing exists at the path.
    #[error("cannot read {what} {}: it does not exist", path.display())]
    NotFound {
        /// The path.
        path: PathBuf,
        /// What the file should have been.
        what: &'static str,
    },
    /// The path is a directory, FIFO, socket or device.
    #[error(
        "{} is not a regular file: it is {kind}; a {what} must be a regular file, so replace it with the file itself",
        path.display()
    )]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is instead, e.g. "a FIFO (named pipe)".
        kind: &'static str,
        /// What the file should have been, e.g. "plugin".
        what: &'static str,
    },
    /// A symlink whose target is outside the confining directory.
    #[error(
        "{} is a symlink to {}, outside {}; symlinks in this directory may only point inside it, so copy the file in instead",
        path.display(), target.display(), dir.display()
    )]
    OutsideDirectory {
        /// The symlink.
        path: PathBuf,
        /// Its resolved target.
        target: PathBuf,
        /// The resolved confining directory.
        dir: PathBuf,
    },
    /// A symlink whose target does not exist.
    #[error("{} is a symlink to {}, which does not exist; fix or remove the link", path.display(), target.display())]
    DanglingSymlink {
        /// The symlink.
        path: PathBuf,
        /// What it points to, as written in the link.
        target: PathBuf,
    },
    /// The file is larger than the cap.
    #[error(
        "{} is {size} bytes, above the {max} byte limit for a {what}; is it the right file?",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size, or at least how much of it was read before the cap.
        size: u64,
        /// The cap.
        max: u64,
        /// What the file is, e.g. "plugin manifest".
        what: &'static str,
    },
    /// An I/O error.
    #[error("cannot read {} {}: {source}", what, path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file is.
        what: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl FileError {
    /// Whether nothing exists at the path (a dangling symlink does exist).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::NotFound { .. })
    }
}

/// How to read one kind of file.
#[derive(Debug, Clone, Copy)]
pub struct FileRules<'a> {
    /// What the file is, for messages: "plugin", "plugin manifest".
    pub what: &'static str,
    /// The largest size accepted, in bytes.
    pub max: u64,
    /// If set, a symlink must resolve to a file inside this directory.
    pub confine: Option<&'a Path>,
}

/// Reads the regular file at `path` whole, by `rules`; see the module docs.
pub fn read_regular_file(path: &Path, rules: FileRules<'_>) -> Result<Vec<u8>, FileError> {
    let io = |source| FileError::Read {
        path: path.to_owned(),
        what: rules.what,
        source,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FileError::NotFound {
                path: path.to_owned(),
                what: rules.what,
            });
        }
        other => other.map_err(io)?,
    };
    let (open_path, meta) = if meta.file_type().is_symlink() {
        let target = resolve_symlink(path, rules)?;
        let meta = std::fs::metadata(&target).map_err(io)?;
        (target, meta)
    } else {
        (path.to_owned(), meta)
    };
    check(path, &meta, rules)?;
    let file = open(&open_path, rules.confine.is_some()).map_err(io)?;
    // The name may have been swapped since the check: check the handle.
    let meta = file.metadata().map_err(io)?;
    check(path, &meta, rules)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(rules.max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let read = bytes.len() as u64;
    if read > rules.max {
        return Err(too_large(path, read, rules));
    }
    Ok(bytes)
}

/// The target of the symlink `path`, which must exist and, when confined,
/// lie inside the confining directory.
fn resolve_symlink(path: &Path, rules: FileRules<'_>) -> Result<PathBuf, FileError> {
    let io = |source| FileError::Read {
        path: path.to_owned(),
        what: rules.what,
        source,
    };
    let target = match std::fs::canonicalize(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FileError::DanglingSymlink {
                path: path.to_owned(),
                target: std::fs::read_link(path).map_err(io)?,
            });
        }
        other => other.map_err(io)?,
    };
    if let Some(dir) = rules.confine {
        let dir = std::fs::canonicalize(dir).map_err(io)?;
        if !target.starts_with(&dir) {
            return Err(FileError::OutsideDirectory {
                path: path.to_owned(),
                target,
                dir,
            });
        }
    }
    Ok(target)
}

/// Refuses anything but a regular file within the cap.
fn check(path: &Path, meta: &Metadata, rules: FileRules<'_>) -> Result<(), FileError> {
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            path: path.to_owned(),
            kind: describe(meta.file_type()),
            what: rules.what,
        });
    }
    if meta.len() > rules.max {
        return Err(too_large(path, meta.len(), rules));
    }
    Ok(())
}

fn too_large(path: &Path, size: u64, rules: FileRules<'_>) -> FileError {
    FileError::TooLarge {
        path: path.to_owned(),
        size,
        max: rules.max,
        what: rules.what,
    }
}

/// Opens for reading without blocking on a FIFO and, for a resolved path,
/// without following a symlink swapped in since.
fn open(path: &Path, no_follow: bool) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let follow = if no_follow { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(libc::O_NONBLOCK | follow);
    }
    #[cfg(not(unix))]
    let _ = no_follow;
    options.open(path)
}

/// What a file that is not regular is, in words.
fn describe(file_type: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symlink"
    } else {
        "a special file"
    }
}

#[cfg(all(test, unix))]
mod tests;
