//! `/openapi.json` and the Swagger UI at `/docs` (assets vendored into the binary).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::*;
use crate::AppState;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every error each route can answer, documented with its shape: Candor's
/// `{"error": {"code", "message"}}` (`Error`) on its own routes, HMA's `{"message"}`
/// (`HmaError`; a 422 may also be pydantic's list of validation errors) on HMA's. Added to
/// every operation from what it has, beside the codes its annotation states:
/// - a bearer token → 401 (none, unknown or revoked) and 403 (its role may not do this);
/// - any route but `/healthz` and `/metrics` → 503 (loading, busy, storage unavailable,
///   shutting down; with `Retry-After` when worth retrying);
/// - path parameters → 404 (no such bank, content, decision…);
/// - query parameters → 400 (a parameter that does not parse);
/// - a request body → 400, 413 (over the body limit), 415 (JSON routes: not JSON) and 422
///   (JSON of the wrong shape);
/// - POST, PUT, PATCH and DELETE on `/v1` → 409 (a conflict with the store's state).
///
/// Error responses an annotation lists without a body get the shape here. `schemathesis`
/// checks the result against a live server (`.ci/run`).
struct Errors;

const ERROR_SCHEMA: &str = "Error";
const HMA_ERROR_SCHEMA: &str = "HmaError";
const HMA_VALIDATION_SCHEMA: &str = "HmaValidationErrors";

fn schema_ref(name: &str) -> serde_json::Value {
    serde_json::json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn error_content(hma: bool, code: u16) -> serde_json::Value {
    let schema = match (hma, code) {
        (false, _) => schema_ref(ERROR_SCHEMA),
        (true, 422) => {
            serde_json::json!({"anyOf": [schema_ref(HMA_ERROR_SCHEMA), schema_ref(HMA_VALIDATION_SCHEMA)]})
        }
        (true, _) => schema_ref(HMA_ERROR_SCHEMA),
    };
    serde_json::json!({ "application/json": { "schema": schema } })
}

fn describe(code: u16) -> &'static str {
    match code {
        400 => "bad request: a parameter or the body does not parse or is not allowed",
        401 => "no token, or an unknown or revoked token",
        403 => "the token's role may not do this (HMA: also refusals such as an existing bank)",
        404 => "not found",
        409 => "conflicts with the current state",
        413 => "the body is over the limit",
        415 => "the body is not of the expected content type",
        422 => "the body or a parameter has the wrong shape",
        502 => "the remote end failed",
        503 => "the service is loading, busy, shutting down or its storage is unavailable",
        504 => "the remote end timed out",
        _ => "error",
    }
}

impl Modify for Errors {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::Operation;
        use utoipa::openapi::{RefOr, Response};
        let components = api.components.get_or_insert_with(Default::default);
        let schemas: [(&str, serde_json::Value); 3] = [
            (
                ERROR_SCHEMA,
                serde_json::json!({
                    "type": "object", "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}
                }),
            ),
            (
                HMA_ERROR_SCHEMA,
                serde_json::json!({
                    "type": "object", "required": ["message"],
                    "properties": {"message": {"type": "string"}}
                }),
            ),
            (
                HMA_VALIDATION_SCHEMA,
                serde_json::json!({
                    "type": "array", "items": {"type": "object"}
                }),
            ),
        ];
        for (name, v) in schemas {
            if let Ok(schema) = serde_json::from_value(v) {
                components.schemas.insert(name.to_string(), schema);
            }
        }
        for (path, item) in api.paths.paths.iter_mut() {
            let hma = crate::routes::hma::is_hma_path(path);
            let open = matches!(path.as_str(), "/healthz" | "/metrics");
            let ops: [(&str, &mut Option<Operation>); 5] = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op.as_mut() else { continue };
                let mut codes: Vec<u16> = Vec::new();
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    codes.extend([401, 403]);
                }
                if !open {
                    codes.push(503);
                }
                if path.contains('{') {
                    codes.push(404);
                }
                if op.parameters.as_ref().is_some_and(|p| {
                    p.iter().any(|p| {
                        matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query)
                    })
                }) {
                    codes.push(400);
                }
                if let Some(body) = &op.request_body {
                    codes.extend([400, 413, 422]);
                    if body.content.contains_key("application/json") {
                        codes.push(415);
                    }
                }
                if !hma && method != "get" && path.starts_with("/v1/") {
                    codes.push(409);
                }
                for code in codes {
                    let key = code.to_string();
                    if op.responses.responses.contains_key(&key) {
                        continue;
                    }
                    let v = serde_json::json!({
                        "description": describe(code),
                        "content": error_content(hma, code),
                    });
                    if let Ok(r) = serde_json::from_value::<Response>(v) {
                        op.responses.responses.insert(key, RefOr::T(r));
                    }
                }
                // Error answers listed without a body: their shape.
                for (key, r) in op.responses.responses.iter_mut() {
                    let code: u16 = key.parse().unwrap_or(0);
                    if let RefOr::T(r) = r {
                        if code >= 400 && r.content.is_empty() {
                            if let Ok(c) = serde_json::from_value(error_content(hma, code)) {
                                r.content = c;
                            }
                            if r.description.is_empty() {
                                r.description = describe(code).to_string();
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Candor", description = "Open content matching with statements of reasons, notices, appeals and a verifiable transparency log."),
    modifiers(&Bearer, &Errors),
    paths(
        ops::healthz, ops::readyz, ops::metrics, ops::numbers, ops::status,
        banks::list, banks::create, banks::get_one, banks::update, banks::delete,
        banks::list_content, banks::add_content, banks::get_content, banks::set_content_enabled, banks::retract_content, banks::import,
        exchanges::list, exchanges::sync,
        lookup::by_hash, lookup::by_upload, compare::compare,
        scan::scan,
        decisions::list_decisions, decisions::get_decision, decisions::decision_notices, decisions::list_notices, decisions::get_notice, decisions::notice_proof, decisions::release_notice,
        review::list, review::get_item, review::confirm, review::reject,
        appeals::create, appeals::list, appeals::get_appeal, appeals::decide,
        access::export,
        policies::get_set, policies::put_set, policies::simulate, policies::preview,
        tokens::create, tokens::list, tokens::revoke, tokens::whoami,
        log::checkpoint, log::key, log::numbers, log::tile,
        hma::status::status, hma::status::live, hma::status::site_map,
        hma::curation::banks_index, hma::curation::bank_show, hma::curation::bank_create, hma::curation::bank_update, hma::curation::bank_delete,
        hma::curation::content_add, hma::curation::signal_add, hma::curation::content_get, hma::curation::content_update, hma::curation::content_delete,
        hma::curation::signal_types, hma::curation::signal_type_index, hma::curation::content_types,
        hma::exchanges::exchanges_list, hma::exchanges::exchange_apis, hma::exchanges::exchange_create, hma::exchanges::exchange_show, hma::exchanges::exchange_update, hma::exchanges::exchange_status, hma::exchanges::exchange_delete,
        hma::exchanges::exchange_api, hma::exchanges::exchange_api_update, hma::exchanges::exchange_api_schema,
        hma::matching::raw_lookup, hma::matching::lookup_get, hma::matching::lookup_post, hma::matching::index_status, hma::matching::compare,
        hma::hashing::hash_get, hma::hashing::hash_post,
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
