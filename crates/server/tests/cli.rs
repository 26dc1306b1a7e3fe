//! The `vidgen` binary: configuration errors, subcommands and graceful shutdown.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn vidgen(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vidgen"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(dir);
    command
}

#[test]
fn bad_settings_stop_start_up_with_one_line_per_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = vidgen(dir.path())
        .env("PORT", "eighty")
        .env("APP_ENV", "production")
        .env("LOG_FORMAT", "xml")
        .output()
        .expect("run vidgen");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    // Production also refuses what is only safe in development (the mail log, open
    // metrics, links without a base URL).
    let variables = [
        "PORT",
        "SECRET_KEY",
        "LOG_FORMAT",
        "PUBLIC_BASE_URL",
        "MAIL_BACKEND",
        "METRICS_TOKEN",
    ];
    assert_eq!(lines.len(), variables.len(), "{stderr}");
    for variable in variables {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("configuration error: {variable}: "))),
            "{variable} not reported: {stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created on bad settings"
    );
}

#[test]
fn production_refuses_the_example_secret_key_naming_the_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The audit forged tokens for any user with the key `.env.example` showed.
    let placeholder = "change-me-to-at-least-32-random-bytes-please";
    let output = vidgen(dir.path())
        .env("APP_ENV", "production")
        .env("SECRET_KEY", placeholder)
        .env("PUBLIC_BASE_URL", "https://api.example.com")
        .env("MAIL_BACKEND", "log")
        .env("MAIL_LOG_IN_PRODUCTION", "true")
        .env("METRICS_PUBLIC", "true")
        .output()
        .expect("run vidgen");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("configuration error: SECRET_KEY: is refused when APP_ENV=production"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        !stderr.contains(placeholder),
        "the key is never printed: {stderr}"
    );
    assert!(!dir.path().join("data").exists(), "nothing is created");
}

#[test]
fn an_invalid_log_level_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = vidgen(dir.path())
        .env("LOG_LEVEL", "vidgen=[")
        .output()
        .expect("run vidgen");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("configuration error: LOG_LEVEL: "),
        "{stderr}"
    );
}

#[test]
fn openapi_prints_the_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = vidgen(dir.path())
        .arg("openapi")
        .output()
        .expect("run vidgen");
    assert!(output.status.success());
    let spec: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(spec["openapi"], "3.0.3");
    assert!(spec["paths"]["/health"].is_object());
}

#[test]
fn migrate_creates_and_migrates_the_default_sqlite_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = vidgen(dir.path())
        .arg("migrate")
        .output()
        .expect("run vidgen");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("data/vidgen.db").exists());
}

#[test]
fn an_unreachable_database_fails_fast() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let output = vidgen(dir.path())
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("DATABASE_CONNECT_TIMEOUT_SECONDS", "2")
        .output()
        .expect("run vidgen");
    assert!(!output.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn get_health(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn sigterm_stops_the_server_gracefully_with_exit_code_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = vidgen(dir.path())
        .env("PORT", port.to_string())
        .env("SHUTDOWN_TIMEOUT_SECONDS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vidgen");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut answered = None;
    while Instant::now() < deadline {
        if let Some(response) = get_health(port) {
            answered = Some(response);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let response = answered.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("server never answered")
    });
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            assert_eq!(exit.code(), Some(0), "exit status {exit:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert!(get_health(port).is_none(), "still serving after exit");
}

#[test]
fn create_admin_reads_the_password_from_stdin_and_never_prints_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "Adm1nSecretPassword";
    let run = |email: &str, username: &str, stdin: &str| {
        let mut child = vidgen(dir.path())
            .env("PASSWORD_HASH_MEMORY_KIB", "64")
            .env("PASSWORD_HASH_ITERATIONS", "1")
            .args(["create-admin", "--email", email, "--username", username])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vidgen");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("wait")
    };

    let created = run("root@example.com", "admin", &format!("{secret}\n"));
    let stdout = String::from_utf8_lossy(&created.stdout);
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(created.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("created admin admin (id 1)"), "{stdout}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret));

    let duplicate = run("ROOT@example.com", "other", &format!("{secret}\n"));
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already registered"));

    let weak = run("weak@example.com", "weakling", "weak\n");
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(
        stderr.contains("password: must be at least 8 characters"),
        "{stderr}"
    );
    assert!(!stderr.contains("weak\n"));

    let bad_email = run("not-an-email", "someone", &format!("{secret}\n"));
    assert!(!bad_email.status.success());
    assert!(String::from_utf8_lossy(&bad_email.stderr).contains("email"));
}
