//! API tokens (admin): create, list, revoke. The secret is shown once and stored hashed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::{new_token, Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::{new_id, now_rfc3339, App, AppState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub role: Role,
    /// Who holds it (a person or a system); reviewers are told apart by this name.
    pub name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Only in the answer to create: keep it, it is not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// How many tokens have not been revoked (`candor serve` says how to make the first one).
pub async fn live_token_count(
    store: &candor_store::Store,
) -> Result<i64, candor_store::StoreError> {
    candor_store::tokens::live_count(store.reader()).await
}

/// Create a token in the store (also used by `candor token create`).
pub async fn create_token(
    store: &candor_store::Store,
    role: Role,
    name: &str,
) -> Result<TokenInfo, candor_store::StoreError> {
    let (token, hash) = new_token();
    let id = new_id();
    let now = now_rfc3339();
    let row = candor_store::tokens::TokenRow {
        id: id.clone(),
        name: name.to_string(),
        role: role.as_str().to_string(),
        created_at: now.clone(),
        revoked_at: None,
    };
    store
        .write(move |ctx| {
            Box::pin(async move { candor_store::tokens::create(&mut ctx.conn, &row, &hash).await })
        })
        .await?;
    Ok(TokenInfo {
        id,
        name: name.to_string(),
        role,
        created_at: now,
        revoked_at: None,
        token: Some(token),
    })
}

/// Create a token.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = NewToken, responses((status = 201, body = TokenInfo)), security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    body: Result<Json<NewToken>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<TokenInfo>)> {
    caller.require(&[Role::Admin])?;
    let Json(t) = body?;
    if t.name.trim().is_empty() || t.name.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_name",
            "name must be 1..=200 characters",
        ));
    }
    let info = create_token(&app.store, t.role, &t.name).await?;
    refresh(&app).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

async fn refresh(app: &App) -> ApiResult<()> {
    let fresh = crate::auth::load_tokens(&app.store).await?;
    *app.tokens.write().expect("token lock") = fresh;
    Ok(())
}

/// List tokens (never their secrets).
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", responses((status = 200, body = [TokenInfo])), security(("bearer" = [])))]
pub async fn list(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<TokenInfo>>> {
    caller.require(&[Role::Admin, Role::Auditor])?;
    let rows = candor_store::tokens::list(app.store.reader()).await?;
    Ok(Json(
        rows.into_iter()
            .filter_map(|t| {
                Some(TokenInfo {
                    role: Role::parse(&t.role)?,
                    id: t.id,
                    name: t.name,
                    created_at: t.created_at,
                    revoked_at: t.revoked_at,
                    token: None,
                })
            })
            .collect(),
    ))
}

/// Revoke a token: it stops working at once.
#[utoipa::path(delete, path = "/v1/tokens/{token}", tag = "tokens", params(("token" = String, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&[Role::Admin])?;
    let now = now_rfc3339();
    let id2 = id.clone();
    let revoked = app
        .store
        .write(move |ctx| {
            Box::pin(async move { candor_store::tokens::revoke(&mut ctx.conn, &id2, &now).await })
        })
        .await?;
    if !revoked {
        return Err(ApiError::not_found(
            "token_not_found",
            format!("no live token {id:?}"),
        ));
    }
    refresh(&app).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the caller's token says it is (any role): what the console shows after sign-in and
/// which pages it offers. The secret is not echoed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    pub name: String,
    pub role: Role,
}

/// The caller's token: its name and role (401 when missing or unknown).
#[utoipa::path(get, path = "/v1/whoami", tag = "tokens", responses((status = 200, body = WhoAmI), (status = 401)), security(("bearer" = [])))]
pub async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        name: caller.name,
        role: caller.role,
    })
}
