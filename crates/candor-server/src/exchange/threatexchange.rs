//! Meta ThreatExchange: the threat updates of a privacy group (`GET {url}/{privacy_group}/
//! threat_updates/?access_token=&fields=&limit=[&start_time=][&after=]`, Graph API JSON), as
//! python-threatexchange reads them. An answer is `{data: [{id, indicator, type, last_updated,
//! should_delete}], paging: {cursors: {after}, next}}`; `type` `HASH_PDQ` is PDQ, `HASH_MD5` and
//! `HASH_VIDEO_MD5` MD5, `HASH_SHA1` SHA-1, `HASH_SHA256`/`HASH_VIDEO_SHA256` SHA-256, the rest
//! is skipped; `should_delete` deletes the value. A malformed update is skipped and counted.
//!
//! The access token travels in the query (the Graph API's way), so Candor never follows or
//! stores `paging.next` (a URL holding the token): it pages with `paging.cursors.after`.
//! Checkpoint: `{"start": S, "after": C, "max": M}` while pages follow (S the `start_time` of
//! this run, M the largest `last_updated` seen), then `{"start": M}`: the next run asks from
//! there (updates at exactly M are read again and deduplicated).

use serde_json::{json, Value};

use candor_formats::{parse_value, Record, SignalKind};

use super::{checkpoint_json, ExchangeConfig, Http, Page, Secret, Source, SourceError};

pub const DEFAULT_URL: &str = "https://graph.facebook.com/v21.0";

pub struct ThreatExchange {
    base: String,
    group: String,
    page_size: u32,
    token: Secret,
    http: Http,
}

impl ThreatExchange {
    pub fn new(cfg: &ExchangeConfig) -> Result<Self, SourceError> {
        let token = cfg.credential("access_token")?;
        let http = Http::new(cfg, &[&token]);
        Ok(ThreatExchange {
            base: cfg.base_url(DEFAULT_URL),
            group: cfg.privacy_group.clone().unwrap_or_default(),
            page_size: if cfg.page_size == 0 {
                500
            } else {
                cfg.page_size
            },
            token,
            http,
        })
    }
}

fn kind_of(te_type: &str) -> Option<SignalKind> {
    match te_type {
        "HASH_PDQ" => Some(SignalKind::Pdq),
        "HASH_MD5" | "HASH_VIDEO_MD5" => Some(SignalKind::Md5),
        "HASH_SHA1" => Some(SignalKind::Sha1),
        "HASH_SHA256" | "HASH_VIDEO_SHA256" => Some(SignalKind::Sha256),
        _ => None,
    }
}

/// One threat update as a record and its `last_updated`.
fn update(v: &Value, number: u64) -> Result<(Record, i64), String> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).ok_or(format!("no `{k}`"));
    let indicator = s("indicator")?;
    let te_type = s("type")?;
    let last = match v.get("last_updated") {
        Some(Value::Number(n)) => n.as_i64().ok_or("`last_updated` is not an integer")?,
        Some(Value::String(t)) => t.parse().map_err(|_| "`last_updated` is not a number")?,
        _ => return Err("no `last_updated`".into()),
    };
    let deleted = match v.get("should_delete") {
        Some(Value::Bool(b)) => *b,
        None => false,
        Some(_) => return Err("`should_delete` is not a boolean".into()),
    };
    let signal = match kind_of(te_type) {
        Some(k) => Some((k, parse_value(k, indicator)?)),
        None => None,
    };
    // ThreatExchange deletes by value; its indicator id is not needed as a bank key.
    let record = Record {
        number,
        source_id: None,
        signal,
        deleted,
    };
    Ok((record, last))
}

impl Source for ThreatExchange {
    fn fetch(&mut self, checkpoint: &str) -> Result<Page, SourceError> {
        let cp = checkpoint_json(checkpoint)?;
        let start = cp.get("start").and_then(Value::as_i64).unwrap_or(0);
        let after = cp.get("after").and_then(Value::as_str).unwrap_or("");
        let mut max = cp.get("max").and_then(Value::as_i64).unwrap_or(start);
        let mut url = format!(
            "{}/{}/threat_updates/?access_token={}&fields=id,indicator,type,last_updated,should_delete&limit={}",
            self.base,
            self.group,
            super::encode(&self.token.0),
            self.page_size
        );
        if start > 0 {
            url.push_str(&format!("&start_time={start}"));
        }
        if !after.is_empty() {
            url.push_str(&format!("&after={}", super::encode(after)));
        }
        let a = self
            .http
            .get(
                "ThreatExchange threat_updates",
                &url,
                &[("Accept", "application/json")],
            )
            .map_err(|e| match e.kind {
                // The Graph API answers a bad token with 400 and an OAuthException (code 190).
                "http" if e.message.contains("OAuthException") => SourceError {
                    kind: "credentials",
                    message: format!("ThreatExchange refused the access token: {}", e.message),
                },
                _ => e,
            })?;
        let v = super::json("ThreatExchange threat_updates", &a.body)?;
        let bad = |m: &str| SourceError::malformed(format!("ThreatExchange threat_updates: {m}"));
        let list = v
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no data array"))?;
        let mut page = Page::default();
        for (i, u) in list.iter().enumerate() {
            match update(u, i as u64 + 1) {
                Ok((r, last)) => {
                    max = max.max(last);
                    page.records.push(r);
                }
                Err(e) => {
                    tracing::warn!(record = i + 1, error = %e, "ThreatExchange: malformed update skipped");
                    page.malformed += 1;
                }
            }
        }
        let paging = v.get("paging");
        let next = paging.and_then(|p| p.get("next")).and_then(Value::as_str);
        let cursor = paging
            .and_then(|p| p.pointer("/cursors/after"))
            .and_then(Value::as_str);
        match (next, cursor) {
            (Some(n), Some(c)) if !n.is_empty() && !c.is_empty() && !list.is_empty() => {
                page.more = true;
                page.checkpoint = json!({"start": start, "after": c, "max": max}).to_string();
            }
            (Some(n), _) if !n.is_empty() && !list.is_empty() => {
                return Err(bad("paging.next without paging.cursors.after"));
            }
            _ => page.checkpoint = json!({ "start": max }).to_string(),
        }
        Ok(page)
    }
}
