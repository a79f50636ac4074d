//! Hash-list file formats, read and written: pure (no I/O beyond the `BufRead`/`Write` given)
//! and streaming (memory bounded by one record, whatever the file's length).
//!
//! | `Format` | name | what it reads |
//! |---|---|---|
//! | [`Format::Lines`] | `lines` | `<signal_type> <hash>` per line (python-threatexchange's local file; a bare 64-hex line is PDQ), `#` comments |
//! | [`Format::HmaCsv`] | `hma-csv` | ThreatExchange/HMA CSV: a header naming `signal_type` and `signal_str` (`threatexchange dataset -P --csv`: `signal_type,signal_str,collab,category,tags`) |
//! | [`Format::StopNcii`] | `stopncii` | StopNCII `FetchHashes` hash records (`signalType` `ImagePDQ`/`VideoMD5`, `hashValue`, `hashStatus`) |
//! | [`Format::Tcap`] | `tcap` | Tech Against Terrorism TCAP hash-list entries (`hash_digest`, `algorithm`, `deleted`, `id`) |
//! | [`Format::Ncmec`] | `ncmec` | NCMEC hash-sharing XML (`<image>`, `<video>`, `<deletedImage>`, `<deletedVideo>` with `<id>` and `<fingerprints>` `md5`/`sha1`/`pdq`) |
//!
//! JSON formats take JSON Lines (one record per line), a JSON array of records, or a saved API
//! page (an object whose `hashRecords` — StopNCII — or `results` — TCAP — array holds them);
//! each record is at most [`MAX_RECORD`] bytes. Signal names: Candor's `pdq`, `md5`, `sha1`,
//! `sha256`, and HMA's `video_md5` for `md5`.
//!
//! Every record read is a [`Record`]; a malformed one is a [`ParseError`] naming its line or
//! record number, and reading stops there (the caller rejects the whole file). Records of a
//! signal type Candor does not have (StopNCII `VideoTMK`, NCMEC `pdna`, TCAP others) are
//! [`Record::signal`] `None`: skipped, counted, not an error.

use std::fmt;
use std::io::{BufRead, Write};

pub use candor_log::entry::SignalKind;

mod json;
mod ncmec;

pub use ncmec::ncmec_page;

/// One StopNCII `FetchHashes` hash record (a JSON object) as a [`Record`] numbered `number`.
pub fn stopncii_record(v: &serde_json::Value, number: u64) -> Result<Record, String> {
    json::stopncii_record(v).map(|(source_id, signal, deleted)| Record {
        number,
        source_id,
        signal,
        deleted,
    })
}

/// One TCAP hash-list entry (a JSON object) as a [`Record`] numbered `number`.
pub fn tcap_record(v: &serde_json::Value, number: u64) -> Result<Record, String> {
    json::tcap_record(v).map(|(source_id, signal, deleted)| Record {
        number,
        source_id,
        signal,
        deleted,
    })
}

/// Largest record of a JSON format, and longest line of a text format, in bytes.
pub const MAX_RECORD: usize = 1 << 20;

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Lines,
    HmaCsv,
    StopNcii,
    Tcap,
    Ncmec,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Lines,
        Format::HmaCsv,
        Format::StopNcii,
        Format::Tcap,
        Format::Ncmec,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Lines => "lines",
            Format::HmaCsv => "hma-csv",
            Format::StopNcii => "stopncii",
            Format::Tcap => "tcap",
            Format::Ncmec => "ncmec",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether a record is named by its line (text formats) or its position (JSON, XML).
    fn unit(self) -> &'static str {
        match self {
            Format::Lines | Format::HmaCsv => "line",
            _ => "record",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One record of a list: a signal to add, or one to delete (by value, or by the source's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based line (text formats) or record (JSON, XML) number.
    pub number: u64,
    /// The source's own id of the entry (NCMEC entry id, TCAP id), when it has one.
    pub source_id: Option<String>,
    /// The signal and its bytes; `None` for a signal type Candor does not have (skipped) or a
    /// deletion named only by `source_id` (NCMEC `<deletedImage>`).
    pub signal: Option<(SignalKind, Vec<u8>)>,
    /// The source says this entry is deleted (retract it).
    pub deleted: bool,
}

impl Record {
    /// The key an entry is known by at its source: `id:<source id>`, else `<signal>:<hex>`.
    pub fn source_key(&self) -> Option<String> {
        match (&self.source_id, &self.signal) {
            (Some(id), _) => Some(format!("id:{id}")),
            (None, Some((k, v))) => Some(format!("{}:{}", k.as_str(), to_hex(v))),
            (None, None) => None,
        }
    }
}

/// A malformed record: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub format: Format,
    /// 1-based line or record number (0: the file as a whole, e.g. an I/O error).
    pub number: u64,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.number == 0 {
            write!(f, "{} file: {}", self.format, self.message)
        } else {
            write!(
                f,
                "{} file, {} {}: {}",
                self.format,
                self.format.unit(),
                self.number,
                self.message
            )
        }
    }
}

impl std::error::Error for ParseError {}

/// Bytes of each signal's value.
pub fn value_len(kind: SignalKind) -> usize {
    match kind {
        SignalKind::Md5 => 16,
        SignalKind::Sha1 => 20,
        SignalKind::Pdq | SignalKind::Sha256 => 32,
    }
}

/// A signal name as lists spell it: Candor's, HMA's `video_md5`, case-insensitive.
pub fn signal_name(name: &str) -> Option<SignalKind> {
    match name.trim().to_ascii_lowercase().as_str() {
        "video_md5" => Some(SignalKind::Md5),
        n => SignalKind::parse(n),
    }
}

/// HMA's name of a signal (`video_md5` for MD5), as its local-file exchange writes it.
pub fn hma_name(kind: SignalKind) -> &'static str {
    match kind {
        SignalKind::Md5 => "video_md5",
        k => k.as_str(),
    }
}

/// Parse a hex value of `kind` (surrounding spaces and upper case accepted).
pub fn parse_value(kind: SignalKind, hex: &str) -> Result<Vec<u8>, String> {
    let hex = hex.trim();
    let want = value_len(kind) * 2;
    if hex.len() != want {
        return Err(format!(
            "{} must be {want} hex digits, got {} characters",
            kind.as_str(),
            hex.len()
        ));
    }
    let mut out = Vec::with_capacity(want / 2);
    let b = hex.as_bytes();
    for i in (0..b.len()).step_by(2) {
        match (nibble(b[i]), nibble(b[i + 1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => return Err(format!("{} is not hex: {hex:?}", kind.as_str())),
        }
    }
    Ok(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// The records of `input` in `format`, one at a time. The iterator ends after the first error.
pub fn records<'a, R: BufRead + 'a>(
    format: Format,
    input: R,
) -> Box<dyn Iterator<Item = Result<Record, ParseError>> + 'a> {
    match format {
        Format::Lines | Format::HmaCsv => Box::new(TextRecords {
            format,
            input,
            line: Vec::new(),
            n: 0,
            columns: None,
            done: false,
        }),
        Format::StopNcii => Box::new(json::JsonRecords::new(
            format,
            input,
            "hashRecords",
            json::stopncii_record,
        )),
        Format::Tcap => Box::new(json::JsonRecords::new(
            format,
            input,
            "results",
            json::tcap_record,
        )),
        Format::Ncmec => Box::new(ncmec::NcmecRecords::new(input)),
    }
}

/// Reads a line of at most [`MAX_RECORD`] bytes into `buf` (without its end of line); false at
/// the end of the input.
pub(crate) fn read_line(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
) -> Result<bool, std::io::Error> {
    buf.clear();
    loop {
        let avail = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(!buf.is_empty());
        }
        match avail.iter().position(|&b| b == b'\n') {
            Some(i) => {
                buf.extend_from_slice(&avail[..i]);
                input.consume(i + 1);
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                return Ok(true);
            }
            None => {
                let n = avail.len();
                buf.extend_from_slice(avail);
                input.consume(n);
                if buf.len() > MAX_RECORD {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("longer than {MAX_RECORD} bytes"),
                    ));
                }
            }
        }
    }
}

struct TextRecords<R> {
    format: Format,
    input: R,
    line: Vec<u8>,
    n: u64,
    /// `hma-csv`: the positions of `signal_type` and `signal_str`.
    columns: Option<(usize, usize)>,
    done: bool,
}

impl<R: BufRead> TextRecords<R> {
    fn err(&mut self, message: impl Into<String>) -> Option<Result<Record, ParseError>> {
        self.done = true;
        Some(Err(ParseError {
            format: self.format,
            number: self.n,
            message: message.into(),
        }))
    }
}

impl<R: BufRead> Iterator for TextRecords<R> {
    type Item = Result<Record, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            self.n += 1;
            match read_line(&mut self.input, &mut self.line) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    if self.format == Format::HmaCsv && self.columns.is_none() {
                        self.n = 0;
                        return self.err("no header line (signal_type,signal_str,…)");
                    }
                    return None;
                }
                Err(e) => return self.err(e.to_string()),
            }
            let Ok(text) = std::str::from_utf8(&self.line) else {
                return self.err("not UTF-8 text");
            };
            let text = text.trim_start_matches('\u{feff}').trim().to_string();
            if text.is_empty() {
                continue;
            }
            let (kind_name, hex) =
                match self.format {
                    Format::Lines => {
                        if text.starts_with('#') {
                            continue;
                        }
                        match text.split_once([' ', '\t']) {
                            Some((k, h)) => (k.to_string(), h.trim().to_string()),
                            None => ("pdq".to_string(), text),
                        }
                    }
                    _ => {
                        let fields = match csv_fields(&text) {
                            Ok(f) => f,
                            Err(e) => return self.err(e),
                        };
                        let Some((ti, si)) = self.columns else {
                            let find = |name: &str| fields.iter().position(|f| f.trim() == name);
                            match (find("signal_type"), find("signal_str")) {
                                (Some(t), Some(s)) => {
                                    self.columns = Some((t, s));
                                    continue;
                                }
                                _ => return self.err(
                                    "the header must name the columns signal_type and signal_str",
                                ),
                            }
                        };
                        match (fields.get(ti), fields.get(si)) {
                            (Some(t), Some(s)) => (t.clone(), s.clone()),
                            _ => return self.err("missing the signal_type or signal_str column"),
                        }
                    }
                };
            let Some(kind) = signal_name(&kind_name) else {
                return self.err(format!(
                    "unknown signal type {kind_name:?} (pdq, md5/video_md5, sha1, sha256)"
                ));
            };
            return match parse_value(kind, &hex) {
                Ok(v) => Some(Ok(Record {
                    number: self.n,
                    source_id: None,
                    signal: Some((kind, v)),
                    deleted: false,
                })),
                Err(e) => self.err(e),
            };
        }
    }
}

/// The fields of one CSV line (RFC 4180 quoting; a quoted field does not span lines).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(cur);
    Ok(out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One bank content to write.
#[derive(Debug, Clone, Copy)]
pub struct ExportRecord<'a> {
    pub kind: SignalKind,
    pub value: &'a [u8],
    /// Candor's content id (written as the record's id where the format has one).
    pub id: &'a str,
    /// The bank's name (HMA CSV `collab`).
    pub bank: &'a str,
}

/// Writes records in a format, streaming: [`write`](Writer::write) each, then
/// [`finish`](Writer::finish).
pub struct Writer<W: Write> {
    format: Format,
    out: W,
    count: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(format: Format, mut out: W) -> std::io::Result<Writer<W>> {
        match format {
            Format::HmaCsv => writeln!(out, "signal_type,signal_str,collab,category,tags")?,
            Format::Ncmec => write!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<queryResult xmlns=\"https://hashsharing.ncmec.org/hashsharing/v2\">\n<images>\n"
            )?,
            _ => {}
        }
        Ok(Writer {
            format,
            out,
            count: 0,
        })
    }

    /// Write one record. NCMEC has no SHA-256 fingerprint: those are refused (an error), as
    /// StopNCII takes only PDQ and MD5.
    pub fn write(&mut self, r: &ExportRecord<'_>) -> std::io::Result<()> {
        let hex = to_hex(r.value);
        let unsupported = |what: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} has no {} signal (content {})",
                    what,
                    r.kind.as_str(),
                    r.id
                ),
            )
        };
        match self.format {
            Format::Lines => writeln!(self.out, "{} {hex}", hma_name(r.kind))?,
            Format::HmaCsv => writeln!(
                self.out,
                "{},{hex},{},POSITIVE_CLASS,",
                hma_name(r.kind),
                csv_field(r.bank)
            )?,
            Format::StopNcii => {
                let st = match r.kind {
                    SignalKind::Pdq => "ImagePDQ",
                    SignalKind::Md5 => "VideoMD5",
                    _ => return Err(unsupported("StopNCII")),
                };
                let v = serde_json::json!({"lastModtimestamp": 0, "signalType": st, "hashValue": hex,
                    "hashStatus": "Active", "caseNumbers": {}});
                writeln!(self.out, "{v}")?;
            }
            Format::Tcap => {
                let alg = match r.kind {
                    SignalKind::Pdq => "PDQ",
                    SignalKind::Md5 => "MD5",
                    SignalKind::Sha1 => "SHA1",
                    SignalKind::Sha256 => "SHA256",
                };
                let v = serde_json::json!({"id": self.count + 1, "hash_digest": hex, "algorithm": alg,
                    "deleted": false, "candor_content_id": r.id});
                writeln!(self.out, "{v}")?;
            }
            Format::Ncmec => {
                let tag = match r.kind {
                    SignalKind::Pdq => "pdq",
                    SignalKind::Md5 => "md5",
                    SignalKind::Sha1 => "sha1",
                    SignalKind::Sha256 => return Err(unsupported("NCMEC")),
                };
                writeln!(
                    self.out,
                    "<image><id>{}</id><fingerprints><{tag}>{hex}</{tag}></fingerprints></image>",
                    xml_escape(r.id)
                )?;
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Close the document; returns how many records were written and the writer.
    pub fn finish(mut self) -> std::io::Result<(u64, W)> {
        if self.format == Format::Ncmec {
            write!(self.out, "</images>\n</queryResult>\n")?;
        }
        self.out.flush()?;
        Ok((self.count, self.out))
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(
            csv_fields(r#"pdq,"a,b","say ""hi""",,x"#).unwrap(),
            vec!["pdq", "a,b", "say \"hi\"", "", "x"]
        );
        assert!(csv_fields(r#"pdq,"open"#).is_err());
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }

    #[test]
    fn values() {
        assert_eq!(
            parse_value(
                SignalKind::Sha1,
                " A9993E364706816ABA3E25717850C26C9CD0D89D "
            )
            .unwrap()[0],
            0xa9
        );
        assert!(parse_value(SignalKind::Md5, "zz").is_err());
        assert!(parse_value(SignalKind::Md5, &"g".repeat(32)).is_err());
        assert_eq!(signal_name("VIDEO_MD5"), Some(SignalKind::Md5));
        assert_eq!(signal_name("url"), None);
    }
}
