//! Configuration, read once from the environment. Secrets are never logged.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use rand::RngCore;

use crate::{
    auth::{
        idp::{IdpSettings, RoleMap},
        jwt::{JwtAlgorithm, JwtSettings},
    },
    clock::{Clock, SystemClock},
    http::{cors::AllowedOrigins, documents::TrustedDocuments, throttle::ThrottleSettings},
};

/// The whole configuration of one server process.
#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// `HANDOFF_BIND`: the address the HTTP server listens on.
    pub bind: SocketAddr,
    /// JWT validation (and, where a signing key is known, minting) settings.
    pub jwt: JwtSettings,
    /// `HANDOFF_LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
    /// `HANDOFF_METRICS` and `HANDOFF_METRICS_BIND`: where `/metrics` is
    /// served, if anywhere.
    pub metrics: MetricsSettings,
    /// `HANDOFF_INTROSPECTION`: answer introspection queries (default true).
    pub introspection: bool,
    /// `HANDOFF_FIELD_SUGGESTIONS`: "did you mean" hints in errors (default true).
    pub field_suggestions: bool,
    /// `HANDOFF_REQUEST_TIMEOUT_SECS`: a request running longer is cut off (default 10).
    pub request_timeout: Duration,
    /// `HANDOFF_DB_MAX_CONNECTIONS`: pool size (default 10).
    pub db_max_connections: u32,
    /// `HANDOFF_DB_ACQUIRE_TIMEOUT_SECS`: how long a request waits for a
    /// database connection before it is answered 503 `UNAVAILABLE`
    /// (default 2; fractions allowed).
    pub db_acquire_timeout: Duration,
    /// `HANDOFF_RATE_LIMIT_POINTS` and `HANDOFF_RATE_LIMIT_RESTORE_PER_SEC`:
    /// each user's cost budget (default 1,000 points refilling at 50 a
    /// second; 0 points turns it off).
    pub throttle: ThrottleSettings,
    /// The server's clock ([`crate::clock`]): the system's; tests move their own.
    pub clock: Arc<dyn Clock>,
    /// `HANDOFF_MAX_RESPONSE_MIB`: a larger response body is replaced by
    /// an error (default 16).
    pub max_response_bytes: usize,
    /// `HANDOFF_STATEMENT_TIMEOUT_SECS`: PostgreSQL `statement_timeout` (default 10).
    pub statement_timeout: Duration,
    /// `HANDOFF_PG_PARALLEL_WORKERS`: PostgreSQL
    /// `max_parallel_workers_per_gather` for the API's connections (default
    /// 0: a KPI request already runs its statements side by side on several
    /// connections, and on a small server parallel plans only compete with
    /// them for the same cores).
    pub pg_parallel_workers: u32,
    /// `HANDOFF_SLA_SWEEP_SECS`: how often the background SLA sweep moves
    /// leads to AT_RISK and BREACHED (default 60; 0 disables it).
    pub sla_sweep_interval: Duration,
    /// `HANDOFF_WS_RECHECK_SECS`: how long a WebSocket connection trusts
    /// its last check that the user is still active with the token's role
    /// (default 5): it checks again before delivering an event when the
    /// last check is older, and every interval without events. 0 checks
    /// before every event.
    pub ws_recheck_interval: Duration,
    /// `HANDOFF_CORS_ALLOWED_ORIGINS`: web origins that may call the API
    /// from a browser, comma-separated, or `*` (default none).
    pub cors_allowed_origins: AllowedOrigins,
    /// `HANDOFF_TRUSTED_DOCUMENTS`: a manifest of the only documents roles
    /// other than ADMIN may run (default none: any document).
    pub trusted_documents: Option<Arc<TrustedDocuments>>,
    /// `HANDOFF_SHUTDOWN_GRACE_SECS`: on SIGTERM or Ctrl-C, how long
    /// in-flight requests may take to finish (default 20).
    pub shutdown_grace: Duration,
    /// `HANDOFF_JWT_JWKS_URL` and the variables beside it: an identity
    /// provider whose tokens are accepted beside Handoff's own (`None`:
    /// Handoff's own only); see [`crate::auth::idp`].
    pub idp: Option<IdpSettings>,
}

/// Where the embedded default keeps its files when nothing else is said.
pub const DEFAULT_DATA_DIR: &str = ".handoff";

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={raw:?} is not valid: {e}")),
    }
}

/// A number of seconds, fractions allowed, above zero.
fn seconds(name: &str, default: f64) -> anyhow::Result<Duration> {
    let secs: f64 = parse_var(name, default)?;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        bail!("{name}={secs} must be a number of seconds above 0 and at most 86400");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A finite number, zero or more.
fn non_negative(name: &str, default: f64) -> anyhow::Result<f64> {
    let value: f64 = parse_var(name, default)?;
    if !value.is_finite() || value < 0.0 {
        bail!("{name}={value} must be a number, 0 or more");
    }
    Ok(value)
}

fn parse_bool(name: &str, default: bool) -> anyhow::Result<bool> {
    match var(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => bail!("{name}={other:?} is not a boolean (use true or false)"),
    }
}

impl Config {
    /// Reads the configuration from the environment. With no `DATABASE_URL`
    /// it uses the embedded SQLite file under `HANDOFF_DATA_DIR` (default
    /// `.handoff`), and with no JWT key it generates a development secret
    /// there and says so.
    pub fn from_env() -> anyhow::Result<Self> {
        let data_dir = PathBuf::from(var("HANDOFF_DATA_DIR").unwrap_or(DEFAULT_DATA_DIR.into()));
        let database_url = match var("DATABASE_URL") {
            Some(url) => url,
            None => {
                std::fs::create_dir_all(&data_dir)
                    .with_context(|| format!("creating data directory {}", data_dir.display()))?;
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.join("handoff.db").display()
                )
            }
        };
        let algorithm: JwtAlgorithm = parse_var("HANDOFF_JWT_ALG", JwtAlgorithm::Hs256)?;
        let issuer = var("HANDOFF_JWT_ISSUER").unwrap_or_else(|| "handoff".into());
        let audience = var("HANDOFF_JWT_AUDIENCE").unwrap_or_else(|| "handoff-api".into());
        let leeway_secs = parse_var("HANDOFF_JWT_LEEWAY_SECS", 30u64)?;
        let max_ttl_secs = parse_var(
            "HANDOFF_JWT_MAX_TTL_SECS",
            crate::auth::jwt::DEFAULT_MAX_TTL.as_secs(),
        )?;
        if max_ttl_secs == 0 {
            bail!("HANDOFF_JWT_MAX_TTL_SECS must be at least 1");
        }
        let jwt = match algorithm {
            JwtAlgorithm::Hs256 => {
                let secret = match var("HANDOFF_JWT_SECRET") {
                    Some(secret) => secret.into_bytes(),
                    None => dev_secret(&data_dir)?,
                };
                JwtSettings::hs256(&secret, issuer, audience, leeway_secs)?
            }
            JwtAlgorithm::Rs256 | JwtAlgorithm::Es256 => {
                let public = var("HANDOFF_JWT_PUBLIC_KEY_FILE").with_context(|| {
                    format!("HANDOFF_JWT_ALG={algorithm} needs HANDOFF_JWT_PUBLIC_KEY_FILE")
                })?;
                let public_pem =
                    std::fs::read(&public).with_context(|| format!("reading {public}"))?;
                let private_pem = match var("HANDOFF_JWT_PRIVATE_KEY_FILE") {
                    Some(path) => {
                        Some(std::fs::read(&path).with_context(|| format!("reading {path}"))?)
                    }
                    None => None,
                };
                JwtSettings::asymmetric(
                    algorithm,
                    &public_pem,
                    private_pem.as_deref(),
                    issuer,
                    audience,
                    leeway_secs,
                )?
            }
        }
        .with_max_ttl(Duration::from_secs(max_ttl_secs));
        let jwt = with_previous_key(jwt)?;
        let idp = identity_provider(jwt.issuer(), var)?;
        Ok(Self {
            database_url,
            bind: parse_var("HANDOFF_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            jwt,
            log_json: match var("HANDOFF_LOG_FORMAT").as_deref() {
                None | Some("text") => false,
                Some("json") => true,
                Some(other) => bail!("HANDOFF_LOG_FORMAT={other:?}: use text or json"),
            },
            metrics: MetricsSettings::from_env()?,
            introspection: parse_bool("HANDOFF_INTROSPECTION", true)?,
            field_suggestions: parse_bool("HANDOFF_FIELD_SUGGESTIONS", true)?,
            request_timeout: Duration::from_secs(parse_var("HANDOFF_REQUEST_TIMEOUT_SECS", 10u64)?),
            db_max_connections: parse_var("HANDOFF_DB_MAX_CONNECTIONS", 10u32)?,
            db_acquire_timeout: seconds("HANDOFF_DB_ACQUIRE_TIMEOUT_SECS", 2.0)?,
            throttle: ThrottleSettings {
                capacity: non_negative("HANDOFF_RATE_LIMIT_POINTS", 1000.0)?,
                restore_rate: non_negative("HANDOFF_RATE_LIMIT_RESTORE_PER_SEC", 50.0)?,
            },
            clock: Arc::new(SystemClock::default()),
            max_response_bytes: parse_var("HANDOFF_MAX_RESPONSE_MIB", 16usize)?
                .saturating_mul(1024 * 1024),
            statement_timeout: Duration::from_secs(parse_var(
                "HANDOFF_STATEMENT_TIMEOUT_SECS",
                10u64,
            )?),
            pg_parallel_workers: parse_var("HANDOFF_PG_PARALLEL_WORKERS", 0u32)?,
            sla_sweep_interval: Duration::from_secs(parse_var("HANDOFF_SLA_SWEEP_SECS", 60u64)?),
            ws_recheck_interval: Duration::from_secs(parse_var(
                "HANDOFF_WS_RECHECK_SECS",
                crate::http::ws::RECHECK_INTERVAL.as_secs(),
            )?),
            cors_allowed_origins: AllowedOrigins::parse(
                &var("HANDOFF_CORS_ALLOWED_ORIGINS").unwrap_or_default(),
            )
            .context("HANDOFF_CORS_ALLOWED_ORIGINS")?,
            trusted_documents: match var("HANDOFF_TRUSTED_DOCUMENTS") {
                Some(path) => Some(Arc::new(
                    TrustedDocuments::load(path.as_ref()).context("HANDOFF_TRUSTED_DOCUMENTS")?,
                )),
                None => None,
            },
            shutdown_grace: Duration::from_secs(parse_var("HANDOFF_SHUTDOWN_GRACE_SECS", 20u64)?),
            idp,
        })
    }

    /// A configuration for tests and tools: the given database, an HS256
    /// secret, defaults for everything else.
    pub fn for_database(database_url: impl Into<String>, secret: &[u8]) -> anyhow::Result<Self> {
        Ok(Self {
            database_url: database_url.into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            jwt: JwtSettings::hs256(secret, "handoff".into(), "handoff-api".into(), 30)?,
            log_json: false,
            metrics: MetricsSettings::default(),
            introspection: true,
            field_suggestions: true,
            request_timeout: Duration::from_secs(10),
            db_max_connections: 10,
            db_acquire_timeout: Duration::from_secs(2),
            throttle: ThrottleSettings::default(),
            clock: Arc::new(SystemClock::default()),
            max_response_bytes: 16 * 1024 * 1024,
            statement_timeout: Duration::from_secs(10),
            pg_parallel_workers: 0,
            sla_sweep_interval: Duration::from_secs(60),
            ws_recheck_interval: crate::http::ws::RECHECK_INTERVAL,
            cors_allowed_origins: AllowedOrigins::None,
            trusted_documents: None,
            shutdown_grace: Duration::from_secs(20),
            idp: None,
        })
    }
}

/// Where Prometheus metrics are served (docs/operations.md "Metrics").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `HANDOFF_METRICS`: record metrics and serve `/metrics` (default
    /// true); off, `/metrics` is 404 and nothing is recorded.
    pub enabled: bool,
    /// `HANDOFF_METRICS_BIND`: serve `/metrics` on this address only, not
    /// on the API's (default: on the API's address, without a token).
    pub bind: Option<SocketAddr>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: None,
        }
    }
}

impl MetricsSettings {
    /// Reads `HANDOFF_METRICS` and `HANDOFF_METRICS_BIND`.
    pub fn from_env() -> anyhow::Result<Self> {
        let bind = match var("HANDOFF_METRICS_BIND") {
            None => None,
            Some(raw) => Some(raw.trim().parse().map_err(|e| {
                anyhow::anyhow!(
                    "HANDOFF_METRICS_BIND={raw:?} is not an address like 127.0.0.1:9090: {e}"
                )
            })?),
        };
        Ok(Self {
            enabled: parse_bool("HANDOFF_METRICS", true)?,
            bind,
        })
    }
}

/// Reads the development secret from the data directory, generating it on
/// first use. Only used when no `HANDOFF_JWT_SECRET` is configured.
fn dev_secret(data_dir: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("dev-jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(existing.into_bytes());
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    tracing::warn!(
        secret.path = %path.display(),
        "HANDOFF_JWT_SECRET is not set: generated a development secret; set HANDOFF_JWT_SECRET in production"
    );
    Ok(secret.into_bytes())
}

// Key rotation and identity-provider tokens: HANDOFF_JWT_PREVIOUS_* and
// HANDOFF_JWT_JWKS_*, HANDOFF_JWT_USER_CLAIM, HANDOFF_JWT_ROLES_CLAIM,
// HANDOFF_JWT_ROLE_MAP.

/// Adds the key being rotated out, which verifies tokens and never signs
/// them: `HANDOFF_JWT_PREVIOUS_SECRET` (HS256) or
/// `HANDOFF_JWT_PREVIOUS_PUBLIC_KEY_FILE` (RS256, ES256).
fn with_previous_key(jwt: JwtSettings) -> anyhow::Result<JwtSettings> {
    match (
        var("HANDOFF_JWT_PREVIOUS_SECRET"),
        var("HANDOFF_JWT_PREVIOUS_PUBLIC_KEY_FILE"),
    ) {
        (Some(_), Some(_)) => bail!(
            "set HANDOFF_JWT_PREVIOUS_SECRET (HS256) or HANDOFF_JWT_PREVIOUS_PUBLIC_KEY_FILE (RS256, ES256), not both"
        ),
        (Some(secret), None) => jwt.with_previous_secret(secret.as_bytes()),
        (None, Some(path)) => {
            let pem = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
            jwt.with_previous_public_key(&pem)
        }
        (None, None) => Ok(jwt),
    }
}

/// The identity provider whose tokens are accepted too, read with `var`:
/// none without `HANDOFF_JWT_JWKS_URL`, and then none of the variables
/// beside it may be set either.
fn identity_provider(
    own_issuer: &str,
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<IdpSettings>> {
    const BESIDE: [&str; 5] = [
        "HANDOFF_JWT_JWKS_ISSUER",
        "HANDOFF_JWT_JWKS_AUDIENCE",
        "HANDOFF_JWT_USER_CLAIM",
        "HANDOFF_JWT_ROLES_CLAIM",
        "HANDOFF_JWT_ROLE_MAP",
    ];
    let Some(jwks_url) = var("HANDOFF_JWT_JWKS_URL") else {
        if let Some(name) = BESIDE.iter().find(|name| var(name).is_some()) {
            bail!("{name} is set without HANDOFF_JWT_JWKS_URL, which it needs");
        }
        return Ok(None);
    };
    let jwks_url = jwks_url.trim().to_owned();
    check_jwks_url(&jwks_url)?;
    let issuer = var("HANDOFF_JWT_JWKS_ISSUER").context(
        "HANDOFF_JWT_JWKS_URL needs HANDOFF_JWT_JWKS_ISSUER: the `iss` of the identity provider's tokens",
    )?;
    if issuer == own_issuer {
        bail!(
            "HANDOFF_JWT_JWKS_ISSUER must differ from HANDOFF_JWT_ISSUER ({own_issuer:?}): \
             the issuer tells the identity provider's tokens from Handoff's own"
        );
    }
    let audience = var("HANDOFF_JWT_JWKS_AUDIENCE").context(
        "HANDOFF_JWT_JWKS_URL needs HANDOFF_JWT_JWKS_AUDIENCE: the `aud` of the identity provider's tokens for Handoff",
    )?;
    let user_claim =
        var("HANDOFF_JWT_USER_CLAIM").map_or_else(|| "email".into(), |c| c.trim().to_owned());
    let roles = match (var("HANDOFF_JWT_ROLES_CLAIM"), var("HANDOFF_JWT_ROLE_MAP")) {
        (Some(claim), Some(map)) => Some(RoleMap::parse(&claim, &map)?),
        (None, None) => None,
        (Some(_), None) => {
            bail!("HANDOFF_JWT_ROLES_CLAIM needs HANDOFF_JWT_ROLE_MAP (group=ROLE,group=ROLE)")
        }
        (None, Some(_)) => bail!(
            "HANDOFF_JWT_ROLE_MAP needs HANDOFF_JWT_ROLES_CLAIM: the claim that holds the groups"
        ),
    };
    Ok(Some(IdpSettings {
        jwks_url,
        issuer,
        audience,
        user_claim,
        roles,
    }))
}

/// A JWKS URL is `https://`, or `http://` to this machine only: a key set
/// fetched in the clear could be swapped on the way.
fn check_jwks_url(url: &str) -> anyhow::Result<()> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| anyhow::anyhow!("HANDOFF_JWT_JWKS_URL={url:?} is not a URL: {e}"))?;
    let host = uri.host().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if loopback => Ok(()),
        Some("http") => bail!(
            "HANDOFF_JWT_JWKS_URL must use https (plain http only to this machine: localhost, 127.0.0.1, [::1])"
        ),
        _ => bail!("HANDOFF_JWT_JWKS_URL={url:?} is not an https:// URL"),
    }
}

#[cfg(test)]
mod idp_tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> anyhow::Result<Option<IdpSettings>> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        identity_provider("handoff", |name| vars.get(name).cloned())
    }

    const OKTA: [(&str, &str); 3] = [
        (
            "HANDOFF_JWT_JWKS_URL",
            "https://acme.okta.com/oauth2/default/v1/keys",
        ),
        (
            "HANDOFF_JWT_JWKS_ISSUER",
            "https://acme.okta.com/oauth2/default",
        ),
        ("HANDOFF_JWT_JWKS_AUDIENCE", "api://handoff"),
    ];

    #[test]
    fn no_jwks_url_means_no_identity_provider_and_no_stray_settings() {
        assert!(read(&[]).unwrap().is_none());
        let why = read(&[("HANDOFF_JWT_ROLE_MAP", "a=ADMIN")])
            .unwrap_err()
            .to_string();
        assert!(
            why.contains("HANDOFF_JWT_ROLE_MAP is set without HANDOFF_JWT_JWKS_URL"),
            "{why}"
        );
    }

    #[test]
    fn an_identity_provider_needs_issuer_and_audience_and_defaults_to_the_email_claim() {
        let idp = read(&OKTA).unwrap().unwrap();
        assert_eq!(idp.user_claim, "email");
        assert_eq!(idp.roles, None);
        for missing in ["HANDOFF_JWT_JWKS_ISSUER", "HANDOFF_JWT_JWKS_AUDIENCE"] {
            let vars: Vec<_> = OKTA.into_iter().filter(|(k, _)| *k != missing).collect();
            let why = read(&vars).unwrap_err().to_string();
            assert!(why.contains(missing), "{why}");
        }
        let mut same = OKTA.to_vec();
        same[1].1 = "handoff";
        let why = read(&same).unwrap_err().to_string();
        assert!(why.contains("must differ from HANDOFF_JWT_ISSUER"), "{why}");
    }

    #[test]
    fn the_roles_claim_and_the_role_map_come_together() {
        let mut both = OKTA.to_vec();
        both.push(("HANDOFF_JWT_ROLES_CLAIM", "groups"));
        both.push(("HANDOFF_JWT_ROLE_MAP", "okta-admins=ADMIN"));
        assert!(read(&both).unwrap().unwrap().roles.is_some());
        for alone in ["HANDOFF_JWT_ROLES_CLAIM", "HANDOFF_JWT_ROLE_MAP"] {
            let vars: Vec<_> = both.iter().copied().filter(|(k, _)| *k != alone).collect();
            let why = read(&vars).unwrap_err().to_string();
            assert!(why.contains(&format!("needs {alone}")), "{why}");
        }
    }

    #[test]
    fn a_jwks_url_is_https_or_http_to_this_machine() {
        for ok in [
            "https://login.microsoftonline.com/common/discovery/v2.0/keys",
            "http://127.0.0.1:8081/jwks.json",
            "http://localhost/keys",
            "http://[::1]:9000/keys",
        ] {
            assert!(check_jwks_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com/keys",
            "http://10.0.0.1/keys",
            "ftp://idp.example.com/keys",
            "/keys",
            "not a url",
        ] {
            assert!(check_jwks_url(bad).is_err(), "{bad}");
        }
    }
}
