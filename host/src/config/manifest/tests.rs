//! Unit tests of manifest parsing: every accepted form and every rejection.

use super::*;

fn parse(text: &str) -> Result<PluginManifest, ManifestError> {
    PluginManifest::parse(text, Path::new("plugins/email.toml"))
}

#[test]
fn empty_manifest_sets_nothing() {
    assert_eq!(parse("").unwrap(), PluginManifest::default());
}

#[test]
fn full_manifest_parses() {
    let manifest = parse(
        r#"
        fuel = 5_000_000
        timeout = "2s"
        memory = "128MiB"
        max_output = 4096
        max_concurrency = 4
        max_retries = 0
        backoff_base = "500ms"
        backoff_cap = "5m"

        [capabilities]
        http = ["https://api.example.com", "https://*.mailgun.net:443", "http://127.0.0.1:8025"]
        http_max_requests = 32
        http_max_response = "8MiB"
        kv = ["thumbnails", "cache"]

        [config]
        mail_api = "http://127.0.0.1:8025/send"

        [secrets]
        mail_token = "env:MAILER_KEY"
        signing_key = "file:/run/secrets/signing"
        "#,
    )
    .unwrap();
    assert_eq!(manifest.fuel, Some(5_000_000));
    assert_eq!(manifest.timeout, Some(Duration::from_secs(2)));
    assert_eq!(manifest.memory, Some(128 << 20));
    assert_eq!(manifest.max_output, Some(4096));
    assert_eq!(manifest.max_concurrency, Some(4));
    assert_eq!(manifest.max_retries, Some(0));
    assert_eq!(manifest.backoff_base, Some(Duration::from_millis(500)));
    assert_eq!(manifest.backoff_cap, Some(Duration::from_secs(300)));
    let granted = &manifest.capabilities;
    assert_eq!(
        granted.http.to_string(),
        "https://api.example.com, https://*.mailgun.net:443, http://127.0.0.1:8025"
    );
    assert!(granted.http.allows("https", "eu.mailgun.net", None));
    assert_eq!(granted.http_max_requests, 32);
    assert_eq!(granted.http_max_response, 8 << 20);
    assert_eq!(granted.kv, ["thumbnails", "cache"]);
    assert_eq!(manifest.config["mail_api"], "http://127.0.0.1:8025/send");
    assert_eq!(
        manifest.secrets["mail_token"],
        SecretSource::Env("MAILER_KEY".to_owned())
    );
    assert_eq!(
        manifest.secrets["signing_key"],
        SecretSource::File(PathBuf::from("/run/secrets/signing"))
    );
}

#[test]
fn absent_tables_grant_nothing() {
    let manifest = parse(
        "fuel = 5
[capabilities]
[config]
[secrets]",
    )
    .unwrap();
    assert!(manifest.capabilities.is_empty());
    assert_eq!(manifest.capabilities, Capabilities::default());
    assert_eq!(manifest.capabilities.http_max_requests, 16);
    assert_eq!(manifest.capabilities.http_max_response, 4 << 20);
    assert!(manifest.config.is_empty() && manifest.secrets.is_empty());
}

#[test]
fn unknown_key_names_file_key_and_allowed_keys() {
    let err = parse("fuel = 5\nfule = 5").unwrap_err().to_string();
    assert!(
        err.contains("line 2 (`fule = 5`): unknown key `fule`"),
        "{err}"
    );
    assert!(err.contains("plugins/email.toml"), "{err}");
    assert!(err.contains("fule"), "{err}");
    assert!(err.contains("allowed keys: fuel, timeout"), "{err}");
    assert!(
        err.ends_with("throttle_on_retry_after, [capabilities], [config], [secrets]"),
        "{err}"
    );
}

#[test]
fn wrong_types_and_syntax_are_reported() {
    let err = parse("timeout = 2").unwrap_err().to_string();
    assert!(
        err.contains("plugins/email.toml") && err.contains("timeout"),
        "{err}"
    );
    assert!(matches!(
        parse("fuel = ").unwrap_err(),
        ManifestError::Syntax { .. }
    ));
}

#[test]
fn bad_values_name_the_key() {
    let cases = [
        ("fuel = 0", "`fuel` must be between 1"),
        ("fuel = -5", "`fuel` must be positive, got -5"),
        ("timeout = \"soon\"", "`timeout` `soon` is not a duration"),
        ("timeout = \"0s\"", "`timeout` must be between 1ms"),
        (
            "memory = \"1KiB\"",
            "`memory` must be between 64KiB and 4GiB",
        ),
        ("memory = \"lots\"", "`memory` `lots` is not a size"),
        (
            "memory = \"16GiB\"",
            "`memory` must be between 64KiB and 4GiB",
        ),
        ("max_output = 0", "`max_output` must be between 1 byte"),
        (
            "max_concurrency = 0",
            "`max_concurrency` must be between 1 and 1024, got 0",
        ),
        (
            "max_retries = -1",
            "`max_retries` must be between 0 and 1000, got -1",
        ),
        (
            "backoff_base = \"0s\"",
            "`backoff_base` must be between 1ms and 7 days",
        ),
        (
            "backoff_base = \"1m\"\nbackoff_cap = \"1s\"",
            "`backoff_cap` (1s) is shorter than backoff_base (1m)",
        ),
    ];
    for (text, expected) in cases {
        let err = parse(text).unwrap_err();
        assert!(
            matches!(err, ManifestError::Invalid { .. }),
            "{text}: {err}"
        );
        let message = err.to_string();
        assert!(message.contains("plugins/email.toml"), "{message}");
        assert!(message.contains(expected), "{text}: {message}");
    }
}

#[test]
fn an_unknown_capability_lists_the_known_ones() {
    let err = parse("[capabilities]\nkv = []\nsmtp = true").unwrap_err();
    assert!(matches!(err, ManifestError::Syntax { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("plugins/email.toml")
            && message.contains(
                "line 3 (`smtp = true`): unknown key `smtp` in [capabilities]; \
                 allowed keys: http, http_max_requests, http_max_response, kv"
            ),
        "{message}"
    );
    let message = parse("[grants]\nhttp = true").unwrap_err().to_string();
    assert!(
        message.contains("unknown key `grants`; [grants] is now [capabilities]"),
        "{message}"
    );
}

#[test]
fn load_for_finds_the_toml_next_to_the_wasm() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("echo.wasm");
    assert_eq!(PluginManifest::load_for(&wasm, None).unwrap(), None);
    std::fs::write(dir.path().join("echo.toml"), "fuel = 7").unwrap();
    let manifest = PluginManifest::load_for(&wasm, None).unwrap().unwrap();
    assert_eq!(manifest.fuel, Some(7));
    std::fs::write(dir.path().join("echo.toml"), "fuel = 0").unwrap();
    let err = PluginManifest::load_for(&wasm, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("echo.toml"), "{err}");
}

#[test]
fn load_for_refuses_an_oversized_or_binary_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("echo.wasm");
    let toml = dir.path().join("echo.toml");
    // Valid TOML (one comment), one byte over the cap.
    let mut text = "#".repeat(MAX_MANIFEST_SIZE as usize);
    text.push('\n');
    std::fs::write(&toml, &text).unwrap();
    let err = PluginManifest::load_for(&wasm, None).unwrap_err();
    assert!(
        matches!(err, ManifestError::File(FileError::TooLarge { .. })),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("echo.toml") && message.contains("65536 byte limit for a plugin manifest"),
        "{message}"
    );

    std::fs::write(&toml, b"fuel = 7 # \xff\n").unwrap();
    let err = PluginManifest::load_for(&wasm, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("echo.toml") && err.contains("not UTF-8"),
        "{err}"
    );
}

#[test]
fn limits_across_hosts_are_parsed_and_bounded() {
    let m = parse(
        "rate = \"100/s\"\nburst = 20\nglobal_concurrency = 5\nthrottle_on_retry_after = true",
    )
    .unwrap();
    assert_eq!(m.limits.to_string(), "rate 100/s, burst 20, concurrency 5");
    assert!(m.throttle_on_retry_after);
    let none = parse("fuel = 5").unwrap();
    assert!(none.limits.is_unlimited() && !none.throttle_on_retry_after);
    for (text, key, says) in [
        ("rate = \"0/s\"", "`rate`", "at least 1"),
        ("rate = \"5/d\"", "`rate`", "unknown unit"),
        ("burst = 3", "`burst`", "a burst needs a rate"),
        ("rate = \"1/s\"\nburst = 0", "`burst`", "burst 0"),
        (
            "global_concurrency = -1",
            "`global_concurrency`",
            "positive",
        ),
        (
            "global_concurrency = 0",
            "`global_concurrency`",
            "concurrency 0",
        ),
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains(key) && err.contains(says), "{text}: {err}");
    }
}
