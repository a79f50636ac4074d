//! `candor-relay`: a reference chat relay built on Candor's HTTP API, as a platform integrates.
//!
//! Accounts with a registration jurisdiction, direct and group conversations, text messages and
//! attachments. Every attachment is scanned by Candor (`POST /v1/scan`) before delivery, with
//! the conversation's surface, the sender and every recipient with their jurisdictions; each
//! recipient gets the attachment or, instead, what Candor decided (a withheld / held / blocked
//! status naming the decision and policy) and Candor's notices (statement, how to appeal). When
//! Candor cannot be reached the attachment is held as "could not be checked" and re-checked
//! later: never delivered unchecked, never dropped. The relay never decides anything itself.
//!
//! Storage is the relay's own SQLite database (`db.rs`); attachment bytes are kept only until
//! every recipient has downloaded them (withheld ones are kept while an appeal may release them).

pub mod candor;
pub mod db;
pub mod scenario;

mod web;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::sqlite::SqlitePool;
use sqlx::Row;

pub use candor::{Candor, CandorError};

/// What the relay needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Candor's base URL, e.g. `http://127.0.0.1:8080`.
    pub candor_url: String,
    /// A Candor token with the `platform` role.
    pub platform_token: String,
    /// The relay's SQLite database file.
    pub database: PathBuf,
    /// Largest attachment accepted (bytes).
    pub max_attachment_bytes: usize,
    /// How often held "could not be checked" attachments are re-checked, and notices synced.
    pub sync_interval: Duration,
}

impl Config {
    pub fn new(candor_url: &str, platform_token: &str, database: PathBuf) -> Config {
        Config {
            candor_url: candor_url.to_string(),
            platform_token: platform_token.to_string(),
            database,
            max_attachment_bytes: 8 << 20,
            sync_interval: Duration::from_secs(2),
        }
    }
}

pub struct Relay {
    pub config: Config,
    pub pool: SqlitePool,
    pub candor: Candor,
    changed: tokio::sync::Notify,
}

pub type AppState = Arc<Relay>;

/// An error answer: `{"error": {"code", "message"}}` (plus Candor's own answer when it refused).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    candor: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            candor: None,
        }
    }
    fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage", e.to_string())
    }
}

impl From<CandorError> for ApiError {
    fn from(e: CandorError) -> ApiError {
        match e {
            CandorError::Unavailable(m) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "candor_unavailable", m)
            }
            CandorError::Refused { status, body } => ApiError {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                code: "candor_refused",
                message: body["error"]["message"]
                    .as_str()
                    .unwrap_or("Candor refused the request")
                    .to_string(),
                candor: Some(body),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(c) = self.candor {
            e["candor"] = c;
        }
        (self.status, Json(json!({ "error": e }))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn check_name(what: &str, s: &str) -> ApiResult<()> {
    if s.is_empty()
        || s.len() > 64
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::bad(
            "invalid_name",
            format!("{what} must be 1..=64 of [A-Za-z0-9_-]"),
        ));
    }
    Ok(())
}

/// Run a blocking Candor call on the blocking pool.
async fn call<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&Candor) -> Result<T, CandorError> + Send + 'static,
) -> Result<T, CandorError> {
    let c = app.candor.clone();
    tokio::task::spawn_blocking(move || f(&c))
        .await
        .unwrap_or_else(|e| Err(CandorError::Unavailable(format!("task failed: {e}"))))
}

impl Relay {
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        let pool = db::open(&config.database).await?;
        let candor = Candor::new(&config.candor_url, &config.platform_token);
        Ok(Arc::new(Relay {
            config,
            pool,
            candor,
            changed: tokio::sync::Notify::new(),
        }))
    }

    async fn push(&self, account: &str, body: Value) -> Result<i64, sqlx::Error> {
        let id = db::push_event(&self.pool, account, &body).await?;
        self.changed.notify_waiters();
        Ok(id)
    }
}

/// The relay's routes (JSON API, long-poll inbox, the web client at `/`).
pub fn router(app: AppState) -> Router {
    let limit = app.config.max_attachment_bytes + (64 << 10);
    Router::new()
        .route("/", get(web::page))
        .route("/accounts", get(list_accounts).post(create_account))
        .route("/accounts/{name}/export", get(export))
        .route(
            "/conversations",
            get(list_conversations).post(create_conversation),
        )
        .route("/conversations/{id}/messages", post(send_message))
        .route("/inbox", get(inbox))
        .route("/attachments/{message}", get(download))
        .route("/appeals", post(appeal))
        .route("/notices/{id}/proof", get(proof))
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

/// Background work: re-check attachments Candor could not check, and bring every account's
/// Candor notices into its inbox (review outcomes and appeal outcomes arrive this way).
pub fn spawn_background(app: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(app.config.sync_interval).await;
            if let Err(e) = background_round(&app).await {
                tracing::warn!("background round: {e}");
            }
        }
    })
}

async fn background_round(app: &AppState) -> anyhow::Result<()> {
    let unchecked: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM messages WHERE check_status = 'unchecked' ORDER BY id")
            .fetch_all(&app.pool)
            .await?;
    for id in unchecked {
        if let Err(e) = check_message(app, id).await {
            tracing::warn!("re-check of message {id}: {}: {}", e.code, e.message);
        }
    }
    for a in db::accounts(&app.pool).await? {
        // Candor down: notices come on a later round.
        let _ = sync_notices(app, &a.name).await;
    }
    Ok(())
}

#[derive(Deserialize)]
struct NewAccount {
    name: String,
    jurisdiction: String,
}

async fn create_account(
    State(app): State<AppState>,
    Json(a): Json<NewAccount>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_name("name", &a.name)?;
    if a.jurisdiction.len() != 2 || !a.jurisdiction.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ApiError::bad(
            "invalid_jurisdiction",
            "jurisdiction is an ISO 3166-1 alpha-2 code such as DE",
        ));
    }
    let r = sqlx::query("INSERT OR IGNORE INTO accounts (name, jurisdiction) VALUES (?, ?)")
        .bind(&a.name)
        .bind(&a.jurisdiction)
        .execute(&app.pool)
        .await?;
    if r.rows_affected() == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "account_exists",
            format!("account {:?} exists", a.name),
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": a.name, "jurisdiction": a.jurisdiction})),
    ))
}

async fn list_accounts(State(app): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(db::accounts(&app.pool).await?)))
}

#[derive(Deserialize)]
struct NewConversation {
    kind: String,
    #[serde(default)]
    name: Option<String>,
    members: Vec<String>,
}

async fn create_conversation(
    State(app): State<AppState>,
    Json(c): Json<NewConversation>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut members = c.members.clone();
    members.sort();
    members.dedup();
    match c.kind.as_str() {
        "direct" if members.len() == 2 => {}
        "direct" => {
            return Err(ApiError::bad(
                "invalid_members",
                "a direct conversation has exactly two members",
            ))
        }
        "group" if (2..=256).contains(&members.len()) => {}
        "group" => {
            return Err(ApiError::bad(
                "invalid_members",
                "a group has 2..=256 members",
            ))
        }
        _ => return Err(ApiError::bad("invalid_kind", "kind is direct or group")),
    }
    for m in &members {
        if db::account(&app.pool, m).await?.is_none() {
            return Err(ApiError::not_found(
                "account_not_found",
                format!("no account {m:?}"),
            ));
        }
    }
    let name = c.name.unwrap_or_else(|| members.join(", "));
    if name.len() > 200 {
        return Err(ApiError::bad("invalid_name", "name is at most 200 bytes"));
    }
    let mut tx = app.pool.begin().await?;
    let id = sqlx::query("INSERT INTO conversations (kind, name) VALUES (?, ?)")
        .bind(&c.kind)
        .bind(&name)
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
    for m in &members {
        sqlx::query("INSERT INTO members (conversation, account) VALUES (?, ?)")
            .bind(id)
            .bind(m)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "kind": c.kind, "name": name, "members": members})),
    ))
}

#[derive(Deserialize)]
struct AccountQuery {
    account: String,
}

async fn list_conversations(
    State(app): State<AppState>,
    Query(q): Query<AccountQuery>,
) -> ApiResult<Json<Value>> {
    let rows = sqlx::query(
        "SELECT c.id, c.kind, c.name FROM conversations c JOIN members m ON m.conversation = c.id \
         WHERE m.account = ? ORDER BY c.id",
    )
    .bind(&q.account)
    .fetch_all(&app.pool)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let id: i64 = r.get(0);
        let members: Vec<String> = db::members(&app.pool, id)
            .await?
            .into_iter()
            .map(|a| a.name)
            .collect();
        out.push(json!({"id": id, "kind": r.get::<String, _>(1), "name": r.get::<String, _>(2), "members": members}));
    }
    Ok(Json(json!(out)))
}

struct Outgoing {
    sender: String,
    text: Option<String>,
    file: Option<(String, String, Vec<u8>)>,
}

async fn read_outgoing(app: &AppState, req: Request) -> ApiResult<Outgoing> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        let Json(v): Json<Value> = Json::from_request(req, app)
            .await
            .map_err(|e| ApiError::bad("invalid_json", e.body_text()))?;
        let sender = v["sender"]
            .as_str()
            .ok_or_else(|| ApiError::bad("invalid_message", "`sender` is required"))?
            .to_string();
        return Ok(Outgoing {
            sender,
            text: v["text"].as_str().map(str::to_string),
            file: None,
        });
    }
    let mut mp = Multipart::from_request(req, app)
        .await
        .map_err(|e| ApiError::bad("invalid_multipart", e.body_text()))?;
    let (mut sender, mut text, mut file) = (None, None, None);
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::bad("invalid_multipart", e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "sender" | "text" => {
                let t = field
                    .text()
                    .await
                    .map_err(|e| ApiError::bad("invalid_multipart", e.body_text()))?;
                if name == "sender" {
                    sender = Some(t)
                } else {
                    text = Some(t)
                }
            }
            "file" => {
                let fname = field.file_name().unwrap_or("file").to_string();
                let ftype = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = field.bytes().await.map_err(|e| {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "attachment_too_large",
                        e.body_text(),
                    )
                })?;
                file = Some((fname, ftype, bytes.to_vec()));
            }
            other => {
                return Err(ApiError::bad(
                    "invalid_multipart",
                    format!("unknown part {other:?} (sender, text, file)"),
                ))
            }
        }
    }
    Ok(Outgoing {
        sender: sender.ok_or_else(|| ApiError::bad("invalid_message", "`sender` is required"))?,
        text,
        file,
    })
}

use axum::extract::FromRequest;

/// Send a message (JSON `{sender, text}` or multipart `sender`, `text`, `file`). Text is
/// delivered at once; an attachment only after Candor's scan, per recipient.
async fn send_message(
    State(app): State<AppState>,
    Path(conv): Path<i64>,
    req: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let out = read_outgoing(&app, req).await?;
    let (kind, _) = db::conversation_kind(&app.pool, conv)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation_not_found", "no such conversation"))?;
    let members = db::members(&app.pool, conv).await?;
    if !members.iter().any(|m| m.name == out.sender) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_member",
            "the sender is not a member of this conversation",
        ));
    }
    if out.text.is_none() && out.file.is_none() {
        return Err(ApiError::bad(
            "empty_message",
            "give `text`, `file` or both",
        ));
    }
    if out.text.as_ref().is_some_and(|t| t.len() > 16 << 10) {
        return Err(ApiError::bad("text_too_long", "text is at most 16 KiB"));
    }
    if let Some((name, _, bytes)) = &out.file {
        if bytes.is_empty() {
            return Err(ApiError::bad("empty_attachment", "the attachment is empty"));
        }
        if bytes.len() > app.config.max_attachment_bytes {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "attachment_too_large",
                format!(
                    "attachments are at most {} bytes",
                    app.config.max_attachment_bytes
                ),
            ));
        }
        if name.len() > 200 {
            return Err(ApiError::bad(
                "invalid_file_name",
                "file name is at most 200 bytes",
            ));
        }
    }
    let created = now();
    let mut tx = app.pool.begin().await?;
    let status = if out.file.is_some() {
        "checking"
    } else {
        "none"
    };
    let id = sqlx::query(
        "INSERT INTO messages (conversation, sender, created_at, text, file_name, file_type, file_size, check_status) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(conv)
    .bind(&out.sender)
    .bind(&created)
    .bind(&out.text)
    .bind(out.file.as_ref().map(|f| f.0.clone()))
    .bind(out.file.as_ref().map(|f| f.1.clone()))
    .bind(out.file.as_ref().map(|f| f.2.len() as i64))
    .bind(status)
    .execute(&mut *tx)
    .await?
    .last_insert_rowid();
    if let Some((_, _, bytes)) = &out.file {
        sqlx::query("INSERT INTO attachments (message, bytes) VALUES (?, ?)")
            .bind(id)
            .bind(bytes)
            .execute(&mut *tx)
            .await?;
        for m in members.iter().filter(|m| m.name != out.sender) {
            sqlx::query(
                "INSERT INTO deliveries (message, account, state) VALUES (?, ?, 'checking')",
            )
            .bind(id)
            .bind(&m.name)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    let base = json!({
        "type": "message", "message": id, "conversation": conv, "surface": kind,
        "sender": out.sender, "text": out.text, "created_at": created,
    });
    if out.file.is_none() {
        for m in members.iter().filter(|m| m.name != out.sender) {
            app.push(&m.name, base.clone()).await?;
        }
        return Ok((StatusCode::CREATED, Json(base)));
    }
    let outcome = check_message(&app, id).await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

fn state_of(action: &str) -> &'static str {
    match action {
        "deliver" => "available",
        "withhold" => "withheld",
        "hold_for_review" => "held_for_review",
        "block" => "blocked",
        _ => "withheld",
    }
}

/// Scan a message's attachment with Candor and act on the answer, per recipient. Returns what
/// the sender is shown.
pub async fn check_message(app: &AppState, id: i64) -> ApiResult<Value> {
    let m = sqlx::query(
        "SELECT m.conversation, m.sender, m.text, m.file_name, m.file_type, m.file_size, m.check_status, \
         c.kind, a.jurisdiction, m.created_at FROM messages m JOIN conversations c ON c.id = m.conversation \
         JOIN accounts a ON a.name = m.sender WHERE m.id = ?",
    )
    .bind(id)
    .fetch_optional(&app.pool)
    .await?
    .ok_or_else(|| ApiError::not_found("message_not_found", "no such message"))?;
    let conv: i64 = m.get(0);
    let sender: String = m.get(1);
    let text: Option<String> = m.get(2);
    let file_name: String = m.get::<Option<String>, _>(3).unwrap_or_default();
    let file_type: String = m.get::<Option<String>, _>(4).unwrap_or_default();
    let file_size: i64 = m.get::<Option<i64>, _>(5).unwrap_or(0);
    let previous: String = m.get(6);
    let surface: String = m.get(7);
    let sender_j: String = m.get(8);
    let created: String = m.get(9);
    let bytes: Vec<u8> = sqlx::query_scalar("SELECT bytes FROM attachments WHERE message = ?")
        .bind(id)
        .fetch_optional(&app.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("attachment_gone", "the attachment is gone"))?;
    let recipients: Vec<db::Account> = db::members(&app.pool, conv)
        .await?
        .into_iter()
        .filter(|a| a.name != sender)
        .collect();
    let image = file_type.starts_with("image/");
    let mut context = json!({
        "surface": surface,
        "content_id": format!("relay-msg-{id}"),
        "content_type": if image { "CONTENT_TYPE_IMAGE" } else { "CONTENT_TYPE_OTHER" },
        "sender": {"account": sender, "jurisdiction": sender_j},
        "recipients": recipients.iter().map(|r| json!({"account": r.name, "jurisdiction": r.jurisdiction})).collect::<Vec<_>>(),
    });
    if !image {
        context["content_type_other"] = json!(format!("file attachment ({file_type})"));
    }
    let attachment = |status: &str| json!({"name": file_name, "content_type": file_type, "size": file_size, "status": status});
    let base = json!({
        "type": "message", "message": id, "conversation": conv, "surface": surface,
        "sender": sender, "text": text, "created_at": created,
    });
    let (ctx2, fname2) = (context.clone(), file_name.clone());
    let answer = call(app, move |c| c.scan_upload(&ctx2, &fname2, &bytes)).await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            // Fail closed: held, visibly, and re-checked later (or, if Candor refused the
            // request itself, held with its reason).
            let (status, retry) = match &e {
                CandorError::Unavailable(_) => ("unchecked", true),
                CandorError::Refused { .. } => ("refused", false),
            };
            sqlx::query("UPDATE messages SET check_status = ?, check_error = ? WHERE id = ?")
                .bind(status)
                .bind(e.to_string())
                .bind(id)
                .execute(&app.pool)
                .await?;
            sqlx::query("UPDATE deliveries SET state = 'unchecked' WHERE message = ?")
                .bind(id)
                .execute(&app.pool)
                .await?;
            let mut shown = base.clone();
            shown["attachment"] = attachment("could_not_be_checked");
            shown["attachment"]["reason"] = json!(if retry {
                "Candor could not be reached: the attachment is held and will be checked again; it is not delivered unchecked."
            } else {
                "Candor refused to check the attachment; it is held, not delivered."
            });
            if previous == "checking" {
                for r in &recipients {
                    app.push(&r.name, shown.clone()).await?;
                }
                let mut s = shown.clone();
                s["type"] = json!("sent");
                s["error"] = json!(e.to_string());
                app.push(&sender, s).await?;
            }
            let mut s = shown;
            s["type"] = json!("sent");
            s["error"] = json!(e.to_string());
            return Ok(s);
        }
    };
    sqlx::query("UPDATE messages SET check_status = 'checked', check_error = NULL, candor_answer = ? WHERE id = ?")
        .bind(answer.to_string())
        .bind(id)
        .execute(&app.pool)
        .await?;
    let decisions = answer["decisions"].as_array().cloned().unwrap_or_default();
    let policy_of = |d: &str| {
        decisions
            .iter()
            .find(|x| x["id"] == d)
            .map(|x| x["policy"].clone())
            .unwrap_or(Value::Null)
    };
    let mut outcomes = Vec::new();
    for ra in answer["recipients"].as_array().cloned().unwrap_or_default() {
        let account = ra["account"].as_str().unwrap_or_default().to_string();
        if !recipients.iter().any(|r| r.name == account) {
            continue;
        }
        let action = ra["action"].as_str().unwrap_or("withhold");
        let state = state_of(action);
        let decision = ra["decision"].as_str().map(str::to_string);
        let policy = decision.as_deref().map(policy_of).unwrap_or(Value::Null);
        sqlx::query("UPDATE deliveries SET state = ?, decision = ?, policy = ? WHERE message = ? AND account = ?")
            .bind(state)
            .bind(&decision)
            .bind(policy.as_str())
            .bind(id)
            .bind(&account)
            .execute(&app.pool)
            .await?;
        let mut shown = base.clone();
        shown["attachment"] = attachment(state);
        if state == "available" {
            shown["attachment"]["url"] = json!(format!("/attachments/{id}?account={account}"));
        } else {
            shown["attachment"]["decision"] = json!(decision);
            shown["attachment"]["policy"] = policy.clone();
            shown["attachment"]["jurisdiction"] = ra["jurisdiction"].clone();
        }
        app.push(&account, shown).await?;
        outcomes.push(
            json!({"account": account, "jurisdiction": ra["jurisdiction"], "action": action,
            "decision": decision, "policy": policy}),
        );
    }
    // A recipient Candor did not answer for is not delivered to (fail closed, visible).
    for r in &recipients {
        if !outcomes.iter().any(|o| o["account"] == r.name.as_str()) {
            sqlx::query(
                "UPDATE deliveries SET state = 'unchecked' WHERE message = ? AND account = ?",
            )
            .bind(id)
            .bind(&r.name)
            .execute(&app.pool)
            .await?;
        }
    }
    let mut sent = base.clone();
    sent["type"] = json!("sent");
    sent["attachment"] = attachment("checked");
    sent["recipients"] = json!(outcomes);
    sent["matches"] = json!(answer["matches"].as_array().map(|a| a.len()).unwrap_or(0));
    sent["review_item"] = answer["review_item"].clone();
    sent["decisions"] = json!(decisions
        .iter()
        .map(|d| json!({"id": d["id"], "action": d["action"], "policy": d["policy"], "jurisdictions": d["jurisdictions"], "log_index": d["log_index"], "review_item": d["review_item"]}))
        .collect::<Vec<_>>());
    app.push(&sender, sent.clone()).await?;
    // Candor's notices for everyone involved, now.
    for who in std::iter::once(&sender).chain(recipients.iter().map(|r| &r.name)) {
        let _ = sync_notices(app, who).await;
    }
    Ok(sent)
}

/// Bring an account's new Candor notices into its inbox; release attachments whose decision a
/// review or an appeal lifted or reversed.
pub async fn sync_notices(app: &AppState, account: &str) -> ApiResult<usize> {
    let path = format!("/v1/notices?account={account}");
    let notices = call(app, move |c| c.get(&path)).await?;
    let mut fresh = 0;
    let mut decisions = Vec::new();
    for n in notices.as_array().cloned().unwrap_or_default() {
        let Some(nid) = n["id"].as_str() else {
            continue;
        };
        let r = sqlx::query("INSERT OR IGNORE INTO seen_notices (id, account) VALUES (?, ?)")
            .bind(nid)
            .bind(account)
            .execute(&app.pool)
            .await?;
        if r.rows_affected() == 0 {
            continue;
        }
        fresh += 1;
        let mut shown = n.clone();
        if let Some(o) = shown.as_object_mut() {
            o.remove("proof");
            o.insert("proof_url".into(), json!(format!("/notices/{nid}/proof")));
        }
        app.push(account, json!({"type": "notice", "notice": shown}))
            .await?;
        if let Some(d) = n["decision"].as_str() {
            if n["kind"] != "decision" {
                decisions.push(d.to_string());
            }
        }
    }
    for d in decisions {
        release_if_lifted(app, &d).await?;
    }
    Ok(fresh)
}

async fn release_if_lifted(app: &AppState, decision: &str) -> ApiResult<()> {
    let held: Vec<(i64, String)> = sqlx::query_as(
        "SELECT message, account FROM deliveries WHERE decision = ? AND state IN ('withheld', 'held_for_review', 'blocked')",
    )
    .bind(decision)
    .fetch_all(&app.pool)
    .await?;
    if held.is_empty() {
        return Ok(());
    }
    let path = format!("/v1/decisions/{decision}");
    let d = call(app, move |c| c.get(&path)).await?;
    let status = d["status"].as_str().unwrap_or_default().to_string();
    if status != "reversed" && status != "lifted" {
        return Ok(());
    }
    for (message, account) in held {
        sqlx::query("UPDATE deliveries SET state = 'available' WHERE message = ? AND account = ?")
            .bind(message)
            .bind(&account)
            .execute(&app.pool)
            .await?;
        let sender: String = sqlx::query_scalar("SELECT sender FROM messages WHERE id = ?")
            .bind(message)
            .fetch_one(&app.pool)
            .await?;
        let ev = json!({"type": "released", "message": message, "decision": decision, "status": status,
            "recipient": account, "url": format!("/attachments/{message}?account={account}")});
        app.push(&account, ev.clone()).await?;
        app.push(&sender, ev).await?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct InboxQuery {
    account: String,
    #[serde(default)]
    after: i64,
    /// Seconds to wait for an event when there is none yet (long poll), 0..=30.
    #[serde(default)]
    wait: u64,
}

/// `GET /inbox?account=&after=&wait=`: the account's events after a cursor, waiting up to
/// `wait` seconds for one.
async fn inbox(State(app): State<AppState>, Query(q): Query<InboxQuery>) -> ApiResult<Json<Value>> {
    if db::account(&app.pool, &q.account).await?.is_none() {
        return Err(ApiError::not_found("account_not_found", "no such account"));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(q.wait.min(30));
    loop {
        let _ = sync_notices(&app, &q.account).await;
        let events = db::events_after(&app.pool, &q.account, q.after).await?;
        if !events.is_empty() || tokio::time::Instant::now() >= deadline {
            let next = events
                .last()
                .and_then(|e| e["event"].as_i64())
                .unwrap_or(q.after);
            return Ok(Json(json!({"events": events, "next": next})));
        }
        let wait = app.changed.notified();
        let _ = tokio::time::timeout_at(
            deadline.min(tokio::time::Instant::now() + Duration::from_millis(500)),
            wait,
        )
        .await;
    }
}

/// `GET /attachments/{message}?account=`: the bytes, to a recipient it was cleared for. The
/// relay drops them once every recipient has them.
async fn download(
    State(app): State<AppState>,
    Path(message): Path<i64>,
    Query(q): Query<AccountQuery>,
) -> ApiResult<Response> {
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM deliveries WHERE message = ? AND account = ?")
            .bind(message)
            .bind(&q.account)
            .fetch_optional(&app.pool)
            .await?;
    match state.as_deref() {
        Some("available") => {}
        Some("delivered") => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "already_delivered",
                "delivered already; the relay keeps no copy",
            ))
        }
        Some(s) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "not_delivered",
                format!("this attachment is {s} for you: see your notices"),
            ))
        }
        None => {
            return Err(ApiError::not_found(
                "not_found",
                "no attachment for you here",
            ))
        }
    }
    let row = sqlx::query("SELECT a.bytes, m.file_type FROM attachments a JOIN messages m ON m.id = a.message WHERE a.message = ?")
        .bind(message)
        .fetch_optional(&app.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("attachment_gone", "the attachment is gone"))?;
    let bytes: Vec<u8> = row.get(0);
    let ftype: Option<String> = row.get(1);
    sqlx::query("UPDATE deliveries SET state = 'delivered' WHERE message = ? AND account = ?")
        .bind(message)
        .bind(&q.account)
        .execute(&app.pool)
        .await?;
    db::drop_if_done(&app.pool, message).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            ftype.unwrap_or_else(|| "application/octet-stream".into()),
        )],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
struct NewAppeal {
    account: String,
    decision: Option<String>,
    review_item: Option<String>,
    reason: String,
}

/// File an appeal with Candor on the account's behalf; Candor's answer is shown as it is.
async fn appeal(
    State(app): State<AppState>,
    Json(a): Json<NewAppeal>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if db::account(&app.pool, &a.account).await?.is_none() {
        return Err(ApiError::not_found("account_not_found", "no such account"));
    }
    let mut body = json!({"account": a.account, "reason": a.reason});
    if let Some(d) = a.decision {
        body["decision"] = json!(d);
    }
    if let Some(i) = a.review_item {
        body["review_item"] = json!(i);
    }
    let r = call(&app, move |c| c.post("/v1/appeals", &body)).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// The account's data-access export, from Candor.
async fn export(State(app): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    check_name("account", &name)?;
    let path = format!("/v1/accounts/{name}/decisions");
    Ok(Json(call(&app, move |c| c.get(&path)).await?))
}

/// A notice's inclusion proof (c2sp tlog-proof), from Candor, to check offline.
async fn proof(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    check_name("notice", &id)?;
    let path = format!("/v1/notices/{id}/proof");
    let text = call(&app, move |c| c.get_text(&path)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
