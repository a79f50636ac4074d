//! The scenario, end to end, over HTTP only: a fresh `candor serve` (child process), the
//! relay (in-process), people using the relay, a curator and two reviewers using Candor's API
//! with their own tokens. Used by `candor-relay demo` (prints the transcript) and by
//! `tests/scenario.rs` (checks the report). Every step checks what it claims and fails with an
//! error saying what differed.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde_json::{json, Value};

/// Jurisdiction A (where the sender and one recipient are registered) and B.
pub const A: &str = "CA";
pub const B: &str = "DE";

/// A running Candor and relay, with the tokens of the people who act on Candor directly.
pub struct Stack {
    pub candor_url: String,
    pub relay_url: String,
    pub candor_bin: PathBuf,
    pub curator: String,
    pub reviewer: String,
    pub reviewer2: String,
    pub dir: tempfile::TempDir,
    child: Child,
    _relay: std::thread::JoinHandle<()>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    )
}

pub fn token(bin: &Path, data: &Path, role: &str, name: &str) -> Result<String> {
    let out = Command::new(bin)
        .args(["token", "create", "--role", role, "--name", name, "--data"])
        .arg(data)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    ensure!(
        out.status.success(),
        "candor token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Stack {
    /// A fresh Candor (its data in a temporary directory) from the `candor` binary, and the relay.
    pub fn start(candor_bin: &Path) -> Result<Stack> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("candor-data");
        let platform = token(candor_bin, &data, "platform", "candor-relay")?;
        let curator = token(candor_bin, &data, "curator", "cora")?;
        let reviewer = token(candor_bin, &data, "reviewer", "rita")?;
        let reviewer2 = token(candor_bin, &data, "reviewer", "ravi")?;
        let port = free_port()?;
        let child = spawn_candor(candor_bin, &data, port)?;
        let candor_url = format!("http://127.0.0.1:{port}");
        wait_ready(&candor_url)?;
        let mut config = crate::Config::new(&candor_url, &platform, dir.path().join("relay.db"));
        config.sync_interval = Duration::from_millis(300);
        let (relay_url, relay) = spawn_relay(config)?;
        Ok(Stack {
            candor_url,
            relay_url,
            candor_bin: candor_bin.to_path_buf(),
            curator,
            reviewer,
            reviewer2,
            dir,
            child,
            _relay: relay,
        })
    }
}

/// `candor serve` on `127.0.0.1:port` with data directory `data`.
pub fn spawn_candor(candor_bin: &Path, data: &Path, port: u16) -> Result<Child> {
    Command::new(candor_bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .env("CANDOR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {} serve", candor_bin.display()))
}

/// Wait until Candor answers `/readyz` with 200.
pub fn wait_ready(candor_url: &str) -> Result<()> {
    let a = agent();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = a.get(&format!("{candor_url}/readyz")).call() {
            if r.status().is_success() {
                return Ok(());
            }
        }
        ensure!(Instant::now() < deadline, "candor serve did not get ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The relay on its own thread and runtime, on a free loopback port: its URL.
pub fn spawn_relay(config: crate::Config) -> Result<(String, std::thread::JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let relay_url = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = std::sync::mpsc::channel::<Result<()>>();
    let relay = std::thread::spawn(move || {
        let rt = match tokio::runtime::Runtime::new() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(e.into()));
                return;
            }
        };
        rt.block_on(async move {
            let app = match crate::Relay::open(config).await {
                Ok(a) => a,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            crate::spawn_background(app.clone());
            let l = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                    return;
                }
            };
            let _ = tx.send(Ok(()));
            let _ = axum::serve(l, crate::router(app)).await;
        });
    });
    rx.recv().map_err(|_| anyhow!("the relay thread ended"))??;
    Ok((relay_url, relay))
}

/// What the scenario saw, for the test to check and the demo to print.
#[derive(Default, Debug)]
pub struct Report {
    pub transcript: Vec<String>,
    /// Every decision taken about alice's attachments (from the relay's "sent" events).
    pub alice_decisions: BTreeSet<String>,
    /// Decision ids in alice's data-access export.
    pub exported_decisions: BTreeSet<String>,
    /// Notices whose proofs were checked with `candor log verify-proof`.
    pub proofs_verified: usize,
    /// Log indexes of the sampling, review, bank addition and next withholding (step 3).
    pub step3_order: Vec<u64>,
    /// The log key (verifier text) and the proof files, for the test's own checks.
    pub log_key: String,
    pub proofs: Vec<(Value, String)>,
    /// Log size at the end.
    pub log_size: u64,
}

struct Http {
    a: ureq::Agent,
}

impl Http {
    fn send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        ctype: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>)> {
        let mut b = ureq::http::Request::builder().method(method).uri(url);
        if let Some(t) = token {
            b = b.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(c) = ctype {
            b = b.header("Content-Type", c);
        }
        let req = b.body(body.unwrap_or_default())?;
        let mut r = self.a.run(req).with_context(|| format!("{method} {url}"))?;
        let status = r.status().as_u16();
        let body = r.body_mut().with_config().limit(64 << 20).read_to_vec()?;
        Ok((status, body))
    }

    fn json(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
        want: u16,
    ) -> Result<Value> {
        let (s, b) = self.send(
            method,
            url,
            token,
            body.map(|_| "application/json"),
            body.map(|v| v.to_string().into_bytes()),
        )?;
        ensure!(
            s == want,
            "{method} {url}: HTTP {s} (wanted {want}): {}",
            String::from_utf8_lossy(&b)
        );
        Ok(serde_json::from_slice(&b).unwrap_or(Value::Null))
    }
}

/// `multipart/form-data` body of text parts and one optional file.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "relay-scenario-5b0e2c9d7a41";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, ctype, bytes)) = file {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The copies of step 2, made from the original with the `image` crate.
pub fn variants(orig: &[u8]) -> Result<Vec<(&'static str, Vec<u8>)>> {
    use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
    let img = image::load_from_memory(orig)?;
    let png = |i: &DynamicImage| -> Result<Vec<u8>> {
        let mut out = Cursor::new(Vec::new());
        i.write_to(&mut out, ImageFormat::Png)?;
        Ok(out.into_inner())
    };
    let mirrored = png(&img.fliph())?;
    let squashed = png(&img.resize_exact(
        (img.width() * 7 / 10).max(1),
        img.height(),
        image::imageops::FilterType::Triangle,
    ))?;
    let rgb = img.to_rgb8();
    let pad = (img.width().min(img.height()) / 8).max(4);
    let mut framed = RgbImage::from_pixel(
        img.width() + 2 * pad,
        img.height() + 2 * pad,
        Rgb([250, 250, 250]),
    );
    image::imageops::overlay(&mut framed, &rgb, i64::from(pad), i64::from(pad));
    let bordered = png(&DynamicImage::ImageRgb8(framed))?;
    let mut recompressed = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut recompressed, 35)
        .encode_image(&img.to_rgb8())?;
    Ok(vec![
        ("mirrored.png", mirrored),
        ("squashed-70.png", squashed),
        ("bordered.png", bordered),
        ("recompressed-q35.jpg", recompressed),
    ])
}

/// A small, valid PDF (the "plain file" of step 4).
pub fn pdf() -> Vec<u8> {
    let objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        "<< /Length 53 >>\nstream\nBT /F1 12 Tf 20 50 Td (Leaked staff records) Tj ET\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// The policies the curator publishes: one category (the `extremism` bank) withheld in B only,
/// on every surface; leaked documents withheld in B's groups and held for review in B's direct
/// messages; 100 % of unknown direct content sampled into review (published, private surfaces
/// named).
pub fn policies() -> Value {
    json!({
        "sampling": {"rate": 1.0, "surfaces": ["direct"], "private_surfaces": true},
        "policies": [
            {"id": "extremism-b", "name": "Terrorist content (B)", "banks": ["extremism"],
             "action": "withhold", "jurisdictions": [B],
             "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
             "legal_ground": "Regulation (EU) 2021/784, Article 2(7), as applied in B",
             "explanation": "The attachment matches known terrorist content, illegal in B."},
            {"id": "leaks-group-b", "name": "Leaked personal data (groups, B)", "banks": ["leaked-docs"],
             "surfaces": ["group"], "action": "withhold", "jurisdictions": [B],
             "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
             "legal_ground": "GDPR Article 6 as applied in B",
             "explanation": "The file matches a document of leaked personal data; sharing it in groups is unlawful in B."},
            {"id": "leaks-direct-review-b", "name": "Leaked personal data (direct, B)", "banks": ["leaked-docs"],
             "surfaces": ["direct"], "action": "hold_for_review", "jurisdictions": [B],
             "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
             "legal_ground": "Terms of Service, section 5 (personal data of others)",
             "explanation": "The file matches a document of leaked personal data; a person reviews it before it reaches you."}
        ]
    })
}

struct Run<'a> {
    s: &'a Stack,
    h: Http,
    r: Report,
    cursors: std::collections::HashMap<String, i64>,
    seen: std::collections::HashMap<String, Vec<Value>>,
}

impl Run<'_> {
    fn say(&mut self, line: impl Into<String>) {
        let line = line.into();
        self.r.transcript.push(line);
    }
    fn relay(&self, method: &str, path: &str, body: Option<&Value>, want: u16) -> Result<Value> {
        self.h.json(
            method,
            &format!("{}{path}", self.s.relay_url),
            None,
            body,
            want,
        )
    }
    fn candor(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
        want: u16,
    ) -> Result<Value> {
        self.h.json(
            method,
            &format!("{}{path}", self.s.candor_url),
            Some(token),
            body,
            want,
        )
    }

    /// Send an attachment; returns the relay's "sent" answer (what Candor answered, per recipient).
    fn send(
        &mut self,
        conv: i64,
        sender: &str,
        text: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<Value> {
        let ctype = if name.ends_with(".pdf") {
            "application/pdf"
        } else if name.ends_with(".png") {
            "image/png"
        } else {
            "image/jpeg"
        };
        let (ct, body) = multipart(
            &[("sender", sender), ("text", text)],
            Some((name, ctype, bytes)),
        );
        let (st, b) = self.h.send(
            "POST",
            &format!("{}/conversations/{conv}/messages", self.s.relay_url),
            None,
            Some(&ct),
            Some(body),
        )?;
        ensure!(
            st == 201,
            "send: HTTP {st}: {}",
            String::from_utf8_lossy(&b)
        );
        let v: Value = serde_json::from_slice(&b)?;
        for d in v["decisions"].as_array().into_iter().flatten() {
            if let Some(id) = d["id"].as_str() {
                if sender == "alice" {
                    self.r.alice_decisions.insert(id.to_string());
                }
            }
        }
        let outcome: Vec<String> = v["recipients"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "{} ({}): {}{}",
                    r["account"].as_str().unwrap_or("?"),
                    r["jurisdiction"].as_str().unwrap_or("?"),
                    r["action"].as_str().unwrap_or("?"),
                    r["policy"]
                        .as_str()
                        .map(|p| format!(" by {p}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        self.say(format!(
            "  {sender} sends {name} ({} bytes): Candor answers {}{}",
            bytes.len(),
            outcome.join("; "),
            v["review_item"]
                .as_str()
                .map(|i| format!("; sampled into review as {i}"))
                .unwrap_or_default()
        ));
        Ok(v)
    }

    fn action_for(v: &Value, account: &str) -> String {
        v["recipients"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["account"] == account)
            .and_then(|r| r["action"].as_str())
            .unwrap_or("none")
            .to_string()
    }

    fn decision_for(v: &Value, account: &str) -> Result<String> {
        v["recipients"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["account"] == account)
            .and_then(|r| r["decision"].as_str())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no decision for {account} in {v}"))
    }

    /// Read an account's inbox (long poll) until `pred` holds for some event, or time out.
    fn wait_for(
        &mut self,
        account: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        if let Some(e) = self
            .seen
            .get(account)
            .and_then(|v| v.iter().find(|e| pred(e)))
        {
            return Ok(e.clone());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let after = *self.cursors.get(account).unwrap_or(&0);
            let v = self.relay(
                "GET",
                &format!("/inbox?account={account}&after={after}&wait=2"),
                None,
                200,
            )?;
            let events = v["events"].as_array().cloned().unwrap_or_default();
            self.cursors
                .insert(account.to_string(), v["next"].as_i64().unwrap_or(after));
            let mut found = None;
            for e in events {
                if found.is_none() && pred(&e) {
                    found = Some(e.clone());
                }
                self.seen.entry(account.to_string()).or_default().push(e);
            }
            if let Some(e) = found {
                return Ok(e);
            }
            ensure!(Instant::now() < deadline, "{account} never saw {what}");
        }
    }

    fn notice_seen(&mut self, account: &str, kind: &str, decision_or_item: &str) -> Result<Value> {
        let n = self.wait_for(
            account,
            &format!("a {kind} notice about {decision_or_item}"),
            |e| {
                e["type"] == "notice"
                    && e["notice"]["kind"] == kind
                    && (e["notice"]["decision"] == decision_or_item
                        || e["notice"]["review_item"] == decision_or_item)
            },
        )?;
        let text = n["notice"]["text"].as_str().unwrap_or_default();
        let short: String = text.chars().take(160).collect();
        self.say(format!(
            "    {account} sees a notice ({kind}, log entry {}): \"{short}{}\"",
            n["notice"]["log_index"],
            if text.chars().count() > 160 {
                "…"
            } else {
                ""
            }
        ));
        Ok(n["notice"].clone())
    }

    fn attachment_state(&mut self, account: &str, message: i64) -> Result<String> {
        let e = self.wait_for(account, &format!("message {message}"), |e| {
            e["type"] == "message" && e["message"] == message
        })?;
        let st = e["attachment"]["status"].as_str().unwrap_or("").to_string();
        Ok(st)
    }

    fn download(&self, account: &str, message: i64) -> Result<u16> {
        let (s, _) = self.h.send(
            "GET",
            &format!(
                "{}/attachments/{message}?account={account}",
                self.s.relay_url
            ),
            None,
            None,
            None,
        )?;
        Ok(s)
    }
}

fn message_id(v: &Value) -> Result<i64> {
    v["message"]
        .as_i64()
        .ok_or_else(|| anyhow!("no message id in {v}"))
}

/// Run the scenario against `stack`, with the repository's test images under `repo`.
pub fn run(stack: &Stack, repo: &Path) -> Result<Report> {
    let mut run = Run {
        s: stack,
        h: Http { a: agent() },
        r: Report::default(),
        cursors: Default::default(),
        seen: Default::default(),
    };
    let r = &mut run;
    let images = repo.join("testdata/pdq/images/reference");
    let known = std::fs::read(images.join("bridge-mods/aaa-orig.jpg"))?;
    let unknown = std::fs::read(images.join("reg-test-input/pen-and-coaster.png"))?;
    let pdf = pdf();
    let cur = stack.curator.clone();

    r.say(format!(
        "Candor at {}, relay at {}; jurisdictions A = {A}, B = {B}",
        stack.candor_url, stack.relay_url
    ));
    r.say("== 0. the curator (cora) publishes two banks and the policies");
    for (bank, cat) in [
        ("extremism", "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"),
        (
            "leaked-docs",
            "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        ),
    ] {
        r.candor(
            "POST",
            "/v1/banks",
            &cur,
            Some(&json!({"name": bank, "category": cat, "provenance": "imported", "list_name": "demo list"})),
            201,
        )?;
        r.say(format!("  bank {bank} ({cat})"));
    }
    for (bank, name, bytes) in [
        ("extremism", "aaa-orig.jpg", &known),
        ("leaked-docs", "staff.pdf", &pdf),
    ] {
        let (s, b) = r.h.send(
            "POST",
            &format!("{}/v1/banks/{bank}/content", stack.candor_url),
            Some(&cur),
            Some("application/octet-stream"),
            Some(bytes.to_vec()),
        )?;
        ensure!(
            s == 201 || s == 200,
            "add {name} to {bank}: HTTP {s}: {}",
            String::from_utf8_lossy(&b)
        );
        let v: Value = serde_json::from_slice(&b)?;
        let kinds: Vec<String> = v["signals"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                s["signal"]
                    .as_str()
                    .or(s["kind"].as_str())
                    .map(str::to_string)
            })
            .collect();
        r.say(format!(
            "  {name} added to {bank} (signals {}; the bytes are hashed and dropped)",
            kinds.join(", ")
        ));
    }
    let p = r.candor("PUT", "/v1/policies", &cur, Some(&policies()), 200)?;
    r.say(format!(
        "  policies published: {} (sampling: 100 % of unknown direct content, private surfaces named)",
        p["policies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["id"].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));

    r.say("== accounts and conversations on the relay");
    for (n, j) in [("alice", A), ("amir", A), ("bruno", B)] {
        r.relay(
            "POST",
            "/accounts",
            Some(&json!({"name": n, "jurisdiction": j})),
            201,
        )?;
        r.say(format!("  {n} registered in {j}"));
    }
    let conv = |r: &mut Run, kind: &str, m: &[&str]| -> Result<i64> {
        let v = r.relay(
            "POST",
            "/conversations",
            Some(&json!({"kind": kind, "members": m})),
            201,
        )?;
        v["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("no conversation id"))
    };
    let aa = conv(r, "direct", &["alice", "amir"])?;
    let ab = conv(r, "direct", &["alice", "bruno"])?;
    let group = conv(r, "group", &["alice", "amir", "bruno"])?;
    r.say(format!(
        "  direct alice–amir #{aa}, direct alice–bruno #{ab}, group alice+amir+bruno #{group}"
    ));

    r.say("== 1. an image in the bank, between two A accounts: delivered");
    let v = r.send(aa, "alice", "look at this", "aaa-orig.jpg", &known)?;
    ensure!(Run::action_for(&v, "amir") == "deliver", "step 1: {v}");
    let m = message_id(&v)?;
    ensure!(
        r.attachment_state("amir", m)? == "available",
        "step 1: amir's attachment"
    );
    ensure!(r.download("amir", m)? == 200, "step 1: amir downloads");
    ensure!(
        r.download("amir", m)? == 410,
        "step 1: the relay kept no copy"
    );
    r.say("    amir downloads it; the relay drops its copy (a second download: 410 Gone)");

    r.say("== 2. the same image and four copies, to a B account: withheld, notices to both sides");
    let mut copies = vec![("aaa-orig.jpg", known.clone())];
    copies.extend(variants(&known)?);
    for (name, bytes) in &copies {
        let v = r.send(ab, "alice", "for you", name, bytes)?;
        ensure!(
            Run::action_for(&v, "bruno") == "withhold",
            "step 2 {name}: {v}"
        );
        let d = Run::decision_for(&v, "bruno")?;
        let m = message_id(&v)?;
        ensure!(
            r.attachment_state("bruno", m)? == "withheld",
            "step 2 {name}: bruno's state"
        );
        ensure!(
            r.download("bruno", m)? == 403,
            "step 2 {name}: withheld is not downloadable"
        );
        let nb = r.notice_seen("bruno", "decision", &d)?;
        ensure!(
            nb["text"].as_str().unwrap_or("").contains("extremism-b")
                || nb["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Terrorist content (B)"),
            "step 2: the notice names the policy: {nb}"
        );
        ensure!(
            !nb["appeal"].as_str().unwrap_or("").is_empty(),
            "step 2: how to appeal: {nb}"
        );
        r.notice_seen("alice", "decision", &d)?;
    }

    r.say("== 3. an unknown image between A accounts: sampled, reviewed, added; the next send to B withheld");
    let v = r.send(aa, "alice", "my photo", "pen-and-coaster.png", &unknown)?;
    ensure!(Run::action_for(&v, "amir") == "deliver", "step 3: {v}");
    let item = v["review_item"]
        .as_str()
        .ok_or_else(|| anyhow!("step 3: not sampled: {v}"))?
        .to_string();
    let sampled = r.notice_seen("alice", "sampled", &item)?;
    let queue = r.candor("GET", "/v1/review?status=open", &stack.reviewer, None, 200)?;
    let listed = queue
        .as_array()
        .or(queue["items"].as_array())
        .into_iter()
        .flatten()
        .any(|i| i["id"] == item.as_str());
    ensure!(listed, "step 3: the item is in the review queue: {queue}");
    r.candor(
        "POST",
        &format!("/v1/review/{item}/confirm"),
        &stack.reviewer,
        Some(&json!({"add_to_bank": "extremism", "reason": "propaganda image of a listed group"})),
        200,
    )?;
    r.say(format!(
        "  rita (reviewer) confirms item {item} and adds it to extremism"
    ));
    let outcome = r.notice_seen("alice", "review_outcome", &item)?;
    let addition = r.notice_seen("alice", "bank_addition", &item)?;
    let v = r.send(ab, "alice", "again", "pen-and-coaster.png", &unknown)?;
    ensure!(
        Run::action_for(&v, "bruno") == "withhold",
        "step 3 next send: {v}"
    );
    let withheld3 = Run::decision_for(&v, "bruno")?;
    let m3 = message_id(&v)?;
    let dn = r.notice_seen("bruno", "decision", &withheld3)?;
    let idx = |n: &Value| n["log_index"].as_u64().unwrap_or(u64::MAX);
    r.r.step3_order = vec![idx(&sampled), idx(&outcome), idx(&addition), idx(&dn)];
    ensure!(
        r.r.step3_order.windows(2).all(|w| w[0] < w[1]),
        "step 3: log order sampled < review < addition < withholding: {:?}",
        r.r.step3_order
    );
    r.say(format!(
        "  log order: sampled #{}, review #{}, bank addition #{}, withholding #{}",
        r.r.step3_order[0], r.r.step3_order[1], r.r.step3_order[2], r.r.step3_order[3]
    ));

    r.say("== 4. surfaces follow their own policies; a PDF matched by MD5/SHA-256");
    let v = r.send(group, "alice", "group photo", "aaa-orig.jpg", &known)?;
    ensure!(
        Run::action_for(&v, "amir") == "deliver" && Run::action_for(&v, "bruno") == "withhold",
        "step 4 group image: {v}"
    );
    let v = r.send(group, "alice", "the file", "staff.pdf", &pdf)?;
    ensure!(
        Run::action_for(&v, "amir") == "deliver",
        "step 4 group pdf: {v}"
    );
    ensure!(
        Run::action_for(&v, "bruno") == "withhold",
        "step 4 group pdf: {v}"
    );
    let dg = Run::decision_for(&v, "bruno")?;
    let pg = r.candor(
        "GET",
        &format!("/v1/decisions/{dg}"),
        &stack.reviewer,
        None,
        200,
    )?;
    ensure!(
        pg["policy"] == "leaks-group-b"
            || pg["policy_id"] == "leaks-group-b"
            || pg.to_string().contains("leaks-group-b"),
        "step 4: group policy: {pg}"
    );
    let v = r.send(ab, "alice", "the file", "staff.pdf", &pdf)?;
    ensure!(
        Run::action_for(&v, "bruno") == "hold_for_review",
        "step 4 direct pdf: {v}"
    );
    let m = message_id(&v)?;
    ensure!(
        r.attachment_state("bruno", m)? == "held_for_review",
        "step 4: held"
    );
    let held = v["decisions"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|d| d["review_item"].as_str())
        .ok_or_else(|| anyhow!("step 4: no review item for the held file: {v}"))?
        .to_string();
    r.candor(
        "POST",
        &format!("/v1/review/{held}/reject"),
        &stack.reviewer,
        Some(&json!({"reason": "An internal memo, no personal data."})),
        200,
    )?;
    r.say(format!(
        "  rita reviews the held file ({held}) and lifts the hold"
    ));
    r.wait_for("bruno", "the release of the held file", |e| {
        e["type"] == "released" && e["message"] == m
    })?;
    ensure!(
        r.download("bruno", m)? == 200,
        "step 4: bruno downloads the released file"
    );
    r.say("    bruno is told, and the file is released to him and downloaded");

    r.say("== 5. bruno (B) appeals; ravi, who took no part, reverses; the attachment is delivered");
    let ap = r.relay(
        "POST",
        "/appeals",
        Some(&json!({"account": "bruno", "decision": withheld3, "reason": "It is a photo of my desk."})),
        201,
    )?;
    let aid = ap["id"]
        .as_str()
        .ok_or_else(|| anyhow!("no appeal id: {ap}"))?
        .to_string();
    r.say(format!(
        "  bruno appeals decision {withheld3} through the relay: appeal {aid}"
    ));
    // rita put the matched content in the bank: she took part and may not decide.
    r.candor(
        "POST",
        &format!("/v1/appeals/{aid}/decide"),
        &stack.reviewer,
        Some(&json!({"outcome": "reversed", "reason": "x", "retract_matched": true})),
        403,
    )?;
    let dec = r.candor(
        "POST",
        &format!("/v1/appeals/{aid}/decide"),
        &stack.reviewer2,
        Some(&json!({
            "outcome": "reversed",
            "reason": "An ordinary photo; the addition was a mistake.",
            "retract_matched": true
        })),
        200,
    )?;
    let retracted: Vec<String> = dec["retracted"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{}/{}",
                c["bank"].as_str().unwrap_or(""),
                c["content_id"].as_str().unwrap_or("")
            )
        })
        .collect();
    ensure!(
        retracted.len() == 1,
        "step 5: the reversal retracts the matched bank entry: {dec}"
    );
    r.say(format!(
        "  rita, who added the content to the bank, may not decide (403); ravi reverses it and retracts the bank entry {}",
        retracted[0]
    ));
    r.notice_seen("bruno", "outcome", &withheld3)?;
    r.wait_for("bruno", "the release of the attachment", |e| {
        e["type"] == "released" && e["message"] == m3
    })?;
    ensure!(
        r.download("bruno", m3)? == 200,
        "step 5: bruno downloads after the reversal"
    );
    r.say("    bruno's attachment is released and downloaded");
    r.notice_seen("alice", "bank_retraction", &item)?;
    let v = r.send(ab, "alice", "third time", "pen-and-coaster.png", &unknown)?;
    ensure!(
        Run::action_for(&v, "bruno") == "deliver",
        "step 5: after the retraction: {v}"
    );

    r.say("== 6. the log, the proofs, alice's data-access export");
    let key = String::from_utf8(
        r.h.send(
            "GET",
            &format!("{}/log/key", stack.candor_url),
            None,
            None,
            None,
        )?
        .1,
    )?;
    let key = key.trim().to_string();
    let out = Command::new(&stack.candor_bin)
        .args([
            "log",
            "verify",
            "--url",
            &format!("{}/log", stack.candor_url),
            "--key",
            &key,
        ])
        .output()?;
    ensure!(
        out.status.success(),
        "candor log verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let verified = String::from_utf8_lossy(&out.stdout).trim().to_string();
    r.say(format!(
        "  candor log verify: {}",
        verified.lines().next().unwrap_or("ok")
    ));
    let mut notices = Vec::new();
    for acc in ["alice", "amir", "bruno"] {
        r.wait_for(acc, "anything", |_| true).ok();
        for e in r.seen.get(acc).cloned().unwrap_or_default() {
            if e["type"] == "notice" {
                notices.push(e["notice"].clone());
            }
        }
    }
    let proof_file = stack.dir.path().join("notice.tlog-proof");
    for n in &notices {
        let id = n["id"].as_str().unwrap_or_default();
        let (s, proof) = r.h.send(
            "GET",
            &format!("{}/notices/{id}/proof", stack.relay_url),
            None,
            None,
            None,
        )?;
        ensure!(s == 200, "proof of notice {id}: HTTP {s}");
        std::fs::write(&proof_file, &proof)?;
        let out = Command::new(&stack.candor_bin)
            .args(["log", "verify-proof"])
            .arg(&proof_file)
            .args(["--key", &key])
            .output()?;
        ensure!(
            out.status.success(),
            "verify-proof of notice {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        r.r.proofs.push((n.clone(), String::from_utf8(proof)?));
        r.r.proofs_verified += 1;
    }
    r.say(format!(
        "  every notice's proof verifies offline ({} notices, candor log verify-proof)",
        r.r.proofs_verified
    ));
    let ex = r.relay("GET", "/accounts/alice/export", None, 200)?;
    for d in ex["decisions"].as_array().into_iter().flatten() {
        if let Some(id) = d["decision"]["id"].as_str() {
            r.r.exported_decisions.insert(id.to_string());
        }
    }
    let missing: Vec<_> =
        r.r.alice_decisions
            .difference(&r.r.exported_decisions)
            .collect();
    ensure!(
        missing.is_empty(),
        "alice's export lacks decisions {missing:?}"
    );
    r.say(format!(
        "  alice's data-access export lists all {} decisions about her attachments, {} review item(s), {} notices, {} appeal(s)",
        r.r.exported_decisions.len(),
        ex["review_items"].as_array().map(|a| a.len()).unwrap_or(0),
        ex["notices"].as_array().map(|a| a.len()).unwrap_or(0),
        ex["appeals"].as_array().map(|a| a.len()).unwrap_or(0),
    ));
    let cp = String::from_utf8(
        r.h.send(
            "GET",
            &format!("{}/log/checkpoint", stack.candor_url),
            None,
            None,
            None,
        )?
        .1,
    )?;
    r.r.log_size = cp
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| anyhow!("checkpoint without a size: {cp}"))?;
    r.say(format!("  the log holds {} entries", r.r.log_size));
    r.r.log_key = key;
    if r.r.alice_decisions.is_empty() {
        bail!("no decisions recorded");
    }
    Ok(run.r)
}
