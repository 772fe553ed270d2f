//! Unit tests of the outbound allow-list: every accepted form, every
//! rejection, the matching rules and the non-public address ranges.

use super::*;
use proptest::prelude::*;

fn rule(text: &str) -> HostRule {
    HostRule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn list(entries: &[&str]) -> AllowList {
    let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
    AllowList::parse(&entries).unwrap()
}

#[test]
fn entries_normalize_and_display() {
    for (text, shown) in [
        ("https://API.Example.COM", "https://api.example.com"),
        ("https://api.example.com/", "https://api.example.com"),
        ("  http://example.com.  ", "http://example.com"),
        ("HTTPS://*.mailgun.net:443", "https://*.mailgun.net:443"),
        ("*://*:*", "*://*:*"),
        ("http://127.0.0.1:8025", "http://127.0.0.1:8025"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://[0:0:0:0:0:0:0:1]", "http://[::1]"),
        ("http://[::ffff:10.0.0.5]:80", "http://10.0.0.5:80"),
        (
            "https://example.com:8000..9000",
            "https://example.com:8000..9000",
        ),
        ("*://example.com", "*://example.com"),
    ] {
        assert_eq!(rule(text).to_string(), shown, "{text}");
    }
}

#[test]
fn bad_entries_say_what_is_wrong_and_what_is_allowed() {
    for (text, expected) in [
        ("", "empty entry"),
        ("api.example.com", "no scheme"),
        ("api.example.com", "`*://*:*`"),
        (
            "ftp://example.com",
            "scheme `ftp` is not supported; use http, https or *",
        ),
        ("https://example.com/v1", "a path (`/v1`) is not allowed"),
        ("https://example.com?x=1", "a path (`?x=1`) is not allowed"),
        ("https://example.com//", "a path (`/`) is not allowed"),
        ("https://", "no host"),
        ("https://:443", "no host"),
        ("https://ex*ample.com", "`*` in the wrong place"),
        ("https://*example.com", "`*` in the wrong place"),
        ("https://api.*.example.com", "`*` in the wrong place"),
        ("https://*.*.example.com", "`*` in the wrong place"),
        (
            "https://bad_name.com",
            "neither an IP address nor a valid host name",
        ),
        (
            "https://-x.com",
            "neither an IP address nor a valid host name",
        ),
        (
            "https://user@example.com",
            "neither an IP address nor a valid host name",
        ),
        (
            "https://127.1",
            "neither an IP address nor a valid host name",
        ),
        (
            "https://*.10.0.0.1",
            "neither an IP address nor a valid host name",
        ),
        ("https://::1", "write an IPv6 address in brackets"),
        ("https://[::1", "opens `[` without closing it"),
        ("https://[::1]x", "unexpected `x` after the IPv6 address"),
        ("https://[1.2.3.4]", "is not an IPv6 address"),
        ("https://example.com:", "empty port after `:`"),
        (
            "https://example.com:0",
            "port `0` is not a number between 1 and 65535",
        ),
        ("https://example.com:65536", "port `65536` is not a number"),
        ("https://example.com:+80", "port `+80` is not a number"),
        ("https://example.com:http", "port `http` is not a number"),
        (
            "https://example.com:9000..8000",
            "port range `9000..8000` is empty",
        ),
        ("https://example.com:80..80", "its end is excluded"),
        ("https://example.com:80..", "port `` is not a number"),
    ] {
        let message = HostRule::parse(text).unwrap_err();
        assert!(message.contains(expected), "{text:?}: {message}");
    }
    let too_long = format!("https://{}.com", vec!["a".repeat(60); 5].join("."));
    assert!(HostRule::parse(&too_long).is_err());
    let long_label = format!("https://{}.com", "a".repeat(64));
    assert!(HostRule::parse(&long_label).is_err());
}

#[test]
fn the_list_error_names_the_entry() {
    let entries = vec!["https://ok.example.com".to_owned(), "ftp://x".to_owned()];
    let message = AllowList::parse(&entries).unwrap_err();
    assert!(
        message.starts_with("entry `ftp://x`: scheme `ftp` is not supported"),
        "{message}"
    );
}

#[test]
fn scheme_and_default_ports() {
    let https = rule("https://api.example.com");
    assert!(https.allows("https", "api.example.com", None));
    assert!(https.allows("HTTPS", "API.example.com", Some(443)));
    assert!(!https.allows("https", "api.example.com", Some(8443)));
    assert!(!https.allows("http", "api.example.com", None));
    assert!(!https.allows("http", "api.example.com", Some(443)));

    let any_scheme = rule("*://api.example.com");
    assert!(any_scheme.allows("http", "api.example.com", None));
    assert!(any_scheme.allows("http", "api.example.com", Some(80)));
    assert!(any_scheme.allows("https", "api.example.com", Some(443)));
    assert!(!any_scheme.allows("http", "api.example.com", Some(443)));
    assert!(!any_scheme.allows("https", "api.example.com", Some(80)));
    assert!(!any_scheme.allows("ftp", "api.example.com", None));

    let everything = rule("*://*:*");
    assert!(everything.allows("http", "anything.example", Some(1)));
    assert!(everything.allows("https", "10.0.0.1", None));
    assert!(everything.allows("ftp", "[::1]", Some(21)));
    assert!(!everything.allows("http", "", None));
}

#[test]
fn ports_exact_any_and_ranges() {
    let exact = rule("http://example.com:8080");
    assert!(exact.allows("http", "example.com", Some(8080)));
    assert!(!exact.allows("http", "example.com", None));
    let any = rule("http://example.com:*");
    assert!(any.allows("http", "example.com", None));
    assert!(any.allows("http", "example.com", Some(65535)));
    let range = rule("http://example.com:8000..8002");
    assert!(!range.allows("http", "example.com", Some(7999)));
    assert!(range.allows("http", "example.com", Some(8000)));
    assert!(range.allows("http", "example.com", Some(8001)));
    assert!(!range.allows("http", "example.com", Some(8002)));
    assert!(!range.allows("http", "example.com", None));
}

#[test]
fn subdomain_wildcards_match_below_the_domain_only() {
    let wild = rule("https://*.mailgun.net");
    assert!(wild.allows("https", "api.mailgun.net", None));
    assert!(wild.allows("https", "a.b.EU.mailgun.net.", None));
    assert!(!wild.allows("https", "mailgun.net", None));
    assert!(!wild.allows("https", "evilmailgun.net", None));
    assert!(!wild.allows("https", "mailgun.net.evil.com", None));
    assert!(!wild.allows("https", ".mailgun.net", None));
    assert!(!wild.allows("https", "x y.mailgun.net", None));
}

#[test]
fn names_and_addresses_match_case_insensitively_and_bracketed() {
    let name = rule("https://api.example.com");
    assert!(name.allows("https", "Api.Example.Com", None));
    assert!(!name.allows("https", "example.com", None));
    assert!(!name.allows("https", "x.api.example.com", None));

    let v6 = rule("http://[::1]:8080");
    assert!(v6.allows("http", "[::1]", Some(8080)));
    assert!(v6.allows("http", "::1", Some(8080)));
    assert!(v6.allows("http", "[0::1]", Some(8080)));
    assert!(!v6.allows("http", "localhost", Some(8080)));

    let v4 = rule("http://127.0.0.1:8025");
    assert!(v4.allows("http", "127.0.0.1", Some(8025)));
    assert!(v4.allows("http", "[::ffff:127.0.0.1]", Some(8025)));
    assert!(!v4.allows("http", "127.0.0.2", Some(8025)));
    assert!(!v4.allows("http", "localhost", Some(8025)));
}

#[test]
fn literal_ip_grants() {
    let grants = list(&[
        "http://127.0.0.1:8025",
        "https://[fd00::1]",
        "*://10.0.0.9",
        "http://localhost:9000",
        "*://*:*",
    ]);
    let ip = |text: &str| text.parse::<IpAddr>().unwrap();
    assert!(grants.grants_ip_literally(ip("127.0.0.1"), 8025));
    assert!(grants.grants_ip_literally(ip("::ffff:127.0.0.1"), 8025));
    assert!(!grants.grants_ip_literally(ip("127.0.0.1"), 8026));
    assert!(grants.grants_ip_literally(ip("fd00::1"), 443));
    assert!(!grants.grants_ip_literally(ip("fd00::1"), 80));
    assert!(grants.grants_ip_literally(ip("10.0.0.9"), 80));
    assert!(grants.grants_ip_literally(ip("10.0.0.9"), 443));
    assert!(!grants.grants_ip_literally(ip("10.0.0.9"), 8080));
    // Neither a name nor `*` grants an address literally.
    assert!(!grants.grants_ip_literally(ip("127.0.0.1"), 9000));
    assert!(!grants.grants_ip_literally(ip("169.254.169.254"), 80));
}

#[test]
fn lists_allow_what_any_rule_allows() {
    let empty = AllowList::default();
    assert!(empty.is_empty() && !empty.allows("https", "example.com", None));
    assert_eq!(empty.to_string(), "");
    let two = list(&["https://a.example.com", "http://B.example.com:8080/"]);
    assert!(!two.is_empty());
    assert_eq!(two.rules().len(), 2);
    assert!(two.allows("https", "a.example.com", None));
    assert!(two.allows("http", "b.example.com", Some(8080)));
    assert!(!two.allows("http", "a.example.com", None));
    assert_eq!(
        two.to_string(),
        "https://a.example.com, http://b.example.com:8080"
    );
}

#[test]
fn non_public_addresses() {
    for text in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "0.1.2.3",
        "255.255.255.255",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "224.0.0.1",
        "100.64.0.1",
        "100.127.255.255",
        "192.0.0.8",
        "198.18.0.1",
        "198.19.255.255",
        "240.0.0.1",
        "::1",
        "::",
        "ff02::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "::10.0.0.1",
        "::8.8.8.8",
        "2001:db8::1",
        "64:ff9b::8.8.8.8",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ] {
        let ip: IpAddr = text.parse().unwrap();
        assert!(is_non_public(ip), "{text} is not public");
    }
    for text in [
        "8.8.8.8",
        "1.1.1.1",
        "172.32.0.1",
        "100.128.0.1",
        "192.0.1.1",
        "198.20.0.1",
        "223.255.255.255",
        "2606:4700::1111",
        "2001:4860::8888",
        "::ffff:8.8.8.8",
    ] {
        let ip: IpAddr = text.parse().unwrap();
        assert!(!is_non_public(ip), "{text} is public");
    }
}

fn name() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 0..3).prop_flat_map(|labels| {
        "[a-z]([a-z0-9-]{0,8}[a-z0-9])?".prop_map(move |last| {
            let mut all = labels.clone();
            all.push(last);
            all.join(".")
        })
    })
}

fn entry() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![Just("http"), Just("https"), Just("*"), Just("HTTPS")];
    let host = prop_oneof![
        Just("*".to_owned()),
        name().prop_map(|n| format!("*.{n}")),
        name(),
        any::<u32>().prop_map(|ip| Ipv4Addr::from(ip).to_string()),
        any::<u128>().prop_map(|ip| format!("[{}]", Ipv6Addr::from(ip))),
    ];
    let port = prop_oneof![
        Just(String::new()),
        Just(":*".to_owned()),
        (1u16..).prop_map(|p| format!(":{p}")),
        (1u16..65535)
            .prop_flat_map(|a| (Just(a), a + 1..=65535))
            .prop_map(|(a, b)| format!(":{a}..{b}")),
    ];
    let slash = prop_oneof![Just(""), Just("/")];
    (scheme, host, port, slash).prop_map(|(s, h, p, sl)| format!("{s}://{h}{p}{sl}"))
}

proptest! {
    #[test]
    fn valid_entries_parse_and_round_trip(text in entry()) {
        let parsed = HostRule::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(HostRule::parse(&parsed.to_string()), Ok(parsed));
    }

    #[test]
    fn anything_parses_or_fails_without_panicking(text in ".{0,60}") {
        if let Ok(parsed) = HostRule::parse(&text) {
            prop_assert_eq!(HostRule::parse(&parsed.to_string()), Ok(parsed));
        }
    }

    #[test]
    fn a_subdomain_wildcard_never_matches_its_domain(domain in name(), sub in name()) {
        let wild = rule(&format!("https://*.{domain}"));
        prop_assert!(!wild.allows("https", &domain, None));
        let below = format!("{sub}.{domain}");
        prop_assert!(wild.allows("https", &below, None));
    }

    #[test]
    fn a_port_range_excludes_its_end(a in 1u16..65535, len in 1u16..1000) {
        let b = a.saturating_add(len);
        let range = rule(&format!("http://example.com:{a}..{b}"));
        prop_assert!(range.allows("http", "example.com", Some(a)));
        prop_assert!(range.allows("http", "example.com", Some(b - 1)));
        prop_assert!(!range.allows("http", "example.com", Some(b)));
        prop_assert!(!range.allows("http", "example.com", Some(a - 1)));
    }

    #[test]
    fn a_list_round_trips_through_its_display(entries in proptest::collection::vec(entry(), 1..5)) {
        let parsed = AllowList::parse(&entries).unwrap();
        let shown: Vec<String> = parsed.to_string().split(", ").map(str::to_owned).collect();
        prop_assert_eq!(AllowList::parse(&shown), Ok(parsed));
    }

    #[test]
    fn mapped_addresses_are_judged_as_ipv4(ip in any::<u32>()) {
        let v4 = Ipv4Addr::from(ip);
        prop_assert_eq!(is_non_public(IpAddr::V6(v4.to_ipv6_mapped())), is_non_public(IpAddr::V4(v4)));
    }
}
