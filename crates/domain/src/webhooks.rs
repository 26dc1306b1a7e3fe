//! Webhook targets: which URLs a client may ask to be called back on, and which network
//! addresses a delivery must never reach (so a webhook cannot be turned against the
//! service's own network).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a webhook URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("must be at most {} characters", WebhookUrl::MAX_LEN)]
    TooLong,
    #[error("must be an absolute URL")]
    Malformed,
    #[error("must use https")]
    InsecureScheme,
    #[error("must use http or https")]
    UnsupportedScheme,
    #[error("must not contain a user name or password")]
    Credentials,
    #[error("must name a host")]
    NoHost,
}

impl WebhookUrlError {
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::Malformed | Self::NoHost => "url",
            Self::InsecureScheme | Self::UnsupportedScheme => "webhook_scheme",
            Self::Credentials => "webhook_credentials",
        }
    }
}

/// An absolute `https` URL (plain `http` only where the settings allow it), without
/// credentials, at most [`WebhookUrl::MAX_LEN`] characters. Whether its host resolves to
/// an allowed address is decided at delivery time, see [`is_internal_address`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub const MAX_LEN: usize = 2048;

    /// # Errors
    /// The first rule the URL breaks.
    pub fn parse(raw: &str, allow_insecure: bool) -> Result<Self, WebhookUrlError> {
        if raw.chars().count() > Self::MAX_LEN {
            return Err(WebhookUrlError::TooLong);
        }
        let url = url::Url::parse(raw).map_err(|_| WebhookUrlError::Malformed)?;
        match url.scheme() {
            "https" => {}
            "http" if allow_insecure => {}
            "http" => return Err(WebhookUrlError::InsecureScheme),
            _ => return Err(WebhookUrlError::UnsupportedScheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(WebhookUrlError::Credentials);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(WebhookUrlError::NoHost);
        }
        Ok(Self(url.to_string()))
    }

    /// Whether the URL names an internal target by itself, before any lookup: an internal
    /// IP literal (see [`is_internal_address`]) or `localhost`. Other hosts are checked
    /// when a delivery resolves them.
    pub fn names_internal_host(&self) -> bool {
        match url::Url::parse(&self.0)
            .ok()
            .and_then(|u| u.host().map(|h| h.to_owned()))
        {
            Some(url::Host::Ipv4(ip)) => is_internal_address(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => is_internal_address(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
            None => false,
        }
    }

    /// A URL read back from storage, where it was validated when it was stored.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }
}

impl AsRef<str> for WebhookUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `address` is one a webhook must not reach unless private targets are allowed:
/// loopback, private (RFC 1918, unique-local), link-local, shared (CGNAT), multicast,
/// broadcast, unspecified, documentation and benchmarking ranges, the cloud metadata
/// address, and IPv6 addresses that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-translated `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64
/// `64:ff9b::/96` and 6to4 `2002::/16`), judged by the IPv4 address they carry. Local-use
/// NAT64 (`64:ff9b:1::/48`) and Teredo (`2001::/32`, whose server and client addresses a
/// guard cannot trust) are internal outright.
pub fn is_internal_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254, the metadata service
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..=127).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_internal_v4(v4);
    }
    let segments = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || segments[0] == 0x0100 && segments[1..4] == [0, 0, 0] // discard-only 100::/64
        || segments[..3] == [0x64, 0xff9b, 1] // local-use NAT64 64:ff9b:1::/48
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo 2001::/32
}

/// The IPv4 address an IPv6 address stands for, in the forms that reach it: IPv4-mapped
/// (`::ffff:0:0/96`), IPv4-translated (`::ffff:0:0:0/96`, RFC 2765), IPv4-compatible
/// (`::/96`, deprecated; `::` and `::1` carry 0.0.0.0/8, internal either way), NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`, the IPv4 address in bits 16..48).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    let low = || Ipv4Addr::from((u32::from(segments[6]) << 16) | u32::from(segments[7]));
    match segments {
        [0, 0, 0, 0, 0, 0xffff, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0, 0, 0, 0, 0, 0, _, _]
        | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low()),
        [0x2002, high, low_half, ..] => Some(Ipv4Addr::from(
            (u32::from(high) << 16) | u32::from(low_half),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_hosts_named_in_the_url_are_recognised_before_any_lookup() {
        for (raw, internal) in [
            ("https://127.0.0.1/h", true),
            ("https://[::1]:8443/h", true),
            ("https://169.254.169.254/latest", true),
            ("https://10.1.2.3/h", true),
            ("https://localhost/h", true),
            ("https://api.LOCALHOST./h", true),
            ("https://93.184.216.34/h", false),
            ("https://hooks.example.com/h", false),
        ] {
            let url = WebhookUrl::parse(raw, false).expect(raw);
            assert_eq!(url.names_internal_host(), internal, "{raw}");
        }
    }

    #[test]
    fn webhook_urls_follow_the_contract() {
        let long = format!("https://example.com/{}", "a".repeat(WebhookUrl::MAX_LEN));
        let cases: &[(&str, bool, Result<(), WebhookUrlError>)] = &[
            ("https://hooks.example.com/vidgen", false, Ok(())),
            ("https://hooks.example.com:8443/a?b=c", false, Ok(())),
            (
                "http://hooks.example.com/",
                false,
                Err(WebhookUrlError::InsecureScheme),
            ),
            ("http://hooks.example.com/", true, Ok(())),
            (
                "ftp://hooks.example.com/",
                true,
                Err(WebhookUrlError::UnsupportedScheme),
            ),
            (
                "javascript:alert(1)",
                true,
                Err(WebhookUrlError::UnsupportedScheme),
            ),
            (
                "https://user:pw@hooks.example.com/",
                false,
                Err(WebhookUrlError::Credentials),
            ),
            (
                "https://user@hooks.example.com/",
                false,
                Err(WebhookUrlError::Credentials),
            ),
            ("not a url", false, Err(WebhookUrlError::Malformed)),
            ("/relative/path", false, Err(WebhookUrlError::Malformed)),
            (long.as_str(), false, Err(WebhookUrlError::TooLong)),
        ];
        for (raw, insecure, expected) in cases {
            assert_eq!(
                WebhookUrl::parse(raw, *insecure).map(|_| ()),
                *expected,
                "{raw} (insecure allowed: {insecure})"
            );
        }
    }

    #[test]
    fn internal_addresses_are_recognised_in_every_form() {
        let cases: &[(&str, bool)] = &[
            ("93.184.216.34", false),
            ("8.8.8.8", false),
            ("1.1.1.1", false),
            ("2606:4700:4700::1111", false),
            ("2a00:1450:4001:80b::200e", false),
            ("127.0.0.1", true),
            ("127.255.255.254", true),
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("172.31.255.255", true),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("169.254.0.1", true),
            ("100.64.0.1", true),
            ("0.0.0.0", true),
            ("0.1.2.3", true),
            ("224.0.0.1", true),
            ("255.255.255.255", true),
            ("192.0.2.1", true),
            ("198.18.0.1", true),
            ("240.0.0.1", true),
            ("::1", true),
            ("::", true),
            ("fc00::1", true),
            ("fd12:3456:789a::1", true),
            ("fe80::1", true),
            ("ff02::1", true),
            ("2001:db8::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:10.0.0.1", true),
            ("::ffff:169.254.169.254", true),
            ("::ffff:93.184.216.34", false),
            ("::127.0.0.1", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("64:ff9b::5db8:d822", false),
        ];
        for (raw, internal) in cases {
            let address: IpAddr = raw.parse().unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(is_internal_address(address), *internal, "{raw}");
        }
    }

    #[test]
    fn ipv4_addresses_written_inside_ipv6_are_judged_by_the_ipv4_address() {
        let cases: &[(&str, bool, &str)] = &[
            ("::ffff:127.0.0.1", true, "IPv4-mapped loopback"),
            ("::ffff:93.184.216.34", false, "IPv4-mapped public address"),
            ("::ffff:0:127.0.0.1", true, "IPv4-translated loopback"),
            ("::ffff:0:10.0.0.1", true, "IPv4-translated private address"),
            (
                "::ffff:0:169.254.169.254",
                true,
                "IPv4-translated metadata address",
            ),
            (
                "::ffff:0:93.184.216.34",
                false,
                "IPv4-translated public address",
            ),
            ("::127.0.0.1", true, "IPv4-compatible loopback"),
            ("::192.168.0.1", true, "IPv4-compatible private address"),
            ("::93.184.216.34", false, "IPv4-compatible public address"),
            ("64:ff9b::127.0.0.1", true, "NAT64 loopback"),
            ("64:ff9b::a9fe:a9fe", true, "NAT64 metadata address"),
            ("64:ff9b::5db8:d822", false, "NAT64 public address"),
            (
                "64:ff9b:1::5db8:d822",
                true,
                "local-use NAT64, whatever it carries",
            ),
            ("64:ff9b:1:ffff::1", true, "local-use NAT64, another subnet"),
            ("2002:7f00:1::", true, "6to4 of 127.0.0.1"),
            (
                "2002:7f00:1::1",
                true,
                "6to4 of 127.0.0.1, an interface in it",
            ),
            ("2002:a00:1:1::1", true, "6to4 of 10.0.0.1"),
            (
                "2002:a9fe:a9fe::",
                true,
                "6to4 of the metadata address 169.254.169.254",
            ),
            ("2002:c0a8:101::1", true, "6to4 of 192.168.1.1"),
            (
                "2002:5db8:d822::1",
                false,
                "6to4 of the public 93.184.216.34",
            ),
            (
                "2001:0:4136:e378:8000:63bf:3fff:fdd2",
                true,
                "Teredo (RFC 4380 example)",
            ),
            ("2001::1", true, "Teredo, any address"),
            ("2001:0:5db8:d822::", true, "Teredo with a public server"),
            (
                "2001:4860:4860::8888",
                false,
                "not Teredo: 2001:4860::/32 is public",
            ),
        ];
        for (raw, internal, what) in cases {
            let address: IpAddr = raw.parse().unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(
                is_internal_address(address),
                *internal,
                "{raw} ({what}) should be {}",
                if *internal { "internal" } else { "allowed" }
            );
        }
    }

    #[test]
    fn embedded_ipv4_literals_in_a_url_are_refused_before_any_lookup() {
        for raw in [
            "https://[2002:7f00:1::]/h",
            "https://[::ffff:0:7f00:1]/h",
            "https://[64:ff9b:1::1]/h",
            "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/h",
        ] {
            let url = WebhookUrl::parse(raw, false).expect(raw);
            assert!(
                url.names_internal_host(),
                "{raw} should be refused as internal"
            );
        }
    }
}
