//! One entry of a plugin's outbound allow-list (see [`super::outbound`]):
//! `scheme://host[:port]`, parsed, matched and shown.
//!
//! A rule names a scheme, a host and a port, never a path: the host checks
//! a request before it connects, and once connected to a server the plugin
//! can reach all of it, so a path would promise a confinement it cannot
//! keep. A wildcard stands only for a whole host (`*`) or for the subdomains
//! of a domain (`*.example.com`, which does not match `example.com` itself:
//! list both if both are meant), because a `*` anywhere else has no meaning
//! that authors agree on. Names are compared in one normal form (lower
//! case, no trailing dot, IPv4-mapped IPv6 as IPv4) so that spelling cannot
//! slip a request past a rule or keep a granted one out.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an entry looks like, for error messages.
const SYNTAX: &str = "write scheme://host[:port], such as https://api.example.com or \
                      http://127.0.0.1:8025 (scheme http, https or *; host a name, *.domain, \
                      * or an IP address, IPv6 in brackets; port a number, a range such as \
                      8000..9000 with the end excluded, or *)";

/// One entry of an allow-list: a scheme, a host pattern and a port rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostRule {
    scheme: Scheme,
    host: HostPattern,
    port: PortRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scheme {
    Any,
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HostPattern {
    /// `*`: any host.
    Any,
    /// `*.domain`: any name below `domain` (stored without `*.`), at any depth.
    Subdomains(String),
    /// A lower-case DNS name.
    Name(String),
    /// An IP address, IPv4-mapped IPv6 stored as IPv4.
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PortRule {
    /// No port written: the default port of the request's scheme.
    Default,
    /// `*`.
    Any,
    Exact(u16),
    /// `a..b`: from `a` up to, not including, `b`.
    Range(u16, u16),
}

impl HostRule {
    /// Parses one entry. The error says what is wrong and what is allowed,
    /// without repeating the entry (the caller names it).
    pub fn parse(text: &str) -> Result<HostRule, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("empty entry; {SYNTAX}"));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!(
                "no scheme; {SYNTAX}; to allow every host write `*://*:*`"
            ));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "*" => Scheme::Any,
            _ => {
                return Err(format!(
                    "scheme `{scheme}` is not supported; use http, https or *"
                ));
            }
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if let Some(at) = authority.find(['/', '?', '#']) {
            return Err(format!(
                "a path (`{}`) is not allowed; an entry names a scheme, host and port \
                 only and grants the whole server, so remove the path",
                &authority[at..]
            ));
        }
        let (host, port) = split_authority(authority)?;
        Ok(HostRule {
            scheme,
            host: parse_host(host)?,
            port: parse_port(port)?,
        })
    }

    /// Whether a request to `scheme://host[:port]` is allowed by this rule.
    /// `host` may be an IPv6 address with or without brackets; a `port` of
    /// `None` means the scheme's default port.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme_ok = match self.scheme {
            Scheme::Any => true,
            Scheme::Http => scheme.eq_ignore_ascii_case("http"),
            Scheme::Https => scheme.eq_ignore_ascii_case("https"),
        };
        let default = default_port(scheme);
        scheme_ok
            && self.host.matches(host)
            && self.port.accepts(port.or(default), default.into_iter())
    }

    /// Whether this rule names exactly `ip` as its host (not `*`, not a
    /// name) and its port rule accepts `port`. Without a port the rule's
    /// scheme's default is meant (80 or 443 for scheme `*`).
    pub(super) fn grants_ip_literally(&self, ip: IpAddr, port: u16) -> bool {
        let defaults: &[u16] = match self.scheme {
            Scheme::Http => &[80],
            Scheme::Https => &[443],
            Scheme::Any => &[80, 443],
        };
        self.host == HostPattern::Ip(ip.to_canonical())
            && self.port.accepts(Some(port), defaults.iter().copied())
    }
}

impl std::str::FromStr for HostRule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        HostRule::parse(text)
    }
}

impl HostPattern {
    fn matches(&self, host: &str) -> bool {
        match (self, RequestHost::parse(host)) {
            (HostPattern::Any, _) => !host.is_empty(),
            (HostPattern::Ip(ip), Some(RequestHost::Ip(other))) => *ip == other,
            (HostPattern::Name(name), Some(RequestHost::Name(other))) => *name == other,
            (HostPattern::Subdomains(domain), Some(RequestHost::Name(other))) => other
                .strip_suffix(domain.as_str())
                .and_then(|prefix| prefix.strip_suffix('.'))
                .is_some_and(|prefix| !prefix.is_empty()),
            _ => false,
        }
    }
}

impl PortRule {
    /// Whether `port` (already defaulted from the request's scheme) passes;
    /// `defaults` are the ports an entry without a port stands for.
    fn accepts(self, port: Option<u16>, mut defaults: impl Iterator<Item = u16>) -> bool {
        match (self, port) {
            (PortRule::Any, _) => true,
            (_, None) => false,
            (PortRule::Default, Some(port)) => defaults.any(|d| d == port),
            (PortRule::Exact(p), Some(port)) => p == port,
            (PortRule::Range(start, end), Some(port)) => (start..end).contains(&port),
        }
    }
}

/// A request's host, normalized like a rule's.
enum RequestHost {
    Ip(IpAddr),
    Name(String),
}

impl RequestHost {
    fn parse(host: &str) -> Option<RequestHost> {
        if let Some(inner) = host.strip_prefix('[') {
            let ip: Ipv6Addr = inner.strip_suffix(']')?.parse().ok()?;
            return Some(RequestHost::Ip(IpAddr::V6(ip).to_canonical()));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(RequestHost::Ip(ip.to_canonical()));
        }
        dns_name(host).map(RequestHost::Name)
    }
}

/// The default port of a scheme the host speaks.
fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else {
        None
    }
}

/// Splits `host[:port]`, the host possibly a bracketed IPv6 address.
fn split_authority(text: &str) -> Result<(&str, Option<&str>), String> {
    if text.starts_with('[') {
        let end = text.find(']').ok_or_else(|| {
            format!("`{text}` opens `[` without closing it; write an IPv6 address as [::1]")
        })?;
        return match &text[end + 1..] {
            "" => Ok((&text[..=end], None)),
            rest => match rest.strip_prefix(':') {
                Some(port) => Ok((&text[..=end], Some(port))),
                None => Err(format!(
                    "unexpected `{rest}` after the IPv6 address; {SYNTAX}"
                )),
            },
        };
    }
    if text.matches(':').count() > 1 {
        return Err(format!(
            "`{text}` has several `:`; write an IPv6 address in brackets, such as http://[::1]:8080"
        ));
    }
    Ok(match text.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    })
}

fn parse_host(text: &str) -> Result<HostPattern, String> {
    if text.is_empty() {
        return Err(format!("no host; {SYNTAX}"));
    }
    if text == "*" {
        return Ok(HostPattern::Any);
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| HostPattern::Ip(IpAddr::V6(ip).to_canonical()))
            .map_err(|_| format!("`{text}` is not an IPv6 address; write one such as [::1]"));
    }
    let (domain, wildcard) = match text.strip_prefix("*.") {
        Some(domain) => (domain, true),
        None => (text, false),
    };
    if domain.contains('*') {
        return Err(format!(
            "host `{text}` has a `*` in the wrong place; a wildcard may only be the whole \
             host (`*`) or the first label (`*.example.com`, its subdomains)"
        ));
    }
    if !wildcard && let Ok(ip) = text.parse::<Ipv4Addr>() {
        return Ok(HostPattern::Ip(IpAddr::V4(ip)));
    }
    let name = dns_name(domain).ok_or_else(|| {
        format!(
            "host `{text}` is neither an IP address nor a valid host name; a name has \
             dot-separated labels of a-z, 0-9 and -, at most 253 characters, and does not \
             end in a number"
        )
    })?;
    Ok(if wildcard {
        HostPattern::Subdomains(name)
    } else {
        HostPattern::Name(name)
    })
}

fn parse_port(text: Option<&str>) -> Result<PortRule, String> {
    let Some(text) = text else {
        return Ok(PortRule::Default);
    };
    let number = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse::<u16>().ok())
            .flatten()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("port `{part}` is not a number between 1 and 65535; {SYNTAX}"))
    };
    match text {
        "" => Err(
            "empty port after `:`; remove the `:` for the scheme's default port, \
             or write a port"
                .to_owned(),
        ),
        "*" => Ok(PortRule::Any),
        _ => match text.split_once("..") {
            Some((start, end)) => {
                let (start, end) = (number(start)?, number(end)?);
                if start >= end {
                    return Err(format!(
                        "port range `{text}` is empty: its end is excluded, so write a \
                         larger end, such as {start}..{}",
                        start.saturating_add(1)
                    ));
                }
                Ok(PortRule::Range(start, end))
            }
            None => number(text).map(PortRule::Exact),
        },
    }
}

/// `text` as a lower-case DNS name without a trailing dot, if it is one:
/// labels of 1 to 63 characters of a-z, 0-9 and `-` (not at either end),
/// at most 253 characters, and a last label that is not all digits (which
/// resolvers would read as an IPv4 address, as in `127.1`).
fn dns_name(text: &str) -> Option<String> {
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let last = name.rsplit('.').next().unwrap_or("");
    (name.len() <= 253
        && name.split('.').all(label_ok)
        && !last.bytes().all(|b| b.is_ascii_digit()))
    .then_some(name)
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Any => "*",
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://")?;
        match &self.host {
            HostPattern::Any => f.write_str("*")?,
            HostPattern::Subdomains(domain) => write!(f, "*.{domain}")?,
            HostPattern::Name(name) => f.write_str(name)?,
            HostPattern::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        match self.port {
            PortRule::Default => Ok(()),
            PortRule::Any => f.write_str(":*"),
            PortRule::Exact(port) => write!(f, ":{port}"),
            PortRule::Range(start, end) => write!(f, ":{start}..{end}"),
        }
    }
}
