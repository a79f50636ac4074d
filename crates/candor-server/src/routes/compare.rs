//! Compare two images or PDQ hashes (HMA's match page, with Candor's extra signals): the PDQ
//! distance of each of the eight dihedral variants of an image, and of its border-trimmed
//! picture, to the other side, against a threshold. Uploads are hashed here by candor-signal
//! (the path every upload takes) and dropped; nothing is stored or logged.

use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::Json;
use candor_signal::PdqHash;
use serde::{Deserialize, Serialize};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::routes::lookup::is_multipart;
use crate::signals::{hash_upload, parse_hex};
use crate::AppState;

/// Who may compare: the people who curate and review banks.
pub const COMPARE_ROLES: &[Role] = &[Role::Curator, Role::Reviewer, Role::Auditor];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CompareQuery {
    /// The PDQ threshold to mark (inclusive), 0..=256; default the bank's (with `bank`) or the
    /// service's `pdq_threshold`.
    pub threshold: Option<u32>,
    /// Use this bank's PDQ threshold.
    pub bank: Option<String>,
}

/// The form: parts `a` and `b`, each a file (a part with a filename: an image, hashed here)
/// or a text field holding a PDQ hash (64 hex digits).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CompareForm {
    /// The first image (file) or PDQ hash (text).
    #[schema(value_type = String)]
    pub a: String,
    /// The second image (file) or PDQ hash (text).
    #[schema(value_type = String)]
    pub b: String,
}

/// One side as hashed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Side {
    /// `image` (an upload) or `hash` (a PDQ hash given).
    pub kind: String,
    /// The PDQ hash (of the image as stored).
    pub pdq: String,
    /// PDQ quality 0..=100 (images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
    /// The hash of the picture inside a uniform border, when the image has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq_trimmed: Option<String>,
    /// SHA-256 of the upload (images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One variant of the varied side against one hash of the other.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Variant {
    /// `orig rot90 rot180 rot270 flipx flipy flipplus1 flipminus1`.
    pub orientation: String,
    /// The variant is of the border-trimmed picture.
    pub trimmed: bool,
    /// The variant's PDQ hash.
    pub pdq: String,
    /// Compared with the other side's `pdq` or its `pdq_trimmed`.
    pub against: String,
    /// Hamming distance, 0..=256.
    pub distance: u32,
    /// `distance <= threshold`.
    pub within: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    pub a: Side,
    pub b: Side,
    /// Which side's variants are listed: `a` when it is an image, else `b` when it is one;
    /// absent when both are hashes (one hash has no orientations to derive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub varied: Option<String>,
    /// The threshold marked (inclusive).
    pub threshold: u32,
    /// Where it comes from: `given`, `bank <name>` or `service`.
    pub threshold_from: String,
    /// Every variant against every hash of the other side (the eight orientations, then the
    /// trimmed picture's eight; against `pdq`, then `pdq_trimmed`).
    pub variants: Vec<Variant>,
    /// The variant at the smallest distance (the first such).
    pub best: Variant,
    /// Whether the best variant is within the threshold.
    pub matches: bool,
}

/// A side: its hashes (orientation name, trimmed, hash) and what is shown of it.
struct Hashed {
    side: Side,
    variants: Vec<(&'static str, bool, [u8; 32])>,
}

async fn side(app: &AppState, name: &str, part: Part) -> ApiResult<Hashed> {
    match part {
        Part::Hash(text) => {
            let h = parse_hex::<32>(name, &text)?;
            Ok(Hashed {
                side: Side {
                    kind: "hash".into(),
                    pdq: hex::encode(h),
                    quality: None,
                    pdq_trimmed: None,
                    sha256: None,
                },
                variants: vec![("orig", false, h)],
            })
        }
        Part::File(bytes) => {
            let opts = crate::signals::HashOptions {
                min_quality: 0,
                ..app.hash_options(true, true)
            };
            let s = hash_upload(app, bytes, opts).await?;
            let pdq = s.pdq.clone().ok_or_else(|| {
                ApiError::bad_request(
                    "not_an_image",
                    match &s.image_error {
                        Some(e) => format!("{name}: the image could not be hashed: {e}"),
                        None => format!("{name}: not an image (no PDQ hash)"),
                    },
                )
            })?;
            let variants: Vec<(&'static str, bool, [u8; 32])> = s
                .query
                .pdq
                .iter()
                .map(|q| (q.orientation.unwrap_or("orig"), q.trimmed, q.hash))
                .collect();
            let pdq_trimmed = variants
                .iter()
                .find(|(o, t, _)| *t && *o == "orig")
                .map(|v| hex::encode(v.2));
            Ok(Hashed {
                side: Side {
                    kind: "image".into(),
                    pdq,
                    quality: s.quality,
                    pdq_trimmed,
                    sha256: Some(s.sha256),
                },
                variants,
            })
        }
    }
}

enum Part {
    File(axum::body::Bytes),
    Hash(String),
}

/// The parts `a` and `b` of the form.
async fn parts(req: Request, app: &AppState) -> ApiResult<(Part, Part)> {
    let bad = |m: String| ApiError::bad_request("invalid_multipart", m);
    if !is_multipart(&req) {
        return Err(bad(
            "send multipart/form-data with parts `a` and `b` (each a file or a PDQ hash)".into(),
        ));
    }
    let mut mp = Multipart::from_request(req, app)
        .await
        .map_err(|e| ApiError::new(e.status(), "invalid_multipart", e.body_text()))?;
    let (mut a, mut b) = (None, None);
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::new(e.status(), "invalid_multipart", e.body_text()))?
    {
        let name = field.name().unwrap_or("").to_string();
        let is_file = field.file_name().is_some();
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::new(e.status(), "invalid_multipart", e.body_text()))?;
        let part = if is_file {
            Part::File(data)
        } else {
            Part::Hash(
                String::from_utf8(data.to_vec())
                    .map_err(|_| bad(format!("part {name:?} is not UTF-8")))?,
            )
        };
        let slot = match name.as_str() {
            "a" => &mut a,
            "b" => &mut b,
            _ => {
                return Err(bad(format!(
                    "unknown part {name:?}: the parts are `a` and `b`"
                )))
            }
        };
        if slot.replace(part).is_some() {
            return Err(bad(format!("part {name:?} given twice")));
        }
    }
    match (a, b) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(bad("give both parts `a` and `b`".into())),
    }
}

/// Compare two images or PDQ hashes (multipart parts `a` and `b`: each a file, hashed here
/// and discarded, or a text field with a PDQ hash): the distance of each dihedral variant of
/// the image side (rotations, flips, and the same of its border-trimmed picture) to the other
/// side, with the threshold marked.
#[utoipa::path(post, path = "/v1/compare", tag = "lookup", params(CompareQuery),
    request_body(content = CompareForm, content_type = "multipart/form-data"),
    responses((status = 200, body = Comparison), (status = 400), (status = 404), (status = 413)), security(("bearer" = [])))]
pub async fn compare(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<CompareQuery>,
    req: Request,
) -> ApiResult<Json<Comparison>> {
    caller.require(COMPARE_ROLES)?;
    let (threshold, threshold_from) = match (q.threshold, &q.bank) {
        (Some(t), _) if t > 256 => {
            return Err(ApiError::bad_request(
                "invalid_threshold",
                "threshold is 0..=256",
            ))
        }
        (Some(t), _) => (t, "given".to_string()),
        (None, Some(name)) => {
            let b = candor_store::banks::find_bank(app.store.reader(), name)
                .await?
                .ok_or_else(|| {
                    ApiError::not_found("bank_not_found", format!("no bank {name:?}"))
                })?;
            (b.pdq_threshold, format!("bank {}", b.name))
        }
        (None, None) => (app.config.pdq_threshold, "service".to_string()),
    };
    let (pa, pb) = parts(req, &app).await?;
    let a = side(&app, "a", pa).await?;
    let b = side(&app, "b", pb).await?;
    let (varied, other, name) = if a.side.kind == "image" {
        (&a, &b, Some("a"))
    } else if b.side.kind == "image" {
        (&b, &a, Some("b"))
    } else {
        (&a, &b, None)
    };
    let targets: Vec<(&str, [u8; 32])> = other
        .variants
        .iter()
        .filter(|(o, _, _)| *o == "orig")
        .map(|(_, t, h)| (if *t { "pdq_trimmed" } else { "pdq" }, *h))
        .collect();
    let variants: Vec<Variant> = varied
        .variants
        .iter()
        .filter(|(o, _, _)| name.is_some() || *o == "orig")
        .flat_map(|(o, t, h)| {
            targets.iter().map(move |(against, x)| {
                let distance = PdqHash(*h).distance(&PdqHash(*x));
                Variant {
                    orientation: o.to_string(),
                    trimmed: *t,
                    pdq: hex::encode(h),
                    against: against.to_string(),
                    distance,
                    within: distance <= threshold,
                }
            })
        })
        .collect();
    let best = variants
        .iter()
        .min_by_key(|v| v.distance)
        .cloned()
        .ok_or_else(|| ApiError::internal("no variant to compare"))?;
    Ok(Json(Comparison {
        matches: best.within,
        best,
        variants,
        threshold,
        threshold_from,
        varied: name.map(str::to_string),
        a: a.side,
        b: b.side,
    }))
}
