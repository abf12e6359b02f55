//! Raw aggregate SQL that runs on SQLite and PostgreSQL alike, for the KPI
//! engine and closed-loop analytics: a statement's text with its bound
//! values, and the one expression the two engines write differently (the
//! time between two timestamps).

use sea_orm::{DbBackend, Statement, Value};

/// An SQL text with its bound values. Placeholders are numbered (`$1`,
/// `$2`, ...), which both engines bind by number, so a value can be
/// referred to twice and text can be composed in any order.
pub(crate) struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    /// An empty statement for `backend`.
    pub(crate) fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            text: String::new(),
            values: Vec::new(),
        }
    }

    /// Appends text.
    pub(crate) fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Binds a value and returns its placeholder, without appending it.
    pub(crate) fn param(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    /// Binds a value and appends its placeholder.
    pub(crate) fn bind(&mut self, value: impl Into<Value>) {
        let placeholder = self.param(value);
        self.text.push_str(&placeholder);
    }

    /// Appends `template`, binding the next of `values` for each `?` in it.
    pub(crate) fn template(&mut self, template: &str, values: &mut impl Iterator<Item = Value>) {
        let mut parts = template.split('?').peekable();
        while let Some(part) = parts.next() {
            self.push(part);
            if parts.peek().is_some() {
                self.bind(values.next().unwrap_or(Value::String(None)));
            }
        }
    }

    /// How many values are bound.
    pub(crate) fn bound(&self) -> usize {
        self.values.len()
    }

    /// The text written so far, leaving the values bound: for a condition
    /// built here and placed into a larger text that goes on binding.
    pub(crate) fn take_text(&mut self) -> String {
        std::mem::take(&mut self.text)
    }

    /// The statement.
    pub(crate) fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// `to - from` in seconds ÷ `per_second` (PostgreSQL) or in days ×
/// `per_day` (SQLite's `julianday`), as a floating-point expression.
pub(crate) fn elapsed(
    backend: DbBackend,
    from: &str,
    to: &str,
    per_second: f64,
    per_day: f64,
) -> String {
    match backend {
        DbBackend::Postgres => {
            // In floating point: `EXTRACT` gives a `numeric`, slower to
            // sum and sort (the cohort's medians sort 95,000 of them).
            format!(
                "(CAST(EXTRACT(EPOCH FROM ({to}) - ({from})) AS DOUBLE PRECISION) / {per_second:.1})"
            )
        }
        _ => format!("((julianday({to}) - julianday({from})) * {per_day:.1})"),
    }
}

/// The table aliases an SQL text refers to (`l` in `l.created_at`) that it
/// does not introduce itself (`FROM leads l`, `JOIN x AS y`, `) cf`, a
/// `WITH` name), in order of first use: what a statement built around the
/// text must provide. For the tests that check statements' joins.
#[cfg(test)]
pub(crate) fn unresolved_aliases(sql: &str) -> Vec<String> {
    let words = words(sql);
    let mut introduced: Vec<&str> = Vec::new();
    const NOT_ALIASES: &[&str] = &[
        "on", "where", "left", "join", "group", "order", "union", "and", "or", "inner", "cross",
        "limit", "having", "select",
    ];
    for (i, w) in words.iter().enumerate() {
        let next = |k: usize| words.get(i + k).map(|s| s.as_str());
        let alias_at = |k: usize| {
            next(k)
                .filter(|a| is_ident(a) && !NOT_ALIASES.contains(&a.to_ascii_lowercase().as_str()))
        };
        let lower = w.to_ascii_lowercase();
        if lower == "from" || lower == "join" {
            // `FROM table alias` / `FROM table AS alias`; `FROM (` is a subquery.
            if next(1).is_some_and(is_ident) {
                let k = if next(2).is_some_and(|a| a.eq_ignore_ascii_case("as")) {
                    3
                } else {
                    2
                };
                introduced.extend(alias_at(k));
            }
        } else if w == ")" {
            let k = if next(1).is_some_and(|a| a.eq_ignore_ascii_case("as")) {
                2
            } else {
                1
            };
            introduced.extend(alias_at(k));
        } else if is_ident(w)
            && next(1).is_some_and(|a| a.eq_ignore_ascii_case("as"))
            && next(2) == Some("(")
        {
            // A common table expression: `name AS (`.
            introduced.push(w);
        }
    }
    let mut missing: Vec<String> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if is_ident(w)
            && words.get(i + 1).is_some_and(|d| d == ".")
            && !introduced.contains(&w.as_str())
            && !missing.contains(w)
        {
            missing.push(w.clone());
        }
    }
    missing
}

/// SQL text as words: identifiers (a letter or `_` first), numbers, quoted
/// strings, `$n` placeholders, and single punctuation characters.
#[cfg(test)]
fn words(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut word = String::from(c);
        if c == '\'' {
            // A string literal, with '' as an escaped quote.
            while let Some(n) = chars.next() {
                word.push(n);
                if n == '\'' && chars.peek() != Some(&'\'') {
                    break;
                }
                if n == '\'' {
                    word.extend(chars.next());
                }
            }
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            let numeric = c.is_ascii_digit() || c == '$';
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || n == '_' || (numeric && n == '.') {
                    word.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
        }
        out.push(word);
    }
    out
}

#[cfg(test)]
fn is_ident(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_binding_order_on_both_engines() {
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let mut sql = Sql::new(backend);
            let from = sql.param(1);
            sql.push(&format!("SELECT * FROM t WHERE a >= {from} AND b < "));
            sql.bind(2);
            sql.push(" AND c IN (");
            sql.template("?, ?)", &mut [Value::from(3), Value::from(4)].into_iter());
            sql.push(&format!(" OR d = {from}"));
            assert_eq!(sql.bound(), 4);
            let statement = sql.statement();
            assert_eq!(
                statement.sql,
                "SELECT * FROM t WHERE a >= $1 AND b < $2 AND c IN ($3, $4) OR d = $1"
            );
        }
    }

    #[test]
    fn an_alias_is_unresolved_until_a_from_a_join_a_subquery_or_a_cte_introduces_it() {
        assert_eq!(
            unresolved_aliases("SELECT l.id FROM opportunities o WHERE o.x = 1"),
            ["l"]
        );
        assert!(
            unresolved_aliases(
                "WITH f AS (SELECT l.id FROM leads l LEFT JOIN accounts AS a ON a.id = l.account_id) \
                 SELECT f.id, cf.r1, base.m FROM f, (SELECT 1) cf, (SELECT 2) AS base \
                 WHERE EXISTS (SELECT 1 FROM activities act WHERE act.lead_id = f.id) \
                 AND 'x.y' = 'x.y' AND 1.5 > 0"
            )
            .is_empty()
        );
        // `FROM (` opens a subquery or an expression, not a table.
        assert_eq!(
            unresolved_aliases("SELECT EXTRACT(EPOCH FROM (sc.at) - (l.at)) FROM leads l"),
            ["sc"]
        );
    }
}
