//! Authentication (JWT bearer tokens to a [`Viewer`]) and authorisation
//! (the role x action [`policy`]).
//!
//! Tokens are Handoff's own ([`jwt`]) or, when `HANDOFF_JWT_JWKS_URL` is
//! set, the company identity provider's ([`idp`], keys from [`jwks`]);
//! [`verify`] tells them apart by their issuer.

pub mod idp;
pub mod jwks;
pub mod jwt;
pub mod policy;

use async_graphql::{Context, Guard};
use entity::enums::{Role, Team};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use idp::IdentityProvider;
use jwt::{JwtSettings, Principal, TokenError};
pub use policy::{Action, RowFacts, RowScope};

/// Verifies a bearer token: as the identity provider's when its `iss` is
/// the provider's, as Handoff's own otherwise (without a provider, every
/// token is judged as Handoff's own). Each kind is checked with its own
/// keys and algorithms only: a token cannot pass as the other kind.
pub async fn verify(
    own: &JwtSettings,
    idp: Option<&IdentityProvider>,
    token: &str,
) -> Result<Principal, TokenError> {
    if let Some(idp) = idp {
        match issuer(token) {
            Some(iss) if iss == idp.issuer() => return idp.verify(token).await,
            // Said before anything else, for the operator whose provider
            // sends another `iss` than the one configured.
            Some(iss) if iss != own.issuer() => {
                return Err(TokenError::Invalid(
                    "wrong issuer: neither Handoff's nor the identity provider's (HANDOFF_JWT_JWKS_ISSUER)"
                        .into(),
                ));
            }
            _ => {}
        }
    }
    own.decode(token).map(Principal::from)
}

/// The `iss` a token claims, read before anything is verified, only to
/// choose the keys that verify it.
fn issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Issuer {
        iss: Option<String>,
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<Issuer>(token)
        .ok()?
        .iss
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The user the token's `sub` names.
    pub user_id: Uuid,
    /// The role the token carries (it must match the user's role).
    pub role: Role,
    /// The user's team, for signing lead definitions.
    pub team: Team,
}

/// How a viewer appears in spans and logs: role and user id, never a name or
/// an email (`SALES/0190…`).
impl std::fmt::Display for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.role.as_str(), self.user_id)
    }
}

impl Viewer {
    /// Whether the policy allows this viewer `action`.
    pub fn can(&self, action: Action) -> bool {
        policy::allows(self.role, action)
    }

    /// Fails with FORBIDDEN unless the policy allows `action`.
    pub fn require(&self, action: Action) -> AppResult<()> {
        if self.can(action) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "role {} may not {}",
                self.role.as_str(),
                describe(action)
            )))
        }
    }

    /// The rows this viewer may act on for `action` ([`policy::scope`]).
    pub fn scope(&self, action: Action) -> RowScope {
        policy::scope(self.role, self.user_id, action)
    }

    /// Fails with FORBIDDEN unless the policy allows `action`, and its row
    /// rules allow it on `row` (SALES acts on what it owns, and picks
    /// unowned MQLs from the queue).
    pub fn require_row(&self, action: Action, row: &RowFacts) -> AppResult<()> {
        self.require(action)?;
        if self.scope(action).permits(row) {
            return Ok(());
        }
        Err(AppError::Forbidden(
            match policy::row_refusal(self.role, action) {
                Some(refusal) => refusal.to_owned(),
                None => format!(
                    "role {} may only {} on records it owns",
                    self.role.as_str(),
                    describe(action)
                ),
            },
        ))
    }

    /// [`Viewer::require_row`] on a record owned by `owner`.
    pub fn require_on(&self, action: Action, owner: Option<Uuid>) -> AppResult<()> {
        self.require_row(action, &RowFacts::owned_by(owner))
    }
}

fn describe(action: Action) -> &'static str {
    match action {
        Action::ReadRecords => "read records",
        Action::ReadPersonalData => "read personal data",
        Action::CreateLead => "create leads",
        Action::UpdateLead => "edit leads",
        Action::DeleteLead => "delete leads",
        Action::WriteAccount => "write accounts",
        Action::DeleteAccount => "delete accounts",
        Action::WriteCampaign => "write campaigns",
        Action::WriteOpportunity => "write opportunities",
        Action::WriteFeedback => "write win/loss feedback",
        Action::WriteCompetitor => "write competitors",
        Action::ManageUsers => "manage users",
        Action::DraftDefinition => "draft lead definitions",
        Action::SignDefinition => "sign lead definitions",
        Action::WorkLead => "accept, reject or qualify leads",
        Action::RecycleLead => "recycle leads",
        Action::ForceMql => "force leads to MQL",
        Action::RecordActivity => "record activities",
        Action::ReadKpis => "read KPIs",
        Action::SetKpiTarget => "set KPI targets",
        Action::ReadChanges => "read the change feed",
        Action::SyncRecords => "sync records by external id",
    }
}

/// A guard that checks the policy table for one action.
pub struct PolicyGuard(pub Action);

impl Guard for PolicyGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let viewer = ctx
            .data_opt::<Viewer>()
            .ok_or_else(|| AppError::Unauthenticated("no token".into()))?;
        viewer.require(self.0).map_err(Into::into)
    }
}
