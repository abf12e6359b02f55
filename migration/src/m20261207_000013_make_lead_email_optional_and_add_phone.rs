//! A lead's `email` becomes optional (HubSpot contacts and Salesforce leads
//! often have none) and a lead gets a `phone` (personal data, at most 50
//! characters).
//!
//! PostgreSQL drops the NOT NULL in place (no table rewrite, so the fill
//! factor, indexes and foreign keys stay as they are). SQLite cannot
//! `ALTER COLUMN`; removing a NOT NULL is one of the changes its
//! documentation allows through `writable_schema` ("ALTER TABLE", section
//! "Making Other Kinds Of Table Schema Changes"): the stored `CREATE TABLE`
//! text is edited in one transaction and the schema version bumped, so
//! every connection rereads it. No row, index or foreign key is touched,
//! which a table rebuild could not promise (dropping `leads` with foreign
//! keys on runs the `ON DELETE CASCADE` of `activities` and others, and a
//! migration cannot turn foreign keys off inside its transaction).
//!
//! Going down refuses while a lead has no email, rather than invent one.

use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, DbBackend, Statement},
};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000013_make_lead_email_optional_and_add_phone"
    }
}

/// The email column as `m20261123_000001_create_tables` wrote it on SQLite.
const SQLITE_REQUIRED: &str = r#""email" varchar(320) NOT NULL"#;
/// The same column without the NOT NULL.
const SQLITE_OPTIONAL: &str = r#""email" varchar(320)"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        match m.get_database_backend() {
            DbBackend::Sqlite => sqlite_email_column(m, SQLITE_REQUIRED, SQLITE_OPTIONAL).await?,
            _ => {
                m.get_connection()
                    .execute_unprepared("ALTER TABLE leads ALTER COLUMN email DROP NOT NULL")
                    .await?;
            }
        }
        m.alter_table(
            Table::alter()
                .table(Leads::Table)
                .add_column(string_len_null(Leads::Phone, 50))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let without = m
            .get_connection()
            .query_one_raw(Statement::from_string(
                m.get_database_backend(),
                "SELECT COUNT(*) AS n FROM leads WHERE email IS NULL",
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if without > 0 {
            return Err(DbErr::Migration(format!(
                "{without} leads have no email; give them one or delete them before going down"
            )));
        }
        m.alter_table(
            Table::alter()
                .table(Leads::Table)
                .drop_column(Leads::Phone)
                .to_owned(),
        )
        .await?;
        match m.get_database_backend() {
            DbBackend::Sqlite => sqlite_email_column(m, SQLITE_OPTIONAL, SQLITE_REQUIRED).await,
            _ => m
                .get_connection()
                .execute_unprepared("ALTER TABLE leads ALTER COLUMN email SET NOT NULL")
                .await
                .map(|_| ()),
        }
    }
}

/// Rewrites the email column's definition in SQLite's stored `CREATE TABLE`
/// text, in one transaction on one connection.
async fn sqlite_email_column(m: &SchemaManager<'_>, from: &str, to: &str) -> Result<(), DbErr> {
    let txn = m.begin().await?;
    let conn = txn.get_connection();
    let sql = |s: &str| Statement::from_string(DbBackend::Sqlite, s.to_owned());
    let table = conn
        .query_one_raw(sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'leads'",
        ))
        .await?
        .map(|row| row.try_get::<String>("", "sql"))
        .transpose()?
        .ok_or_else(|| DbErr::Migration("table leads not found".into()))?;
    if table.matches(from).count() != 1 {
        return Err(DbErr::Migration(format!(
            "leads' definition does not hold `{from}` once; not changing it"
        )));
    }
    let version = conn
        .query_one_raw(sql("PRAGMA schema_version"))
        .await?
        .map(|row| row.try_get_by_index::<i64>(0))
        .transpose()?
        .ok_or_else(|| DbErr::Migration("no schema_version".into()))?;
    conn.execute_unprepared("PRAGMA writable_schema = ON")
        .await?;
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'leads'",
        [table.replace(from, to).into()],
    ))
    .await?;
    conn.execute_unprepared(&format!("PRAGMA schema_version = {}", version + 1))
        .await?;
    conn.execute_unprepared("PRAGMA writable_schema = OFF")
        .await?;
    txn.commit().await
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Phone,
}
