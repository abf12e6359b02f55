//! The change feed sync jobs read: every entry of `change_log` in commit
//! order, paged by an opaque cursor.
//!
//! It is read the way the event stream is ([`commit_order`](super::commit_order)):
//! in `(txid, seq)` order, holding back rows of transactions that may still
//! be in flight on PostgreSQL, so a transaction that commits late with an
//! earlier `seq` is never skipped by a reader that has already passed it.
//! A page ends at the last row it returns, or where the caller started when
//! there is nothing new, so a job that stores the cursor of every page and
//! resumes from it misses nothing and sees nothing twice.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::{change_log, enums::ObjectType};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::commit_order::{Position, after as after_position, settled};
use crate::{
    auth::{Action, Viewer},
    error::{AppError, AppResult},
};

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: i32 = 100;
/// Largest page.
pub const MAX_PAGE_SIZE: i32 = 1000;

/// What the caller asks for.
#[derive(Debug, Clone, Default)]
pub struct ChangesRequest {
    /// The cursor of the last page read (the start of the feed when none).
    pub after: Option<String>,
    /// Only these kinds of record (all when none).
    pub object_types: Option<Vec<ObjectType>>,
    /// Page size (1..=[`MAX_PAGE_SIZE`]).
    pub first: Option<i32>,
}

/// One page of the feed.
#[derive(Debug, Clone)]
pub struct ChangePage {
    /// The entries, in commit order, each with its cursor.
    pub changes: Vec<(String, change_log::Model)>,
    /// Where the next page starts: the last entry's cursor, or the cursor
    /// asked with when the page is empty.
    pub end_cursor: String,
    /// More settled entries follow this page.
    pub has_more: bool,
}

const PREFIX: &str = "Change:";

/// The opaque cursor of a position: base64url of `Change:<txid>:<seq>`.
pub fn encode_cursor(p: Position) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}:{}", p.txid, p.seq))
}

/// The position of a cursor, or a BAD_USER_INPUT error naming `argument`.
pub fn decode_cursor(cursor: &str, argument: &str) -> AppResult<Position> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            let (txid, seq) = s.strip_prefix(PREFIX)?.split_once(':')?;
            Some(Position {
                txid: txid.parse().ok()?,
                seq: seq.parse().ok()?,
            })
        })
        .filter(|p| p.txid >= 0 && p.seq >= 0)
        .ok_or_else(|| {
            AppError::BadUserInput(format!(
                "`{argument}` is not a cursor of the change feed (use an `endCursor` or `cursor` it returned)"
            ))
        })
}

/// Where an entry is.
pub fn position_of(entry: &change_log::Model) -> Position {
    Position {
        txid: entry.txid,
        seq: entry.seq,
    }
}

/// The next page of the feed after `request.after`.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn read(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    request: ChangesRequest,
) -> AppResult<ChangePage> {
    viewer.require(Action::ReadChanges)?;
    let first = request.first.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&first) {
        return Err(AppError::BadUserInput(format!(
            "`first` must be between 1 and {MAX_PAGE_SIZE}, got {first}"
        )));
    }
    let start = match &request.after {
        Some(cursor) => decode_cursor(cursor, "after")?,
        None => Position::default(),
    };
    let mut query = change_log::Entity::find()
        .filter(after_position(
            change_log::Column::Txid,
            change_log::Column::Seq,
            start,
        ))
        .filter(settled(db.get_database_backend()));
    if let Some(types) = &request.object_types {
        if types.is_empty() {
            return Err(AppError::BadUserInput(
                "`objectTypes` must name at least one type (leave it out for all)".into(),
            ));
        }
        query = query.filter(change_log::Column::ObjectType.is_in(types.iter().copied()));
    }
    // One more than asked, to know whether more follow.
    let limit = u64::try_from(first).unwrap_or(1) + 1;
    let mut rows = query
        .order_by_asc(change_log::Column::Txid)
        .order_by_asc(change_log::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 == limit;
    rows.truncate(usize::try_from(first).unwrap_or(1));
    let end_cursor = encode_cursor(rows.last().map(position_of).unwrap_or(start));
    Ok(ChangePage {
        changes: rows
            .into_iter()
            .map(|r| (encode_cursor(position_of(&r)), r))
            .collect(),
        end_cursor,
        has_more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips() {
        let p = Position {
            txid: 4_294_967_301,
            seq: 42,
        };
        assert_eq!(decode_cursor(&encode_cursor(p), "after").ok(), Some(p));
    }

    #[test]
    fn foreign_or_malformed_cursors_are_refused() {
        for bad in [
            "",
            "not base64!",
            &URL_SAFE_NO_PAD.encode("Event:1"),
            &URL_SAFE_NO_PAD.encode("Change:1"),
            &URL_SAFE_NO_PAD.encode("Change:x:1"),
            &URL_SAFE_NO_PAD.encode("Change:-1:1"),
        ] {
            assert!(decode_cursor(bad, "after").is_err(), "{bad}");
        }
    }
}
