//! Tokens and roles. A token is `candor_<43 base64url chars>` (256 random bits); the store
//! keeps only its SHA-256. Each token carries one role.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Scan, lookup, notices, appeals on behalf of users, data access for an account.
    Platform,
    /// Banks and policies.
    Curator,
    /// Review queue and appeals.
    Reviewer,
    /// Reads everything.
    Auditor,
    /// Tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Platform => "platform",
            Role::Curator => "curator",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "platform" => Role::Platform,
            "curator" => Role::Curator,
            "reviewer" => Role::Reviewer,
            "auditor" => Role::Auditor,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
}

/// Who is calling: the token's id, name and role.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let want: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "this needs a token with role {}; yours is {}",
                want.join(" or "),
                self.role.as_str()
            )))
        }
    }
    /// Reviewer identity for the "not the decider" rule: the token's name.
    pub fn who(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.name)
    }
}

/// A new random token and the hash to store.
pub fn new_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("candor_{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The in-memory copy of the live tokens (hash -> caller), refreshed after every token change.
pub type TokenCache = Arc<std::sync::RwLock<HashMap<[u8; 32], Caller>>>;

pub async fn load_tokens(
    store: &candor_store::Store,
) -> Result<HashMap<[u8; 32], Caller>, candor_store::StoreError> {
    let rows = candor_store::tokens::live(store.reader()).await?;
    let mut map = HashMap::new();
    for t in rows {
        let (id, name) = (t.id, t.name);
        let (Some(role), Ok(hash)) = (Role::parse(&t.role), <[u8; 32]>::try_from(t.secret_hash))
        else {
            continue;
        };
        map.insert(
            hash,
            Caller {
                token_id: id,
                name,
                role,
            },
        );
    }
    Ok(map)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "missing Authorization: Bearer <token>",
                )
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the Authorization header must be `Bearer <token>`",
                )
            })?;
        let hash = token_hash(token);
        let found = state.tokens.read().expect("token lock").get(&hash).cloned();
        if let Some(caller) = found {
            return Ok(caller);
        }
        // Not cached: a token made by `candor token create` while the service runs. Look it
        // up once; revocation goes through the API, which refreshes the cache.
        let row = candor_store::tokens::live_by_hash(state.store.reader(), &hash)
            .await
            .map_err(ApiError::from)?;
        let caller = row.and_then(|t| {
            Some(Caller {
                role: Role::parse(&t.role)?,
                token_id: t.id,
                name: t.name,
            })
        });
        match caller {
            Some(c) => {
                state
                    .tokens
                    .write()
                    .expect("token lock")
                    .insert(hash, c.clone());
                Ok(c)
            }
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "unknown or revoked token",
            )),
        }
    }
}
