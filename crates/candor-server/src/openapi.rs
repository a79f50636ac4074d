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

#[derive(OpenApi)]
#[openapi(
    info(title = "Candor", description = "Open content matching with statements of reasons, notices, appeals and a verifiable transparency log."),
    modifiers(&Bearer),
    paths(
        ops::healthz, ops::readyz, ops::metrics, ops::numbers,
        banks::list, banks::create, banks::get_one, banks::update, banks::delete,
        banks::list_content, banks::add_content, banks::get_content, banks::set_content_enabled, banks::retract_content, banks::import,
        lookup::by_hash, lookup::by_upload,
        scan::scan,
        decisions::list_decisions, decisions::get_decision, decisions::list_notices, decisions::get_notice, decisions::notice_proof, decisions::release_notice,
        review::list, review::get_item, review::confirm, review::reject,
        appeals::create, appeals::list, appeals::get_appeal, appeals::decide,
        access::export,
        policies::get_set, policies::put_set, policies::simulate,
        tokens::create, tokens::list, tokens::revoke, tokens::whoami,
        log::checkpoint, log::key, log::numbers, log::tile,
        hma::status::status, hma::status::live, hma::status::site_map,
        hma::curation::banks_index, hma::curation::bank_show, hma::curation::bank_create, hma::curation::bank_update, hma::curation::bank_delete,
        hma::curation::content_add, hma::curation::signal_add, hma::curation::content_get, hma::curation::content_update, hma::curation::content_delete,
        hma::curation::signal_types, hma::curation::signal_type_index, hma::curation::content_types,
        hma::curation::exchanges_empty, hma::curation::exchange_create, hma::curation::exchange_missing, hma::curation::exchange_delete,
        hma::curation::exchange_api, hma::curation::exchange_api_schema,
        hma::matching::raw_lookup, hma::matching::lookup_get, hma::matching::lookup_post, hma::matching::index_status, hma::matching::compare,
        hma::hashing::hash_get, hma::hashing::hash_post,
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
