//! `candor policy explain`: what a policy file does, cell by cell, before it is published —
//! the same simulator and lints as `POST /v1/policies/simulate`.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use candor_policy::{BankInfo, Category, LintLevel, PolicySet, SimOptions};

#[derive(clap::Subcommand)]
pub enum PolicyCommand {
    /// Show what a policy file does for every bank, sender jurisdiction × recipient/audience
    /// jurisdiction × surface, the statement each decision carries, its lints, and (with
    /// --against or --against-store) which cells change. Exit 1 when a lint is an error.
    Explain(ExplainArgs),
}

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The policy file (TOML, as `candor serve --policies` and `PUT /v1/policies` take it).
    file: PathBuf,
    /// Only this bank.
    #[arg(long)]
    bank: Option<String>,
    /// PDQ distance of the hypothetical match [default: 0]
    #[arg(long)]
    distance: Option<u32>,
    /// A data directory whose banks (and, with --against-store, policies) to use
    /// [default: ./candor-data when it holds a database]
    #[arg(long)]
    data: Option<PathBuf>,
    /// A bank to simulate, `NAME=STATEMENT_CATEGORY_…[:THRESHOLD]` (threshold default 31);
    /// repeatable. Used instead of the store's banks.
    #[arg(long = "define-bank", value_name = "NAME=CATEGORY[:THRESHOLD]")]
    define_bank: Vec<String>,
    /// Show the cells that change from this policy file to FILE.
    #[arg(long, conflicts_with = "against_store")]
    against: Option<PathBuf>,
    /// Show the cells that change from the set in force in the data directory to FILE.
    #[arg(long)]
    against_store: bool,
    /// Print JSON (`simulation`, `lints`, and `diff` when comparing) instead of text.
    #[arg(long)]
    json: bool,
}

fn read_set(path: &Path) -> anyhow::Result<PolicySet> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    PolicySet::from_toml_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `NAME=STATEMENT_CATEGORY_…[:THRESHOLD]`.
fn parse_bank(s: &str) -> anyhow::Result<BankInfo> {
    let (name, rest) = s.split_once('=').ok_or_else(|| {
        anyhow::anyhow!("--define-bank {s:?}: expected NAME=CATEGORY[:THRESHOLD]")
    })?;
    let (category, threshold) = match rest.split_once(':') {
        Some((c, t)) => (
            c,
            t.parse::<u32>()
                .ok()
                .filter(|t| *t <= 256)
                .ok_or_else(|| anyhow::anyhow!("--define-bank {s:?}: threshold must be 0..=256"))?,
        ),
        None => (rest, 31),
    };
    let category: Category = serde_json::from_value(serde_json::Value::String(category.into()))
        .map_err(|_| {
            anyhow::anyhow!("--define-bank {s:?}: {category:?} is not a DSA statement category (STATEMENT_CATEGORY_…)")
        })?;
    anyhow::ensure!(!name.is_empty(), "--define-bank {s:?}: empty bank name");
    Ok(BankInfo {
        name: name.to_string(),
        category,
        pdq_threshold: threshold,
    })
}

/// The banks and the set in force of a data directory (read through the store, like the service).
fn from_store(dir: &Path) -> anyhow::Result<(Vec<BankInfo>, Option<PolicySet>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let cfg = candor_server::Config::load(None)?;
        let signer = candor_server::load_or_create_signer(dir, &cfg.log_origin)?;
        let store = candor_store::Store::open(dir, signer, cfg.store_options()).await?;
        let banks = candor_server::routes::policies::stored_banks(&store).await?;
        let set = candor_server::routes::policies::stored_set(&store).await?;
        store.close().await;
        anyhow::Ok((banks, set))
    })
}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    let PolicyCommand::Explain(a) = cmd;
    let set = read_set(&a.file)?;
    let data = a
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from("candor-data"));
    let has_store = data.join("candor.db").is_file();
    anyhow::ensure!(
        has_store || a.data.is_none() || !a.define_bank.is_empty(),
        "{} holds no candor database",
        data.display()
    );
    let (store_banks, in_force) = if has_store && (a.define_bank.is_empty() || a.against_store) {
        from_store(&data)?
    } else {
        (Vec::new(), None)
    };
    let banks: Vec<BankInfo> = if a.define_bank.is_empty() {
        store_banks
    } else {
        a.define_bank
            .iter()
            .map(|b| parse_bank(b))
            .collect::<anyhow::Result<_>>()?
    };
    if banks.is_empty() {
        let named: std::collections::BTreeSet<&str> = set
            .policies
            .iter()
            .flat_map(|p| p.banks.iter().map(String::as_str))
            .collect();
        eprintln!(
            "candor: no banks known (no data directory with banks, no --define-bank); only content that cannot be hashed is simulated.{}",
            if named.is_empty() {
                String::new()
            } else {
                format!(
                    " The policies name: {}. Give e.g. --define-bank {}=STATEMENT_CATEGORY_…",
                    named.iter().copied().collect::<Vec<_>>().join(", "),
                    named.iter().next().copied().unwrap_or_default()
                )
            }
        );
    }
    let opts = SimOptions {
        bank: a.bank.clone(),
        distance: a.distance,
        now: None,
    };
    let simulate = |s: &PolicySet| {
        candor_policy::simulate(s, &banks, &opts).map_err(|e| anyhow::anyhow!("{e}"))
    };
    let sim = simulate(&set)?;
    let lints = candor_policy::lint(&set, &banks);
    let base = match (&a.against, a.against_store) {
        (Some(f), _) => Some(read_set(f)?),
        (None, true) => Some(in_force.ok_or_else(|| {
            anyhow::anyhow!(
                "{} holds no published policy set to compare with",
                data.display()
            )
        })?),
        (None, false) => None,
    };
    let changes = match &base {
        Some(b) => Some(candor_policy::diff(&simulate(b)?, &sim)),
        None => None,
    };
    if a.json {
        let mut out = serde_json::json!({"simulation": sim, "lints": lints});
        if let Some(c) = &changes {
            out["diff"] = serde_json::to_value(c)?;
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", sim.to_text());
        if let Some(c) = &changes {
            println!(
                "\n== changes from {} ==",
                match &a.against {
                    Some(f) => f.display().to_string(),
                    None => format!("the set in force in {}", data.display()),
                }
            );
            print!("{}", candor_policy::diff_text(c));
        }
        if !lints.is_empty() {
            println!("\n== lints ==");
            for l in &lints {
                let level = match l.level {
                    LintLevel::Info => "info",
                    LintLevel::Warning => "warning",
                    LintLevel::Error => "error",
                };
                match &l.policy {
                    Some(p) => println!("{level} [{}] policy {p}: {}", l.code, l.message),
                    None => println!("{level} [{}] {}", l.code, l.message),
                }
            }
        }
    }
    Ok(if lints.iter().any(|l| l.level == LintLevel::Error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
