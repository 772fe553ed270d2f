//! Unit tests of secret sources: parsing, resolving, and that no message
//! ever shows a value.

use super::*;
use proptest::prelude::*;

/// An environment variable of this process with a non-empty value (tests
/// may not set one: `set_var` is unsafe in a threaded test binary).
fn some_env_var() -> (String, String) {
    std::env::vars()
        .find(|(name, value)| {
            SecretSource::parse(&format!("env:{name}")).is_ok() && !value.is_empty()
        })
        .expect("the test process has an environment")
}

/// No rendering of `text` contains `value`.
fn assert_hidden(text: &str, value: &str) {
    assert!(!text.contains(value), "{text:?} shows the value");
}

#[test]
fn sources_parse_and_display_as_written() {
    for text in [
        "env:MAILER_KEY",
        "env:_x9",
        "file:/run/secrets/signing",
        "file:/a b/c",
    ] {
        let source = SecretSource::parse(text).unwrap();
        assert_eq!(source.to_string(), text);
    }
    assert_eq!(
        "env:MAILER_KEY".parse(),
        Ok(SecretSource::Env("MAILER_KEY".to_owned()))
    );
    assert_eq!(
        SecretSource::parse("file:/run/secrets/x"),
        Ok(SecretSource::File(PathBuf::from("/run/secrets/x")))
    );
    assert!(SecretSource::parse(&format!("env:{}", "A".repeat(128))).is_ok());
}

#[test]
fn bad_sources_name_the_accepted_forms() {
    for (text, expected) in [
        ("", "is not a secret source"),
        ("hunter2", "is not a secret source"),
        ("ENV:X", "is not a secret source"),
        ("vault:x", "is not a secret source"),
        ("env:", "does not name a valid environment variable"),
        ("env:9LIVES", "does not name a valid environment variable"),
        (
            "env:MAILER-KEY",
            "does not name a valid environment variable",
        ),
        ("env: X", "does not name a valid environment variable"),
        ("file:", "is not an absolute path"),
        ("file:secrets/x", "is not an absolute path"),
        ("file:./x", "is not an absolute path"),
    ] {
        let message = SecretSource::parse(text).unwrap_err();
        assert!(message.contains(expected), "{text:?}: {message}");
        assert!(
            message.contains("env:NAME") && message.contains("file:/absolute/path"),
            "{message}"
        );
    }
    let message = SecretSource::parse("hunter2").unwrap_err();
    assert_hidden(&message, "hunter2");
    assert!(message.contains("never the secret itself"), "{message}");
    let long = format!("env:{}", "A".repeat(129));
    assert!(SecretSource::parse(&long).is_err());
}

#[test]
fn an_env_secret_resolves_and_stays_hidden() {
    let (name, value) = some_env_var();
    let secret = SecretSource::Env(name).resolve("mail_token").unwrap();
    assert_eq!(secret.expose(), value);
    assert_eq!(format!("{secret:?}"), "[redacted]");
    assert_eq!(secret.to_string(), "[redacted]");
    assert_hidden(&format!("{:?}", Some(&secret)), &value);
}

#[test]
fn a_missing_env_var_says_what_to_set() {
    let name = "WASMQ_TEST_SECRET_THAT_IS_NEVER_SET_7F3A";
    assert!(std::env::var_os(name).is_none());
    let err = SecretSource::Env(name.to_owned())
        .resolve("mail_token")
        .unwrap_err();
    assert!(matches!(err, SecretError::EnvMissing { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "secret `mail_token` (env:{name}): {name} is not set; \
             set {name} in the host's environment"
        )
    );
}

#[test]
fn a_file_secret_loses_one_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signing");
    for (contents, expected) in [
        ("s3cr3t-value\n", "s3cr3t-value"),
        ("s3cr3t-value\r\n", "s3cr3t-value"),
        ("s3cr3t-value\n\n", "s3cr3t-value\n"),
        ("s3cr3t-value", "s3cr3t-value"),
        (" spaced \n", " spaced "),
    ] {
        std::fs::write(&path, contents).unwrap();
        let secret = SecretSource::File(path.clone())
            .resolve("signing_key")
            .unwrap();
        assert_eq!(secret.expose(), expected, "{contents:?}");
        assert_hidden(&format!("{secret:?} {secret}"), "s3cr3t");
    }
}

#[test]
fn file_errors_name_key_and_path_but_not_contents() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let err = SecretSource::File(missing.clone())
        .resolve("signing_key")
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, SecretError::File { .. }), "{err:?}");
    assert!(
        message.starts_with(&format!(
            "secret `signing_key` (file:{})",
            missing.display()
        )) && message.ends_with("create the file or fix the path"),
        "{message}"
    );

    let big = dir.path().join("big");
    std::fs::write(&big, "s3cr3t".repeat(20_000)).unwrap();
    let err = SecretSource::File(big).resolve("signing_key").unwrap_err();
    assert!(err.to_string().contains("65536 byte limit"), "{err}");
    assert_hidden(&format!("{err} {err:?}"), "s3cr3t");

    let binary = dir.path().join("binary");
    std::fs::write(&binary, b"s3cr3t\xff").unwrap();
    let err = SecretSource::File(binary)
        .resolve("signing_key")
        .unwrap_err();
    assert!(matches!(err, SecretError::FileNotUnicode { .. }), "{err:?}");
    assert_hidden(&format!("{err} {err:?}"), "s3cr3t");

    let err = SecretSource::File(dir.path().to_owned())
        .resolve("signing_key")
        .unwrap_err();
    assert!(err.to_string().contains("is not a regular file"), "{err}");
}

#[test]
fn an_empty_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty");
    std::fs::write(&path, "\n").unwrap();
    let err = SecretSource::File(path.clone()).resolve("k").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "secret `k` (file:{}) is empty; put the secret's value there",
            path.display()
        )
    );
}

proptest! {
    #[test]
    fn parsing_never_panics_and_round_trips(text in ".{0,40}") {
        if let Ok(source) = SecretSource::parse(&text) {
            prop_assert_eq!(source.to_string(), text);
        }
    }

    #[test]
    fn valid_env_names_parse(name in "[A-Za-z_][A-Za-z0-9_]{0,127}") {
        let text = format!("env:{name}");
        prop_assert_eq!(SecretSource::parse(&text), Ok(SecretSource::Env(name)));
    }

    #[test]
    fn a_file_secret_never_shows_its_value(value in "[a-zA-Z0-9]{12,40}") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, format!("{value}\n")).unwrap();
        let secret = SecretSource::File(path).resolve("k").unwrap();
        prop_assert_eq!(secret.expose(), value.as_str());
        let shown = format!("{secret} {secret:?}");
        prop_assert!(!shown.contains(&value));
    }
}
