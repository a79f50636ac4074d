//! What the service tests share: the binary, HTTP calls, a `candor serve` child process (on the
//! embedded SQLite store, or on a PostgreSQL database given by URL), tokens.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use candor_log::entry::{Entry, EntryBody};
use candor_log::tile::{parse_entry_bundle, Tile};

pub const BANK: &str = "tcap-hashes";
pub const SCAN_THREADS: usize = 4;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_candor")
}

pub fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../candor-policy/examples/policies.toml")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// xorshift seeded from the clock: a different kill moment on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn new() -> Rng {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(t | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn hash_hex(&mut self) -> String {
        (0..4).map(|_| format!("{:016x}", self.next())).collect()
    }
}

pub fn token(dir: &Path, role: &str) -> String {
    token_on(dir, None, role)
}

/// A token of `role` made by `candor token create`, on the database `db` when given.
pub fn token_on(dir: &Path, db: Option<&str>, role: &str) -> String {
    let mut cmd = Command::new(bin());
    cmd.args(["token", "create", "--role", role, "--data"])
        .arg(dir);
    if let Some(db) = db {
        cmd.args(["--database-url", db]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build(),
    )
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_on(dir, None)
    }

    /// `candor serve` on data directory `dir` and database `db` (the embedded one when `None`).
    pub fn start_on(dir: &Path, db: Option<&str>) -> Server {
        let port = free_port();
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir)
            .arg("--policies")
            .arg(policies())
            .env("CANDOR_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(db) = db {
            cmd.args(["--database-url", db]);
        }
        let child = cmd.spawn().unwrap();
        let mut s = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let a = agent();
        let deadline = Instant::now() + Duration::from_secs(20);
        // Ready, not only alive: `/healthz` answers while the index loads, and a lookup then
        // gets 503 `loading`.
        loop {
            if let Ok(r) = a.get(&format!("{}/readyz", s.base)).call() {
                if r.status().is_success() {
                    break;
                }
            }
            if let Some(st) = s.child.try_wait().unwrap() {
                panic!("candor serve exited at start: {st}");
            }
            assert!(Instant::now() < deadline, "candor serve did not come up");
            thread::sleep(Duration::from_millis(20));
        }
        s
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

/// A test that fails leaves no service running (it would hold the test's output open).
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (status, body) of a request; `Err` when the connection failed (server gone).
pub fn call(
    a: &ureq::Agent,
    method: &str,
    url: &str,
    tok: &str,
    ctype: &str,
    body: Option<&str>,
) -> Result<(u16, String), ureq::Error> {
    let auth = format!("Bearer {tok}");
    let mut resp = match (method, body) {
        ("GET", _) => a.get(url).header("Authorization", &auth).call()?,
        (_, b) => a
            .post(url)
            .header("Authorization", &auth)
            .header("Content-Type", ctype)
            .send(b.unwrap_or(""))?,
    };
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()?;
    Ok((status, text))
}

pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[derive(Default)]
pub struct Acked {
    /// decision id -> log index.
    pub decisions: HashMap<String, u64>,
    /// Lines imported with a 200 answer, and their log indexes.
    pub imported: u64,
    pub import_indexes: Vec<(u64, u64)>,
}

/// Scan and import until `stop`; record what was acknowledged. A failed request before `stop`
/// (the kill) is a bug; after it, expected.
pub fn load(
    base: &str,
    platform: &str,
    curator: &str,
    hashes: &[String],
    acked: &Arc<Mutex<Acked>>,
    stop: &Arc<AtomicBool>,
    round: usize,
) -> Vec<thread::JoinHandle<u64>> {
    let mut handles = Vec::new();
    for t in 0..SCAN_THREADS {
        let (base, tok, acked, stop) = (
            base.to_string(),
            platform.to_string(),
            acked.clone(),
            stop.clone(),
        );
        let hashes = hashes.to_vec();
        handles.push(thread::spawn(move || {
            let a = agent();
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let body = serde_json::json!({
                    "context": {
                        "surface": "direct",
                        "content_id": format!("post-{round}-{t}-{n}"),
                        "content_type": "CONTENT_TYPE_IMAGE",
                        "sender": {"account": format!("sender-{t}"), "jurisdiction": "FR"},
                        "recipients": [
                            {"account": "r-de", "jurisdiction": "DE"},
                            {"account": "r-us", "jurisdiction": "US"}
                        ]
                    },
                    "signals": {"pdq": hashes[n as usize % hashes.len()]}
                })
                .to_string();
                match call(
                    &a,
                    "POST",
                    &format!("{base}/v1/scan"),
                    &tok,
                    "application/json",
                    Some(&body),
                ) {
                    Ok((200, text)) => {
                        let v = json(&text);
                        let ds = v["decisions"].as_array().unwrap();
                        assert_eq!(ds.len(), 2, "DE withhold + US hold_for_review: {text}");
                        let mut g = acked.lock().unwrap();
                        for d in ds {
                            let id = d["id"].as_str().unwrap().to_string();
                            let idx = d["log_index"].as_u64().unwrap();
                            assert!(g.decisions.insert(id, idx).is_none());
                        }
                        n += 1;
                    }
                    Ok((s, text)) => {
                        assert!(stop.load(Ordering::SeqCst), "scan: HTTP {s}: {text}");
                        break;
                    }
                    Err(e) => {
                        assert!(
                            stop.load(Ordering::SeqCst),
                            "scan failed before the kill: {e}"
                        );
                        break;
                    }
                }
            }
            n
        }));
    }
    let (base, tok, acked, stop) = (
        base.to_string(),
        curator.to_string(),
        acked.clone(),
        stop.clone(),
    );
    handles.push(thread::spawn(move || {
        let a = agent();
        let mut rng = Rng::new();
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            let lines = 1 + rng.below(40);
            let body: String = (0..lines).map(|_| rng.hash_hex() + "\n").collect();
            match call(
                &a,
                "POST",
                &format!("{base}/v1/banks/{BANK}/import"),
                &tok,
                "text/plain",
                Some(&body),
            ) {
                Ok((200, text)) => {
                    let v = json(&text);
                    assert_eq!(v["imported"].as_u64(), Some(lines), "{text}");
                    let mut g = acked.lock().unwrap();
                    g.imported += lines;
                    g.import_indexes.push((
                        v["first_log_index"].as_u64().unwrap(),
                        v["last_log_index"].as_u64().unwrap(),
                    ));
                    n += 1;
                }
                Ok((s, text)) => {
                    assert!(stop.load(Ordering::SeqCst), "import: HTTP {s}: {text}");
                    break;
                }
                Err(e) => {
                    assert!(
                        stop.load(Ordering::SeqCst),
                        "import failed before the kill: {e}"
                    );
                    break;
                }
            }
        }
        n
    }));
    handles
}

/// `candor log verify` of `s`'s published log with `key`: it must pass.
pub fn verify_log(s: &Server, key: &str) {
    let out = Command::new(bin())
        .args([
            "log",
            "verify",
            "--url",
            &format!("{}/log", s.base),
            "--key",
            key,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "candor log verify failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything acknowledged so far is durable and the log verifies.
pub fn check(s: &Server, key: &str, auditor: &str, curator: &str, acked: &Acked, initial: u64) {
    let a = agent();
    // The key is the same one.
    let (st, k) = call(&a, "GET", &format!("{}/log/key", s.base), auditor, "", None).unwrap();
    assert_eq!(st, 200);
    assert_eq!(k.trim(), key);

    verify_log(s, key);

    let (_, cp) = call(
        &a,
        "GET",
        &format!("{}/log/checkpoint", s.base),
        auditor,
        "",
        None,
    )
    .unwrap();
    let size: u64 = cp.lines().nth(1).unwrap().parse().unwrap();
    let (_, numbers) = call(
        &a,
        "GET",
        &format!("{}/log/numbers", s.base),
        auditor,
        "",
        None,
    )
    .unwrap();
    let numbers = json(&numbers);
    assert_eq!(numbers["tree_size"].as_u64(), Some(size));
    assert!(numbers["decisions"]["total"].as_u64().unwrap() >= acked.decisions.len() as u64);

    // Every acknowledged decision: its row, and its entry at its index.
    let mut bundles: HashMap<u64, Vec<Vec<u8>>> = HashMap::new();
    for (id, &idx) in &acked.decisions {
        assert!(idx < size, "decision {id} at {idx} beyond the log ({size})");
        let (st, text) = call(
            &a,
            "GET",
            &format!("{}/v1/decisions/{id}", s.base),
            auditor,
            "",
            None,
        )
        .unwrap();
        assert_eq!(st, 200, "acknowledged decision {id} lost: {text}");
        let v = json(&text);
        assert_eq!(v["log_index"].as_u64(), Some(idx), "{text}");
        let n = idx / 256;
        let bundle = bundles.entry(n).or_insert_with(|| {
            let width = (size - n * 256).min(256) as u16;
            let tile = Tile::new(0, n, width).unwrap();
            let url = format!("{}/log/{}", s.base, tile.entries_path());
            let mut r = a.get(&url).call().unwrap();
            assert_eq!(r.status().as_u16(), 200, "{url}");
            let mut buf = Vec::new();
            r.body_mut().as_reader().read_to_end(&mut buf).unwrap();
            let es = parse_entry_bundle(&buf).unwrap();
            assert_eq!(es.len(), width as usize);
            es.into_iter().map(<[u8]>::to_vec).collect()
        });
        let e = Entry::decode(&bundle[(idx % 256) as usize]).unwrap();
        match e.body {
            EntryBody::Decision(d) => assert_eq!(&d.decision, id, "entry {idx}"),
            other => panic!("entry {idx} is not decision {id}: {other:?}"),
        }
    }
    for &(first, last) in &acked.import_indexes {
        assert!(first <= last && last < size);
    }
    // Every acknowledged import line is bank content.
    let (st, text) = call(
        &a,
        "GET",
        &format!("{}/v1/banks/{BANK}", s.base),
        curator,
        "",
        None,
    )
    .unwrap();
    assert_eq!(st, 200, "{text}");
    let count = json(&text)["content_count"].as_u64().unwrap();
    assert!(
        count >= initial + acked.imported,
        "bank holds {count}, acknowledged {}",
        initial + acked.imported
    );
}
