//! What the access log says about a request, gathered while it runs.
//!
//! The HTTP middleware ([`crate::http`]) opens a [`Record`] for each
//! request and runs the request in its [`scope`]; the handlers note who
//! asked and what ran ([`note`]), and every SQL statement run in the scope
//! is counted ([`count_statement`], called by the statement hook of
//! [`crate::db::observe`]). Tasks a request spawns do not inherit the
//! scope: wrap their futures with [`in_scope`]. The middleware then writes
//! one line, target `handoff::access`.

use std::{
    future::Future,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use entity::enums::Role;
use uuid::Uuid;

/// The log target of access lines.
pub const TARGET: &str = "handoff::access";

/// One request's access-log facts.
#[derive(Default)]
pub struct Record {
    statements: AtomicU64,
    fields: Mutex<Fields>,
}

/// What handlers note about a request.
#[derive(Clone, Debug, Default)]
pub struct Fields {
    /// The authenticated user.
    pub user_id: Option<Uuid>,
    /// Their role.
    pub role: Option<Role>,
    /// The operation name, made plain ([`super::operation_name`]).
    pub operation: Option<String>,
    /// `query`, `mutation` or `subscription`.
    pub operation_type: Option<&'static str>,
    /// The actual cost of what ran.
    pub cost: Option<usize>,
    /// The code of the first error answered (`None`: ok).
    pub outcome: Option<String>,
}

impl Record {
    /// SQL statements run so far in the scope.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// A copy of what was noted.
    pub fn fields(&self) -> Fields {
        self.fields
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Notes something about the request.
    pub fn note(&self, edit: impl FnOnce(&mut Fields)) {
        edit(&mut self.fields.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

tokio::task_local! {
    static CURRENT: Arc<Record>;
}

/// Runs `future` with `record` as the current record.
pub async fn scope<F: Future>(record: Arc<Record>, future: F) -> F::Output {
    CURRENT.scope(record, future).await
}

/// The current task's record, if it runs in a [`scope`].
pub fn current() -> Option<Arc<Record>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// `future` in the current task's scope (if any), for a task of its own.
pub fn in_scope<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let record = current();
    async move {
        match record {
            Some(record) => CURRENT.scope(record, future).await,
            None => future.await,
        }
    }
}

/// Notes something about the current request; nothing outside a scope.
pub fn note(edit: impl FnOnce(&mut Fields)) {
    let _ = CURRENT.try_with(|record| record.note(edit));
}

/// Notes the code of an error the request is answered with; the first
/// one noted is the request's outcome.
pub fn note_error(code: &str) {
    note(|f| {
        if f.outcome.is_none() {
            f.outcome = Some(code.to_owned());
        }
    });
}

/// Counts a SQL statement against the current request.
pub fn count_statement() {
    let _ = CURRENT.try_with(|record| record.statements.fetch_add(1, Ordering::Relaxed));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn statements_count_in_the_scope_and_in_tasks_given_it() {
        let record = Arc::new(Record::default());
        scope(record.clone(), async {
            count_statement();
            let spawned = tokio::spawn(in_scope(async { count_statement() }));
            let _ = spawned.await;
            // A task not given the scope counts nowhere.
            let _ = tokio::spawn(async { count_statement() }).await;
            note_error("RATE_LIMITED");
            note_error("INTERNAL");
        })
        .await;
        count_statement();
        assert_eq!(record.statements(), 2);
        assert_eq!(record.fields().outcome.as_deref(), Some("RATE_LIMITED"));
    }
}
