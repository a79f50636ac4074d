//! Policies as data: read by anyone, replaced by curators; every change is logged with the
//! SHA-256 of the policy's canonical JSON. The sampling settings are logged the same way as
//! the pseudo-policy `[sampling]`, with whether private surfaces may be sampled in the clear.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use candor_log::entry::{ChangeOp, EntryBody, PolicyChangeEntry, SAMPLING_POLICY};
use candor_policy::{BankInfo, Lint, LintLevel, Policy, PolicySet, Sampling, SimOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::{Caller, Role};
use crate::entries::append;
use crate::error::{ApiError, ApiResult};
use crate::{now_rfc3339, App, AppState};

/// The policies in force (public: what Candor will do is no secret), with their lints
/// (warnings where a rule can never act as written).
#[utoipa::path(get, path = "/v1/policies", tag = "policies", responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn get_set(State(app): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(in_force(&app).await?))
}

/// The set in force as JSON, with `lints` against the banks that exist now.
async fn in_force(app: &App) -> ApiResult<serde_json::Value> {
    let set = app.policies();
    let mut answer: serde_json::Value =
        serde_json::from_str(&set.to_json_string()).unwrap_or_default();
    answer["lints"] = serde_json::to_value(candor_policy::lint(&set, &bank_infos(app).await?))
        .unwrap_or_default();
    Ok(answer)
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
    let set = parse_set(&headers, &body)?;
    let lints = candor_policy::lint(&set, &bank_infos(&app).await?);
    refuse_errors(&lints)?;
    replace(&app, set).await?;
    Ok(Json(in_force(&app).await?))
}

/// A policy set from a request body: JSON (what `GET` answers, its `lints` ignored), or the
/// TOML policy file format with `Content-Type: application/toml`; parsed and validated.
fn parse_set(headers: &axum::http::HeaderMap, body: &[u8]) -> ApiResult<PolicySet> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("invalid_policy", "not UTF-8"))?;
    let toml = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("toml"));
    if toml {
        PolicySet::from_toml_str(text)
    } else {
        // What GET answers can be edited and put back: its `lints` are output only.
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(mut m)) if m.contains_key("lints") => {
                m.remove("lints");
                PolicySet::from_json_str(&serde_json::Value::Object(m).to_string())
            }
            _ => PolicySet::from_json_str(text),
        }
    }
    .map_err(|e| ApiError::bad_request("invalid_policy", e.to_string()))
}

/// What saving a policy set would change, before it is saved (the console's preview).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// Policies created, updated or deleted, each with the fields that differ (lists with the
    /// elements added and removed; `position` is the place in the set, from 1).
    #[schema(value_type = Vec<Object>)]
    pub policies: Vec<candor_policy::PolicyChange>,
    /// The sampling fields that differ.
    #[schema(value_type = Vec<Object>)]
    pub sampling: Vec<candor_policy::FieldChange>,
    /// The answers that change, for an exact match in each bank and for content that cannot
    /// be hashed: per bank (or `unhashable`), the surfaces, sender and recipient/audience
    /// jurisdictions (`other` = any jurisdiction neither set names) whose action goes
    /// `from` → `to` (each `{action, policy}`).
    #[schema(value_type = Vec<Object>)]
    pub effects: Vec<candor_policy::ChangeGroup>,
    /// How many simulated cells change (surface × sender × target × bank).
    pub changed_cells: usize,
    /// The proposed set's lints against the banks that exist now (warnings: a set that does
    /// not validate is refused with a 400 instead, as `PUT` refuses it).
    #[schema(value_type = Vec<Object>)]
    pub lints: Vec<Lint>,
}

/// What saving this policy set (the body `PUT /v1/policies` takes) would change: which
/// policies and fields, and which answers — per bank, surface and jurisdiction — change from
/// the set in force. Nothing is saved. A set that does not parse or validate is a 400 naming
/// the policy and field, as `PUT` answers.
#[utoipa::path(post, path = "/v1/policies/preview", tag = "policies", request_body(content = Object, description = "a policy set (JSON, or TOML with Content-Type: application/toml)"), responses((status = 200, body = Preview), (status = 400)), security(("bearer" = [])))]
pub async fn preview(
    State(app): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Preview>> {
    caller.require(&[Role::Curator, Role::Auditor])?;
    let proposed = parse_set(&headers, &body)?;
    let current = app.policies();
    let banks = bank_infos(&app).await?;
    let opts = SimOptions {
        bank: None,
        distance: None,
        now: Some(now_rfc3339()),
    };
    let sim = |set: &PolicySet| {
        candor_policy::simulate(set, &banks, &opts)
            .map_err(|e| ApiError::bad_request("invalid_simulation", e.to_string()))
    };
    let cells = candor_policy::diff(&sim(&current)?, &sim(&proposed)?);
    let changes = candor_policy::policy_changes(&current, &proposed);
    let lints = candor_policy::lint(&proposed, &banks);
    refuse_errors(&lints)?;
    Ok(Json(Preview {
        policies: changes.policies,
        sampling: changes.sampling,
        effects: candor_policy::group_changes(&cells),
        changed_cells: cells.len(),
        lints,
    }))
}

/// A set with an error-level lint cannot act as written: refused, every finding named.
fn refuse_errors(lints: &[Lint]) -> ApiResult<()> {
    let errors: Vec<String> = lints
        .iter()
        .filter(|l| l.level == LintLevel::Error)
        .map(|l| format!("{}: {}", l.code, l.message))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid_policy", errors.join("; ")))
    }
}

/// Every bank as the simulator and the lints see it (name, category, PDQ threshold).
pub async fn bank_infos(app: &App) -> ApiResult<Vec<BankInfo>> {
    Ok(stored_banks(&app.store).await?)
}

/// The banks in the store as [`BankInfo`]s (also used by `candor policy explain`).
pub async fn stored_banks(
    store: &candor_store::Store,
) -> Result<Vec<BankInfo>, candor_store::StoreError> {
    let rows = candor_store::banks::list_banks(store.reader()).await?;
    Ok(rows
        .into_iter()
        .filter_map(|b| {
            Some(BankInfo {
                category: serde_json::from_value(serde_json::Value::String(b.category)).ok()?,
                name: b.name,
                pdq_threshold: b.pdq_threshold,
            })
        })
        .collect())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// A proposed policy set (JSON form); default the set in force.
    #[schema(value_type = Option<Object>)]
    pub proposed: Option<serde_json::Value>,
    /// The proposed set in the TOML policy file format (instead of `proposed`).
    pub proposed_toml: Option<String>,
    /// Only this bank.
    pub bank: Option<String>,
    /// The PDQ distance of the hypothetical match (default 0).
    pub distance: Option<u32>,
}

/// What a policy set does, before it is saved: for every bank, sender jurisdiction ×
/// recipient/audience jurisdiction × surface, the action, the deciding policy and the statement
/// it would carry; for a proposed set also the cells that change from the set in force, and its
/// lints.
#[utoipa::path(post, path = "/v1/policies/simulate", tag = "policies", request_body = SimulateRequest, responses((status = 200, body = Object), (status = 400)), security(("bearer" = [])))]
pub async fn simulate(
    State(app): State<AppState>,
    caller: Caller,
    body: Result<Json<SimulateRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(&[Role::Curator, Role::Auditor])?;
    let Json(r) = body?;
    let current = app.policies();
    let proposed = match (r.proposed, r.proposed_toml) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_simulation",
                "give `proposed` or `proposed_toml`, not both",
            ))
        }
        (Some(v), None) => Some(PolicySet::from_json_str(&v.to_string())),
        (None, Some(t)) => Some(PolicySet::from_toml_str(&t)),
        (None, None) => None,
    }
    .transpose()
    .map_err(|e| ApiError::bad_request("invalid_policy", e.to_string()))?;
    let banks = bank_infos(&app).await?;
    let opts = SimOptions {
        bank: r.bank,
        distance: r.distance,
        now: Some(now_rfc3339()),
    };
    let sim = |set: &PolicySet| {
        candor_policy::simulate(set, &banks, &opts)
            .map_err(|e| ApiError::bad_request("invalid_simulation", e.to_string()))
    };
    let in_force = sim(&current)?;
    let mut answer = serde_json::Map::new();
    match &proposed {
        Some(p) => {
            let s = sim(p)?;
            let changes = candor_policy::diff(&in_force, &s);
            answer.insert("text".into(), s.to_text().into());
            answer.insert(
                "diff_text".into(),
                candor_policy::diff_text(&changes).into(),
            );
            answer.insert(
                "diff".into(),
                serde_json::to_value(&changes).unwrap_or_default(),
            );
            answer.insert(
                "lints".into(),
                serde_json::to_value(candor_policy::lint(p, &banks)).unwrap_or_default(),
            );
            answer.insert(
                "simulation".into(),
                serde_json::to_value(&s).unwrap_or_default(),
            );
        }
        None => {
            answer.insert("text".into(), in_force.to_text().into());
            answer.insert(
                "lints".into(),
                serde_json::to_value(candor_policy::lint(&current, &banks)).unwrap_or_default(),
            );
            answer.insert(
                "simulation".into(),
                serde_json::to_value(&in_force).unwrap_or_default(),
            );
        }
    }
    Ok(Json(serde_json::Value::Object(answer)))
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
                let sampling = serde_json::to_string(&set2.sampling).unwrap_or_default();
                let stored = candor_store::policies::sampling(&mut ctx.conn).await?;
                let bodies: Vec<(String, String)> = set2
                    .policies
                    .iter()
                    .map(|p| (p.id.clone(), p.canonical_json()))
                    .collect();
                candor_store::policies::replace(&mut ctx.conn, &bodies, &sampling, &now).await?;
                for p in &set2.policies {
                    let d = digest(p);
                    let op = match old_by_id.get(&p.id) {
                        None => Some(ChangeOp::Create),
                        Some(o) if *o != d => Some(ChangeOp::Update),
                        Some(_) => None,
                    };
                    if let Some(op) = op {
                        append(
                            ctx,
                            &a,
                            &now,
                            EntryBody::PolicyChange(PolicyChangeEntry {
                                policy: p.id.clone(),
                                op,
                                digest: Some(d),
                                private_surfaces: None,
                            }),
                        )?;
                    }
                }
                for id in old_by_id.keys() {
                    if !set2.policies.iter().any(|p| &p.id == id) {
                        append(
                            ctx,
                            &a,
                            &now,
                            EntryBody::PolicyChange(PolicyChangeEntry {
                                policy: id.clone(),
                                op: ChangeOp::Delete,
                                digest: None,
                                private_surfaces: None,
                            }),
                        )?;
                    }
                }
                let op = match &stored {
                    None => Some(ChangeOp::Create),
                    Some(old) if *old != sampling => Some(ChangeOp::Update),
                    Some(_) => None,
                };
                if let Some(op) = op {
                    append(
                        ctx,
                        &a,
                        &now,
                        EntryBody::PolicyChange(PolicyChangeEntry {
                            policy: SAMPLING_POLICY.to_string(),
                            op,
                            digest: Some(Sha256::digest(sampling.as_bytes()).into()),
                            private_surfaces: Some(set2.sampling.private_surfaces),
                        }),
                    )?;
                }
                let a2 = a.clone();
                let set3 = set2.clone();
                ctx.after_commit(move || {
                    *a2.policies.write().expect("policy lock") = Arc::new(set3)
                });
                Ok(())
            })
        })
        .await?;
    Ok(())
}

/// The policy set stored in the database, if one was ever published (also used by
/// `candor policy explain --against-store`).
pub async fn stored_set(store: &candor_store::Store) -> anyhow::Result<Option<PolicySet>> {
    let candor_store::policies::StoredSet {
        policies: rows,
        sampling,
    } = candor_store::policies::load(store.reader()).await?;
    if rows.is_empty() && sampling.is_none() {
        return Ok(None);
    }
    let mut policies = Vec::new();
    for body in rows {
        policies.push(serde_json::from_str::<Policy>(&body)?);
    }
    let sampling: Sampling = match sampling {
        Some(s) => serde_json::from_str(&s)?,
        None => Sampling::default(),
    };
    let mut set = PolicySet { policies, sampling };
    if let Err(candor_policy::Error::PrivateSampling(why)) = set.validate() {
        // Stored before sampling private surfaces needed the published flag: never sample
        // them silently. Public sampling stays; a curator re-publishes the set to change it.
        tracing::warn!(%why, "stored sampling reaches direct or group surfaces without private_surfaces = true: sampling only public content until the policy set is published again");
        set.sampling.surfaces = vec![candor_policy::Surface::Public];
    }
    set.validate()
        .map_err(|e| anyhow::anyhow!("stored policies: {e}"))?;
    Ok(Some(set))
}

/// At start: the stored policies, or (first start) the configured policies file.
pub async fn load_at_start(app: &Arc<App>) -> anyhow::Result<()> {
    if let Some(set) = stored_set(&app.store).await? {
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
