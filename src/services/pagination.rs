//! Keyset pagination for Relay connections.
//!
//! A page is ordered by one sort column and then by `id`, so the order is
//! total and stable under ties. A cursor is the opaque base64 of the last
//! seen (sort value, id) plus the sort it belongs to; the next page is
//! `WHERE (col, id) > (value, id)` written out for both engines, which an
//! index on `(col, id)` serves without an OFFSET scan. A nullable sort
//! column puts its NULLs last in ascending order and first in descending
//! order on both engines (PostgreSQL's default, which SQLite is told), and
//! its cursors carry [`SortValue::Null`].

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::NullOrdering;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: i32 = 20;
/// Largest page.
pub const MAX_PAGE_SIZE: i32 = 100;

/// The Relay arguments of a connection field.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// Forward page size.
    pub first: Option<i32>,
    /// Forward cursor.
    pub after: Option<String>,
    /// Backward page size.
    pub last: Option<i32>,
    /// Backward cursor.
    pub before: Option<String>,
}

/// A sort value stored in a cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SortValue {
    /// Integer columns.
    Int(i64),
    /// Timestamps.
    Time(DateTime<Utc>),
    /// Text columns.
    Text(String),
    /// Decimal columns, carried as a string to stay exact.
    Decimal(Decimal),
    /// Date columns.
    Date(NaiveDate),
    /// A NULL in a nullable column.
    Null,
}

impl From<SortValue> for Value {
    fn from(v: SortValue) -> Self {
        match v {
            SortValue::Int(i) => Value::BigInt(Some(i)),
            SortValue::Time(t) => Value::ChronoDateTimeUtc(Some(t)),
            SortValue::Text(s) => Value::String(Some(s)),
            SortValue::Decimal(d) => Value::Decimal(Some(d)),
            SortValue::Date(d) => Value::ChronoDate(Some(d)),
            SortValue::Null => Value::String(None),
        }
    }
}

/// Reads the sort value and id of a row.
pub type KeyOf<E> = fn(&<E as EntityTrait>::Model) -> (SortValue, Uuid);

/// How one connection is ordered.
pub struct SortKey<E: EntityTrait> {
    /// Name of the ordering, kept in cursors so that a cursor from another
    /// ordering is refused instead of silently skipping rows.
    pub name: &'static str,
    /// The sort column.
    pub column: E::Column,
    /// The `id` column (the tie-breaker).
    pub id_column: E::Column,
    /// Descending order.
    pub descending: bool,
    /// Reads the sort value and id of a row.
    pub key_of: KeyOf<E>,
}

#[derive(Serialize, Deserialize)]
struct CursorData {
    s: String,
    v: SortValue,
    id: Uuid,
}

/// One page of rows with their cursors.
pub struct Page<M> {
    /// Rows in order, each with its cursor.
    pub edges: Vec<(String, M)>,
    /// More rows follow the last one.
    pub has_next_page: bool,
    /// More rows precede the first one.
    pub has_previous_page: bool,
}

fn encode_cursor(sort: &str, (v, id): (SortValue, Uuid)) -> String {
    let data = CursorData {
        s: sort.to_owned(),
        v,
        id,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).unwrap_or_default())
}

fn decode_cursor(sort: &str, cursor: &str, argument: &str) -> AppResult<(SortValue, Uuid)> {
    let bad = || AppError::BadUserInput(format!("`{argument}` is not a cursor from this list"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if data.s != sort {
        return Err(AppError::BadUserInput(format!(
            "`{argument}` belongs to another ordering ({}); use cursors from the same orderBy",
            data.s
        )));
    }
    Ok((data.v, data.id))
}

/// Checks the Relay arguments: at most one of `first` and `last`, each in
/// 1..=100. Returns the page size and whether the page runs backward.
pub fn page_size(page: &PageRequest) -> AppResult<(u64, bool)> {
    let check = |name: &str, n: i32| {
        if (1..=MAX_PAGE_SIZE).contains(&n) {
            Ok(n as u64)
        } else {
            Err(AppError::BadUserInput(format!(
                "`{name}` must be between 1 and {MAX_PAGE_SIZE}, got {n}"
            )))
        }
    };
    match (page.first, page.last) {
        (Some(_), Some(_)) => Err(AppError::BadUserInput(
            "pass `first` or `last`, not both".into(),
        )),
        (Some(first), None) => Ok((check("first", first)?, false)),
        (None, Some(last)) => Ok((check("last", last)?, true)),
        (None, None) => Ok((DEFAULT_PAGE_SIZE as u64, page.before.is_some())),
    }
}

impl<E: EntityTrait> SortKey<E> {
    /// Rows strictly after (`forward`) or before the key in this order.
    fn beyond(&self, (value, id): (SortValue, Uuid), forward: bool) -> Condition {
        let greater = forward != self.descending;
        let (col, id_col) = (self.column, self.id_column);
        let id_cmp = if greater {
            id_col.gt(id)
        } else {
            id_col.lt(id)
        };
        if value == SortValue::Null {
            // NULLs sort above every value: beyond a NULL upward are the
            // NULLs with a greater id; downward, every value and the NULLs
            // with a smaller id.
            let nulls = Condition::all().add(col.is_null()).add(id_cmp);
            return match greater {
                true => nulls,
                false => Condition::any().add(col.is_not_null()).add(nulls),
            };
        }
        let value: Value = value.into();
        let col_cmp = if greater {
            col.gt(value.clone())
        } else {
            col.lt(value.clone())
        };
        let mut cond = Condition::any()
            .add(col_cmp)
            .add(Condition::all().add(col.eq(value)).add(id_cmp));
        if greater && self.nullable() {
            cond = cond.add(col.is_null());
        }
        cond
    }

    /// Whether the sort column can hold NULLs.
    fn nullable(&self) -> bool {
        self.column.def().is_null()
    }
}

/// Fetches one page of `select` in the order of `key`.
pub async fn paginate<E: EntityTrait>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    key: &SortKey<E>,
    page: &PageRequest,
) -> AppResult<Page<E::Model>> {
    let (size, backward) = page_size(page)?;
    let mut query = select;
    if let Some(after) = &page.after {
        query = query.filter(key.beyond(decode_cursor(key.name, after, "after")?, true));
    }
    if let Some(before) = &page.before {
        query = query.filter(key.beyond(decode_cursor(key.name, before, "before")?, false));
    }
    let ascending = backward == key.descending;
    let order = if ascending { Order::Asc } else { Order::Desc };
    let nulls = match ascending {
        true => NullOrdering::Last,
        false => NullOrdering::First,
    };
    let query = match key.nullable() {
        true => query.order_by_with_nulls(key.column, order.clone(), nulls),
        false => query.order_by(key.column, order.clone()),
    };
    let mut rows = query
        .order_by(key.id_column, order)
        .limit(size + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    if backward {
        rows.reverse();
    }
    let edges = rows
        .into_iter()
        .map(|row| (encode_cursor(key.name, (key.key_of)(&row)), row))
        .collect();
    Ok(Page {
        edges,
        has_next_page: if backward {
            page.before.is_some()
        } else {
            has_more
        },
        has_previous_page: if backward {
            has_more
        } else {
            page.after.is_some()
        },
    })
}

/// Counts the rows of a list (its `totalCount`), ignoring the page.
pub async fn count<E: EntityTrait>(db: &impl ConnectionTrait, select: Select<E>) -> AppResult<i64>
where
    E::Model: Sync,
{
    let n = select.count(db).await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_refuses_another_ordering() {
        let id = Uuid::now_v7();
        let t = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap_or_default();
        let c = encode_cursor("CREATED_AT", (SortValue::Time(t), id));
        assert_eq!(
            decode_cursor("CREATED_AT", &c, "after").ok(),
            Some((SortValue::Time(t), id))
        );
        assert!(matches!(
            decode_cursor("EMAIL", &c, "after"),
            Err(AppError::BadUserInput(_))
        ));
        assert!(decode_cursor("CREATED_AT", "garbage!", "after").is_err());
    }

    #[test]
    fn page_sizes_outside_one_to_a_hundred_are_refused() {
        let req = |first, last| PageRequest {
            first,
            last,
            ..Default::default()
        };
        assert_eq!(page_size(&req(None, None)).ok(), Some((20, false)));
        assert_eq!(page_size(&req(Some(100), None)).ok(), Some((100, false)));
        assert_eq!(page_size(&req(None, Some(5))).ok(), Some((5, true)));
        assert!(page_size(&req(Some(0), None)).is_err());
        assert!(page_size(&req(Some(101), None)).is_err());
        assert!(page_size(&req(Some(-1), None)).is_err());
        assert!(page_size(&req(Some(1), Some(1))).is_err());
    }
}
