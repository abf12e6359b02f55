//! An identity provider's signing keys: its JSON Web Key Set (RFC 7517)
//! at `HANDOFF_JWT_JWKS_URL`, fetched and cached.
//!
//! - The set is fetched at start-up in the background: an identity
//!   provider out of reach logs a warning and does not stop the server;
//!   the next token that needs a key tries again.
//! - It is fetched again when a token names a key id (`kid`) the cache does
//!   not hold (the provider has rotated its keys), and once it is older than
//!   its `Cache-Control: max-age` (bounded to [`MIN_MAX_AGE`] ..
//!   [`MAX_MAX_AGE`]; [`DEFAULT_MAX_AGE`] without one), then in the
//!   background while the cached keys go on serving.
//! - Never more than one fetch per [`MIN_FETCH_INTERVAL`], however many
//!   tokens name unknown keys: a token that arrives meanwhile is judged by
//!   the keys at hand. A failed fetch keeps the keys at hand.
//! - A fetch gives up after [`FETCH_TIMEOUT`], reads at most
//!   [`MAX_JWKS_BYTES`] and follows no redirect.
//! - Only signing keys for RS256 (RSA of 2048 bits or more) and ES256
//!   (P-256) are kept: HMAC (`oct`) keys, encryption keys and other
//!   algorithms and curves are skipped, so a token can only ever be
//!   verified with an asymmetric key of the algorithm it names.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use anyhow::Context;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{
    Request, Uri,
    body::Bytes,
    header::{ACCEPT, CACHE_CONTROL, HeaderMap, USER_AGENT},
};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use jsonwebtoken::{
    DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse},
};
use serde::Deserialize;

use super::jwt::JwtAlgorithm;
use crate::clock::Clock;

/// The least time between two fetches of the set.
pub const MIN_FETCH_INTERVAL: Duration = Duration::from_secs(5);
/// How long a set is fresh when its response says nothing.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
/// The shortest freshness a `Cache-Control` header can ask for.
pub const MIN_MAX_AGE: Duration = Duration::from_secs(60);
/// The longest freshness a `Cache-Control` header can ask for.
pub const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How long a fetch may take, connecting and reading included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest set read.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Why the set could not be fetched. The message (what follows "the
/// JWKS") is safe to show to a caller; the detail goes to the log only.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// No connection, or no HTTP answer.
    #[error("could not be reached")]
    Unreachable {
        /// The transport's error, for the log.
        detail: String,
    },
    /// No complete answer within [`FETCH_TIMEOUT`].
    #[error("did not answer within {} s", FETCH_TIMEOUT.as_secs())]
    TimedOut,
    /// An answer other than 2xx (a redirect included).
    #[error("answered HTTP {0}")]
    Status(u16),
    /// A body over [`MAX_JWKS_BYTES`].
    #[error("is larger than 256 KiB")]
    TooLarge,
    /// A body that is not a JSON object with a `keys` array.
    #[error("is not a JSON Web Key Set")]
    NotJwks,
    /// A set without a single usable key.
    #[error("holds no RS256 or ES256 signing key")]
    NoKeys,
}

/// Why no key of the set verifies a token.
#[derive(Debug, Clone)]
pub enum KeyError {
    /// The set has never been fetched (or held no usable key), and the last
    /// attempt failed like this.
    Unavailable(FetchError),
    /// The token's `kid` is not in the set, which was fetched again unless
    /// that happened less than [`MIN_FETCH_INTERVAL`] ago.
    UnknownKid,
    /// The token's `kid` is not in the set, and fetching it again failed.
    UnknownKidAndFetchFailed(FetchError),
    /// The token names no `kid`, and the set holds several keys for its
    /// algorithm.
    Ambiguous,
    /// The token's `kid` names a key for another algorithm.
    WrongAlgorithm {
        /// The key's algorithm.
        key: JwtAlgorithm,
        /// The token's `alg`.
        token: JwtAlgorithm,
    },
}

/// One key of the set, ready to verify.
#[derive(Clone)]
struct VerifyingKey {
    kid: Option<String>,
    algorithm: JwtAlgorithm,
    key: DecodingKey,
}

/// What is known of the set.
struct Cache {
    keys: Arc<[VerifyingKey]>,
    /// When the keys were fetched, by the server's clock.
    fetched_at: Option<Duration>,
    /// How long they stay fresh.
    max_age: Duration,
    /// When the last fetch started, successful or not.
    last_attempt: Option<Duration>,
    /// Why the last fetch failed; `None` when it succeeded.
    last_error: Option<FetchError>,
}

/// A JSON Web Key Set at a URL, fetched on demand and cached.
pub struct Jwks {
    url: Uri,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    clock: Arc<dyn Clock>,
    cache: Mutex<Cache>,
    /// Held while a fetch runs: one at a time, and the tokens that wait
    /// for it look at its result.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

impl Jwks {
    /// A set at `url` (`https://`, or `http://` to a loopback address;
    /// checked by the configuration), timed by `clock`. Nothing is fetched
    /// yet: see [`start`](Self::start).
    pub fn new(url: &str, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<Self>> {
        let url: Uri = url
            .parse()
            .with_context(|| format!("HANDOFF_JWT_JWKS_URL={url:?} is not a URL"))?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(FETCH_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .context("setting up TLS for the JWKS fetch")?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Arc::new(Self {
            url,
            client,
            clock,
            cache: Mutex::new(Cache {
                keys: Arc::from([]),
                fetched_at: None,
                max_age: DEFAULT_MAX_AGE,
                last_attempt: None,
                last_error: None,
            }),
            fetching: Arc::new(tokio::sync::Mutex::new(())),
        }))
    }

    /// Fetches the set in the background (at start-up): a failure is
    /// logged, and the next token that needs a key tries again. A token
    /// that arrives meanwhile waits for this fetch.
    pub fn start(self: &Arc<Self>) {
        self.refresh_in_background();
    }

    /// The key that verifies a token with this `kid` header (or none) and
    /// `alg`, fetching the set again when the token names a key the cache
    /// does not hold (at most once per [`MIN_FETCH_INTERVAL`]).
    pub async fn key(
        self: &Arc<Self>,
        kid: Option<&str>,
        algorithm: JwtAlgorithm,
    ) -> Result<DecodingKey, KeyError> {
        let (keys, stale) = self.snapshot();
        if keys.is_empty() {
            // Nothing to judge the token by: wait for a fetch.
            self.fetch_if_due().await;
        } else if stale {
            self.refresh_in_background();
        }
        match find(&self.snapshot().0, kid, algorithm) {
            Lookup::Found(key) => return Ok(key),
            Lookup::WrongAlgorithm(key) => {
                return Err(KeyError::WrongAlgorithm {
                    key,
                    token: algorithm,
                });
            }
            Lookup::Ambiguous => return Err(KeyError::Ambiguous),
            Lookup::Missing => {}
        }
        // A key we do not know: perhaps the provider has rotated.
        self.fetch_if_due().await;
        let keys = self.snapshot().0;
        match find(&keys, kid, algorithm) {
            Lookup::Found(key) => Ok(key),
            Lookup::WrongAlgorithm(key) => Err(KeyError::WrongAlgorithm {
                key,
                token: algorithm,
            }),
            Lookup::Ambiguous => Err(KeyError::Ambiguous),
            Lookup::Missing => {
                let last_error = self.lock().last_error.clone();
                Err(match last_error {
                    Some(e) if keys.is_empty() => KeyError::Unavailable(e),
                    None if keys.is_empty() => KeyError::Unavailable(FetchError::NoKeys),
                    Some(e) => KeyError::UnknownKidAndFetchFailed(e),
                    None => KeyError::UnknownKid,
                })
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache is replaced whole; a panic elsewhere cannot leave it
        // half written.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The keys at hand, and whether they are older than their max-age.
    fn snapshot(&self) -> (Arc<[VerifyingKey]>, bool) {
        let now = self.clock.now();
        let cache = self.lock();
        let stale = cache
            .fetched_at
            .is_some_and(|at| now.saturating_sub(at) >= cache.max_age);
        (cache.keys.clone(), stale)
    }

    /// Starts a fetch on its own task unless one is running; it holds
    /// the fetch lock from now on, so that tokens wait for its result.
    fn refresh_in_background(self: &Arc<Self>) {
        let Ok(running) = self.fetching.clone().try_lock_owned() else {
            return;
        };
        let jwks = self.clone();
        tokio::spawn(async move {
            jwks.fetch_unless_recent().await;
            drop(running);
        });
    }

    /// Fetches the set unless a fetch started less than
    /// [`MIN_FETCH_INTERVAL`] ago; waits for a fetch that is running.
    async fn fetch_if_due(&self) {
        let _one_at_a_time = self.fetching.lock().await;
        self.fetch_unless_recent().await;
    }

    /// [`fetch_if_due`](Self::fetch_if_due) for a caller that holds the
    /// fetch lock.
    async fn fetch_unless_recent(&self) {
        let started = self.clock.now();
        {
            let mut cache = self.lock();
            if let Some(last) = cache.last_attempt
                && started.saturating_sub(last) < MIN_FETCH_INTERVAL
            {
                return;
            }
            cache.last_attempt = Some(started);
        }
        let fetched = self.fetch().await;
        let mut cache = self.lock();
        match fetched {
            Ok((keys, max_age)) => {
                if cache.last_error.is_some() || cache.fetched_at.is_none() {
                    tracing::info!(
                        jwks.url = %self.url,
                        jwks.keys = keys.len(),
                        jwks.max_age_secs = max_age.as_secs(),
                        "fetched the identity provider's keys"
                    );
                }
                cache.keys = keys.into();
                cache.fetched_at = Some(self.clock.now());
                cache.max_age = max_age;
                cache.last_error = None;
            }
            Err(e) => {
                let detail = match &e {
                    FetchError::Unreachable { detail } => detail.as_str(),
                    _ => "",
                };
                tracing::warn!(
                    jwks.url = %self.url,
                    jwks.keys = cache.keys.len(),
                    error = %e,
                    error.detail = detail,
                    "fetching the identity provider's keys failed; keeping the keys at hand and trying again when a token needs it"
                );
                cache.last_error = Some(e);
            }
        }
    }

    /// One GET of the set: its usable keys and how long they stay fresh.
    async fn fetch(&self) -> Result<(Vec<VerifyingKey>, Duration), FetchError> {
        let unreachable = |e: &dyn std::error::Error| {
            // hyper's errors say little ("client error (Connect)") until
            // their sources are read.
            let mut detail = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                detail.push_str(": ");
                detail.push_str(&cause.to_string());
                source = cause.source();
            }
            FetchError::Unreachable { detail }
        };
        let request = Request::get(self.url.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .header(USER_AGENT, concat!("handoff/", env!("CARGO_PKG_VERSION")))
            .body(Empty::new())
            .map_err(|e| unreachable(&e))?;
        let fetch = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| unreachable(&e))?;
            if !response.status().is_success() {
                return Err(FetchError::Status(response.status().as_u16()));
            }
            let max_age = max_age(response.headers());
            let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        FetchError::TooLarge
                    } else {
                        unreachable(e.as_ref())
                    }
                })?
                .to_bytes();
            Ok((parse(&body)?, max_age))
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| FetchError::TimedOut)?
    }
}

/// What the set holds for a token.
enum Lookup {
    Found(DecodingKey),
    WrongAlgorithm(JwtAlgorithm),
    Ambiguous,
    Missing,
}

/// The key for a token's `kid` and `alg`. A token without `kid` is
/// verified only when the set holds a single key for its algorithm.
fn find(keys: &[VerifyingKey], kid: Option<&str>, algorithm: JwtAlgorithm) -> Lookup {
    match kid {
        Some(kid) => {
            let mut named = keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
            let first = named.clone().next();
            match named.find(|k| k.algorithm == algorithm) {
                Some(key) => Lookup::Found(key.key.clone()),
                None => match first {
                    Some(other) => Lookup::WrongAlgorithm(other.algorithm),
                    None => Lookup::Missing,
                },
            }
        }
        None => {
            let mut candidates = keys.iter().filter(|k| k.algorithm == algorithm);
            match (candidates.next(), candidates.next()) {
                (Some(key), None) => Lookup::Found(key.key.clone()),
                (Some(_), Some(_)) => Lookup::Ambiguous,
                (None, _) => Lookup::Missing,
            }
        }
    }
}

/// A set's usable keys; [`FetchError::NotJwks`] or
/// [`FetchError::NoKeys`] when there are none.
fn parse(body: &[u8]) -> Result<Vec<VerifyingKey>, FetchError> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|_| FetchError::NotJwks)?;
    let keys: Vec<VerifyingKey> = set.keys.into_iter().filter_map(verifying_key).collect();
    if keys.is_empty() {
        return Err(FetchError::NoKeys);
    }
    Ok(keys)
}

/// A JWK as a key to verify RS256 or ES256 signatures with, or `None` for
/// any other key (one a set may well hold, for encryption or another
/// algorithm: skipped, not an error).
fn verifying_key(value: serde_json::Value) -> Option<VerifyingKey> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if jwk
        .common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) if rsa_bits(&rsa.n) >= 2048 => JwtAlgorithm::Rs256,
        AlgorithmParameters::EllipticCurve(ec)
            if ec.curve == EllipticCurve::P256
                && decoded_len(&ec.x) == Some(32)
                && decoded_len(&ec.y) == Some(32) =>
        {
            JwtAlgorithm::Es256
        }
        _ => return None,
    };
    // A key that names its algorithm is used for that one only.
    match (jwk.common.key_algorithm, algorithm) {
        (None, _)
        | (Some(KeyAlgorithm::RS256), JwtAlgorithm::Rs256)
        | (Some(KeyAlgorithm::ES256), JwtAlgorithm::Es256) => {}
        _ => return None,
    }
    Some(VerifyingKey {
        kid: jwk.common.key_id.clone(),
        algorithm,
        key: DecodingKey::from_jwk(&jwk).ok()?,
    })
}

fn decoded_len(b64: &str) -> Option<usize> {
    URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .ok()
        .map(|b| b.len())
}

/// The size of an RSA modulus (base64url, big-endian) in bits; 0 when it
/// does not decode.
fn rsa_bits(n: &str) -> usize {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(n.trim_end_matches('=')) else {
        return 0;
    };
    let Some(first) = bytes.iter().position(|b| *b != 0) else {
        return 0;
    };
    (bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize
}

/// How long a fetched set stays fresh: its `Cache-Control: max-age`
/// within [`MIN_MAX_AGE`] .. [`MAX_MAX_AGE`] (`no-cache` and `no-store`
/// count as the minimum), else [`DEFAULT_MAX_AGE`].
fn max_age(headers: &HeaderMap) -> Duration {
    let mut asked = None;
    for directive in headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
    {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return MIN_MAX_AGE;
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            asked = secs.trim_matches('"').parse::<u64>().ok().or(asked);
        }
    }
    asked.map_or(DEFAULT_MAX_AGE, |secs| {
        Duration::from_secs(secs).clamp(MIN_MAX_AGE, MAX_MAX_AGE)
    })
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;
    use serde_json::json;

    use super::*;

    /// The public half of a 2048-bit RSA key (RFC 7517 appendix A.1's
    /// example modulus is 2048 bits).
    const RSA_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn rsa(kid: &str) -> serde_json::Value {
        json!({ "kty": "RSA", "kid": kid, "n": RSA_N, "e": "AQAB" })
    }

    /// RFC 7517 appendix A.1's P-256 key.
    fn ec(kid: &str) -> serde_json::Value {
        json!({
            "kty": "EC", "crv": "P-256", "kid": kid,
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        })
    }

    fn kids(body: serde_json::Value) -> Result<Vec<(String, JwtAlgorithm)>, FetchError> {
        parse(body.to_string().as_bytes()).map(|keys| {
            keys.into_iter()
                .map(|k| (k.kid.unwrap_or_default(), k.algorithm))
                .collect()
        })
    }

    #[test]
    fn rsa_and_p256_signing_keys_are_kept_and_everything_else_skipped() {
        let mut enc = rsa("enc");
        enc["use"] = json!("enc");
        let mut oaep = rsa("oaep");
        oaep["alg"] = json!("RSA-OAEP");
        let mut ps = rsa("ps256");
        ps["alg"] = json!("PS256");
        let mut p384 = ec("p384");
        p384["crv"] = json!("P-384");
        let mut sign_only = rsa("rs-sig");
        sign_only["use"] = json!("sig");
        sign_only["alg"] = json!("RS256");
        let mut encrypt_ops = ec("ec-encrypt");
        encrypt_ops["key_ops"] = json!(["encrypt"]);
        let short = json!({ "kty": "RSA", "kid": "short", "n": &RSA_N[..171], "e": "AQAB" });
        let keys = kids(json!({ "keys": [
            rsa("rs"), ec("es"), sign_only, enc, oaep, ps, p384, encrypt_ops, short,
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXRoYXQtaXMtMzItYnl0ZXMtbG9uZy0tLS0" },
            { "kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" },
            { "kty": "RSA", "kid": "broken" },
            "not a key",
        ] }))
        .unwrap();
        assert_eq!(
            keys,
            [
                ("rs".to_owned(), JwtAlgorithm::Rs256),
                ("es".to_owned(), JwtAlgorithm::Es256),
                ("rs-sig".to_owned(), JwtAlgorithm::Rs256),
            ]
        );
    }

    #[test]
    fn a_body_that_is_no_key_set_or_holds_no_usable_key_is_refused() {
        assert!(matches!(
            parse(b"<html>login</html>"),
            Err(FetchError::NotJwks)
        ));
        assert!(matches!(
            kids(json!({ "key": [] })),
            Err(FetchError::NotJwks)
        ));
        assert!(matches!(
            kids(json!({ "keys": [] })),
            Err(FetchError::NoKeys)
        ));
        assert!(matches!(
            kids(json!({ "keys": [{ "kty": "oct", "k": "AAAA" }] })),
            Err(FetchError::NoKeys)
        ));
    }

    #[test]
    fn a_token_finds_its_key_by_kid_and_algorithm() {
        let keys = parse(
            json!({ "keys": [rsa("a"), ec("b")] })
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert!(matches!(
            find(&keys, Some("a"), JwtAlgorithm::Rs256),
            Lookup::Found(_)
        ));
        assert!(matches!(
            find(&keys, Some("a"), JwtAlgorithm::Es256),
            Lookup::WrongAlgorithm(JwtAlgorithm::Rs256)
        ));
        assert!(matches!(
            find(&keys, Some("c"), JwtAlgorithm::Rs256),
            Lookup::Missing
        ));
        // Without kid: only when one key has the token's algorithm.
        assert!(matches!(
            find(&keys, None, JwtAlgorithm::Es256),
            Lookup::Found(_)
        ));
        let two = parse(
            json!({ "keys": [rsa("a"), rsa("b")] })
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert!(matches!(
            find(&two, None, JwtAlgorithm::Rs256),
            Lookup::Ambiguous
        ));
        assert!(matches!(
            find(&two, None, JwtAlgorithm::Es256),
            Lookup::Missing
        ));
    }

    #[test]
    fn rsa_modulus_sizes_are_counted_in_bits() {
        assert_eq!(rsa_bits(RSA_N), 2048);
        // A leading zero byte does not count.
        assert_eq!(rsa_bits(&URL_SAFE_NO_PAD.encode([0u8, 0x01, 0xff])), 9);
        assert_eq!(rsa_bits("!!"), 0);
    }

    #[test]
    fn freshness_follows_max_age_within_bounds() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
            max_age(&headers)
        };
        assert_eq!(max_age(&HeaderMap::new()), DEFAULT_MAX_AGE);
        assert_eq!(
            with("public, max-age=3600, must-revalidate"),
            Duration::from_secs(3600)
        );
        assert_eq!(with("max-age=5"), MIN_MAX_AGE);
        assert_eq!(with("max-age=9999999"), MAX_MAX_AGE);
        assert_eq!(with("no-store"), MIN_MAX_AGE);
        assert_eq!(with("max-age=soon"), DEFAULT_MAX_AGE);
    }
}
