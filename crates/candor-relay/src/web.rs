//! The minimal web client: one HTML page with a little JavaScript over the relay's JSON API
//! (send, receive through the long-poll inbox, see notices, appeal). No build step.

use axum::response::Html;

pub async fn page() -> Html<&'static str> {
    Html(include_str!("client.html"))
}
