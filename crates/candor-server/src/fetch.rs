//! Fetching content by URL for the routes that take one (`/h/hash?url=`, `/m/lookup?url=`,
//! `/m/raw_lookup?url=`), safely: off unless the operator turns it on; only hosts on the
//! allowlist; the name resolved once, every address checked and the connection pinned to the
//! checked addresses (no second lookup a DNS rebinding could answer differently); private,
//! loopback, link-local, metadata and other special addresses refused unless the operator
//! names their network; no proxies from the environment, no credentials in URLs; redirects
//! followed by hand, each hop checked the same way; size and time limits. Every refusal is a
//! clear error naming the rule.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// `[fetch]` in the configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    /// Off by default: a URL parameter is refused.
    pub enabled: bool,
    /// Hosts that may be fetched: exact names (`images.example.com`), subdomain wildcards
    /// (`*.example.com`, not the apex), IP literals, or `*` for any host (the address rules
    /// still apply).
    pub allow_hosts: Vec<String>,
    /// Networks (CIDR, e.g. `10.1.2.0/24`, `127.0.0.1/32`) that may be reached although they are
    /// private, loopback or otherwise special. Empty by default.
    pub allow_networks: Vec<String>,
    /// Largest body fetched (bytes).
    pub max_bytes: u64,
    /// The whole fetch, redirects included.
    pub timeout_secs: u64,
    pub max_redirects: u32,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            enabled: false,
            allow_hosts: Vec::new(),
            allow_networks: Vec::new(),
            max_bytes: 32 * 1024 * 1024,
            timeout_secs: 20,
            max_redirects: 3,
        }
    }
}

impl FetchConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        for n in &self.allow_networks {
            Network::parse(n).map_err(|e| anyhow::anyhow!("fetch.allow_networks {n:?}: {e}"))?;
        }
        for h in &self.allow_hosts {
            anyhow::ensure!(
                !h.is_empty() && !h.contains('/') && !h.contains(':')
                    || h.parse::<IpAddr>().is_ok(),
                "fetch.allow_hosts {h:?}: a host name, `*.` and a domain, an IP address, or `*`"
            );
        }
        anyhow::ensure!(self.max_bytes >= 1, "fetch.max_bytes must be at least 1");
        anyhow::ensure!(
            self.timeout_secs >= 1,
            "fetch.timeout_secs must be at least 1"
        );
        Ok(())
    }
}

/// Why a fetch did not happen or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("fetching by URL is turned off on this service ([fetch] enabled = false); send the content instead")]
    Disabled,
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    #[error("only http and https URLs are fetched, not {0:?}")]
    Scheme(String),
    #[error("URLs with credentials are not fetched")]
    Credentials,
    #[error("host {0:?} is not on the fetch allowlist ([fetch] allow_hosts)")]
    HostNotAllowed(String),
    #[error("host {host:?} resolves to {addr}, a {kind} address, which is not fetched ([fetch] allow_networks)")]
    AddressNotAllowed {
        host: String,
        addr: IpAddr,
        kind: &'static str,
    },
    #[error("cannot resolve host {0:?}")]
    Dns(String),
    #[error("more than {0} redirects")]
    TooManyRedirects(u32),
    #[error("the content is larger than {0} bytes")]
    TooLarge(u64),
    #[error("fetching took longer than {0} s")]
    Timeout(u64),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("fetch failed: {0}")]
    Failed(String),
}

impl FetchError {
    /// The error code in the API's answer.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Disabled => "fetch_disabled",
            FetchError::InvalidUrl(_) => "invalid_url",
            FetchError::Scheme(_) => "scheme_not_allowed",
            FetchError::Credentials => "credentials_in_url",
            FetchError::HostNotAllowed(_) => "host_not_allowed",
            FetchError::AddressNotAllowed { .. } => "address_not_allowed",
            FetchError::Dns(_) => "dns_failed",
            FetchError::TooManyRedirects(_) => "too_many_redirects",
            FetchError::TooLarge(_) => "fetch_too_large",
            FetchError::Timeout(_) => "fetch_timeout",
            FetchError::Status(_) => "upstream_status",
            FetchError::Failed(_) => "fetch_failed",
        }
    }

    /// Refused by a rule (the caller's request), as opposed to the remote end failing.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            FetchError::Dns(_)
                | FetchError::Timeout(_)
                | FetchError::Status(_)
                | FetchError::Failed(_)
        )
    }
}

/// What was fetched.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// The URL finally fetched (after redirects).
    pub url: String,
}

/// An IP network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(s: &str) -> Result<Network, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| "not an IP address".to_string())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("prefix must be 0..={max}"))?,
            None => max,
        };
        Ok(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix)
            }
        }
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                masked(u32::from(n).into(), self.prefix, 32)
                    == masked(u32::from(i).into(), self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                masked(u128::from(n), self.prefix, 128) == masked(u128::from(i), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// What kind of special address `ip` is, or `None` for a public unicast address.
pub fn special_kind(ip: IpAddr) -> Option<&'static str> {
    // IPv4-mapped IPv6 addresses are judged as the IPv4 address they reach.
    match ip.to_canonical() {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified (\"this network\")",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "shared (carrier-grade NAT)",
        (127, _, _) => "loopback",
        (169, 254, _) => "link-local (cloud metadata)",
        (192, 0, 0) => "IETF protocol assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 88, 99) => "6to4 relay",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved or broadcast",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    Some(match s[0] {
        0xfc00..=0xfdff => "unique local (private)",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local (deprecated)",
        0xff00..=0xffff => "multicast",
        0x2001 if s[1] == 0xdb8 => "documentation",
        // NAT64 and 6to4 embed an IPv4 address: check the one they reach.
        0x0064 if s[1] == 0xff9b => {
            let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
            return special_v4(v4).map(|_| "NAT64 of a special IPv4");
        }
        0x2002 => {
            let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
            return special_v4(v4).map(|_| "6to4 of a special IPv4");
        }
        0 if s[1..6] == [0, 0, 0, 0, 0] => "IPv4-compatible (deprecated)",
        0x0100 if s[1..4] == [0, 0, 0] => "discard-only",
        _ => return None,
    })
}

/// The checks before any connection, for one URL.
pub struct Rules {
    hosts: Vec<String>,
    networks: Vec<Network>,
}

impl Rules {
    pub fn new(cfg: &FetchConfig) -> Result<Rules, String> {
        Ok(Rules {
            hosts: cfg
                .allow_hosts
                .iter()
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            networks: cfg
                .allow_networks
                .iter()
                .map(|n| Network::parse(n))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether `host` (lowercase, no trailing dot; IPv6 without brackets) is on the allowlist.
    pub fn host_allowed(&self, host: &str) -> bool {
        self.hosts.iter().any(|rule| {
            if rule == "*" {
                return true;
            }
            if let Some(suffix) = rule.strip_prefix("*.") {
                return host.len() > suffix.len() + 1
                    && host.ends_with(suffix)
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.';
            }
            let rule = rule.trim_start_matches('[').trim_end_matches(']');
            match (rule.parse::<IpAddr>(), host.parse::<IpAddr>()) {
                (Ok(a), Ok(b)) => a.to_canonical() == b.to_canonical(),
                _ => rule == host,
            }
        })
    }

    /// `Ok` when `ip` may be connected to.
    pub fn address_allowed(&self, host: &str, ip: IpAddr) -> Result<(), FetchError> {
        match special_kind(ip) {
            None => Ok(()),
            Some(_) if self.networks.iter().any(|n| n.contains(ip)) => Ok(()),
            Some(kind) => Err(FetchError::AddressNotAllowed {
                host: host.to_string(),
                addr: ip,
                kind,
            }),
        }
    }

    /// Parse and check a URL, resolve its host once and check every address: the addresses
    /// the connection is pinned to.
    pub fn check(
        &self,
        url: &str,
        deadline: Instant,
    ) -> Result<(url::Url, Vec<SocketAddr>), FetchError> {
        let u = url::Url::parse(url).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(FetchError::Scheme(u.scheme().to_string()));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(FetchError::Credentials);
        }
        let host = match u.host() {
            Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(FetchError::InvalidUrl("no host".into())),
        };
        if !self.host_allowed(&host) {
            return Err(FetchError::HostNotAllowed(host));
        }
        let port = u
            .port_or_known_default()
            .ok_or_else(|| FetchError::InvalidUrl("no port".into()))?;
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => resolve(&host, port, deadline)?,
        };
        // Every address must pass: an answer mixing a public and a private address is refused
        // rather than trimmed (that is what a rebinding attack looks like).
        for a in &addrs {
            self.address_allowed(&host, a.ip())?;
        }
        Ok((u, addrs))
    }
}

fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, FetchError> {
    let wait = deadline.saturating_duration_since(Instant::now());
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let name = format!("{host}:{port}");
    std::thread::spawn(move || {
        let _ = tx.send(name.to_socket_addrs().map(|a| a.collect::<Vec<_>>()));
    });
    match rx.recv_timeout(wait) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs.into_iter().take(16).collect()),
        Ok(_) => Err(FetchError::Dns(host.to_string())),
        Err(_) => Err(FetchError::Dns(format!("{host} (timed out)"))),
    }
}

/// ureq's resolver, answering with the addresses already checked: the connection goes where
/// the rules looked, whatever the DNS says the second time.
#[derive(Debug)]
struct Pinned(Vec<SocketAddr>);

impl ureq::unversioned::resolver::Resolver for Pinned {
    fn resolve(
        &self,
        _uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let mut out = self.empty();
        for a in self.0.iter().take(16) {
            out.push(*a);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// Read `r` to its end, or `None` when it holds more than `max` bytes (one byte past the limit
/// tells; at most `max + 1` are read). The bound of every answer or file read whole: fetched
/// URLs and exchange pages and files.
pub fn read_at_most(r: impl Read, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    r.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

/// Fetch `url` under `cfg` (blocking: run it on the blocking pool).
pub fn fetch(cfg: &FetchConfig, url: &str) -> Result<Fetched, FetchError> {
    if !cfg.enabled {
        return Err(FetchError::Disabled);
    }
    let rules = Rules::new(cfg).map_err(FetchError::Failed)?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(cfg.timeout_secs);
    let mut current = url.to_string();
    let mut hops = 0u32;
    loop {
        let (u, addrs) = rules.check(&current, deadline)?;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(FetchError::Timeout(cfg.timeout_secs));
        }
        let config = ureq::Agent::config_builder()
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(left))
            .user_agent("candor-fetch")
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            Pinned(addrs),
        );
        let resp = agent.get(u.as_str()).call().map_err(|e| match e {
            ureq::Error::Timeout(_) => FetchError::Timeout(cfg.timeout_secs),
            ureq::Error::HostNotFound => FetchError::Dns(u.host_str().unwrap_or("").into()),
            other => FetchError::Failed(other.to_string()),
        })?;
        let status = resp.status().as_u16();
        if (300..400).contains(&status) && status != 304 {
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or(FetchError::Status(status))?;
            hops += 1;
            if hops > cfg.max_redirects {
                return Err(FetchError::TooManyRedirects(cfg.max_redirects));
            }
            current = u
                .join(location)
                .map_err(|e| FetchError::InvalidUrl(format!("redirect to {location:?}: {e}")))?
                .to_string();
            continue;
        }
        if !(200..300).contains(&status) {
            return Err(FetchError::Status(status));
        }
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(n) = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if n > cfg.max_bytes {
                return Err(FetchError::TooLarge(cfg.max_bytes));
            }
        }
        let mut body = resp.into_body();
        // Unlimited in ureq; the one bound is here.
        let bytes = read_at_most(body.with_config().reader(), cfg.max_bytes)
            .map_err(|e| {
                if Instant::now() >= deadline {
                    FetchError::Timeout(cfg.timeout_secs)
                } else {
                    FetchError::Failed(e.to_string())
                }
            })?
            .ok_or(FetchError::TooLarge(cfg.max_bytes))?;
        return Ok(Fetched {
            bytes,
            content_type,
            url: u.to_string(),
        });
    }
}

/// Fetch `url` with the service's `[fetch]` settings, on the blocking pool; refusals and
/// failures as API errors (403 for a rule, 400 for a malformed URL, 413 too large, 502/504
/// for the remote end).
pub async fn fetch_url(app: &crate::App, url: &str) -> crate::error::ApiResult<axum::body::Bytes> {
    Ok(axum::body::Bytes::from(
        fetch_content(app, url).await?.bytes,
    ))
}

/// [`fetch_url`] with what the remote end said the content is (its `Content-Type`), which
/// HMA's routes use to tell a photo from a video.
pub async fn fetch_content(app: &crate::App, url: &str) -> crate::error::ApiResult<Fetched> {
    use axum::http::StatusCode;
    let cfg = app.config.fetch.clone();
    let url = url.to_string();
    let got = tokio::task::spawn_blocking(move || fetch(&cfg, &url))
        .await
        .map_err(|e| crate::error::ApiError::internal(format!("fetch task: {e}")))?;
    match got {
        Ok(f) => {
            metrics::counter!("candor_fetches_total", "result" => "ok").increment(1);
            Ok(f)
        }
        Err(e) => {
            metrics::counter!("candor_fetches_total", "result" => e.code()).increment(1);
            let status = match &e {
                FetchError::InvalidUrl(_) | FetchError::Scheme(_) | FetchError::Credentials => {
                    StatusCode::BAD_REQUEST
                }
                FetchError::Disabled
                | FetchError::HostNotAllowed(_)
                | FetchError::AddressNotAllowed { .. } => StatusCode::FORBIDDEN,
                FetchError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                FetchError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                FetchError::TooManyRedirects(_)
                | FetchError::Dns(_)
                | FetchError::Status(_)
                | FetchError::Failed(_) => StatusCode::BAD_GATEWAY,
            };
            Err(crate::error::ApiError::new(status, e.code(), e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn special_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.7",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
        ] {
            assert!(special_kind(ip(a)).is_some(), "{a} must be special");
        }
        for a in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(special_kind(ip(a)), None, "{a} is public");
        }
    }

    #[test]
    fn networks() {
        let n = Network::parse("10.1.2.0/24").unwrap();
        assert!(n.contains(ip("10.1.2.200")));
        assert!(!n.contains(ip("10.1.3.1")));
        assert!(n.contains(ip("::ffff:10.1.2.3")));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("127.0.0.1")));
        assert!(!Network::parse("0.0.0.0/0").unwrap().contains(ip("::1")));
        assert!(Network::parse("::1").unwrap().contains(ip("::1")));
        assert!(Network::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        for bad in ["10.0.0.0/33", "nope", "::/129", "1.2.3.4/x"] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }

    fn rules(hosts: &[&str], nets: &[&str]) -> Rules {
        Rules::new(&FetchConfig {
            enabled: true,
            allow_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            allow_networks: nets.iter().map(|s| s.to_string()).collect(),
            ..FetchConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn host_rules() {
        let r = rules(
            &["images.example.com", "*.cdn.example", "127.0.0.1", "[::1]"],
            &[],
        );
        assert!(r.host_allowed("images.example.com"));
        assert!(!r.host_allowed("evil-images.example.com"));
        assert!(!r.host_allowed("images.example.com.evil"));
        assert!(r.host_allowed("a.cdn.example"));
        assert!(r.host_allowed("a.b.cdn.example"));
        assert!(!r.host_allowed("cdn.example"));
        assert!(!r.host_allowed("xcdn.example"));
        assert!(r.host_allowed("127.0.0.1"));
        assert!(r.host_allowed("::1"));
        assert!(!r.host_allowed("127.0.0.2"));
        assert!(rules(&["*"], &[]).host_allowed("anything.example"));
        assert!(!rules(&[], &[]).host_allowed("anything.example"));
    }

    #[test]
    fn url_checks_before_any_connection() {
        let far = Instant::now() + Duration::from_secs(5);
        let r = rules(&["127.0.0.1", "localhost"], &[]);
        assert_eq!(
            r.check("ftp://127.0.0.1/x", far).unwrap_err().code(),
            "scheme_not_allowed"
        );
        assert_eq!(
            r.check("file:///etc/passwd", far).unwrap_err().code(),
            "scheme_not_allowed"
        );
        assert_eq!(
            r.check("http://u:p@127.0.0.1/", far).unwrap_err().code(),
            "credentials_in_url"
        );
        assert_eq!(
            r.check("http://10.0.0.1/", far).unwrap_err().code(),
            "host_not_allowed"
        );
        assert_eq!(r.check("not a url", far).unwrap_err().code(), "invalid_url");
        // On the host list, but loopback: refused until its network is allowed too.
        let e = r.check("http://127.0.0.1:9/", far).unwrap_err();
        assert_eq!(e.code(), "address_not_allowed", "{e}");
        assert_eq!(
            r.check("http://localhost:9/", far).unwrap_err().code(),
            "address_not_allowed"
        );
        let ok = rules(&["127.0.0.1"], &["127.0.0.0/8"]);
        let (_, addrs) = ok.check("http://127.0.0.1:9/a", far).unwrap();
        assert_eq!(addrs, vec!["127.0.0.1:9".parse().unwrap()]);
        // Decimal, octal and hex spellings of loopback are IP literals to the URL parser.
        for sneaky in ["http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/"] {
            let e = rules(&["*"], &[]).check(sneaky, far).unwrap_err();
            assert_eq!(e.code(), "address_not_allowed", "{sneaky}: {e}");
        }
        assert_eq!(
            rules(&["*"], &[])
                .check("http://[::ffff:169.254.169.254]/", far)
                .unwrap_err()
                .code(),
            "address_not_allowed"
        );
    }

    #[test]
    fn disabled_by_default() {
        assert_eq!(
            fetch(&FetchConfig::default(), "http://127.0.0.1/").unwrap_err(),
            FetchError::Disabled
        );
    }
}
