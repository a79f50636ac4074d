//! `candor serve` and `candor token create`.
use std::path::PathBuf;
use std::process::ExitCode;

use candor_server::auth::Role;
use candor_server::Config;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Data directory (database and log key) [default: ./candor-data]
    #[arg(long)]
    data: Option<PathBuf>,
    /// Database: postgres://user@host/db for PostgreSQL [default: the SQLite file in the data
    /// directory; environment CANDOR_DATABASE_URL]
    #[arg(long)]
    database_url: Option<String>,
    /// Listen address [default: 127.0.0.1:8080]
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// TOML configuration file (environment CANDOR_* overrides it; flags override both).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Policies file (TOML) to load on first start.
    #[arg(long)]
    policies: Option<PathBuf>,
}

pub(crate) fn config(
    file: Option<&std::path::Path>,
    data: Option<PathBuf>,
    database_url: Option<String>,
) -> anyhow::Result<Config> {
    let mut cfg = Config::load(file)?;
    if let Some(d) = data {
        cfg.data = d;
    }
    if let Some(u) = database_url {
        cfg.database_url = Some(u);
    }
    Ok(cfg)
}

fn init_tracing(format: &str) {
    use tracing_subscriber::EnvFilter;
    let mut filter =
        EnvFilter::try_from_env("CANDOR_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // The HTTP client's debug and trace output dumps requests byte for byte, credentials
    // included (exchanges, DSA): capped whatever CANDOR_LOG asks.
    for d in candor_server::exchange::WIRE_LOG_CAPS {
        filter = filter.add_directive(d.parse().expect("directive"));
    }
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

pub fn run_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = config(args.config.as_deref(), args.data, args.database_url)?;
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(p) = args.policies {
        cfg.policies = Some(p);
    }
    cfg.validate()?;
    init_tracing(&cfg.log_format);
    // Uploads are decoded on the blocking pool, each thread keeping its largest pixel buffer
    // for reuse: bound the pool to the cores (twice, for threads waiting on I/O).
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(cores * 2)
        .build()?;
    rt.block_on(candor_server::serve(cfg))?;
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it (it is stored hashed; keep it).
    Create(TokenArgs),
}

#[derive(clap::Args)]
pub struct TokenArgs {
    /// Data directory [default: ./candor-data]
    #[arg(long)]
    data: Option<PathBuf>,
    /// Database URL (as for `candor serve`)
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long)]
    config: Option<PathBuf>,
    /// platform, curator, reviewer, auditor or admin
    #[arg(long)]
    role: String,
    /// Who holds it [default: the role]
    #[arg(long)]
    name: Option<String>,
}

pub fn run_token(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::Create(args) = cmd;
    let role = Role::parse(&args.role).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown role {:?}: platform, curator, reviewer, auditor or admin",
            args.role
        )
    })?;
    let cfg = config(args.config.as_deref(), args.data, args.database_url)?;
    let name = args.name.unwrap_or_else(|| role.as_str().to_string());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let token = rt.block_on(async {
        let signer = candor_server::load_or_create_signer(&cfg.data, &cfg.log_origin)?;
        let store = candor_store::Store::open(&cfg.data, signer, cfg.store_options()).await?;
        let info = candor_server::routes::tokens::create_token(&store, role, &name).await?;
        store.close().await;
        anyhow::Ok(info)
    })?;
    println!("{}", token.token.unwrap_or_default());
    eprintln!(
        "created {} token {:?} (id {})",
        role.as_str(),
        name,
        token.id
    );
    Ok(ExitCode::SUCCESS)
}
