//! One error type with stable codes. Client mistakes say what to fix;
//! internal failures are logged once, with context, where they become a
//! response, and reach the client as a generic message.

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// Result of everything below the HTTP and GraphQL layers.
pub type AppResult<T> = Result<T, AppError>;

/// The machine-readable code of a `userErrors` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserErrorCode {
    /// The value is malformed or not allowed.
    Invalid,
    /// A required value is missing or blank.
    Required,
    /// The value must be unique and another record has it.
    Taken,
    /// A referenced record does not exist.
    NotFound,
    /// The value is too long.
    TooLong,
    /// A number or date is outside its allowed range.
    OutOfRange,
}

/// One validation failure on one input field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Path to the input field, e.g. `["input", "email"]`.
    pub field: Vec<String>,
    /// What is wrong and how to fix it.
    pub message: String,
    /// Stable code.
    pub code: UserErrorCode,
}

impl FieldError {
    /// A failure on `input.<name>`.
    pub fn new(name: &str, code: UserErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: vec!["input".into(), name.into()],
            message: message.into(),
            code,
        }
    }
}

/// Every failure a request can meet.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No token, or a token that does not validate (HTTP 401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The viewer's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A malformed argument outside a mutation input (bad cursor, page size).
    #[error("{0}")]
    BadUserInput(String),
    /// Mutation input that fails validation; becomes the payload's `userErrors`.
    #[error("invalid input: {}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The record does not exist (or was deleted).
    #[error("{0}")]
    NotFound(String),
    /// A stale `expectedVersion` or a competing write; nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// The request took longer than the configured limit.
    #[error("{0}")]
    Timeout(String),
    /// The database cannot be reached or is saturated right now; the same
    /// request may succeed when retried (HTTP 503 with `Retry-After`).
    #[error("{0}")]
    Unavailable(String),
    /// A failure of ours. The detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// A database failure. The detail is logged, never sent.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

impl AppError {
    /// The `extensions.code` clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::BadUserInput(_) | Self::Invalid(_) => "BAD_USER_INPUT",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict(_) => "CONFLICT",
            Self::Timeout(_) => "TIMEOUT",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Db(e) if is_unavailable(e) => "UNAVAILABLE",
            Self::Internal(_) | Self::Db(_) => "INTERNAL",
        }
    }

    /// A single validation failure.
    pub fn invalid(name: &str, code: UserErrorCode, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(name, code, message)])
    }

    /// Turns a unique-key violation into a TAKEN user error on `field`.
    /// Services check uniqueness before writing, but on PostgreSQL two racing
    /// writes can both pass the check; the index then decides, and the loser
    /// must hear TAKEN, not INTERNAL.
    pub fn on_unique(self, field: &str, message: impl Into<String>) -> Self {
        match &self {
            Self::Db(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                Self::invalid(field, UserErrorCode::Taken, message)
            }
            _ => self,
        }
    }

    /// What the client may see.
    pub fn public_message(&self) -> String {
        match self {
            Self::Db(e) if is_unavailable(e) => UNAVAILABLE_MESSAGE.into(),
            Self::Internal(_) | Self::Db(_) => {
                "internal error; quote the requestId when reporting it".into()
            }
            other => other.to_string(),
        }
    }
}

/// What a client hears when the database is out of reach.
pub const UNAVAILABLE_MESSAGE: &str =
    "the database is unavailable or busy; retry after the Retry-After delay";

/// Whether a database error is about reaching the database rather than
/// about the statement: no connection from the pool in time, a connection
/// lost or refused, the server shutting down or out of connections, or
/// SQLite's file staying locked past the busy timeout. Such a request can
/// be retried as it is.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return false,
    };
    let RuntimeErr::SqlxError(e) = runtime else {
        return matches!(err, DbErr::Conn(_));
    };
    match e.as_ref() {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            if code.len() == 5 {
                // A PostgreSQL SQLSTATE: connection exceptions (08...), too
                // many connections, shutting down, starting up.
                code.starts_with("08")
                    || matches!(code.as_ref(), "53300" | "57P01" | "57P02" | "57P03")
            } else {
                // A SQLite result code: BUSY and LOCKED, with their
                // extended codes in the upper bits.
                matches!(code.parse::<i64>().map(|c| c & 0xff), Ok(5 | 6))
            }
        }),
        _ => matches!(err, DbErr::Conn(_)),
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        if e.code() == "UNAVAILABLE" {
            tracing::warn!(error = %e, "database unavailable");
        } else if matches!(e, AppError::Internal(_) | AppError::Db(_)) {
            // Logged once, here, inside the request span that carries the request id.
            tracing::error!(error = %e, "request failed");
        }
        let code = e.code();
        async_graphql::Error::new(e.public_message()).extend_with(|_, ext| ext.set("code", code))
    }
}
