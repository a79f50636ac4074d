//! `candor import` and `candor export`: hash-list files in and out of a bank, through the store
//! like the other store subcommands (`--data`, `--database-url`). An import reads the file
//! twice, both times streamed: first to check every record (a malformed one stops it with its
//! line or record number, and nothing is written), then to apply them in one write job
//! (`candor_server::flows::sources::apply`: one content and log entry per signal, a source's
//! deletions as logged retractions). A running service on the same SQLite database matches the
//! import after its next start (on PostgreSQL its follower applies it at once).
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use candor_formats::{records, ExportRecord, Format, Writer};
use candor_server::flows::sources::{apply, ApplyOptions};

#[derive(clap::Args)]
pub struct StoreArgs {
    /// Data directory [default: ./candor-data]
    #[arg(long)]
    data: Option<PathBuf>,
    /// Database URL (as for `candor serve`)
    #[arg(long)]
    database_url: Option<String>,
    /// TOML configuration file (as for `candor serve`).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// lines, hma-csv, stopncii, tcap or ncmec
    #[arg(long)]
    format: String,
    /// The bank to import into (it must exist).
    #[arg(long)]
    bank: String,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    file: PathBuf,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// lines, hma-csv, stopncii, tcap or ncmec
    #[arg(long)]
    format: String,
    #[arg(long)]
    bank: String,
    /// Write here instead of stdout.
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
}

pub(crate) fn format(name: &str) -> anyhow::Result<Format> {
    Format::parse(name).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown format {name:?}: {}",
            Format::ALL.map(|f| f.name()).join(", ")
        )
    })
}

pub(crate) fn open_app(
    args: &StoreArgs,
) -> anyhow::Result<(tokio::runtime::Runtime, candor_server::AppState)> {
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
    // The store and the flows, without loading the match index (a one-shot command).
    let (app, _loading) = rt.block_on(candor_server::App::open_deferred(cfg))?;
    Ok((rt, app))
}

fn bar(file: &std::path::Path, quiet: bool, what: &str) -> anyhow::Result<indicatif::ProgressBar> {
    let len = std::fs::metadata(file)
        .with_context(|| format!("{}", file.display()))?
        .len();
    if quiet {
        return Ok(indicatif::ProgressBar::hidden());
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    Ok(pb)
}

pub fn run_import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let fmt = format(&a.format)?;
    let open = || -> anyhow::Result<BufReader<File>> {
        Ok(BufReader::with_capacity(
            256 << 10,
            File::open(&a.file).with_context(|| format!("{}", a.file.display()))?,
        ))
    };
    // Pass 1: every record checked, nothing kept.
    let pb = bar(&a.file, a.quiet, "checking")?;
    let mut n = 0u64;
    for r in records(fmt, BufReader::new(pb.wrap_read(open()?))) {
        r.map_err(|e| anyhow::anyhow!("{}: {e} (nothing was imported)", a.file.display()))?;
        n += 1;
    }
    pb.finish_and_clear();
    let (rt, app) = open_app(&a.store)?;
    // Pass 2: the records, then one write.
    let pb = bar(&a.file, a.quiet, "reading")?;
    let recs: Vec<_> = records(fmt, BufReader::new(pb.wrap_read(open()?)))
        .collect::<Result<_, _>>()
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: {e} (the file changed while it was read)",
                a.file.display()
            )
        })?;
    pb.finish_and_clear();
    anyhow::ensure!(
        recs.len() as u64 == n,
        "{}: the file changed while it was read; nothing was imported",
        a.file.display()
    );
    let spinner = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    spinner.set_message(format!("writing {n} records into {}", a.bank));
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    let name = a
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let result = rt.block_on(apply(
        &app,
        &a.bank,
        recs,
        ApplyOptions {
            who: format!("import:{name}"),
            reason: format!("deleted in the {} list {name}", fmt.name()),
            dedupe: false,
            exchange: None,
            replace_by_id: false,
            malformed: 0,
        },
    ));
    spinner.finish_and_clear();
    rt.block_on(app.store.clone().close());
    let r = result.map_err(|e| anyhow::anyhow!("{}", e.message))?;
    println!("{}", serde_json::to_string(&r)?);
    eprintln!(
        "{}: {} records, {} added, {} retracted, {} skipped",
        a.file.display(),
        r.records,
        r.added,
        r.retracted,
        r.skipped
    );
    Ok(ExitCode::SUCCESS)
}

pub fn run_export(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let fmt = format(&a.format)?;
    let (rt, app) = open_app(&a.store)?;
    let result = rt.block_on(async {
        let bank = candor_store::banks::find_bank(app.store.reader(), &a.bank)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no bank {:?}", a.bank))?;
        let out: Box<dyn Write + Send> = match &a.out {
            Some(p) => Box::new(File::create(p).with_context(|| format!("{}", p.display()))?),
            None => Box::new(std::io::stdout()),
        };
        let mut w = Writer::new(fmt, BufWriter::new(out))?;
        let mut failed: Option<std::io::Error> = None;
        app.store
            .for_each_live_signal(|_, bank_id, _, public_id, signal, value| {
                if bank_id != bank.id || failed.is_some() {
                    return;
                }
                let Some(kind) = candor_formats::SignalKind::parse(signal) else {
                    return;
                };
                let r = ExportRecord {
                    kind,
                    value,
                    id: public_id,
                    bank: &bank.name,
                };
                if let Err(e) = w.write(&r) {
                    failed = Some(e);
                }
            })
            .await?;
        if let Some(e) = failed {
            return Err(anyhow::anyhow!("{e}"));
        }
        let (n, _) = w.finish()?;
        anyhow::Ok(n)
    });
    rt.block_on(app.store.clone().close());
    let n = result?;
    eprintln!("{n} signals of bank {} written as {}", a.bank, fmt.name());
    Ok(ExitCode::SUCCESS)
}
