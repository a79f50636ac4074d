//! `candor exchange sync NAME` and `candor exchange status`: the exchanges of the config file
//! (`[[exchange]]`) and those created through the API (stored), over the store like the other store subcommands (`--config`, `--data`,
//! `--database-url`). The sync is `candor_server::flows::exchanges::sync`, the same flow
//! `candor serve` schedules and `POST /v1/exchanges/{name}/sync` runs.
use std::process::ExitCode;

use candor_server::flows::exchanges;

use crate::list_cmd::{open_app, StoreArgs};

#[derive(clap::Subcommand)]
pub enum ExchangeCommand {
    /// Sync one exchange now: page by page until its source is up to date (progress on stderr,
    /// the totals as JSON on stdout).
    Sync {
        #[command(flatten)]
        store: StoreArgs,
        /// No progress display.
        #[arg(long)]
        quiet: bool,
        name: String,
    },
    /// Every exchange's state (the config file's, then those created through the API; where
    /// each is defined, whether it is enabled): checkpoint, last fetch and success, last error, counts
    /// (JSON Lines).
    Status {
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(cmd: ExchangeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ExchangeCommand::Sync { store, quiet, name } => {
            let (rt, app) = open_app(&store)?;
            let pb = if quiet {
                indicatif::ProgressBar::hidden()
            } else {
                indicatif::ProgressBar::new_spinner()
            };
            pb.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .expect("template"),
            );
            pb.set_message(format!("{name}: fetching"));
            pb.enable_steady_tick(std::time::Duration::from_millis(200));
            let progress = {
                let pb = pb.clone();
                let name = name.clone();
                move |r: &exchanges::SyncReport| {
                    pb.set_message(format!(
                        "{name}: {} pages, {} records, {} added, {} retracted, {} skipped",
                        r.pages, r.fetched, r.added, r.retracted, r.skipped
                    ))
                }
            };
            let result = rt.block_on(exchanges::sync(&app, &name, &progress));
            pb.finish_and_clear();
            rt.block_on(app.store.clone().close());
            let r = result.map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("{}", serde_json::to_string(&r)?);
            eprintln!(
                "{name}: {} pages, {} records, {} added, {} retracted, {} skipped ({} malformed){}",
                r.pages,
                r.fetched,
                r.added,
                r.retracted,
                r.skipped,
                r.malformed,
                if r.up_to_date { ", up to date" } else { "" }
            );
            Ok(ExitCode::SUCCESS)
        }
        ExchangeCommand::Status { store } => {
            let (rt, app) = open_app(&store)?;
            let result = rt.block_on(exchanges::status(&app));
            rt.block_on(app.store.clone().close());
            let list = result.map_err(|e| anyhow::anyhow!("{}", e.message))?;
            if list.is_empty() {
                eprintln!(
                    "no exchanges: none is configured ([[exchange]] in the config file) or was \
                     created through the API"
                );
            }
            for s in list {
                println!("{}", serde_json::to_string(&s)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
