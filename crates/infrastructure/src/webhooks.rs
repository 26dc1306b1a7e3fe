//! Outgoing webhooks: Standard Webhooks signatures ([`signature`]) and the HTTP sender
//! that resolves the target once, refuses internal addresses, and connects to the very
//! address it checked (so DNS rebinding cannot slip past the check).

pub mod signature;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use vidgen_application::webhooks::{WebhookError, WebhookMessage, WebhookSender};
use vidgen_domain::webhooks::is_internal_address;

use self::signature::WebhookKey;

/// How much of a receiver's answer is read before the connection is dropped.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024;

/// [`WebhookSender`] over HTTP(S) with reqwest.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    key: WebhookKey,
    allow_private: bool,
    timeout: Duration,
}

impl HttpWebhookSender {
    pub fn new(key: WebhookKey, allow_private: bool, timeout: Duration) -> Self {
        Self {
            key,
            allow_private,
            timeout,
        }
    }

    /// Every address the URL's host stands for (an IP literal stands for itself).
    async fn addresses(url: &reqwest::Url) -> Result<(Vec<IpAddr>, u16), WebhookError> {
        let port = url
            .port_or_known_default()
            .ok_or_else(|| WebhookError::Unresolvable("no port for this scheme".into()))?;
        let addresses = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
            Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
            Some(url::Host::Domain(domain)) => tokio::net::lookup_host((domain, port))
                .await
                .map_err(|e| WebhookError::Unresolvable(e.to_string()))?
                .map(|socket| socket.ip())
                .collect(),
            None => Vec::new(),
        };
        if addresses.is_empty() {
            return Err(WebhookError::Unresolvable("no address".into()));
        }
        Ok((addresses, port))
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, message: &WebhookMessage) -> Result<u16, WebhookError> {
        let url = reqwest::Url::parse(message.url.as_ref())
            .map_err(|e| WebhookError::Unresolvable(e.to_string()))?;
        let (addresses, port) = Self::addresses(&url).await?;
        if !self.allow_private
            && let Some(internal) = addresses.iter().find(|ip| is_internal_address(**ip))
        {
            return Err(WebhookError::InternalAddress(internal.to_string()));
        }
        let checked: Vec<SocketAddr> = addresses
            .iter()
            .map(|ip| SocketAddr::new(*ip, port))
            .collect();
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .no_proxy();
        if let Some(domain) = url.domain() {
            // Connect only to the addresses that were checked, never to a second lookup's.
            client = client.resolve_to_addrs(domain, &checked);
        }
        let client = client
            .build()
            .map_err(|e| WebhookError::Unreachable(e.to_string()))?;
        let timestamp = message.timestamp.timestamp();
        let mut response = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                self.key.sign(&message.id, timestamp, &message.body),
            )
            .body(message.body.clone())
            .send()
            .await
            .map_err(|e| WebhookError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        // Read a little of the answer (so keep-alive servers see it consumed), never more.
        let mut read = 0;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(WebhookError::Rejected(status))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::{TimeZone, Utc};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use vidgen_domain::webhooks::WebhookUrl;

    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    /// A receiver on loopback answering every request with `answer`; it keeps what it
    /// was sent.
    async fn receiver(answer: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    // Read the head, then as much body as Content-Length says.
                    loop {
                        let Ok(n) = socket.read(&mut buffer).await else {
                            return;
                        };
                        if n == 0 {
                            break;
                        }
                        request.extend_from_slice(&buffer[..n]);
                        let text = String::from_utf8_lossy(&request).to_string();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            let length = head
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length: ")
                                        .and_then(|v| v.trim().parse::<usize>().ok())
                                })
                                .unwrap_or(0);
                            if body.len() >= length {
                                break;
                            }
                        }
                    }
                    kept.lock()
                        .expect("lock")
                        .push(String::from_utf8_lossy(&request).to_string());
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (port, seen)
    }

    fn message(url: &str) -> WebhookMessage {
        WebhookMessage {
            url: WebhookUrl::parse(url, true).expect("url"),
            id: "msg_1".into(),
            timestamp: Utc
                .with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
                .single()
                .expect("time"),
            body: r#"{"type":"video.completed"}"#.into(),
        }
    }

    fn sender(allow_private: bool) -> HttpWebhookSender {
        HttpWebhookSender::new(
            WebhookKey::parse(SECRET).expect("key"),
            allow_private,
            Duration::from_secs(5),
        )
    }

    #[tokio::test]
    async fn a_delivery_carries_the_standard_webhooks_headers_and_a_valid_signature() {
        let (port, seen) = receiver("HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").await;
        let message = message(&format!("http://localhost:{port}/hook"));
        let status = sender(true).send(&message).await.expect("delivered");
        assert_eq!(status, 204);
        let requests = seen.lock().expect("lock").clone();
        assert_eq!(requests.len(), 1);
        let request = requests[0].to_ascii_lowercase();
        let expected = WebhookKey::parse(SECRET)
            .expect("key")
            .sign("msg_1", message.timestamp.timestamp(), &message.body)
            .to_ascii_lowercase();
        assert!(request.starts_with("post /hook "), "{request}");
        assert!(request.contains("webhook-id: msg_1\r\n"), "{request}");
        assert!(
            request.contains(&format!(
                "webhook-timestamp: {}\r\n",
                message.timestamp.timestamp()
            )),
            "{request}"
        );
        assert!(
            request.contains(&format!("webhook-signature: {expected}\r\n")),
            "{request}"
        );
        assert!(requests[0].ends_with(&message.body), "{}", requests[0]);
    }

    #[tokio::test]
    async fn internal_targets_are_refused_before_any_connection_unless_allowed() {
        let (port, seen) = receiver("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            // IPv4 written inside IPv6: IPv4-translated, 6to4, local-use NAT64, Teredo.
            format!("http://[::ffff:0:127.0.0.1]:{port}/"),
            format!("http://[2002:7f00:1::1]:{port}/"),
            format!("http://[64:ff9b:1::7f00:1]:{port}/"),
            format!("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{port}/"),
        ] {
            let refused = sender(false).send(&message(&url)).await;
            assert!(
                matches!(refused, Err(WebhookError::InternalAddress(_))),
                "{url}: {refused:?}"
            );
        }
        assert!(
            seen.lock().expect("lock").is_empty(),
            "a refused target was contacted"
        );
    }

    #[tokio::test]
    async fn redirects_and_errors_are_failed_attempts_and_not_followed() {
        let (target, followed) = receiver("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        let redirect: &'static str = Box::leak(
            format!(
                "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{target}/\r\ncontent-length: 0\r\n\r\n"
            )
            .into_boxed_str(),
        );
        let (port, _) = receiver(redirect).await;
        let outcome = sender(true)
            .send(&message(&format!("http://127.0.0.1:{port}/")))
            .await;
        assert!(
            matches!(outcome, Err(WebhookError::Rejected(302))),
            "{outcome:?}"
        );
        assert!(
            followed.lock().expect("lock").is_empty(),
            "the redirect was followed"
        );

        let (failing, _) =
            receiver("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await;
        let outcome = sender(true)
            .send(&message(&format!("http://127.0.0.1:{failing}/")))
            .await;
        assert!(
            matches!(outcome, Err(WebhookError::Rejected(503))),
            "{outcome:?}"
        );
        assert!(outcome.as_ref().is_err_and(WebhookError::is_retryable));
    }
}
