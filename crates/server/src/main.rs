//! The `vidgen` binary: `vidgen` (or `vidgen serve`) runs the service; `vidgen migrate`
//! applies the migrations; `vidgen openapi` prints the OpenAPI document.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vidgen_infrastructure::settings::Settings;
use vidgen_server::{Application, ShutdownSignals, startup, telemetry};

/// jemalloc instead of glibc's allocator: a list request allocates a few hundred small
/// objects (rows, strings, JSON), and glibc's malloc, free and their arena locks were a
/// quarter of its CPU time in a profile. jemalloc's background thread (enabled, with a
/// one-second decay, in `.cargo/config.toml`) also hands freed pages back to the system
/// on its own, so an idle instance shrinks back after a burst of argon2 hashes (19 MiB of
/// working memory each) without waiting for further allocations, as mimalloc did.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(name = "vidgen", version, about = "AI video-generation REST API")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI 3 document as JSON and exit.
    Openapi,
    /// Create an admin account (the password is read from stdin unless given).
    CreateAdmin {
        /// The admin's e-mail address.
        #[arg(long)]
        email: String,
        /// The admin's username (reserved names such as `admin` are allowed here).
        #[arg(long, default_value = "admin")]
        username: String,
        /// The password. Prefer stdin: arguments show up in process lists.
        #[arg(long)]
        password: Option<String>,
    },
    /// Print the raw argon2id verify and hash rates of one thread with the configured cost
    /// (`PASSWORD_HASH_*`), as JSON: the ceiling `just bench` compares logins and
    /// registrations with.
    #[command(hide = true)]
    HashRate {
        /// How long each of the two measurements runs.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

/// Exit code for configuration problems.
const CONFIG_ERROR: u8 = 2;

fn load_settings() -> Result<(Settings, tracing_subscriber::EnvFilter), ExitCode> {
    let settings = Settings::from_env();
    let filter = settings
        .as_ref()
        .ok()
        .map(|s| telemetry::filter(&s.telemetry.log_level));
    let mut problems = match &settings {
        Ok(_) => Vec::new(),
        Err(error) => error.problems.clone(),
    };
    if let Some(Err(error)) = &filter {
        problems.push(error.to_string());
    }
    match (settings, filter) {
        (Ok(settings), Some(Ok(filter))) if problems.is_empty() => Ok((settings, filter)),
        _ => {
            for problem in problems {
                eprintln!("configuration error: {problem}");
            }
            Err(ExitCode::from(CONFIG_ERROR))
        }
    }
}

/// Reads the password from the first line of stdin.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on stdin");
    Ok(password)
}

async fn create_admin(
    settings: &Settings,
    email: &str,
    username: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let password = match password {
        Some(password) => password,
        None => password_from_stdin()?,
    };
    let request = startup::admin_request(username, email, &password)?;
    let db = startup::open_database(settings).await?;
    let services = startup::Services::build(settings, &db, None).await?;
    let user = services
        .users
        .create_admin(request)
        .await
        .map_err(|e| anyhow::anyhow!(describe_registration_error(&e)))?;
    println!("created admin {} (id {})", user.username, user.id);
    Ok(())
}

fn describe_registration_error(
    error: &vidgen_application::users::register::RegisterUserError,
) -> String {
    use vidgen_application::users::register::RegisterUserError;
    match error {
        RegisterUserError::Invalid(violations) => violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

fn hash_rate(seconds: f64) -> ExitCode {
    let (settings, _) = match load_settings() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let each = std::time::Duration::try_from_secs_f64(seconds.clamp(0.1, 600.0))
        .unwrap_or(std::time::Duration::from_secs(5));
    match vidgen_infrastructure::passwords::measure_raw_rates(settings.auth.hashing, each) {
        Ok(rates) => {
            println!(
                "{}",
                serde_json::json!({
                    "verify_per_second": rates.verify_per_second,
                    "hash_per_second": rates.hash_per_second,
                })
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        return match serde_json::to_string_pretty(&startup::openapi_document()) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("cannot serialize the OpenAPI document: {error}");
                ExitCode::FAILURE
            }
        };
    }

    if let Some(Command::HashRate { seconds }) = cli.command {
        return hash_rate(seconds);
    }

    let (settings, filter) = match load_settings() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    telemetry::init(settings.telemetry.log_format, filter);
    if settings.auth.secret_key_generated {
        tracing::warn!(
            "SECRET_KEY is not set: using a random key for this run; tokens will not survive a restart"
        );
    }

    let result = actix_web::rt::System::new().block_on(async move {
        match cli.command {
            Some(Command::Migrate) => startup::migrate_only(&settings)
                .await
                .map(|()| tracing::info!("migrations applied"))
                .map_err(anyhow::Error::from),
            Some(Command::CreateAdmin {
                email,
                username,
                password,
            }) => create_admin(&settings, &email, &username, password).await,
            _ => {
                // Listening before the start-up: a stop signal sent while the service
                // starts is answered by the graceful stop once it runs.
                let signals = ShutdownSignals::listen();
                let app = Application::build(settings).await?;
                app.run_until(signals).await.map_err(anyhow::Error::from)
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "vidgen failed");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
