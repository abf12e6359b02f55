//! Accounts in the API.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{account, enums::ObjectType};

use super::{
    common::{
        DateTimeRange, Money, MoneyInput, OrderDirection, UserError, connection, db, decode_arg_id,
        decode_id, decode_opt_id, global_id, loaders, page_request, payload, viewer,
    },
    lead::{LeadConnection, LeadFilter, LeadOrder},
    loaders::prefetch_relation,
    opportunity::{OpportunityConnection, OpportunityFilter, OpportunityOrder},
    user::User,
};
use crate::{
    auth::{Action, PolicyGuard},
    services::accounts::{self as svc, AccountFields, AccountFilter as SvcFilter, AccountSort},
};

/// A company: where leads work and what deals are sold to.
pub struct Account(pub account::Model);

/// A company: where leads work and what deals are sold to.
#[Object]
impl Account {
    /// Global id.
    pub async fn id(&self) -> ID {
        global_id(ObjectType::Account, self.0.id)
    }
    /// Company name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Web domain, lower case without scheme or `www.`; unique when present.
    async fn domain(&self) -> Option<&str> {
        self.0.domain.as_deref()
    }
    /// Industry.
    async fn industry(&self) -> Option<&str> {
        self.0.industry.as_deref()
    }
    /// Head count.
    async fn employee_count(&self) -> Option<i32> {
        self.0.employee_count
    }
    /// Annual revenue.
    async fn annual_revenue(&self) -> Option<Money> {
        match (self.0.annual_revenue, &self.0.currency) {
            (Some(amount), Some(currency)) => Some(Money::new(amount, currency.clone())),
            _ => None,
        }
    }
    /// ISO 3166-1 alpha-2 country code.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }
    /// A target account of account-based marketing.
    async fn is_target_account(&self) -> bool {
        self.0.is_target_account
    }
    /// Fit score against the approved lead definition (0 until one is approved).
    async fn fit_score(&self) -> i32 {
        self.0.fit_score
    }
    /// The account owner.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.0.owner_id).await?.map(User))
    }
    /// The account's leads.
    #[allow(clippy::too_many_arguments)]
    async fn leads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<LeadFilter>,
        order_by: Option<LeadOrder>,
    ) -> Result<LeadConnection> {
        let mut filter = filter.unwrap_or_default();
        filter.account_id = Some(global_id(ObjectType::Account, self.0.id));
        super::lead::list(ctx, first, after, last, before, Some(filter), order_by).await
    }
    /// The account's opportunities.
    #[allow(clippy::too_many_arguments)]
    async fn opportunities(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<OpportunityFilter>,
        order_by: Option<OpportunityOrder>,
    ) -> Result<OpportunityConnection> {
        let mut filter = filter.unwrap_or_default();
        filter.account_id = Some(global_id(ObjectType::Account, self.0.id));
        super::opportunity::list(ctx, first, after, last, before, Some(filter), order_by).await
    }
    /// Ids of this account in external systems (HubSpot companies, Salesforce
    /// accounts), ordered by system and id.
    async fn external_ids(&self, ctx: &Context<'_>) -> Result<Vec<super::external_id::ExternalId>> {
        super::external_id::of(ctx, ObjectType::Account, self.0.id).await
    }
    /// Version, +1 on every write; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the account was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl Account {
    /// Loads the relations `selection` asks for, for a whole page at once.
    pub(crate) async fn prefetch(
        ctx: &Context<'_>,
        selection: &async_graphql::Lookahead<'_>,
        models: &[account::Model],
    ) -> Result<()> {
        prefetch_relation(
            ctx,
            selection,
            "owner",
            ObjectType::User,
            models.iter().map(|m| m.owner_id),
        )
        .await?;
        super::external_id::prefetch(
            ctx,
            selection,
            ObjectType::Account,
            models.iter().map(|m| m.id),
        )
        .await?;
        Ok(())
    }
}

connection!(
    AccountConnection,
    AccountEdge,
    Account,
    account::Entity,
    "accounts"
);

/// Which accounts to list. All given conditions must hold.
#[derive(InputObject, Default, Clone)]
pub struct AccountFilter {
    /// Case-insensitive match on name or domain; at most 200 characters.
    pub search: Option<String>,
    /// Owned by one of these users.
    pub owner_ids: Option<Vec<ID>>,
    /// In one of these industries.
    pub industries: Option<Vec<String>>,
    /// Only target accounts (true) or only the others (false).
    pub is_target_account: Option<bool>,
    /// Created in this range.
    pub created_at: Option<DateTimeRange>,
    /// Last updated in this range.
    pub updated_at: Option<DateTimeRange>,
    /// Only accounts with at least one id in this external system.
    pub has_external_id_in: Option<super::enums::ExternalSystem>,
    /// Only accounts with no id in this external system.
    pub lacks_external_id_in: Option<super::enums::ExternalSystem>,
}

/// Fields accounts can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum AccountOrderField {
    /// Creation time.
    #[default]
    CreatedAt,
    /// Last update.
    UpdatedAt,
    /// Name.
    Name,
}

/// Order of an account list; ties are broken by id.
#[derive(InputObject, Default, Clone, Copy)]
pub struct AccountOrder {
    /// The field to order by.
    pub field: AccountOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Lists accounts (shared by the root field and nested lists).
pub async fn list(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    filter: Option<AccountFilter>,
    order_by: Option<AccountOrder>,
) -> Result<AccountConnection> {
    let viewer = viewer(ctx)?;
    let f = filter.unwrap_or_default();
    let owner_ids = f
        .owner_ids
        .map(|ids| {
            ids.iter()
                .map(|id| decode_arg_id(id, ObjectType::User, "filter.ownerIds"))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let filter = SvcFilter {
        search: crate::services::filters::search_term(f.search)?,
        owner_ids,
        industries: f.industries,
        is_target_account: f.is_target_account,
        created_at: f.created_at.map(Into::into),
        updated_at: f.updated_at.map(Into::into),
        external_ids: super::external_id::presence(f.has_external_id_in, f.lacks_external_id_in),
    };
    let order = order_by.unwrap_or_default();
    let sort = match order.field {
        AccountOrderField::CreatedAt => AccountSort::CreatedAt,
        AccountOrderField::UpdatedAt => AccountSort::UpdatedAt,
        AccountOrderField::Name => AccountSort::Name,
    };
    let page = page_request(first, after, last, before);
    let result = svc::list(
        db(ctx)?,
        viewer,
        &filter,
        sort,
        order.direction == OrderDirection::Desc,
        &page,
    )
    .await?;
    Ok(AccountConnection {
        page: result,
        total: svc::select(&filter),
    })
}

/// Account queries.
#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// Accounts, filtered and ordered, 1-100 per page (20 by default).
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    #[allow(clippy::too_many_arguments)]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<AccountFilter>,
        order_by: Option<AccountOrder>,
    ) -> Result<AccountConnection> {
        list(ctx, first, after, last, before, filter, order_by).await
    }
}

/// Input of `createAccount`.
#[derive(InputObject)]
pub struct CreateAccountInput {
    /// Company name.
    pub name: String,
    /// Web domain; normalised to lower case without scheme or `www.`.
    pub domain: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Head count.
    pub employee_count: Option<i32>,
    /// Annual revenue.
    pub annual_revenue: Option<MoneyInput>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// A target account of account-based marketing (default false).
    pub is_target_account: Option<bool>,
    /// The owning user: an active ADMIN, MARKETING, SALES or LEADERSHIP user.
    pub owner_id: Option<ID>,
}

/// Input of `updateAccount`: only the fields given change; `null` clears.
#[derive(InputObject)]
pub struct UpdateAccountInput {
    /// The account to change.
    pub id: ID,
    /// Refuse the change with CONFLICT unless the account is at this version.
    pub expected_version: Option<i32>,
    /// Company name.
    pub name: Option<String>,
    /// Web domain.
    pub domain: MaybeUndefined<String>,
    /// Industry.
    pub industry: MaybeUndefined<String>,
    /// Head count.
    pub employee_count: MaybeUndefined<i32>,
    /// Annual revenue.
    pub annual_revenue: MaybeUndefined<MoneyInput>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: MaybeUndefined<String>,
    /// A target account of account-based marketing.
    pub is_target_account: Option<bool>,
    /// The owning user: an active ADMIN, MARKETING, SALES or LEADERSHIP user.
    pub owner_id: MaybeUndefined<ID>,
}

/// Input of `deleteAccount`.
#[derive(InputObject)]
pub struct DeleteAccountInput {
    /// The account to delete.
    pub id: ID,
    /// Refuse with CONFLICT unless the account is at this version.
    pub expected_version: Option<i32>,
}

/// Result of `createAccount` and `updateAccount`.
#[derive(SimpleObject)]
pub struct AccountPayload {
    /// The account as it now is; null when nothing was written.
    pub account: Option<Account>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Result of `deleteAccount`.
#[derive(SimpleObject)]
pub struct DeleteAccountPayload {
    /// Id of the deleted account; null when nothing was deleted.
    pub deleted_account_id: Option<ID>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

fn money(m: MoneyInput) -> (rust_decimal::Decimal, String) {
    (m.amount, m.currency)
}

/// Account mutations.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account. Roles: ADMIN, MARKETING, SALES, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteAccount)")]
    async fn create_account(
        &self,
        ctx: &Context<'_>,
        input: CreateAccountInput,
    ) -> Result<AccountPayload> {
        let result = async {
            let fields = AccountFields {
                name: Some(input.name),
                domain: Some(input.domain),
                industry: Some(input.industry),
                employee_count: Some(input.employee_count),
                annual_revenue: Some(input.annual_revenue.map(money)),
                country: Some(input.country),
                is_target_account: input.is_target_account,
                owner_id: Some(decode_opt_id(
                    input.owner_id.as_ref(),
                    ObjectType::User,
                    "ownerId",
                )?),
            };
            svc::create(db(ctx)?, viewer(ctx)?, fields).await
        }
        .await;
        let (account, user_errors) = payload(result, Account)?;
        Ok(AccountPayload {
            account,
            user_errors,
        })
    }

    /// Changes an account. Roles: ADMIN, MARKETING, SALES, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteAccount)")]
    async fn update_account(
        &self,
        ctx: &Context<'_>,
        input: UpdateAccountInput,
    ) -> Result<AccountPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Account, "input.id")?;
        let result = async {
            let owner_id = match input.owner_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(id) => {
                    Some(Some(decode_id(&id, ObjectType::User, "ownerId")?))
                }
            };
            let fields = AccountFields {
                name: input.name,
                domain: input.domain.into(),
                industry: input.industry.into(),
                employee_count: input.employee_count.into(),
                annual_revenue: Option::<Option<MoneyInput>>::from(input.annual_revenue)
                    .map(|v| v.map(money)),
                country: input.country.into(),
                is_target_account: input.is_target_account,
                owner_id,
            };
            svc::update(db(ctx)?, viewer(ctx)?, id, input.expected_version, fields).await
        }
        .await;
        let (account, user_errors) = payload(result, Account)?;
        Ok(AccountPayload {
            account,
            user_errors,
        })
    }

    /// Deletes an account (soft delete: sync jobs see a tombstone). Roles:
    /// ADMIN, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::DeleteAccount)")]
    async fn delete_account(
        &self,
        ctx: &Context<'_>,
        input: DeleteAccountInput,
    ) -> Result<DeleteAccountPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Account, "input.id")?;
        let result = svc::delete(db(ctx)?, viewer(ctx)?, id, input.expected_version).await;
        let (deleted, user_errors) = payload(result, |id| global_id(ObjectType::Account, id))?;
        Ok(DeleteAccountPayload {
            deleted_account_id: deleted,
            user_errors,
        })
    }
}
