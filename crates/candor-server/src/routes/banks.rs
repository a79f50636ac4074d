//! Banks and their content: create, list, update, delete; add content by signals or upload;
//! retract; enable/disable. Every change is a log entry and reaches matching before the answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use candor_log::entry::{BankContentEntry, BankEntry, ChangeOp, ContentOp, EntryBody};
use candor_policy::Category;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{check_slug, check_text, parse_enum, Page};
use crate::auth::{Caller, Role};
use crate::entries::append;
use crate::error::{ApiError, ApiResult};
use crate::matcher::{BankInfo, SignalKind};
use crate::signals::{hash_upload, parse_hex, HashOptions};
use crate::{new_id, now_rfc3339, App, AppState};

const BANK_READERS: &[Role] = &[Role::Curator, Role::Reviewer, Role::Auditor, Role::Admin];

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
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankUpdate {
    pub description: Option<String>,
    pub category: Option<String>,
    pub enabled: Option<bool>,
    pub pdq_threshold: Option<u32>,
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
    let row = sqlx::query(
        "SELECT b.id, b.name, b.description, b.category, b.provenance, b.enabled, b.pdq_threshold, \
         b.created_at, b.updated_at, \
         (SELECT COUNT(*) FROM bank_content c WHERE c.bank_id = b.id AND c.retracted_at IS NULL) \
         FROM banks b WHERE b.name = ?",
    )
    .bind(name)
    .fetch_optional(app.store.reader())
    .await?
    .ok_or_else(|| ApiError::not_found("bank_not_found", format!("no bank {name:?}")))?;
    Ok((row.get(0), bank_from_row(&row, 1)))
}

fn bank_from_row(row: &sqlx::sqlite::SqliteRow, o: usize) -> Bank {
    Bank {
        name: row.get(o),
        description: row.get(o + 1),
        category: row.get(o + 2),
        provenance: row.get(o + 3),
        enabled: row.get::<i64, _>(o + 4) != 0,
        pdq_threshold: row.get::<i64, _>(o + 5) as u32,
        created_at: row.get(o + 6),
        updated_at: row.get(o + 7),
        content_count: row.get(o + 8),
    }
}

/// List banks.
#[utoipa::path(get, path = "/v1/banks", tag = "banks", responses((status = 200, body = [Bank])), security(("bearer" = [])))]
pub async fn list(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Bank>>> {
    caller.require(BANK_READERS)?;
    let rows = sqlx::query(
        "SELECT b.name, b.description, b.category, b.provenance, b.enabled, b.pdq_threshold, \
         b.created_at, b.updated_at, \
         (SELECT COUNT(*) FROM bank_content c WHERE c.bank_id = b.id AND c.retracted_at IS NULL) \
         FROM banks b ORDER BY b.name",
    )
    .fetch_all(app.store.reader())
    .await?;
    Ok(Json(rows.iter().map(|r| bank_from_row(r, 0)).collect()))
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
    let now = now_rfc3339();
    let a = app.clone();
    let (name, category) = (b.name.clone(), b.category.clone());
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM banks WHERE name = ?")
                    .bind(&name)
                    .fetch_optional(&mut ctx.conn)
                    .await?;
                if exists.is_some() {
                    return Err(candor_store::StoreError::Rejected(format!("bank {name:?} exists")));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO banks (name, description, category, provenance, enabled, pdq_threshold, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(&name)
                .bind(&b.description)
                .bind(&category)
                .bind(&prov)
                .bind(enabled as i64)
                .bind(threshold as i64)
                .bind(&now)
                .bind(&now)
                .fetch_one(&mut ctx.conn)
                .await?;
                record_bank(ctx, &a, &now, id, ChangeOp::Create, BankInfo {
                    name,
                    category,
                    enabled,
                    pdq_threshold: threshold,
                })
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(load_bank(&app, &b.name).await?.1)))
}

/// Log a bank's creation or update and, after the commit, give the match index its settings.
fn record_bank(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    now: &str,
    id: i64,
    op: ChangeOp,
    info: BankInfo,
) -> Result<(), candor_store::StoreError> {
    append(
        ctx,
        a,
        now,
        EntryBody::Bank(BankEntry {
            bank: info.name.clone(),
            op,
            category: info.category.clone(),
            enabled: info.enabled,
            pdq_threshold: info.pdq_threshold,
        }),
    )?;
    let a = a.clone();
    ctx.after_commit(move || a.matcher.write().expect("matcher lock").set_bank(id, info));
    Ok(())
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
    let now = now_rfc3339();
    let a = app.clone();
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                let n = sqlx::query(
                    "UPDATE banks SET description = ?, category = ?, enabled = ?, pdq_threshold = ?, updated_at = ? WHERE id = ?",
                )
                .bind(&description)
                .bind(&category)
                .bind(enabled as i64)
                .bind(threshold as i64)
                .bind(&now)
                .bind(id)
                .execute(&mut ctx.conn)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(candor_store::StoreError::Rejected("bank was deleted".into()));
                }
                record_bank(ctx, &a, &now, id, ChangeOp::Update, BankInfo {
                    name,
                    category,
                    enabled,
                    pdq_threshold: threshold,
                })
            })
        })
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
    let (id, cur) = load_bank(&app, &name).await?;
    let now = now_rfc3339();
    let a = app.clone();
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                sqlx::query("DELETE FROM content_signals WHERE content_id IN (SELECT id FROM bank_content WHERE bank_id = ?)")
                    .bind(id)
                    .execute(&mut ctx.conn)
                    .await?;
                sqlx::query("DELETE FROM bank_content WHERE bank_id = ?").bind(id).execute(&mut ctx.conn).await?;
                sqlx::query("DELETE FROM banks WHERE id = ?").bind(id).execute(&mut ctx.conn).await?;
                append(ctx, &a, &now, EntryBody::Bank(BankEntry {
                    bank: cur.name.clone(),
                    op: ChangeOp::Delete,
                    category: cur.category.clone(),
                    enabled: false,
                    pdq_threshold: cur.pdq_threshold,
                }))?;
                let a2 = a.clone();
                ctx.after_commit(move || a2.matcher.write().expect("matcher lock").remove_bank(id));
                Ok(())
            })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContentSignal {
    /// `pdq`, `md5` or `sha256`.
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
    pub signals: Vec<ContentSignal>,
    /// Log indexes of this change's entries (one per signal).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_indexes: Vec<u64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContent {
    /// Known signals, hex: `pdq` (64), `md5` (32), `sha256` (64).
    #[serde(default)]
    pub pdq: Option<String>,
    #[serde(default)]
    pub md5: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub note: String,
    /// Overrides the bank's provenance: `own_review` or `imported` (with `list_name`).
    #[serde(default)]
    pub provenance: Option<String>,
    #[serde(default)]
    pub list_name: Option<String>,
}

/// Signals to store for a new bank content.
#[derive(Debug, Clone)]
pub struct NewSignal {
    pub kind: SignalKind,
    pub value: Vec<u8>,
    pub quality: Option<u8>,
}

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
    let (signals, note, prov) = if is_json {
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
                "give at least one of pdq, md5, sha256",
            ));
        }
        let prov = match c.provenance.as_deref() {
            None => b.provenance.clone(),
            p => provenance(p, c.list_name.as_deref())?,
        };
        (s, c.note, prov)
    } else {
        let up = hash_upload(&app, body, app.hash_options(false, false)).await?;
        let mut s = vec![
            NewSignal {
                kind: SignalKind::Md5,
                value: up.query.md5.expect("md5").to_vec(),
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
        (s, String::new(), b.provenance.clone())
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
    )
    .await?;
    let content = load_content(&app, &b.name, &public_id).await?;
    Ok((StatusCode::CREATED, Json(content)))
}

/// Insert one bank content with its signals (used by curators and by review confirmations).
/// Returns the log indexes.
#[allow(clippy::too_many_arguments)]
pub async fn insert_content(
    app: &Arc<App>,
    bank_id: i64,
    bank: &str,
    category: &str,
    public_id: String,
    signals: Vec<NewSignal>,
    note: String,
    prov: String,
    by: String,
) -> ApiResult<Vec<u64>> {
    let now = now_rfc3339();
    let a = app.clone();
    let (bank, category) = (bank.to_string(), category.to_string());
    Ok(app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                insert_content_in(
                    ctx, &a, bank_id, &bank, &category, &public_id, &signals, &note, &prov, &by,
                    &now, None,
                )
                .await
            })
        })
        .await?)
}

/// The write itself, inside a job (also used by the review queue). `from_content` is the
/// content commitment of a person's content a review added (logged with each signal, so the
/// person can find the addition with their notice).
#[allow(clippy::too_many_arguments)]
pub async fn insert_content_in(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    bank_id: i64,
    bank: &str,
    category: &str,
    public_id: &str,
    signals: &[NewSignal],
    note: &str,
    prov: &str,
    by: &str,
    now: &str,
    from_content: Option<candor_log::merkle::Hash>,
) -> Result<Vec<u64>, candor_store::StoreError> {
    let content_row: i64 = sqlx::query_scalar(
        "INSERT INTO bank_content (public_id, bank_id, provenance, note, enabled, created_at, created_by) \
         VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING id",
    )
    .bind(public_id)
    .bind(bank_id)
    .bind(prov)
    .bind(note)
    .bind(now)
    .bind(by)
    .fetch_one(&mut ctx.conn)
    .await?;
    let mut indexes = Vec::new();
    let mut rows = Vec::new();
    for s in signals {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let row: i64 = sqlx::query_scalar(
            "INSERT INTO content_signals (content_id, signal, value, quality, salt) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(content_row)
        .bind(s.kind.as_str())
        .bind(s.value.as_slice())
        .bind(s.quality.map(i64::from))
        .bind(salt.as_slice())
        .fetch_one(&mut ctx.conn)
        .await?;
        rows.push((row, s.kind, s.value.clone()));
        indexes.push(append(
            ctx,
            a,
            now,
            EntryBody::BankContent(BankContentEntry {
                bank: bank.to_string(),
                content: public_id.to_string(),
                op: ContentOp::Add,
                signal: s.kind,
                commitment: candor_log::commit::signal_commitment(&salt, s.kind.as_str(), &s.value),
                category: category.to_string(),
                provenance: prov.to_string(),
                reason: None,
                content_commitment: from_content,
            }),
        )?);
    }
    let a2 = a.clone();
    let public_id = public_id.to_string();
    ctx.after_commit(move || {
        let mut m = a2.matcher.write().expect("matcher lock");
        for (row, kind, value) in rows {
            m.insert(row, bank_id, public_id.clone(), kind, &value);
        }
    });
    Ok(indexes)
}

async fn load_content(app: &App, bank: &str, public_id: &str) -> ApiResult<BankContent> {
    let row = sqlx::query(
        "SELECT c.id, c.public_id, b.name, c.provenance, c.note, c.enabled, c.retracted_at, c.retraction_reason, \
         c.created_at, c.created_by FROM bank_content c JOIN banks b ON b.id = c.bank_id \
         WHERE c.public_id = ? AND b.name = ?",
    )
    .bind(public_id)
    .bind(bank)
    .fetch_optional(app.store.reader())
    .await?
    .ok_or_else(|| ApiError::not_found("content_not_found", format!("no content {public_id:?} in bank {bank:?}")))?;
    content_from_row(app, &row).await
}

async fn content_from_row(app: &App, row: &sqlx::sqlite::SqliteRow) -> ApiResult<BankContent> {
    let id: i64 = row.get(0);
    let sigs = sqlx::query(
        "SELECT signal, value, quality FROM content_signals WHERE content_id = ? ORDER BY id",
    )
    .bind(id)
    .fetch_all(app.store.reader())
    .await?;
    Ok(BankContent {
        id: row.get(1),
        bank: row.get(2),
        provenance: row.get(3),
        note: row.get(4),
        enabled: row.get::<i64, _>(5) != 0,
        retracted_at: row.get(6),
        retraction_reason: row.get(7),
        created_at: row.get(8),
        created_by: row.get(9),
        signals: sigs
            .iter()
            .map(|s| ContentSignal {
                signal: s.get(0),
                value: hex::encode(s.get::<Vec<u8>, _>(1)),
                quality: s.get::<Option<i64>, _>(2).map(|q| q as u8),
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
    let (bank_id, b) = load_bank(&app, &bank).await?;
    let limit = page.limit();
    let rows = sqlx::query(
        "SELECT c.id, c.public_id, ?, c.provenance, c.note, c.enabled, c.retracted_at, c.retraction_reason, \
         c.created_at, c.created_by FROM bank_content c WHERE c.bank_id = ? AND c.id > ? ORDER BY c.id LIMIT ?",
    )
    .bind(&b.name)
    .bind(bank_id)
    .bind(page.after_rowid()?)
    .bind(limit)
    .fetch_all(app.store.reader())
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        items.push(content_from_row(&app, r).await?);
    }
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.get::<i64, _>(0).to_string()))
        .flatten();
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

/// Retract, enable or disable one content (all its signals), in a job.
pub async fn change_content(
    app: &Arc<App>,
    bank: &str,
    content: &str,
    op: ContentOp,
    reason: Option<String>,
) -> ApiResult<()> {
    let now = now_rfc3339();
    let a = app.clone();
    let (bank, content) = (bank.to_string(), content.to_string());
    app.store
        .write(move |ctx| {
            Box::pin(
                async move { change_content_in(ctx, &a, &bank, &content, op, reason, &now).await },
            )
        })
        .await?;
    Ok(())
}

pub async fn change_content_in(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    bank: &str,
    content: &str,
    op: ContentOp,
    reason: Option<String>,
    now: &str,
) -> Result<(), candor_store::StoreError> {
    use candor_store::StoreError::Rejected;
    let row = sqlx::query(
        "SELECT c.id, c.bank_id, c.enabled, c.retracted_at, c.provenance, b.category FROM bank_content c \
         JOIN banks b ON b.id = c.bank_id WHERE c.public_id = ? AND b.name = ?",
    )
    .bind(content)
    .bind(bank)
    .fetch_optional(&mut ctx.conn)
    .await?
    .ok_or_else(|| Rejected(format!("no content {content:?} in bank {bank:?}")))?;
    let (cid, bank_id): (i64, i64) = (row.get(0), row.get(1));
    let enabled = row.get::<i64, _>(2) != 0;
    let retracted = row.get::<Option<String>, _>(3).is_some();
    let (prov, category): (String, String) = (row.get(4), row.get(5));
    if retracted {
        return Err(Rejected(format!("content {content:?} is retracted")));
    }
    match op {
        ContentOp::Retract => {
            sqlx::query("UPDATE bank_content SET retracted_at = ?, retraction_reason = ?, enabled = 0 WHERE id = ?")
                .bind(now)
                .bind(&reason)
                .bind(cid)
                .execute(&mut ctx.conn)
                .await?;
        }
        ContentOp::Enable | ContentOp::Disable => {
            let want = op == ContentOp::Enable;
            if want == enabled {
                return Ok(());
            }
            sqlx::query("UPDATE bank_content SET enabled = ? WHERE id = ?")
                .bind(want as i64)
                .bind(cid)
                .execute(&mut ctx.conn)
                .await?;
        }
        ContentOp::Add => return Err(Rejected("add is not a change".into())),
    }
    let sigs = sqlx::query(
        "SELECT id, signal, value, salt FROM content_signals WHERE content_id = ? ORDER BY id",
    )
    .bind(cid)
    .fetch_all(&mut ctx.conn)
    .await?;
    let mut rows = Vec::new();
    for s in &sigs {
        let kind = SignalKind::parse(s.get::<&str, _>(1)).unwrap_or(SignalKind::Sha256);
        let value: Vec<u8> = s.get(2);
        let salt: [u8; 16] = s
            .get::<Vec<u8>, _>(3)
            .try_into()
            .map_err(|_| Rejected("bad salt".into()))?;
        append(
            ctx,
            a,
            now,
            EntryBody::BankContent(BankContentEntry {
                bank: bank.to_string(),
                content: content.to_string(),
                op,
                signal: kind,
                commitment: candor_log::commit::signal_commitment(&salt, kind.as_str(), &value),
                category: category.clone(),
                provenance: prov.clone(),
                reason: reason.clone(),
                content_commitment: None,
            }),
        )?;
        rows.push((s.get::<i64, _>(0), kind, value));
    }
    let a2 = a.clone();
    let public = content.to_string();
    ctx.after_commit(move || {
        let mut m = a2.matcher.write().expect("matcher lock");
        for (row, kind, value) in rows {
            if op == ContentOp::Enable {
                m.insert(row, bank_id, public.clone(), kind, &value);
            } else {
                m.remove(row);
            }
        }
    });
    Ok(())
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

/// Lines per write transaction of an import.
const IMPORT_BATCH: usize = 5000;

/// Parse one import line: `<pdq hex>`, or `<signal> <hex>` with signal pdq, md5 or sha256.
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
        _ => parse_hex::<32>(kind.as_str(), hex).map(|v| v.to_vec()),
    }
    .map_err(|e| ApiError::bad_request("invalid_import", format!("line {n}: {}", e.message)))?;
    Ok(Some(NewSignal {
        kind,
        value,
        quality: None,
    }))
}

/// Import a hash list into a bank: one signal per line (`<pdq hex>` or `<signal> <hex>`),
/// each line one bank content with the bank's provenance. The whole body is checked before
/// anything is written; then it is written in transactions of 5,000 lines, each line logged.
#[utoipa::path(post, path = "/v1/banks/{bank}/import", tag = "banks", params(("bank" = String, Path)),
    request_body(content = String, content_type = "text/plain", description = "one hash per line"),
    responses((status = 200, body = ImportResult), (status = 400)), security(("bearer" = [])))]
pub async fn import(
    State(app): State<AppState>,
    caller: Caller,
    Path(bank): Path<String>,
    body: Bytes,
) -> ApiResult<Json<ImportResult>> {
    caller.require(&[Role::Curator])?;
    let (bank_id, b) = load_bank(&app, &bank).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("invalid_import", "the list is not UTF-8 text"))?;
    let mut signals = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(s) = import_line(line, i + 1)? {
            signals.push(s);
        }
    }
    let who = caller.who();
    let mut result = ImportResult {
        imported: 0,
        first_log_index: None,
        last_log_index: None,
    };
    for chunk in signals.chunks(IMPORT_BATCH) {
        let chunk = chunk.to_vec();
        let a = app.clone();
        let (name, category, prov, who) = (
            b.name.clone(),
            b.category.clone(),
            b.provenance.clone(),
            who.clone(),
        );
        let now = now_rfc3339();
        let idx = app
            .store
            .write(move |ctx| {
                Box::pin(async move {
                    let mut idx = Vec::with_capacity(chunk.len());
                    for s in &chunk {
                        let id = new_id();
                        idx.extend(
                            insert_content_in(
                                ctx,
                                &a,
                                bank_id,
                                &name,
                                &category,
                                &id,
                                std::slice::from_ref(s),
                                "",
                                &prov,
                                &who,
                                &now,
                                None,
                            )
                            .await?,
                        );
                    }
                    Ok(idx)
                })
            })
            .await?;
        result.imported += idx.len() as u64;
        result.first_log_index = result.first_log_index.or(idx.first().copied());
        result.last_log_index = idx.last().copied().or(result.last_log_index);
    }
    Ok(Json(result))
}
