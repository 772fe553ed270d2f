//! Names the HTTP API answers to besides its own address
//! (`--http-allowed-host`, `WASMQ_HTTP_ALLOWED_HOST`, `http_allowed_host`).
//!
//! Why a list at all: a web page can point a name it controls at 127.0.0.1
//! (DNS rebinding) and then talk to the API as if it were same-origin. The
//! browser still sends that name in `Host`, so the server refuses any `Host`
//! (and any `Origin`) that is not its own address or a name the operator
//! listed here, such as the name of a reverse proxy in front of it.
//!
//! A name without a port (`queue.example.com`) is allowed on any port,
//! because behind a proxy the public port is not the one the host binds; a
//! name with a port (`queue.example.com:8443`) only on that port. Wildcards
//! are not supported: list each name.

use std::net::IpAddr;

/// One allowed `Host` value: a host name or IP address, and optionally a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// Normalised by [`normalize_host`].
    host: String,
    /// `None` allows any port.
    port: Option<u16>,
}

impl AllowedHost {
    /// Whether a request naming `host` (normalised) and `port` matches.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        self.host == host && self.port.is_none_or(|p| p == port)
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

impl std::str::FromStr for AllowedHost {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let hint = "write a host name or IP address, optionally with a port, such as \
                    queue.example.com or 10.0.0.5:7070";
        if text.is_empty() {
            return Err(format!("is empty; {hint}"));
        }
        if text.contains("://") || text.contains('/') {
            return Err(format!(
                "`{text}` is a URL; write only the host name, without scheme or path ({hint})"
            ));
        }
        if text.contains('*') {
            return Err(format!(
                "`{text}` has a wildcard; wildcards are not supported, list each name"
            ));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            // A bare IPv6 address: its colons are not a port.
            return Ok(AllowedHost {
                host: ip_text(ip),
                port: None,
            });
        }
        let (host, port) = split_host_port(text).ok_or_else(|| {
            format!("`{text}` is not a host name or address with an optional port; {hint}")
        })?;
        let host = normalize_host(host)
            .ok_or_else(|| format!("`{text}` is not a valid host name or IP address; {hint}"))?;
        Ok(AllowedHost { host, port })
    }
}

/// Splits `host[:port]` (IPv6 in brackets) into the host and the port, if
/// the text has that shape; the host part is not checked here.
pub(crate) fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if text.starts_with('[') {
        let end = text.find(']')?;
        match &text[end + 1..] {
            "" => (&text[..=end], None),
            rest => (&text[..=end], Some(rest.strip_prefix(':')?)),
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            Some(port.parse().ok()?)
        }
        Some(_) => return None,
        None => None,
    };
    Some((host, port))
}

/// The canonical form of a host, so equal hosts compare equal: names in
/// lower case without a trailing dot, IPv4 as dotted quads, IPv6 (and
/// IPv4-mapped IPv6 as IPv4) in brackets. `None` if it is neither a
/// DNS-style name nor an IP literal.
pub(crate) fn normalize_host(host: &str) -> Option<String> {
    if let Some(inner) = host.strip_prefix('[') {
        let ip: IpAddr = inner.strip_suffix(']')?.parse().ok()?;
        return Some(ip_text(ip));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip_text(ip));
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (name.len() <= 253 && name.split('.').all(label_ok)).then_some(name)
}

/// `ip` as it appears in a `Host` header.
pub(crate) fn ip_text(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<AllowedHost, String> {
        text.parse()
    }

    #[test]
    fn names_and_addresses_with_or_without_a_port() {
        let name = parse("Queue.Example.COM.").unwrap();
        assert_eq!(name.to_string(), "queue.example.com");
        assert!(name.matches("queue.example.com", 443));
        assert!(name.matches("queue.example.com", 7070));
        assert!(!name.matches("example.com", 443));

        let with_port = parse("queue.example.com:8443").unwrap();
        assert!(with_port.matches("queue.example.com", 8443));
        assert!(!with_port.matches("queue.example.com", 443));

        assert_eq!(parse("10.0.0.5:7070").unwrap().to_string(), "10.0.0.5:7070");
        assert_eq!(parse("[FD00::0:1]").unwrap().to_string(), "[fd00::1]");
        assert_eq!(parse("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert_eq!(parse("fd00::1").unwrap().to_string(), "[fd00::1]");
        assert_eq!(parse("[::ffff:10.0.0.5]").unwrap().to_string(), "10.0.0.5");
    }

    #[test]
    fn bad_values_say_what_to_write() {
        for (text, expected) in [
            ("", "is empty"),
            ("http://queue.example.com", "is a URL"),
            ("queue.example.com/api", "is a URL"),
            ("*.example.com", "wildcards are not supported"),
            ("queue.example.com:http", "not a host name or address"),
            ("queue.example.com:99999", "not a host name or address"),
            ("[::1", "not a host name or address"),
            ("bad name", "not a valid host name"),
            ("user@host", "not a valid host name"),
            ("-leading.example", "not a valid host name"),
        ] {
            let message = parse(text).unwrap_err();
            assert!(message.contains(expected), "{text:?}: {message}");
            assert!(message.contains(text.trim()), "{text:?}: {message}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_round_trips(text in ".{0,40}") {
            if let Ok(allowed) = parse(&text) {
                prop_assert_eq!(parse(&allowed.to_string()), Ok(allowed));
            }
        }
    }
}
