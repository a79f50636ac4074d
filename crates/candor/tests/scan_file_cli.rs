//! `candor scan-file` against a live `candor serve`: the contract matrix-content-scanner's
//! `scan.script` relies on. Called with the file's path as its only argument (everything else
//! from `CANDOR_*` variables): exit 0 clean, 1 not clean with the reason on stderr, 2 when the
//! file could not be checked (bad token, service down, unreadable file, missing settings).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_candor")
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
}

const BANKED: &str = "testdata/pdq/images/reference/bridge-mods/aaa-orig.jpg";
const UNKNOWN: &str = "testdata/pdq/images/reference/misc-images/wee.jpg";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    )
}

struct Server {
    child: Child,
    base: String,
    platform: String,
    curator: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(dir: &Path, role: &str) -> String {
    let out = Command::new(bin())
        .args(["token", "create", "--role", role, "--data"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn send(
    a: &ureq::Agent,
    method: &str,
    url: &str,
    tok: &str,
    ctype: &str,
    body: &[u8],
) -> (u16, Value) {
    let req = if method == "PUT" {
        a.put(url)
    } else {
        a.post(url)
    };
    let mut r = req
        .header("Authorization", &format!("Bearer {tok}"))
        .header("Content-Type", ctype)
        .send(body)
        .unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path())
        .env("CANDOR_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let a = agent();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !a
        .get(&format!("{base}/healthz"))
        .call()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "candor serve did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = Server {
        child,
        platform: token(dir.path(), "platform"),
        curator: token(dir.path(), "curator"),
        base,
        _dir: dir,
    };
    // The README's example policies, a bank, a banked image: over the API.
    let policies = std::fs::read(repo("crates/candor-policy/examples/policies.toml")).unwrap();
    let (st, v) = send(
        &a,
        "PUT",
        &format!("{}/v1/policies", s.base),
        &s.curator,
        "application/toml",
        &policies,
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = send(
        &a,
        "POST",
        &format!("{}/v1/banks", s.base),
        &s.curator,
        "application/json",
        br#"{"name":"tcap-hashes","category":"STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY","provenance":"imported","list_name":"test"}"#,
    );
    assert!(st == 200 || st == 201, "{st} {v}");
    let (st, v) = send(
        &a,
        "POST",
        &format!("{}/v1/banks/tcap-hashes/content", s.base),
        &s.curator,
        "application/octet-stream",
        &std::fs::read(repo(BANKED)).unwrap(),
    );
    assert!(st == 200 || st == 201, "{st} {v}");
    s
}

/// `candor scan-file PATH` with only the environment configuring it, as the scanner runs it.
fn scan(s: &Server, path: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.arg("scan-file").arg(path);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CANDOR_")) {
        c.env_remove(k);
    }
    c.env("CANDOR_SERVER", &s.base)
        .env("CANDOR_TOKEN", &s.platform)
        .env("CANDOR_JURISDICTION", "DE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn scan_file_contract() {
    let s = start();
    let a = agent();

    // Unknown image: clean, exit 0, nothing on stderr.
    let o = scan(&s, &repo(UNKNOWN), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = stdout_json(&o);
    assert_eq!(v["clean"], true);
    assert_eq!(v["actions"][0], "DE:deliver");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));

    // The content id defaults to the file's SHA-256 (what `candor hash` prints).
    let h = Command::new(bin())
        .arg("hash")
        .arg(repo(UNKNOWN))
        .output()
        .unwrap();
    let line: Value =
        serde_json::from_str(String::from_utf8_lossy(&h.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(
        v["content_id"],
        format!("sha256-{}", line["sha256"].as_str().unwrap())
    );

    // Banked image, sender and audience in DE: withheld, exit 1, the reason on stderr names
    // the decision, which Candor has (with its statement and log entry).
    let o = scan(&s, &repo(BANKED), &[("CANDOR_CONTENT_ID", "media-1")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = stdout_json(&o);
    assert_eq!(v["clean"], false);
    let id = v["decisions"][0]["id"].as_str().unwrap().to_string();
    let err = stderr(&o);
    assert!(
        err.starts_with("candor: not clean: withhold by policy terrorist-content-eu (decision ")
            && err.contains(&id)
            && err.contains("STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"),
        "{err}"
    );
    let mut r = a
        .get(&format!("{}/v1/decisions/{id}", s.base))
        .header("Authorization", &format!("Bearer {}", s.platform))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let d: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(d["statement"]["puid"], "media-1");
    assert!(d["log_index"].as_u64().is_some(), "{d}");

    // Flags win over the environment: a US audience is held for review (also not clean).
    let o = scan(
        &s,
        &repo(BANKED),
        &[("CANDOR_AUDIENCE", "DE,US"), ("CANDOR_SURFACE", "public")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = stdout_json(&o);
    let actions: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(actions, ["DE:withhold", "US:hold_for_review"]);
    let mut c = Command::new(bin());
    c.args(["scan-file", "--jurisdiction", "US", "--server", &s.base])
        .arg(repo(BANKED))
        .env("CANDOR_TOKEN", &s.platform)
        .env("CANDOR_JURISDICTION", "DE")
        .env("CANDOR_SERVER", "http://127.0.0.1:9");
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("hold_for_review by policy terrorist-content-review"));

    // Could not check: exit 2, a reason, never 0.
    let o = scan(
        &s,
        &repo(UNKNOWN),
        &[("CANDOR_TOKEN", "candor_not-a-token")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("HTTP 401"), "{}", stderr(&o));
    let o = scan(&s, &repo("testdata/no-such-file.jpg"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot open"), "{}", stderr(&o));
    let o = scan(&s, &repo(UNKNOWN), &[("CANDOR_JURISDICTION", "Germany")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid_context"), "{}", stderr(&o));
    let mut c = Command::new(bin());
    c.arg("scan-file")
        .arg(repo(UNKNOWN))
        .env_remove("CANDOR_JURISDICTION")
        .env("CANDOR_TOKEN", &s.platform)
        .env("CANDOR_SERVER", &s.base);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--jurisdiction"), "{}", stderr(&o));
    drop(s);
    let o = {
        let mut c = Command::new(bin());
        c.arg("scan-file")
            .arg(repo(UNKNOWN))
            .env("CANDOR_TOKEN", "t")
            .env("CANDOR_JURISDICTION", "DE")
            .env("CANDOR_SERVER", format!("http://127.0.0.1:{}", free_port()));
        c.output().unwrap()
    };
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("candor: error: POST"), "{}", stderr(&o));
}
