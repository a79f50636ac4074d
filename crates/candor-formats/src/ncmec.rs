//! NCMEC hash-sharing XML (`queryResult` of `GET /v2/entries`), streamed with `quick-xml`: one
//! entry in memory at a time. An `<image>` or `<video>` is one record per fingerprint Candor
//! has (`md5`, `sha1`, `pdq`; `pdna` and the others are skipped); `<deletedImage>` and
//! `<deletedVideo>` name the entry to delete by its `<id>`. Namespaces are ignored (local
//! names), as python-threatexchange does.

use std::collections::VecDeque;
use std::io::BufRead;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::{parse_value, Format, ParseError, Record, SignalKind, MAX_RECORD};

struct Entry {
    deleted: bool,
    depth: usize,
    id: Option<String>,
    fingerprints: Vec<(String, String)>,
}

pub(crate) struct NcmecRecords<R> {
    reader: Reader<R>,
    buf: Vec<u8>,
    depth: usize,
    entry: Option<Entry>,
    /// Where the text being read goes: the id, or a fingerprint of this name.
    text_for: Option<Option<String>>,
    text: String,
    in_fingerprints: bool,
    pending: VecDeque<Record>,
    n: u64,
    next_paging: Option<String>,
    in_next: bool,
    done: bool,
}

impl<R: BufRead> NcmecRecords<R> {
    pub(crate) fn new(input: R) -> Self {
        let mut reader = Reader::from_reader(input);
        reader.config_mut().trim_text(true);
        NcmecRecords {
            reader,
            buf: Vec::new(),
            depth: 0,
            entry: None,
            text_for: None,
            text: String::new(),
            in_fingerprints: false,
            pending: VecDeque::new(),
            n: 0,
            next_paging: None,
            in_next: false,
            done: false,
        }
    }

    fn fail(&mut self, number: u64, message: String) -> Option<Result<Record, ParseError>> {
        self.done = true;
        self.pending.clear();
        Some(Err(ParseError {
            format: Format::Ncmec,
            number,
            message,
        }))
    }

    /// Close the entry being read: its records, or why it is malformed.
    fn finish_entry(&mut self) -> Result<(), String> {
        let e = self.entry.take().expect("inside an entry");
        let id =
            e.id.filter(|i| !i.is_empty())
                .ok_or("an entry without <id>")?;
        if e.deleted {
            self.pending.push_back(Record {
                number: self.n,
                source_id: Some(id),
                signal: None,
                deleted: true,
            });
            return Ok(());
        }
        let mut any = false;
        for (name, text) in e.fingerprints {
            let kind = match name.as_str() {
                "md5" => SignalKind::Md5,
                "sha1" => SignalKind::Sha1,
                "pdq" => SignalKind::Pdq,
                _ => continue,
            };
            let value = parse_value(kind, &text).map_err(|m| format!("entry {id:?}: {m}"))?;
            any = true;
            self.pending.push_back(Record {
                number: self.n,
                source_id: Some(id.clone()),
                signal: Some((kind, value)),
                deleted: false,
            });
        }
        if !any {
            // Only fingerprints Candor does not have: skipped, counted.
            self.pending.push_back(Record {
                number: self.n,
                source_id: Some(id),
                signal: None,
                deleted: false,
            });
        }
        Ok(())
    }

    /// The `<paging><next>` of the document, once it has been read to the end.
    pub(crate) fn next_page(&self) -> Option<&str> {
        self.next_paging.as_deref()
    }
}

impl<R: BufRead> Iterator for NcmecRecords<R> {
    type Item = Result<Record, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            self.buf.clear();
            let event = match self.reader.read_event_into(&mut self.buf) {
                Ok(e) => e.into_owned(),
                Err(e) => {
                    let at = self.reader.error_position();
                    let n = self.n + u64::from(self.entry.is_some());
                    return self.fail(n, format!("not well-formed XML at byte {at}: {e}"));
                }
            };
            match event {
                Event::Start(s) => {
                    self.depth += 1;
                    let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                    match &self.entry {
                        None => match name.as_str() {
                            "image" | "video" | "deletedImage" | "deletedVideo" => {
                                self.n += 1;
                                self.entry = Some(Entry {
                                    deleted: name.starts_with("deleted"),
                                    depth: self.depth,
                                    id: None,
                                    fingerprints: Vec::new(),
                                });
                            }
                            "next" => {
                                self.in_next = true;
                                self.text.clear();
                            }
                            _ => {}
                        },
                        Some(e) => {
                            let rel = self.depth - e.depth;
                            if rel == 1 && name == "id" {
                                self.text_for = Some(None);
                                self.text.clear();
                            } else if rel == 1 && name == "fingerprints" {
                                self.in_fingerprints = true;
                            } else if rel == 2 && self.in_fingerprints {
                                self.text_for = Some(Some(name));
                                self.text.clear();
                            }
                        }
                    }
                }
                Event::Empty(s) => {
                    let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                    if self.entry.is_none()
                        && matches!(
                            name.as_str(),
                            "image" | "video" | "deletedImage" | "deletedVideo"
                        )
                    {
                        self.n += 1;
                        let n = self.n;
                        return self.fail(n, "an entry without <id>".into());
                    }
                }
                Event::Text(t) if self.text_for.is_some() || self.in_next => {
                    match t.unescape() {
                        Ok(s) => self.text.push_str(&s),
                        Err(e) => {
                            let n = self.n;
                            return self.fail(n, format!("bad text: {e}"));
                        }
                    }
                    if self.text.len() > MAX_RECORD {
                        let n = self.n;
                        return self.fail(n, "text longer than 1 MiB".into());
                    }
                }
                Event::CData(t) if self.text_for.is_some() => {
                    self.text.push_str(&String::from_utf8_lossy(&t));
                }
                Event::End(_) => {
                    if self.in_next {
                        self.in_next = false;
                        self.next_paging = Some(std::mem::take(&mut self.text));
                    }
                    if let Some(target) = self.text_for.take() {
                        let text = std::mem::take(&mut self.text);
                        let e = self.entry.as_mut().expect("text inside an entry");
                        match target {
                            None => e.id = Some(text.trim().to_string()),
                            Some(name) => e.fingerprints.push((name, text)),
                        }
                    } else if let Some(e) = &self.entry {
                        let rel = self.depth - e.depth;
                        if rel == 1 && self.in_fingerprints {
                            self.in_fingerprints = false;
                        } else if rel == 0 {
                            if let Err(m) = self.finish_entry() {
                                let n = self.n;
                                return self.fail(n, m);
                            }
                        }
                    }
                    self.depth = self.depth.saturating_sub(1);
                }
                Event::Eof => {
                    self.done = true;
                    if self.entry.is_some() || self.depth != 0 {
                        let n = self.n;
                        return self.fail(n, "the document ends inside an element".into());
                    }
                }
                _ => {}
            }
        }
    }
}

/// The `<paging><next>` path of an NCMEC entries document (empty when there is none) and its
/// records; `None` for the path when the document is malformed (the error is among the records).
pub fn ncmec_page<R: BufRead>(input: R) -> (Vec<Result<Record, ParseError>>, Option<String>) {
    let mut it = NcmecRecords::new(input);
    let mut out = Vec::new();
    for r in it.by_ref() {
        let bad = r.is_err();
        out.push(r);
        if bad {
            return (out, None);
        }
    }
    let next = it.next_page().unwrap_or("").to_string();
    (out, Some(next))
}
