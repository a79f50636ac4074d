//! `candor log ...`: verify the transparency log and notice proofs.
//!
//! - `candor log verify (--url URL | --dir DIR) [--key KEY] [--since FILE] [--save DIR]`: fetch the whole
//!   log (checkpoint, entry bundles, tiles, numbers) and check all of it (see
//!   `candor_log::verify`). Exit 0 with a summary, or 1 with
//!   `candor: log verification failed: ...`.
//! - `candor log verify-proof FILE --key KEY [--open-content PUID --nonce HEX]`: check a
//!   `.tlog-proof` file offline and print its entry.
//!
//! Usage errors (unreadable files, an unparsable key) exit 2 through `main`.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use candor_log::checkpoint::encode_hash;
use candor_log::commit::{open_content_commitment, parse_hex};
use candor_log::entry::{Entry, EntryBody};
use candor_log::verify::{verify_log, DirFetch, Fetch, Report, MAX_BUNDLE_BYTES};
use candor_log::{verify_proof_file, LogError, Verifier};

#[derive(clap::Subcommand)]
pub enum LogCommand {
    /// Verify a whole published log: signature, every entry and tile, published numbers.
    Verify(VerifyArgs),
    /// Verify a notice's .tlog-proof file offline and print its entry.
    VerifyProof(VerifyProofArgs),
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["url", "dir"])))]
pub struct VerifyArgs {
    /// Base URL of the log (e.g. http://127.0.0.1:8080/log); files are fetched below it.
    #[arg(long)]
    url: Option<String>,
    /// A directory holding the log as static files.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The log's verifier key (`name+hex8+base64`) or a file containing it. Without it, with
    /// --url, the key is fetched from <url>/key (not pinned: a warning is printed).
    #[arg(long)]
    key: Option<String>,
    /// An earlier signed checkpoint (file) the log must extend.
    #[arg(long, value_name = "CHECKPOINT_FILE")]
    since: Option<PathBuf>,
    /// After a successful verification, keep what was fetched as static files in DIR (a
    /// verified mirror: `--dir DIR` verifies it offline, `DIR/checkpoint` is the next `--since`).
    #[arg(long, value_name = "DIR")]
    save: Option<PathBuf>,
}

/// Records every file fetched, to save a verified mirror.
struct Recording<'a> {
    inner: &'a dyn Fetch,
    files: std::cell::RefCell<std::collections::BTreeMap<String, Vec<u8>>>,
}

impl Fetch for Recording<'_> {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, LogError> {
        let got = self.inner.get(path)?;
        if let Some(body) = &got {
            self.files
                .borrow_mut()
                .insert(path.to_owned(), body.clone());
        }
        Ok(got)
    }
}

#[derive(clap::Args)]
pub struct VerifyProofArgs {
    /// The .tlog-proof file (entry in its `extra` line).
    file: PathBuf,
    /// The log's verifier key (`name+hex8+base64`) or a file containing it.
    #[arg(long)]
    key: String,
    /// The platform content id from the notice: check the decision's content commitment.
    #[arg(long, value_name = "PUID", requires = "nonce")]
    open_content: Option<String>,
    /// The nonce from the notice (64 hex digits).
    #[arg(long, value_name = "HEX", requires = "open_content")]
    nonce: Option<String>,
}

pub fn run(cmd: LogCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LogCommand::Verify(args) => run_verify(args),
        LogCommand::VerifyProof(args) => run_verify_proof(args),
    }
}

/// Largest key, checkpoint or proof file read from disk.
const MAX_SMALL_FILE: u64 = 2 << 20;
/// Largest HTTP response body (an entry bundle is the largest file of a log).
const MAX_HTTP_BODY: u64 = MAX_BUNDLE_BYTES as u64 + 4096;

fn read_small(path: &Path) -> anyhow::Result<Vec<u8>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = Vec::new();
    f.take(MAX_SMALL_FILE + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("reading {}", path.display()))?;
    if buf.len() as u64 > MAX_SMALL_FILE {
        bail!("{} is larger than {MAX_SMALL_FILE} bytes", path.display());
    }
    Ok(buf)
}

/// A verifier key given as text, or as the path of a file holding it.
fn load_key(key: &str) -> anyhow::Result<Verifier> {
    if let Ok(v) = Verifier::parse(key.trim()) {
        return Ok(v);
    }
    let path = Path::new(key);
    if !path.exists() {
        bail!("--key {key:?} is neither a verifier key (name+hex8+base64) nor an existing file");
    }
    let text = String::from_utf8(read_small(path)?)
        .with_context(|| format!("{} is not UTF-8", path.display()))?;
    Verifier::parse(text.trim())
        .with_context(|| format!("{} does not hold a verifier key", path.display()))
}

fn failed(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("candor: log verification failed: {e}");
    ExitCode::from(1)
}

/// Log files over HTTP: `<base>/<path>`, with timeouts and a body size cap.
struct HttpFetch {
    agent: ureq::Agent,
    base: String,
}

impl HttpFetch {
    fn new(base: &str) -> HttpFetch {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .timeout_connect(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build();
        HttpFetch {
            agent: ureq::Agent::new_with_config(config),
            base: base.trim_end_matches('/').to_owned(),
        }
    }
}

impl Fetch for HttpFetch {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, LogError> {
        let url = format!("{}/{path}", self.base);
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| LogError::Storage(format!("GET {url}: {e}")))?;
        let status = resp.status();
        if status.as_u16() == 404 {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(LogError::Storage(format!("GET {url}: HTTP {status}")));
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_HTTP_BODY)
            .read_to_vec()
            .map_err(|e| LogError::Storage(format!("GET {url}: {e}")))?;
        Ok(Some(body))
    }
}

fn print_report(r: &Report) {
    println!("log verified: {}", r.checkpoint.origin);
    println!("size: {}", r.size);
    println!("root: {}", encode_hash(&r.root));
    println!("entries by type:");
    for (t, n) in &r.entries_by_type {
        println!("  {t}: {n}");
    }
    println!(
        "numbers: match the entries (tree_size {}, decisions {})",
        r.numbers.tree_size, r.numbers.decisions.total
    );
}

fn run_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let fetch: Box<dyn Fetch> = match (&args.url, &args.dir) {
        (Some(url), _) => Box::new(HttpFetch::new(url)),
        (None, Some(dir)) => {
            if !dir.is_dir() {
                bail!("{} is not a directory", dir.display());
            }
            Box::new(DirFetch::new(dir))
        }
        (None, None) => bail!("give --url or --dir"),
    };
    let verifier = match (&args.key, &args.url) {
        (Some(k), _) => load_key(k)?,
        (None, Some(url)) => {
            let raw = match fetch.get("key") {
                Ok(Some(raw)) if raw.len() <= 4096 => raw,
                Ok(Some(_)) => return Ok(failed(format!("{url}/key is too large"))),
                Ok(None) => return Ok(failed(format!("{url}/key: not found"))),
                Err(e) => return Ok(failed(e)),
            };
            let text = String::from_utf8_lossy(&raw);
            let v = match Verifier::parse(text.trim()) {
                Ok(v) => v,
                Err(e) => return Ok(failed(format!("{url}/key: {e}"))),
            };
            eprintln!(
                "candor: warning: the log key was fetched from {url}/key and not pinned; \
                 this only checks the log against itself. Pass --key {} to pin it.",
                v.to_text()
            );
            v
        }
        (None, None) => bail!("--key is required with --dir"),
    };
    let since = args.since.as_deref().map(read_small).transpose()?;
    let recording = Recording {
        inner: fetch.as_ref(),
        files: Default::default(),
    };
    match verify_log(&recording, &verifier, since.as_deref()) {
        Ok(report) => {
            print_report(&report);
            if let Some(dir) = &args.save {
                let mut files = recording.files.into_inner();
                files.insert(
                    "key".into(),
                    format!("{}\n", verifier.to_text()).into_bytes(),
                );
                candor_log::static_dir::write_files(dir, &files)
                    .with_context(|| format!("saving the mirror to {}", dir.display()))?;
                println!("saved: {} files in {}", files.len(), dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(failed(e)),
    }
}

fn run_verify_proof(args: VerifyProofArgs) -> anyhow::Result<ExitCode> {
    let verifier = load_key(&args.key)?;
    let nonce = match &args.nonce {
        Some(h) => Some(
            parse_hex::<32>(&h.to_ascii_lowercase())
                .map_err(|_| anyhow::anyhow!("--nonce must be 64 hex digits"))?,
        ),
        None => None,
    };
    let text = read_small(&args.file)?;
    let verified = match verify_proof_file(&text, &verifier) {
        Ok(v) => v,
        Err(e) => return Ok(failed(format!("{}: {e}", args.file.display()))),
    };
    let raw = verified.entry.unwrap_or_default();
    let entry = match Entry::decode(&raw) {
        Ok(e) => e,
        Err(e) => return Ok(failed(format!("entry {}: {e}", verified.index))),
    };
    println!("proof verified: entry {} is in the log", verified.index);
    println!("index: {}", verified.index);
    println!(
        "checkpoint: origin {} size {} root {}",
        verified.checkpoint.origin,
        verified.checkpoint.size,
        encode_hash(&verified.checkpoint.root)
    );
    println!("entry: {}", String::from_utf8_lossy(&raw));
    if let (Some(puid), Some(nonce)) = (&args.open_content, &nonce) {
        let EntryBody::Decision(d) = &entry.body else {
            return Ok(failed(format!(
                "entry {} is a {} entry, not a decision: it has no content commitment",
                verified.index,
                entry.type_name()
            )));
        };
        if !open_content_commitment(&d.content_commitment, nonce, puid) {
            return Ok(failed(format!(
                "the content commitment of decision {} does not open to content id {puid:?} \
                 with this nonce",
                d.decision
            )));
        }
        println!(
            "content commitment: opens to content id {puid:?} (decision {})",
            d.decision
        );
    }
    Ok(ExitCode::SUCCESS)
}
