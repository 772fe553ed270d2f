//! Unit tests of the safe file read: each refusal, and what is accepted.

use super::*;
use std::sync::mpsc;
use std::time::Duration;

fn rules(max: u64, confine: Option<&Path>) -> FileRules<'_> {
    FileRules {
        what: "plugin",
        max,
        confine,
    }
}

/// Reads on another thread so that a read that blocks fails the test
/// instead of hanging it (the stuck thread is left behind).
fn read_bounded(path: &Path, max: u64, confine: Option<&Path>) -> Result<Vec<u8>, FileError> {
    let (path, confine) = (path.to_owned(), confine.map(Path::to_owned));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read_regular_file(&path, rules(max, confine.as_deref())));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the read returns instead of blocking")
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("x.wasm");
    mkfifo(&fifo);
    let err = read_bounded(&fifo, 1024, Some(dir.path())).unwrap_err();
    assert!(matches!(err, FileError::NotRegular { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("x.wasm")
            && message.contains("not a regular file: it is a FIFO")
            && message.contains("a plugin must be a regular file"),
        "{message}"
    );
}

#[test]
fn a_directory_or_a_device_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("x.wasm");
    std::fs::create_dir(&sub).unwrap();
    let err = read_bounded(&sub, 1024, None).unwrap_err();
    assert!(err.to_string().contains("it is a directory"), "{err}");

    let err = read_bounded(Path::new("/dev/zero"), 1024, None).unwrap_err();
    assert!(
        err.to_string().contains("it is a character device"),
        "{err}"
    );
}

#[test]
fn the_cap_is_inclusive_and_a_missing_file_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.toml");
    std::fs::write(&file, b"12345").unwrap();
    assert_eq!(read_bounded(&file, 5, None).unwrap(), b"12345");
    let err = read_bounded(&file, 4, None).unwrap_err();
    assert!(
        matches!(
            err,
            FileError::TooLarge {
                size: 5,
                max: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("above the 4 byte limit"), "{err}");

    let err = read_bounded(&dir.path().join("nope.toml"), 5, None).unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[test]
fn symlinks_are_followed_only_inside_the_confining_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("plugins");
    std::fs::create_dir_all(dir.join("releases")).unwrap();
    std::fs::write(dir.join("releases/echo-3.wasm"), b"inside").unwrap();
    std::fs::write(root.path().join("secret"), b"outside").unwrap();

    let inside = dir.join("echo.wasm");
    std::os::unix::fs::symlink("releases/echo-3.wasm", &inside).unwrap();
    assert_eq!(read_bounded(&inside, 64, Some(&dir)).unwrap(), b"inside");

    let outside = dir.join("leak.wasm");
    std::os::unix::fs::symlink("../secret", &outside).unwrap();
    let err = read_bounded(&outside, 64, Some(&dir)).unwrap_err();
    assert!(matches!(err, FileError::OutsideDirectory { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("leak.wasm") && message.contains("secret") && message.contains("outside"),
        "{message}"
    );
    // Unconfined (a path the user typed), the same link is followed.
    assert_eq!(read_bounded(&outside, 64, None).unwrap(), b"outside");

    // A plugins directory reached through a symlink still confines.
    let alias = root.path().join("alias");
    std::os::unix::fs::symlink(&dir, &alias).unwrap();
    let through = alias.join("echo.wasm");
    assert_eq!(read_bounded(&through, 64, Some(&alias)).unwrap(), b"inside");

    let dangling = dir.join("gone.wasm");
    std::os::unix::fs::symlink("releases/gone.wasm", &dangling).unwrap();
    let err = read_bounded(&dangling, 64, Some(&dir)).unwrap_err();
    assert!(matches!(err, FileError::DanglingSymlink { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
}
