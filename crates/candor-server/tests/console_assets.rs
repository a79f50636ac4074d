//! The console's assets: served from the binary at `/` and `/console/{file}` with a strict
//! Content-Security-Policy and no inline script; `/v1/whoami` tells a token's role.

mod common;

use common::*;

fn header(s: &TestServer, path: &str, name: &str) -> String {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let resp = agent.get(&s.url(path)).call().unwrap();
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[test]
fn console_is_served_with_a_strict_csp() {
    let s = TestServer::start();
    let page = s.get("/", "").expect(200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    let html = page.text();
    // Scripts only as same-origin modules, nothing inline.
    for tag in html.split("<script").skip(1) {
        let open = tag.split('>').next().unwrap();
        assert!(
            open.contains("src=\"/console/"),
            "inline script: <script{open}>"
        );
        assert!(
            tag[open.len() + 1..].starts_with("</script>"),
            "script with a body"
        );
    }
    for handler in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        "javascript:",
    ] {
        assert!(!html.contains(handler), "inline handler {handler}");
    }
    let csp = header(&s, "/", "content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(header(&s, "/", "x-content-type-options"), "nosniff");
    assert_eq!(header(&s, "/", "x-frame-options"), "DENY");

    for (file, ctype) in [
        ("app.js", "text/javascript"),
        ("api.js", "text/javascript"),
        ("pages.js", "text/javascript"),
        ("proof.js", "text/javascript"),
        ("chart.js", "text/javascript"),
        ("log.js", "text/javascript"),
        ("style.css", "text/css"),
    ] {
        let r = s.get(&format!("/console/{file}"), "").expect(200);
        assert!(
            r.content_type.starts_with(ctype),
            "{file}: {}",
            r.content_type
        );
        assert!(!r.body.is_empty());
        let path = format!("/console/{file}");
        assert!(header(&s, &path, "content-security-policy").contains("script-src 'self'"));
    }
    // Every module the page imports is served.
    let app = s.get("/console/app.js", "").text() + &s.get("/console/pages.js", "").text();
    for line in app.lines().filter(|l| l.starts_with("import ")) {
        let file = line.split('\'').nth(1).unwrap().trim_start_matches("./");
        s.get(&format!("/console/{file}"), "").expect(200);
    }
    s.get("/console/nothing.js", "")
        .expect_error(404, "not_found");
    s.get("/console/..%2Fsrc%2Flib.rs", "")
        .expect_error(404, "not_found");
    // The token is read from the Authorization header only.
    let api = s.get("/console/api.js", "").text();
    assert!(api.contains("sessionStorage") && api.contains("'Authorization'"));
}

#[test]
fn whoami_names_the_token_and_its_role() {
    let s = TestServer::start();
    let me = s.get("/v1/whoami", &s.tokens.reviewer).expect(200).json();
    assert_eq!(me["role"], "reviewer");
    assert!(me["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(me.get("token").is_none(), "the secret is not echoed");
    let me = s.get("/v1/whoami", &s.tokens.admin).expect(200).json();
    assert_eq!(me["role"], "admin");
    s.get("/v1/whoami", "").expect_error(401, "unauthorized");
    s.get("/v1/whoami", "candor_nope")
        .expect_error(401, "unauthorized");
}
