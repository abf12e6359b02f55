//! JWT bearer tokens: the algorithm is pinned by configuration, never taken
//! from the token; `exp`, `iat`, `iss`, `aud` and `sub` are required and
//! checked. `aud` may be a string or an array that contains ours (RFC 7519
//! section 4.1.3); a header with `crit` is refused, since we understand no
//! extension (RFC 7515 section 4.1.11; jsonwebtoken ignores `crit`); a
//! token's lifetime (`exp - iat`) is capped. During a rotation a previous
//! key (`HANDOFF_JWT_PREVIOUS_SECRET`, `HANDOFF_JWT_PREVIOUS_PUBLIC_KEY_FILE`)
//! verifies too, and never signs.
//!
//! Whichever key signed it, a verified token becomes a [`Principal`]: who it
//! names and the role it claims, which `services::users::viewer_for`
//! holds against the user's record. Tokens from an identity provider
//! ([`super::idp`]) end as one too.

use std::{fmt, str::FromStr, time::Duration};

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::enums::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The algorithms a deployment may pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 and a shared secret of at least 32 bytes.
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256; the server holds the public key.
    Rs256,
    /// ECDSA P-256 with SHA-256; the server holds the public key.
    Es256,
}

impl FromStr for JwtAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "HS256" => Ok(Self::Hs256),
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            other => Err(format!(
                "unsupported algorithm {other:?}: use HS256, RS256 or ES256"
            )),
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        })
    }
}

impl From<JwtAlgorithm> for Algorithm {
    fn from(a: JwtAlgorithm) -> Self {
        match a {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Rs256 => Algorithm::RS256,
            JwtAlgorithm::Es256 => Algorithm::ES256,
        }
    }
}

/// The claims Handoff issues and requires.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id (UUID).
    pub sub: String,
    /// The user's role, as its GraphQL name (`ADMIN`, `SALES`, ...).
    pub role: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
}

/// Who a verified token names, the role it claims, and until when: what
/// Handoff's own tokens and an identity provider's have in common.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user the token names.
    pub user: UserRef,
    /// The role the token claims.
    pub role: ClaimedRole,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// How a token names its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// Handoff's own token: `sub` is the user's id (a `sub` that is not a
    /// UUID names no user).
    Subject(String),
    /// An identity provider's token: the claim
    /// (`HANDOFF_JWT_USER_CLAIM`) holds the user's id.
    Id {
        /// The claim's name, for messages.
        claim: String,
        /// The user's id.
        id: Uuid,
    },
    /// An identity provider's token: the claim holds the user's email
    /// address, compared in lower case.
    Email {
        /// The claim's name, for messages.
        claim: String,
        /// The address as the token has it.
        email: String,
    },
}

/// The role a token claims, which must be the user's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimedRole {
    /// Handoff's `role` claim, as the token has it.
    Named(String),
    /// The one role an identity provider's group or role claim maps to
    /// (`HANDOFF_JWT_ROLES_CLAIM`, `HANDOFF_JWT_ROLE_MAP`).
    Mapped {
        /// The claim's name, for messages.
        claim: String,
        /// The Handoff role it maps to.
        role: Role,
    },
    /// No role claim: an identity provider without a role mapping names
    /// the user, and the user's role in Handoff applies.
    UsersOwn,
}

impl From<Claims> for Principal {
    fn from(claims: Claims) -> Self {
        Self {
            user: UserRef::Subject(claims.sub),
            role: ClaimedRole::Named(claims.role),
            exp: claims.exp,
        }
    }
}

/// The longest token lifetime (`exp - iat`) accepted and minted unless
/// configured otherwise (`HANDOFF_JWT_MAX_TTL_SECS`): 24 hours.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// The claims as a token may carry them: `aud` a string or an array, `iat`
/// possibly missing (refused with a message that says so).
#[derive(Deserialize)]
struct ReceivedClaims {
    sub: String,
    role: String,
    iss: String,
    aud: Audience,
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
}

/// RFC 7519 section 4.1.3: one audience, or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, ours: &str) -> bool {
        match self {
            Self::One(aud) => aud == ours,
            Self::Many(auds) => auds.iter().any(|aud| aud == ours),
        }
    }
}

/// Why a token was refused. The message is safe to show to the caller.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// Anything else: malformed, bad signature, wrong algorithm, issuer or
    /// audience, missing `iat`, `crit` header, lifetime over the cap.
    #[error("the token is invalid: {0}")]
    Invalid(String),
    /// A genuine token whose claims name no Handoff user or role (an
    /// identity provider's: see [`super::idp`]).
    #[error("{0}")]
    Unmapped(String),
    /// The identity provider's keys could not be fetched, so its token
    /// cannot be checked now.
    #[error("{0}")]
    KeysUnavailable(String),
}

fn invalid(why: impl Into<String>) -> TokenError {
    TokenError::Invalid(why.into())
}

/// Whether the token's header (its first segment) names a `crit`
/// parameter, with any value. The `Header` type of jsonwebtoken reads
/// `"crit": null` as absent, so the raw JSON is checked.
fn has_crit(token: &str) -> bool {
    let Some(segment) = token.split('.').next() else {
        return false;
    };
    URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .ok()
        .and_then(|json| {
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&json).ok()
        })
        .is_some_and(|header| header.contains_key("crit"))
}

/// A refusal by jsonwebtoken as the caller sees it.
pub(crate) fn token_error(e: &jsonwebtoken::errors::Error) -> TokenError {
    match e.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::InvalidSignature => invalid("bad signature"),
        ErrorKind::InvalidAlgorithm => invalid("wrong algorithm"),
        ErrorKind::InvalidIssuer => invalid("wrong issuer"),
        ErrorKind::InvalidAudience => invalid("wrong audience"),
        ErrorKind::ImmatureSignature => invalid("not valid yet"),
        ErrorKind::MissingRequiredClaim(claim) => {
            invalid(format!("the required claim `{claim}` is missing"))
        }
        ErrorKind::InvalidClaimFormat(claim) => {
            invalid(format!("the claim `{claim}` has the wrong type"))
        }
        _ => invalid("malformed"),
    }
}

/// The checks jsonwebtoken does not make, on a token whose signature,
/// `exp`, `nbf`, `iss` and `aud` it has accepted: no `crit` header, an
/// `iat` that is present and not in the future (beyond `leeway` seconds),
/// an `exp` after it, and a lifetime (`exp - iat`) of at most `max_ttl`.
/// Returns `iat`.
pub(crate) fn check_rest(
    token: &str,
    iat: Option<u64>,
    exp: u64,
    now: u64,
    leeway: u64,
    max_ttl: Duration,
) -> Result<u64, TokenError> {
    if has_crit(token) {
        return Err(invalid(
            "the header has a `crit` parameter, and no extension is understood here",
        ));
    }
    let iat = iat.ok_or_else(|| invalid("the required claim `iat` is missing"))?;
    if iat > now.saturating_add(leeway) {
        return Err(invalid("`iat` is in the future"));
    }
    if exp <= iat {
        return Err(invalid("`exp` is not after `iat`"));
    }
    if exp - iat > max_ttl.as_secs() {
        return Err(invalid(format!(
            "its lifetime (`exp` - `iat`) is over the {} maximum",
            describe_ttl(max_ttl)
        )));
    }
    Ok(iat)
}

/// `30 s`, `15 min`, `24 h`: a lifetime for messages.
pub fn describe_ttl(ttl: Duration) -> String {
    let secs = ttl.as_secs();
    if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// Keys and validation rules for one deployment.
#[derive(Clone)]
pub struct JwtSettings {
    algorithm: JwtAlgorithm,
    decoding: DecodingKey,
    /// The key being rotated out: it verifies, it never signs.
    previous: Option<DecodingKey>,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    max_ttl: Duration,
}

impl JwtSettings {
    /// HS256 with a shared secret; a secret shorter than 32 bytes stops start-up.
    pub fn hs256(
        secret: &[u8],
        issuer: String,
        audience: String,
        leeway_secs: u64,
    ) -> anyhow::Result<Self> {
        if secret.len() < 32 {
            bail!(
                "HANDOFF_JWT_SECRET is {} bytes; HS256 needs at least 32",
                secret.len()
            );
        }
        Ok(Self::new(
            JwtAlgorithm::Hs256,
            DecodingKey::from_secret(secret),
            Some(EncodingKey::from_secret(secret)),
            issuer,
            audience,
            leeway_secs,
        ))
    }

    /// RS256 or ES256 with a PEM public key, and optionally the private key
    /// for minting tokens with `handoff token`.
    pub fn asymmetric(
        algorithm: JwtAlgorithm,
        public_pem: &[u8],
        private_pem: Option<&[u8]>,
        issuer: String,
        audience: String,
        leeway_secs: u64,
    ) -> anyhow::Result<Self> {
        let (decoding, encoding) = match algorithm {
            JwtAlgorithm::Rs256 => (
                DecodingKey::from_rsa_pem(public_pem).context("reading the RSA public key")?,
                private_pem
                    .map(EncodingKey::from_rsa_pem)
                    .transpose()
                    .context("reading the RSA private key")?,
            ),
            JwtAlgorithm::Es256 => (
                DecodingKey::from_ec_pem(public_pem).context("reading the EC public key")?,
                private_pem
                    .map(EncodingKey::from_ec_pem)
                    .transpose()
                    .context("reading the EC private key")?,
            ),
            JwtAlgorithm::Hs256 => bail!("HS256 uses HANDOFF_JWT_SECRET, not a key file"),
        };
        Ok(Self::new(
            algorithm,
            decoding,
            encoding,
            issuer,
            audience,
            leeway_secs,
        ))
    }

    fn new(
        algorithm: JwtAlgorithm,
        decoding: DecodingKey,
        encoding: Option<EncodingKey>,
        issuer: String,
        audience: String,
        leeway_secs: u64,
    ) -> Self {
        let mut validation = Validation::new(algorithm.into());
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = leeway_secs;
        Self {
            algorithm,
            decoding,
            previous: None,
            encoding,
            validation,
            issuer,
            audience,
            max_ttl: DEFAULT_MAX_TTL,
        }
    }

    /// The same settings, also accepting tokens signed with the previous
    /// HS256 secret (`HANDOFF_JWT_PREVIOUS_SECRET`) while they live. It
    /// never signs; like the current secret it needs 32 bytes or more.
    pub fn with_previous_secret(mut self, secret: &[u8]) -> anyhow::Result<Self> {
        if self.algorithm != JwtAlgorithm::Hs256 {
            bail!(
                "HANDOFF_JWT_PREVIOUS_SECRET is for HS256; with {} set HANDOFF_JWT_PREVIOUS_PUBLIC_KEY_FILE",
                self.algorithm
            );
        }
        if secret.len() < 32 {
            bail!(
                "HANDOFF_JWT_PREVIOUS_SECRET is {} bytes; HS256 needs at least 32",
                secret.len()
            );
        }
        self.previous = Some(DecodingKey::from_secret(secret));
        Ok(self)
    }

    /// The same settings, also accepting tokens signed with the previous
    /// RS256 or ES256 key pair (its PEM public key,
    /// `HANDOFF_JWT_PREVIOUS_PUBLIC_KEY_FILE`) while they live.
    pub fn with_previous_public_key(mut self, public_pem: &[u8]) -> anyhow::Result<Self> {
        self.previous = Some(match self.algorithm {
            JwtAlgorithm::Rs256 => DecodingKey::from_rsa_pem(public_pem)
                .context("reading the previous RSA public key")?,
            JwtAlgorithm::Es256 => DecodingKey::from_ec_pem(public_pem)
                .context("reading the previous EC public key")?,
            JwtAlgorithm::Hs256 => bail!(
                "HANDOFF_JWT_PREVIOUS_PUBLIC_KEY_FILE is for RS256 and ES256; with HS256 set HANDOFF_JWT_PREVIOUS_SECRET"
            ),
        });
        Ok(self)
    }

    /// The same settings with another longest token lifetime (`exp - iat`).
    #[must_use]
    pub fn with_max_ttl(mut self, max_ttl: Duration) -> Self {
        self.max_ttl = max_ttl;
        self
    }

    /// The longest token lifetime (`exp - iat`) accepted and minted.
    pub fn max_ttl(&self) -> Duration {
        self.max_ttl
    }

    /// Refuses a lifetime over the maximum, with the message `mint` gives.
    pub fn check_ttl(&self, ttl: Duration) -> anyhow::Result<()> {
        if ttl > self.max_ttl {
            bail!(
                "a token may live at most {} (HANDOFF_JWT_MAX_TTL_SECS); {} is longer",
                describe_ttl(self.max_ttl),
                describe_ttl(ttl)
            );
        }
        Ok(())
    }

    /// The pinned algorithm.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    /// The issuer (`iss`) of Handoff's own tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub fn leeway_secs(&self) -> u64 {
        self.validation.leeway
    }

    /// Validates a token and returns its claims.
    pub fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        self.decode_at(token, jsonwebtoken::get_current_timestamp())
    }

    /// [`decode`](Self::decode) with `iat` judged against `now` (seconds
    /// since the epoch); jsonwebtoken judges `exp` and `nbf` by the clock.
    fn decode_at(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let decode = |key| jsonwebtoken::decode::<ReceivedClaims>(token, key, &self.validation);
        let received = match (decode(&self.decoding), &self.previous) {
            // Signed with the key being rotated out.
            (Err(e), Some(previous)) if matches!(e.kind(), ErrorKind::InvalidSignature) => {
                decode(previous)
            }
            (result, _) => result,
        }
        .map(|data| data.claims)
        .map_err(|e| token_error(&e))?;
        // jsonwebtoken checks the audience too; this keeps the claim we
        // return ours whichever form it came in.
        if !received.aud.contains(&self.audience) {
            return Err(invalid("wrong audience"));
        }
        let iat = check_rest(
            token,
            received.iat,
            received.exp,
            now,
            self.validation.leeway,
            self.max_ttl,
        )?;
        Ok(Claims {
            sub: received.sub,
            role: received.role,
            iss: received.iss,
            aud: self.audience.clone(),
            exp: received.exp,
            iat,
        })
    }

    /// Mints a token for a user and role, valid for `ttl` (at most the
    /// configured maximum lifetime). Needs the signing key (the HS256
    /// secret, or the private key file for RS256/ES256).
    pub fn mint(&self, user_id: Uuid, role: Role, ttl: Duration) -> anyhow::Result<String> {
        self.check_ttl(ttl)?;
        let key = self.encoding.as_ref().context(
            "no signing key configured: set HANDOFF_JWT_PRIVATE_KEY_FILE to mint RS256/ES256 tokens",
        )?;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            role: role.as_str().to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm.into()), &claims, key)
            .context("signing the token")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const SECRET: &[u8] = b"unit-test-secret-that-is-32-bytes-long";
    const NOW: u64 = 2_000_000_000;

    fn settings() -> JwtSettings {
        JwtSettings::hs256(SECRET, "handoff".into(), "handoff-api".into(), 30).unwrap()
    }

    /// A token with exactly this header and these claims, signed with
    /// [`SECRET`]: the header is written by hand so it can hold what
    /// jsonwebtoken's `Header` would not serialise.
    fn token(header: Value, claims: Value) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(SECRET),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{message}.{signature}")
    }

    fn header() -> Value {
        json!({ "alg": "HS256", "typ": "JWT" })
    }

    /// Claims issued at `NOW`, valid for an hour (exp is judged by the real
    /// clock, so it is far in the future).
    fn claims() -> Value {
        json!({
            "sub": "018f0000-0000-7000-8000-000000000000",
            "role": "ADMIN",
            "iss": "handoff",
            "aud": "handoff-api",
            "iat": NOW,
            "exp": NOW + 3600,
        })
    }

    fn refusal(token: &str) -> String {
        match settings().decode_at(token, NOW) {
            Ok(claims) => panic!("accepted: {claims:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_well_formed_token_is_accepted() {
        let claims = settings()
            .decode_at(&token(header(), claims()), NOW)
            .unwrap();
        assert_eq!(claims.role, "ADMIN");
        assert_eq!(claims.aud, "handoff-api");
        assert_eq!(claims.iat, NOW);
    }

    #[test]
    fn an_audience_array_that_contains_ours_is_accepted_and_one_without_it_refused() {
        let mut c = claims();
        c["aud"] = json!(["crm-sync", "handoff-api"]);
        let decoded = settings().decode_at(&token(header(), c), NOW).unwrap();
        assert_eq!(decoded.aud, "handoff-api");

        let mut c = claims();
        c["aud"] = json!(["crm-sync", "reports"]);
        assert!(refusal(&token(header(), c)).contains("wrong audience"));
        let mut c = claims();
        c["aud"] = json!([]);
        assert!(refusal(&token(header(), c)).contains("audience"));
    }

    #[test]
    fn any_crit_header_parameter_is_refused() {
        for crit in [json!(["exp"]), json!(["b64"]), json!([]), Value::Null] {
            let mut h = header();
            h["crit"] = crit.clone();
            if !crit.is_null() {
                h["b64"] = json!(true);
            }
            let why = refusal(&token(h, claims()));
            assert!(why.contains("crit"), "{crit}: {why}");
        }
    }

    #[test]
    fn a_token_without_iat_is_refused_and_says_so() {
        let mut c = claims();
        c.as_object_mut().unwrap().remove("iat");
        assert!(refusal(&token(header(), c)).contains("`iat` is missing"));
    }

    #[test]
    fn iat_in_the_future_is_refused_beyond_the_leeway_only() {
        // Leeway 30 s: issued 30 s ahead of our clock passes, 31 s does not.
        let mut c = claims();
        c["iat"] = json!(NOW + 30);
        assert!(settings().decode_at(&token(header(), c), NOW).is_ok());
        let mut c = claims();
        c["iat"] = json!(NOW + 31);
        assert!(refusal(&token(header(), c)).contains("`iat` is in the future"));
    }

    #[test]
    fn a_lifetime_over_the_cap_is_refused_and_one_at_the_cap_accepted() {
        let day = 24 * 3600;
        let mut c = claims();
        c["exp"] = json!(NOW + day);
        assert!(settings().decode_at(&token(header(), c), NOW).is_ok());
        let mut c = claims();
        c["exp"] = json!(NOW + day + 1);
        assert!(refusal(&token(header(), c)).contains("over the 24 h maximum"));

        // A configured cap of an hour.
        let hourly = settings().with_max_ttl(Duration::from_secs(3600));
        let mut c = claims();
        c["exp"] = json!(NOW + 3601);
        let why = hourly
            .decode_at(&token(header(), c), NOW)
            .unwrap_err()
            .to_string();
        assert!(why.contains("over the 1 h maximum"), "{why}");
    }

    #[test]
    fn an_exp_not_after_iat_is_refused() {
        let mut c = claims();
        c["iat"] = json!(NOW + 7200);
        c["exp"] = json!(NOW + 3600);
        let s = settings();
        let why = s
            .decode_at(&token(header(), c), NOW + 7200)
            .unwrap_err()
            .to_string();
        assert!(why.contains("`exp` is not after `iat`"), "{why}");
    }

    #[test]
    fn minting_refuses_a_lifetime_over_the_cap() {
        let s = settings().with_max_ttl(Duration::from_secs(3600));
        let user = Uuid::now_v7();
        assert!(s.mint(user, Role::Sales, Duration::from_secs(3600)).is_ok());
        let why = s
            .mint(user, Role::Sales, Duration::from_secs(7200))
            .unwrap_err()
            .to_string();
        assert_eq!(
            why,
            "a token may live at most 1 h (HANDOFF_JWT_MAX_TTL_SECS); 2 h is longer"
        );
    }

    #[test]
    fn minted_tokens_carry_iat_and_decode() {
        let s = settings();
        let token = s
            .mint(Uuid::now_v7(), Role::Reporting, Duration::from_secs(600))
            .unwrap();
        let claims = s.decode(&token).unwrap();
        assert_eq!(claims.exp - claims.iat, 600);
    }

    #[test]
    fn lifetimes_are_described_in_the_largest_whole_unit() {
        assert_eq!(describe_ttl(Duration::from_secs(86_400)), "24 h");
        assert_eq!(describe_ttl(Duration::from_secs(900)), "15 min");
        assert_eq!(describe_ttl(Duration::from_secs(90)), "90 s");
    }
}
