//! Statements of reasons reach the EU DSA Transparency Database exactly once.
//!
//! The real database cannot be reached from here, so the test runs a local stand-in that speaks
//! its documented API (digital-services-act/transparency-database: `POST /api/v1/statements`,
//! `GET /api/v1/statement/existing-puid/{puid}`, bearer token): it validates every statement by
//! the rules of `StatementStoreRequest` (required fields, the allowed values copied from
//! `Statement.php` and `EuropeanCountriesService.php`, dates, lengths, the puid alphabet), refuses
//! fields the API does not have (stricter than the API, which would fail inserting them), answers
//! a duplicate puid with the API's 422 bodies, and can be told to fail: 429 with Retry-After,
//! 500, or store a batch and never answer (a lost answer).

mod common;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use candor_server::flows::dsa::{self, DsaConfig};
use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "dsa-platform-token";

// Allowed values as the database's source spells them (app/Models/Statement.php).
const VISIBILITIES: &[&str] = &[
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
];
const GROUNDS: &[&str] = &[
    "DECISION_GROUND_ILLEGAL_CONTENT",
    "DECISION_GROUND_INCOMPATIBLE_CONTENT",
];
const CONTENT_TYPES: &[&str] = &[
    "CONTENT_TYPE_APP",
    "CONTENT_TYPE_AUDIO",
    "CONTENT_TYPE_IMAGE",
    "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "CONTENT_TYPE_TEXT",
    "CONTENT_TYPE_VIDEO",
    "CONTENT_TYPE_OTHER",
];
const CATEGORIES: &[&str] = &[
    "STATEMENT_CATEGORY_ANIMAL_WELFARE",
    "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE",
    "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
    "STATEMENT_CATEGORY_VIOLENCE",
];
const SOURCES: &[&str] = &[
    "SOURCE_ARTICLE_16",
    "SOURCE_TRUSTED_FLAGGER",
    "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
];
const AUTOMATED_DECISIONS: &[&str] = &[
    "AUTOMATED_DECISION_FULLY",
    "AUTOMATED_DECISION_PARTIALLY",
    "AUTOMATED_DECISION_NOT_AUTOMATED",
];
const COUNTRIES: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];
/// Every field the API's statement has (what a client may send).
const API_FIELDS: &[&str] = &[
    "content_id",
    "content_id_ean",
    "decision_visibility",
    "decision_visibility_other",
    "decision_monetary",
    "decision_monetary_other",
    "decision_provision",
    "decision_account",
    "account_type",
    "category_specification",
    "category_specification_other",
    "decision_ground",
    "decision_ground_reference_url",
    "illegal_content_legal_ground",
    "illegal_content_explanation",
    "incompatible_content_ground",
    "incompatible_content_explanation",
    "incompatible_content_illegal",
    "content_type",
    "content_type_other",
    "category",
    "category_addition",
    "territorial_scope",
    "content_language",
    "content_date",
    "application_date",
    "end_date_account_restriction",
    "end_date_monetary_restriction",
    "end_date_service_restriction",
    "end_date_visibility_restriction",
    "decision_facts",
    "source_type",
    "source_identity",
    "automated_detection",
    "automated_decision",
    "puid",
];

fn date_ok(v: &Value, from: &str, to: &str) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s.chars()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && s >= from
        && s <= to
}

/// The validation errors of one statement, keyed like Laravel's (`field: [messages]`).
fn validate(st: &Value) -> BTreeMap<String, Vec<String>> {
    let mut e: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut err = |f: &str, m: &str| e.entry(f.to_string()).or_default().push(m.to_string());
    let Some(o) = st.as_object() else {
        err("statement", "must be an object");
        return e;
    };
    for k in o.keys() {
        if !API_FIELDS.contains(&k.as_str()) {
            err(k, "is not a field of the statement");
        }
    }
    let s = |k: &str| o.get(k).and_then(Value::as_str);
    let list = |k: &str| {
        o.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let vis = list("decision_visibility");
    if vis.is_empty()
        && o.get("decision_monetary").is_none()
        && o.get("decision_provision").is_none()
        && o.get("decision_account").is_none()
    {
        err("decision_visibility", "The decision visibility field is required when none of decision monetary / decision provision / decision account are present.");
    }
    if vis
        .iter()
        .any(|v| !VISIBILITIES.contains(&v.as_str().unwrap_or("")))
    {
        err(
            "decision_visibility",
            "The selected decision visibility is invalid.",
        );
    }
    if vis.iter().any(|v| v == "DECISION_VISIBILITY_OTHER")
        && s("decision_visibility_other").is_none_or(|v| v.is_empty() || v.chars().count() > 500)
    {
        err(
            "decision_visibility_other",
            "The decision visibility other field is required.",
        );
    }
    match s("decision_ground") {
        Some(g) if GROUNDS.contains(&g) => {
            let (a, b) = if g == GROUNDS[0] {
                (
                    "illegal_content_legal_ground",
                    "illegal_content_explanation",
                )
            } else {
                (
                    "incompatible_content_ground",
                    "incompatible_content_explanation",
                )
            };
            if s(a).is_none_or(|v| v.is_empty() || v.chars().count() > 500) {
                err(
                    a,
                    "required for this decision ground, at most 500 characters",
                );
            }
            if s(b).is_none_or(|v| v.is_empty() || v.chars().count() > 2000) {
                err(
                    b,
                    "required for this decision ground, at most 2000 characters",
                );
            }
        }
        _ => err("decision_ground", "The decision ground field is required."),
    }
    let ct = list("content_type");
    if ct.is_empty()
        || ct
            .iter()
            .any(|v| !CONTENT_TYPES.contains(&v.as_str().unwrap_or("")))
    {
        err("content_type", "The selected content type is invalid.");
    }
    if ct.iter().any(|v| v == "CONTENT_TYPE_OTHER") && s("content_type_other").is_none() {
        err(
            "content_type_other",
            "The content type other field is required when content is other.",
        );
    }
    if !s("category").is_some_and(|c| CATEGORIES.contains(&c)) {
        err("category", "The selected category is invalid.");
    }
    if list("territorial_scope")
        .iter()
        .any(|c| !COUNTRIES.contains(&c.as_str().unwrap_or("")))
    {
        err(
            "territorial_scope",
            "The selected territorial scope is invalid.",
        );
    }
    if !o
        .get("content_date")
        .is_some_and(|d| date_ok(d, "2000-01-01", "2038-01-01"))
    {
        err(
            "content_date",
            "The content date does not match the format YYYY-MM-DD.",
        );
    }
    if !o
        .get("application_date")
        .is_some_and(|d| date_ok(d, "2020-01-01", "2038-01-01"))
    {
        err(
            "application_date",
            "The application date does not match the format YYYY-MM-DD.",
        );
    }
    if s("decision_facts").is_none_or(|f| f.is_empty() || f.chars().count() > 5000) {
        err("decision_facts", "The decision facts field is required.");
    }
    if !s("source_type").is_some_and(|v| SOURCES.contains(&v)) {
        err("source_type", "The selected source type is invalid.");
    }
    if !s("automated_detection").is_some_and(|v| v == "Yes" || v == "No") {
        err(
            "automated_detection",
            "The selected automated detection is invalid.",
        );
    }
    if !s("automated_decision").is_some_and(|v| AUTOMATED_DECISIONS.contains(&v)) {
        err(
            "automated_decision",
            "The selected automated decision is invalid.",
        );
    }
    match s("puid") {
        Some(p)
            if !p.is_empty()
                && p.len() <= 500
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') => {}
        _ => err("puid", "The puid format is invalid."),
    }
    e
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    TooMany,
    ServerError,
    /// Store the batch, then never answer (the client times out).
    StoreThenHang,
    /// Refuse one category, as if it were not in the schema.
    RefuseCategory,
}

#[derive(Default)]
struct Db {
    stored: BTreeMap<String, Value>,
    posts: usize,
    checks: usize,
    faults: VecDeque<Fault>,
}

type Shared = Arc<Mutex<Db>>;

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn store_many(State(db): State<Shared>, h: HeaderMap, body: String) -> Response {
    if !authorized(&h) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Unauthenticated."})),
        )
            .into_response();
    }
    let fault = {
        let mut d = db.lock().unwrap();
        d.posts += 1;
        d.faults.pop_front()
    };
    match fault {
        Some(Fault::TooMany) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                Json(json!({"message": "Too Many Attempts."})),
            )
                .into_response()
        }
        Some(Fault::ServerError) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"message": "Server Error"})),
            )
                .into_response()
        }
        _ => {}
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"message": "invalid JSON", "errors": {"statements": ["The statements field is required."]}}))).into_response();
    };
    let statements = v["statements"].as_array().cloned().unwrap_or_default();
    if statements.is_empty() || statements.len() > 100 {
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"message": "The statements field must have between 1 and 100 items.", "errors": {"statements": ["The statements field must have between 1 and 100 items."]}}))).into_response();
    }
    let mut errors = serde_json::Map::new();
    for (i, st) in statements.iter().enumerate() {
        let mut e = validate(st);
        if fault == Some(Fault::RefuseCategory) {
            e.entry("category".into())
                .or_default()
                .push("The selected category is invalid.".into());
        }
        for (k, msgs) in e {
            errors.insert(format!("statements.{i}.{k}"), json!(msgs));
        }
    }
    if !errors.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"errors": errors})),
        )
            .into_response();
    }
    let dup_answer = {
        let mut d = db.lock().unwrap();
        let mut seen = HashSet::new();
        let dup: Vec<String> = statements
            .iter()
            .filter_map(|s| s["puid"].as_str())
            .filter(|p| d.stored.contains_key(*p) || !seen.insert(p.to_string()))
            .map(str::to_string)
            .collect();
        if dup.is_empty() {
            for s in &statements {
                d.stored
                    .insert(s["puid"].as_str().unwrap().to_string(), s.clone());
            }
            None
        } else {
            let m = "The platform identifier(s) are not all unique within this call.";
            Some(json!({"message": m, "errors": {"puid": [m], "existing_puids": dup}}))
        }
    };
    if let Some(body) = dup_answer {
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    }
    if fault == Some(Fault::StoreThenHang) {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    (StatusCode::CREATED, Json(json!({"statements": statements}))).into_response()
}

async fn existing_puid(
    State(db): State<Shared>,
    h: HeaderMap,
    Path(puid): Path<String>,
) -> Response {
    if !authorized(&h) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Unauthenticated."})),
        )
            .into_response();
    }
    let mut d = db.lock().unwrap();
    d.checks += 1;
    if d.stored.contains_key(&puid) {
        (
            StatusCode::FOUND,
            Json(json!({"message": "statement of reason found", "puid": puid})),
        )
            .into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "statement of reason not found", "puid": puid})),
        )
            .into_response()
    }
}

/// The stand-in on a loopback port, on its own runtime.
fn stand_in() -> (String, Shared) {
    let db: Shared = Arc::default();
    let db2 = db.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/api/v1/statements", post(store_many))
                .route("/api/v1/statement/existing-puid/{puid}", get(existing_puid))
                .with_state(db2);
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    (format!("http://{}", rx.recv().unwrap()), db)
}

/// `n` scans of banked content, each giving a withhold in DE (for the database) and a hold for
/// review in US (not: no EU/EEA scope).
fn decisions(s: &TestServer, hash: &str, first: usize, n: usize) {
    for i in first..first + n {
        let ctx = context(
            &format!("chat-msg-{i}"),
            "direct",
            ("sam", "US"),
            &[("bo", "DE"), ("cy", "US")],
        );
        let r = s
            .scan(&json!({"context": ctx, "signals": {"pdq": hash}}))
            .expect(200)
            .json();
        assert_eq!(r["decisions"].as_array().unwrap().len(), 2, "{r}");
    }
}

#[test]
fn statements_reach_the_database_exactly_once() {
    let s = TestServer::start();
    s.create_bank("terror", CAT_TERROR, 31);
    let hay = haystack();
    s.add_pdq("terror", &hay[0]);
    decisions(&s, &hay[0], 0, 130);

    // The export: only what the database takes, valid by its rules, puids unique.
    let store = s.app().store.clone();
    let batches = s.block_on(dsa::export(&store, false)).unwrap();
    assert_eq!(
        batches
            .iter()
            .map(|b| b.statements.len())
            .collect::<Vec<_>>(),
        vec![100, 30]
    );
    let mut puids = HashSet::new();
    for st in batches.iter().flat_map(|b| &b.statements) {
        assert_eq!(validate(st), BTreeMap::new(), "{st}");
        assert_eq!(st["territorial_scope"], json!(["DE"]));
        assert!(puids.insert(st["puid"].as_str().unwrap().to_string()));
        assert!(st["puid"].as_str().unwrap().starts_with("chat-msg-"));
    }

    let (endpoint, db) = stand_in();
    let cfg = DsaConfig {
        endpoint: endpoint.clone(),
        token: TOKEN.into(),
        timeout_secs: 2,
        backoff_ms: 50,
        max_retries: 4,
        ..DsaConfig::default()
    };
    // A refused token stops at once and records nothing.
    let bad = DsaConfig {
        token: "wrong".into(),
        ..cfg.clone()
    };
    let e = s.block_on(dsa::submit(&store, &bad)).unwrap_err();
    assert!(e.to_string().contains("token"), "{e}");

    // Throttled, then a server error, then accepted: retried, each statement stored once.
    db.lock()
        .unwrap()
        .faults
        .extend([Fault::TooMany, Fault::ServerError]);
    let r = s.block_on(dsa::submit(&store, &cfg)).unwrap();
    assert_eq!(
        (r.created, r.existing, r.retries, r.batches),
        (130, 0, 2, 2)
    );
    assert_eq!(db.lock().unwrap().stored.len(), 130);
    assert_eq!(
        db.lock()
            .unwrap()
            .stored
            .keys()
            .cloned()
            .collect::<HashSet<_>>(),
        puids
    );

    // A rerun sends nothing.
    let posts = db.lock().unwrap().posts;
    let r = s.block_on(dsa::submit(&store, &cfg)).unwrap();
    assert_eq!(r, dsa::Report::default());
    assert_eq!(db.lock().unwrap().posts, posts);

    // The answer is lost after the database stored the batch: the puids are checked, nothing
    // is sent twice.
    decisions(&s, &hay[0], 130, 5);
    db.lock().unwrap().faults.push_back(Fault::StoreThenHang);
    let r = s.block_on(dsa::submit(&store, &cfg)).unwrap();
    assert_eq!((r.created, r.existing), (0, 5), "{r:?}");
    assert_eq!(db.lock().unwrap().checks, 5);
    assert_eq!(db.lock().unwrap().stored.len(), 135);

    // Our record of a submission is gone (a restore from an older backup): the database's
    // duplicate answer marks those as there, the rest is sent.
    decisions(&s, &hay[0], 135, 3);
    let next = s.block_on(dsa::export(&store, false)).unwrap();
    let first = next[0].statements[0].clone();
    db.lock()
        .unwrap()
        .stored
        .insert(first["puid"].as_str().unwrap().into(), first);
    let r = s.block_on(dsa::submit(&store, &cfg)).unwrap();
    assert_eq!((r.created, r.existing), (2, 1), "{r:?}");
    assert_eq!(db.lock().unwrap().stored.len(), 138);

    // A validation error stops with the database's message; nothing is recorded as sent.
    decisions(&s, &hay[0], 138, 1);
    db.lock().unwrap().faults.push_back(Fault::RefuseCategory);
    let e = s.block_on(dsa::submit(&store, &cfg)).unwrap_err();
    assert!(e.to_string().contains("statements.0.category"), "{e}");
    assert_eq!(
        s.block_on(dsa::export(&store, false)).unwrap()[0]
            .statements
            .len(),
        1
    );
    // Fixed (the fault was one-off): the next round sends it.
    let r = s.block_on(dsa::submit(&store, &cfg)).unwrap();
    assert_eq!(r.created, 1);
    assert_eq!(db.lock().unwrap().stored.len(), 139);
    assert!(s.block_on(dsa::export(&store, false)).unwrap().is_empty());
    // Everything, on request, for an audit of what was sent.
    let everything = s.block_on(dsa::export(&store, true)).unwrap();
    assert_eq!(
        everything.iter().map(|b| b.statements.len()).sum::<usize>(),
        139
    );

    // Retries run out: an error, and the round after the outage sends it.
    decisions(&s, &hay[0], 139, 1);
    db.lock().unwrap().faults.extend([Fault::ServerError; 5]);
    let e = s.block_on(dsa::submit(&store, &cfg)).unwrap_err();
    assert!(e.to_string().contains("retries"), "{e}");
    let r = s.block_on(dsa::submit(&store, &cfg)).unwrap();
    assert_eq!(r.created, 1);
    assert_eq!(db.lock().unwrap().stored.len(), 140);
    // What the store recorded: every decision once, by how it was settled.
    let counts = s
        .block_on(candor_store::dsa::sent_counts(store.reader()))
        .unwrap();
    assert_eq!(
        counts,
        vec![
            ("created".into(), 134),
            ("existing".into(), 6),
            ("out_of_scope".into(), 140)
        ]
    );
}
