//! The database half of the field rules of the create and update
//! mutations (the pure half is [`domain::records`](crate::domain::records)):
//! the records a patch links to exist, and its owner may own records. The
//! sync resolves its references a chunk at a time instead
//! (`sync::Links`).

use entity::{account, campaign, lead};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{records, users};
use crate::{
    domain::{records::Link, validate::Errors},
    error::{AppResult, UserErrorCode},
};

/// Checks each link, adding a failure on its input field (`accountId`)
/// when it names no live record or, for the owner, a user who may not own
/// records.
pub async fn check(
    db: &impl ConnectionTrait,
    links: Vec<(Link, Uuid)>,
    errors: &mut Errors,
) -> AppResult<()> {
    for (link, id) in links {
        let found = match link {
            Link::Account => records::find::<account::Entity>(db, id).await?.is_some(),
            Link::Campaign => records::find::<campaign::Entity>(db, id).await?.is_some(),
            Link::Lead => records::find::<lead::Entity>(db, id).await?.is_some(),
            Link::Owner => {
                users::check_owner(db, link.input_field(), id, errors).await?;
                continue;
            }
        };
        if !found {
            let field = link.input_field();
            errors.add(
                field,
                UserErrorCode::NotFound,
                format!("`{field}` names no {}", link.noun()),
            );
        }
    }
    Ok(())
}
