//! Exchange clients: the I/O edge that reads a hash-sharing source page by page. One module per
//! source ([`ncmec`], [`stopncii`], [`tcap`], [`threatexchange`], [`file`]), each a [`Source`]:
//! given the stored checkpoint (kind-specific text, empty = from the beginning) it fetches the
//! next page and answers its records, the checkpoint after them and whether more follow. The
//! sync flow (`crate::flows::exchanges`) applies each page and stores its checkpoint in the same
//! write job.
//!
//! Requests are blocking `ureq` calls (the flow runs them on the blocking pool) with a time
//! limit per request and a size limit per answer; no redirects are followed (a source's next
//! page is a path or a cursor, never another host). Credentials come from the configuration or
//! from named environment variables ([`Secret`]); they are sent in headers (or, for
//! ThreatExchange, in the query as its API requires) and scrubbed from every error text
//! ([`Http::redact`]), never logged, never stored.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use candor_formats::Record;
use serde::Deserialize;

pub mod file;
pub mod ncmec;
pub mod stopncii;
pub mod tcap;
pub mod threatexchange;

/// Log directives every subscriber of Candor's binaries adds: `ureq`'s debug and trace output
/// dumps requests byte for byte (credentials included), so it is capped at `info`.
pub const WIRE_LOG_CAPS: [&str; 2] = ["ureq=info", "ureq_proto=info"];

/// The kinds of exchange.
pub const KINDS: [&str; 5] = ["ncmec", "stopncii", "tcap", "threatexchange", "file"];

/// A credential: its `Debug` never shows it.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One `[[exchange]]` table of the configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    /// The exchange's name (its row in the store, `candor exchange sync NAME`).
    pub name: String,
    /// `ncmec`, `stopncii`, `tcap`, `threatexchange` or `file`.
    pub kind: String,
    /// The bank it keeps in sync. It must exist (create it with its category first); a sync
    /// of an exchange whose bank is missing fails with that message.
    pub bank: String,
    /// The source's base URL (default: the source's public endpoint).
    #[serde(default)]
    pub url: Option<String>,
    /// `file`: the list file, and its format (a `candor-formats` name; default `lines`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub format: Option<String>,
    /// `threatexchange`: the privacy group whose threat updates are read.
    #[serde(default)]
    pub privacy_group: Option<String>,
    /// Credentials by name (see each kind), in the file …
    #[serde(default)]
    pub credentials: BTreeMap<String, Secret>,
    /// … or the names of environment variables holding them (these win).
    #[serde(default)]
    pub credentials_env: BTreeMap<String, String>,
    /// Seconds between scheduled syncs in `candor serve` (0: only on demand).
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Per request.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Largest answer read (bytes); a larger page fails the sync with that message.
    #[serde(default = "default_max_bytes")]
    pub max_response_bytes: u64,
    /// Records asked for per page (0: the source's default).
    #[serde(default)]
    pub page_size: u32,
}

fn default_interval() -> u64 {
    3600
}
fn default_timeout() -> u64 {
    60
}
fn default_max_bytes() -> u64 {
    64 << 20
}

/// The credentials each kind needs.
pub fn required_credentials(kind: &str) -> &'static [&'static str] {
    match kind {
        "ncmec" => &["user", "password"],
        "stopncii" => &["subscription_key", "fetch_function_key"],
        "tcap" => &["username", "password"],
        "threatexchange" => &["access_token"],
        _ => &[],
    }
}

impl ExchangeConfig {
    /// An exchange of `kind` keeping `bank`, every other setting at its default (what an
    /// exchange created through the API starts from).
    pub fn new(name: &str, kind: &str, bank: &str) -> ExchangeConfig {
        ExchangeConfig {
            name: name.to_string(),
            kind: kind.to_string(),
            bank: bank.to_string(),
            url: None,
            path: None,
            format: None,
            privacy_group: None,
            credentials: BTreeMap::new(),
            credentials_env: BTreeMap::new(),
            interval_secs: default_interval(),
            timeout_secs: default_timeout(),
            max_response_bytes: default_max_bytes(),
            page_size: 0,
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let n = &self.name;
        anyhow::ensure!(
            !n.is_empty()
                && n.len() <= 64
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "exchange name {n:?}: 1-64 letters, digits, '-' or '_'"
        );
        anyhow::ensure!(
            KINDS.contains(&self.kind.as_str()),
            "exchange {n}: kind {:?} is not one of {}",
            self.kind,
            KINDS.join(", ")
        );
        anyhow::ensure!(!self.bank.is_empty(), "exchange {n}: bank is required");
        if let Some(u) = &self.url {
            anyhow::ensure!(
                u.starts_with("https://") || u.starts_with("http://"),
                "exchange {n}: url must be an http(s) URL"
            );
        }
        if self.kind == "file" {
            anyhow::ensure!(
                self.path.is_some(),
                "exchange {n}: a file exchange needs path"
            );
            let f = self.format.as_deref().unwrap_or("lines");
            anyhow::ensure!(
                candor_formats::Format::parse(f).is_some(),
                "exchange {n}: unknown format {f:?}"
            );
        }
        if self.kind == "threatexchange" {
            anyhow::ensure!(
                self.privacy_group
                    .as_deref()
                    .is_some_and(|g| !g.is_empty() && g.chars().all(|c| c.is_ascii_digit())),
                "exchange {n}: a threatexchange exchange needs privacy_group (its numeric id)"
            );
        }
        for k in self.credentials.keys().chain(self.credentials_env.keys()) {
            anyhow::ensure!(
                required_credentials(&self.kind).contains(&k.as_str()),
                "exchange {n}: {:?} is not a credential of {} (those are: {})",
                k,
                self.kind,
                required_credentials(&self.kind).join(", ")
            );
        }
        anyhow::ensure!(
            self.timeout_secs >= 1 && self.max_response_bytes >= 1024,
            "exchange {n}: timeout_secs must be at least 1 and max_response_bytes at least 1024"
        );
        Ok(())
    }

    /// Credential `key`: the environment variable named in `credentials_env`, else the file's.
    pub fn credential(&self, key: &str) -> Result<Secret, SourceError> {
        if let Some(var) = self.credentials_env.get(key) {
            return match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                _ => Err(SourceError::config(format!(
                    "credential {key:?}: environment variable {var} is not set"
                ))),
            };
        }
        match self.credentials.get(key) {
            Some(s) if !s.0.is_empty() => Ok(s.clone()),
            _ => Err(SourceError::config(format!(
                "credential {key:?} is missing: set it in [exchange.credentials], name an \
                 environment variable in [exchange.credentials_env], or set the API's \
                 credentials (HMA's POST /c/exchanges/api/<api>)"
            ))),
        }
    }

    fn base_url(&self, default: &str) -> String {
        self.url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
            .to_string()
    }
}

/// One page read from a source.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub records: Vec<Record>,
    /// Records the source sent that could not be read (skipped and counted).
    pub malformed: u64,
    /// Where the next fetch starts once this page is applied.
    pub checkpoint: String,
    /// More pages follow now (false: the exchange is up to date).
    pub more: bool,
    /// An entry re-sent with its id carries all its signals: the ones it no longer lists are
    /// retracted (NCMEC, TCAP).
    pub replace_by_id: bool,
}

/// Why a page could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// `config`, `credentials`, `http`, `unreachable`, `too_large`, `malformed`.
    pub kind: &'static str,
    pub message: String,
}

impl SourceError {
    pub fn config(m: impl Into<String>) -> Self {
        SourceError {
            kind: "config",
            message: m.into(),
        }
    }
    pub fn malformed(m: impl Into<String>) -> Self {
        SourceError {
            kind: "malformed",
            message: m.into(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A source of pages.
pub trait Source: Send {
    /// The page after `checkpoint` (blocking).
    fn fetch(&mut self, checkpoint: &str) -> Result<Page, SourceError>;
}

/// The client for an exchange's kind.
pub fn client(cfg: &ExchangeConfig) -> Result<Box<dyn Source>, SourceError> {
    Ok(match cfg.kind.as_str() {
        "ncmec" => Box::new(ncmec::Ncmec::new(cfg)?),
        "stopncii" => Box::new(stopncii::StopNcii::new(cfg)?),
        "tcap" => Box::new(tcap::Tcap::new(cfg)?),
        "threatexchange" => Box::new(threatexchange::ThreatExchange::new(cfg)?),
        "file" => Box::new(file::LocalFile::new(cfg)?),
        k => return Err(SourceError::config(format!("unknown exchange kind {k:?}"))),
    })
}

/// A blocking HTTP client for one exchange: time and size limits, no redirects, and the
/// exchange's secrets scrubbed from every error.
pub struct Http {
    agent: ureq::Agent,
    max_bytes: u64,
    secrets: Vec<String>,
}

/// An answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Http {
    pub fn new(cfg: &ExchangeConfig, secrets: &[&Secret]) -> Http {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(Duration::from_secs(cfg.timeout_secs)))
                .user_agent("candor-exchange")
                .build(),
        );
        let mut secrets: Vec<String> = secrets
            .iter()
            .filter(|s| !s.0.is_empty())
            .map(|s| s.0.clone())
            .collect();
        // Percent-encoded forms too (a token in a query string).
        let encoded: Vec<String> = secrets.iter().map(|s| encode(s)).collect();
        secrets.extend(encoded);
        Http {
            agent,
            max_bytes: cfg.max_response_bytes,
            secrets,
        }
    }

    /// Scrub `secret` (one learnt later, e.g. a session token) from errors too.
    pub fn add_secret(&mut self, secret: &str) {
        if !secret.is_empty() {
            self.secrets.push(secret.to_string());
            self.secrets.push(encode(secret));
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut t = text.to_string();
        for s in &self.secrets {
            if !s.is_empty() {
                t = t.replace(s.as_str(), "***");
            }
        }
        t
    }

    fn read(
        &self,
        what: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer, SourceError> {
        let mut r = r.map_err(|e| SourceError {
            kind: "unreachable",
            message: self.redact(&format!("{what}: {e}")),
        })?;
        let status = r.status().as_u16();
        let body = crate::fetch::read_at_most(r.body_mut().with_config().reader(), self.max_bytes)
            .map_err(|e| SourceError {
                kind: "unreachable",
                message: self.redact(&format!("{what}: reading the answer: {e}")),
            })?
            .ok_or_else(|| SourceError {
                kind: "too_large",
                message: format!(
                    "{what}: the answer is larger than max_response_bytes ({} bytes)",
                    self.max_bytes
                ),
            })?;
        match status {
            200..=299 => Ok(Answer { status, body }),
            401 | 403 => Err(SourceError {
                kind: "credentials",
                message: format!(
                    "{what}: the source refused the credentials (HTTP {status}): {}",
                    self.snippet(&body)
                ),
            }),
            s => Err(SourceError {
                kind: "http",
                message: format!("{what}: HTTP {s}: {}", self.snippet(&body)),
            }),
        }
    }

    fn snippet(&self, body: &[u8]) -> String {
        let t = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        self.redact(t.trim())
    }

    /// `GET url` with `headers`; `what` names the request in errors (never the URL's query).
    pub fn get(
        &self,
        what: &str,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Answer, SourceError> {
        let mut req = self.agent.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.read(what, req.call())
    }

    /// `POST url` with a form body.
    pub fn post_form(
        &self,
        what: &str,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<Answer, SourceError> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let req = self
            .agent
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json");
        self.read(what, req.send(body.as_bytes()))
    }
}

/// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A JSON answer, or a `malformed` error naming the source.
pub fn json(what: &str, body: &[u8]) -> Result<serde_json::Value, SourceError> {
    serde_json::from_slice(body)
        .map_err(|e| SourceError::malformed(format!("{what}: the answer is not JSON: {e}")))
}

/// A checkpoint's JSON object (empty text: `{}`), or a clear error.
pub fn checkpoint_json(
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, SourceError> {
    if text.is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(SourceError::config(format!(
            "the stored checkpoint {text:?} is not this kind's; reset the exchange"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_everywhere() {
        let cfg: ExchangeConfig = toml::from_str(
            "name = \"n\"\nkind = \"threatexchange\"\nbank = \"b\"\nprivacy_group = \"1\"\n\
             [credentials]\naccess_token = \"123|s3cr+t\"\n",
        )
        .unwrap();
        cfg.validate().unwrap();
        let s = cfg.credential("access_token").unwrap();
        assert!(!format!("{cfg:?}").contains("s3cr"));
        let h = Http::new(&cfg, &[&s]);
        assert_eq!(
            h.redact("GET /1/threat_updates/?access_token=123%7Cs3cr%2Bt failed, 123|s3cr+t"),
            "GET /1/threat_updates/?access_token=*** failed, ***"
        );
        assert!(cfg.credential("nope").is_err());
    }

    #[test]
    fn config_is_checked() {
        let bad = |t: &str| {
            toml::from_str::<ExchangeConfig>(t)
                .map_err(|e| e.to_string())
                .and_then(|c| c.validate().map_err(|e| e.to_string()))
        };
        assert!(bad("name = \"a b\"\nkind = \"file\"\nbank = \"b\"\npath = \"x\"").is_err());
        assert!(bad("name = \"a\"\nkind = \"nope\"\nbank = \"b\"").is_err());
        assert!(bad("name = \"a\"\nkind = \"file\"\nbank = \"b\"").is_err());
        assert!(
            bad("name = \"a\"\nkind = \"ncmec\"\nbank = \"b\"\n[credentials]\ntoken = \"x\"")
                .is_err()
        );
        assert!(bad("name = \"a\"\nkind = \"ncmec\"\nbank = \"b\"\n[credentials_env]\nuser = \"U\"\npassword = \"P\"").is_ok());
    }
}
