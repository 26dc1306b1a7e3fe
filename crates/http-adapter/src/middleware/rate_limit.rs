//! Rate limiting of `/api/`: each request counts against its client's budget (the user
//! id of a valid bearer token, else the client address); every answer carries the
//! budget's figures (`X-RateLimit-*` and the IETF draft's `RateLimit-Policy` /
//! `RateLimit`), and a request over it gets 429 `RATE_LIMITED` with `Retry-After`.
//!
//! The client address is the peer's, unless the peer is a trusted proxy: then the
//! right-most address of the one header the proxies write (`FORWARDED_HEADER`:
//! `X-Forwarded-For`, or `Forwarded: for=`) that is not itself a trusted proxy, so a
//! client cannot pick its own key by sending a header of either kind. Per-address budgets
//! key an IPv6 client by its /64, the block one subscriber gets.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, web};
use vidgen_application::auth::AuthService;
use vidgen_application::rate_limits::{RateDecision, RateLimits, RatePolicy};

use crate::error::ApiError;

/// The one header trusted proxies name the client in (`FORWARDED_HEADER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded`, its `for=` parameters.
    Forwarded,
}

/// Which peers are proxies whose forwarding header is believed, and which header that is.
#[derive(Clone)]
pub struct TrustedProxies {
    trusts: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
    header: ForwardedHeader,
}

impl std::fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedProxies")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl TrustedProxies {
    /// Proxies for which `trusts` holds, naming the client in `X-Forwarded-For`.
    pub fn new(trusts: impl Fn(IpAddr) -> bool + Send + Sync + 'static) -> Self {
        Self {
            trusts: Arc::new(trusts),
            header: ForwardedHeader::default(),
        }
    }

    /// The same proxies, naming the client in `header` instead.
    #[must_use]
    pub fn reading(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// No proxy is trusted: the peer is the client.
    pub fn none() -> Self {
        Self::new(|_| false)
    }

    pub fn trusts(&self, address: IpAddr) -> bool {
        (self.trusts)(address)
    }
}

/// The client's address, as this middleware decided it (in the request's extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// One hop of `Forwarded: for=...` (RFC 7239): an address, possibly quoted, bracketed
/// and with a port.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

fn parse_hop(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    if let Ok(ip) = raw.parse() {
        return Some(ip);
    }
    // `[v6]:port`, `[v6]` or `v4:port`.
    if let Some(rest) = raw.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    raw.rsplit_once(':')?.0.parse().ok()
}

/// The hops the proxies recorded in `header`, nearest last (every other forwarding
/// header is ignored: a client may send any of them). A value that is not text is a hop
/// that cannot be read.
fn forwarded_hops(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let name = match header {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    let mut hops = Vec::new();
    for value in headers.get_all(name) {
        let Ok(value) = value.to_str() else {
            hops.push(None);
            continue;
        };
        for element in value.split(',') {
            hops.push(match header {
                ForwardedHeader::XForwardedFor => parse_hop(element),
                ForwardedHeader::Forwarded => forwarded_for(element).and_then(parse_hop),
            });
        }
    }
    hops
}

/// See the module docs: the peer, or through trusted proxies the right-most untrusted hop.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &TrustedProxies) -> IpAddr {
    if !proxies.trusts(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_hops(headers, proxies.header).into_iter().rev() {
        match hop {
            // A hop that cannot be read ends the chain: trust nothing beyond it.
            None => break,
            Some(address) => {
                client = address;
                if !proxies.trusts(address) {
                    break;
                }
            }
        }
    }
    client
}

/// The client address of a request this middleware saw (else its peer).
pub fn request_client_ip(req: &HttpRequest) -> Option<IpAddr> {
    req.extensions()
        .get::<ClientIp>()
        .map(|c| c.0)
        .or_else(|| req.peer_addr().map(|a| a.ip()))
}

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Writes a decision's figures onto `headers` (leaving any a handler already set).
pub fn write_headers(headers: &mut HeaderMap, decision: &RateDecision) {
    let reset = decision.reset_seconds();
    let limit = decision.quota.limit;
    let remaining = decision.remaining;
    let mut put = |name: HeaderName, value: HeaderValue| {
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    };
    put(LIMIT, HeaderValue::from(limit));
    put(REMAINING, HeaderValue::from(remaining));
    put(RESET, HeaderValue::from(reset));
    let window = decision.quota.window.as_secs().max(1);
    // Written with `itoa` into buffers of their final size: `format!` here was 1% of a
    // `/users/me`.
    let mut numbers = itoa::Buffer::new();
    let mut policy = String::with_capacity(24);
    policy.push_str(numbers.format(limit));
    policy.push_str(";w=");
    policy.push_str(numbers.format(window));
    let mut current = String::with_capacity(56);
    current.push_str("limit=");
    current.push_str(numbers.format(limit));
    current.push_str(", remaining=");
    current.push_str(numbers.format(remaining));
    current.push_str(", reset=");
    current.push_str(numbers.format(reset));
    for (name, value) in [(POLICY, policy), (RATELIMIT, current)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            put(name, value);
        }
    }
}

/// The refusal of a request over its budget, with the budget's figures.
fn refusal(decision: &RateDecision) -> actix_web::HttpResponse {
    let mut response = actix_web::ResponseError::error_response(&ApiError::RateLimited {
        retry_after_seconds: decision.reset_seconds(),
    });
    write_headers(response.headers_mut(), decision);
    response
}

/// Counts one request against `policy` under `key`, outside the per-request budget.
///
/// # Errors
/// 429 `RATE_LIMITED` with `Retry-After` over the limit.
async fn count(req: &HttpRequest, policy: RatePolicy, key: &str) -> Result<(), ApiError> {
    let Some(limits) = req.app_data::<web::Data<RateLimits>>() else {
        return Ok(());
    };
    let decision = limits.check(policy, key).await;
    if decision.allowed {
        Ok(())
    } else {
        tracing::warn!(policy = policy.as_str(), "requests over the limit");
        Err(ApiError::RateLimited {
            retry_after_seconds: decision.reset_seconds(),
        })
    }
}

/// How a client address is counted in per-address budgets: an IPv4 address (also one
/// written as IPv4-mapped IPv6) as itself, any other IPv6 address by its /64, the block a
/// single subscriber gets and can rotate through freely.
pub fn budget_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

fn client_of(req: &HttpRequest) -> String {
    request_client_ip(req).map_or_else(|| "unknown".to_owned(), budget_key)
}

/// Counts one password attempt of the client on `account` (`LOGIN_RATE_LIMIT` per 15
/// minutes per (IP, account)), before any hashing. `account` is the account's own key
/// (`user:{id}`) whenever one is known, so every name of an account shares its budget.
///
/// # Errors
/// 429 `RATE_LIMITED` with `Retry-After` over the limit.
pub async fn password_attempt(req: &HttpRequest, account: &str) -> Result<(), ApiError> {
    let client = client_of(req);
    count(
        req,
        RatePolicy::Login,
        &RateLimits::attempt_key(&client, account),
    )
    .await
}

/// Counts one password-recovery request: against the client's budget
/// (`PASSWORD_RECOVERY_RATE_LIMIT` per hour per IP), then against the address's
/// (`ACCOUNT_MAIL_RATE_LIMIT` per hour), whether an account uses the address or not.
///
/// # Errors
/// 429 `RATE_LIMITED` with `Retry-After` over either limit.
pub async fn recovery_request(req: &HttpRequest, address: &str) -> Result<(), ApiError> {
    count(req, RatePolicy::Recovery, &format!("ip:{}", client_of(req))).await?;
    count(
        req,
        RatePolicy::AccountMail,
        &format!("email:{}", address.trim().to_lowercase()),
    )
    .await
}

/// Counts one account e-mail a signed-in user asks for (`ACCOUNT_MAIL_RATE_LIMIT` per
/// hour per user).
///
/// # Errors
/// 429 `RATE_LIMITED` with `Retry-After` over the limit.
pub async fn account_mail_request(req: &HttpRequest, user: &str) -> Result<(), ApiError> {
    count(req, RatePolicy::AccountMail, &format!("user:{user}")).await
}

/// See the module docs. Configured through `web::Data<RateLimits>` (and
/// `web::Data<TrustedProxies>`); without it nothing is limited.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let proxies = req
        .app_data::<web::Data<TrustedProxies>>()
        .map(|p| p.get_ref().clone())
        .unwrap_or_else(TrustedProxies::none);
    if let Some(peer) = req.peer_addr().map(|a| a.ip()) {
        let client = client_ip(peer, req.headers(), &proxies);
        req.extensions_mut().insert(ClientIp(client));
    }
    let limits = req.app_data::<web::Data<RateLimits>>().cloned();
    let Some(limits) = limits.filter(|_| super::routed_path(&req).starts_with("/api/")) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let verified = crate::auth::bearer_token(req.request()).and_then(|token| {
        let claims = req
            .app_data::<web::Data<AuthService>>()
            .and_then(|auth| auth.token_claims(token))?;
        Some(crate::auth::VerifiedToken(claims))
    });
    let subject = verified.as_ref().map(|v| v.0.user_id);
    if let Some(verified) = verified {
        // The authentication extractor uses these instead of verifying the token again.
        req.extensions_mut().insert(verified);
    }
    let key = match subject {
        Some(user) => format!("user:{user}"),
        None => format!("ip:{}", client_of(req.request())),
    };
    let decision = limits.check(RatePolicy::Api, &key).await;
    if !decision.allowed {
        let response = refusal(&decision);
        return Ok(req.into_response(response));
    }
    let mut response = next
        .call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)?;
    write_headers(response.headers_mut(), &decision);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::http::header::HeaderValue;
    use vidgen_application::rate_limits::Quota;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().expect("ip")
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(|address| match address {
            IpAddr::V4(v4) => v4.octets()[0] == 10,
            IpAddr::V6(_) => false,
        })
    }

    fn forwarded_proxies() -> TrustedProxies {
        proxies().reading(ForwardedHeader::Forwarded)
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let spoofed = headers(&[("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), &spoofed, &proxies()),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &spoofed, &proxies()),
            ip("6.6.6.6")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &proxies()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        // The client sent a forged first hop; two trusted proxies appended theirs.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.5")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &chain, &proxies()),
            ip("198.51.100.7")
        );
        let split = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &split, &proxies()),
            ip("198.51.100.7")
        );
        // An unreadable hop stops the walk at the last trusted one.
        let garbage = headers(&[("x-forwarded-for", "198.51.100.7, nonsense")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &garbage, &proxies()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn only_the_configured_header_is_read_and_its_forms_are_understood() {
        // The audit's spoof: behind a proxy that appends X-Forwarded-For, the client sent
        // its own `Forwarded`. It is ignored; the proxy's header decides.
        let spoof = headers(&[
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(
            client_ip(ip("10.1.1.1"), &spoof, &proxies()),
            ip("198.51.100.7")
        );
        // And the other way round when the proxies write `Forwarded`.
        let spoof = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=198.51.100.7"),
        ]);
        assert_eq!(
            client_ip(ip("10.1.1.1"), &spoof, &forwarded_proxies()),
            ip("198.51.100.7")
        );
        let only_the_other = headers(&[("forwarded", "for=6.6.6.6")]);
        assert_eq!(
            client_ip(ip("10.1.1.1"), &only_the_other, &proxies()),
            ip("10.1.1.1"),
            "no X-Forwarded-For: the proxy itself is the client"
        );
        let forwarded = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\"",
        )]);
        assert_eq!(
            client_ip(ip("10.1.1.1"), &forwarded, &forwarded_proxies()),
            ip("2001:db8:cafe::17")
        );
        let with_port = headers(&[("forwarded", "for=\"192.0.2.43:47011\"")]);
        assert_eq!(
            client_ip(ip("10.1.1.1"), &with_port, &forwarded_proxies()),
            ip("192.0.2.43")
        );
        // A client's forged first element is left of the proxy's own.
        let chain = headers(&[("forwarded", "for=1.1.1.1, for=198.51.100.7")]);
        assert_eq!(
            client_ip(ip("10.1.1.1"), &chain, &forwarded_proxies()),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn ipv6_clients_share_the_budget_of_their_64() {
        assert_eq!(budget_key(ip("203.0.113.9")), "203.0.113.9");
        assert_eq!(budget_key(ip("::ffff:203.0.113.9")), "203.0.113.9");
        assert_eq!(
            budget_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            budget_key(ip("2001:db8:1:2::1")),
            budget_key(ip("2001:db8:1:2:ffff::9")),
            "one /64, one budget"
        );
        assert_ne!(
            budget_key(ip("2001:db8:1:2::1")),
            budget_key(ip("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn the_figures_are_written_in_both_styles() {
        let decision = RateDecision {
            allowed: true,
            quota: Quota {
                limit: 60,
                window: Duration::from_secs(60),
            },
            remaining: 59,
            reset: Duration::from_millis(1000),
        };
        let mut map = HeaderMap::new();
        write_headers(&mut map, &decision);
        assert_eq!(
            map.get("x-ratelimit-limit").and_then(|v| v.to_str().ok()),
            Some("60")
        );
        assert_eq!(
            map.get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok()),
            Some("59")
        );
        assert_eq!(
            map.get("x-ratelimit-reset").and_then(|v| v.to_str().ok()),
            Some("1")
        );
        assert_eq!(
            map.get("ratelimit-policy").and_then(|v| v.to_str().ok()),
            Some("60;w=60")
        );
        assert_eq!(
            map.get("ratelimit").and_then(|v| v.to_str().ok()),
            Some("limit=60, remaining=59, reset=1")
        );
    }
}
