//! StopNCII.org `FetchHashes` (`GET {url}/FetchHashes?startTimestamp=&pageSize=[&nextPageToken=]`,
//! headers `x-functions-key` and `Ocp-Apim-Subscription-Key`), as python-threatexchange's
//! client calls it. An answer is `{count, nextPageToken, nextSetTimestamp, hasMoreRecords,
//! hashRecords: [...]}`; each record is read by `candor_formats::stopncii_record` (`signalType`
//! `ImagePDQ`/`VideoMD5`, `hashStatus` `Withdrawn`/`Deleted` = a deletion by value). A
//! malformed record is skipped and counted (python-threatexchange does the same); a malformed
//! answer fails the page.
//!
//! Checkpoint: `{"start": S, "token": T}` while `hasMoreRecords` (the same `startTimestamp`
//! with the page token), then `{"start": nextSetTimestamp}` once the set is read.

use serde_json::{json, Value};

use super::{checkpoint_json, ExchangeConfig, Http, Page, Secret, Source, SourceError};

pub const DEFAULT_URL: &str = "https://api.stopncii.org/v1";
/// python-threatexchange's `DEFAULT_START_TIME`.
const START: i64 = 10;

pub struct StopNcii {
    base: String,
    page_size: u32,
    subscription_key: Secret,
    function_key: Secret,
    http: Http,
}

impl StopNcii {
    pub fn new(cfg: &ExchangeConfig) -> Result<Self, SourceError> {
        let subscription_key = cfg.credential("subscription_key")?;
        let function_key = cfg.credential("fetch_function_key")?;
        let http = Http::new(cfg, &[&subscription_key, &function_key]);
        Ok(StopNcii {
            base: cfg.base_url(DEFAULT_URL),
            page_size: if cfg.page_size == 0 {
                800
            } else {
                cfg.page_size
            },
            subscription_key,
            function_key,
            http,
        })
    }
}

impl Source for StopNcii {
    fn fetch(&mut self, checkpoint: &str) -> Result<Page, SourceError> {
        let cp = checkpoint_json(checkpoint)?;
        let start = cp.get("start").and_then(Value::as_i64).unwrap_or(START);
        let token = cp.get("token").and_then(Value::as_str).unwrap_or("");
        let mut url = format!(
            "{}/FetchHashes?startTimestamp={start}&pageSize={}",
            self.base, self.page_size
        );
        if !token.is_empty() {
            url.push_str(&format!("&nextPageToken={}", super::encode(token)));
        }
        let a = self.http.get(
            "StopNCII FetchHashes",
            &url,
            &[
                ("x-functions-key", &self.function_key.0),
                ("Ocp-Apim-Subscription-Key", &self.subscription_key.0),
                ("Accept", "application/json"),
            ],
        )?;
        let v = super::json("StopNCII FetchHashes", &a.body)?;
        let bad = |m: &str| SourceError::malformed(format!("StopNCII FetchHashes: {m}"));
        let list = v
            .get("hashRecords")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no hashRecords array"))?;
        let more = v
            .get("hasMoreRecords")
            .and_then(Value::as_bool)
            .ok_or_else(|| bad("no hasMoreRecords"))?;
        let mut page = Page {
            more,
            ..Page::default()
        };
        for (i, r) in list.iter().enumerate() {
            match candor_formats::stopncii_record(r, i as u64 + 1) {
                Ok(rec) => page.records.push(rec),
                Err(e) => {
                    tracing::warn!(record = i + 1, error = %e, "StopNCII: malformed record skipped");
                    page.malformed += 1;
                }
            }
        }
        page.checkpoint = if more {
            let next = v
                .get("nextPageToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| bad("hasMoreRecords without a nextPageToken"))?;
            json!({"start": start, "token": next}).to_string()
        } else {
            let next = v
                .get("nextSetTimestamp")
                .and_then(Value::as_i64)
                .ok_or_else(|| bad("no nextSetTimestamp"))?;
            json!({ "start": next }).to_string()
        };
        Ok(page)
    }
}
