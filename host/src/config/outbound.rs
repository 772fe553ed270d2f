//! Where a plugin may send HTTP requests: `[capabilities] http`.
//!
//! A plugin is untrusted code, so it reaches no network unless its manifest
//! lists where. The syntax is that of Spin's `allowed_outbound_hosts`
//! (`https://api.example.com`, `https://*.mailgun.net:443`, `*://*:*`), so
//! an author who knows one knows the other, and it is checked when the
//! manifest is loaded, so a typo is an error at deploy time rather than a
//! refused request in production.
//!
//! The entries are [`HostRule`]s; see there for their syntax.
//!
//! Rules match names, but a name can resolve to anything, including
//! `127.0.0.1` or the cloud metadata address `169.254.169.254` (DNS
//! rebinding). So whoever connects checks each resolved address with
//! [`is_non_public`] and refuses a non-public one unless the list names that
//! very address ([`AllowList::grants_ip_literally`]): an operator who wrote
//! `http://127.0.0.1:8025` meant the local mail catcher; a public name that
//! resolves there was not meant.

pub use super::host_rule::HostRule;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A plugin's outbound HTTP allow-list; empty allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<HostRule>);

impl AllowList {
    /// Parses every entry; the error names the first bad one.
    pub fn parse(entries: &[String]) -> Result<AllowList, String> {
        entries
            .iter()
            .map(|entry| HostRule::parse(entry).map_err(|e| format!("entry `{entry}`: {e}")))
            .collect::<Result<_, _>>()
            .map(AllowList)
    }

    /// Whether some rule allows a request to `scheme://host[:port]`; see
    /// [`HostRule::allows`].
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.0.iter().any(|rule| rule.allows(scheme, host, port))
    }

    /// Whether no request at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The rules, in the order written.
    pub fn rules(&self) -> &[HostRule] {
        &self.0
    }

    /// Whether some rule names exactly `ip` as its host (not `*`, not a
    /// name) with a port rule that accepts `port`. Lets an explicit grant
    /// such as `http://127.0.0.1:8025` reach a non-public address that a
    /// name resolving to it may not; see the module docs. An entry without
    /// a port stands for its scheme's default (80 or 443 for scheme `*`).
    pub fn grants_ip_literally(&self, ip: IpAddr, port: u16) -> bool {
        self.0.iter().any(|rule| rule.grants_ip_literally(ip, port))
    }
}

/// The entries, normalized, separated by `, ` (empty for an empty list).
impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rule) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{rule}")?;
        }
        Ok(())
    }
}

/// Whether `ip` is an address a plugin must not reach through a name:
/// loopback, private, link-local (including the cloud metadata address),
/// CGNAT, multicast, reserved, documentation or otherwise not on the public
/// internet (the deprecated IPv6 site-local `fec0::/10` included).
/// IPv4-mapped IPv6 addresses are judged as the IPv4 they carry.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => v4_non_public(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => v4_non_public(v4),
            None => v6_non_public(ip),
        },
    }
}

fn v4_non_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

fn v6_non_public(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || s[..6] == [0; 6]
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
}

#[cfg(test)]
mod tests;
