//! Service configuration: defaults, a TOML file, then `CANDOR_*` environment overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything `candor serve` can be told. Every field has a default: a first run needs none.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Data directory: the SQLite database and the log's signing key.
    pub data: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// Largest request body accepted (bytes); uploads above it get 413. Not for imports
    /// (`max_import_bytes`).
    pub max_body_bytes: usize,
    /// Largest body of `POST /v1/banks/{bank}/import` (bytes); 413 above it. The body is read
    /// as it arrives and only its parsed hashes are kept (~50 bytes each).
    pub max_import_bytes: usize,
    /// Most hashes in one import (one atomic write that holds the writer while it runs); a
    /// longer list is split into several imports. 413 above it.
    pub max_import_lines: usize,
    /// An import — reading its body and writing it — must finish within this many seconds
    /// (408 otherwise); a pause of `request_timeout_secs` in its body also ends it.
    pub import_timeout_secs: u64,
    /// Decode limits for uploaded images.
    pub max_image_pixels: u64,
    pub max_image_dimension: u32,
    /// Default PDQ threshold for new banks.
    pub pdq_threshold: u32,
    /// Match the 8 rotations/flips and the border-trimmed hash of uploads by default.
    pub match_dihedral: bool,
    pub match_trimmed: bool,
    /// Ignore PDQ hashes of uploads whose quality is below this (0 = keep all).
    pub pdq_min_quality: u8,
    /// Policies file (TOML) loaded at start when the store holds no policies yet.
    pub policies: Option<PathBuf>,
    /// The log's origin line and key name (a schema-less URL such as `example.com/candor`).
    pub log_origin: String,
    /// Most jobs per write transaction (group commit).
    pub max_batch: usize,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// A client must send a whole request header within this many seconds of connecting (or
    /// of its first header byte on a kept-alive connection), or it is disconnected.
    pub header_read_timeout_secs: u64,
    /// A request — reading its body and answering it — must finish within this many seconds
    /// (408 otherwise): a body trickled a byte at a time cannot hold a worker.
    pub request_timeout_secs: u64,
    /// A kept-alive connection with no request for this many seconds is closed.
    pub idle_timeout_secs: u64,
    /// Most open connections. At the cap a new connection displaces the longest-idle one
    /// (one that is between requests or has not finished its header); when every connection
    /// is busy it gets 503.
    pub max_connections: usize,
    /// Most uploads hashed at once (decoding is the expensive part); beyond it, 503 with
    /// `Retry-After` at once instead of a queue without bound. 0 = twice the cores.
    pub max_inflight_uploads: usize,
    /// `[fetch]`: fetching content by URL (off by default; see `crate::fetch`).
    pub fetch: crate::fetch::FetchConfig,
    /// `[dsa]`: statements of reasons to the EU DSA Transparency Database (`crate::flows::dsa`).
    pub dsa: crate::flows::dsa::DsaConfig,
    /// Every this many seconds, write a snapshot of the match index and the numbers if the log
    /// grew (`DIR/snapshot/`; one is also written at graceful shutdown and after a start that
    /// had to rebuild or catch up). 0 = only then.
    pub snapshot_interval_secs: u64,
    /// The database: unset for the embedded SQLite file `DIR/candor.db`; `postgres://…` for one
    /// PostgreSQL shared by several nodes (each keeps its own data directory for its key copy
    /// and snapshot). Environment `CANDOR_DATABASE_URL`.
    pub database_url: Option<String>,
    /// On PostgreSQL, how often a node re-reads the log for other nodes' changes when no
    /// notification arrives (a safety net; notifications wake it at once).
    pub follow_poll_millis: u64,
    /// PDQ match table layout: `auto` (split below 4M hashes per table segment, compact
    /// above), `split` (fastest lookups, ~100 bytes a hash with the hash itself) or `compact`
    /// (least memory, ~58 bytes a hash, several times slower at radius 31). See
    /// `candor_index::Layout`.
    pub index_layout: String,
    /// The DSA statement category of a bank created through HMA's API (`POST /c/banks` has no
    /// category); a curator may change it with `PATCH /v1/banks/{bank}`.
    pub hma_bank_category: String,
    /// Readiness fails (`/readyz` 503 `behind`) while the match index is more than this many
    /// log entries behind the store (0 = no bound). Only a node following a shared database
    /// can fall behind; on SQLite the index is current at every commit.
    pub index_max_lag_entries: u64,
    /// Readiness fails while the match index has not held everything committed for more than
    /// this many seconds (0 = no bound).
    pub index_max_lag_secs: u64,
    /// `[[exchange]]`: banks kept in sync with hash-sharing sources (`crate::exchange`,
    /// `crate::flows::exchanges`).
    pub exchange: Vec<crate::exchange::ExchangeConfig>,
    /// How often `candor serve` re-reads the exchanges (the config file's and those created
    /// through the API, on any node) and starts the syncs that are due (seconds).
    pub exchange_schedule_secs: u64,
    /// Hosts an exchange created through the API may name in its `url` (or StopNCII's
    /// `base_url_override`), exactly (no wildcards). Empty: such an exchange uses its source's
    /// public endpoint (NCMEC: one of its environments), so a curator cannot point the server
    /// at another address.
    pub exchange_api_hosts: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("candor-data"),
            listen: "127.0.0.1:8080".parse().expect("valid address"),
            max_body_bytes: 32 * 1024 * 1024,
            max_import_bytes: 256 * 1024 * 1024,
            max_import_lines: 1_000_000,
            import_timeout_secs: 600,
            max_image_pixels: 64_000_000,
            max_image_dimension: 20_000,
            pdq_threshold: 31,
            match_dihedral: true,
            match_trimmed: true,
            pdq_min_quality: 0,
            policies: None,
            log_origin: "localhost/candor".into(),
            max_batch: 1024,
            log_format: "text".into(),
            header_read_timeout_secs: 10,
            request_timeout_secs: 60,
            idle_timeout_secs: 60,
            max_connections: 1024,
            max_inflight_uploads: 0,
            fetch: crate::fetch::FetchConfig::default(),
            dsa: crate::flows::dsa::DsaConfig::default(),
            snapshot_interval_secs: 300,
            database_url: None,
            follow_poll_millis: 500,
            index_layout: "auto".into(),
            hma_bank_category: "STATEMENT_CATEGORY_OTHER_VIOLATION_TC".into(),
            index_max_lag_entries: 0,
            index_max_lag_secs: 30,
            exchange: Vec::new(),
            exchange_schedule_secs: 30,
            exchange_api_hosts: Vec::new(),
        }
    }
}

/// A comma-separated list from the environment.
fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Config {
    /// The store's options for this configuration (database, batch size).
    pub fn store_options(&self) -> candor_store::StoreOptions {
        candor_store::StoreOptions {
            max_batch: self.max_batch,
            database_url: self.database_url.clone(),
            ..candor_store::StoreOptions::default()
        }
    }

    /// The configured PDQ table layout (`index_layout`; None = auto).
    pub fn layout(&self) -> Option<candor_index::Layout> {
        match self.index_layout.as_str() {
            "split" => Some(candor_index::Layout::Split),
            "compact" => Some(candor_index::Layout::Compact),
            _ => None,
        }
    }

    /// Uploads hashed at once: `max_inflight_uploads`, or twice the cores when 0.
    pub fn upload_slots(&self) -> usize {
        if self.max_inflight_uploads > 0 {
            self.max_inflight_uploads
        } else {
            2 * std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }

    /// Defaults, then `file` (if any), then the environment (`CANDOR_DATA`, `CANDOR_LISTEN`, …:
    /// every field, upper-cased, prefixed with `CANDOR_`).
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut cfg = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", p.display()))?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parse<T: std::str::FromStr>(key: &str, v: &str) -> anyhow::Result<T>
        where
            T::Err: std::fmt::Display,
        {
            v.parse()
                .map_err(|e| anyhow::anyhow!("environment {key}={v:?}: {e}"))
        }
        macro_rules! env {
            ($key:literal, $field:ident) => {
                if let Some(v) = get($key) {
                    self.$field = parse($key, &v)?;
                }
            };
        }
        env!("CANDOR_DATA", data);
        if let Some(v) = get("CANDOR_DATABASE_URL") {
            self.database_url = Some(v).filter(|v| !v.trim().is_empty());
        }
        env!("CANDOR_FOLLOW_POLL_MILLIS", follow_poll_millis);
        env!("CANDOR_INDEX_MAX_LAG_ENTRIES", index_max_lag_entries);
        env!("CANDOR_INDEX_MAX_LAG_SECS", index_max_lag_secs);
        env!("CANDOR_LISTEN", listen);
        env!("CANDOR_MAX_BODY_BYTES", max_body_bytes);
        env!("CANDOR_MAX_IMPORT_BYTES", max_import_bytes);
        env!("CANDOR_MAX_IMPORT_LINES", max_import_lines);
        env!("CANDOR_IMPORT_TIMEOUT_SECS", import_timeout_secs);
        env!("CANDOR_MAX_IMAGE_PIXELS", max_image_pixels);
        env!("CANDOR_MAX_IMAGE_DIMENSION", max_image_dimension);
        env!("CANDOR_PDQ_THRESHOLD", pdq_threshold);
        env!("CANDOR_MATCH_DIHEDRAL", match_dihedral);
        env!("CANDOR_MATCH_TRIMMED", match_trimmed);
        env!("CANDOR_PDQ_MIN_QUALITY", pdq_min_quality);
        env!("CANDOR_LOG_ORIGIN", log_origin);
        env!("CANDOR_MAX_BATCH", max_batch);
        env!("CANDOR_LOG_FORMAT", log_format);
        env!("CANDOR_HEADER_READ_TIMEOUT_SECS", header_read_timeout_secs);
        env!("CANDOR_REQUEST_TIMEOUT_SECS", request_timeout_secs);
        env!("CANDOR_IDLE_TIMEOUT_SECS", idle_timeout_secs);
        env!("CANDOR_MAX_CONNECTIONS", max_connections);
        env!("CANDOR_MAX_INFLIGHT_UPLOADS", max_inflight_uploads);
        if let Some(v) = get("CANDOR_FETCH_ENABLED") {
            self.fetch.enabled = parse("CANDOR_FETCH_ENABLED", &v)?;
        }
        if let Some(v) = get("CANDOR_FETCH_ALLOW_HOSTS") {
            self.fetch.allow_hosts = split_list(&v);
        }
        if let Some(v) = get("CANDOR_FETCH_ALLOW_NETWORKS") {
            self.fetch.allow_networks = split_list(&v);
        }
        if let Some(v) = get("CANDOR_DSA_TOKEN") {
            self.dsa.token = v;
        }
        if let Some(v) = get("CANDOR_DSA_ENDPOINT") {
            self.dsa.endpoint = v;
        }
        if let Some(v) = get("CANDOR_DSA_ENABLED") {
            self.dsa.enabled = parse("CANDOR_DSA_ENABLED", &v)?;
        }
        env!("CANDOR_SNAPSHOT_INTERVAL_SECS", snapshot_interval_secs);
        if let Some(v) = get("CANDOR_INDEX_LAYOUT") {
            self.index_layout = v;
        }
        if let Some(v) = get("CANDOR_HMA_BANK_CATEGORY") {
            self.hma_bank_category = v;
        }
        if let Some(v) = get("CANDOR_POLICIES") {
            self.policies = Some(PathBuf::from(v));
        }
        Ok(())
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.fetch.validate()?;
        for (i, e) in self.exchange.iter().enumerate() {
            e.validate()?;
            anyhow::ensure!(
                !self.exchange[..i].iter().any(|o| o.name == e.name),
                "two [[exchange]] tables are named {:?}",
                e.name
            );
        }
        anyhow::ensure!(
            self.exchange_schedule_secs >= 1,
            "exchange_schedule_secs must be at least 1"
        );
        for h in &self.exchange_api_hosts {
            anyhow::ensure!(
                !h.is_empty() && !h.contains(['/', '*', ' ', '@']),
                "exchange_api_hosts {h:?}: a host name or an IP address"
            );
        }
        self.dsa.validate()?;
        anyhow::ensure!(self.pdq_threshold <= 256, "pdq_threshold must be 0..=256");
        anyhow::ensure!(
            matches!(self.index_layout.as_str(), "auto" | "split" | "compact"),
            "index_layout must be auto, split or compact, not {:?}",
            self.index_layout
        );
        anyhow::ensure!(
            serde_json::from_value::<candor_policy::Category>(serde_json::Value::String(
                self.hma_bank_category.clone()
            ))
            .is_ok(),
            "hma_bank_category {:?} is not a DSA statement category (STATEMENT_CATEGORY_*)",
            self.hma_bank_category
        );
        anyhow::ensure!(
            self.max_body_bytes >= 1024,
            "max_body_bytes must be at least 1024"
        );
        anyhow::ensure!(self.max_batch >= 1, "max_batch must be at least 1");
        anyhow::ensure!(
            self.max_import_bytes >= 1024 && self.max_import_lines >= 1,
            "max_import_bytes must be at least 1024 and max_import_lines at least 1"
        );
        anyhow::ensure!(
            self.import_timeout_secs >= 1,
            "import_timeout_secs must be at least 1"
        );
        anyhow::ensure!(
            self.header_read_timeout_secs >= 1
                && self.request_timeout_secs >= 1
                && self.idle_timeout_secs >= 1,
            "header_read_timeout_secs, request_timeout_secs and idle_timeout_secs must be at least 1"
        );
        anyhow::ensure!(
            self.max_connections >= 1,
            "max_connections must be at least 1"
        );
        anyhow::ensure!(
            candor_log::note::is_valid_name(&self.log_origin),
            "log_origin {:?} is not a valid key name (no spaces or '+')",
            self.log_origin
        );
        anyhow::ensure!(
            matches!(self.log_format.as_str(), "text" | "json"),
            "log_format must be text or json"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let mut cfg: Config =
            toml::from_str("listen = \"0.0.0.0:9000\"\npdq_threshold = 20\n").unwrap();
        assert_eq!(cfg.pdq_threshold, 20);
        cfg.apply_env(|k| (k == "CANDOR_PDQ_THRESHOLD").then(|| "12".to_string()))
            .unwrap();
        assert_eq!(cfg.pdq_threshold, 12);
        assert_eq!(cfg.listen.port(), 9000);
        assert!(cfg
            .apply_env(|k| (k == "CANDOR_LISTEN").then(|| "nope".into()))
            .is_err());
        assert!(toml::from_str::<Config>("unknown = 1").is_err());
        cfg.pdq_threshold = 300;
        assert!(cfg.validate().is_err());
    }
}
