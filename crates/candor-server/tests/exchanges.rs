//! Exchanges: a bank kept in sync with a hash-sharing source, page by page, resumable.
//!
//! There is no internet here: each client is tested against a local stand-in (axum on
//! loopback) that speaks its source's documented API — StopNCII `FetchHashes`, NCMEC
//! `/v2/entries`, TCAP `token-auth` + `hash-list/v2/all`, ThreatExchange `threat_updates` —
//! checks the credentials the way the source does, and serves the pages in
//! `testdata/exchanges/` (additions, re-sent records, deletions, unknown signal types,
//! malformed records). The stand-in can fail the second page (HTTP 500) to show that a failed
//! sync keeps the first page and its checkpoint, and the next one resumes without duplicates or
//! loss. Every tracing line of this test binary is captured to check no credential reaches it.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use candor_server::exchange::{ExchangeConfig, Secret};
use candor_server::flows::exchanges;
use common::*;
use serde_json::json;

const P1: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
const P7: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const MD5_D41: &str = "d41d8cd98f00b204e9800998ecf8427e";

const STOPNCII_FK: &str = "fk-s3cret-function-key";
const STOPNCII_SUB: &str = "sub-s3cret-subscription";
const NCMEC_USER: &str = "esp-user";
const NCMEC_PASS: &str = "ncmec-s3cret-pass";
const TCAP_USER: &str = "tat-user";
const TCAP_PASS: &str = "tcap-s3cret-pass";
const TCAP_JWT: &str = "tcap-jwt-s3cret";
const TE_TOKEN: &str = "1234|te-s3cret-token";
const SECRETS: &[&str] = &[
    STOPNCII_FK,
    STOPNCII_SUB,
    NCMEC_PASS,
    TCAP_PASS,
    TCAP_JWT,
    "te-s3cret-token",
];

// ---------- captured tracing ----------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn traces() -> &'static Captured {
    static T: OnceLock<Captured> = OnceLock::new();
    T.get_or_init(|| {
        let c = Captured::default();
        let w = c.clone();
        // Everything at trace level, with the caps `candor`'s subscriber adds.
        let mut filter = tracing_subscriber::EnvFilter::new("trace");
        for d in candor_server::exchange::WIRE_LOG_CAPS {
            filter = filter.add_directive(d.parse().unwrap());
        }
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || w.clone())
            .try_init();
        c
    })
}

fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} holds the secret {s:?}: {text}");
    }
}

// ---------- the stand-in sources ----------

#[derive(Default)]
struct Stand {
    /// Answer the second page with HTTP 500.
    fail_second: AtomicBool,
    requests: AtomicUsize,
}

type Shared = Arc<Stand>;

fn page(name: &str) -> String {
    std::fs::read_to_string(testdata().join("exchanges").join(name)).unwrap()
}

fn json_page(name: &str) -> Response {
    ([("content-type", "application/json")], page(name)).into_response()
}

fn second(s: &Stand, name: &str) -> Response {
    if s.fail_second.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "upstream timeout").into_response();
    }
    if name.ends_with(".xml") {
        return ([("content-type", "application/xml")], page(name)).into_response();
    }
    json_page(name)
}

async fn stopncii(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
    if h("x-functions-key") != STOPNCII_FK || h("ocp-apim-subscription-key") != STOPNCII_SUB {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"statusCode": 401, "message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."})),
        )
            .into_response();
    }
    let start: i64 = q
        .get("startTimestamp")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    match q.get("nextPageToken").map(String::as_str) {
        Some("cGFnZS0y") => second(&s, "stopncii-2.json"),
        Some(_) => (StatusCode::BAD_REQUEST, "bad page token").into_response(),
        None if start >= 1625180000 => axum::Json(json!({"count": 0, "nextPageToken": null, "nextSetTimestamp": start, "hasMoreRecords": false, "hashRecords": []})).into_response(),
        None => json_page("stopncii-1.json"),
    }
}

async fn ncmec(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    use base64::Engine;
    s.requests.fetch_add(1, Ordering::SeqCst);
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{NCMEC_USER}:{NCMEC_PASS}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            "<html><body>401 Unauthorized</body></html>",
        )
            .into_response();
    }
    if q.get("start").map(String::as_str) == Some("2001") {
        return second(&s, "ncmec-2.xml");
    }
    if q.get("from").map(String::as_str) != Some("1970-01-01T00:00:00Z") {
        // A later range: nothing new.
        return (
            [("content-type", "application/xml")],
            "<?xml version=\"1.0\"?><queryResult xmlns=\"https://hashsharing.ncmec.org/hashsharing/v2\"><images count=\"0\"/><videos count=\"0\"/></queryResult>",
        )
            .into_response();
    }
    assert!(q.contains_key("to"), "NCMEC needs a time range");
    ([("content-type", "application/xml")], page("ncmec-1.xml")).into_response()
}

async fn tcap_auth(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    if f.get("username").map(String::as_str) == Some(TCAP_USER)
        && f.get("password").map(String::as_str) == Some(TCAP_PASS)
    {
        return axum::Json(json!({"user": {"username": TCAP_USER}, "token": TCAP_JWT}))
            .into_response();
    }
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"non_field_errors": ["Unable to log in with provided credentials."]})),
    )
        .into_response()
}

async fn tcap_list(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(format!("Bearer {TCAP_JWT}").as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"detail": "Given token not valid for any token type"})),
        )
            .into_response();
    }
    assert_eq!(q.get("order").map(String::as_str), Some("asc"));
    match q.get("after").map(String::as_str).unwrap_or("") {
        "" => json_page("tcap-1.json"),
        "1724856483.3,10593" => second(&s, "tcap-2.json"),
        c => axum::Json(
            json!({"count": 0, "next": null, "previous": null, "checkpoint": c, "results": []}),
        )
        .into_response(),
    }
}

async fn threat_updates(
    State(s): State<Shared>,
    axum::extract::Path(group): axum::extract::Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    if q.get("access_token").map(String::as_str) != Some(TE_TOKEN) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"message": "Invalid OAuth access token - Cannot parse access token", "type": "OAuthException", "code": 190, "fbtrace_id": "AbCdEf"}})),
        )
            .into_response();
    }
    assert_eq!(group, "303636684709969");
    let start: i64 = q
        .get("start_time")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    match q.get("after").map(String::as_str) {
        Some("QVFIUk1hZA") => second(&s, "threatexchange-2.json"),
        Some(_) => (StatusCode::BAD_REQUEST, "bad cursor").into_response(),
        None if start >= 1625000007 => {
            axum::Json(json!({"data": [], "paging": {}})).into_response()
        }
        None => json_page("threatexchange-1.json"),
    }
}

/// The stand-in on loopback: its base URL and state.
fn stand_in() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let st = shared.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/stopncii/FetchHashes", get(stopncii))
                .route("/ncmec/v2/entries", get(ncmec))
                .route("/tcap/token-auth/tcap/", post(tcap_auth))
                .route("/tcap/api/hash-list/v2/all", get(tcap_list))
                .route("/te/{group}/threat_updates/", get(threat_updates))
                .with_state(st);
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}"), shared)
}

// ---------- helpers ----------

fn exchange(kind: &str, base: &str, creds: &[(&str, &str)]) -> ExchangeConfig {
    let path = match kind {
        "stopncii" => "/stopncii",
        "ncmec" => "/ncmec",
        "tcap" => "/tcap",
        "threatexchange" => "/te",
        _ => "",
    };
    ExchangeConfig {
        name: format!("{kind}-x"),
        kind: kind.into(),
        bank: "shared-list".into(),
        url: Some(format!("{base}{path}")),
        path: None,
        format: None,
        privacy_group: (kind == "threatexchange").then(|| "303636684709969".to_string()),
        credentials: creds
            .iter()
            .map(|(k, v)| (k.to_string(), Secret(v.to_string())))
            .collect(),
        credentials_env: Default::default(),
        interval_secs: 0,
        timeout_secs: 10,
        max_response_bytes: 1 << 20,
        page_size: 4,
    }
}

fn good_creds(kind: &str) -> Vec<(&'static str, &'static str)> {
    match kind {
        "stopncii" => vec![
            ("subscription_key", STOPNCII_SUB),
            ("fetch_function_key", STOPNCII_FK),
        ],
        "ncmec" => vec![("user", NCMEC_USER), ("password", NCMEC_PASS)],
        "tcap" => vec![("username", TCAP_USER), ("password", TCAP_PASS)],
        "threatexchange" => vec![("access_token", TE_TOKEN)],
        _ => vec![],
    }
}

/// The bank's live signals as `signal:hex`.
fn live(s: &TestServer, bank: &str) -> BTreeSet<String> {
    let bank_id = s
        .block_on(candor_store::banks::find_bank(s.app().store.reader(), bank))
        .unwrap()
        .unwrap()
        .id;
    let mut out = BTreeSet::new();
    s.block_on(
        s.app()
            .store
            .for_each_live_signal(|_, b, _, _, signal, value| {
                if b == bank_id {
                    out.insert(format!("{signal}:{}", hex::encode(value)));
                }
            }),
    )
    .unwrap();
    out
}

fn set<S: AsRef<str>>(items: &[S]) -> BTreeSet<String> {
    items.iter().map(|s| s.as_ref().to_string()).collect()
}

fn pdq(h: &str) -> String {
    format!("pdq:{h}")
}

fn md5(h: &str) -> String {
    format!("md5:{h}")
}

fn sync(s: &TestServer, name: &str) -> Result<exchanges::SyncReport, (String, String)> {
    let app = s.app().clone();
    s.block_on(exchanges::sync(&app, name, &|_| {}))
        .map_err(|e| (e.code.to_string(), e.message))
}

fn status(s: &TestServer, name: &str) -> exchanges::ExchangeStatus {
    s.block_on(exchanges::status_of(s.app(), name)).unwrap()
}

/// Fail mid-sync, resume, sync again: the bank holds `after_first` after the failed run and
/// `end` at the end; every change is one log entry; nothing is added twice.
fn resumes(kind: &str, after_first: &[String], end: &[String], added: i64, retracted: i64) {
    traces();
    let (base, stand) = stand_in();
    let cfg = exchange(kind, &base, &good_creds(kind));
    let name = cfg.name.clone();
    let s = TestServer::start_with(|c| c.exchange = vec![cfg]);
    s.create_bank("shared-list", CAT_TERROR, 31);
    let log0 = s.log_size();

    stand.fail_second.store(true, Ordering::SeqCst);
    let (code, message) = sync(&s, &name).unwrap_err();
    assert_eq!(code, "exchange_unreachable", "{message}");
    assert!(message.contains("HTTP 500"), "{message}");
    assert_eq!(
        live(&s, "shared-list"),
        set(after_first),
        "{kind}: the first page is kept"
    );
    let st = status(&s, &name);
    assert!(st.last_error.as_deref().unwrap().contains("HTTP 500"));
    assert!(
        !st.checkpoint.is_empty(),
        "{kind}: the first page's checkpoint is stored"
    );
    assert_eq!(s.log_size() - log0, st.added as u64 + st.retracted as u64);

    stand.fail_second.store(false, Ordering::SeqCst);
    let r = sync(&s, &name).unwrap();
    assert!(r.up_to_date);
    assert_eq!(r.pages, 1, "{kind}: resumed at the second page");
    assert_eq!(
        live(&s, "shared-list"),
        set(end),
        "{kind}: no duplicate, no loss"
    );
    let st = status(&s, &name);
    assert_eq!(
        (st.added, st.retracted),
        (added, retracted),
        "{kind}: {st:?}"
    );
    assert!(st.last_error.is_none() && st.last_success_at.is_some());
    // One log entry per change, each a bank_content entry.
    assert_eq!(s.log_size() - log0, (added + retracted) as u64);

    // Again: the source has nothing new (or re-sends what the bank holds): no change.
    let r = sync(&s, &name).unwrap();
    assert_eq!((r.added, r.retracted), (0, 0), "{kind}: {r:?}");
    assert_eq!(live(&s, "shared-list"), set(end));
    assert_eq!(s.log_size() - log0, (added + retracted) as u64);

    // What the exchange brought matches at once.
    if end.contains(&pdq(P1)) {
        let m = s.lookup_pdq(P1);
        assert!(
            m.iter()
                .any(|m| m["bank"] == "shared-list" && m["distance"] == 0),
            "{m:?}"
        );
    }
    if end.contains(&pdq(P7)) {
        let m = s.lookup_pdq(P7);
        assert!(m.iter().any(|m| m["bank"] == "shared-list"), "{m:?}");
    }
    let traced = traces().0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_no_secret("the traces", &String::from_utf8_lossy(&traced));
}

/// Two syncs of one exchange from two processes or nodes (`candor exchange sync` beside a
/// service, two nodes' schedules): a page fetched after a checkpoint the exchange has since
/// left is not applied — the sync stops with 409 `sync_running` and the other one's work
/// stands. Here the "other process" moves the stored checkpoint while page 2 is fetched.
#[test]
fn a_sync_elsewhere_stops_this_one_before_its_page_is_applied() {
    let (base, _stand) = stand_in();
    let cfg = exchange("stopncii", &base, &good_creds("stopncii"));
    let name = cfg.name.clone();
    let s = TestServer::start_with(|c| c.exchange = vec![cfg]);
    s.create_bank("shared-list", CAT_TERROR, 31);
    let log0 = s.log_size();
    let app = s.app().clone();
    let (app2, name2) = (app.clone(), name.clone());
    let moved = std::sync::atomic::AtomicBool::new(false);
    let progress = move |r: &exchanges::SyncReport| {
        if r.pages != 1 || moved.swap(true, Ordering::SeqCst) {
            return;
        }
        let (n, after) = (name2.clone(), r.checkpoint.clone());
        // The other process: a write through the same store from a thread of its own (the
        // callback runs inside the sync's runtime, which must not be blocked on itself).
        let store = app2.store.clone();
        let stored = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(store.write(move |c| {
                Box::pin(async move {
                    candor_store::exchanges::record_page(
                        &mut c.conn,
                        &n,
                        &after,
                        "elsewhere",
                        candor_store::exchanges::PageCounts::default(),
                        "t-elsewhere",
                    )
                    .await
                })
            }))
        })
        .join()
        .unwrap()
        .unwrap();
        assert!(stored, "the other process's page is recorded");
    };
    let e = s
        .block_on(exchanges::sync(&app, &name, &progress))
        .unwrap_err();
    assert_eq!(e.code, "sync_running", "{}", e.message);
    assert!(
        e.message.contains("synced by another process"),
        "{}",
        e.message
    );
    // Page 1 only; page 2 (a deletion and two additions) was not applied.
    assert_eq!(live(&s, "shared-list"), set(&[pdq(P1), md5(MD5_D41)]));
    let st = status(&s, &name);
    assert_eq!(st.checkpoint, "elsewhere");
    assert!(st.last_error.is_none(), "{st:?}");
    assert_eq!(s.log_size() - log0, st.added as u64 + st.retracted as u64);
}

#[test]
fn stopncii_pages_deletions_malformed_and_resume() {
    resumes(
        "stopncii",
        &[pdq(P1), md5(MD5_D41)],
        &[pdq(P1), pdq(P7)],
        3,
        1,
    );
}

#[test]
fn ncmec_pages_changed_fingerprints_deletions_and_resume() {
    let a1md5 = md5("a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
    let a1sha1 = "sha1:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1".to_string();
    resumes(
        "ncmec",
        &[
            a1md5.clone(),
            a1sha1.clone(),
            pdq(P1),
            md5("b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"),
        ],
        // image1 re-sent with another PDQ: the old one retracted; video1 deleted by id.
        &[a1md5, a1sha1, pdq(P7)],
        5,
        2,
    );
}

#[test]
fn tcap_pages_deletions_malformed_and_resume() {
    let e3 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string();
    resumes("tcap", &[md5(MD5_D41), pdq(P1)], &[pdq(P1), e3], 3, 1);
}

#[test]
fn threatexchange_pages_deletions_malformed_and_resume() {
    resumes(
        "threatexchange",
        &[pdq(P1), md5(MD5_D41)],
        &[pdq(P1), pdq(P7)],
        3,
        1,
    );
}

#[test]
fn malformed_records_are_counted() {
    traces();
    let (base, _stand) = stand_in();
    let cfg = exchange("stopncii", &base, &good_creds("stopncii"));
    let s = TestServer::start_with(|c| c.exchange = vec![cfg]);
    s.create_bank("shared-list", CAT_TERROR, 31);
    let r = sync(&s, "stopncii-x").unwrap();
    // Page 1: a VideoTMK (no such signal here) and a malformed PDQ; page 2: P1 re-sent.
    assert_eq!((r.pages, r.fetched, r.malformed), (2, 7, 1), "{r:?}");
    assert_eq!(r.skipped, 3, "{r:?}");
}

#[test]
fn wrong_credentials_are_a_clear_error_and_never_leak() {
    traces();
    let (base, stand) = stand_in();
    let wrong = |kind: &str| -> Vec<(&'static str, &'static str)> {
        good_creds(kind)
            .into_iter()
            .map(|(k, v)| {
                if k == "user" || k == "username" {
                    (k, v)
                } else {
                    (k, &*Box::leak(format!("{v}-wrong").into_boxed_str()))
                }
            })
            .collect()
    };
    let kinds = ["stopncii", "ncmec", "tcap", "threatexchange"];
    let cfgs: Vec<_> = kinds
        .iter()
        .map(|k| exchange(k, &base, &wrong(k)))
        .collect();
    let s = TestServer::start_with(|c| c.exchange = cfgs);
    s.create_bank("shared-list", CAT_TERROR, 31);
    let log0 = s.log_size();
    for k in kinds {
        let name = format!("{k}-x");
        let (code, message) = sync(&s, &name).unwrap_err();
        assert_eq!(code, "exchange_credentials_refused", "{k}: {message}");
        assert!(message.contains("refused"), "{message}");
        assert_no_secret("the error", &message);
        let st = status(&s, &name);
        assert_no_secret("the stored error", st.last_error.as_deref().unwrap());
        // Over HTTP too.
        let r = s
            .post(
                &format!("/v1/exchanges/{name}/sync"),
                &s.tokens.curator,
                &json!({}),
            )
            .expect(502);
        assert_no_secret("the HTTP answer", &r.text());
        assert!(r.text().contains("exchange_credentials_refused"));
    }
    assert!(stand.requests.load(Ordering::SeqCst) >= 8);
    assert_eq!(s.log_size(), log0, "nothing applied");
    let listed = s.get("/v1/exchanges", &s.tokens.auditor).expect(200).text();
    assert_no_secret("GET /v1/exchanges", &listed);
    // Nothing in the data directory (database, WAL) holds a secret.
    for e in std::fs::read_dir(&s.dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            for secret in SECRETS {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds {secret}",
                    p.display()
                );
            }
        }
    }
    let traced = traces().0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_no_secret("the traces", &String::from_utf8_lossy(&traced));
}

#[test]
fn a_missing_bank_or_credential_is_a_clear_error() {
    traces();
    let (base, _stand) = stand_in();
    let mut no_password = exchange("ncmec", &base, &[("user", NCMEC_USER)]);
    no_password.bank = "ncmec-list".into();
    let mut env = exchange("tcap", &base, &[]);
    env.credentials_env = [
        (
            "username".to_string(),
            "CANDOR_TEST_UNSET_TCAP_USER".to_string(),
        ),
        (
            "password".to_string(),
            "CANDOR_TEST_UNSET_TCAP_PASS".to_string(),
        ),
    ]
    .into_iter()
    .collect();
    let s = TestServer::start_with(|c| c.exchange = vec![no_password, env]);
    let (code, m) = sync(&s, "ncmec-x").unwrap_err();
    assert_eq!(code, "bank_not_found");
    assert!(m.contains("create it"), "{m}");
    s.create_bank("ncmec-list", CAT_CSAM, 31);
    let (code, m) = sync(&s, "ncmec-x").unwrap_err();
    assert_eq!(code, "exchange_misconfigured");
    assert!(m.contains("\"password\" is missing"), "{m}");
    s.create_bank("shared-list", CAT_TERROR, 31);
    let (_, m) = sync(&s, "tcap-x").unwrap_err();
    assert!(m.contains("CANDOR_TEST_UNSET_TCAP_USER is not set"), "{m}");
    let (code, _) = sync(&s, "nope").unwrap_err();
    assert_eq!(code, "exchange_not_found");
    s.post("/v1/exchanges/nope/sync", &s.tokens.curator, &json!({}))
        .expect_error(404, "exchange_not_found");
    s.post("/v1/exchanges/ncmec-x/sync", &s.tokens.platform, &json!({}))
        .expect(403);
}

#[test]
fn a_local_file_exchange() {
    traces();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("list.json");
    std::fs::copy(testdata().join("formats/stopncii-page.json"), &file).unwrap();
    let cfg = ExchangeConfig {
        path: Some(file.clone()),
        format: Some("stopncii".into()),
        url: None,
        ..exchange("file", "", &[])
    };
    let s = TestServer::start_with(|c| c.exchange = vec![cfg]);
    s.create_bank("shared-list", CAT_TERROR, 31);
    let r = sync(&s, "file-x").unwrap();
    assert_eq!(r.added, 2, "{r:?}");
    assert_eq!(live(&s, "shared-list"), set(&[pdq(P1), md5(MD5_D41)]));
    assert!(status(&s, "file-x").checkpoint.starts_with("sha256:"));
    // Unchanged: nothing to do.
    let r = sync(&s, "file-x").unwrap();
    assert_eq!((r.fetched, r.added), (0, 0));
    // Changed: the MD5 withdrawn, a malformed file refused whole.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"Received\"", "\"Deleted\"");
    std::fs::write(&file, &text).unwrap();
    let r = sync(&s, "file-x").unwrap();
    assert_eq!((r.added, r.retracted), (0, 1), "{r:?}");
    assert_eq!(live(&s, "shared-list"), set(&[pdq(P1)]));
    std::fs::write(&file, text.replace("ImagePDQ", "ImagePDX")).unwrap();
    let (code, m) = sync(&s, "file-x").unwrap_err();
    assert_eq!(code, "exchange_answer_malformed");
    assert!(m.contains("record 1"), "{m}");
    assert_eq!(live(&s, "shared-list"), set(&[pdq(P1)]));
}

#[test]
fn scheduled_sync_is_seen_through_the_api_and_matches() {
    traces();
    let (base, _stand) = stand_in();
    let mut cfg = exchange("stopncii", &base, &good_creds("stopncii"));
    cfg.interval_secs = 1;
    let s = TestServer::start_with(|c| c.exchange = vec![cfg]);
    s.create_bank("shared-list", CAT_TERROR, 31);
    let app = s.app().clone();
    let tasks = s.block_on(async move { exchanges::spawn_scheduled(app) });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let row = loop {
        let v = s.get("/v1/exchanges", &s.tokens.curator).expect(200).json();
        let row = v[0].clone();
        if row["added"] == 3 && row["retracted"] == 1 {
            break row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled sync: {v}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(row["name"], "stopncii-x");
    assert_eq!(row["kind"], "stopncii");
    assert_eq!(row["bank"], "shared-list");
    assert!(
        row["checkpoint"].as_str().unwrap().contains("1625180000"),
        "{row}"
    );
    assert!(row["last_success_at"].is_string());
    let m = s.lookup_pdq(P7);
    assert!(m.iter().any(|m| m["bank"] == "shared-list"), "{m:?}");
    // HMA's views of it.
    assert_eq!(
        s.get("/c/exchanges", &s.tokens.curator).expect(200).json(),
        json!(["stopncii-x"])
    );
    let cfg = s
        .get("/c/exchange/stopncii-x", &s.tokens.curator)
        .expect(200)
        .json();
    assert_eq!(cfg["api"], "stop_ncii");
    assert_eq!(cfg["enabled"], true);
    let st = s
        .get("/c/exchange/stopncii-x/status", &s.tokens.curator)
        .expect(200)
        .json();
    assert_eq!(st["last_fetch_succeeded"], true);
    assert!(
        st["checkpoint_ts"].as_i64().unwrap() > 1_700_000_000,
        "{st}"
    );
    assert!(st["fetched_items"].as_i64().unwrap() >= 7, "{st}");
    s.put(
        "/c/exchange/stopncii-x",
        &s.tokens.curator,
        &json!({"enabled": false}),
    )
    .expect_message(400, "config file");
    s.delete("/c/exchange/stopncii-x", &s.tokens.curator)
        .expect_message(400, "config file");
    s.get("/c/exchange/NOPE/status", &s.tokens.curator)
        .expect_message(404, "Exchange 'NOPE' not found");
    for t in tasks {
        t.abort();
    }
}

/// The requests the stand-in has answered so far.
fn answered(stand: &Stand) -> usize {
    stand.requests.load(Ordering::SeqCst)
}

/// Waits until `f` holds (30 s at most).
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// An HMA client's sequence against exchanges created through the API: credentials per API,
/// `POST /c/exchanges`, `GET` it, a sync on demand and the scheduled sync (started before the
/// exchange exists) against the local stand-ins, `/status`, `PUT` (disable: the scheduler
/// stops; enable: it starts again), `DELETE` (its bank goes, logged). Duplicate names (config
/// file vs stored, stored vs stored, an existing bank), `local_file` and a URL off
/// `exchange_api_hosts` are refused. No answer, log entry or trace line holds a credential.
#[test]
fn exchanges_created_through_the_hma_api() {
    traces();
    let (base, stand) = stand_in();
    // A config-file exchange by an HMA-style name, on demand only.
    let mut file_cfg = exchange("stopncii", &base, &good_creds("stopncii"));
    file_cfg.name = "STOP_FILE".into();
    let s = TestServer::start_with(|c| {
        c.exchange = vec![file_cfg];
        c.exchange_api_hosts = vec!["127.0.0.1".into()];
        c.exchange_schedule_secs = 1;
    });
    let t = &s.tokens;
    let mut answers: Vec<String> = Vec::new();
    let app = s.app().clone();
    let tasks = s.block_on(async move { exchanges::spawn_scheduled(app) });

    // Credentials for ThreatExchange, as HMA's UI sets them; never answered.
    let tx = "/c/exchanges/api/fb_threatexchange";
    let r = s
        .post(
            tx,
            &t.curator,
            &json!({"credential_json": {"api_token": TE_TOKEN}}),
        )
        .expect(200);
    answers.push(r.text());
    assert_eq!(
        r.json(),
        json!({"supports_authentification": true, "has_set_authentification": true})
    );

    // Create: 201, HMA's body; the bank named after it exists (a logged bank creation).
    let log0 = s.log_size();
    let created = s
        .post(
            "/c/exchanges",
            &t.curator,
            &json!({"bank": "TE_GROUP", "api": "fb_threatexchange", "api_json": {
                "privacy_group": 303636684709969u64, "url": format!("{base}/te"), "interval_secs": 0}}),
        )
        .expect(201);
    assert_eq!(created.json(), json!({"message": "Created successfully"}));
    assert_eq!(s.log_size(), log0 + 1, "the bank's creation is logged");
    let bank = s.get("/c/bank/TE_GROUP", &t.curator).expect(200).json();
    assert_eq!(bank["name"], "TE_GROUP");
    let got = s.get("/c/exchange/TE_GROUP", &t.curator).expect(200);
    answers.push(got.text());
    assert_eq!(
        got.json(),
        json!({"name": "TE_GROUP", "api": "fb_threatexchange", "enabled": true,
               "privacy_group": 303636684709969u64, "bank": "TE_GROUP", "defined_in": "api",
               "interval_secs": 0})
    );
    assert_eq!(
        s.get("/c/exchanges", &t.auditor).expect(200).json(),
        json!(["STOP_FILE", "TE_GROUP"])
    );

    // Duplicates and refusals: nothing written.
    let log1 = s.log_size();
    for (body, status, message) in [
        (
            json!({"bank": "TE_GROUP", "api": "tat"}),
            403,
            "Exchange already exists",
        ),
        (
            json!({"bank": "STOP_FILE", "api": "stop_ncii"}),
            403,
            "Exchange already exists",
        ),
        (
            json!({"bank": "LOCAL", "api": "local_file", "api_json": {"filename": "/etc/passwd"}}),
            400,
            "config file",
        ),
        (
            json!({"bank": "ELSEWHERE", "api": "tat", "api_json": {"url": "http://10.1.2.3/tcap"}}),
            400,
            "exchange_api_hosts",
        ),
    ] {
        s.post("/c/exchanges", &t.curator, &body)
            .expect_message(status, message);
    }
    s.post("/c/banks", &t.curator, &json!({"name": "TAKEN"}))
        .expect(201);
    let log1 = log1 + 1;
    s.post(
        "/c/exchanges",
        &t.curator,
        &json!({"bank": "TAKEN", "api": "tat"}),
    )
    .expect_message(403, "Bank already exists");
    assert_eq!(s.log_size(), log1, "refusals write nothing");
    // The config file's exchange stays read-only.
    s.put(
        "/c/exchange/STOP_FILE",
        &t.curator,
        &json!({"enabled": false}),
    )
    .expect_message(400, "config file");
    s.delete("/c/exchange/STOP_FILE", &t.curator)
        .expect_message(400, "config file");
    s.put("/c/exchange/NOPE", &t.curator, &json!({"enabled": false}))
        .expect_message(404, "Exchange 'NOPE' not found");
    s.put(
        "/c/exchange/TE_GROUP",
        &t.curator,
        &json!({"enabled": "no"}),
    )
    .expect(422);

    // Sync it on demand (the stored credentials), through Candor's route.
    let r = s
        .post("/v1/exchanges/TE_GROUP/sync", &t.curator, &json!({}))
        .expect(200);
    answers.push(r.text());
    let r = r.json();
    assert_eq!(
        (r["added"].as_i64(), r["retracted"].as_i64()),
        (Some(3), Some(1)),
        "{r}"
    );
    assert_eq!(live(&s, "TE_GROUP"), set(&[pdq(P1), pdq(P7)]));
    let m = s.lookup_pdq(P7);
    assert!(m.iter().any(|m| m["bank"] == "TE_GROUP"), "{m:?}");
    let st = s.get("/c/exchange/TE_GROUP/status", &t.curator).expect(200);
    answers.push(st.text());
    let st = st.json();
    assert_eq!(st["last_fetch_succeeded"], true);
    assert_eq!(st["up_to_date"], true);
    assert!(st["fetched_items"].as_i64().unwrap() >= 4, "{st}");
    let listed = s.get("/v1/exchanges", &t.auditor).expect(200);
    answers.push(listed.text());
    let listed = listed.json();
    let row = |name: &str| -> serde_json::Value {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("STOP_FILE")["defined_in"], "config_file");
    assert!(row("STOP_FILE")["created_at"].is_null());
    assert_eq!(row("TE_GROUP")["defined_in"], "api");
    assert!(row("TE_GROUP")["created_at"].is_string());
    assert_eq!(row("TE_GROUP")["added"], 3);

    // StopNCII: its credentials (with HMA's base_url_override) set after the scheduler
    // started, then an exchange synced every second by it.
    let r = s
        .post(
            "/c/exchanges/api/stop_ncii",
            &t.curator,
            &json!({"credential_json": {"fetch_function_key": STOPNCII_FK,
                "subscription_key": STOPNCII_SUB, "base_url_override": format!("{base}/stopncii")}}),
        )
        .expect(200);
    answers.push(r.text());
    s.post(
        "/c/exchanges",
        &t.curator,
        &json!({"bank": "SCHED", "api": "stop_ncii", "api_json": {"interval_secs": 1}}),
    )
    .expect(201);
    until("the scheduler syncs SCHED", || {
        s.get("/v1/exchanges", &t.curator)
            .expect(200)
            .json()
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "SCHED" && r["added"] == 3)
    });
    assert_eq!(live(&s, "SCHED"), set(&[pdq(P1), pdq(P7)]));
    let before = answered(&stand);
    until("the scheduler syncs SCHED again", || {
        answered(&stand) > before
    });

    // Disabled: the scheduler stops syncing it, and so does a sync on demand.
    let r = s
        .put("/c/exchange/SCHED", &t.curator, &json!({"enabled": false}))
        .expect(200)
        .json();
    assert_eq!(r["enabled"], false);
    assert_eq!(
        s.get("/c/exchange/SCHED", &t.curator).expect(200).json()["enabled"],
        false
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let stopped = answered(&stand);
    std::thread::sleep(std::time::Duration::from_millis(3500));
    assert_eq!(
        answered(&stand),
        stopped,
        "a disabled exchange is not synced"
    );
    s.post("/v1/exchanges/SCHED/sync", &t.curator, &json!({}))
        .expect_error(409, "exchange_disabled");
    // Enabled again: synced again.
    s.put("/c/exchange/SCHED", &t.curator, &json!({"enabled": true}))
        .expect(200);
    until("the scheduler syncs SCHED once enabled", || {
        answered(&stand) > stopped
    });

    // Deleted: its bank goes with it (a logged bank deletion), the scheduler stops.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let log2 = s.log_size();
    assert_eq!(
        s.delete("/c/exchange/SCHED", &t.curator).expect(200).json(),
        json!({"message": "Exchange deleted"})
    );
    assert_eq!(s.log_size(), log2 + 1, "the bank's deletion is logged");
    let last = s.log_entries().pop().unwrap();
    assert!(
        matches!(&last.body, candor_log::entry::EntryBody::Bank(b) if b.bank == "SCHED"),
        "{last:?}"
    );
    s.get("/c/bank/SCHED", &t.curator).expect(404);
    s.get("/c/exchange/SCHED", &t.curator)
        .expect_message(404, "Exchange 'SCHED' not found");
    assert!(s.lookup_pdq(P1).iter().all(|m| m["bank"] != "SCHED"));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let gone = answered(&stand);
    std::thread::sleep(std::time::Duration::from_millis(3000));
    assert_eq!(answered(&stand), gone, "a deleted exchange is not synced");
    assert_eq!(
        s.get("/c/exchanges", &t.curator).expect(200).json(),
        json!(["STOP_FILE", "TE_GROUP"])
    );

    // No credential in any answer, log entry or trace line.
    for a in &answers {
        assert_no_secret("an answer", a);
    }
    for e in s.log_entries() {
        assert_no_secret("a log entry", &String::from_utf8_lossy(&e.encode()));
    }
    let traced = traces().0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_no_secret("the traces", &String::from_utf8_lossy(&traced));
    for t in tasks {
        t.abort();
    }
}

/// A config-file exchange without credentials in its table takes the API's; its own win.
#[test]
fn config_file_credentials_win_over_the_apis() {
    traces();
    let (base, _stand) = stand_in();
    let mut own = exchange("tcap", &base, &good_creds("tcap"));
    own.name = "tcap-own".into();
    let mut none = exchange("tcap", &base, &[]);
    none.name = "tcap-api".into();
    let s = TestServer::start_with(|c| c.exchange = vec![own, none]);
    s.create_bank("shared-list", CAT_TERROR, 31);
    let (code, m) = sync(&s, "tcap-api").unwrap_err();
    assert_eq!(code, "exchange_misconfigured");
    assert!(m.contains("POST /c/exchanges/api/<api>"), "{m}");
    // Wrong ones through the API: the config file's own still sync; the other is refused.
    s.post(
        "/c/exchanges/api/tat",
        &s.tokens.curator,
        &json!({"credential_json": {"username": TCAP_USER, "password": "wrong"}}),
    )
    .expect(200);
    assert!(sync(&s, "tcap-own").is_ok());
    let (code, m) = sync(&s, "tcap-api").unwrap_err();
    assert_eq!(code, "exchange_credentials_refused", "{m}");
    s.post(
        "/c/exchanges/api/tat",
        &s.tokens.curator,
        &json!({"credential_json": {"username": TCAP_USER, "password": TCAP_PASS}}),
    )
    .expect(200);
    let r = sync(&s, "tcap-api").unwrap();
    assert!(r.up_to_date, "{r:?}");
}
