//! The relay's only way to Candor: its public HTTP API, with a platform token. Blocking `ureq`
//! calls, run on tokio's blocking pool by the callers.

use std::time::Duration;

use serde_json::Value;

/// Why a call to Candor did not give an answer we can act on.
#[derive(Debug)]
pub enum CandorError {
    /// No answer (connection refused, timeout, 5xx such as `storage_unavailable`, `busy`,
    /// `loading`): the content could not be checked; try again later.
    Unavailable(String),
    /// Candor answered with an error about the request (4xx): shown to the user as it is.
    Refused { status: u16, body: Value },
}

impl std::fmt::Display for CandorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CandorError::Unavailable(m) => write!(f, "Candor unavailable: {m}"),
            CandorError::Refused { status, body } => write!(f, "Candor refused ({status}): {body}"),
        }
    }
}

/// A Candor endpoint and the platform token the relay acts with.
#[derive(Clone)]
pub struct Candor {
    pub base: String,
    token: String,
    agent: ureq::Agent,
}

impl Candor {
    pub fn new(base: &str, token: &str) -> Candor {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build(),
        );
        Candor {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            agent,
        }
    }

    fn answer(
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, Vec<u8>), CandorError> {
        let mut r = r.map_err(|e| CandorError::Unavailable(e.to_string()))?;
        let status = r.status().as_u16();
        let body = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .map_err(|e| CandorError::Unavailable(e.to_string()))?;
        if status >= 500 || status == 429 {
            return Err(CandorError::Unavailable(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        if status >= 400 {
            let body = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
            return Err(CandorError::Refused { status, body });
        }
        Ok((status, body))
    }

    fn json(r: Result<(u16, Vec<u8>), CandorError>) -> Result<Value, CandorError> {
        let (_, body) = r?;
        serde_json::from_slice(&body)
            .map_err(|e| CandorError::Unavailable(format!("answer is not JSON: {e}")))
    }

    /// GET a JSON document.
    pub fn get(&self, path: &str) -> Result<Value, CandorError> {
        Self::json(Self::answer(
            self.agent
                .get(&format!("{}{path}", self.base))
                .header("Authorization", &format!("Bearer {}", self.token))
                .call(),
        ))
    }

    /// GET a document as text (a proof file).
    pub fn get_text(&self, path: &str) -> Result<String, CandorError> {
        let (_, body) = Self::answer(
            self.agent
                .get(&format!("{}{path}", self.base))
                .header("Authorization", &format!("Bearer {}", self.token))
                .call(),
        )?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// POST JSON, answer JSON.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, CandorError> {
        Self::json(Self::answer(
            self.agent
                .post(&format!("{}{path}", self.base))
                .header("Authorization", &format!("Bearer {}", self.token))
                .header("Content-Type", "application/json")
                .send(body.to_string().as_bytes()),
        ))
    }

    /// `POST /v1/scan` as multipart: the context and the attachment's bytes.
    pub fn scan_upload(
        &self,
        context: &Value,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<Value, CandorError> {
        let boundary = boundary_for(bytes);
        let safe_name: String = file_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || ".-_".contains(*c))
            .collect();
        let mut body = Vec::with_capacity(bytes.len() + 1024);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"context\"\r\nContent-Type: application/json\r\n\r\n{context}\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"review_notices_to_recipients\"\r\n\r\ntrue\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                if safe_name.is_empty() { "file" } else { &safe_name }
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Self::json(Self::answer(
            self.agent
                .post(&format!("{}/v1/scan", self.base))
                .header("Authorization", &format!("Bearer {}", self.token))
                .header(
                    "Content-Type",
                    &format!("multipart/form-data; boundary={boundary}"),
                )
                .send(&body[..]),
        ))
    }
}

/// A multipart boundary that does not occur in `bytes` (an attachment may contain anything).
fn boundary_for(bytes: &[u8]) -> String {
    let mut n: u64 = 0x7d1f_0c2a_9b3e_4f5a;
    loop {
        let b = format!("candor-relay-{n:016x}");
        if !bytes.windows(b.len()).any(|w| w == b.as_bytes()) {
            return b;
        }
        n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::boundary_for;

    #[test]
    fn the_boundary_never_occurs_in_the_attachment() {
        let first = boundary_for(b"plain bytes");
        let hostile = format!("xx{first}yy").into_bytes();
        let second = boundary_for(&hostile);
        assert_ne!(first, second);
        assert!(!String::from_utf8(hostile).unwrap().contains(&second));
    }
}
