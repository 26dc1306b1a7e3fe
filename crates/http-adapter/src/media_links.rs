//! Media links over HTTP: the absolute, signed URLs that responses embed
//! (`content_url`, `thumbnail_url`, `avatar_url`), and [`MediaCaller`], the extractor of
//! the media routes, which accepts either such a signature or the bearer token.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, SecurityScheme};
use paperclip::v2::schema::Apiv2Schema;
use vidgen_application::media_links::{LinkSignature, MediaLinks};
use vidgen_domain::users::{User, UserId};

use crate::auth::CurrentUser;
use crate::error::ApiError;

/// The query parameters of a signed link.
pub const EXPIRES: &str = "expires";
pub const SIGNATURE: &str = "signature";

/// Where absolute links start: `PUBLIC_BASE_URL` when configured (production requires
/// it), else the request's own `Host` header (checked against `ALLOWED_HOSTS` before any
/// handler runs) on the connection's own scheme. Never a forwarding header
/// (`X-Forwarded-Host`, `X-Forwarded-Proto`, `Forwarded`): any client can send those.
pub fn origin(request: &HttpRequest) -> String {
    if let Some(base) = request.app_data::<crate::responses::PublicBaseUrl>() {
        return base.0.trim_end_matches('/').to_owned();
    }
    let scheme = if request.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let host = request
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .filter(|host| is_authority(host))
        .unwrap_or_else(|| request.app_config().host());
    format!("{scheme}://{host}")
}

/// Whether `raw` is nothing but `host[:port]` (a DNS name, an IPv4 address or a
/// bracketed IPv6 address): with `ALLOWED_HOSTS=*` a `Host` header is otherwise unchecked,
/// and a link must not start with `user@`, a path or a scheme of the client's choosing.
fn is_authority(raw: &str) -> bool {
    let (host, port) = match raw.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, tail)) if v6.parse::<std::net::Ipv6Addr>().is_ok() => ("v6", tail),
            _ => return false,
        },
        None => match raw.rsplit_once(':') {
            Some((host, _)) => (host, &raw[host.len()..]),
            None => (raw, ""),
        },
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    port_ok
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// What the links of one response depend on besides their resources: responses with
/// equal fingerprints link the same resource with the same URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFingerprint {
    origin: String,
    /// The signer's id and the links' expiry, when links are signed.
    signer: Option<(u64, i64)>,
    versions: HashMap<UserId, i64>,
}

/// Builds the media links of the videos of one response (owned, so a stream can keep
/// it).
#[derive(Clone)]
pub struct MediaUrls {
    origin: Origin,
    links: Option<MediaLinks>,
    versions: HashMap<UserId, i64>,
    /// The expiry of every link of this response, read from the clock once.
    expires: OnceCell<i64>,
}

/// Where links start: known, or worked out from the request the first time a link is
/// built (most user responses have no avatar and need none).
#[derive(Clone)]
enum Origin {
    Known(String),
    Of(HttpRequest, OnceCell<String>),
}

impl Origin {
    fn get(&self) -> &str {
        match self {
            Self::Known(origin) => origin,
            Self::Of(request, origin) => origin.get_or_init(|| self::origin(request)),
        }
    }
}

impl std::fmt::Debug for MediaUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaUrls")
            .field("origin", &self.origin.get())
            .finish_non_exhaustive()
    }
}

impl MediaUrls {
    /// Links for `request`, signed by `links` with the owners' token `versions`.
    pub fn new(
        request: &HttpRequest,
        links: Option<&MediaLinks>,
        versions: HashMap<UserId, i64>,
    ) -> Self {
        Self {
            origin: Origin::Known(origin(request)),
            links: links.cloned(),
            versions,
            expires: OnceCell::new(),
        }
    }

    /// Everything besides the resources that the links of this response depend on
    /// (reading the clock for their expiry now, as the links will).
    pub fn fingerprint(&self) -> LinkFingerprint {
        LinkFingerprint {
            origin: self.origin.get().to_owned(),
            signer: self.links.as_ref().map(|links| {
                (
                    links.signer_id(),
                    *self.expires.get_or_init(|| links.expiry()),
                )
            }),
            versions: self.versions.clone(),
        }
    }

    /// The absolute link to `path` of a resource of `owner`: signed when links are
    /// signed and the owner's token version is known.
    pub fn url(&self, path: &str, owner: UserId) -> String {
        self.signed(path, self.versions.get(&owner).copied())
    }

    /// The absolute, signed link to `user`'s avatar, when they have one (signed with the
    /// user's own token version, so it dies with their sessions).
    pub fn avatar_url(&self, user: &User) -> Option<String> {
        user.avatar_key.as_ref().map(|_| {
            self.signed(
                &format!("/api/v1/users/{}/avatar", user.id),
                Some(user.token_version),
            )
        })
    }

    fn signed(&self, path: &str, token_version: Option<i64>) -> String {
        use std::fmt::Write;
        let origin = self.origin.get();
        let mut url = String::with_capacity(origin.len() + path.len() + 96);
        url.push_str(origin);
        url.push_str(path);
        if let (Some(links), Some(version)) = (&self.links, token_version) {
            let expires = *self.expires.get_or_init(|| links.expiry());
            let signed = links.sign_until(path, version, expires);
            let _ = write!(url, "?{EXPIRES}={}&{SIGNATURE}=", signed.expires);
            url.push_str(&signed.signature);
        }
        url
    }
}

/// The links of a response about users (their avatars): the signer is the
/// application's `MediaLinks`, when one is provided as app data.
impl FromRequest for MediaUrls {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let links = req.app_data::<actix_web::web::Data<MediaLinks>>();
        std::future::ready(Ok(Self {
            origin: Origin::Of(req.clone(), OnceCell::new()),
            links: links.map(|links| links.as_ref().clone()),
            versions: HashMap::new(),
            expires: OnceCell::new(),
        }))
    }
}

impl Apiv2Schema for MediaUrls {}

impl OperationModifier for MediaUrls {
    fn update_parameter(_: &mut DefaultOperationRaw) {}

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
}

/// Who asks for a media file: the bearer of a token, or a link's signature.
#[derive(Debug, Clone)]
pub enum MediaCaller {
    Bearer(CurrentUser),
    /// The request carries `expires` and `signature` (not yet checked: the use case
    /// checks them against the resource's owner).
    Link(LinkSignature),
}

/// The link query of `request`, if it has one: `Some(Err)` when it is malformed (which
/// is answered like a bad signature, 404).
fn link_query(request: &HttpRequest) -> Option<Result<LinkSignature, ()>> {
    let mut expires = None;
    let mut signature = None;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    for (name, value) in pairs {
        match name.as_str() {
            EXPIRES => expires = Some(value),
            SIGNATURE => signature = Some(value),
            _ => {}
        }
    }
    if expires.is_none() && signature.is_none() {
        return None;
    }
    Some(match (expires.and_then(|e| e.parse().ok()), signature) {
        (Some(expires), Some(signature)) => Ok(LinkSignature { expires, signature }),
        _ => Err(()),
    })
}

impl FromRequest for MediaCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        match link_query(req) {
            Some(Ok(link)) => Box::pin(std::future::ready(Ok(Self::Link(link)))),
            Some(Err(())) => Box::pin(std::future::ready(Err(ApiError::not_found()))),
            None => {
                let bearer = CurrentUser::from_request(req, payload);
                Box::pin(async move { bearer.await.map(Self::Bearer) })
            }
        }
    }
}

impl Apiv2Schema for MediaCaller {
    fn name() -> Option<String> {
        <CurrentUser as Apiv2Schema>::name()
    }

    fn security_scheme() -> Option<SecurityScheme> {
        <CurrentUser as Apiv2Schema>::security_scheme()
    }
}

impl OperationModifier for MediaCaller {
    fn update_parameter(_: &mut DefaultOperationRaw) {}

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn only_a_plain_host_and_port_can_start_a_link() {
        for good in [
            "api.example.com",
            "localhost:8000",
            "127.0.0.1:8080",
            "[::1]:8000",
            "[2001:db8::1]",
        ] {
            assert!(is_authority(good), "{good} refused");
        }
        for bad in [
            "evil.example/path",
            "user@evil.example",
            "javascript://x",
            "a b",
            "host:",
            "host:80x",
            "[::1",
            "[nothost]:80",
            "",
        ] {
            assert!(!is_authority(bad), "{bad} accepted");
        }
    }

    #[test]
    fn a_link_query_needs_both_parameters_and_an_integer_expiry() {
        let query =
            |q: &str| link_query(&TestRequest::with_uri(&format!("/f?{q}")).to_http_request());
        assert_eq!(query("x=1"), None);
        assert_eq!(
            query("expires=12&signature=abc"),
            Some(Ok(LinkSignature {
                expires: 12,
                signature: "abc".into()
            }))
        );
        assert_eq!(query("expires=12"), Some(Err(())));
        assert_eq!(query("signature=abc"), Some(Err(())));
        assert_eq!(query("expires=soon&signature=abc"), Some(Err(())));
    }

    #[test]
    fn a_response_reads_the_clock_once_for_all_its_links() {
        use std::sync::Arc;

        use chrono::{TimeZone, Utc};
        use vidgen_application::clock::MockClock;
        use vidgen_application::media_links::MockLinkSigner;

        let mut clock = MockClock::new();
        clock
            .expect_now()
            .times(1)
            .returning(|| Utc.timestamp_opt(1_000_000, 0).single().expect("time"));
        let mut signer = MockLinkSigner::new();
        signer
            .expect_sign()
            .times(3)
            .returning(|message| String::from_utf8_lossy(message).replace('\n', "~"));
        let links = MediaLinks::new(Arc::new(signer), Arc::new(clock), 3600);
        let owner = UserId::new(4).expect("an id");
        let urls = MediaUrls::new(
            &TestRequest::default().to_http_request(),
            Some(&links),
            HashMap::from([(owner, 2)]),
        );
        let first = urls.url("/api/v1/videos/1/content", owner);
        let second = urls.url("/api/v1/videos/1/thumbnail", owner);
        let third = urls.url("/api/v1/videos/2/content", owner);
        let expires = "expires=1003320&";
        for (url, path) in [
            (&first, "/api/v1/videos/1/content"),
            (&second, "/api/v1/videos/1/thumbnail"),
            (&third, "/api/v1/videos/2/content"),
        ] {
            assert!(url.contains(expires), "{url}");
            assert!(
                url.ends_with(&format!("signature=GET~{path}~1003320~2")),
                "{url}"
            );
        }
        // Not signed without the owner's token version, and no clock read for it.
        let stranger = UserId::new(5).expect("an id");
        assert!(!urls.url("/api/v1/videos/3/content", stranger).contains('?'));
    }
}
