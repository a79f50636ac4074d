//! `candor-relay serve` (the relay in front of a running Candor) and `candor-relay demo` (a
//! fresh Candor and relay, the scenario, a transcript).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "candor-relay",
    about = "A reference chat relay on Candor's HTTP API"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the relay against a running `candor serve`.
    Serve {
        /// Candor's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        candor: String,
        /// A Candor token with the platform role (default: $CANDOR_PLATFORM_TOKEN).
        #[arg(long)]
        token: Option<String>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
        /// The relay's own SQLite database.
        #[arg(long, default_value = "relay.db")]
        database: PathBuf,
        /// Largest attachment, in bytes.
        #[arg(long, default_value_t = 8 << 20)]
        max_attachment_bytes: usize,
    },
    /// Start a fresh `candor serve` and the relay, run the scenario, print the transcript.
    Demo {
        /// The `candor` binary (default: next to this one).
        #[arg(long)]
        candor_bin: Option<PathBuf>,
        /// The repository (its testdata/ images are sent).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CANDOR_RELAY_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("candor-relay: error: {e}");
            std::process::exit(2);
        }
    };
    if let Cmd::Demo { candor_bin, repo } = &cli.cmd {
        let bin = candor_bin.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(|d| d.join("candor")))
                .unwrap_or_else(|| PathBuf::from("candor"))
        });
        drop(rt);
        let r = candor_relay::scenario::Stack::start(&bin)
            .and_then(|stack| candor_relay::scenario::run(&stack, repo));
        match r {
            Ok(report) => {
                for line in &report.transcript {
                    println!("{line}");
                }
                return;
            }
            Err(e) => {
                eprintln!("candor-relay: demo failed: {e:#}");
                std::process::exit(1);
            }
        }
    }
    let r = rt.block_on(async move {
        match cli.cmd {
            Cmd::Demo { .. } => unreachable!("handled above"),
            Cmd::Serve {
                candor,
                token,
                listen,
                database,
                max_attachment_bytes,
            } => {
                let token = token
                    .or_else(|| std::env::var("CANDOR_PLATFORM_TOKEN").ok())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "give --token or CANDOR_PLATFORM_TOKEN (a Candor platform token)"
                        )
                    })?;
                let mut config = candor_relay::Config::new(&candor, &token, database);
                config.max_attachment_bytes = max_attachment_bytes;
                config.sync_interval = Duration::from_secs(2);
                let app = candor_relay::Relay::open(config).await?;
                candor_relay::spawn_background(app.clone());
                let l = tokio::net::TcpListener::bind(&listen).await?;
                tracing::info!("candor-relay listening on http://{}", l.local_addr()?);
                axum::serve(l, candor_relay::router(app)).await?;
                Ok::<(), anyhow::Error>(())
            }
        }
    });
    if let Err(e) = r {
        eprintln!("candor-relay: error: {e:#}");
        std::process::exit(2);
    }
}
