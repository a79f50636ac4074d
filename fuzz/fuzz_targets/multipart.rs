//! Uploads as the service reads them: `candor_server::routes::lookup::upload_bytes` behind the
//! service's `DefaultBodyLimit`, with an `App` opened once per process on a fresh data
//! directory under the system temp dir. Needs `--features server`.
//!
//! Input: the first byte picks the content type (multipart with boundary `B`, multipart with a
//! boundary taken from the input, no boundary, or not multipart); the rest is the body.
//!
//! Properties: never a panic; a raw body over the limit is refused and one within it comes back
//! unchanged; a multipart answer reads no more than the limit, has a file part and text fields
//! whose bytes all occur in the body; an error is a 4xx.
#![no_main]
use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use candor_server::routes::lookup::upload_bytes;
use candor_server::{App, AppState, Config};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

/// The service's body limit, small so that fuzzed bodies reach it.
const LIMIT: usize = 4096;

struct Fixture {
    rt: tokio::runtime::Runtime,
    router: Router,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let data = std::env::temp_dir().join(format!("candor-fuzz-multipart-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let config = Config {
            data,
            max_body_bytes: LIMIT,
            ..Config::default()
        };
        let app = rt.block_on(App::open(config)).expect("open a fresh data dir");
        let router = Router::new()
            .route("/", post(handler))
            .layer(DefaultBodyLimit::max(LIMIT))
            .with_state(app);
        Fixture { rt, router }
    })
}

thread_local! {
    static BODY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn occurs(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

async fn handler(State(app): State<AppState>, req: Request) -> Response {
    let multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let body = BODY.with(|b| b.borrow().clone());
    match upload_bytes(req, &app).await {
        Ok((file, fields)) => {
            if multipart {
                // The parser may stop at the closing boundary, before the end of a long body;
                // what it read is within the limit.
                let read = file.len() + fields.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
                assert!(read <= LIMIT, "{read} bytes read past the {LIMIT}-byte limit");
                assert!(file.len() <= body.len());
                assert!(occurs(&body, &file), "the file is not part of the body");
                for (name, value) in &fields {
                    assert!(occurs(&body, value.as_bytes()), "field {name:?} not in the body");
                }
            } else {
                assert!(body.len() <= LIMIT, "a body over the limit was read");
                assert_eq!(&file[..], &body[..]);
                assert!(fields.is_empty());
            }
            StatusCode::OK.into_response()
        }
        Err(e) => {
            assert!(e.status.is_client_error(), "status {} for {}", e.status, e.message);
            if !multipart {
                assert!(body.len() > LIMIT, "a small raw body was refused: {}", e.message);
            }
            e.status.into_response()
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let (ctype, body) = match ctl % 4 {
        0 => ("multipart/form-data; boundary=B".to_owned(), rest),
        1 => {
            // A boundary of up to 70 input bytes (header-safe ones only), then the body.
            let k = rest.iter().take(70).take_while(|b| b.is_ascii_graphic() && **b != b'"').count();
            let (b, body) = rest.split_at(k);
            let b = String::from_utf8_lossy(b).into_owned();
            (format!("multipart/form-data; boundary=\"{b}\""), body.get(1..).unwrap_or_default())
        }
        2 => ("multipart/form-data".to_owned(), rest),
        _ => ("application/octet-stream".to_owned(), rest),
    };
    BODY.with(|b| *b.borrow_mut() = body.to_vec());
    let req = Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", ctype)
        .body(Body::from(body.to_vec()))
        .expect("request");
    let f = fixture();
    let resp = f
        .rt
        .block_on(f.router.clone().oneshot(req))
        .expect("infallible");
    assert!(resp.status() == StatusCode::OK || resp.status().is_client_error());
});
