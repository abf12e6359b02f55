//! JWT bearer tokens: the algorithm is pinned by configuration, never taken
//! from the token; `exp`, `iss`, `aud` and `sub` are required and checked.

use std::{fmt, str::FromStr, time::Duration};

use anyhow::{Context, bail};
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

/// Why a token was refused. The message is safe to show to the caller.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// Anything else: malformed, bad signature, wrong algorithm, issuer or audience.
    #[error("the token is invalid: {0}")]
    Invalid(&'static str),
}

/// Keys and validation rules for one deployment.
#[derive(Clone)]
pub struct JwtSettings {
    algorithm: JwtAlgorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
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
            encoding,
            validation,
            issuer,
            audience,
        }
    }

    /// The pinned algorithm.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    /// Validates a token and returns its claims.
    pub fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::Invalid("bad signature"),
                ErrorKind::InvalidAlgorithm => TokenError::Invalid("wrong algorithm"),
                ErrorKind::InvalidIssuer => TokenError::Invalid("wrong issuer"),
                ErrorKind::InvalidAudience => TokenError::Invalid("wrong audience"),
                ErrorKind::ImmatureSignature => TokenError::Invalid("not valid yet"),
                ErrorKind::MissingRequiredClaim(_) => {
                    TokenError::Invalid("a required claim is missing")
                }
                ErrorKind::InvalidClaimFormat(_) => {
                    TokenError::Invalid("a claim has the wrong type")
                }
                _ => TokenError::Invalid("malformed"),
            })
    }

    /// Mints a token for a user and role, valid for `ttl`. Needs the signing
    /// key (the HS256 secret, or the private key file for RS256/ES256).
    pub fn mint(&self, user_id: Uuid, role: Role, ttl: Duration) -> anyhow::Result<String> {
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
