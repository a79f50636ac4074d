//! NCMEC's hash-sharing API (`GET {url}/v2/entries?from=&to=`, HTTP basic auth; XML), as its
//! documentation and python-threatexchange's client describe it. An answer is a `queryResult`
//! with `<images>`/`<videos>` of `<image>`, `<video>`, `<deletedImage>`, `<deletedVideo>`
//! entries and `<paging><next>` — the path of the next page of the same time range (`…&start=
//! &size=&max=`), empty on the last one. Entries are read by `candor_formats::ncmec_page`: one
//! record per fingerprint Candor has (`md5`, `sha1`, `pdq`), deletions by entry id. A malformed
//! document or entry fails the page (NCMEC's paging cannot step over part of a page).
//!
//! Checkpoint: a sync reads the time range `[from, to)` (`to` = now − 5 s when it starts, as
//! python-threatexchange does, since entries are not ordered by time inside a range): while the
//! range has pages left it is `{"from": F, "to": T, "next": "<path>"}` (resumed with that same
//! path), and once the range is read `{"from": T}`, the next range's start. An entry re-sent
//! (updated) carries all its fingerprints: those it no longer lists are retracted
//! ([`Page::replace_by_id`]).

use serde_json::{json, Value};

use super::{checkpoint_json, ExchangeConfig, Http, Page, Secret, Source, SourceError};

pub const DEFAULT_URL: &str = "https://report.cybertip.org/hashsharing";

pub struct Ncmec {
    base: String,
    auth: String,
    http: Http,
}

impl Ncmec {
    pub fn new(cfg: &ExchangeConfig) -> Result<Self, SourceError> {
        use base64::Engine;
        let user = cfg.credential("user")?;
        let password = cfg.credential("password")?;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", user.0, password.0));
        let auth = Secret(format!("Basic {basic}"));
        let mut http = Http::new(cfg, &[&password, &auth]);
        http.add_secret(&basic);
        Ok(Ncmec {
            base: cfg.base_url(DEFAULT_URL),
            auth: auth.0,
            http,
        })
    }
}

/// NCMEC's date format, UTC.
pub fn date(ts: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ts.max(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

impl Source for Ncmec {
    fn fetch(&mut self, checkpoint: &str) -> Result<Page, SourceError> {
        let cp = checkpoint_json(checkpoint)?;
        let from = cp.get("from").and_then(Value::as_i64).unwrap_or(0);
        let next = cp.get("next").and_then(Value::as_str).unwrap_or("");
        let to = match cp.get("to").and_then(Value::as_i64) {
            Some(t) if !next.is_empty() => t,
            _ => time::OffsetDateTime::now_utc().unix_timestamp() - 5,
        };
        if to <= from && next.is_empty() {
            return Ok(Page {
                checkpoint: checkpoint.to_string(),
                ..Page::default()
            });
        }
        let url = if next.is_empty() {
            format!(
                "{}/v2/entries?from={}&to={}",
                self.base,
                super::encode(&date(from)),
                super::encode(&date(to))
            )
        } else {
            format!("{}{next}", self.base)
        };
        let a = self.http.get(
            "NCMEC entries",
            &url,
            &[("Authorization", &self.auth), ("Accept", "application/xml")],
        )?;
        let (records, next) = candor_formats::ncmec_page(std::io::Cursor::new(&a.body));
        let mut page = Page {
            replace_by_id: true,
            ..Page::default()
        };
        for r in records {
            page.records.push(r.map_err(|e| {
                SourceError::malformed(format!("NCMEC entries: {e} (the page was not applied)"))
            })?);
        }
        let next = next.unwrap_or_default();
        let next = next.trim();
        if next.is_empty() {
            page.checkpoint = json!({ "from": to }).to_string();
        } else {
            if !next.starts_with('/') || next.starts_with("//") {
                return Err(SourceError::malformed(format!(
                    "NCMEC entries: the next page {next:?} is not a path on the same server"
                )));
            }
            page.more = true;
            page.checkpoint = json!({"from": from, "to": to, "next": next}).to_string();
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_utc() {
        assert_eq!(super::date(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::date(1508857800), "2017-10-24T15:10:00Z");
    }
}
