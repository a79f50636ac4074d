//! Policies as data: read by anyone, replaced by curators; every change is logged with the
//! SHA-256 of the policy's canonical JSON. The sampling settings are logged the same way as
//! the pseudo-policy `[sampling]`, with whether private surfaces may be sampled in the clear.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use candor_log::entry::{ChangeOp, EntryBody, PolicyChangeEntry, SAMPLING_POLICY};
use candor_policy::{Policy, PolicySet, Sampling};
use sha2::{Digest, Sha256};

use crate::auth::{Caller, Role};
use crate::entries::append;
use crate::error::{ApiError, ApiResult};
use crate::{now_rfc3339, App, AppState};

/// The policies in force (public: what Candor will do is no secret).
#[utoipa::path(get, path = "/v1/policies", tag = "policies", responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn get_set(State(app): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::from_str(&app.policies().to_json_string()).unwrap_or_default())
}

/// Replace the policy set: JSON `{"policies": [...], "sampling": {...}}`, or the TOML policy
/// file format with `Content-Type: application/toml`.
#[utoipa::path(put, path = "/v1/policies", tag = "policies", request_body(content = Object, description = "a policy set"), responses((status = 200, body = Object), (status = 400)), security(("bearer" = [])))]
pub async fn put_set(
    State(app): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(&[Role::Curator])?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("invalid_policy", "not UTF-8"))?;
    let toml = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("toml"));
    let set = if toml {
        PolicySet::from_toml_str(text)
    } else {
        PolicySet::from_json_str(text)
    }
    .map_err(|e| ApiError::bad_request("invalid_policy", e.to_string()))?;
    replace(&app, set).await?;
    Ok(Json(
        serde_json::from_str(&app.policies().to_json_string()).unwrap_or_default(),
    ))
}

fn digest(p: &Policy) -> [u8; 32] {
    Sha256::digest(p.canonical_json().as_bytes()).into()
}

/// Store `set` as the policies in force, logging one entry per created, updated or deleted policy.
pub async fn replace(app: &Arc<App>, set: PolicySet) -> ApiResult<()> {
    set.validate()
        .map_err(|e| ApiError::bad_request("invalid_policy", e.to_string()))?;
    let old = app.policies();
    let old_by_id: BTreeMap<String, [u8; 32]> = old
        .policies
        .iter()
        .map(|p| (p.id.clone(), digest(p)))
        .collect();
    let now = now_rfc3339();
    let a = app.clone();
    let set2 = set.clone();
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                sqlx::query("DELETE FROM policies").execute(&mut ctx.conn).await?;
                for (pos, p) in set2.policies.iter().enumerate() {
                    sqlx::query("INSERT INTO policies (id, position, body, updated_at) VALUES (?, ?, ?, ?)")
                        .bind(&p.id)
                        .bind(pos as i64)
                        .bind(p.canonical_json())
                        .bind(&now)
                        .execute(&mut ctx.conn)
                        .await?;
                    let d = digest(p);
                    let op = match old_by_id.get(&p.id) {
                        None => Some(ChangeOp::Create),
                        Some(o) if *o != d => Some(ChangeOp::Update),
                        Some(_) => None,
                    };
                    if let Some(op) = op {
                        append(ctx, &a, &now, EntryBody::PolicyChange(PolicyChangeEntry { policy: p.id.clone(), op, digest: Some(d), private_surfaces: None }))?;
                    }
                }
                for id in old_by_id.keys() {
                    if !set2.policies.iter().any(|p| &p.id == id) {
                        append(ctx, &a, &now, EntryBody::PolicyChange(PolicyChangeEntry { policy: id.clone(), op: ChangeOp::Delete, digest: None, private_surfaces: None }))?;
                    }
                }
                let sampling = serde_json::to_string(&set2.sampling).unwrap_or_default();
                let stored: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'sampling'")
                    .fetch_optional(&mut ctx.conn)
                    .await?;
                let op = match &stored {
                    None => Some(ChangeOp::Create),
                    Some(old) if *old != sampling => Some(ChangeOp::Update),
                    Some(_) => None,
                };
                if let Some(op) = op {
                    append(ctx, &a, &now, EntryBody::PolicyChange(PolicyChangeEntry {
                        policy: SAMPLING_POLICY.to_string(),
                        op,
                        digest: Some(Sha256::digest(sampling.as_bytes()).into()),
                        private_surfaces: Some(set2.sampling.surfaces.is_empty() || set2.sampling.surfaces.iter().any(|s| *s != candor_policy::Surface::Public)), // TODO(merge): the set's flag
                    }))?;
                }
                sqlx::query("INSERT INTO settings (key, value) VALUES ('sampling', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
                    .bind(&sampling)
                    .execute(&mut ctx.conn)
                    .await?;
                let a2 = a.clone();
                let set3 = set2.clone();
                ctx.after_commit(move || *a2.policies.write().expect("policy lock") = Arc::new(set3));
                Ok(())
            })
        })
        .await?;
    Ok(())
}

/// At start: the stored policies, or (first start) the configured policies file.
pub async fn load_at_start(app: &Arc<App>) -> anyhow::Result<()> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT body FROM policies ORDER BY position")
        .fetch_all(app.store.reader())
        .await?;
    let sampling: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'sampling'")
            .fetch_optional(app.store.reader())
            .await?;
    if !rows.is_empty() || sampling.is_some() {
        let mut policies = Vec::new();
        for (body,) in rows {
            policies.push(serde_json::from_str::<Policy>(&body)?);
        }
        let sampling: Sampling = match sampling {
            Some(s) => serde_json::from_str(&s)?,
            None => Sampling::default(),
        };
        let set = PolicySet { policies, sampling };
        set.validate()
            .map_err(|e| anyhow::anyhow!("stored policies: {e}"))?;
        *app.policies.write().expect("policy lock") = Arc::new(set);
        return Ok(());
    }
    if let Some(path) = &app.config.policies {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("policies {}: {e}", path.display()))?;
        let set = PolicySet::from_toml_str(&text)
            .map_err(|e| anyhow::anyhow!("policies {}: {e}", path.display()))?;
        replace(app, set)
            .await
            .map_err(|e| anyhow::anyhow!("policies: {}", e.message))?;
    }
    Ok(())
}
