//! `candor dsa export` and `candor dsa submit`: statements of reasons for the EU DSA
//! Transparency Database (the flow is `candor_server::flows::dsa`).
use std::path::PathBuf;
use std::process::ExitCode;

use candor_server::flows::dsa;

#[derive(clap::Subcommand)]
pub enum DsaCommand {
    /// Write the statements not yet sent (or `--all`) as the API's JSON: `{"statements": [...]}`,
    /// at most 100 per batch; one batch per line on stdout, or one file per batch in `--out`.
    Export(ExportArgs),
    /// Send the statements not yet sent to the Transparency Database, exactly once.
    Submit(SubmitArgs),
}

#[derive(clap::Args)]
pub struct StoreArgs {
    /// Data directory [default: ./candor-data]
    #[arg(long)]
    data: Option<PathBuf>,
    /// Database URL (as for `candor serve`)
    #[arg(long)]
    database_url: Option<String>,
    /// TOML configuration file (its `[dsa]` table; CANDOR_* overrides it; flags override both).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Also the statements already sent.
    #[arg(long)]
    all: bool,
    /// Write `statements-0001.json`, … here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The database's base URL [default: the config's dsa.endpoint]
    #[arg(long)]
    endpoint: Option<String>,
    /// The platform's API token [default: CANDOR_DSA_TOKEN or the config's dsa.token]
    #[arg(long)]
    token: Option<String>,
    /// Keep running: a round every this many seconds.
    #[arg(long)]
    watch: Option<u64>,
}

fn open(
    args: &StoreArgs,
) -> anyhow::Result<(
    tokio::runtime::Runtime,
    candor_store::Store,
    candor_server::Config,
)> {
    let cfg = crate::serve_cmd::config(
        args.config.as_deref(),
        args.data.clone(),
        args.database_url.clone(),
    )?;
    anyhow::ensure!(
        cfg.database_url.is_some() || cfg.data.join("candor.db").exists(),
        "no Candor database in {}",
        cfg.data.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let store = rt.block_on(async {
        let signer = candor_server::load_or_create_signer(&cfg.data, &cfg.log_origin)?;
        anyhow::Ok(candor_store::Store::open(&cfg.data, signer, cfg.store_options()).await?)
    })?;
    Ok((rt, store, cfg))
}

pub fn run(cmd: DsaCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DsaCommand::Export(a) => {
            let (rt, store, _) = open(&a.store)?;
            let batches = rt.block_on(dsa::export(&store, a.all))?;
            let n: usize = batches.iter().map(|b| b.statements.len()).sum();
            match &a.out {
                Some(dir) => {
                    std::fs::create_dir_all(dir)?;
                    for (i, b) in batches.iter().enumerate() {
                        let p = dir.join(format!("statements-{:04}.json", i + 1));
                        std::fs::write(&p, serde_json::to_vec_pretty(&b.body())?)?;
                    }
                }
                None => {
                    for b in &batches {
                        println!("{}", b.body());
                    }
                }
            }
            rt.block_on(store.close());
            eprintln!("{n} statements in {} batches", batches.len());
            Ok(ExitCode::SUCCESS)
        }
        DsaCommand::Submit(a) => {
            let (rt, store, mut cfg) = open(&a.store)?;
            if let Some(e) = a.endpoint {
                cfg.dsa.endpoint = e;
            }
            if let Some(t) = a.token {
                cfg.dsa.token = t;
            }
            let result = rt.block_on(async {
                loop {
                    let r = dsa::submit(&store, &cfg.dsa).await?;
                    eprintln!(
                        "sent {} statements in {} batches ({} already there, {} not for the database, {} retries)",
                        r.created, r.batches, r.existing, r.out_of_scope, r.retries
                    );
                    match a.watch {
                        Some(s) => tokio::time::sleep(std::time::Duration::from_secs(s.max(1))).await,
                        None => return anyhow::Ok(r),
                    }
                }
            });
            rt.block_on(store.close());
            println!("{}", serde_json::to_string(&result?)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
