//! Unit tests of the daemon settings: file parsing, layering and validation.

use super::*;
use proptest::prelude::*;
use std::path::Path;

fn parse(text: &str) -> Result<RunOverrides, DaemonConfigError> {
    RunOverrides::parse_file(text, Path::new("/etc/wasmq/wasmq.toml"))
}

#[test]
fn defaults_are_valid() {
    RunConfig::new("redis://127.0.0.1:6379", "plugins")
        .validate()
        .unwrap();
    let resolved = RunOverrides::default().resolve("test").unwrap();
    assert_eq!(resolved.redis_url, RunConfig::DEFAULT_REDIS);
    assert_eq!(resolved.concurrency, default_concurrency());
}

#[test]
fn full_file_parses_and_paths_are_relative_to_it() {
    let file = parse(
        r#"
        redis = "redis://10.0.0.1:6380"
        plugins = "dist"
        concurrency = 8
        http = "127.0.0.1:8080"
        http_allowed_host = ["queue.example.com", "10.0.0.5:7070"]
        http_protect_reads = false
        namespace = "staging"
        drain_timeout = "10s"
        lease = "5s"
        lease_batch = 32
        result_ttl = "0s"
        durable_enqueue = 1
        durable_timeout = "500ms"
        backoff_base = "200ms"
        backoff_cap = "1m"
        heartbeat = "2s"
        maintenance_tick = "250ms"
        cache_dir = "/var/cache/wasmq"
        log_format = "json"
        log_level = "debug"
        "#,
    )
    .unwrap();
    let config = file.resolve("wasmq.toml").unwrap();
    assert_eq!(config.redis_url, "redis://10.0.0.1:6380");
    assert_eq!(config.plugins_dir, PathBuf::from("/etc/wasmq/dist"));
    assert_eq!(config.cache_dir, Some(PathBuf::from("/var/cache/wasmq")));
    assert_eq!(config.concurrency, 8);
    assert_eq!(config.http, Some("127.0.0.1:8080".parse().unwrap()));
    let allowed: Vec<String> = config
        .http_allowed_hosts
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(allowed, ["queue.example.com", "10.0.0.5:7070"]);
    assert!(!config.http_protect_reads);
    assert_eq!(config.namespace, "staging");
    assert_eq!(config.drain_timeout, Duration::from_secs(10));
    assert_eq!(config.lease, Duration::from_secs(5));
    assert_eq!(config.lease_batch, 32);
    assert_eq!(config.result_ttl, Duration::ZERO);
    assert_eq!(config.durable_enqueue, 1);
    assert_eq!(config.durable_timeout, Duration::from_millis(500));
    assert_eq!(config.backoff_base, Duration::from_millis(200));
    assert_eq!(config.backoff_cap, Duration::from_secs(60));
    assert_eq!(config.heartbeat, Duration::from_secs(2));
    assert_eq!(config.maintenance_tick, Duration::from_millis(250));
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(config.log_level.as_deref(), Some("debug"));
}

#[test]
fn unknown_key_names_the_key_the_file_and_the_line() {
    let err = parse("concurrency = 2\nconsurrency = 8")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/etc/wasmq/wasmq.toml"), "{err}");
    assert!(err.contains("consurrency"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("allowed keys: redis, plugins"), "{err}");
}

#[test]
fn bad_values_name_the_key_and_the_file() {
    let cases = [
        ("lease = \"soon\"", "`lease` `soon` is not a duration"),
        (
            "http = \"localhost\"",
            "`http` `localhost` is not an address",
        ),
        ("concurrency = -2", "`concurrency` must be positive, got -2"),
        ("log_format = \"xml\"", "unknown log format `xml`"),
        (
            "http_allowed_host = [\"ok.example\", \"http://x.example\"]",
            "`http_allowed_host` `http://x.example` is a URL",
        ),
    ];
    for (text, expected) in cases {
        let message = parse(text).unwrap_err().to_string();
        assert!(message.contains("/etc/wasmq/wasmq.toml"), "{message}");
        assert!(message.contains(expected), "{text}: {message}");
    }
    assert!(matches!(
        parse("lease = 5").unwrap_err(),
        DaemonConfigError::Syntax { .. }
    ));
}

#[test]
fn out_of_range_values_are_refused_with_their_origin() {
    let cases = [
        (
            RunOverrides {
                concurrency: Some(0),
                ..Default::default()
            },
            "`concurrency` must be between 1 and 4096",
        ),
        (
            RunOverrides {
                lease: Some(Duration::from_millis(5)),
                ..Default::default()
            },
            "`lease` must be between 100ms",
        ),
        (
            RunOverrides {
                namespace: Some("a b".into()),
                ..Default::default()
            },
            "`namespace` `a b` must be",
        ),
        (
            RunOverrides {
                backoff_base: Some(Duration::from_secs(10)),
                backoff_cap: Some(Duration::from_secs(1)),
                ..Default::default()
            },
            "`backoff_cap` must be between 10s",
        ),
        (
            RunOverrides {
                durable_enqueue: Some(17),
                ..Default::default()
            },
            "`durable_enqueue` must be at most 16 replicas, got 17",
        ),
        (
            RunOverrides {
                durable_enqueue: Some(1),
                durable_timeout: Some(Duration::from_secs(61)),
                ..Default::default()
            },
            "`durable_timeout` must be between 1ms and 1m",
        ),
        (
            RunOverrides {
                redis_url: Some(" ".into()),
                ..Default::default()
            },
            "`redis` is empty",
        ),
        (
            RunOverrides {
                http_protect_reads: Some(true),
                ..Default::default()
            },
            "`http_protect_reads` is on but no HTTP token is set",
        ),
    ];
    for (overrides, expected) in cases {
        let message = overrides
            .resolve("the command line")
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("the command line: "), "{message}");
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn allowed_hosts_must_be_a_list_and_protected_reads_need_the_token() {
    let err = parse("http_allowed_host = \"queue.example.com\"").unwrap_err();
    assert!(
        matches!(err, DaemonConfigError::Syntax { .. }),
        "a single name is written as a list: {err}"
    );
    let file = parse("http_protect_reads = true").unwrap();
    let flags = RunOverrides {
        http_token: Some(Secret("0123456789abcdef-secret".into())),
        ..Default::default()
    };
    assert!(flags.or(file).resolve("test").unwrap().http_protect_reads);
}

#[test]
fn missing_file_is_a_read_error_naming_it() {
    let err = RunOverrides::from_file(Path::new("/nonexistent/wasmq.toml")).unwrap_err();
    assert!(matches!(err, DaemonConfigError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/wasmq.toml"));
}

proptest! {
    /// Flags beat the environment, which beats the file, which beats the default.
    #[test]
    fn the_first_source_that_sets_a_value_wins(
        flag in proptest::option::of(1usize..100),
        env in proptest::option::of(1usize..100),
        file in proptest::option::of(1usize..100),
    ) {
        let layer = |concurrency| RunOverrides { concurrency, ..Default::default() };
        let config = layer(flag).or(layer(env)).or(layer(file)).resolve("test").unwrap();
        let expected = flag.or(env).or(file).unwrap_or_else(default_concurrency);
        prop_assert_eq!(config.concurrency, expected);
    }

    #[test]
    fn file_parser_never_panics(text in ".{0,60}") {
        let _ = parse(&text);
    }
}

#[test]
fn the_example_config_in_deploy_is_valid() {
    let text = include_str!("../../../../deploy/wasmq.toml");
    let file = RunOverrides::parse_file(text, Path::new("/etc/wasmq/wasmq.toml")).unwrap();
    let config = file.resolve("deploy/wasmq.toml").unwrap();
    assert_eq!(config.plugins_dir, Path::new("/var/lib/wasmq/plugins"));
    assert_eq!(config.log_format, LogFormat::Json);
    assert!(config.http.is_some());
}
