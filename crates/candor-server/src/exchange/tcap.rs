//! Tech Against Terrorism's TCAP hash list, as python-threatexchange's client reads it: a JWT
//! from `POST {url}/token-auth/tcap/` (form `username`, `password`; answer `{"token"}`), then
//! `GET {url}/api/hash-list/v2/all?order=asc&after=<checkpoint>&limit=N` with `Authorization:
//! Bearer`. An answer is `{count, next, previous, checkpoint, results: [...]}`; each entry is
//! read by `candor_formats::tcap_record` (`hash_digest`, `algorithm`, `deleted`, `id`). A
//! malformed entry is skipped and counted; a malformed answer fails the page.
//!
//! Checkpoint: the answer's `checkpoint` (`"<updated_on>,<id>"` of its last entry). Candor
//! pages by keyset — each request asks for the entries `after` the stored checkpoint — so a
//! page is never skipped or read twice whatever `next`'s offsets say; `next` null = up to date.

use serde_json::Value;

use super::{ExchangeConfig, Http, Page, Secret, Source, SourceError};

pub const DEFAULT_URL: &str = "https://app.terrorismanalytics.org";

pub struct Tcap {
    base: String,
    page_size: u32,
    username: Secret,
    password: Secret,
    token: Option<Secret>,
    http: Http,
}

impl Tcap {
    pub fn new(cfg: &ExchangeConfig) -> Result<Self, SourceError> {
        let username = cfg.credential("username")?;
        let password = cfg.credential("password")?;
        let http = Http::new(cfg, &[&password]);
        Ok(Tcap {
            base: cfg.base_url(DEFAULT_URL),
            page_size: if cfg.page_size == 0 {
                1000
            } else {
                cfg.page_size
            },
            username,
            password,
            token: None,
            http,
        })
    }

    fn token(&mut self) -> Result<Secret, SourceError> {
        if let Some(t) = &self.token {
            return Ok(t.clone());
        }
        let a = self
            .http
            .post_form(
                "TCAP token-auth",
                &format!("{}/token-auth/tcap/", self.base),
                &[
                    ("username", &self.username.0),
                    ("password", &self.password.0),
                    ("resend", "false"),
                ],
            )
            .map_err(|e| match e.kind {
                // Django REST framework's token view answers a refused login with 400.
                "http" if e.message.contains("HTTP 400") => SourceError {
                    kind: "credentials",
                    message: format!("TCAP refused the username or password: {}", e.message),
                },
                _ => e,
            })?;
        let v = super::json("TCAP token-auth", &a.body)?;
        let t = v
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SourceError::malformed("TCAP token-auth: no token in the answer"))?;
        let t = Secret(t.to_string());
        self.http.add_secret(&t.0);
        self.token = Some(t.clone());
        Ok(t)
    }
}

impl Source for Tcap {
    fn fetch(&mut self, checkpoint: &str) -> Result<Page, SourceError> {
        let token = self.token()?;
        let url = format!(
            "{}/api/hash-list/v2/all?order=asc&after={}&limit={}",
            self.base,
            super::encode(checkpoint),
            self.page_size
        );
        let auth = format!("Bearer {}", token.0);
        let a = match self.http.get(
            "TCAP hash list",
            &url,
            &[("Authorization", &auth), ("Accept", "application/json")],
        ) {
            Err(e) if e.kind == "credentials" => {
                // The JWT expired: one new one.
                self.token = None;
                let token = self.token()?;
                let auth = format!("Bearer {}", token.0);
                self.http.get(
                    "TCAP hash list",
                    &url,
                    &[("Authorization", &auth), ("Accept", "application/json")],
                )?
            }
            r => r?,
        };
        let v = super::json("TCAP hash list", &a.body)?;
        let bad = |m: &str| SourceError::malformed(format!("TCAP hash list: {m}"));
        let list = v
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no results array"))?;
        let more = match v.get("next") {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => return Err(bad("next is not a URL or null")),
        };
        let mut page = Page {
            more,
            replace_by_id: true,
            ..Page::default()
        };
        for (i, r) in list.iter().enumerate() {
            match candor_formats::tcap_record(r, i as u64 + 1) {
                Ok(rec) => page.records.push(rec),
                Err(e) => {
                    tracing::warn!(record = i + 1, error = %e, "TCAP: malformed entry skipped");
                    page.malformed += 1;
                }
            }
        }
        page.checkpoint = match v.get("checkpoint") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ if list.is_empty() => checkpoint.to_string(),
            _ => return Err(bad("no checkpoint")),
        };
        if page.checkpoint == checkpoint && !list.is_empty() && more {
            return Err(bad("the checkpoint did not advance"));
        }
        Ok(page)
    }
}
