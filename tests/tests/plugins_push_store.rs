//! The store behind `wasmq plugins push`, driven through the broker as
//! the CLI and the hosts drive it, on a standalone server and a cluster:
//! modules in 1 MiB chunks checked on the way back, a history bounded to
//! the newest versions plus the one serving, bodies shared by content and
//! deleted when no kept version needs them, the board hosts poll, and
//! removal.

use std::path::Path;
use wasmq::broker::{HISTORY_KEEP, PluginStoreError};
use wasmq::runtime::DEFAULT_MAX_PLUGIN_SIZE;
use wasmq_tests::backends::Raw;
use wasmq_tests::both_backends;
use wasmq_tests::broker::client;

/// The hex SHA-256 of `bytes`, as the host computes it.
fn sha(bytes: &[u8]) -> String {
    wasmq::runtime::PluginFile::new(Path::new("-"), bytes.to_vec(), None)
        .sha256()
        .to_owned()
}

async fn the_store_keeps_a_bounded_history_in_chunks(url: String) {
    let client = client(&url).await;
    let mut raw = Raw::open(&url).await;
    let max = DEFAULT_MAX_PLUGIN_SIZE;
    // 2.5 MiB of varied bytes: three chunks.
    let big: Vec<u8> = (0..(5 << 19) as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let small = |i: u64| format!("module {i}").into_bytes();
    let body = |bytes: &[u8]| format!("wasmq:{{plugin:echo}}:body:{}", sha(bytes));

    let moved = client
        .plugin_push("echo", &big, Some("fuel = 5"), max)
        .await
        .unwrap();
    assert_eq!((moved.version, moved.moved), (1, true));
    let current = client.plugin_current("echo").await.unwrap().unwrap();
    assert_eq!((current.chunks, current.size), (3, big.len() as u64));
    assert_eq!(current.manifest.as_deref(), Some("fuel = 5"));
    assert_eq!(client.plugin_download("echo", &current).await.unwrap(), big);
    // A chunk lost behind the broker's back is reported, not served.
    let _: i64 = raw.run(&["HDEL", &body(&big), "1"]).await;
    let damaged = client.plugin_download("echo", &current).await.unwrap_err();
    assert!(
        matches!(damaged, PluginStoreError::Damaged { .. })
            && damaged.to_string().contains("chunk 1 of 3"),
        "{damaged}"
    );
    let same = client
        .plugin_push("echo", &big, Some("fuel = 5"), max)
        .await
        .unwrap();
    assert!(
        !same.moved,
        "the current module and manifest again: nothing changes"
    );
    assert!(matches!(
        client.plugin_rollback("echo", None).await,
        Err(PluginStoreError::NoOlderVersion { current: 1, .. })
    ));
    // A new manifest for the damaged module: its body is uploaded whole again.
    let moved = client
        .plugin_push("echo", &big, Some("fuel = 6"), max)
        .await
        .unwrap();
    assert_eq!(moved.version, 2);
    let current = client.plugin_current("echo").await.unwrap().unwrap();
    assert_eq!(client.plugin_download("echo", &current).await.unwrap(), big);

    // 22 versions in all: the oldest two fall off, and their body with them.
    for i in 3..=22 {
        let moved = client
            .plugin_push("echo", &small(i), None, max)
            .await
            .unwrap();
        assert_eq!(moved.version, i);
    }
    let numbers = |h: &wasmq::broker::PluginHistory| -> Vec<u64> {
        h.versions.iter().map(|v| v.version).collect()
    };
    let history = client.plugin_history("echo").await.unwrap().unwrap();
    assert_eq!(history.versions.len(), HISTORY_KEEP);
    assert_eq!(numbers(&history), (3..=22).rev().collect::<Vec<u64>>());
    let gone: i64 = raw.run(&["EXISTS", &body(&big)]).await;
    assert_eq!(gone, 0, "the body of versions that fell off is deleted");
    let kept: i64 = raw.run(&["EXISTS", &body(&small(3))]).await;
    assert_eq!(kept, 1);

    // The version serving is kept past the limit until something replaces it.
    client.plugin_rollback("echo", Some(3)).await.unwrap();
    client
        .plugin_push("echo", &small(23), None, max)
        .await
        .unwrap();
    let history = client.plugin_history("echo").await.unwrap().unwrap();
    assert_eq!(history.versions.len(), HISTORY_KEEP + 1);
    assert!(numbers(&history).contains(&3));
    client
        .plugin_push("echo", &small(24), None, max)
        .await
        .unwrap();
    let history = client.plugin_history("echo").await.unwrap().unwrap();
    assert_eq!(numbers(&history), (5..=24).rev().collect::<Vec<u64>>());

    // Content-addressed: an older module pushed again reuses its body.
    let again = client
        .plugin_push("echo", &small(6), None, max)
        .await
        .unwrap();
    assert_eq!(again.version, 25);
    let history = client.plugin_history("echo").await.unwrap().unwrap();
    let shas: Vec<&str> = history.versions.iter().map(|v| v.sha256.as_str()).collect();
    assert_eq!(shas.iter().filter(|s| **s == sha(&small(6))).count(), 2);
    let board = client.plugin_board().await.unwrap();
    assert_eq!(board["echo"].version, 25);
    assert_eq!(board["echo"].sha256, sha(&small(6)));
    let back = client.plugin_rollback("echo", None).await.unwrap();
    assert_eq!((back.version, back.moved), (24, true));
    assert_eq!(
        client.plugin_board().await.unwrap()["echo"].sha256,
        sha(&small(24))
    );

    // Unknown types and versions, and sizes, are refused with what to do.
    let err = client
        .plugin_rollback("ghost", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no plugin is pushed for task type `ghost`"),
        "{err}"
    );
    let err = client
        .plugin_rollback("echo", Some(3))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has no version 3") && err.contains("24, 23"),
        "{err}"
    );
    let err = client
        .plugin_push("echo", &small(1), None, 3)
        .await
        .unwrap_err();
    assert!(matches!(err, PluginStoreError::Refused(_)), "{err}");
    assert!(client.plugin_history("ghost").await.unwrap().is_none());

    // Removed: every version and body goes, the board says so (version 0),
    // and numbers go on from where they were.
    assert_eq!(client.plugin_remove("echo").await.unwrap(), 24);
    for key in [
        "wasmq:{plugin:echo}:versions".to_owned(),
        body(&small(6)),
        body(&small(24)),
    ] {
        let left: i64 = raw.run(&["EXISTS", &key]).await;
        assert_eq!(left, 0, "{key} is deleted");
    }
    assert!(client.plugin_current("echo").await.unwrap().is_none());
    assert!(client.plugin_history("echo").await.unwrap().is_none());
    let board = client.plugin_board().await.unwrap();
    assert!(board["echo"].is_removed(), "{:?}", board["echo"]);
    let again = client.plugin_remove("echo").await.unwrap_err().to_string();
    assert!(again.contains("never pushed, or removed"), "{again}");
    assert!(matches!(
        client.plugin_rollback("echo", Some(24)).await,
        Err(PluginStoreError::UnknownType { .. })
    ));
    let back = client
        .plugin_push("echo", &small(1), None, max)
        .await
        .unwrap();
    assert_eq!(back.version, 26);
    let board = client.plugin_board().await.unwrap();
    assert_eq!(
        (board["echo"].version, board["echo"].is_removed()),
        (26, false)
    );
}

both_backends!(the_store_keeps_a_bounded_history_in_chunks);
