//! `candor index build` and `candor match`: PDQ bank files and index files.
//!
//! A bank file is one of
//! * plain text: one PDQ hash (64 hex digits) per line; blank lines and `#` comments allowed;
//! * JSON Lines as `candor hash` writes them: objects with a `"pdq"` key (objects with an
//!   `"error"` key or without `"pdq"` are skipped and counted);
//! * TSV as `candor hash --format tsv` writes it: a header line naming a `pdq` column (rows with
//!   an empty `pdq` or a non-empty `error` are skipped and counted).
//!
//! Entries are numbered by the 1-based line of the bank file they come from; `candor match`
//! reports that line.
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use candor_index::{BuildOptions, EntryRef, Hash256, Layout, Match, PdqIndex};
use candor_signal::{hash_image_bytes, ImageOptions, Orientation, PdqHash};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

#[derive(clap::Args)]
pub struct BuildArgs {
    /// Bank file: one PDQ hex per line, or the JSON Lines / TSV that `candor hash` writes.
    pub bank: PathBuf,
    /// Index file to write.
    #[arg(short, long, value_name = "INDEXFILE")]
    pub output: PathBuf,
    /// Table layout: `split` is fastest (about 100 bytes per hash), `compact` smallest (about
    /// 58 bytes per hash); `auto` picks split below 4M hashes and compact above.
    #[arg(long, value_enum, default_value_t = LayoutArg::Auto)]
    pub layout: LayoutArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    Auto,
    Compact,
    Split,
}

impl LayoutArg {
    fn layout(self) -> Option<Layout> {
        match self {
            LayoutArg::Auto => None,
            LayoutArg::Compact => Some(Layout::Compact),
            LayoutArg::Split => Some(Layout::Split),
        }
    }
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["bank", "index"])))]
#[command(group(clap::ArgGroup::new("queries").required(true).args(["hashes", "paths"])))]
pub struct MatchArgs {
    /// Match against this bank file (indexed in memory).
    #[arg(long, value_name = "BANKFILE")]
    pub bank: Option<PathBuf>,
    /// Match against this index file (from `candor index build`).
    #[arg(long, value_name = "INDEXFILE")]
    pub index: Option<PathBuf>,
    /// Largest Hamming distance reported (inclusive).
    #[arg(long, default_value_t = 31, value_parser = clap::value_parser!(u32).range(0..=256))]
    pub radius: u32,
    /// Match all eight orientations of each image and report which one matched.
    #[arg(long)]
    pub dihedral: bool,
    /// Worker threads (default: one per CPU).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Query hashes: one PDQ hex per line (blank lines and # comments allowed).
    #[arg(long, value_name = "FILE")]
    pub hashes: Option<PathBuf>,
    /// Query images.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// A bank file read into memory: hashes with their 1-based line numbers.
#[derive(Debug)]
struct Bank {
    entries: Vec<(Hash256, u64)>,
    /// Records without a PDQ hash (errors, non-images).
    skipped: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BankFormat {
    Plain,
    JsonLines,
    Tsv { pdq: usize, error: Option<usize> },
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{what} {{bar:40}} {{bytes}}/{{total_bytes}} ({{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn bad_line(path: &Path, line: u64, what: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{}:{line}: {what}", path.display())
}

/// Reads a bank file in any of the accepted formats.
fn read_bank(path: &Path) -> anyhow::Result<Bank> {
    let file = File::open(path).with_context(|| format!("cannot open bank {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(size, "reading bank");
    let reader = BufReader::with_capacity(1 << 20, bar.wrap_read(file));
    let bank = parse_bank(reader, path)?;
    bar.finish_and_clear();
    Ok(bank)
}

fn parse_bank(mut reader: impl BufRead, path: &Path) -> anyhow::Result<Bank> {
    let mut bank = Bank {
        entries: Vec::new(),
        skipped: 0,
    };
    let mut format = None;
    let mut buf = String::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_line(&mut buf)
            .with_context(|| format!("cannot read bank {}", path.display()))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let line = buf.trim_end_matches(['\n', '\r']);
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let fmt = match format {
            Some(f) => f,
            None => {
                let f = if text.starts_with('{') {
                    BankFormat::JsonLines
                } else if line.contains('\t') {
                    let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
                    let Some(pdq) = cols.iter().position(|c| *c == "pdq") else {
                        return Err(bad_line(path, line_no, "TSV header has no `pdq` column"));
                    };
                    let error = cols.iter().position(|c| *c == "error");
                    format = Some(BankFormat::Tsv { pdq, error });
                    continue; // the header is not an entry
                } else {
                    BankFormat::Plain
                };
                format = Some(f);
                f
            }
        };
        match fmt {
            BankFormat::Plain => {
                if text.starts_with('#') {
                    continue;
                }
                let h = Hash256::from_hex(text)
                    .map_err(|e| bad_line(path, line_no, format!("bad PDQ hash: {e}")))?;
                bank.entries.push((h, line_no));
            }
            BankFormat::JsonLines => {
                let v: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| bad_line(path, line_no, format!("bad JSON: {e}")))?;
                let Some(obj) = v.as_object() else {
                    return Err(bad_line(path, line_no, "expected a JSON object"));
                };
                if obj.get("error").is_some_and(|e| !e.is_null()) {
                    bank.skipped += 1;
                    continue;
                }
                match obj.get("pdq") {
                    None | Some(serde_json::Value::Null) => bank.skipped += 1,
                    Some(serde_json::Value::String(s)) => {
                        let h = Hash256::from_hex(s)
                            .map_err(|e| bad_line(path, line_no, format!("bad PDQ hash: {e}")))?;
                        bank.entries.push((h, line_no));
                    }
                    Some(_) => return Err(bad_line(path, line_no, "`pdq` is not a string")),
                }
            }
            BankFormat::Tsv { pdq, error } => {
                let cols: Vec<&str> = line.split('\t').collect();
                let failed = error
                    .and_then(|i| cols.get(i))
                    .is_some_and(|e| !e.trim().is_empty());
                let value = cols.get(pdq).map_or("", |s| s.trim());
                if failed || value.is_empty() {
                    bank.skipped += 1;
                    continue;
                }
                let h = Hash256::from_hex(value)
                    .map_err(|e| bad_line(path, line_no, format!("bad PDQ hash: {e}")))?;
                bank.entries.push((h, line_no));
            }
        }
    }
    Ok(bank)
}

fn build_index(bank: &Bank, layout: Option<Layout>) -> PdqIndex {
    let entries = bank.entries.iter().map(|&(h, line)| {
        let r = EntryRef {
            bank: 0,
            content: line,
        };
        (h, r)
    });
    let options = BuildOptions {
        layout,
        dir_bits: None,
    };
    PdqIndex::build_with(entries, options)
}

fn report_skipped(path: &Path, skipped: u64) {
    if skipped > 0 {
        eprintln!(
            "candor: {}: skipped {skipped} record(s) without a PDQ hash",
            path.display()
        );
    }
}

pub fn run_build(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let bank = read_bank(&args.bank)?;
    report_skipped(&args.bank, bank.skipped);
    let spinner = if io::stderr().is_terminal() {
        let s = ProgressBar::new_spinner();
        s.set_message(format!("indexing {} hashes", bank.entries.len()));
        s.enable_steady_tick(std::time::Duration::from_millis(120));
        s
    } else {
        ProgressBar::hidden()
    };
    let index = build_index(&bank, args.layout.layout());
    drop(bank);
    spinner.set_message("writing index");
    // Write next to the target and rename, so a failed build never leaves a partial index.
    let mut tmp = args.output.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write = || -> anyhow::Result<()> {
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let w = index.write_to(BufWriter::with_capacity(1 << 20, file))?;
        w.into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()
            .context("cannot sync index file")?;
        std::fs::rename(&tmp, &args.output)
            .with_context(|| format!("cannot rename to {}", args.output.display()))?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("cannot write index {}", args.output.display())));
    }
    spinner.finish_and_clear();
    let bytes = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "candor: indexed {} hashes from {} into {} ({:.1} MB) in {:.2} s",
        index.len(),
        args.bank.display(),
        args.output.display(),
        bytes as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// One line of `candor match` output.
#[derive(Serialize)]
struct MatchLine<'a> {
    query: &'a str,
    #[serde(rename = "match")]
    matched: String,
    line: u64,
    distance: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    orientation: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'static str>,
}

enum Query {
    Hash { label: String, hash: Hash256 },
    Image(PathBuf),
}

fn to_index_hash(h: &PdqHash) -> Hash256 {
    Hash256::from_bytes(h.0)
}

fn read_query_hashes(path: &Path) -> anyhow::Result<Vec<Query>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let hash = Hash256::from_hex(text)
            .map_err(|e| bad_line(path, i as u64 + 1, format!("bad PDQ hash: {e}")))?;
        out.push(Query::Hash {
            label: hash.to_hex(),
            hash,
        });
    }
    Ok(out)
}

/// JSON lines for one query, or an error message for stderr.
fn answer(index: &PdqIndex, q: &Query, radius: u32, dihedral: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut emit = |label: &str,
                    m: Match,
                    orientation: Option<&'static str>,
                    variant: Option<&'static str>| {
        let (Some(hash), Some(r)) = (index.hash(m.entry), index.entry_ref(m.entry)) else {
            return;
        };
        let line = MatchLine {
            query: label,
            matched: hash.to_hex(),
            line: r.content,
            distance: m.distance,
            orientation,
            variant,
        };
        if let Ok(s) = serde_json::to_string(&line) {
            out.push_str(&s);
            out.push('\n');
        }
    };
    match q {
        Query::Hash { label, hash } => {
            for m in index.search(hash, radius) {
                emit(label, m, None, None);
            }
        }
        Query::Image(path) => {
            let label = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|e| format!("{label}: {e}"))?;
            let signals = hash_image_bytes(&bytes, &ImageOptions::default())
                .map_err(|e| format!("{label}: {e}"))?;
            let mut variants = vec![(None, signals.pdq.hash, signals.dihedral)];
            if let Some(t) = signals.trimmed {
                variants.push((Some("trimmed"), t.pdq.hash, t.dihedral));
            }
            for (variant, hash, all) in variants {
                if dihedral {
                    let all: [Hash256; 8] = std::array::from_fn(|i| to_index_hash(&all[i]));
                    for m in index.search_dihedral(&all, radius) {
                        let name = Orientation::ALL[m.orientation].name();
                        let plain = Match {
                            entry: m.entry,
                            distance: m.distance,
                        };
                        emit(&label, plain, Some(name), variant);
                    }
                } else {
                    for m in index.search(&to_index_hash(&hash), radius) {
                        emit(&label, m, None, variant);
                    }
                }
            }
        }
    }
    Ok(out)
}

pub fn run_match(args: MatchArgs) -> anyhow::Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let failed = match_into(&args, &mut out)?;
    out.flush()?;
    if failed > 0 {
        eprintln!("candor: {failed} image(s) could not be matched");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the JSON Lines of `candor match` to `out`; returns how many images failed (each
/// reported on stderr).
fn match_into(args: &MatchArgs, out: &mut impl Write) -> anyhow::Result<u64> {
    if args.dihedral && args.hashes.is_some() {
        bail!("--dihedral needs image paths: a hash does not carry its orientations");
    }
    let queries = match &args.hashes {
        Some(path) => read_query_hashes(path)?,
        None => args.paths.iter().cloned().map(Query::Image).collect(),
    };
    let index = match (&args.bank, &args.index) {
        (Some(bank_path), _) => {
            let bank = read_bank(bank_path)?;
            report_skipped(bank_path, bank.skipped);
            build_index(&bank, None)
        }
        (None, Some(index_path)) => load_index(index_path)?,
        (None, None) => bail!("give --bank or --index"),
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = args.jobs {
        pool = pool.num_threads(j as usize);
    }
    let pool = pool.build().context("cannot start worker threads")?;
    let mut failed = 0u64;
    // Answer in chunks so output streams in query order.
    for chunk in queries.chunks(4096) {
        let answers: Vec<Result<String, String>> = pool.install(|| {
            chunk
                .par_iter()
                .map(|q| answer(&index, q, args.radius, args.dihedral))
                .collect()
        });
        for a in answers {
            match a {
                Ok(s) => out.write_all(s.as_bytes())?,
                Err(e) => {
                    failed += 1;
                    eprintln!("candor: {e}");
                }
            }
        }
    }
    Ok(failed)
}

fn load_index(path: &Path) -> anyhow::Result<PdqIndex> {
    let file = File::open(path).with_context(|| format!("cannot open index {}", path.display()))?;
    PdqIndex::read_from(BufReader::with_capacity(1 << 20, file))
        .with_context(|| format!("cannot load index {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Bank> {
        parse_bank(io::Cursor::new(text.as_bytes()), Path::new("bank.txt"))
    }

    const A: &str = "f162eb9daab170c0567fe3632d9a5548c5612982dd5e374a7424ebbc8a835c95";
    const B: &str = "b062eb9d2ab170c0567fcb672d9a5548c5612982dd5e374a7424ebbc8b135cb5";

    #[test]
    fn plain_bank_keeps_line_numbers() {
        let bank = parse(&format!("# comment\n{A}\n\n  {B}  \r\n")).unwrap();
        let lines: Vec<u64> = bank.entries.iter().map(|e| e.1).collect();
        assert_eq!(lines, vec![2, 4]);
        assert_eq!(bank.entries[1].0.to_hex(), B);
    }

    #[test]
    fn plain_bank_bad_line_names_the_line() {
        let e = parse(&format!("{A}\nxyz\n")).unwrap_err().to_string();
        assert_eq!(
            e,
            "bank.txt:2: bad PDQ hash: expected 64 hex digits, found 3 characters"
        );
    }

    #[test]
    fn json_lines_skip_errors_and_non_images() {
        let text = format!(
            "{{\"path\":\"a.jpg\",\"pdq\":\"{A}\",\"quality\":100}}\n\
             {{\"path\":\"b.txt\",\"md5\":\"00\"}}\n\
             {{\"path\":\"c.jpg\",\"error\":\"cannot decode\"}}\n\
             {{\"path\":\"d.jpg\",\"pdq\":\"{B}\"}}\n"
        );
        let bank = parse(&text).unwrap();
        assert_eq!(bank.skipped, 2);
        let lines: Vec<u64> = bank.entries.iter().map(|e| e.1).collect();
        assert_eq!(lines, vec![1, 4]);
        let e = parse("{\"pdq\": \"12\"}\n{").unwrap_err().to_string();
        assert!(e.starts_with("bank.txt:1: bad PDQ hash"), "{e}");
        let e = parse(&format!("{{\"pdq\": \"{A}\"}}\n{{nope\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bank.txt:2: bad JSON"), "{e}");
    }

    #[test]
    fn tsv_uses_the_pdq_column() {
        let text = format!(
            "path\tsize\tmd5\tsha256\tpdq\tquality\terror\n\
             a.jpg\t1\tx\ty\t{A}\t100\t\n\
             b.txt\t1\tx\ty\t\t\t\n\
             c.jpg\t1\tx\ty\t\t\tcannot decode\n\
             d.jpg\t1\tx\ty\t{B}\t90\t\n"
        );
        let bank = parse(&text).unwrap();
        assert_eq!(bank.skipped, 2);
        let lines: Vec<u64> = bank.entries.iter().map(|e| e.1).collect();
        assert_eq!(lines, vec![2, 5]);
        let e = parse("path\tmd5\na\tb\n").unwrap_err().to_string();
        assert_eq!(e, "bank.txt:1: TSV header has no `pdq` column");
        let e = parse("path\tpdq\na\tzz\n").unwrap_err().to_string();
        assert!(e.starts_with("bank.txt:2: bad PDQ hash"), "{e}");
    }

    #[test]
    fn hash_queries_report_line_and_distance() {
        let bank = parse(&format!("# bank\n{A}\n{B}\n")).unwrap();
        let index = build_index(&bank, Some(Layout::Compact));
        let q = Query::Hash {
            label: A.to_string(),
            hash: Hash256::from_hex(A).unwrap(),
        };
        let out = answer(&index, &q, 31, false).unwrap();
        let d = Hash256::from_hex(A)
            .unwrap()
            .distance(&Hash256::from_hex(B).unwrap());
        assert!(d <= 31);
        assert_eq!(
            out,
            format!(
                "{{\"query\":\"{A}\",\"match\":\"{A}\",\"line\":2,\"distance\":0}}\n\
                 {{\"query\":\"{A}\",\"match\":\"{B}\",\"line\":3,\"distance\":{d}}}\n"
            )
        );
        assert_eq!(answer(&index, &q, 0, false).unwrap().lines().count(), 1);
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("candor-index-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn match_args(index: &Path) -> MatchArgs {
        MatchArgs {
            bank: None,
            index: Some(index.to_path_buf()),
            radius: 31,
            dihedral: false,
            jobs: Some(2),
            hashes: None,
            paths: vec![],
        }
    }

    fn testdata(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/pdq")
            .join(rel)
    }

    #[test]
    fn build_then_match_needles_against_the_haystack() {
        let idx = scratch("hay.cidx");
        let code = run_build(BuildArgs {
            bank: testdata("haystack.txt"),
            output: idx.clone(),
            layout: LayoutArg::Compact,
        })
        .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let mut args = match_args(&idx);
        args.hashes = Some(testdata("needles.txt"));
        let mut from_index = Vec::new();
        assert_eq!(match_into(&args, &mut from_index).unwrap(), 0);
        // The same through --bank, and by brute force over the haystack lines.
        args.index = None;
        args.bank = Some(testdata("haystack.txt"));
        let mut from_bank = Vec::new();
        match_into(&args, &mut from_bank).unwrap();
        assert_eq!(from_index, from_bank);
        let hay = std::fs::read_to_string(testdata("haystack.txt")).unwrap();
        let needles = std::fs::read_to_string(testdata("needles.txt")).unwrap();
        let mut want = 0;
        let mut queries = std::collections::HashSet::new();
        for n in needles.lines().filter(|l| !l.trim().is_empty()) {
            let q = Hash256::from_hex(n).unwrap();
            for h in hay.lines() {
                if Hash256::from_hex(h).unwrap().distance(&q) <= 31 {
                    want += 1;
                    queries.insert(n.to_string());
                }
            }
        }
        let text = String::from_utf8(from_index).unwrap();
        assert_eq!(text.lines().count(), want);
        assert_eq!(
            queries.len(),
            100,
            "every needle has a haystack entry within 31"
        );
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let line = v["line"].as_u64().unwrap() as usize;
            assert_eq!(
                hay.lines().nth(line - 1).unwrap(),
                v["match"].as_str().unwrap()
            );
            let d = Hash256::from_hex(v["query"].as_str().unwrap())
                .unwrap()
                .distance(&Hash256::from_hex(v["match"].as_str().unwrap()).unwrap());
            assert_eq!(v["distance"].as_u64().unwrap(), u64::from(d));
        }
    }

    #[test]
    fn images_match_with_orientations() {
        let img = testdata("images/reference/bridge-mods/aaa-orig.jpg");
        let sig =
            hash_image_bytes(&std::fs::read(&img).unwrap(), &ImageOptions::default()).unwrap();
        // A bank holding the rot90 hash of the image (line 2) and an unrelated hash (line 3).
        let bank = scratch("rot.txt");
        std::fs::write(
            &bank,
            format!(
                "# rotated\n{}\n{}\n",
                sig.dihedral[1].to_hex(),
                "0".repeat(64)
            ),
        )
        .unwrap();
        let mut args = match_args(Path::new("unused"));
        args.index = None;
        args.bank = Some(bank);
        args.paths = vec![img.clone(), scratch("missing.jpg")];
        let mut out = Vec::new();
        assert_eq!(
            match_into(&args, &mut out).unwrap(),
            1,
            "the missing file fails"
        );
        let plain = String::from_utf8(out).unwrap();
        assert!(
            !plain.contains("\"line\":2"),
            "rot90 must not match without --dihedral"
        );
        args.dihedral = true;
        let mut out = Vec::new();
        match_into(&args, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["line"], 2);
        assert_eq!(first["distance"], 0);
        assert_eq!(first["orientation"], "rot90");
        assert_eq!(first["query"], img.display().to_string());
    }

    #[test]
    fn bad_index_files_are_clear_errors() {
        let idx = scratch("small.cidx");
        run_build(BuildArgs {
            bank: testdata("haystack.txt"),
            output: idx.clone(),
            layout: LayoutArg::Auto,
        })
        .unwrap();
        let bytes = std::fs::read(&idx).unwrap();
        let cut = scratch("cut.cidx");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let mut args = match_args(&cut);
        args.hashes = Some(testdata("needles.txt"));
        let e = format!("{:#}", match_into(&args, &mut Vec::new()).unwrap_err());
        assert!(
            e.contains("cannot load index") && e.contains("truncated"),
            "{e}"
        );
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 0x10;
        std::fs::write(&cut, &flipped).unwrap();
        let e = format!("{:#}", match_into(&args, &mut Vec::new()).unwrap_err());
        assert!(e.contains("checksum mismatch"), "{e}");
        std::fs::write(&cut, b"not an index").unwrap();
        let e = format!("{:#}", match_into(&args, &mut Vec::new()).unwrap_err());
        assert!(e.contains("not a Candor index file"), "{e}");
        // --dihedral with hash queries is refused.
        args.index = Some(idx);
        args.dihedral = true;
        let e = match_into(&args, &mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("--dihedral needs image paths"), "{e}");
    }
}
