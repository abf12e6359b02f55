//! GraphiQL, the in-browser IDE, served entirely from the binary: the page,
//! its script and style, and the vendored GraphiQL, React and graphql-ws
//! browser builds (`assets/graphiql/README.md` says where they come from and
//! how to update them). Nothing is loaded from another origin, and the page
//! runs under a strict Content-Security-Policy ([`CONTENT_SECURITY_POLICY`]):
//! no inline script, scripts from this server only.
//!
//! The page (`handoff.js`) asks for a bearer token before it fetches the
//! schema, keeps it in the tab's sessionStorage, sends it as
//! `Authorization: Bearer` with every request and in `connection_init` on
//! `/graphql/ws`, where it runs subscriptions.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

/// Where the page's scripts and styles are served.
pub const ASSETS_PATH: &str = "/graphiql/assets";

/// The page's policy: scripts, styles and connections (`/graphql`, and
/// `/graphql/ws`, which `'self'` covers) from this server only; GraphiQL's
/// stylesheet embeds its fonts and icons as `data:` URLs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How long a browser keeps an asset: a year, since an asset's path
/// changes with its content (a version, or a hash of Handoff's own files).
const ASSET_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// A file the page loads.
struct Asset {
    /// Its path under [`ASSETS_PATH`]: `<dir>/<file>`.
    path: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

impl Asset {
    /// A vendored file, under its package's versioned directory.
    fn vendored(dir: &str, file: &str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        Self {
            path: format!("{dir}/{file}"),
            content_type,
            bytes,
        }
    }

    /// One of Handoff's own files, under a directory named by its content,
    /// so that a changed file gets a new path past every cache.
    fn own(file: &str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        let hash: String = Sha256::digest(bytes)
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            path: format!("handoff-{hash}/{file}"),
            content_type,
            bytes,
        }
    }

    fn url(&self) -> String {
        format!("{ASSETS_PATH}/{}", self.path)
    }
}

macro_rules! vendored {
    ($dir:literal, $file:literal, $content_type:expr) => {
        Asset::vendored(
            $dir,
            $file,
            $content_type,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/graphiql/",
                $dir,
                "/",
                $file
            )),
        )
    };
}

/// Every asset, in the order the page loads it (scripts run in this order).
static ASSETS: LazyLock<[Asset; 7]> = LazyLock::new(|| {
    [
        vendored!("graphiql-3.9.0", "graphiql.min.css", CSS),
        Asset::own("handoff.css", CSS, include_bytes!("handoff.css")),
        vendored!("react-18.3.1", "react.production.min.js", JAVASCRIPT),
        vendored!(
            "react-dom-18.3.1",
            "react-dom.production.min.js",
            JAVASCRIPT
        ),
        vendored!("graphiql-3.9.0", "graphiql.min.js", JAVASCRIPT),
        vendored!("graphql-ws-6.4.2", "graphql-ws.min.js", JAVASCRIPT),
        Asset::own("handoff.js", JAVASCRIPT, include_bytes!("handoff.js")),
    ]
});

/// The page, with its assets' current paths.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    let assets: Vec<String> = ASSETS
        .iter()
        .map(|asset| {
            if asset.content_type == CSS {
                format!(r#"<link rel="stylesheet" href="{}">"#, asset.url())
            } else {
                format!(r#"<script defer src="{}"></script>"#, asset.url())
            }
        })
        .collect();
    include_str!("page.html").replace("{{assets}}", &assets.join("\n"))
});

/// `GET /graphiql` (and a browser's `GET /graphql`): the page. Revalidated
/// on every visit, so that it always names the current assets.
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE.as_str(),
    )
        .into_response()
}

/// `GET /graphiql/assets/{dir}/{file}`: one of the page's scripts or
/// styles, cached for a year; 404 for any other path.
pub async fn asset(Path((dir, file)): Path<(String, String)>) -> Response {
    let found = ASSETS
        .iter()
        .find(|asset| asset.path.split_once('/') == Some((dir.as_str(), file.as_str())));
    match found {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, ASSET_CACHE_CONTROL),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such GraphiQL asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_asset_by_a_local_path_and_has_no_inline_script() {
        for asset in ASSETS.iter() {
            assert!(
                PAGE.contains(&format!("\"{}\"", asset.url())),
                "{}",
                asset.path
            );
        }
        assert!(!PAGE.contains("{{"), "a placeholder is left");
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        // Every <script> has a src (an inline one would break the CSP).
        assert_eq!(
            PAGE.matches("<script").count(),
            PAGE.matches("<script defer src=\"/graphiql/assets/")
                .count()
        );
    }

    #[test]
    fn own_assets_change_path_when_their_content_changes() {
        let a = Asset::own("x.js", JAVASCRIPT, b"one");
        let b = Asset::own("x.js", JAVASCRIPT, b"two");
        assert_ne!(a.path, b.path);
        assert!(a.path.starts_with("handoff-") && a.path.ends_with("/x.js"));
    }
}
