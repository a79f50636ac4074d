//! Statements of reasons to the EU DSA Transparency Database: exported as the API's JSON and
//! submitted exactly once.
//!
//! Each decision with an EU/EEA territorial scope is one statement (`Statement::dsa_api_json`,
//! every field the API requires, only its allowed values). Its `puid` is the platform's content id
//! reduced to the API's alphabet (`[A-Za-z0-9_-]`) followed by the decision id, at most 500
//! characters: unique per statement even when several decisions concern one content.
//! `submit` sends batches of at most 100 to `POST /api/v1/statements`, records each accepted
//! statement in the store (`candor_store::dsa`), and on a rerun sends only what is missing. A
//! 422 naming existing puids records those as already there and resends the rest; 429 and 5xx
//! are retried with backoff (`Retry-After` honoured); when an answer is lost (connection cut
//! after sending) the batch's puids are checked with `GET /api/v1/statement/existing-puid/{puid}`
//! before anything is sent again. A validation error (any other 422) stops with the API's
//! message: it is a bug to fix, not to retry.

use std::time::Duration;

use candor_store::Store;
use serde::Deserialize;
use serde_json::Value;

/// The API's largest batch.
pub const BATCH_MAX: usize = 100;
const PUID_MAX: usize = 500;

/// `[dsa]` in the configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DsaConfig {
    /// Submit continuously from `candor serve`.
    pub enabled: bool,
    /// The database's base URL, e.g. `https://transparency.dsa.ec.europa.eu`.
    pub endpoint: String,
    /// The platform's API token (better: `CANDOR_DSA_TOKEN` in the environment).
    pub token: String,
    /// Seconds between submission rounds in `candor serve`.
    pub interval_secs: u64,
    /// Per request.
    pub timeout_secs: u64,
    /// Retries of one request on 429, 5xx or a lost connection.
    pub max_retries: u32,
    /// First backoff; doubled per retry, at most 60 s.
    pub backoff_ms: u64,
}

impl Default for DsaConfig {
    fn default() -> Self {
        DsaConfig {
            enabled: false,
            endpoint: String::new(),
            token: String::new(),
            interval_secs: 300,
            timeout_secs: 30,
            max_retries: 6,
            backoff_ms: 1000,
        }
    }
}

impl DsaConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.enabled {
            anyhow::ensure!(
                self.endpoint.starts_with("https://") || self.endpoint.starts_with("http://"),
                "dsa.endpoint must be an http(s) URL when dsa.enabled"
            );
            anyhow::ensure!(
                !self.token.is_empty(),
                "dsa.token (or CANDOR_DSA_TOKEN) is required when dsa.enabled"
            );
            anyhow::ensure!(
                self.interval_secs >= 1,
                "dsa.interval_secs must be at least 1"
            );
        }
        Ok(())
    }
}

/// The statement's puid: the content id in the API's alphabet, then the decision id.
pub fn dsa_puid(content_puid: &str, decision_id: &str) -> String {
    fn api_alphabet(s: &str) -> impl Iterator<Item = char> + '_ {
        s.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
    }
    let tail: String = api_alphabet(decision_id).collect();
    let room = PUID_MAX.saturating_sub(tail.len() + 1);
    let head: String = api_alphabet(content_puid).take(room).collect();
    if head.is_empty() {
        tail.chars().take(PUID_MAX).collect()
    } else {
        format!("{head}-{tail}")
    }
}

/// One decision's statement as the API's JSON with its puid, or `None` when it is not for the
/// database (no EU/EEA territorial scope).
pub fn api_statement(decision_id: &str, stored: &str) -> Result<Option<(String, Value)>, String> {
    let st: candor_policy::Statement = serde_json::from_str(stored)
        .map_err(|e| format!("decision {decision_id}: stored statement: {e}"))?;
    if !st.in_dsa_scope || st.territorial_scope.is_empty() {
        return Ok(None);
    }
    let puid = dsa_puid(&st.puid, decision_id);
    let mut v = st.dsa_api_json();
    v["puid"] = Value::String(puid.clone());
    Ok(Some((puid, v)))
}

/// A batch to send: `(decision id, puid)` and the statements.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub ids: Vec<(String, String)>,
    pub statements: Vec<Value>,
    /// Decisions seen that are not for the database (no EU/EEA scope).
    pub out_of_scope: Vec<(String, String)>,
}

impl Batch {
    pub fn body(&self) -> Value {
        serde_json::json!({ "statements": self.statements })
    }
}

/// The next batch after `cursor` (a decision id, advanced past what was read): up to 100
/// statements for the database, and the decisions seen that are not for it. `all`: also those
/// already sent.
pub async fn next_batch(
    store: &Store,
    cursor: &mut String,
    all: bool,
) -> anyhow::Result<Option<Batch>> {
    let mut cur = Batch::default();
    while cur.statements.len() < BATCH_MAX {
        let want = (BATCH_MAX - cur.statements.len()) as i64;
        let rows = candor_store::dsa::unsent(store.reader(), cursor, want, all).await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            cursor.clone_from(&r.decision_id);
            match api_statement(&r.decision_id, &r.statement).map_err(anyhow::Error::msg)? {
                Some((puid, v)) => {
                    cur.ids.push((r.decision_id, puid));
                    cur.statements.push(v);
                }
                None => {
                    let puid = dsa_puid("", &r.decision_id);
                    cur.out_of_scope.push((r.decision_id, puid));
                }
            }
        }
    }
    Ok((!cur.statements.is_empty() || !cur.out_of_scope.is_empty()).then_some(cur))
}

/// Every statement for the database, in batches of at most 100 (`all`: also those already sent).
pub async fn export(store: &Store, all: bool) -> anyhow::Result<Vec<Batch>> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    while let Some(b) = next_batch(store, &mut cursor, all).await? {
        if !b.statements.is_empty() {
            out.push(b);
        }
    }
    Ok(out)
}

/// What a submission round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Accepted now.
    pub created: usize,
    /// The database already had them (an earlier round whose answer was lost).
    pub existing: usize,
    /// Not for the database (no EU/EEA scope): recorded so they are not considered again.
    pub out_of_scope: usize,
    /// Requests retried (429, 5xx, lost connections).
    pub retries: usize,
    pub batches: usize,
}

#[derive(Debug)]
enum Answer {
    Status(u16, Option<u64>, String),
    /// No answer: the request may or may not have reached the database.
    Lost(String),
}

fn agent(cfg: &DsaConfig) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(cfg.timeout_secs)))
            .user_agent("candor-dsa")
            .build(),
    )
}

fn base(cfg: &DsaConfig) -> String {
    cfg.endpoint.trim_end_matches('/').to_string()
}

fn post(cfg: &DsaConfig, body: &Value) -> Answer {
    let url = format!("{}/api/v1/statements", base(cfg));
    match agent(cfg)
        .post(&url)
        .header("Authorization", &format!("Bearer {}", cfg.token))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
    {
        Ok(mut r) => {
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let status = r.status().as_u16();
            let text = r
                .body_mut()
                .with_config()
                .limit(16 * 1024 * 1024)
                .read_to_string()
                .unwrap_or_default();
            Answer::Status(status, retry_after, text)
        }
        Err(e) => Answer::Lost(e.to_string()),
    }
}

/// `Some(true)` when the database has `puid`, `Some(false)` when not, `None` when it could not say.
fn exists(cfg: &DsaConfig, puid: &str) -> Option<bool> {
    let url = format!("{}/api/v1/statement/existing-puid/{puid}", base(cfg));
    match agent(cfg)
        .get(&url)
        .header("Authorization", &format!("Bearer {}", cfg.token))
        .header("Accept", "application/json")
        .call()
    {
        Ok(r) => match r.status().as_u16() {
            200 | 302 => Some(true),
            404 => Some(false),
            _ => None,
        },
        Err(_) => None,
    }
}

/// The puids a 422 says exist already (batch: `errors.existing_puids`; single:
/// `existing.puid`), or `None` when the 422 is a validation error.
fn existing_from_422(text: &str) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(text).ok()?;
    if let Some(list) = v
        .pointer("/errors/existing_puids")
        .and_then(Value::as_array)
    {
        return Some(
            list.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect(),
        );
    }
    v.pointer("/existing/puid")
        .and_then(Value::as_str)
        .map(|p| vec![p.to_string()])
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow::anyhow!("submission task: {e}"))
}

async fn record(
    store: &Store,
    ids: Vec<(String, String)>,
    how: &'static str,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let at = crate::now_rfc3339();
    store
        .write(move |ctx| {
            Box::pin(
                async move { candor_store::dsa::record_sent(&mut ctx.conn, &ids, &at, how).await },
            )
        })
        .await?;
    Ok(())
}

/// Send every statement not yet in the database; returns what was done. Stops with an error on
/// a validation error, a refused token, or when retries run out (what was sent stays recorded).
pub async fn submit(store: &Store, cfg: &DsaConfig) -> anyhow::Result<Report> {
    anyhow::ensure!(!cfg.endpoint.is_empty(), "no DSA endpoint configured");
    anyhow::ensure!(!cfg.token.is_empty(), "no DSA token configured");
    let mut report = Report::default();
    let mut cursor = String::new();
    loop {
        let Some(batch) = next_batch(store, &mut cursor, false).await? else {
            return Ok(report);
        };
        report.out_of_scope += batch.out_of_scope.len();
        record(store, batch.out_of_scope.clone(), "out_of_scope").await?;
        if batch.statements.is_empty() {
            continue;
        }
        report.batches += 1;
        let mut pending = batch;
        let mut attempt = 0u32;
        loop {
            let (c, body) = (cfg.clone(), pending.body());
            let answer = blocking(move || post(&c, &body)).await?;
            let retry_after = match answer {
                Answer::Status(201, _, _) => {
                    report.created += pending.ids.len();
                    metrics::counter!("candor_dsa_statements_total", "how" => "created")
                        .increment(pending.ids.len() as u64);
                    record(store, pending.ids.clone(), "created").await?;
                    break;
                }
                Answer::Status(422, _, text) => {
                    let Some(existing) = existing_from_422(&text) else {
                        anyhow::bail!(
                            "the Transparency Database refused a batch as invalid: {text}"
                        );
                    };
                    let (have, rest): (Vec<_>, Vec<_>) = pending
                        .ids
                        .iter()
                        .cloned()
                        .zip(pending.statements.iter().cloned())
                        .partition(|((_, p), _)| existing.contains(p));
                    anyhow::ensure!(
                        !have.is_empty(),
                        "the Transparency Database named existing puids that are not in the batch: {text}"
                    );
                    report.existing += have.len();
                    record(
                        store,
                        have.into_iter().map(|(id, _)| id).collect(),
                        "existing",
                    )
                    .await?;
                    if rest.is_empty() {
                        break;
                    }
                    let (ids, statements) = rest.into_iter().unzip();
                    pending = Batch {
                        ids,
                        statements,
                        out_of_scope: Vec::new(),
                    };
                    continue;
                }
                Answer::Status(s @ (401 | 403), _, text) => {
                    anyhow::bail!("the Transparency Database refused the token (HTTP {s}): {text}")
                }
                Answer::Status(s, ra, text) if s == 429 || s >= 500 => {
                    tracing::warn!(status = s, body = %text, "DSA submission: will retry");
                    ra
                }
                Answer::Status(s, _, text) => {
                    anyhow::bail!("the Transparency Database answered HTTP {s}: {text}")
                }
                Answer::Lost(why) => {
                    tracing::warn!(%why, "DSA submission: no answer; checking which statements arrived");
                    // Which of the batch arrived? Record those, resend the rest.
                    let (c, ids) = (cfg.clone(), pending.ids.clone());
                    let known = blocking(move || {
                        ids.iter().map(|(_, p)| exists(&c, p)).collect::<Vec<_>>()
                    })
                    .await?;
                    if known.iter().all(Option::is_some) {
                        let mut have = Vec::new();
                        let mut rest = Batch::default();
                        for ((id, st), k) in pending.ids.iter().zip(&pending.statements).zip(known)
                        {
                            if k == Some(true) {
                                have.push(id.clone());
                            } else {
                                rest.ids.push(id.clone());
                                rest.statements.push(st.clone());
                            }
                        }
                        report.existing += have.len();
                        record(store, have, "existing").await?;
                        if rest.statements.is_empty() {
                            break;
                        }
                        pending = rest;
                    }
                    None
                }
            };
            attempt += 1;
            report.retries += 1;
            if attempt > cfg.max_retries {
                anyhow::bail!(
                    "the Transparency Database did not take a batch after {} retries; what was sent is recorded, rerun to continue",
                    cfg.max_retries
                );
            }
            let backoff = cfg
                .backoff_ms
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(60_000);
            let wait = retry_after.map_or(backoff, |s| s.saturating_mul(1000).min(60_000));
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
}

/// `candor serve`: a submission round every `interval_secs` while the service runs.
pub fn spawn_submitter(store: Store, cfg: DsaConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(cfg.interval_secs));
        loop {
            tick.tick().await;
            match submit(&store, &cfg).await {
                Ok(r) if r.created + r.existing > 0 => {
                    tracing::info!(
                        created = r.created,
                        existing = r.existing,
                        "DSA statements submitted"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "DSA submission failed; next round retries"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puids_fit_the_api() {
        let d = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        assert_eq!(dsa_puid("msg-1", d), format!("msg-1-{d}"));
        assert_eq!(dsa_puid("a/b c:é", d), format!("a_b_c__-{d}"));
        let long = "x".repeat(2000);
        let p = dsa_puid(&long, d);
        assert_eq!(p.len(), 500);
        assert!(p.ends_with(d));
        assert!(p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(dsa_puid("", d), d);
        // Two decisions on one content: two puids.
        assert_ne!(dsa_puid("m", "a"), dsa_puid("m", "b"));
    }

    #[test]
    fn duplicate_answers() {
        let multi = r#"{"message":"The platform identifier(s) are not all unique within this call.","errors":{"puid":["The platform identifier(s) are not all unique within this call."],"existing_puids":["p1","p2"]}}"#;
        assert_eq!(
            existing_from_422(multi),
            Some(vec!["p1".into(), "p2".into()])
        );
        let single = r#"{"message":"The identifier given is not unique within this platform.","errors":{"puid":["The identifier given is not unique within this platform."]},"existing":{"puid":"p9"}}"#;
        assert_eq!(existing_from_422(single), Some(vec!["p9".into()]));
        let invalid = r#"{"message":"The decision ground field is required.","errors":{"decision_ground":["The decision ground field is required."]}}"#;
        assert_eq!(existing_from_422(invalid), None);
        assert_eq!(existing_from_422("<html>"), None);
    }
}
