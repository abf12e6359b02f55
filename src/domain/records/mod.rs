//! The fields of accounts, leads, campaigns and opportunities a caller may
//! set, with their rules: one patch type per record type, used by every
//! writer (the create and update mutations, the sync upserts and through
//! them the CSV import).
//!
//! A patch holds what to change: `None` leaves a field as it is,
//! `Some(None)` clears it. `validate` trims and normalises the values and
//! collects every failure with its field and [`UserErrorCode`]
//! ([`Checked`]); `apply` sets the changed columns of the row with
//! `set_if_not_equals`, so a patch that changes nothing writes nothing.
//!
//! The references of a patch (its [`Link`]s) are ids of type `Id`: a
//! Handoff id for the mutations, the sync's reference (an external id, an
//! email) until the service resolves it. Whether they exist, and whatever
//! else needs the database (a domain already taken, spend a campaign's new
//! dates would strand), the services check.
//!
//! [`UserErrorCode`]: crate::error::UserErrorCode

pub mod account;
pub mod campaign;
pub mod lead;
pub mod opportunity;

pub use account::AccountPatch;
pub use campaign::CampaignPatch;
pub use lead::LeadPatch;
pub use opportunity::OpportunityPatch;
use sea_orm::{ActiveValue, Value};

use super::validate::Errors;
use crate::error::{AppResult, FieldError};

/// A record a patch refers to by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The account (leads, opportunities).
    Account,
    /// The first-touch campaign (leads).
    Campaign,
    /// The lead a deal was converted from (opportunities).
    Lead,
    /// The owning user (all four).
    Owner,
}

impl Link {
    /// The input field of the create and update mutations naming it.
    pub fn input_field(self) -> &'static str {
        match self {
            Self::Account => "accountId",
            Self::Campaign => "sourceCampaignId",
            Self::Lead => "primaryLeadId",
            Self::Owner => "ownerId",
        }
    }

    /// The field of a sync record naming it.
    pub fn sync_field(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Campaign => "sourceCampaign",
            Self::Lead => "primaryLead",
            Self::Owner => "owner",
        }
    }

    /// What it names, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Campaign => "campaign",
            Self::Lead => "lead",
            Self::Owner => "user",
        }
    }
}

/// A patch after validation: its values trimmed and normalised, and every
/// failure found (a service adds those of its database checks).
#[derive(Debug)]
pub struct Checked<P> {
    /// The normalised patch.
    pub patch: P,
    /// The failures, in field order.
    pub errors: Errors,
}

impl<P> Checked<P> {
    /// The patch, or every failure as `AppError::Invalid`.
    pub fn finish(self) -> AppResult<P> {
        self.errors.finish()?;
        Ok(self.patch)
    }

    /// The patch, or the failures.
    pub fn into_result(self) -> Result<P, Vec<FieldError>> {
        let errors = self.errors.into_vec();
        if errors.is_empty() {
            Ok(self.patch)
        } else {
            Err(errors)
        }
    }
}

/// Sets `column` to the patch's value, if it has one and it differs.
fn put<V>(column: &mut ActiveValue<V>, value: &Option<V>)
where
    V: Into<Value> + PartialEq + Clone,
{
    if let Some(v) = value {
        column.set_if_not_equals(v.clone());
    }
}

/// A required value that needs no check beyond being given.
fn given<T>(_: &mut Errors, value: T) -> T {
    value
}

/// Maps the id of an optional reference (`Some(None)` clears it).
fn map_link<Id, T, E>(
    value: Option<Option<Id>>,
    link: Link,
    f: &mut impl FnMut(Link, Id) -> Result<T, E>,
) -> Result<Option<Option<T>>, E> {
    match value {
        Some(Some(id)) => f(link, id).map(|t| Some(Some(t))),
        Some(None) => Ok(Some(None)),
        None => Ok(None),
    }
}

/// The reference a patch field sets, if it sets one.
fn set_ref<Id>(value: &Option<Option<Id>>) -> Option<&Id> {
    value.as_ref().and_then(Option::as_ref)
}

/// Implements, for a patch type with the value fields and the link fields
/// (with their [`Link`]) given, in field order: `Default` (changes
/// nothing, whatever `Id` is), `refs` (the references it sets),
/// `resolve` (the same patch with its references mapped, the first failure
/// stopping) and `resolve_all` (every failure).
macro_rules! patch_links {
    ($patch:ident { $($field:ident),* } links { $($link_field:ident: $link:ident),* }) => {
        impl<Id> Default for $patch<Id> {
            fn default() -> Self {
                Self { $($field: None,)* $($link_field: None,)* }
            }
        }

        impl<Id> $patch<Id> {
            /// The references the patch sets, in field order.
            pub fn refs(&self) -> impl Iterator<Item = (Link, &Id)> {
                [$((Link::$link, super::set_ref(&self.$link_field))),*]
                    .into_iter()
                    .filter_map(|(link, id)| id.map(|id| (link, id)))
            }

            /// The same patch with its references mapped by `f` (resolved)
            /// in field order, the first failure stopping.
            pub fn resolve<T, E>(
                self,
                mut f: impl FnMut(Link, Id) -> Result<T, E>,
            ) -> Result<$patch<T>, E> {
                Ok($patch {
                    $($link_field: super::map_link(self.$link_field, Link::$link, &mut f)?,)*
                    $($field: self.$field,)*
                })
            }
        }

        impl<Id> $patch<Id> {
            /// The same patch with every reference mapped by `f`, and
            /// every failure in field order: a reference that fails is
            /// left out of the patch (it changes nothing), so the other
            /// checks of the record can still be made.
            pub fn resolve_all<T, E>(
                self,
                mut f: impl FnMut(Link, Id) -> Result<T, E>,
            ) -> ($patch<T>, Vec<E>) {
                let mut errors = Vec::new();
                let patch = $patch {
                    $($link_field: super::map_link(self.$link_field, Link::$link, &mut f)
                        .unwrap_or_else(|e| {
                            errors.push(e);
                            None
                        }),)*
                    $($field: self.$field,)*
                };
                (patch, errors)
            }
        }

        impl $patch {
            /// The records the patch links to, in field order.
            pub fn links(&self) -> Vec<(Link, uuid::Uuid)> {
                self.refs().map(|(link, id)| (link, *id)).collect()
            }
        }
    };
}
use patch_links;

#[cfg(test)]
mod tests {
    use crate::error::UserErrorCode;

    /// The failures of a check as `(field, code)`, for assertions.
    pub(super) fn codes<P>(checked: super::Checked<P>) -> Vec<(String, UserErrorCode)> {
        checked
            .errors
            .into_vec()
            .into_iter()
            .map(|e| (e.field.join("."), e.code))
            .collect()
    }
}
