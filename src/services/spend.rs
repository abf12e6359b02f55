//! Campaign spend: what a campaign cost, one dated entry at a time. Period
//! KPIs use the spend that falls in the period.
//!
//! Rules: an entry's amount is not negative; its day lies within the
//! campaign's dates (`startsOn..=endsOn`, or on or after `startsOn` while the
//! campaign is open-ended); its currency is the campaign's currency (the
//! budget's, USD for a campaign created without one), so a campaign's total
//! is one amount in one currency. Deleting is a soft delete with a tombstone,
//! like every other record.

use chrono::NaiveDate;
use entity::{campaign, campaign_spend};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, PaginatorTrait, QueryFilter,
    QuerySelect, Select,
    sea_query::{Expr, Func},
};
use uuid::Uuid;

use super::{
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, Record},
};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::validate::Errors,
    error::{AppError, AppResult, UserErrorCode},
};

/// Longest note on a spend entry.
const MAX_NOTE_LEN: usize = 1000;

/// An inclusive range of days; either end may be open.
#[derive(Debug, Clone, Copy, Default)]
pub struct DayRange {
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
}

/// The live spend entries of a campaign in a range of days, unpaged.
pub fn select(campaign_id: Uuid, days: DayRange) -> Select<campaign_spend::Entity> {
    use campaign_spend::Column as C;
    let mut cond = Condition::all().add(C::CampaignId.eq(campaign_id));
    if let Some(from) = days.from {
        cond = cond.add(C::SpentOn.gte(from));
    }
    if let Some(to) = days.to {
        cond = cond.add(C::SpentOn.lte(to));
    }
    campaign_spend::Entity::live().filter(cond)
}

/// One page of a campaign's spend entries, oldest day first.
#[tracing::instrument(skip_all, fields(viewer = %viewer, campaign.id = %campaign_id))]
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    campaign_id: Uuid,
    days: DayRange,
    page: &PageRequest,
) -> AppResult<Page<campaign_spend::Model>> {
    viewer.require(Action::ReadRecords)?;
    let key_of: KeyOf<campaign_spend::Entity> = |m| (SortValue::Date(m.spent_on), m.id);
    let key = SortKey {
        name: "SPENT_ON",
        column: campaign_spend::Column::SpentOn,
        id_column: campaign_spend::Column::Id,
        descending: false,
        key_of,
    };
    paginate(db, select(campaign_id, days), &key, page).await
}

/// The sum of a campaign's spend in a range of days (zero when none), in
/// the campaign's currency. Summed in SQL.
#[tracing::instrument(skip_all, fields(viewer = %viewer, campaign.id = %campaign_id))]
pub async fn total(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    campaign_id: Uuid,
    days: DayRange,
) -> AppResult<Decimal> {
    viewer.require(Action::ReadRecords)?;
    let sum: Option<Option<Decimal>> = select(campaign_id, days)
        .select_only()
        .column_as(
            Expr::from(Func::sum(Expr::col(campaign_spend::Column::Amount))),
            "total",
        )
        .into_tuple()
        .one(db)
        .await?;
    Ok(sum.flatten().unwrap_or_default())
}

/// The fields of a spend entry a caller may set.
#[derive(Debug, Clone, Default)]
pub struct SpendFields {
    /// The day of the spend.
    pub spent_on: Option<NaiveDate>,
    /// Amount and its currency.
    pub amount: Option<(Decimal, String)>,
    /// Free-text note; `Some(None)` clears it.
    pub note: Option<Option<String>>,
}

/// Validates the fields against the campaign (and the entry as it is, when
/// updating).
fn validate(
    campaign: &campaign::Model,
    fields: SpendFields,
    current: Option<&campaign_spend::Model>,
) -> AppResult<SpendFields> {
    let mut e = Errors::new();
    let creating = current.is_none();
    if creating && fields.spent_on.is_none() {
        e.add("spentOn", UserErrorCode::Required, "`spentOn` is required");
    }
    if creating && fields.amount.is_none() {
        e.add("amount", UserErrorCode::Required, "`amount` is required");
    }
    if let Some(day) = fields.spent_on {
        let after_start = day >= campaign.starts_on;
        let before_end = campaign.ends_on.is_none_or(|end| day <= end);
        if !after_start || !before_end {
            let dates = match campaign.ends_on {
                Some(end) => format!("{}..{end}", campaign.starts_on),
                None => format!("on or after {}", campaign.starts_on),
            };
            e.add(
                "spentOn",
                UserErrorCode::OutOfRange,
                format!("`spentOn` ({day}) is outside the campaign's dates ({dates})"),
            );
        }
    }
    let amount = fields.amount.map(|(amount, currency)| {
        let amount = e.amount("amount.amount", amount);
        let currency = e.currency("amount.currency", &currency);
        if currency != campaign.currency {
            e.add(
                "amount.currency",
                UserErrorCode::Invalid,
                format!(
                    "spend is in the campaign's currency {}, not {currency}",
                    campaign.currency
                ),
            );
        }
        (amount, currency)
    });
    let note = fields
        .note
        .map(|n| e.optional_text("note", n.as_deref(), MAX_NOTE_LEN));
    e.finish()?;
    Ok(SpendFields {
        spent_on: fields.spent_on,
        amount,
        note,
    })
}

fn apply(am: &mut campaign_spend::ActiveModel, f: SpendFields) {
    if let Some(v) = f.spent_on {
        am.spent_on.set_if_not_equals(v);
    }
    if let Some((amount, currency)) = f.amount {
        am.amount.set_if_not_equals(amount);
        am.currency.set_if_not_equals(currency);
    }
    if let Some(v) = f.note {
        am.note.set_if_not_equals(v);
    }
}

/// Records spend on a campaign.
#[tracing::instrument(skip_all, fields(viewer = %viewer, campaign.id = %campaign_id))]
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    campaign_id: Uuid,
    fields: SpendFields,
) -> AppResult<campaign_spend::Model> {
    viewer.require(Action::WriteCampaign)?;
    let txn = begin_write(db).await?;
    // Locked, so that a concurrent change of the campaign's dates or
    // currency cannot strand the new entry outside them.
    let campaign = match records::lock::<campaign::Entity>(&txn, campaign_id).await {
        Ok(c) => c,
        Err(AppError::NotFound(_)) => {
            return Err(AppError::invalid(
                "campaignId",
                UserErrorCode::NotFound,
                "`campaignId` names no campaign",
            ));
        }
        Err(other) => return Err(other),
    };
    let fields = validate(&campaign, fields, None)?;
    let mut am = campaign_spend::ActiveModel {
        campaign_id: Set(campaign.id),
        note: Set(None),
        deleted_at: Set(None),
        ..Default::default()
    };
    apply(&mut am, fields);
    let model = records::insert::<campaign_spend::Entity>(&txn, viewer, am).await?;
    txn.commit().await?;
    Ok(model)
}

/// Changes a spend entry. A stale `expected_version` is a CONFLICT and
/// writes nothing.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    fields: SpendFields,
) -> AppResult<campaign_spend::Model> {
    viewer.require(Action::WriteCampaign)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<campaign_spend::Entity>(&txn, id).await?;
    records::check_version(
        campaign_spend::Entity::NAME,
        current.version,
        expected_version,
    )?;
    let campaign = records::lock::<campaign::Entity>(&txn, current.campaign_id).await?;
    let fields = validate(&campaign, fields, Some(&current))?;
    let (model, _) =
        records::update::<campaign_spend::Entity>(&txn, Some(viewer.user_id), current, |am| {
            apply(am, fields)
        })
        .await?;
    txn.commit().await?;
    Ok(model)
}

/// Soft-deletes a spend entry: it leaves the campaign's list and totals and
/// reaches sync jobs as a tombstone.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Uuid> {
    viewer.require(Action::WriteCampaign)?;
    records::delete_by_id::<campaign_spend::Entity>(db, viewer, id, expected_version, |_| Ok(()))
        .await
}

/// How many of a campaign's live entries fall outside `starts_on..=ends_on`
/// or are in another currency than `currency` (a campaign change that would
/// strand them is refused).
pub async fn stranded(
    db: &impl ConnectionTrait,
    campaign_id: Uuid,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    currency: &str,
) -> AppResult<(u64, u64)> {
    use campaign_spend::Column as C;
    let mut outside = Condition::any().add(C::SpentOn.lt(starts_on));
    if let Some(end) = ends_on {
        outside = outside.add(C::SpentOn.gt(end));
    }
    let out_of_dates = campaign_spend::Entity::live()
        .filter(C::CampaignId.eq(campaign_id))
        .filter(outside)
        .count(db)
        .await?;
    let other_currency = campaign_spend::Entity::live()
        .filter(C::CampaignId.eq(campaign_id))
        .filter(C::Currency.ne(currency))
        .count(db)
        .await?;
    Ok((out_of_dates, other_currency))
}
