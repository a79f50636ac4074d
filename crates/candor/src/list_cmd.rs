//! `candor import` and `candor export`: hash-list files in and out of a bank, through the store
//! like the other store subcommands (`--data`, `--database-url`). An import reads the file
//! twice, both times streamed: first to check every record (a malformed one stops it with its
//! line or record number, and nothing is written) and note its deletions, then to stream the
//! records, a batch at a time from a reader thread, into one write job
//! (`candor_server::flows::sources::apply_stream`: one content and log entry per signal, a
//! source's deletions as logged retractions): the whole file or nothing, in memory that does
//! not grow with the file. A running service on the same SQLite database matches the import
//! after its next start (on PostgreSQL its follower applies it at once).
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use candor_formats::{records, ExportRecord, Format, Record, Writer};
use candor_server::flows::sources::{apply_stream, ApplyOptions, ListPlan, Records};

/// Records sent to the write job at a time (memory: two batches in flight).
const BATCH: usize = 4096;

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
    // The store and the flows, no match index or numbers in memory (a one-shot command).
    let app = rt.block_on(candor_server::App::open_for_command(cfg))?;
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
    let open = || -> anyhow::Result<File> {
        File::open(&a.file).with_context(|| format!("{}", a.file.display()))
    };
    let read =
        |f: File, pb: &indicatif::ProgressBar| BufReader::with_capacity(256 << 10, pb.wrap_read(f));
    // Pass 1: every record checked, only the list's plan kept (its deletions).
    let pb = bar(&a.file, a.quiet, "checking")?;
    let mut plan = ListPlan::new(false);
    for r in records(fmt, read(open()?, &pb)) {
        let r =
            r.map_err(|e| anyhow::anyhow!("{}: {e} (nothing was imported)", a.file.display()))?;
        plan.note(&r);
    }
    pb.finish_and_clear();
    let n = plan.records();
    let (rt, app) = open_app(&a.store)?;
    // Pass 2: the records streamed into one write job, a batch at a time.
    let pb = bar(&a.file, a.quiet, "writing")?;
    let file = open()?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<Record>, String>>(2);
    let reader = {
        let pb = pb.clone();
        let path = a.file.display().to_string();
        std::thread::spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for r in records(fmt, read(file, &pb)) {
                match r {
                    Ok(r) => batch.push(r),
                    Err(e) => {
                        let _ = tx.blocking_send(Err(format!(
                            "{path}: {e} (the file changed while it was read)"
                        )));
                        return;
                    }
                }
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if tx.blocking_send(Ok(full)).is_err() {
                        return; // the job ended (failed)
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(Ok(batch));
            }
            // Read whole: the last chunks, then the commit.
            pb.set_message("committing");
        })
    };
    let name = a
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let result = rt.block_on(apply_stream(
        &app,
        &a.bank,
        plan,
        Records::stream(rx),
        ApplyOptions {
            who: format!("import:{name}"),
            reason: format!("deleted in the {} list {name}", fmt.name()),
            dedupe: false,
            exchange: None,
            replace_by_id: false,
            malformed: 0,
        },
    ));
    let _ = reader.join();
    pb.finish_and_clear();
    rt.block_on(app.store.clone().close());
    let r = result.map_err(|e| {
        anyhow::anyhow!("{} ({}: nothing was imported)", e.message, a.file.display())
    })?;
    debug_assert_eq!(r.records, n);
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
