//! Scan: what a platform calls before it delivers. Signals (or the content, hashed and
//! dropped) plus context in; one action per recipient out, with a decision, statement, notices
//! and a durable log entry for everything that is not `deliver`.

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::Json;
use candor_policy::ScanContext;
use serde::Deserialize;

use super::check_text;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::flows::scan::decide;
pub use crate::flows::scan::{
    enum_str, AudienceAction, DecisionOut, Deferral, NoticeRef, RecipientAction, ScanResponse,
};
use crate::routes::lookup::{body_bytes, upload_bytes};
use crate::signals::{hash_upload, query_from_hex, HexDigests};
use crate::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalsIn {
    /// PDQ hex; more than one (comma-separated) for the dihedral variants.
    pub pdq: Option<String>,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// Surface, the platform's content id, content type, sender, recipients and/or audience.
    #[schema(value_type = Object)]
    pub context: ScanContext,
    /// The content's signals (when the body is JSON; with multipart, the `file` part instead).
    pub signals: Option<SignalsIn>,
    /// Defer the notices of this scan's decisions (only with a recorded legal basis).
    pub defer_notices: Option<Deferral>,
    /// Also tell the recipients the outcome when a review of this content (sampled or held)
    /// finishes (the sender is always told). Default false.
    #[serde(default)]
    pub review_notices_to_recipients: bool,
}

/// Scan content before delivery: JSON (`context` + `signals`) or multipart (`context` JSON part
/// + `file`; optional `defer_notices` JSON part).
#[utoipa::path(post, path = "/v1/scan", tag = "scan", request_body = ScanRequest,
    responses((status = 200, body = ScanResponse), (status = 400), (status = 413)), security(("bearer" = [])))]
pub async fn scan(
    State(app): State<AppState>,
    caller: Caller,
    req: Request,
) -> ApiResult<Json<ScanResponse>> {
    caller.require(&[Role::Platform])?;
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (ctx, defer, query, upload, tell_recipients) = if is_json {
        let bytes = body_bytes(req, &app).await?;
        let r: ScanRequest = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
        let s = r.signals.ok_or_else(|| {
            ApiError::bad_request(
                "no_signals",
                "give `signals`, or send the file as multipart",
            )
        })?;
        let q = query_from_hex(
            s.pdq.as_deref(),
            HexDigests {
                md5: s.md5.as_deref(),
                sha1: s.sha1.as_deref(),
                sha256: s.sha256.as_deref(),
            },
        )?;
        (
            r.context,
            r.defer_notices,
            q,
            None,
            r.review_notices_to_recipients,
        )
    } else {
        let (bytes, fields) = upload_bytes(req, &app).await?;
        let mut ctx = None;
        let mut defer = None;
        let mut tell = false;
        for (name, text) in fields {
            match name.as_str() {
                "context" => {
                    ctx = Some(serde_json::from_str::<ScanContext>(&text).map_err(|e| {
                        ApiError::bad_request("invalid_context", format!("context: {e}"))
                    })?)
                }
                "defer_notices" => {
                    defer = Some(serde_json::from_str::<Deferral>(&text).map_err(|e| {
                        ApiError::bad_request("invalid_json", format!("defer_notices: {e}"))
                    })?)
                }
                "review_notices_to_recipients" => {
                    tell = match text.trim() {
                        "true" => true,
                        "false" => false,
                        v => {
                            return Err(ApiError::bad_request(
                                "invalid_multipart",
                                format!("review_notices_to_recipients is true or false, not {v:?}"),
                            ))
                        }
                    }
                }
                other => {
                    return Err(ApiError::bad_request(
                        "invalid_multipart",
                        format!("unknown part {other:?}"),
                    ))
                }
            }
        }
        let ctx = ctx.ok_or_else(|| {
            ApiError::bad_request("invalid_context", "the form has no `context` part")
        })?;
        ctx.validate()
            .map_err(|e| ApiError::bad_request("invalid_context", e.to_string()))?;
        let up = hash_upload(
            &app,
            bytes,
            app.hash_options(app.config.match_dihedral, app.config.match_trimmed),
        )
        .await?;
        let q = up.query.clone();
        (ctx, defer, q, Some(up), tell)
    };
    ctx.validate()
        .map_err(|e| ApiError::bad_request("invalid_context", e.to_string()))?;
    if let Some(d) = &defer {
        if d.legal_basis.trim().is_empty() {
            return Err(ApiError::bad_request(
                "legal_basis_required",
                "a deferral needs a legal basis",
            ));
        }
        check_text("legal_basis", &d.legal_basis, 200)?;
    }
    let found = crate::matcher::screen(app.matcher.read().expect("matcher lock").find(&query));
    // An image Candor could not hash goes to the published `unhashable` rules, never silently
    // through (its exact digests were still matched).
    let unhashable = upload
        .as_ref()
        .and_then(|u| u.image_error.as_ref())
        .map(|e| {
            e.chars()
                .take(candor_policy::MAX_UNHASHABLE_REASON)
                .collect()
        });
    let response = decide(&app, ctx, defer, found, &query, tell_recipients, unhashable).await?;
    metrics::counter!("candor_scans_total").increment(1);
    Ok(Json(ScanResponse {
        signals: upload,
        ..response
    }))
}
