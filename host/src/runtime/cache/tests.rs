//! Eviction on real files: which artifacts go, which stay, and that a hit
//! keeps its artifact.

use super::*;
use std::time::Duration;

fn artifact(dir: &Path, name: &str, size: usize, age_secs: u64) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, vec![0u8; size]).unwrap();
    let file = std::fs::File::options().append(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
        .unwrap();
    path
}

#[test]
fn the_least_recently_used_go_until_the_rest_fit() {
    let dir = tempfile::tempdir().unwrap();
    let oldest = artifact(dir.path(), "a-1.component.cwasm", 400, 300);
    let old = artifact(dir.path(), "b-1.module.cwasm", 400, 200);
    let recent = artifact(dir.path(), "c-1.component.cwasm", 400, 100);
    let kept = artifact(dir.path(), "d-1.component.cwasm", 400, 0);
    let foreign = artifact(dir.path(), "notes.txt", 10_000, 1000);

    let removed = evict(dir.path(), 900, &kept).unwrap();
    assert_eq!(removed, vec![oldest.clone(), old.clone()]);
    assert!(!oldest.exists() && !old.exists());
    assert!(recent.exists() && kept.exists());
    assert!(
        foreign.exists(),
        "files that are not artifacts are left alone"
    );

    // Within the bound, nothing goes.
    assert!(evict(dir.path(), 900, &kept).unwrap().is_empty());
}

#[test]
fn the_artifact_just_stored_stays_even_alone_over_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let big = artifact(dir.path(), "big-1.component.cwasm", 5_000, 0);
    let other = artifact(dir.path(), "x-1.component.cwasm", 10, 0);
    let removed = evict(dir.path(), 1_000, &big).unwrap();
    assert_eq!(removed, vec![other]);
    assert!(big.exists());
}

#[test]
fn a_hit_moves_its_artifact_to_the_back_of_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let used = artifact(dir.path(), "used-1.component.cwasm", 400, 300);
    let idle = artifact(dir.path(), "idle-1.component.cwasm", 400, 200);
    let new = artifact(dir.path(), "new-1.component.cwasm", 400, 0);
    touch(&used);
    let removed = evict(dir.path(), 800, &new).unwrap();
    assert_eq!(removed, vec![idle]);
    assert!(used.exists());
}

#[test]
fn leftover_temp_files_count_and_go_first_when_old() {
    let dir = tempfile::tempdir().unwrap();
    let temp = artifact(dir.path(), ".tmpAbc123", 400, 500);
    let new = artifact(dir.path(), "n-1.component.cwasm", 400, 0);
    assert_eq!(evict(dir.path(), 500, &new).unwrap(), vec![temp]);
}
