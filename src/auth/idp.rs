//! Tokens from the company's identity provider (Okta, Entra ID, Auth0,
//! Keycloak, ...), side by side with Handoff's own: a token whose `iss` is
//! the provider's (`HANDOFF_JWT_JWKS_ISSUER`) is verified here, any other
//! as Handoff's own ([`super::verify`]).
//!
//! - Its signature: RS256 or ES256 only, with the key its `kid` names in the
//!   provider's key set ([`super::jwks`]); `none`, HMAC and every other
//!   algorithm are refused, and the key's algorithm must be the token's.
//! - Its claims: `iss` and `aud` (`HANDOFF_JWT_JWKS_AUDIENCE`, a string or
//!   an array that contains it), `exp`, `sub` and `iat` required, with the
//!   leeway and lifetime cap of Handoff's own tokens, no `crit` header.
//! - Its user: the claim `HANDOFF_JWT_USER_CLAIM` (default `email`) holds
//!   a Handoff user's email address (compared in lower case) or id (a
//!   UUID). With the `email` claim, `email_verified: false` is refused.
//! - Its role: with `HANDOFF_JWT_ROLES_CLAIM` and `HANDOFF_JWT_ROLE_MAP`,
//!   the groups (or roles) in that claim must map to exactly one Handoff
//!   role; without them, the user's role in Handoff applies.
//!
//! The [`Principal`] is then held against the user's record like any
//! token's (`services::users::viewer_for`): an active user, whose role is
//! the mapped one.

use std::{sync::Arc, time::Duration};

use anyhow::bail;
use entity::enums::Role;
use jsonwebtoken::{Algorithm, Validation};
use sea_orm::Iterable;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    jwks::{Jwks, KeyError},
    jwt::{
        ClaimedRole, JwtAlgorithm, JwtSettings, Principal, TokenError, UserRef, check_rest,
        token_error,
    },
};
use crate::clock::Clock;

/// The settings of `HANDOFF_JWT_JWKS_URL` and the variables beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdpSettings {
    /// `HANDOFF_JWT_JWKS_URL`: where the provider publishes its keys.
    pub jwks_url: String,
    /// `HANDOFF_JWT_JWKS_ISSUER`: the provider's `iss`, exactly.
    pub issuer: String,
    /// `HANDOFF_JWT_JWKS_AUDIENCE`: the `aud` its tokens for Handoff carry.
    pub audience: String,
    /// `HANDOFF_JWT_USER_CLAIM`: the claim that names the user (default
    /// `email`).
    pub user_claim: String,
    /// `HANDOFF_JWT_ROLES_CLAIM` and `HANDOFF_JWT_ROLE_MAP`, when set.
    pub roles: Option<RoleMap>,
}

/// The claim that holds the provider's groups or roles, and the Handoff
/// role each group that matters maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleMap {
    claim: String,
    groups: Vec<(String, Role)>,
}

impl RoleMap {
    /// Reads `HANDOFF_JWT_ROLE_MAP`: `group=ROLE` pairs separated by
    /// commas (`okta-admins=ADMIN,sales-team=SALES`); a group name runs to
    /// the last `=` and may not hold a comma; several groups may map to one
    /// role; roles are Handoff's names, in any case.
    pub fn parse(claim: &str, map: &str) -> anyhow::Result<Self> {
        let mut groups: Vec<(String, Role)> = Vec::new();
        for entry in map.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((group, role)) = entry.rsplit_once('=') else {
                bail!("HANDOFF_JWT_ROLE_MAP: {entry:?} is not `group=ROLE`");
            };
            let group = group.trim();
            if group.is_empty() {
                bail!("HANDOFF_JWT_ROLE_MAP: {entry:?} names no group");
            }
            let role = parse_role(role.trim()).ok_or_else(|| {
                anyhow::anyhow!(
                    "HANDOFF_JWT_ROLE_MAP: {:?} is not a role (use {})",
                    role.trim(),
                    Role::iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            match groups.iter().find(|(g, _)| g == group) {
                Some((_, earlier)) if *earlier != role => {
                    bail!("HANDOFF_JWT_ROLE_MAP maps {group:?} to both {earlier} and {role}");
                }
                Some(_) => {}
                None => groups.push((group.to_owned(), role)),
            }
        }
        if groups.is_empty() {
            bail!("HANDOFF_JWT_ROLE_MAP maps no group to a role");
        }
        let claim = claim.trim();
        if claim.is_empty() {
            bail!("HANDOFF_JWT_ROLES_CLAIM is empty");
        }
        Ok(Self {
            claim: claim.to_owned(),
            groups,
        })
    }

    /// The one role the token's groups map to.
    fn role_of(&self, claims: &Map<String, Value>) -> Result<ClaimedRole, TokenError> {
        let claim = &self.claim;
        let names: Vec<&str> = match lookup(claims, claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            Some(_) => {
                return Err(TokenError::Invalid(format!(
                    "the claim `{claim}` is not a list of groups"
                )));
            }
        };
        let mut roles: Vec<Role> = Vec::new();
        for (_, role) in self
            .groups
            .iter()
            .filter(|(g, _)| names.contains(&g.as_str()))
        {
            if !roles.contains(role) {
                roles.push(*role);
            }
        }
        match roles.as_slice() {
            [role] => Ok(ClaimedRole::Mapped {
                claim: claim.clone(),
                role: *role,
            }),
            [] => Err(TokenError::Unmapped(format!(
                "the token's `{claim}` claim holds no group that HANDOFF_JWT_ROLE_MAP gives a Handoff role; \
                 ask an administrator to add you to one"
            ))),
            several => Err(TokenError::Unmapped(format!(
                "the token's `{claim}` claim maps to several Handoff roles ({}); a user must map to exactly one",
                several
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

fn parse_role(name: &str) -> Option<Role> {
    Role::iter().find(|r| r.as_str().eq_ignore_ascii_case(name))
}

/// A claim by its name, or else by a dotted path into nested objects
/// (Keycloak's `realm_access.roles`). Names with dots (Auth0's
/// `https://example.com/roles`) are found whole first.
fn lookup<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    let mut parts = name.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// The user a token's claim names.
fn user_of(claims: &Map<String, Value>, claim: &str) -> Result<UserRef, TokenError> {
    let value = match lookup(claims, claim) {
        Some(Value::String(value)) if !value.trim().is_empty() => value.trim(),
        Some(_) => {
            return Err(TokenError::Invalid(format!(
                "the claim `{claim}` (HANDOFF_JWT_USER_CLAIM) is not a string"
            )));
        }
        None => {
            return Err(TokenError::Invalid(format!(
                "the token has no `{claim}` claim to name its user (HANDOFF_JWT_USER_CLAIM)"
            )));
        }
    };
    if let Ok(id) = Uuid::parse_str(value) {
        return Ok(UserRef::Id {
            claim: claim.to_owned(),
            id,
        });
    }
    if !value.contains('@') {
        return Err(TokenError::Unmapped(format!(
            "the token's `{claim}` claim is neither a Handoff user id nor an email address; \
             HANDOFF_JWT_USER_CLAIM must name a claim that holds one"
        )));
    }
    // An address the provider has not verified is not the user's yet.
    if claim == "email" && claims.get("email_verified") == Some(&Value::Bool(false)) {
        return Err(TokenError::Unmapped(
            "the token's email address is not verified (`email_verified` is false)".into(),
        ));
    }
    Ok(UserRef::Email {
        claim: claim.to_owned(),
        email: value.to_owned(),
    })
}

/// An identity provider whose tokens Handoff accepts.
pub struct IdentityProvider {
    settings: IdpSettings,
    jwks: Arc<Jwks>,
    leeway: u64,
    max_ttl: Duration,
}

impl IdentityProvider {
    /// Sets the provider up and starts fetching its keys in the
    /// background (see [`Jwks::start`]); the leeway and the lifetime cap
    /// are those of Handoff's own tokens.
    pub fn start(
        settings: IdpSettings,
        own: &JwtSettings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Arc<Self>> {
        let jwks = Jwks::new(&settings.jwks_url, clock)?;
        jwks.start();
        Ok(Arc::new(Self {
            settings,
            jwks,
            leeway: own.leeway_secs(),
            max_ttl: own.max_ttl(),
        }))
    }

    /// The provider's `iss`.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Verifies one of the provider's tokens and maps its claims.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| token_error(&e))?;
        let algorithm = match header.alg {
            Algorithm::RS256 => JwtAlgorithm::Rs256,
            Algorithm::ES256 => JwtAlgorithm::Es256,
            other => {
                return Err(TokenError::Invalid(format!(
                    "the identity provider's tokens must be signed with RS256 or ES256, not {other:?}"
                )));
            }
        };
        let key = self
            .jwks
            .key(header.kid.as_deref(), algorithm)
            .await
            .map_err(key_error)?;
        let mut validation = Validation::new(algorithm.into());
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| token_error(&e))?
            .claims;
        let number = |name: &str| match claims.get(name) {
            None => Ok(None),
            Some(value) => value.as_u64().map(Some).ok_or_else(|| {
                TokenError::Invalid(format!("the claim `{name}` has the wrong type"))
            }),
        };
        let exp = number("exp")?
            .ok_or_else(|| TokenError::Invalid("the required claim `exp` is missing".into()))?;
        check_rest(
            token,
            number("iat")?,
            exp,
            jsonwebtoken::get_current_timestamp(),
            self.leeway,
            self.max_ttl,
        )?;
        let user = user_of(&claims, &self.settings.user_claim)?;
        let role = match &self.settings.roles {
            Some(map) => map.role_of(&claims)?,
            None => ClaimedRole::UsersOwn,
        };
        Ok(Principal { user, role, exp })
    }
}

/// A key that could not be had, as the caller sees it.
fn key_error(e: KeyError) -> TokenError {
    match e {
        KeyError::Unavailable(why) | KeyError::UnknownKidAndFetchFailed(why) => {
            TokenError::KeysUnavailable(format!(
                "the identity provider's keys (HANDOFF_JWT_JWKS_URL) are unavailable: the JWKS {why}; try again shortly"
            ))
        }
        KeyError::UnknownKid => TokenError::Invalid(
            "its key id (`kid`) is not in the identity provider's current key set (JWKS)".into(),
        ),
        KeyError::Ambiguous => TokenError::Invalid(
            "it names no key id (`kid`), and the identity provider has several keys".into(),
        ),
        KeyError::WrongAlgorithm { key, token } => TokenError::Invalid(format!(
            "it is signed with {token}, and the key its `kid` names is for {key}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn map() -> RoleMap {
        RoleMap::parse(
            "groups",
            "okta-admins=ADMIN, sales-team=sales,sales-emea=SALES,a=b=REPORTING",
        )
        .unwrap()
    }

    #[test]
    fn the_role_map_reads_pairs_and_refuses_what_it_cannot_read() {
        assert_eq!(
            map().groups,
            [
                ("okta-admins".to_owned(), Role::Admin),
                ("sales-team".to_owned(), Role::Sales),
                ("sales-emea".to_owned(), Role::Sales),
                ("a=b".to_owned(), Role::Reporting),
            ]
        );
        for (bad, says) in [
            ("okta-admins", "is not `group=ROLE`"),
            ("=ADMIN", "names no group"),
            ("a=OWNER", "is not a role"),
            ("a=ADMIN,a=SALES", "to both ADMIN and SALES"),
            (" , ", "maps no group"),
        ] {
            let why = RoleMap::parse("groups", bad).unwrap_err().to_string();
            assert!(why.contains(says), "{bad}: {why}");
        }
    }

    #[test]
    fn groups_map_to_exactly_one_role_or_are_refused_with_a_reason() {
        let m = map();
        let role = |groups: Value| m.role_of(&claims(json!({ "groups": groups })));
        assert_eq!(
            role(json!(["everyone", "okta-admins"])).unwrap(),
            ClaimedRole::Mapped {
                claim: "groups".into(),
                role: Role::Admin
            }
        );
        // Two groups, one role.
        assert!(matches!(
            role(json!(["sales-team", "sales-emea"])),
            Ok(ClaimedRole::Mapped {
                role: Role::Sales,
                ..
            })
        ));
        // One group as a string.
        assert!(role(json!("okta-admins")).is_ok());
        let none = role(json!(["everyone"])).unwrap_err().to_string();
        assert!(none.contains("holds no group"), "{none}");
        let several = role(json!(["okta-admins", "sales-team"]))
            .unwrap_err()
            .to_string();
        assert!(
            several.contains("several Handoff roles (ADMIN, SALES)"),
            "{several}"
        );
        let missing = m.role_of(&claims(json!({}))).unwrap_err().to_string();
        assert!(missing.contains("holds no group"), "{missing}");
        let wrong = role(json!({ "a": 1 })).unwrap_err().to_string();
        assert!(wrong.contains("not a list of groups"), "{wrong}");
    }

    #[test]
    fn claims_are_found_by_name_then_by_dotted_path() {
        let c = claims(json!({
            "https://handoff.example/roles": ["a"],
            "realm_access": { "roles": ["b"] },
        }));
        assert_eq!(
            lookup(&c, "https://handoff.example/roles"),
            Some(&json!(["a"]))
        );
        assert_eq!(lookup(&c, "realm_access.roles"), Some(&json!(["b"])));
        assert_eq!(lookup(&c, "realm_access.groups"), None);
        assert_eq!(lookup(&c, "missing.path"), None);
    }

    #[test]
    fn the_user_claim_names_a_user_by_email_or_id() {
        let id = Uuid::now_v7();
        assert_eq!(
            user_of(&claims(json!({ "email": " Ada@Example.com " })), "email").unwrap(),
            UserRef::Email {
                claim: "email".into(),
                email: "Ada@Example.com".into()
            }
        );
        assert_eq!(
            user_of(&claims(json!({ "sub": id.to_string() })), "sub").unwrap(),
            UserRef::Id {
                claim: "sub".into(),
                id
            }
        );
        let okta_uid = user_of(&claims(json!({ "sub": "00u1abcd" })), "sub")
            .unwrap_err()
            .to_string();
        assert!(
            okta_uid.contains("neither a Handoff user id nor an email"),
            "{okta_uid}"
        );
        let unverified = user_of(
            &claims(json!({ "email": "a@example.com", "email_verified": false })),
            "email",
        )
        .unwrap_err()
        .to_string();
        assert!(unverified.contains("not verified"), "{unverified}");
        assert!(
            user_of(
                &claims(json!({ "email": "a@example.com", "email_verified": true })),
                "email"
            )
            .is_ok()
        );
        let missing = user_of(&claims(json!({})), "upn").unwrap_err().to_string();
        assert!(missing.contains("no `upn` claim"), "{missing}");
        let number = user_of(&claims(json!({ "email": 1 })), "email")
            .unwrap_err()
            .to_string();
        assert!(number.contains("not a string"), "{number}");
    }
}
