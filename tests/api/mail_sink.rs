//! A small SMTP server on loopback for the tests: it speaks enough of RFC 5321 for a
//! real client (lettre) to deliver to it (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP,
//! QUIT), keeps every message it accepted with the credentials it was given, and can
//! refuse the first messages with a temporary error, as a mail server that is down does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::eventually;

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body, dot-stuffing undone).
    pub data: Vec<u8>,
    /// `user:password` of the `AUTH PLAIN` of its session, if any.
    pub credentials: Option<String>,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    refuse_next: usize,
}

/// The sink: its port and what it received.
#[derive(Clone)]
pub struct MailSink {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl MailSink {
    /// Listens on a free loopback port until the test's runtime ends.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind the SMTP sink: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("sink address: {e}"))
            .port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, shared.clone()));
            }
        });
        Self { port, state }
    }

    /// The `SMTP_URL` of this sink, with credentials.
    pub fn url(&self, user: &str, password: &str) -> String {
        format!("smtp://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// The next `count` messages are refused with `451` (a temporary failure).
    pub fn refuse_next(&self, count: usize) {
        self.lock().refuse_next = count;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Waits (10 s at most) until `count` messages to `to` have arrived; answers them.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Received> {
        eventually(Duration::from_secs(10), async || {
            let mails: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|m| m.to.iter().any(|r| r == to))
                .collect();
            if mails.len() >= count {
                Ok(mails)
            } else {
                Err(format!(
                    "{} of {count} e-mails to {to} arrived; all: {:?}",
                    mails.len(),
                    self.received()
                ))
            }
        })
        .await
    }
}

/// The address inside `MAIL FROM:<a@b>` / `RCPT TO:<a@b> ...`.
fn path_of(argument: &str) -> String {
    let start = argument.find('<').map_or(0, |i| i + 1);
    let end = argument[start..]
        .find('>')
        .map_or(argument.len(), |i| start + i);
    argument[start..end].to_owned()
}

async fn session(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let lock = || {
        state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let reply = async |write: &mut tokio::net::tcp::OwnedWriteHalf, text: &str| {
        write.write_all(text.as_bytes()).await.is_ok()
    };
    if !reply(&mut write, "220 sink.test ESMTP ready\r\n").await {
        return;
    }
    let mut from = String::new();
    let mut to = Vec::new();
    let mut credentials = None;
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => "250-sink.test\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n".to_owned(),
            "HELO" => "250 sink.test\r\n".to_owned(),
            "AUTH" => {
                let encoded = command.split_whitespace().nth(2).unwrap_or_default();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap_or_default();
                let parts: Vec<String> = decoded
                    .split(|b| *b == 0)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                credentials = (parts.len() == 3).then(|| format!("{}:{}", parts[1], parts[2]));
                "235 2.7.0 authenticated\r\n".to_owned()
            }
            "MAIL" => {
                from = path_of(&command);
                to.clear();
                "250 2.1.0 ok\r\n".to_owned()
            }
            "RCPT" => {
                to.push(path_of(&command));
                "250 2.1.5 ok\r\n".to_owned()
            }
            "DATA" => {
                if !reply(&mut write, "354 end with <CRLF>.<CRLF>\r\n").await {
                    return;
                }
                let mut data = Vec::new();
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.extend_from_slice(unstuffed.as_bytes());
                }
                let mut state = lock();
                if state.refuse_next > 0 {
                    state.refuse_next -= 1;
                    "451 4.3.0 try again later\r\n".to_owned()
                } else {
                    state.received.push(Received {
                        from: from.clone(),
                        to: to.clone(),
                        data,
                        credentials: credentials.clone(),
                    });
                    "250 2.0.0 queued\r\n".to_owned()
                }
            }
            "RSET" => {
                from.clear();
                to.clear();
                "250 2.0.0 ok\r\n".to_owned()
            }
            "NOOP" => "250 2.0.0 ok\r\n".to_owned(),
            "QUIT" => {
                let _ = reply(&mut write, "221 2.0.0 bye\r\n").await;
                return;
            }
            _ => "502 5.5.2 command not implemented\r\n".to_owned(),
        };
        if !reply(&mut write, &answer).await {
            return;
        }
    }
}
