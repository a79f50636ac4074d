//! The JSON formats (StopNCII, TCAP), streamed: JSON Lines, a top-level array, or saved API
//! pages (objects whose `records_key` array holds the records), one record in memory at a time.

use std::io::BufRead;

use serde_json::Value;

use crate::{parse_value, Format, ParseError, Record, SignalKind, MAX_RECORD};

/// What a record's JSON becomes: its source id, signal (None: a type Candor does not have)
/// and whether it is deleted.
pub(crate) type Convert = fn(&Value) -> Result<Converted, String>;
pub(crate) type Converted = (Option<String>, Option<(SignalKind, Vec<u8>)>, bool);

pub(crate) struct JsonRecords<R> {
    format: Format,
    input: R,
    records_key: &'static str,
    convert: Convert,
    depth: usize,
    in_str: bool,
    esc: bool,
    /// The bytes of the record being read, and the depth it started at.
    capture: Option<(Vec<u8>, usize)>,
    /// Depth of the array whose elements are records.
    records_depth: Option<usize>,
    /// Reading a top-level object (a record of JSON Lines, or a page holding records).
    top_object: bool,
    key: Vec<u8>,
    last_key: Vec<u8>,
    current_key: Vec<u8>,
    n: u64,
    line: u64,
    record_line: u64,
    done: bool,
}

impl<R: BufRead> JsonRecords<R> {
    pub(crate) fn new(
        format: Format,
        input: R,
        records_key: &'static str,
        convert: Convert,
    ) -> Self {
        JsonRecords {
            format,
            input,
            records_key,
            convert,
            depth: 0,
            in_str: false,
            esc: false,
            capture: None,
            records_depth: None,
            top_object: false,
            key: Vec::new(),
            last_key: Vec::new(),
            current_key: Vec::new(),
            n: 0,
            line: 1,
            record_line: 1,
            done: false,
        }
    }

    fn fail(&mut self, number: u64, message: String) -> Option<Result<Record, ParseError>> {
        self.done = true;
        Some(Err(ParseError {
            format: self.format,
            number,
            message,
        }))
    }

    /// Feed one byte; returns a finished record's bytes, or an error message.
    fn step(&mut self, b: u8) -> Result<Option<Vec<u8>>, String> {
        if b == b'\n' {
            self.line += 1;
        }
        if let Some((buf, _)) = &mut self.capture {
            buf.push(b);
            if buf.len() > MAX_RECORD {
                return Err(format!("record longer than {MAX_RECORD} bytes"));
            }
        }
        let key_level = self.top_object && self.depth == 1;
        if self.in_str {
            if self.esc {
                self.esc = false;
            } else if b == b'\\' {
                self.esc = true;
            } else if b == b'"' {
                self.in_str = false;
                if key_level {
                    self.last_key = std::mem::take(&mut self.key);
                }
            } else if key_level && self.key.len() < 256 {
                self.key.push(b);
            }
            return Ok(None);
        }
        if b.is_ascii_whitespace() {
            return Ok(None);
        }
        let element_start = self.records_depth == Some(self.depth) && self.capture.is_none();
        match b {
            b'{' | b'[' => {
                if self.depth == 0 {
                    if b == b'{' {
                        self.top_object = true;
                        self.capture = Some((vec![b'{'], 0));
                        self.record_line = self.line;
                        self.current_key.clear();
                    } else {
                        self.records_depth = Some(1);
                    }
                } else if element_start {
                    if b == b'[' {
                        return Err("a record must be a JSON object, not an array".into());
                    }
                    self.capture = Some((vec![b'{'], self.depth));
                    self.record_line = self.line;
                } else if key_level && b == b'[' && self.current_key == self.records_key.as_bytes()
                {
                    // A saved API page: its records are this array's elements.
                    self.capture = None;
                    self.top_object = false;
                    self.records_depth = Some(2);
                }
                self.depth += 1;
            }
            b'}' | b']' => {
                if self.depth == 0 {
                    return Err(format!("unexpected {:?}", b as char));
                }
                self.depth -= 1;
                if self.records_depth == Some(self.depth + 1) && b == b']' {
                    self.records_depth = None;
                }
                if self.depth == 0 {
                    self.top_object = false;
                }
                if let Some((_, start)) = &self.capture {
                    if *start == self.depth {
                        let (buf, _) = self.capture.take().expect("capturing");
                        return Ok(Some(buf));
                    }
                }
            }
            b'"' => {
                if element_start {
                    return Err("a record must be a JSON object, not a string".into());
                }
                if self.depth == 0 {
                    return Err("expected JSON objects or an array of them".into());
                }
                self.in_str = true;
                self.key.clear();
            }
            b':' if key_level => self.current_key = std::mem::take(&mut self.last_key),
            b',' | b':' => {}
            _ => {
                if element_start {
                    return Err("a record must be a JSON object".into());
                }
                if self.depth == 0 {
                    return Err("expected JSON objects or an array of them".into());
                }
            }
        }
        Ok(None)
    }
}

impl<R: BufRead> Iterator for JsonRecords<R> {
    type Item = Result<Record, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let avail = match self.input.fill_buf() {
                Ok(b) => b.to_vec(),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return self.fail(0, format!("cannot read: {e}")),
            };
            if avail.is_empty() {
                self.done = true;
                if self.depth != 0 || self.in_str {
                    let n = self.n + 1;
                    return self.fail(n, "the file ends inside a JSON value".into());
                }
                return None;
            }
            for (i, &b) in avail.iter().enumerate() {
                match self.step(b) {
                    Ok(None) => {}
                    Ok(Some(bytes)) => {
                        self.input.consume(i + 1);
                        self.n += 1;
                        let (n, line) = (self.n, self.record_line);
                        let value: Value = match serde_json::from_slice(&bytes) {
                            Ok(v) => v,
                            Err(e) => return self.fail(n, format!("line {line}: not JSON: {e}")),
                        };
                        return match (self.convert)(&value) {
                            Ok((source_id, signal, deleted)) => Some(Ok(Record {
                                number: n,
                                source_id,
                                signal,
                                deleted,
                            })),
                            Err(e) => self.fail(n, format!("line {line}: {e}")),
                        };
                    }
                    Err(e) => {
                        let (n, line) = (self.n + 1, self.line);
                        return self.fail(n, format!("line {line}: {e}"));
                    }
                }
            }
            self.input.consume(avail.len());
        }
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("`{key}` is not a string")),
        None => Err(format!("missing `{key}`")),
    }
}

/// A StopNCII `FetchHashes` hash record: `signalType` (`ImagePDQ`, `VideoMD5`; others are
/// skipped), `hashValue`, `hashStatus` (`Withdrawn` and `Deleted` delete it).
pub(crate) fn stopncii_record(v: &Value) -> Result<Converted, String> {
    if !v.is_object() {
        return Err("a record must be a JSON object".into());
    }
    let st = str_field(v, "signalType")?;
    let hash = str_field(v, "hashValue")?;
    let status = str_field(v, "hashStatus")?;
    let deleted = match status {
        "Withdrawn" | "Deleted" => true,
        "Active" | "Received" | "Unknown" => false,
        s => return Err(format!("unknown hashStatus {s:?}")),
    };
    let kind = match st {
        "ImagePDQ" => Some(SignalKind::Pdq),
        "VideoMD5" => Some(SignalKind::Md5),
        "VideoTMK" | "Text" | "URL" | "Unknown" => None,
        s => return Err(format!("unknown signalType {s:?}")),
    };
    let signal = match kind {
        Some(k) => Some((k, parse_value(k, hash)?)),
        None => None,
    };
    Ok((None, signal, deleted))
}

/// A TCAP hash-list entry: `hash_digest`, `algorithm` (`PDQ`, `MD5`, `SHA1`, `SHA256`; others
/// are skipped), `deleted` (bool), `id` (number or string; optional).
pub(crate) fn tcap_record(v: &Value) -> Result<Converted, String> {
    if !v.is_object() {
        return Err("a record must be a JSON object".into());
    }
    let hash = str_field(v, "hash_digest")?;
    let alg = str_field(v, "algorithm")?;
    let deleted = match v.get("deleted") {
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("`deleted` is not a boolean".into()),
        None => return Err("missing `deleted`".into()),
    };
    let id = match v.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err("`id` is not a number or a string".into()),
    };
    let kind = match alg.to_ascii_uppercase().replace('-', "").as_str() {
        "PDQ" => Some(SignalKind::Pdq),
        "MD5" => Some(SignalKind::Md5),
        "SHA1" => Some(SignalKind::Sha1),
        "SHA256" => Some(SignalKind::Sha256),
        _ => None,
    };
    let signal = match kind {
        Some(k) => Some((k, parse_value(k, hash)?)),
        None => None,
    };
    Ok((id, signal, deleted))
}
