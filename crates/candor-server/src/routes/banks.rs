//! Banks and their content: create, list, update, delete; add content by signals or upload;
//! retract; enable/disable. Every change is a log entry and reaches matching before the answer.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use candor_log::entry::ContentOp;
use candor_policy::Category;
use candor_store::banks as store;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{check_slug, check_text, parse_enum, Page};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
pub use crate::flows::banks::{
    change_content, change_content_in, insert_content, insert_content_in, NewSignal,
};
use crate::flows::banks::{write_import, ImportCommon, ImportLine};
use crate::matcher::SignalKind;
use crate::signals::{hash_upload, parse_hex, HashOptions};
use crate::{new_id, now_rfc3339, App, AppState};

pub const BANK_READERS: &[Role] = &[Role::Curator, Role::Reviewer, Role::Auditor, Role::Admin];

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Bank {
    pub name: String,
    pub description: String,
    /// DSA statement category (`STATEMENT_CATEGORY_*`).
    pub category: String,
    /// `own_review` or `imported:<list name>`.
    pub provenance: String,
    pub enabled: bool,
    pub pdq_threshold: u32,
    /// A negative bank (an allowlist): when content matches it, every other bank's matches
    /// for that content are suppressed (reported as `suppressed`, never acted on).
    pub negative: bool,
    pub content_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBank {
    /// `[a-z0-9][a-z0-9_-]{0,63}`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    /// `own_review` (default) or `imported`.
    #[serde(default)]
    pub provenance: Option<String>,
    /// The imported list's name (with `provenance: imported`).
    #[serde(default)]
    pub list_name: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub pdq_threshold: Option<u32>,
    /// A negative bank (an allowlist; default false).
    #[serde(default)]
    pub negative: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankUpdate {
    pub description: Option<String>,
    pub category: Option<String>,
    pub enabled: Option<bool>,
    pub pdq_threshold: Option<u32>,
    /// Make the bank negative (an allowlist) or not; logged with the update.
    pub negative: Option<bool>,
}

fn provenance(kind: Option<&str>, list: Option<&str>) -> Result<String, ApiError> {
    match (kind.unwrap_or("own_review"), list) {
        ("own_review", None) => Ok("own_review".into()),
        ("imported", Some(l)) if !l.trim().is_empty() && l.len() <= 200 && !l.contains('\n') => {
            Ok(format!("imported:{l}"))
        }
        ("imported", _) => Err(ApiError::bad_request(
            "invalid_provenance",
            "imported content needs list_name (1..=200 characters, one line)",
        )),
        (k, _) => Err(ApiError::bad_request(
            "invalid_provenance",
            format!("provenance must be own_review or imported, not {k:?}"),
        )),
    }
}

fn check_category(s: &str) -> Result<(), ApiError> {
    parse_enum::<Category>("category", s).map(|_| ())
}

fn check_threshold(t: u32) -> Result<(), ApiError> {
    if t > 256 {
        return Err(ApiError::bad_request(
            "invalid_threshold",
            "pdq_threshold must be 0..=256",
        ));
    }
    Ok(())
}

async fn load_bank(app: &App, name: &str) -> ApiResult<(i64, Bank)> {
    let row = store::find_bank(app.store.reader(), name)
        .await?
        .ok_or_else(|| ApiError::not_found("bank_not_found", format!("no bank {name:?}")))?;
    Ok((row.id, Bank::from(row)))
}

impl From<store::BankRow> for Bank {
    fn from(b: store::BankRow) -> Bank {
        Bank {
            name: b.name,
            description: b.description,
            category: b.category,
            provenance: b.provenance,
            enabled: b.enabled,
            pdq_threshold: b.pdq_threshold,
            negative: b.negative,
            content_count: b.content_count,
            created_at: b.created_at,
            updated_at: b.updated_at,
        }
    }
}

/// List banks.
#[utoipa::path(get, path = "/v1/banks", tag = "banks", responses((status = 200, body = [Bank])), security(("bearer" = [])))]
pub async fn list(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Bank>>> {
    caller.require(BANK_READERS)?;
    let banks = store::list_banks(app.store.reader()).await?;
    Ok(Json(banks.into_iter().map(Bank::from).collect()))
}

/// One bank.
#[utoipa::path(get, path = "/v1/banks/{bank}", tag = "banks", params(("bank" = String, Path)), responses((status = 200, body = Bank), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Bank>> {
    caller.require(BANK_READERS)?;
    Ok(Json(load_bank(&app, &name).await?.1))
}

/// Create a bank.
#[utoipa::path(post, path = "/v1/banks", tag = "banks", request_body = NewBank, responses((status = 201, body = Bank), (status = 409)), security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    body: Result<Json<NewBank>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Bank>)> {
    caller.require(&[Role::Curator])?;
    let Json(b) = body?;
    check_slug("bank name", &b.name)?;
    check_text("description", &b.description, 2000)?;
    check_category(&b.category)?;
    let prov = provenance(b.provenance.as_deref(), b.list_name.as_deref())?;
    let threshold = b.pdq_threshold.unwrap_or(app.config.pdq_threshold);
    check_threshold(threshold)?;
    let enabled = b.enabled.unwrap_or(true);
    crate::flows::banks::create_bank(
        &app,
        crate::flows::banks::NewBank {
            name: b.name.clone(),
            description: b.description,
            category: b.category,
            provenance: prov,
            enabled,
            pdq_threshold: threshold,
            matching_enabled_ratio: 1.0,
            negative: b.negative.unwrap_or(false),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(load_bank(&app, &b.name).await?.1)))
}

/// Update a bank (description, category, enabled, threshold): matching follows at once.
#[utoipa::path(patch, path = "/v1/banks/{bank}", tag = "banks", params(("bank" = String, Path)), request_body = BankUpdate, responses((status = 200, body = Bank)), security(("bearer" = [])))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Json<BankUpdate>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Bank>> {
    caller.require(&[Role::Curator])?;
    let Json(u) = body?;
    let (id, cur) = load_bank(&app, &name).await?;
    if let Some(c) = &u.category {
        check_category(c)?;
    }
    if let Some(d) = &u.description {
        check_text("description", d, 2000)?;
    }
    if let Some(t) = u.pdq_threshold {
        check_threshold(t)?;
    }
    let description = u.description.unwrap_or(cur.description);
    let category = u.category.unwrap_or(cur.category);
    let enabled = u.enabled.unwrap_or(cur.enabled);
    let threshold = u.pdq_threshold.unwrap_or(cur.pdq_threshold);
    let negative = u.negative.unwrap_or(cur.negative);
    crate::flows::banks::update_bank(
        &app,
        id,
        &name,
        crate::flows::banks::BankUpdate {
            description,
            category,
            enabled,
            pdq_threshold: threshold,
            matching_enabled_ratio: None,
            negative,
        },
    )
    .await?;
    Ok(Json(load_bank(&app, &cur.name).await?.1))
}

/// Delete a bank and its content: it stops matching at once.
#[utoipa::path(delete, path = "/v1/banks/{bank}", tag = "banks", params(("bank" = String, Path)), responses((status = 204)), security(("bearer" = [])))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&[Role::Curator])?;
    let row = store::find_bank(app.store.reader(), &name)
        .await?
        .ok_or_else(|| ApiError::not_found("bank_not_found", format!("no bank {name:?}")))?;
    crate::flows::banks::delete_bank(&app, row.id, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContentSignal {
    /// `pdq`, `md5`, `sha1` or `sha256`.
    pub signal: String,
    /// Hex.
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BankContent {
    pub id: String,
    pub bank: String,
    pub provenance: String,
    pub note: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retracted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retraction_reason: Option<String>,
    pub created_at: String,
    pub created_by: String,
    /// The user metadata given with the content (a JSON object), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    pub signals: Vec<ContentSignal>,
    /// Log indexes of this change's entries (one per signal).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_indexes: Vec<u64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContent {
    /// Known signals, hex: `pdq` (64), `md5` (32), `sha1` (40), `sha256` (64).
    #[serde(default)]
    pub pdq: Option<String>,
    #[serde(default)]
    pub md5: Option<String>,
    #[serde(default)]
    pub sha1: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub note: String,
    /// Overrides the bank's provenance: `own_review` or `imported` (with `list_name`).
    #[serde(default)]
    pub provenance: Option<String>,
    #[serde(default)]
    pub list_name: Option<String>,
    /// User metadata (a JSON object, at most 64 KiB encoded): stored, returned with the
    /// content, never logged.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Largest encoded `metadata` of a content.
const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Add content to a bank: JSON signals (`application/json`) or an upload (any other body),
/// hashed here and dropped. It matches before this returns.
#[utoipa::path(post, path = "/v1/banks/{bank}/content", tag = "banks", params(("bank" = String, Path)),
    request_body(content = NewContent, description = "JSON signals, or the file itself as the body"),
    responses((status = 201, body = BankContent)), security(("bearer" = [])))]
pub async fn add_content(
    State(app): State<AppState>,
    caller: Caller,
    Path(bank): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<BankContent>)> {
    caller.require(&[Role::Curator])?;
    let (bank_id, b) = load_bank(&app, &bank).await?;
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (signals, note, prov, metadata) = if is_json {
        let c: NewContent = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
        check_text("note", &c.note, 2000)?;
        let mut s = Vec::new();
        if let Some(p) = &c.pdq {
            s.push(NewSignal {
                kind: SignalKind::Pdq,
                value: parse_hex::<32>("pdq", p)?.to_vec(),
                quality: None,
            });
        }
        if let Some(m) = &c.md5 {
            s.push(NewSignal {
                kind: SignalKind::Md5,
                value: parse_hex::<16>("md5", m)?.to_vec(),
                quality: None,
            });
        }
        if let Some(h) = &c.sha1 {
            s.push(NewSignal {
                kind: SignalKind::Sha1,
                value: parse_hex::<20>("sha1", h)?.to_vec(),
                quality: None,
            });
        }
        if let Some(h) = &c.sha256 {
            s.push(NewSignal {
                kind: SignalKind::Sha256,
                value: parse_hex::<32>("sha256", h)?.to_vec(),
                quality: None,
            });
        }
        if s.is_empty() {
            return Err(ApiError::bad_request(
                "no_signals",
                "give at least one of pdq, md5, sha1, sha256",
            ));
        }
        let prov = match c.provenance.as_deref() {
            None => b.provenance.clone(),
            p => provenance(p, c.list_name.as_deref())?,
        };
        let metadata = match &c.metadata {
            None | Some(serde_json::Value::Null) => None,
            Some(v @ serde_json::Value::Object(_)) => {
                let text = v.to_string();
                if text.len() > MAX_METADATA_BYTES {
                    return Err(ApiError::bad_request(
                        "invalid_metadata",
                        "metadata is larger than 64 KiB",
                    ));
                }
                Some(text)
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_metadata",
                    "metadata must be a JSON object",
                ))
            }
        };
        (s, c.note, prov, metadata)
    } else {
        let up = hash_upload(&app, body, app.hash_options(false, false)).await?;
        let mut s = vec![
            NewSignal {
                kind: SignalKind::Md5,
                value: up.query.md5.expect("md5").to_vec(),
                quality: None,
            },
            NewSignal {
                kind: SignalKind::Sha1,
                value: up.query.sha1.expect("sha1").to_vec(),
                quality: None,
            },
            NewSignal {
                kind: SignalKind::Sha256,
                value: up.query.sha256.expect("sha").to_vec(),
                quality: None,
            },
        ];
        if let (Some(p), Some(q)) = (&up.pdq, up.quality) {
            s.insert(
                0,
                NewSignal {
                    kind: SignalKind::Pdq,
                    value: parse_hex::<32>("pdq", p)?.to_vec(),
                    quality: Some(q),
                },
            );
        }
        (s, String::new(), b.provenance.clone(), None)
    };
    let public_id = new_id();
    insert_content(
        &app,
        bank_id,
        &b.name,
        &b.category,
        public_id.clone(),
        signals,
        note,
        prov,
        caller.who(),
        metadata,
    )
    .await?;
    let content = load_content(&app, &b.name, &public_id).await?;
    Ok((StatusCode::CREATED, Json(content)))
}

async fn load_content(app: &App, bank: &str, public_id: &str) -> ApiResult<BankContent> {
    let row = store::find_content(app.store.reader(), bank, public_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "content_not_found",
                format!("no content {public_id:?} in bank {bank:?}"),
            )
        })?;
    content_from_row(app, row).await
}

async fn content_from_row(app: &App, row: store::ContentRow) -> ApiResult<BankContent> {
    let sigs = store::signals_of(app.store.reader(), row.id).await?;
    Ok(BankContent {
        id: row.public_id,
        bank: row.bank,
        provenance: row.provenance,
        note: row.note,
        enabled: row.enabled,
        retracted_at: row.retracted_at,
        retraction_reason: row.retraction_reason,
        created_at: row.created_at,
        created_by: row.created_by,
        metadata: row
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok()),
        signals: sigs
            .into_iter()
            .map(|s| ContentSignal {
                signal: s.kind.as_str().to_string(),
                value: hex::encode(s.value),
                quality: s.quality,
            })
            .collect(),
        log_indexes: Vec::new(),
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContentPage {
    pub items: Vec<BankContent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Content of a bank, oldest first, paginated.
#[utoipa::path(get, path = "/v1/banks/{bank}/content", tag = "banks", params(("bank" = String, Path), Page), responses((status = 200, body = ContentPage)), security(("bearer" = [])))]
pub async fn list_content(
    State(app): State<AppState>,
    caller: Caller,
    Path(bank): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<ContentPage>> {
    caller.require(BANK_READERS)?;
    let (bank_id, _) = load_bank(&app, &bank).await?;
    let limit = page.limit();
    let rows = store::list_content(app.store.reader(), bank_id, page.after_rowid()?, limit).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(content_from_row(&app, r).await?);
    }
    Ok(Json(ContentPage { items, next }))
}

/// One bank content.
#[utoipa::path(get, path = "/v1/banks/{bank}/content/{content}", tag = "banks", params(("bank" = String, Path), ("content" = String, Path)), responses((status = 200, body = BankContent)), security(("bearer" = [])))]
pub async fn get_content(
    State(app): State<AppState>,
    caller: Caller,
    Path((bank, content)): Path<(String, String)>,
) -> ApiResult<Json<BankContent>> {
    caller.require(BANK_READERS)?;
    Ok(Json(load_content(&app, &bank, &content).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retraction {
    /// Why (e.g. "withdrawn by the list's source").
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnabledUpdate {
    pub enabled: bool,
}

/// Retract content (withdrawn by its source): it stops matching at once; the retraction is
/// recorded and logged. Retraction is final.
#[utoipa::path(post, path = "/v1/banks/{bank}/content/{content}/retract", tag = "banks", params(("bank" = String, Path), ("content" = String, Path)), request_body = Retraction, responses((status = 200, body = BankContent)), security(("bearer" = [])))]
pub async fn retract_content(
    State(app): State<AppState>,
    caller: Caller,
    Path((bank, content)): Path<(String, String)>,
    body: Result<Json<Retraction>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<BankContent>> {
    caller.require(&[Role::Curator])?;
    let Json(r) = body?;
    if r.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "reason_required",
            "a retraction needs a reason",
        ));
    }
    check_text("reason", &r.reason, 1000)?;
    load_content(&app, &bank, &content).await?; // 404 for unknown content, not 409
    change_content(&app, &bank, &content, ContentOp::Retract, Some(r.reason)).await?;
    Ok(Json(load_content(&app, &bank, &content).await?))
}

/// Enable or disable content (reversible, unlike retraction).
#[utoipa::path(patch, path = "/v1/banks/{bank}/content/{content}", tag = "banks", params(("bank" = String, Path), ("content" = String, Path)), request_body = EnabledUpdate, responses((status = 200, body = BankContent)), security(("bearer" = [])))]
pub async fn set_content_enabled(
    State(app): State<AppState>,
    caller: Caller,
    Path((bank, content)): Path<(String, String)>,
    body: Result<Json<EnabledUpdate>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<BankContent>> {
    caller.require(&[Role::Curator])?;
    let Json(u) = body?;
    let op = if u.enabled {
        ContentOp::Enable
    } else {
        ContentOp::Disable
    };
    load_content(&app, &bank, &content).await?; // 404 for unknown content, not 409
    change_content(&app, &bank, &content, op, None).await?;
    Ok(Json(load_content(&app, &bank, &content).await?))
}

impl App {
    /// Hash options for uploads: whether to match the dihedral and trimmed variants.
    pub fn hash_options(&self, dihedral: bool, trimmed: bool) -> HashOptions {
        HashOptions {
            limits: candor_signal::DecodeLimits {
                max_bytes: self.config.max_body_bytes as u64,
                max_pixels: self.config.max_image_pixels,
                max_dimension: self.config.max_image_dimension,
                ..candor_signal::DecodeLimits::default()
            },
            dihedral,
            trimmed,
            min_quality: self.config.pdq_min_quality,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportResult {
    pub imported: u64,
    /// Log index of the first and last entry written.
    pub first_log_index: Option<u64>,
    pub last_log_index: Option<u64>,
}

/// Parse one import line: `<pdq hex>`, or `<signal> <hex>` with signal pdq, md5, sha1 or sha256.
/// Blank lines and `#` comments are skipped.
pub fn import_line(line: &str, n: usize) -> Result<Option<NewSignal>, ApiError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (kind, hex) = match line.split_once([' ', '\t']) {
        Some((k, h)) => (
            SignalKind::parse(k.trim()).ok_or_else(|| {
                ApiError::bad_request("invalid_import", format!("line {n}: unknown signal {k:?}"))
            })?,
            h.trim(),
        ),
        None => (SignalKind::Pdq, line),
    };
    let value = match kind {
        SignalKind::Md5 => parse_hex::<16>("md5", hex).map(|v| v.to_vec()),
        SignalKind::Sha1 => parse_hex::<20>("sha1", hex).map(|v| v.to_vec()),
        _ => parse_hex::<32>(kind.as_str(), hex).map(|v| v.to_vec()),
    }
    .map_err(|e| ApiError::bad_request("invalid_import", format!("line {n}: {}", e.message)))?;
    Ok(Some(NewSignal {
        kind,
        value,
        quality: None,
    }))
}

/// Longest import line accepted (a `sha256 <64 hex>` line with generous spacing fits many
/// times over); a longer one is malformed, so a body without newlines cannot fill memory.
const MAX_IMPORT_LINE: usize = 1024;

/// Read an import body as it arrives: every line parsed at once (only its compact form kept),
/// the first malformed one rejects the import with its number. Bounded by
/// `max_import_bytes`, `max_import_lines` and, between two pieces of the body,
/// `request_timeout_secs`.
async fn read_import(app: &App, headers: &HeaderMap, body: Body) -> ApiResult<Vec<ImportLine>> {
    let cfg = &app.config;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "import_too_large",
            format!(
                "an import is at most {} bytes and {} hashes (max_import_bytes, max_import_lines): split the list into several imports",
                cfg.max_import_bytes, cfg.max_import_lines
            ),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cfg.max_import_bytes as u64) {
        return Err(too_large());
    }
    let stall = std::time::Duration::from_secs(cfg.request_timeout_secs);
    let mut stream = body.into_data_stream();
    let mut lines = Vec::new();
    let mut carry: Vec<u8> = Vec::new();
    let mut n = 0usize;
    let mut total = 0usize;
    let mut over = false;
    let take =
        |line: &[u8], n: usize, lines: &mut Vec<ImportLine>, over: &mut bool| -> ApiResult<()> {
            let text = std::str::from_utf8(line).map_err(|_| {
                ApiError::bad_request("invalid_import", format!("line {n}: not UTF-8 text"))
            })?;
            if let Some(s) = import_line(text, n)? {
                if lines.len() >= cfg.max_import_lines {
                    // Read on (within max_import_bytes) and answer 413 at the end: a client still
                    // sending would otherwise see a broken pipe instead of the answer.
                    *over = true;
                    return Ok(());
                }
                let mut value = [0u8; 32];
                value[..s.value.len()].copy_from_slice(&s.value);
                lines.push(ImportLine {
                    kind: s.kind,
                    value,
                });
            }
            Ok(())
        };
    // The first malformed line decides the answer, but the rest of the body is still read
    // (within max_import_bytes, not parsed): a client still sending would otherwise see a
    // broken pipe instead of the answer.
    let mut failed: Option<ApiError> = None;
    loop {
        let chunk = match tokio::time::timeout(stall, stream.next()).await {
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!("no part of the list arrived for {} s", stall.as_secs()),
                ))
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    format!("the list could not be read: {e}"),
                ))
            }
            Ok(Some(Ok(c))) => c,
        };
        total += chunk.len();
        if total > cfg.max_import_bytes {
            return Err(too_large());
        }
        if failed.is_some() {
            continue;
        }
        let mut rest: &[u8] = &chunk;
        let mut parse = || -> ApiResult<()> {
            while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
                n += 1;
                if carry.is_empty() {
                    take(&rest[..pos], n, &mut lines, &mut over)?;
                } else {
                    carry.extend_from_slice(&rest[..pos]);
                    take(&carry, n, &mut lines, &mut over)?;
                    carry.clear();
                }
                rest = &rest[pos + 1..];
            }
            carry.extend_from_slice(rest);
            if carry.len() > MAX_IMPORT_LINE {
                return Err(ApiError::bad_request(
                    "invalid_import",
                    format!("line {}: longer than {MAX_IMPORT_LINE} bytes", n + 1),
                ));
            }
            Ok(())
        };
        if let Err(e) = parse() {
            failed = Some(e);
            lines = Vec::new();
            carry = Vec::new();
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if !carry.is_empty() {
        take(&carry, n + 1, &mut lines, &mut over)?;
    }
    if over {
        return Err(too_large());
    }
    Ok(lines)
}

/// Import a hash list into a bank: one signal per line (`<pdq hex>` or `<signal> <hex>`, blank
/// lines and `#` comments skipped), each line one bank content with the bank's provenance, a
/// fresh salt and its own log entry. The body is read as it arrives and checked whole before
/// anything is written: a malformed line rejects the import (400, with its line number, answered
/// once the rest of the body has been read) and nothing is written. The import is then one atomic write: every content, signal and entry, or
/// none; it matches when this returns. An import holds at most `max_import_lines` hashes
/// (default 1,000,000) and `max_import_bytes` (default 256 MiB): a larger list is several
/// imports. Other writes wait while an import is written (~20 s for 1M hashes).
#[utoipa::path(post, path = "/v1/banks/{bank}/import", tag = "banks", params(("bank" = String, Path)),
    request_body(content = String, content_type = "text/plain", description = "one hash per line"),
    responses((status = 200, body = ImportResult), (status = 400), (status = 413)), security(("bearer" = [])))]
pub async fn import(
    State(app): State<AppState>,
    caller: Caller,
    Path(bank): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ImportResult>> {
    caller.require(&[Role::Curator])?;
    let (bank_id, b) = load_bank(&app, &bank).await?;
    let lines = Arc::new(read_import(&app, &headers, body).await?);
    let mut result = ImportResult {
        imported: 0,
        first_log_index: None,
        last_log_index: None,
    };
    if lines.is_empty() {
        return Ok(Json(result));
    }
    let common = ImportCommon {
        bank: b.name.clone(),
        category: b.category.clone(),
        provenance: b.provenance.clone(),
        now: now_rfc3339(),
    };
    let who = caller.who();
    let a = app.clone();
    // A list-sized job: in a transaction of its own (no savepoint, no sub-journal).
    let written = app
        .store
        .write_alone(move |ctx| {
            Box::pin(async move { write_import(ctx, &a, bank_id, &common, &who, lines).await })
        })
        .await?;
    let (first, last) = (written.first_log_index, written.last_log_index);
    result.imported = (last - first) + 1;
    result.first_log_index = Some(first);
    result.last_log_index = Some(last);
    Ok(Json(result))
}
