//! Cross-origin access: which web origins may call the API from a browser
//! (`HANDOFF_CORS_ALLOWED_ORIGINS`). Empty by default: no cross-origin
//! access at all.
//!
//! An allowed origin gets `Access-Control-Allow-Origin` on every response
//! and an answered preflight; any other origin gets no CORS header at all
//! (its preflight is 403), so the browser keeps the response from the page.
//! Tokens travel in `Authorization`, never in cookies, so credentials mode
//! is never allowed. WebSockets are not covered by CORS in browsers, so the
//! socket endpoint checks the same list itself ([`AllowedOrigins::admits`]).

use std::sync::Arc;

use anyhow::bail;
use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::graphql;

/// Request headers a cross-origin page may send.
pub const ALLOWED_HEADERS: &str =
    "authorization, content-type, accept, idempotency-key, x-request-id";
/// Methods a cross-origin page may use.
pub const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";
/// Response headers a cross-origin page may read, beyond the safelisted ones.
pub const EXPOSED_HEADERS: &str = "x-request-id, retry-after";
/// How long a browser may cache a preflight answer (Chromium caps it at 2 h).
pub const MAX_AGE_SECS: u32 = 7200;

/// The origins allowed to call the API from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// None (the default).
    #[default]
    None,
    /// Any origin (`*`): for APIs whose every caller holds a token anyway.
    Any,
    /// These origins, normalised as browsers send them.
    List(Vec<String>),
}

impl AllowedOrigins {
    /// Reads a comma-separated list of origins (`https://app.example.com`,
    /// `http://localhost:3000`), or `*`.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let entries: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            return Ok(Self::None);
        }
        if entries.contains(&"*") {
            if entries.len() > 1 {
                bail!("`*` allows every origin: list origins or `*`, not both");
            }
            return Ok(Self::Any);
        }
        let mut origins = Vec::with_capacity(entries.len());
        for entry in entries {
            origins.push(normalise(entry)?);
        }
        origins.sort();
        origins.dedup();
        Ok(Self::List(origins))
    }

    /// Whether a page served from `origin` may call the API.
    pub fn allows(&self, origin: &HeaderValue) -> bool {
        match self {
            Self::None => false,
            Self::Any => true,
            Self::List(origins) => origin.to_str().is_ok_and(|origin| {
                origins
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(origin))
            }),
        }
    }

    /// Whether a WebSocket may be opened by a request with these headers:
    /// one without `Origin` (not a browser), from the server's own origin
    /// (its `Host`), or from an allowed origin.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        self.allows(origin) || is_same_origin(origin, headers.get(header::HOST))
    }
}

/// Whether `origin` names the host the request was sent to. The scheme is
/// not compared: TLS usually ends at a proxy in front of the server.
fn is_same_origin(origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), host.map(HeaderValue::to_str)) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

/// An origin as a browser sends it: `scheme://host[:port]`, lower case,
/// without the scheme's default port, path or trailing slash.
fn normalise(entry: &str) -> anyhow::Result<String> {
    let lower = entry.to_ascii_lowercase();
    let Some((scheme, rest)) = lower.split_once("://") else {
        bail!("{entry:?} is not an origin: write it as https://host or http://host:port");
    };
    if !matches!(scheme, "http" | "https") {
        bail!("{entry:?}: an origin's scheme is http or https");
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty()
        || authority.contains(['/', '?', '#', '@', ' '])
        || authority.starts_with(':')
    {
        bail!("{entry:?} is not an origin: only scheme://host[:port], no path");
    }
    let authority = match (scheme, authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host,
        (_, Some((_, port))) if port.parse::<u16>().is_err() && !authority.ends_with(']') => {
            bail!("{entry:?}: {port:?} is not a port")
        }
        _ => authority,
    };
    Ok(format!("{scheme}://{authority}"))
}

/// The middleware: answers preflights and `OPTIONS`, and marks responses
/// to allowed origins.
pub async fn layer(
    State(origins): State<Arc<AllowedOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let allowed = origin.as_ref().filter(|o| origins.allows(o));
    if request.method() == Method::OPTIONS {
        let preflight = request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        return match (preflight, allowed) {
            (true, Some(origin)) => {
                let mut response = StatusCode::NO_CONTENT.into_response();
                let h = response.headers_mut();
                mark(h, &origins, origin);
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(ALLOWED_METHODS),
                );
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(ALLOWED_HEADERS),
                );
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from(MAX_AGE_SECS),
                );
                response
            }
            (true, None) => {
                let shown = origin
                    .as_ref()
                    .and_then(|o| o.to_str().ok())
                    .filter(|o| o.len() <= 200)
                    .unwrap_or("(none)");
                graphql::error_response(
                    StatusCode::FORBIDDEN,
                    "FORBIDDEN",
                    &format!(
                        "cross-origin requests from {shown} are not allowed: \
                         add the origin to HANDOFF_CORS_ALLOWED_ORIGINS"
                    ),
                    &graphql::request_id(request.headers()),
                )
            }
            (false, _) => {
                let mut response = StatusCode::NO_CONTENT.into_response();
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
                response
            }
        };
    }
    let mut response = next.run(request).await;
    if let Some(origin) = allowed {
        let h = response.headers_mut();
        mark(h, &origins, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    response
}

/// `Access-Control-Allow-Origin` (and `Vary: Origin` when the answer
/// depends on it).
fn mark(headers: &mut HeaderMap, origins: &AllowedOrigins, origin: &HeaderValue) {
    if *origins == AllowedOrigins::Any {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    }

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        let parsed = AllowedOrigins::parse(
            " https://App.Example.com/ , http://localhost:3000,https://x.io:443,http://y.io:80",
        );
        assert_eq!(
            parsed.ok(),
            Some(AllowedOrigins::List(vec![
                "http://localhost:3000".into(),
                "http://y.io".into(),
                "https://app.example.com".into(),
                "https://x.io".into(),
            ]))
        );
        assert_eq!(AllowedOrigins::parse("").ok(), Some(AllowedOrigins::None));
        assert_eq!(
            AllowedOrigins::parse(" , ").ok(),
            Some(AllowedOrigins::None)
        );
        assert_eq!(AllowedOrigins::parse("*").ok(), Some(AllowedOrigins::Any));
    }

    #[test]
    fn what_is_not_an_origin_is_refused() {
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://example.com/app",
            "https://",
            "https://user@example.com",
            "https://example.com:port",
            "*, https://example.com",
        ] {
            assert!(AllowedOrigins::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_listed_origins_are_allowed() {
        let origins = AllowedOrigins::parse("https://app.example.com").unwrap_or_default();
        assert!(origins.allows(&value("https://app.example.com")));
        assert!(origins.allows(&value("HTTPS://APP.EXAMPLE.COM")));
        assert!(!origins.allows(&value("https://app.example.com.evil.io")));
        assert!(!origins.allows(&value("http://app.example.com")));
        assert!(!origins.allows(&value("null")));
        assert!(!AllowedOrigins::None.allows(&value("https://app.example.com")));
        assert!(AllowedOrigins::Any.allows(&value("https://anything.io")));
    }

    #[test]
    fn sockets_are_admitted_without_origin_from_the_same_host_or_from_allowed_origins() {
        let origins = AllowedOrigins::parse("https://app.example.com").unwrap_or_default();
        let headers = |origin: Option<&str>, host: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, value(host));
            if let Some(origin) = origin {
                h.insert(header::ORIGIN, value(origin));
            }
            h
        };
        assert!(origins.admits(&headers(None, "api.example.com")));
        assert!(origins.admits(&headers(Some("https://api.example.com"), "api.example.com")));
        assert!(origins.admits(&headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080")));
        assert!(origins.admits(&headers(Some("https://app.example.com"), "api.example.com")));
        assert!(!origins.admits(&headers(Some("https://evil.io"), "api.example.com")));
        assert!(!origins.admits(&headers(Some("http://127.0.0.1:9999"), "127.0.0.1:8080")));
        assert!(!AllowedOrigins::None.admits(&headers(Some("https://evil.io"), "api.example.com")));
    }
}
