//! Filter building blocks shared by the list queries.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Expr, ExprTrait, Func, SimpleExpr},
};

use crate::error::{AppError, AppResult};

/// A time range; `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Default)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub to: Option<DateTime<Utc>>,
}

/// Adds `from <= col < to` to a condition.
pub fn in_range(cond: Condition, col: impl ColumnTrait, range: Option<&TimeRange>) -> Condition {
    let Some(range) = range else { return cond };
    let mut cond = cond;
    if let Some(from) = range.from {
        cond = cond.add(col.gte(from));
    }
    if let Some(to) = range.to {
        cond = cond.add(col.lt(to));
    }
    cond
}

/// Longest search term (`filter.search` of every list), in characters once
/// trimmed: longer than any name, email or domain searched, and far below
/// SQLite's limit on `LIKE` patterns (50,000 bytes).
pub const MAX_SEARCH_CHARS: usize = 200;

/// A list's `filter.search`, refused (BAD_USER_INPUT naming it) when longer
/// than [`MAX_SEARCH_CHARS`].
pub fn search_term(term: Option<String>) -> AppResult<Option<String>> {
    if let Some(term) = &term {
        let chars = term.trim().chars().count();
        if chars > MAX_SEARCH_CHARS {
            return Err(AppError::BadUserInput(format!(
                "`filter.search` is {chars} characters long; at most {MAX_SEARCH_CHARS} are allowed"
            )));
        }
    }
    Ok(term)
}

/// A case-insensitive "contains" over several columns, the same on SQLite
/// and PostgreSQL (`lower(col) LIKE '%term%'` with `%`, `_` and `\` escaped).
pub fn text_search<C: ColumnTrait>(term: &str, columns: &[C]) -> Option<Condition> {
    let term = term.trim().to_lowercase();
    if term.is_empty() {
        return None;
    }
    let escaped = term
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = format!("%{escaped}%");
    let mut any = Condition::any();
    for c in columns {
        let lowered: SimpleExpr = Func::lower(Expr::col(*c)).into();
        any = any.add(
            Expr::expr(lowered)
                .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\')),
        );
    }
    Some(any)
}
