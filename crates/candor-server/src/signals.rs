//! From a request to signals: hashes given in the clear, or an upload hashed here and dropped.

use candor_signal::{DecodeLimits, ImageOptions, Orientation};
use serde::Serialize;

use crate::error::ApiError;
use crate::matcher::{PdqQuery, Query};

/// The signals of an upload, as answered to the caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UploadSignals {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
    /// The hash of the image as a viewer shows it, when its EXIF orientation differs from
    /// the stored pixels (matched too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq_displayed: Option<String>,
    /// How an image over the pixel limit was hashed: `reduced_jpeg_1/2` (…`1/4`, `1/8`),
    /// `reduced_interlaced_1/2` (…, an interlaced PNG from its first passes), `streamed` or
    /// `bounded`; absent for a full decode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode: Option<String>,
    /// The file ended early and was hashed as far as it goes (as a browser shows it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Why there is no PDQ for an image that could not be hashed (bytes still hashed); such
    /// content goes to the published `unhashable` rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_error: Option<String>,
    #[serde(skip)]
    pub query: Query,
}

pub fn parse_hex<const N: usize>(what: &str, s: &str) -> Result<[u8; N], ApiError> {
    let bytes = hex::decode(s.trim()).map_err(|_| {
        ApiError::bad_request(
            "invalid_signal",
            format!("{what} must be {} hex digits", N * 2),
        )
    })?;
    bytes.try_into().map_err(|_| {
        ApiError::bad_request(
            "invalid_signal",
            format!("{what} must be {} hex digits", N * 2),
        )
    })
}

/// Most PDQ hashes in one query (e.g. the 8 dihedral hashes of an image and their trimmed ones).
pub const MAX_QUERY_PDQ: usize = 16;

/// Digests given in hex beside the PDQ hashes of a query.
#[derive(Debug, Clone, Copy, Default)]
pub struct HexDigests<'a> {
    pub md5: Option<&'a str>,
    pub sha1: Option<&'a str>,
    pub sha256: Option<&'a str>,
}

/// A query from hashes given in hex: `pdq` comma-separated (at most [`MAX_QUERY_PDQ`]), `md5`,
/// `sha1`, `sha256`; at least one.
pub fn query_from_hex(pdq: Option<&str>, digests: HexDigests<'_>) -> Result<Query, ApiError> {
    let HexDigests { md5, sha1, sha256 } = digests;
    let mut query = Query::default();
    if let Some(p) = pdq {
        let parts: Vec<&str> = p.split(',').filter(|s| !s.is_empty()).collect();
        if parts.len() > MAX_QUERY_PDQ {
            return Err(ApiError::bad_request(
                "too_many_hashes",
                format!("at most {MAX_QUERY_PDQ} PDQ hashes per query"),
            ));
        }
        for h in parts {
            query.pdq.push(PdqQuery {
                hash: parse_hex::<32>("pdq", h)?,
                orientation: None,
                trimmed: false,
            });
        }
    }
    if let Some(m) = md5 {
        query.md5 = Some(parse_hex::<16>("md5", m)?);
    }
    if let Some(s) = sha1 {
        query.sha1 = Some(parse_hex::<20>("sha1", s)?);
    }
    if let Some(s) = sha256 {
        query.sha256 = Some(parse_hex::<32>("sha256", s)?);
    }
    if query.pdq.is_empty() && query.md5.is_none() && query.sha1.is_none() && query.sha256.is_none()
    {
        return Err(ApiError::bad_request(
            "no_signals",
            "give pdq, md5, sha1 or sha256",
        ));
    }
    Ok(query)
}

/// Options for hashing uploads.
#[derive(Clone, Copy, Debug)]
pub struct HashOptions {
    pub limits: DecodeLimits,
    pub dihedral: bool,
    pub trimmed: bool,
    pub min_quality: u8,
}

/// Hash `bytes` on the blocking pool; the bytes are dropped when this returns. At most
/// `max_inflight_uploads` at once: beyond that, 503 with `Retry-After` at once (decoding is
/// the expensive part; a queue without bound is how a service falls over).
pub async fn hash_upload(
    app: &crate::App,
    bytes: axum::body::Bytes,
    opts: HashOptions,
) -> Result<UploadSignals, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request("empty_upload", "the upload is empty"));
    }
    let permit = app.uploads.clone().try_acquire_owned().map_err(|_| {
        metrics::counter!("candor_uploads_refused_total").increment(1);
        ApiError::busy("too many uploads are being hashed; retry shortly")
    })?;
    tokio::task::spawn_blocking(move || {
        let out = hash_bytes(&bytes, opts);
        drop(permit);
        out
    })
    .await
    .map_err(|e| ApiError::internal(format!("hashing task failed: {e}")))?
}

fn hash_bytes(bytes: &[u8], opts: HashOptions) -> Result<UploadSignals, ApiError> {
    let image_opts = ImageOptions {
        limits: opts.limits,
        exif_orient: false,
        trim: opts.trimmed,
    };
    let content = candor_signal::hash_reader(bytes, &image_opts)
        .map_err(|e| ApiError::bad_request("unreadable_upload", e.to_string()))?;
    let mut out = UploadSignals {
        md5: content.digests.md5_hex(),
        sha1: content.digests.sha1_hex(),
        sha256: content.digests.sha256_hex(),
        size: content.digests.size,
        pdq: None,
        quality: None,
        pdq_displayed: None,
        decode: None,
        truncated: false,
        image_error: None,
        query: Query {
            pdq: Vec::new(),
            md5: Some(content.digests.md5),
            sha1: Some(content.digests.sha1),
            sha256: Some(content.digests.sha256),
        },
    };
    match content.image {
        None => {}
        Some(Err(e)) => out.image_error = Some(e.to_string()),
        Some(Ok(img)) => {
            out.pdq = Some(img.pdq.hash.to_hex());
            out.quality = Some(img.pdq.quality);
            out.truncated = img.truncated.is_some();
            out.decode = match img.decode_path {
                candor_signal::DecodePath::Full => None,
                candor_signal::DecodePath::ReducedJpeg { denominator } => {
                    Some(format!("reduced_jpeg_1/{denominator}"))
                }
                candor_signal::DecodePath::ReducedInterlaced { denominator } => {
                    Some(format!("reduced_interlaced_1/{denominator}"))
                }
                candor_signal::DecodePath::Streamed => Some("streamed".into()),
                candor_signal::DecodePath::Bounded => Some("bounded".into()),
            };
            if img.pdq.quality >= opts.min_quality {
                push_pdq(&mut out.query, &img.dihedral, opts.dihedral, false);
                if let Some(d) = &img.pdq_displayed {
                    out.pdq_displayed = Some(d.pdq.hash.to_hex());
                    // With every orientation already queried, the displayed one is among them.
                    if !opts.dihedral {
                        out.query.pdq.push(PdqQuery {
                            hash: d.pdq.hash.0,
                            orientation: Some(d.orientation.name()),
                            trimmed: false,
                        });
                    }
                }
                if let Some(t) = img.trimmed.filter(|t| t.pdq.quality >= opts.min_quality) {
                    push_pdq(&mut out.query, &t.dihedral, opts.dihedral, true);
                }
            }
        }
    }
    Ok(out)
}

fn push_pdq(q: &mut Query, dihedral: &[candor_signal::PdqHash; 8], all: bool, trimmed: bool) {
    let n = if all { 8 } else { 1 };
    for (o, h) in Orientation::ALL.iter().zip(dihedral).take(n) {
        q.pdq.push(PdqQuery {
            hash: h.0,
            orientation: Some(o.name()),
            trimmed,
        });
    }
}
