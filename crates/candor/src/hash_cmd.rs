//! `candor hash PATH...`: every signal of files, directories (recursive) or standard input.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use candor_signal::{hash_reader, ContentSignals, DecodeLimits, ImageOptions, PdqHash};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Tab-separated values with a header line.
    Tsv,
}

#[derive(clap::Args, Debug)]
pub struct HashArgs {
    /// Files or directories (walked recursively); `-` reads standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// Also print the eight dihedral hashes (reference order: orig rot90 rot180 rot270 flipx flipy flipplus1 flipminus1).
    #[arg(long)]
    pub dihedral: bool,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Apply the EXIF orientation before hashing (HMA and python-threatexchange do not).
    #[arg(long)]
    pub exif_orient: bool,
    /// Do not look for uniform borders (no pdq_trimmed).
    #[arg(long)]
    pub no_trim: bool,
    /// Largest image file to decode, in bytes (larger files still get md5/sha1/sha256).
    #[arg(long, default_value_t = DecodeLimits::default().max_bytes)]
    pub max_bytes: u64,
    /// Largest image to decode, in pixels (width × height).
    #[arg(long, default_value_t = DecodeLimits::default().max_pixels)]
    pub max_pixels: u64,
    /// vPDQ: one frame hashed every this many seconds (0: every frame; vpdq's default 1).
    #[cfg(feature = "video")]
    #[arg(long, default_value_t = 1.0)]
    pub seconds_per_hash: f64,
    /// Largest video file to decode, in bytes (larger files get md5/sha1/sha256 only).
    #[cfg(feature = "video")]
    #[arg(long, default_value_t = candor_signal::VideoLimits::default().max_bytes)]
    pub max_video_bytes: u64,
}

/// What `hash_one` needs besides the image options.
struct Settings {
    dihedral: bool,
    #[cfg(feature = "video")]
    video: candor_signal::VpdqOptions,
}

/// One output record.
#[derive(Serialize, Default, Debug)]
pub struct Record {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dihedral: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq_trimmed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_trimmed: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dihedral_trimmed: Option<Vec<String>>,
    /// vPDQ of a video: its sampled frames as python-threatexchange's compact
    /// `hash,quality,timestamp` strings (as JSON, this list is HMA's `vpdq` signal string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpdq: Option<Vec<String>>,
    /// The same as HMA's signal string, for the TSV column.
    #[serde(skip)]
    pub vpdq_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Record {
    fn from_signals(path: String, s: ContentSignals, dihedral: bool) -> Record {
        let hexes = |h: &[PdqHash; 8]| h.iter().map(PdqHash::to_hex).collect::<Vec<_>>();
        let mut r = Record {
            path,
            size: Some(s.digests.size),
            md5: Some(s.digests.md5_hex()),
            sha1: Some(s.digests.sha1_hex()),
            sha256: Some(s.digests.sha256_hex()),
            ..Record::default()
        };
        match s.image {
            None => {}
            Some(Err(e)) => r.error = Some(e.to_string()),
            Some(Ok(img)) => {
                r.pdq = Some(img.pdq.hash.to_hex());
                r.quality = Some(img.pdq.quality);
                if dihedral {
                    r.dihedral = Some(hexes(&img.dihedral));
                }
                if let Some(t) = img.trimmed {
                    r.pdq_trimmed = Some(t.pdq.hash.to_hex());
                    r.quality_trimmed = Some(t.pdq.quality);
                    if dihedral {
                        r.dihedral_trimmed = Some(hexes(&t.dihedral));
                    }
                }
            }
        }
        r
    }

    /// Adds the vPDQ of `bytes` when they are a video (content that is not is left as it is).
    #[cfg(feature = "video")]
    fn add_video(&mut self, bytes: &[u8], opts: &candor_signal::VpdqOptions) {
        match candor_signal::vpdq::video_signal(bytes, opts) {
            None => {}
            Some(Err(e)) => self.error = Some(e.to_string()),
            Some(Ok(features)) => {
                self.vpdq = Some(features.iter().map(|f| f.to_compact()).collect());
                self.vpdq_signal = Some(candor_signal::vpdq::to_signal_string(&features));
            }
        }
    }

    fn failed(path: String, error: String) -> Record {
        Record {
            path,
            error: Some(error),
            ..Record::default()
        }
    }
}

/// TSV columns, in order.
pub const TSV_COLUMNS: [&str; 13] = [
    "path",
    "size",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "quality",
    "pdq_trimmed",
    "quality_trimmed",
    "dihedral",
    "dihedral_trimmed",
    "vpdq",
    "error",
];

fn tsv_field(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn write_tsv(out: &mut impl Write, r: &Record) -> io::Result<()> {
    let opt = |v: &Option<String>| v.as_deref().map(tsv_field).unwrap_or_default();
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    let list = |v: &Option<Vec<String>>| v.as_ref().map(|l| l.join(",")).unwrap_or_default();
    let fields = [
        tsv_field(&r.path),
        num(r.size),
        opt(&r.md5),
        opt(&r.sha1),
        opt(&r.sha256),
        opt(&r.pdq),
        num(r.quality.map(u64::from)),
        opt(&r.pdq_trimmed),
        num(r.quality_trimmed.map(u64::from)),
        list(&r.dihedral),
        list(&r.dihedral_trimmed),
        opt(&r.vpdq_signal),
        opt(&r.error),
    ];
    writeln!(out, "{}", fields.join("\t"))
}

/// Expands directories (sorted, recursive; symlinked directories are not followed).
fn collect(paths: &[PathBuf], errors: &mut Vec<Record>) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<Record>) {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                errors.push(Record::failed(dir.display().to_string(), e.to_string()));
                return;
            }
        };
        entries.sort();
        for p in entries {
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => walk(&p, out, errors),
                Ok(m) if m.file_type().is_symlink() => {
                    if p.is_file() {
                        out.push(p)
                    }
                }
                Ok(m) if m.is_file() => out.push(p),
                Ok(_) => {}
                Err(e) => errors.push(Record::failed(p.display().to_string(), e.to_string())),
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" || !p.is_dir() {
            out.push(p.clone());
        } else {
            walk(p, &mut out, errors);
        }
    }
    out
}

fn hash_one(path: &Path, opts: &ImageOptions, settings: &Settings) -> Record {
    let name = path.display().to_string();
    let dihedral = settings.dihedral;
    #[cfg(feature = "video")]
    if path.as_os_str() == "-" {
        // Standard input is read once: held (it may be a video) and hashed from memory.
        let mut bytes = Vec::new();
        if let Err(e) = io::Read::read_to_end(&mut io::stdin().lock(), &mut bytes) {
            return Record::failed(name, e.to_string());
        }
        let mut r = match hash_reader(&bytes[..], opts) {
            Ok(s) => Record::from_signals(name, s, dihedral),
            Err(e) => return Record::failed(name, e.to_string()),
        };
        if r.pdq.is_none() && r.error.is_none() {
            r.add_video(&bytes, &settings.video);
        }
        return r;
    }
    let result = if path.as_os_str() == "-" {
        hash_reader(io::stdin().lock(), opts)
    } else {
        File::open(path).and_then(|f| hash_reader(f, opts))
    };
    #[allow(unused_mut)]
    let mut r = match result {
        Ok(s) => Record::from_signals(name, s, dihedral),
        Err(e) => return Record::failed(name, e.to_string()),
    };
    // Not an image: a video? (Files over the video limit keep their digests only.)
    #[cfg(feature = "video")]
    if r.pdq.is_none()
        && r.error.is_none()
        && r.size.is_some_and(|n| n <= settings.video.limits.max_bytes)
    {
        match std::fs::read(path) {
            Ok(bytes) => r.add_video(&bytes, &settings.video),
            Err(e) => r.error = Some(e.to_string()),
        }
    }
    r
}

pub fn run(args: HashArgs) -> anyhow::Result<ExitCode> {
    let opts = ImageOptions {
        limits: DecodeLimits {
            max_bytes: args.max_bytes,
            max_pixels: args.max_pixels,
            ..DecodeLimits::default()
        },
        exif_orient: args.exif_orient,
        trim: !args.no_trim,
    };
    let settings = Settings {
        dihedral: args.dihedral,
        #[cfg(feature = "video")]
        video: candor_signal::VpdqOptions {
            seconds_per_hash: args.seconds_per_hash,
            limits: candor_signal::VideoLimits {
                max_bytes: args.max_video_bytes,
                ..candor_signal::VideoLimits::default()
            },
            ..candor_signal::VpdqOptions::default()
        },
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("starting worker threads")?;

    let mut walk_errors = Vec::new();
    let files = collect(&args.paths, &mut walk_errors);
    let progress = if io::stderr().is_terminal() {
        let pb = indicatif::ProgressBar::new(files.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} files [{elapsed_precise}] {wide_bar} {per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.format == Format::Tsv {
        writeln!(out, "{}", TSV_COLUMNS.join("\t"))?;
    }
    let mut failed = 0usize;
    let mut emit = |out: &mut BufWriter<io::StdoutLock>, r: &Record| -> io::Result<()> {
        if r.error.is_some() {
            failed += 1;
        }
        match args.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut *out, r)?;
                writeln!(out)
            }
            Format::Tsv => write_tsv(out, r),
        }
    };
    for r in &walk_errors {
        emit(&mut out, r)?;
    }
    // Hash in order-preserving batches so output is deterministic and memory stays bounded.
    let batch = (jobs * 16).max(16);
    for chunk in files.chunks(batch) {
        let records: Vec<Record> = pool.install(|| {
            chunk
                .par_iter()
                .map(|p| {
                    let r = hash_one(p, &opts, &settings);
                    progress.inc(1);
                    r
                })
                .collect()
        });
        for r in &records {
            emit(&mut out, r)?;
        }
        out.flush()?;
    }
    progress.finish_and_clear();
    let total = files.len() + walk_errors.len();
    if failed > 0 {
        eprintln!("candor hash: {failed} of {total} failed");
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
