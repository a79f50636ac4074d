//! `candor scan-file PATH`: scan one file with a running service (`POST /v1/scan`, multipart)
//! and say whether it may be delivered. Thin on purpose: read the file, send it with a context
//! built from flags or the environment, print the outcome.
//!
//! Made to be matrix-content-scanner's `scan.script` (called with the file's path as its only
//! argument, so everything else comes from `CANDOR_*` variables):
//!
//! - exit 0: clean — every recipient and audience jurisdiction gets `deliver`;
//! - exit 1: not clean — any other action; one line per decision on stderr (action, policy,
//!   decision id, category, ground, explanation);
//! - exit 2: could not check (usage, unreadable file, service unreachable or refusing) —
//!   `candor: error: …` on stderr. A caller that treats non-zero as "not clean" (the content
//!   scanner does) fails closed.
//!
//! stdout gets one JSON object: `{"clean": bool, "content_id", "actions": [...], "decisions": [...]}`.
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// The largest answer read from the service.
const MAX_ANSWER: u64 = 16 << 20;
/// The largest file sent (the service has its own, usually smaller, body limit).
const MAX_FILE: u64 = 1 << 30;

#[derive(clap::Args)]
pub struct ScanFileArgs {
    /// The file to scan.
    path: PathBuf,
    /// The service's base URL [env CANDOR_SERVER; default http://127.0.0.1:8080].
    #[arg(long)]
    server: Option<String>,
    /// A token with the `platform` role [env CANDOR_TOKEN].
    #[arg(long)]
    token: Option<String>,
    /// Where the file is shared: direct, group or public [env CANDOR_SURFACE; default group].
    #[arg(long)]
    surface: Option<String>,
    /// The sender's jurisdiction (ISO 3166-1 alpha-2, e.g. DE) [env CANDOR_JURISDICTION].
    #[arg(long)]
    jurisdiction: Option<String>,
    /// The sender's account id as the platform knows it [env CANDOR_SENDER; default unknown].
    #[arg(long)]
    sender: Option<String>,
    /// Who receives it: comma-separated jurisdictions [env CANDOR_AUDIENCE; default the
    /// sender's].
    #[arg(long)]
    audience: Option<String>,
    /// The content id (the statement's puid; A-Z a-z 0-9 - _) [env CANDOR_CONTENT_ID;
    /// default `sha256-<hex of the file>`].
    #[arg(long)]
    content_id: Option<String>,
    /// The DSA content type (e.g. CONTENT_TYPE_VIDEO) [env CANDOR_CONTENT_TYPE; default
    /// CONTENT_TYPE_IMAGE when the file starts like an image, else CONTENT_TYPE_OTHER "file"].
    #[arg(long)]
    content_type: Option<String>,
    /// Seconds to wait for the service, in all [env CANDOR_TIMEOUT; default 30].
    #[arg(long)]
    timeout: Option<u64>,
}

/// A flag, else the (non-empty) environment variable.
fn setting(flag: Option<String>, var: &str) -> Option<String> {
    flag.or_else(|| std::env::var(var).ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub fn run(a: ScanFileArgs) -> anyhow::Result<ExitCode> {
    let server = setting(a.server, "CANDOR_SERVER").unwrap_or("http://127.0.0.1:8080".into());
    let token = setting(a.token, "CANDOR_TOKEN")
        .context("no token: give --token or CANDOR_TOKEN (a platform token)")?;
    let surface = setting(a.surface, "CANDOR_SURFACE").unwrap_or("group".into());
    let jurisdiction = setting(a.jurisdiction, "CANDOR_JURISDICTION")
        .context("no jurisdiction: give --jurisdiction or CANDOR_JURISDICTION (e.g. DE)")?
        .to_ascii_uppercase();
    let sender = setting(a.sender, "CANDOR_SENDER").unwrap_or("unknown".into());
    let audience: Vec<String> = setting(a.audience, "CANDOR_AUDIENCE")
        .map(|l| {
            l.split(',')
                .map(|j| j.trim().to_ascii_uppercase())
                .filter(|j| !j.is_empty())
                .collect()
        })
        .filter(|l: &Vec<String>| !l.is_empty())
        .unwrap_or_else(|| vec![jurisdiction.clone()]);
    let timeout = match a.timeout {
        Some(t) => t,
        None => match setting(None, "CANDOR_TIMEOUT") {
            Some(t) => t
                .parse()
                .with_context(|| format!("CANDOR_TIMEOUT is seconds, not {t:?}"))?,
            None => 30,
        },
    };
    let content_id = setting(a.content_id, "CANDOR_CONTENT_ID");
    let content_type = setting(a.content_type, "CANDOR_CONTENT_TYPE");

    let file = std::fs::File::open(&a.path)
        .with_context(|| format!("cannot open {}", a.path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", a.path.display()))?;
    if bytes.len() as u64 > MAX_FILE {
        bail!("{} is over {} bytes", a.path.display(), MAX_FILE);
    }
    let content_id = match content_id {
        Some(c) => c,
        None => {
            let d = candor_signal::digest::digest_reader(&bytes[..])
                .context("cannot digest the file")?;
            format!("sha256-{}", d.sha256_hex())
        }
    };
    let mut context = json!({
        "surface": surface,
        "content_id": content_id,
        "sender": {"account": sender, "jurisdiction": jurisdiction},
        "audience": {"jurisdictions": audience},
    });
    match content_type {
        Some(t) => {
            if t == "CONTENT_TYPE_OTHER" {
                context["content_type_other"] = json!("file");
            }
            context["content_type"] = json!(t);
        }
        None if candor_signal::decode::sniff_format(&bytes).is_some() => {
            context["content_type"] = json!("CONTENT_TYPE_IMAGE");
        }
        None => {
            context["content_type"] = json!("CONTENT_TYPE_OTHER");
            context["content_type_other"] = json!("file");
        }
    }

    let (content_type, body) = multipart(&context.to_string(), &bytes);
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(timeout.max(1))))
        .http_status_as_error(false)
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let url = format!("{}/v1/scan", server.trim_end_matches('/'));
    let mut resp = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", &content_type)
        .send(&body[..])
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let answer = resp
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .with_context(|| format!("POST {url}: reading the answer"))?;
    let v: Value = serde_json::from_slice(&answer)
        .with_context(|| format!("POST {url}: HTTP {status}, not JSON"))?;
    if !status.is_success() {
        let code = v["error"]["code"].as_str().unwrap_or("?");
        let msg = v["error"]["message"].as_str().unwrap_or("");
        bail!("POST {url}: HTTP {status}: {code}: {msg}");
    }
    let outcome = Outcome::from_answer(&v);
    println!(
        "{}",
        json!({
            "clean": outcome.clean,
            "content_id": content_id,
            "actions": outcome.actions,
            "decisions": outcome.reasons,
        })
    );
    if outcome.clean {
        return Ok(ExitCode::SUCCESS);
    }
    for r in &outcome.reasons {
        eprintln!("candor: not clean: {}", r["reason"].as_str().unwrap_or(""));
    }
    if outcome.reasons.is_empty() {
        eprintln!("candor: not clean: actions {:?}", outcome.actions);
    }
    Ok(ExitCode::from(1))
}

struct Outcome {
    clean: bool,
    /// `jurisdiction:action` (audience) and `account:action` (recipients).
    actions: Vec<String>,
    reasons: Vec<Value>,
}

impl Outcome {
    fn from_answer(v: &Value) -> Outcome {
        let mut actions = Vec::new();
        let mut clean = true;
        let empty = Vec::new();
        for (list, key) in [("recipients", "account"), ("audience", "jurisdiction")] {
            for a in v[list].as_array().unwrap_or(&empty) {
                let action = a["action"].as_str().unwrap_or("?");
                clean &= action == "deliver";
                actions.push(format!("{}:{action}", a[key].as_str().unwrap_or("?")));
            }
        }
        // No answer for anyone is not a clean answer.
        clean &= !actions.is_empty();
        let mut reasons = Vec::new();
        for d in v["decisions"].as_array().unwrap_or(&empty) {
            let s = &d["statement"];
            let explanation = s["illegal_content_explanation"]
                .as_str()
                .or_else(|| s["incompatible_content_explanation"].as_str())
                .unwrap_or("");
            let reason = format!(
                "{} by policy {} (decision {}): {} / {}: {}",
                d["action"].as_str().unwrap_or("?"),
                d["policy"].as_str().unwrap_or("?"),
                d["id"].as_str().unwrap_or("?"),
                s["category"].as_str().unwrap_or("?"),
                s["decision_ground"].as_str().unwrap_or("?"),
                explanation,
            );
            clean = false;
            reasons.push(json!({
                "id": d["id"],
                "action": d["action"],
                "policy": d["policy"],
                "reason": reason,
            }));
        }
        Outcome {
            clean,
            actions,
            reasons,
        }
    }
}

/// A `multipart/form-data` body with a `context` part and a `file` part; the boundary is
/// chosen so that it does not occur in the file.
fn multipart(context: &str, file: &[u8]) -> (String, Vec<u8>) {
    let mut n: u64 = 0;
    let boundary = loop {
        let b = format!("candor-scan-file-{n:016x}");
        if !contains(file, b.as_bytes()) && !context.contains(&b) {
            break b;
        }
        n += 1;
    };
    let mut body = Vec::with_capacity(file.len() + context.len() + 400);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"context\"\r\n\
             Content-Type: application/json\r\n\r\n{context}\r\n--{boundary}\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"file\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_avoids_the_content() {
        let file = b"xx--candor-scan-file-0000000000000000yy".to_vec();
        let (ct, body) = multipart("{}", &file);
        assert!(ct.ends_with("candor-scan-file-0000000000000001"));
        assert!(contains(&body, &file));
    }

    #[test]
    fn outcome_needs_every_action_deliver() {
        let ok = json!({"recipients": [], "audience": [{"jurisdiction": "DE", "action": "deliver"}], "decisions": []});
        assert!(Outcome::from_answer(&ok).clean);
        let held = json!({"audience": [{"jurisdiction": "DE", "action": "deliver"}, {"jurisdiction": "US", "action": "hold_for_review"}],
            "decisions": [{"id": "d1", "action": "hold_for_review", "policy": "p", "statement": {"category": "C", "decision_ground": "G", "incompatible_content_explanation": "E"}}]});
        let o = Outcome::from_answer(&held);
        assert!(!o.clean);
        assert_eq!(
            o.reasons[0]["reason"],
            "hold_for_review by policy p (decision d1): C / G: E"
        );
        assert!(!Outcome::from_answer(&json!({})).clean);
    }
}
