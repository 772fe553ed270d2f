//! Unit tests of `[capabilities]`, `[config]` and `[secrets]`, through the
//! manifest parser so that every message is checked as an operator sees it.

use super::super::manifest::PluginManifest;
use super::*;
use proptest::prelude::*;

fn parse(text: &str) -> Result<PluginManifest, ManifestError> {
    PluginManifest::parse(text, Path::new("plugins/email.toml"))
}

/// The error of `text`, which must mention the file.
fn error(text: &str) -> String {
    let message = parse(text).unwrap_err().to_string();
    assert!(message.starts_with("plugins/email.toml"), "{message}");
    message
}

fn entries(count: usize, line: impl Fn(usize) -> String) -> String {
    (0..count).map(line).collect::<Vec<_>>().join("\n")
}

#[test]
fn http_limits_take_bytes_or_size_text() {
    let manifest = parse(
        "[capabilities]\nhttp = [\"*://*:*\"]\nhttp_max_requests = 1000\nhttp_max_response = 1",
    )
    .unwrap();
    assert_eq!(manifest.capabilities.http_max_requests, 1000);
    assert_eq!(manifest.capabilities.http_max_response, 1);
    let manifest =
        parse("[capabilities]\nhttp = [\"https://a.example\"]\nhttp_max_response = \"64MiB\"")
            .unwrap();
    assert_eq!(manifest.capabilities.http_max_response, MAX_HTTP_RESPONSE);
    assert!(!manifest.capabilities.is_empty());
}

#[test]
fn bad_capabilities_name_the_key_and_what_to_do() {
    let http = "[capabilities]\nhttp = [\"https://a.example\"]\n";
    for (text, expected) in [
        (
            "[capabilities]\nhttp = [\"https://ok.example\", \"ftp://x\"]".to_owned(),
            "`[capabilities] http` entry `ftp://x`: scheme `ftp` is not supported; use http, https or *",
        ),
        (
            "[capabilities]\nhttp = [\"api.example.com\"]".to_owned(),
            "`[capabilities] http` entry `api.example.com`: no scheme",
        ),
        (
            format!("{http}http_max_requests = 0"),
            "`[capabilities] http_max_requests` must be between 1 and 1000, got 0",
        ),
        (
            format!("{http}http_max_requests = 1001"),
            "`[capabilities] http_max_requests` must be between 1 and 1000, got 1001",
        ),
        (
            format!("{http}http_max_response = 0"),
            "`[capabilities] http_max_response` must be between 1 byte and 64MiB, got 0 B",
        ),
        (
            format!("{http}http_max_response = \"65MiB\""),
            "`[capabilities] http_max_response` must be between 1 byte and 64MiB",
        ),
        (
            format!("{http}http_max_response = \"lots\""),
            "`[capabilities] http_max_response` `lots` is not a size",
        ),
        (
            format!("{http}http_max_response = -1"),
            "`[capabilities] http_max_response` must be positive, got -1",
        ),
        (
            "[capabilities]\nhttp_max_requests = 4".to_owned(),
            "`[capabilities] http_max_requests` is set but no host is granted; grant http first",
        ),
        (
            "[capabilities]\nhttp = []\nhttp_max_response = \"1MiB\"".to_owned(),
            "`[capabilities] http_max_response` is set but no host is granted; grant http first",
        ),
        (
            "[capabilities]\nkv = [\"Thumbnails\"]".to_owned(),
            "`[capabilities] kv` bucket `Thumbnails` is not a valid name: write 1 to 64",
        ),
        (
            "[capabilities]\nkv = [\"\"]".to_owned(),
            "`[capabilities] kv` bucket `` is not a valid name",
        ),
        (
            format!("[capabilities]\nkv = [\"{}\"]", "a".repeat(65)),
            "is not a valid name",
        ),
        (
            "[capabilities]\nkv = [\"a.b\"]".to_owned(),
            "bucket `a.b` is not a valid name",
        ),
        (
            "[capabilities]\nkv = [\"cache\", \"x\", \"cache\"]".to_owned(),
            "`[capabilities] kv` lists bucket `cache` twice; list it once",
        ),
        (
            format!(
                "[capabilities]\nkv = [{}]",
                entries(17, |i| format!("\"b{i}\"")).replace('\n', ",")
            ),
            "`[capabilities] kv` has 17 buckets, more than the 16 allowed",
        ),
        (
            format!(
                "[capabilities]\nhttp = [{}]",
                entries(65, |i| format!("\"https://h{i}.example\"")).replace('\n', ",")
            ),
            "`[capabilities] http` has 65 entries, more than the 64 allowed",
        ),
    ] {
        let message = error(&text);
        assert!(message.contains(expected), "{text}: {message}");
    }
}

#[test]
fn wrong_types_in_the_tables_give_the_line() {
    for (text, expected) in [
        ("[capabilities]\nhttp = \"https://a.example\"", "line 2"),
        ("[capabilities]\nkv = [1]", "line 2"),
        ("[config]\nport = 8025", "line 2 (`port = 8025`)"),
        ("[secrets]\ntoken = 5", "line 2 (`token = 5`)"),
        ("capabilities = 5", "line 1"),
    ] {
        let err = parse(text).unwrap_err();
        assert!(matches!(err, ManifestError::Syntax { .. }), "{text}: {err}");
        assert!(err.to_string().contains(expected), "{text}: {err}");
    }
}

#[test]
fn bad_config_and_secrets_name_the_key() {
    for (text, expected) in [
        (
            "[config]\n\"Mail API\" = \"x\"".to_owned(),
            "`[config] Mail API` is not a valid key: write 1 to 64 characters of a-z, 0-9, `_`, `.` and `-`",
        ),
        (
            "[config]\n\"\" = \"x\"".to_owned(),
            "`[config] \"\"` is not a valid key",
        ),
        (
            format!("[config]\n{} = \"x\"", "k".repeat(65)),
            "is not a valid key",
        ),
        (
            format!("[config]\nbig = \"{}\"", "x".repeat(4097)),
            "`[config] big` is 4097 bytes, more than the 4096 allowed",
        ),
        (
            format!("[config]\n{}", entries(65, |i| format!("k{i} = \"v\""))),
            "`[config]` has 65 entries, more than the 64 allowed",
        ),
        (
            format!(
                "[secrets]\n{}",
                entries(65, |i| format!("k{i} = \"env:K\""))
            ),
            "`[secrets]` has 65 entries, more than the 64 allowed",
        ),
        (
            "[secrets]\nMailToken = \"env:X\"".to_owned(),
            "`[secrets] MailToken` is not a valid key",
        ),
        (
            "[secrets]\ntoken = \"env:9X\"".to_owned(),
            "`[secrets] token` `env:9X` does not name a valid environment variable",
        ),
        (
            "[secrets]\ntoken = \"file:run/x\"".to_owned(),
            "`[secrets] token` `file:run/x` is not an absolute path",
        ),
        (
            "[config]\ntoken = \"a\"\n[secrets]\ntoken = \"env:X\"".to_owned(),
            "`[secrets] token` is also in [config]; a key is either config or a secret",
        ),
    ] {
        let message = error(&text);
        assert!(message.contains(expected), "{text}: {message}");
    }
}

#[test]
fn a_secret_written_into_the_manifest_is_not_echoed() {
    let message = error("[secrets]\ntoken = \"sk_live_51Hx\"");
    assert!(
        message.contains("`[secrets] token` is not a secret source"),
        "{message}"
    );
    assert!(!message.contains("sk_live_51Hx"), "{message}");
}

#[test]
fn limits_at_their_bounds_are_accepted() {
    let text = format!(
        "[capabilities]\nhttp = [{}]\nkv = [{}]\n[config]\n{}\nbig = \"{}\"\n[secrets]\n{}",
        entries(64, |i| format!("\"https://h{i}.example\"")).replace('\n', ","),
        entries(16, |i| format!("\"b{i}\"")).replace('\n', ","),
        entries(63, |i| format!("c{i} = \"v\"")),
        "x".repeat(4096),
        entries(64, |i| format!("s{i} = \"file:/run/s{i}\"")),
    );
    let manifest = parse(&text).unwrap();
    assert_eq!(manifest.capabilities.http.rules().len(), 64);
    assert_eq!(manifest.capabilities.kv.len(), 16);
    assert_eq!(manifest.config.len(), 64);
    assert_eq!(manifest.secrets.len(), 64);
}

#[test]
fn grants_are_summarised_by_name_only() {
    let manifest = parse(
        "[capabilities]\nhttp = [\"https://*.example.com\"]\nkv = [\"b\"]\n[config]\nk = \"v\"\n[secrets]\ns = \"env:S\"\n",
    )
    .unwrap();
    let grants = manifest.grants();
    assert_eq!(grants.http, ["https://*.example.com"]);
    assert_eq!(
        (grants.kv, grants.config, grants.secrets),
        (
            vec!["b".to_owned()],
            vec!["k".to_owned()],
            vec!["s".to_owned()]
        )
    );
}

#[test]
fn kv_bounds_and_expiry_are_checked() {
    let manifest = parse(
        "[capabilities]\nkv = [\"a\", \"b\"]\nkv_max_value = \"2MiB\"\nkv_ttl = { a = \"7d\" }\n",
    )
    .unwrap();
    assert_eq!(manifest.capabilities.kv_max_value, 2 << 20);
    assert_eq!(
        manifest.capabilities.kv_ttl.get("a"),
        Some(&std::time::Duration::from_secs(7 * 86400))
    );
    assert!(!manifest.capabilities.kv_ttl.contains_key("b"));
    for (text, needle) in [
        ("kv_max_value = 10", "grant a bucket first"),
        ("kv = [\"a\"]\nkv_max_value = \"17MiB\"", "16MiB"),
        (
            "kv = [\"a\"]\nkv_ttl = { b = \"1h\" }",
            "`b`, which `kv` does not grant",
        ),
        (
            "kv = [\"a\"]\nkv_ttl = { a = \"0s\" }",
            "between 1s and 365d",
        ),
    ] {
        let message = error(&format!("[capabilities]\n{text}\n"));
        assert!(message.contains(needle), "{text}: {message}");
    }
}

#[test]
fn enqueue_grants_task_types_with_a_bounded_child_cap() {
    let manifest = parse("[capabilities]\nenqueue = [\"email\", \"image\"]\n").unwrap();
    assert_eq!(manifest.capabilities.enqueue, ["email", "image"]);
    assert_eq!(
        manifest.capabilities.enqueue_max_children,
        crate::task::DEFAULT_MAX_CHILDREN
    );
    assert_eq!(manifest.grants().enqueue, ["email", "image"]);
    let manifest =
        parse("[capabilities]\nenqueue = [\"echo\"]\nenqueue_max_children = 5\n").unwrap();
    assert_eq!(manifest.capabilities.enqueue_max_children, 5);
    for (text, needle) in [
        ("enqueue = [\"a{b}\"]", "invalid queue name"),
        ("enqueue = [\"a\", \"a\"]", "twice"),
        ("enqueue_max_children = 5", "no task type is granted"),
        (
            "enqueue = [\"a\"]\nenqueue_max_children = 1001",
            "between 1 and 1000",
        ),
        (
            "enqueue = [\"a\"]\nenqueue_max_children = 0",
            "between 1 and 1000",
        ),
    ] {
        let message = error(&format!("[capabilities]\n{text}\n"));
        assert!(message.contains(needle), "{text}: {message}");
    }
}

proptest! {
    #[test]
    fn valid_keys_and_buckets_are_accepted(
        key in "[a-z0-9_.-]{1,64}",
        bucket in "[a-z0-9_-]{1,64}",
        value in "[ -~]{0,100}",
    ) {
        let text = format!(
            "[capabilities]\nkv = [\"{bucket}\"]\n[config]\n\"{key}\" = '{}'\n",
            value.replace('\'', "")
        );
        let manifest = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&manifest.capabilities.kv, &vec![bucket]);
        prop_assert!(manifest.config.contains_key(&key));
    }

    #[test]
    fn keys_outside_the_alphabet_are_refused(key in "[a-z]{0,5}[A-Z /:@]+[a-z]{0,5}") {
        let text = format!("[config]\n\"{key}\" = \"v\"");
        prop_assert!(parse(&text).is_err());
        let text = format!("[capabilities]\nkv = [\"{key}\"]");
        prop_assert!(parse(&text).is_err());
    }
}
