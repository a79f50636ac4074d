//! Each format against a realistic sample in testdata/formats (written after each source's
//! documented shape), its refusals with their record numbers, and write → read round trips.
use std::io::{BufReader, Read};
use std::path::PathBuf;

use candor_formats::{
    ncmec_page, records, to_hex, ExportRecord, Format, ParseError, Record, SignalKind, Writer,
};

fn sample(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/formats");
    std::fs::read(p.join(name)).unwrap()
}

fn read_all(format: Format, bytes: &[u8]) -> Result<Vec<Record>, ParseError> {
    records(format, BufReader::new(bytes)).collect()
}

fn sig(r: &Record) -> Option<(&'static str, String)> {
    r.signal.as_ref().map(|(k, v)| (k.as_str(), to_hex(v)))
}

const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

#[test]
fn lines() {
    let r = read_all(Format::Lines, &sample("signals.txt")).unwrap();
    let got: Vec<_> = r.iter().map(|r| (r.number, sig(r).unwrap())).collect();
    assert_eq!(
        got,
        vec![
            (2, ("pdq", PDQ.to_string())),
            (3, ("md5", MD5.to_string())),
            (
                4,
                (
                    "sha1",
                    "a9993e364706816aba3e25717850c26c9cd0d89d".to_string()
                )
            ),
            (
                6,
                (
                    "sha256",
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string()
                )
            ),
            (
                7,
                (
                    "pdq",
                    "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b23".to_string()
                )
            ),
        ]
    );
    assert!(r.iter().all(|r| !r.deleted && r.source_id.is_none()));
    let e = read_all(
        Format::Lines,
        b"pdq 00\nmd5 d41d8cd98f00b204e9800998ecf8427e\n",
    )
    .unwrap_err();
    assert_eq!(e.number, 1);
    let e = read_all(Format::Lines, b"\n\nurl https://example.com/\n").unwrap_err();
    assert_eq!(e.number, 3);
    assert!(
        e.to_string()
            .starts_with("lines file, line 3: unknown signal type"),
        "{e}"
    );
    // Windows line ends and a byte-order mark are fine; a line without an end too.
    let r = read_all(
        Format::Lines,
        format!("\u{feff}md5 {MD5}\r\nsha1 {}", "0".repeat(40)).as_bytes(),
    )
    .unwrap();
    assert_eq!(r.len(), 2);
    let e = read_all(Format::Lines, b"md5 \xff\xfe\n").unwrap_err();
    assert!(e.to_string().contains("not UTF-8"), "{e}");
}

#[test]
fn hma_csv() {
    let r = read_all(Format::HmaCsv, &sample("threatexchange.csv")).unwrap();
    let got: Vec<_> = r.iter().map(|r| (r.number, sig(r).unwrap().0)).collect();
    assert_eq!(got, vec![(2, "pdq"), (3, "md5"), (4, "pdq")]);
    // Columns are found by name, in any order.
    let r = read_all(
        Format::HmaCsv,
        format!("tags,signal_str,signal_type\nx,{MD5},video_md5\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(sig(&r[0]), Some(("md5", MD5.to_string())));
    let e = read_all(
        Format::HmaCsv,
        format!("signal_type,hash\npdq,{PDQ}\n").as_bytes(),
    )
    .unwrap_err();
    assert_eq!(e.number, 1);
    let e = read_all(
        Format::HmaCsv,
        format!("signal_type,signal_str\npdq,{PDQ}\npdq,\"{PDQ}\npdq,{PDQ}\n").as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        (e.number, e.message.as_str()),
        (3, "unterminated quoted field")
    );
    assert_eq!(read_all(Format::HmaCsv, b"").unwrap_err().number, 0);
}

#[test]
fn stopncii() {
    let r = read_all(Format::StopNcii, &sample("stopncii-page.json")).unwrap();
    let got: Vec<_> = r.iter().map(|r| (r.number, sig(r), r.deleted)).collect();
    assert_eq!(
        got,
        vec![
            (1, Some(("pdq", PDQ.to_string())), false),
            (2, Some(("md5", MD5.to_string())), false),
            (3, None, false), // VideoTMK: not a Candor signal, skipped
            (4, Some(("pdq", format!("{:064}", 1))), true),
        ]
    );
    // The same records as JSON Lines and as an array.
    let page: serde_json::Value = serde_json::from_slice(&sample("stopncii-page.json")).unwrap();
    let recs = page["hashRecords"].as_array().unwrap();
    let jsonl: String = recs.iter().map(|r| format!("{r}\n")).collect();
    assert_eq!(read_all(Format::StopNcii, jsonl.as_bytes()).unwrap(), r);
    let array = serde_json::to_string_pretty(recs).unwrap();
    assert_eq!(read_all(Format::StopNcii, array.as_bytes()).unwrap(), r);
    // A malformed record: its number, nothing after it.
    let bad = jsonl.replacen(
        "\"hashStatus\":\"Received\"",
        "\"hashStatus\":\"Pending\"",
        1,
    );
    let e = read_all(Format::StopNcii, bad.as_bytes()).unwrap_err();
    assert_eq!(e.number, 2);
    assert!(e.message.contains("unknown hashStatus"), "{e}");
    let bad = jsonl.replacen(PDQ, "f8f8", 1);
    assert_eq!(
        read_all(Format::StopNcii, bad.as_bytes())
            .unwrap_err()
            .number,
        1
    );
    let e = read_all(Format::StopNcii, &jsonl.as_bytes()[..jsonl.len() - 20]).unwrap_err();
    assert_eq!(e.number, 4, "{e}");
    let e = read_all(Format::StopNcii, b"[1, 2]").unwrap_err();
    assert_eq!(e.number, 1, "{e}");
    let e = read_all(Format::StopNcii, b"{\"hashValue\": }").unwrap_err();
    assert_eq!(e.number, 1, "{e}");
}

#[test]
fn tcap() {
    let r = read_all(Format::Tcap, &sample("tcap.json")).unwrap();
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.source_id.clone().unwrap(), sig(r).unwrap().0, r.deleted))
        .collect();
    assert_eq!(
        got,
        vec![
            ("10591".to_string(), "md5", false),
            ("10592".to_string(), "pdq", false),
            ("10593".to_string(), "sha256", false),
            ("10594".to_string(), "pdq", true),
        ]
    );
    assert_eq!(r[3].source_key().unwrap(), "id:10594");
    let e = read_all(
        Format::Tcap,
        br#"{"hash_digest": "d41d8cd98f00b204e9800998ecf8427e", "algorithm": "MD5", "deleted": "no"}"#,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("record 1") && e.message.contains("deleted"),
        "{e}"
    );
    // Another algorithm: skipped.
    let r = read_all(
        Format::Tcap,
        br#"{"hash_digest": "abc", "algorithm": "TMK", "deleted": false, "id": 7}"#,
    )
    .unwrap();
    assert_eq!((r.len(), r[0].signal.is_none()), (1, true));
}

#[test]
fn ncmec() {
    let r = read_all(Format::Ncmec, &sample("ncmec-entries.xml")).unwrap();
    let got: Vec<_> = r
        .iter()
        .map(|r| {
            (
                r.number,
                r.source_id.clone().unwrap(),
                sig(r).map(|s| s.0),
                r.deleted,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "image1".into(), Some("md5"), false),
            (1, "image1".into(), Some("sha1"), false),
            (1, "image1".into(), Some("pdq"), false),
            (2, "image4".into(), None, true),
            (3, "video1".into(), Some("md5"), false),
            (3, "video1".into(), Some("sha1"), false),
            (4, "video4".into(), None, true),
        ]
    );
    let (recs, next) = ncmec_page(&sample("ncmec-entries.xml")[..]);
    assert_eq!(recs.len(), 7);
    assert_eq!(
        next.unwrap(),
        "/v2/entries?from=2017-10-20T00%3A00%3A00.000Z&to=2017-10-30T00%3A00%3A00.000Z&start=2001&size=1000&max=3000"
    );
    // A bad fingerprint names its entry; broken XML and a missing id are refused.
    let xml = String::from_utf8(sample("ncmec-entries.xml")).unwrap();
    let bad = xml.replace(
        "<md5>b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1</md5>",
        "<md5>b1</md5>",
    );
    let e = read_all(Format::Ncmec, bad.as_bytes()).unwrap_err();
    assert_eq!(e.number, 3, "{e}");
    assert!(e.message.contains("video1"), "{e}");
    let bad = xml.replace("<id>image4</id>", "");
    assert_eq!(
        read_all(Format::Ncmec, bad.as_bytes()).unwrap_err().number,
        2
    );
    let bad = xml.replace("</video>", "</vid>");
    assert!(read_all(Format::Ncmec, bad.as_bytes()).is_err());
    let bad = &xml[..xml.len() / 2];
    assert!(read_all(Format::Ncmec, bad.as_bytes()).is_err());
}

#[test]
fn writers_round_trip() {
    let items: Vec<(SignalKind, Vec<u8>)> = vec![
        (SignalKind::Pdq, (0..32).collect()),
        (SignalKind::Md5, (100..116).collect()),
        (SignalKind::Sha1, (200..220).collect()),
        (SignalKind::Sha256, (1..33).collect()),
    ];
    for format in Format::ALL {
        let mut w = Writer::new(format, Vec::new()).unwrap();
        let mut want = Vec::new();
        for (i, (kind, value)) in items.iter().enumerate() {
            let id = format!("0190c0de{i:024}");
            let rec = ExportRecord {
                kind: *kind,
                value,
                id: &id,
                bank: "csam, industry",
            };
            match w.write(&rec) {
                Ok(()) => want.push((*kind, value.clone())),
                Err(e) => {
                    // Only the signal types the format cannot carry.
                    assert!(
                        matches!(
                            (format, kind),
                            (Format::StopNcii, SignalKind::Sha1 | SignalKind::Sha256)
                                | (Format::Ncmec, SignalKind::Sha256)
                        ),
                        "{format}: {e}"
                    );
                }
            }
        }
        let (n, bytes) = w.finish().unwrap();
        assert_eq!(n as usize, want.len());
        let back = read_all(format, &bytes)
            .unwrap_or_else(|e| panic!("{format}: {e}\n{}", String::from_utf8_lossy(&bytes)));
        let got: Vec<_> = back.into_iter().map(|r| r.signal.unwrap()).collect();
        assert_eq!(got, want, "{format}");
    }
}

/// A reader that yields a long list generated on the fly, a piece at a time: records come out
/// as the input is read, numbered in order.
struct Generated {
    format: Format,
    i: u64,
    n: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.i == self.n {
                return Ok(0);
            }
            self.buf.clear();
            self.pos = 0;
            let h = format!("{:064x}", self.i);
            let line = match self.format {
                Format::Lines => format!("pdq {h}\n"),
                Format::StopNcii => format!(
                    "{{\"signalType\":\"ImagePDQ\",\"hashValue\":\"{h}\",\"hashStatus\":\"Active\",\"caseNumbers\":{{}}}}\n"
                ),
                _ => unreachable!(),
            };
            self.buf.extend_from_slice(line.as_bytes());
            self.i += 1;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn long_lists_stream() {
    for format in [Format::Lines, Format::StopNcii] {
        let n = 50_000;
        let input = Generated {
            format,
            i: 0,
            n,
            buf: Vec::new(),
            pos: 0,
        };
        let mut count = 0u64;
        for r in records(format, BufReader::new(input)) {
            let r = r.unwrap();
            count += 1;
            assert_eq!(r.number, count);
        }
        assert_eq!(count, n);
    }
}
