//! Shared harness for the service's integration tests: a real server on a loopback port over a
//! fresh data directory, a blocking HTTP client (ureq), tokens for every role, and helpers for
//! hashes, images and the transparency log.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use candor_server::auth::Role;
use candor_server::{App, AppState, Config};
use serde_json::{json, Value};

/// The test data in the repository (`testdata/`, copied from the PDQ reference material).
pub fn testdata() -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata"));
    assert!(
        p.join("pdq").is_dir(),
        "test data not found at {}",
        p.display()
    );
    p
}

pub fn image_bytes(rel: &str) -> Vec<u8> {
    let p = testdata().join("pdq/images").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub const EXIF8: &str = "reference/reg-test-input/exif-rotn/exif-rotn-8.jpg";
pub const BRIDGE: &str = "reference/reg-test-input/dih/bridge-1-original.jpg";
pub const SYNTH_PNG: &str = "synthetic/synth-7-300x200.png";
pub const SMALL_PNG: &str = "synthetic/synth-7-128x128.png";

fn hash_lines(name: &str) -> Vec<String> {
    let p = testdata().join("pdq").join(name);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| l.len() == 64)
        .collect()
}

pub fn needles() -> Vec<String> {
    hash_lines("needles.txt")
}

pub fn haystack() -> Vec<String> {
    hash_lines("haystack.txt")
}

/// `hex` with its first `n` bits flipped (Hamming distance exactly `n`).
pub fn flip_bits(hex_str: &str, n: usize) -> String {
    let mut b = hex::decode(hex_str).expect("hex");
    for i in 0..n {
        b[i / 8] ^= 1 << (i % 8);
    }
    hex::encode(b)
}

pub fn distance(a: &str, b: &str) -> u32 {
    let a = hex::decode(a).unwrap();
    let b = hex::decode(b).unwrap();
    a.iter().zip(&b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// The test policy set: a block policy judged on the sender's jurisdiction (FR), a withhold in
/// DE/FR and a hold for review elsewhere for the same bank, and sampling of all unknown content
/// on public surfaces.
pub const POLICIES: &str = r#"
[sampling]
rate = 1.0
surfaces = ["public"]

[[policy]]
id = "csam-block"
name = "Known child sexual abuse material"
banks = ["csam"]
action = "block"
jurisdictions = ["FR"]
decision_ground = "DECISION_GROUND_ILLEGAL_CONTENT"
legal_ground = "Directive 2011/93/EU, Article 5"
explanation = "The content matches verified child sexual abuse material."

[[policy]]
id = "terror-eu"
name = "Known terrorist content (EU)"
banks = ["terror"]
action = "withhold"
jurisdictions = ["DE", "FR"]
decision_ground = "DECISION_GROUND_ILLEGAL_CONTENT"
legal_ground = "Regulation (EU) 2021/784, Article 2(7)"
explanation = "The content matches known terrorist content."

[[policy]]
id = "terror-review"
name = "Known terrorist content (review)"
banks = ["terror"]
action = "hold_for_review"
decision_ground = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
legal_ground = "Terms of Service, section 4.2"
explanation = "The content closely matches known terrorist content. A person will review it."
"#;

pub const CAT_TERROR: &str = "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY";
pub const CAT_CSAM: &str = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS";

pub struct Tokens {
    pub admin: String,
    pub curator: String,
    pub reviewer: String,
    pub reviewer2: String,
    pub platform: String,
    pub auditor: String,
}

/// An HTTP answer.
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    /// The `Connection` header, if any.
    pub connection: String,
    /// The `Retry-After` header, if any.
    pub retry_after: String,
    /// Every header, names lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The header `name` (lowercase), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): HTTP {} {}: {}",
                self.status,
                self.content_type,
                self.text()
            )
        })
    }
    /// Assert the status, then return self.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }
    /// Assert an HMA-shaped error: status, JSON exactly `{"message": "..."}` with `part` in
    /// the message.
    #[track_caller]
    pub fn expect_message(self, status: u16, part: &str) -> Resp {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        let v = self.json();
        let m = v
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("message"))
            .and_then(|m| m.as_str())
            .unwrap_or_else(|| panic!("not an HMA error body: {v}"));
        assert!(
            !m.is_empty() && m.contains(part),
            "message {m:?} does not say {part:?}"
        );
        self
    }
    /// Assert an API error: status, JSON `{"error": {"code", "message"}}`.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Resp {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "unexpected error: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error without a message: {v}"
        );
        self
    }
}

/// A running service over a temporary data directory.
pub struct TestServer {
    rt: Option<tokio::runtime::Runtime>,
    app: Option<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub base: String,
    agent: ureq::Agent,
    pub config: Config,
    pub tokens: Tokens,
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        // No connection reuse: after an early 413 the server closes the connection, and a
        // pooled one would fail the next request at random.
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build();
    ureq::Agent::new_with_config(config)
}

impl TestServer {
    /// A server with the test policies.
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    /// A server with the test policies and a config adjusted by `f`.
    pub fn start_with(f: impl FnOnce(&mut Config)) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let policies = tmp.path().join("policies.toml");
        std::fs::write(&policies, POLICIES).unwrap();
        let mut config = Config {
            data: data.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            policies: Some(policies),
            ..Config::default()
        };
        f(&mut config);
        let mut s = TestServer {
            rt: None,
            app: None,
            shutdown: None,
            task: None,
            base: String::new(),
            agent: agent(),
            config,
            tokens: Tokens {
                admin: String::new(),
                curator: String::new(),
                reviewer: String::new(),
                reviewer2: String::new(),
                platform: String::new(),
                auditor: String::new(),
            },
            dir: data,
            _tmp: tmp,
        };
        s.launch();
        // Tokens created straight in the store while the service runs (as `candor token
        // create` does): the service must accept them.
        let mk = |s: &TestServer, role, name: &str| {
            s.block_on(candor_server::routes::tokens::create_token(
                &s.app().store,
                role,
                name,
            ))
            .expect("create token")
            .token
            .expect("secret")
        };
        s.tokens = Tokens {
            admin: mk(&s, Role::Admin, "admin"),
            curator: mk(&s, Role::Curator, "curator"),
            reviewer: mk(&s, Role::Reviewer, "rev1"),
            reviewer2: mk(&s, Role::Reviewer, "rev2"),
            platform: mk(&s, Role::Platform, "platform"),
            auditor: mk(&s, Role::Auditor, "auditor"),
        };
        s
    }

    pub fn launch(&mut self) {
        if let Some(loading) = self.launch_deferred() {
            self.block_on(loading.finish())
                .expect("loading the match index");
        }
    }

    /// Open the data directory and listen, but leave the match index to load: the caller
    /// finishes the returned [`candor_server::Loading`] (health answers, readiness says 503
    /// until then).
    pub fn launch_deferred(&mut self) -> Option<candor_server::Loading> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let config = self.config.clone();
        let (app, loading, listener) = rt.block_on(async move {
            let (app, loading) = App::open_deferred(config).await.expect("App::open");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            (app, loading, listener)
        });
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = app.router();
        // The production accept loop, with its slow-client bounds from the config.
        let limits = candor_server::conn::Limits {
            header_read: Duration::from_secs(self.config.header_read_timeout_secs),
            idle: Duration::from_secs(self.config.idle_timeout_secs),
            max_connections: self.config.max_connections,
        };
        let task = rt.spawn(async move {
            candor_server::conn::run(listener, router, limits, async move {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        self.base = format!("http://{addr}");
        self.agent = agent();
        self.app = Some(app);
        self.shutdown = Some(tx);
        self.task = Some(task);
        self.rt = Some(rt);
        Some(loading)
    }

    /// Stop the service (graceful shutdown, store closed, runtime dropped).
    pub fn stop(&mut self) {
        let Some(rt) = self.rt.take() else { return };
        // Drop pooled keep-alive connections so the graceful shutdown does not wait on them.
        self.agent = agent();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let task = self.task.take();
        let app = self.app.take();
        rt.block_on(async move {
            if let Some(t) = task {
                let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
            }
            if let Some(app) = app {
                if let Ok(app) = Arc::try_unwrap(app) {
                    app.store.close().await;
                }
            }
        });
        rt.shutdown_timeout(Duration::from_secs(5));
    }

    /// Stop, then open the same data directory again (new port).
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    pub fn app(&self) -> &AppState {
        self.app.as_ref().expect("running")
    }

    /// The service's runtime (to spawn on it while the test thread does something else).
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.rt.as_ref().expect("running").handle().clone()
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("running").block_on(f)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    // ---- HTTP ----

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Resp {
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        if !token.is_empty() {
            b = b.header("Authorization", format!("Bearer {token}"));
        }
        let result = match body {
            Some((ct, bytes)) => {
                let req = b.header("Content-Type", ct).body(bytes).unwrap();
                self.agent.run(req)
            }
            None => self.agent.run(b.body(()).unwrap()),
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let connection = resp
            .headers()
            .get("connection")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap_or_else(|e| panic!("{method} {path}: reading body: {e}"));
        Resp {
            status,
            content_type,
            connection,
            retry_after,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Resp {
        self.request("GET", path, token, None)
    }
    pub fn delete(&self, path: &str, token: &str) -> Resp {
        self.request("DELETE", path, token, None)
    }
    pub fn post(&self, path: &str, token: &str, v: &Value) -> Resp {
        self.request(
            "POST",
            path,
            token,
            Some(("application/json", v.to_string().into_bytes())),
        )
    }
    pub fn put(&self, path: &str, token: &str, v: &Value) -> Resp {
        self.request(
            "PUT",
            path,
            token,
            Some(("application/json", v.to_string().into_bytes())),
        )
    }
    pub fn patch(&self, path: &str, token: &str, v: &Value) -> Resp {
        self.request(
            "PATCH",
            path,
            token,
            Some(("application/json", v.to_string().into_bytes())),
        )
    }
    pub fn post_raw(&self, path: &str, token: &str, content_type: &str, bytes: Vec<u8>) -> Resp {
        self.request("POST", path, token, Some((content_type, bytes)))
    }
    /// multipart/form-data: `(name, filename, bytes)` parts.
    pub fn post_multipart(
        &self,
        path: &str,
        token: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Resp {
        let boundary = "candor-test-boundary-7f3a9c";
        let mut body = Vec::new();
        for (name, filename, bytes) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.post_raw(
            path,
            token,
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
    }

    // ---- domain helpers ----

    pub fn create_bank(&self, name: &str, category: &str, threshold: u32) -> Value {
        self.post(
            "/v1/banks",
            &self.tokens.curator,
            &json!({"name": name, "category": category, "pdq_threshold": threshold}),
        )
        .expect(201)
        .json()
    }

    /// Add one PDQ hash to `bank`; returns the content id.
    pub fn add_pdq(&self, bank: &str, pdq: &str) -> String {
        let v = self
            .post(
                &format!("/v1/banks/{bank}/content"),
                &self.tokens.curator,
                &json!({"pdq": pdq}),
            )
            .expect(201)
            .json();
        v["id"].as_str().expect("content id").to_string()
    }

    /// Matches of a GET lookup by PDQ.
    pub fn lookup_pdq(&self, pdq: &str) -> Vec<Value> {
        let v = self
            .get(&format!("/v1/lookup?pdq={pdq}"), &self.tokens.platform)
            .expect(200)
            .json();
        v["matches"].as_array().expect("matches").clone()
    }

    pub fn scan(&self, body: &Value) -> Resp {
        self.post("/v1/scan", &self.tokens.platform, body)
    }

    pub fn numbers(&self) -> Value {
        self.get("/v1/numbers", "").expect(200).json()
    }

    pub fn verifier(&self) -> candor_log::Verifier {
        let key = self.get("/log/key", "").expect(200).text();
        candor_log::Verifier::parse(key.trim()).expect("verifier key")
    }

    /// The current checkpoint, verified with the served key.
    pub fn checkpoint(&self) -> candor_log::checkpoint::Checkpoint {
        let note = self.get("/log/checkpoint", "").expect(200).body;
        candor_log::checkpoint::Checkpoint::open(&note, &self.verifier()).expect("checkpoint")
    }

    pub fn log_size(&self) -> u64 {
        self.checkpoint().size
    }

    /// Every log entry, fetched over HTTP from the entry bundles.
    pub fn log_entries(&self) -> Vec<candor_log::entry::Entry> {
        let size = self.log_size();
        let mut out = Vec::new();
        let mut n = 0u64;
        while n * 256 < size {
            let w = (size - n * 256).min(256);
            let path = if w == 256 {
                format!("/log/tile/entries/{}", candor_log::tile::encode_index(n))
            } else {
                format!(
                    "/log/tile/entries/{}.p/{w}",
                    candor_log::tile::encode_index(n)
                )
            };
            let bytes = self.get(&path, "").expect(200).body;
            for e in candor_log::tile::parse_entry_bundle(&bytes).expect("bundle") {
                out.push(candor_log::entry::Entry::decode(e).expect("entry"));
            }
            n += 1;
        }
        assert_eq!(out.len() as u64, size);
        out
    }

    /// The log, verified end to end over HTTP (`candor log verify`'s checks).
    pub fn verify_log(&self, since: Option<&[u8]>) -> candor_log::verify::Report {
        let fetch = HttpFetch {
            agent: agent(),
            base: self.url("/log"),
        };
        candor_log::verify::verify_log(&fetch, &self.verifier(), since).expect("log verifies")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct HttpFetch {
    agent: ureq::Agent,
    base: String,
}

impl candor_log::verify::Fetch for HttpFetch {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, candor_log::LogError> {
        let url = format!("{}/{path}", self.base);
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| candor_log::LogError::Storage(e.to_string()))?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
        Ok(Some(resp.body_mut().read_to_vec().map_err(|e| {
            candor_log::LogError::Storage(e.to_string())
        })?))
    }
}

/// A scan context.
pub fn context(
    content_id: &str,
    surface: &str,
    sender: (&str, &str),
    recipients: &[(&str, &str)],
) -> Value {
    json!({
        "surface": surface,
        "content_id": content_id,
        "content_type": "CONTENT_TYPE_IMAGE",
        "sender": {"account": sender.0, "jurisdiction": sender.1},
        "recipients": recipients.iter().map(|(a, j)| json!({"account": a, "jurisdiction": j})).collect::<Vec<_>>(),
    })
}

/// The action given to `account` in a scan answer.
pub fn action_of(scan: &Value, account: &str) -> String {
    scan["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["account"] == account)
        .unwrap_or_else(|| panic!("no recipient {account} in {scan}"))["action"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// `bytes` rotated 90° and encoded as PNG.
pub fn rotate90_png(bytes: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(bytes).expect("decode");
    let rot = img.rotate90().to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    rot.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}
