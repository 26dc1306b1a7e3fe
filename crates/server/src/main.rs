//! The `vidgen` binary: `vidgen` (or `vidgen serve`) runs the service; `vidgen migrate`
//! applies the migrations; `vidgen openapi` prints the OpenAPI document.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vidgen_infrastructure::settings::Settings;
use vidgen_server::{Application, startup, telemetry};

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
}

/// Exit code for configuration problems.
const CONFIG_ERROR: u8 = 2;

fn load_settings() -> Result<(Settings, tracing_subscriber::EnvFilter), ExitCode> {
    let settings = Settings::from_env();
    let filter = settings
        .as_ref()
        .ok()
        .map(|s| telemetry::filter(&s.log_level));
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

    let (settings, filter) = match load_settings() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    telemetry::init(settings.log_format, filter);
    if settings.secret_key_generated {
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
            _ => {
                let app = Application::build(settings).await?;
                app.run_until_stopped().await.map_err(anyhow::Error::from)
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
