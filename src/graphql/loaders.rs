//! Per-request DataLoaders: every relation goes through one, so a page of
//! 100 leads with their account, owner and campaign costs one query per
//! relation, not one per row. Created for each request (a shared loader
//! would share its cache across users).

use std::{collections::HashMap, marker::PhantomData};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{
    account, activity, campaign, campaign_spend, competitor, enums::ObjectType, lead,
    lead_definition_signature, opportunity, user, win_loss_feedback,
};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::services::{
    external_ids::{self, ExternalKey},
    kpis,
    records::{self, Record},
};

/// Runs a batch load on a task of its own, counted against the request
/// that asked for it (its statements go into the request's access line).
fn spawn(load: futures_util::future::BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(crate::telemetry::access::in_scope(load))
}

/// Largest batch: far under both engines' bind-parameter limits.
const MAX_BATCH: usize = 500;

/// Loads live records of one entity by id.
pub struct ById<E> {
    db: DatabaseConnection,
    _entity: PhantomData<fn() -> E>,
}

impl<E> Loader<Uuid> for ById<E>
where
    E: Record + Send + Sync + 'static,
    E::Model: Clone + 'static,
{
    type Value = E::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, E::Model>, Self::Error> {
        let rows = records::find_many::<E>(&self.db, keys).await?;
        Ok(rows.into_iter().map(|m| (E::id_of(&m), m)).collect())
    }
}

fn loader<E>(db: &DatabaseConnection) -> DataLoader<ById<E>, HashMapCache>
where
    E: Record + Send + Sync + 'static,
    E::Model: Clone + 'static,
{
    // A cache for this request only: what `prefetch_*` loaded for a page
    // is what each row's `load_one` then finds.
    DataLoader::with_cache(
        ById {
            db: db.clone(),
            _entity: PhantomData,
        },
        spawn,
        HashMapCache::default(),
    )
    .max_batch_size(MAX_BATCH)
}

/// Loads the signatures of lead definitions, by definition id.
pub struct SignaturesByDefinition {
    db: DatabaseConnection,
}

impl Loader<Uuid> for SignaturesByDefinition {
    type Value = Vec<lead_definition_signature::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut by_definition: HashMap<Uuid, Self::Value> = HashMap::new();
        for s in crate::services::lead_definitions::signatures(&self.db, keys).await? {
            by_definition.entry(s.definition_id).or_default().push(s);
        }
        Ok(by_definition)
    }
}

/// Loads the live win/loss feedback of opportunities, by opportunity id.
pub struct FeedbackByOpportunity {
    db: DatabaseConnection,
}

impl Loader<Uuid> for FeedbackByOpportunity {
    type Value = win_loss_feedback::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        Ok(crate::services::feedback::by_opportunities(&self.db, keys)
            .await?
            .into_iter()
            .map(|f| (f.opportunity_id, f))
            .collect())
    }
}

/// Loads the campaign touches each opportunity is attributed over, by
/// opportunity id.
pub struct TouchesByOpportunity {
    db: DatabaseConnection,
}

impl Loader<Uuid> for TouchesByOpportunity {
    type Value = crate::services::analytics::OpportunityTouches;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut found = crate::services::analytics::touches_of(&self.db, keys).await?;
        // An entry for every key, so that an opportunity without touches is
        // cached too and not asked for again.
        for key in keys {
            found.entry(*key).or_default();
        }
        Ok(found)
    }
}

/// Loads the external ids of records, by record type and id, ordered by
/// system and id (one query per record type in the batch).
pub struct ExternalIdsOf {
    db: DatabaseConnection,
}

impl Loader<(ObjectType, Uuid)> for ExternalIdsOf {
    type Value = Vec<ExternalKey>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[(ObjectType, Uuid)],
    ) -> Result<HashMap<(ObjectType, Uuid), Self::Value>, Self::Error> {
        let mut by_type: HashMap<ObjectType, Vec<Uuid>> = HashMap::new();
        for (object_type, id) in keys {
            by_type.entry(*object_type).or_default().push(*id);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (object_type, ids) in by_type {
            let mut found = external_ids::of_records(&self.db, object_type, &ids).await?;
            // An entry for every key, so that a record without external ids
            // is cached too and not asked for again.
            for id in ids {
                out.insert((object_type, id), found.remove(&id).unwrap_or_default());
            }
        }
        Ok(out)
    }
}

macro_rules! loaders {
    ($($field:ident: $module:ident => $prefetch:ident),* $(,)?) => {
        /// The DataLoaders of one request.
        pub struct Loaders {
            $($field: DataLoader<ById<$module::Entity>, HashMapCache>,)*
            signatures: DataLoader<SignaturesByDefinition, HashMapCache>,
            feedback: DataLoader<FeedbackByOpportunity, HashMapCache>,
            touches: DataLoader<TouchesByOpportunity, HashMapCache>,
            external_ids: DataLoader<ExternalIdsOf, HashMapCache>,
            cohorts: kpis::CohortCache,
        }

        impl Loaders {
            /// Fresh loaders with empty caches.
            pub fn new(db: DatabaseConnection) -> Self {
                Self {
                    $($field: loader(&db),)*
                    signatures: DataLoader::with_cache(
                        SignaturesByDefinition { db: db.clone() },
                        spawn,
                        HashMapCache::default(),
                    )
                    .max_batch_size(MAX_BATCH),
                    feedback: DataLoader::with_cache(
                        FeedbackByOpportunity { db: db.clone() },
                        spawn,
                        HashMapCache::default(),
                    )
                    .max_batch_size(MAX_BATCH),
                    touches: DataLoader::with_cache(
                        TouchesByOpportunity { db: db.clone() },
                        spawn,
                        HashMapCache::default(),
                    )
                    .max_batch_size(MAX_BATCH),
                    external_ids: DataLoader::with_cache(
                        ExternalIdsOf { db: db.clone() },
                        spawn,
                        HashMapCache::default(),
                    )
                    .max_batch_size(MAX_BATCH),
                    cohorts: kpis::CohortCache::default(),
                }
            }

            /// The KPI cohorts this request has computed (shared by the
            /// funnel and the cohort KPIs).
            pub fn cohorts(&self) -> &kpis::CohortCache {
                &self.cohorts
            }

            /// Forgets everything loaded so far. A subscription resolves
            /// each event with the same request data, long after the last
            /// one; it clears the caches so every event shows current rows.
            pub fn clear(&self) {
                $(self.$field.clear::<Uuid>();)*
                self.signatures.clear::<Uuid>();
                self.feedback.clear::<Uuid>();
                self.touches.clear::<Uuid>();
                self.external_ids.clear::<(ObjectType, Uuid)>();
                self.cohorts.clear();
            }

            /// The external ids of one record, ordered by system and id.
            pub async fn external_ids(
                &self,
                object_type: ObjectType,
                id: Uuid,
            ) -> async_graphql::Result<Vec<ExternalKey>> {
                Ok(self
                    .external_ids
                    .load_one((object_type, id))
                    .await?
                    .unwrap_or_default())
            }

            /// Loads the external ids of many records of one type into the
            /// cache in one query.
            pub async fn prefetch_external_ids(
                &self,
                object_type: ObjectType,
                ids: impl IntoIterator<Item = Uuid>,
            ) -> async_graphql::Result<()> {
                let keys: std::collections::BTreeSet<Uuid> = ids.into_iter().collect();
                if !keys.is_empty() {
                    self.external_ids
                        .load_many(keys.into_iter().map(|id| (object_type, id)))
                        .await?;
                }
                Ok(())
            }

            /// Replaces what the cache holds for one record's external ids
            /// (after a write in this request changed them).
            pub async fn feed_external_ids(
                &self,
                object_type: ObjectType,
                id: Uuid,
                keys: Vec<ExternalKey>,
            ) {
                self.external_ids.feed_one((object_type, id), keys).await;
            }

            /// The campaign touches an opportunity is attributed over (none
            /// when it has no touch).
            pub async fn touches_of(
                &self,
                opportunity_id: Uuid,
            ) -> async_graphql::Result<Option<crate::services::analytics::OpportunityTouches>> {
                self.touches.load_one(opportunity_id).await
            }

            /// Loads the touches of many opportunities into the cache in one query.
            pub async fn prefetch_touches(
                &self,
                ids: impl IntoIterator<Item = Uuid>,
            ) -> async_graphql::Result<()> {
                let ids: std::collections::BTreeSet<Uuid> = ids.into_iter().collect();
                if !ids.is_empty() {
                    self.touches.load_many(ids).await?;
                }
                Ok(())
            }

            /// The win/loss feedback of one opportunity, if any.
            pub async fn feedback_of(
                &self,
                opportunity_id: Uuid,
            ) -> async_graphql::Result<Option<win_loss_feedback::Model>> {
                self.feedback.load_one(opportunity_id).await
            }

            /// Loads the feedback of many opportunities into the cache in one query.
            pub async fn prefetch_feedback(
                &self,
                ids: impl IntoIterator<Item = Uuid>,
            ) -> async_graphql::Result<()> {
                let ids: std::collections::BTreeSet<Uuid> = ids.into_iter().collect();
                if !ids.is_empty() {
                    self.feedback.load_many(ids).await?;
                }
                Ok(())
            }

            /// The signatures of one lead definition, oldest first.
            pub async fn signatures(
                &self,
                definition_id: Uuid,
            ) -> async_graphql::Result<Vec<lead_definition_signature::Model>> {
                Ok(self.signatures.load_one(definition_id).await?.unwrap_or_default())
            }

            $(
                #[doc = concat!("Loads one live `", stringify!($module), "` by id (none for no id).")]
                pub async fn $module(
                    &self,
                    id: impl Into<Option<Uuid>>,
                ) -> async_graphql::Result<Option<$module::Model>> {
                    match id.into() {
                        Some(id) => self.$field.load_one(id).await,
                        None => Ok(None),
                    }
                }

                #[doc = concat!("Loads many `", stringify!($module), "` rows into the cache in one query.")]
                pub async fn $prefetch(&self, ids: impl IntoIterator<Item = Option<Uuid>>) -> async_graphql::Result<()> {
                    let ids: std::collections::BTreeSet<Uuid> = ids.into_iter().flatten().collect();
                    if !ids.is_empty() {
                        self.$field.load_many(ids).await?;
                    }
                    Ok(())
                }
            )*
        }
    };
}

loaders! {
    users: user => prefetch_users,
    accounts: account => prefetch_accounts,
    campaigns: campaign => prefetch_campaigns,
    leads: lead => prefetch_leads,
    opportunities: opportunity => prefetch_opportunities,
    competitors: competitor => prefetch_competitors,
    spend: campaign_spend => prefetch_spend,
    feedback_by_id: win_loss_feedback => prefetch_feedback_by_id,
    activities: activity => prefetch_activities,
}

/// Prefetches, for a whole page, the records its `field` points at (`ids`,
/// one per row of the page) when the selection asks for that field, with
/// their external ids when the field's own selection asks for those.
pub(crate) async fn prefetch_relation(
    ctx: &async_graphql::Context<'_>,
    selection: &async_graphql::Lookahead<'_>,
    field: &str,
    object: ObjectType,
    ids: impl IntoIterator<Item = Option<Uuid>>,
) -> async_graphql::Result<()> {
    let related = selection.field(field);
    if !related.exists() {
        return Ok(());
    }
    let ids: Vec<Uuid> = ids.into_iter().flatten().collect();
    let l = super::common::loaders(ctx)?;
    let some = ids.iter().copied().map(Some);
    match object {
        ObjectType::User => l.prefetch_users(some).await?,
        ObjectType::Account => l.prefetch_accounts(some).await?,
        ObjectType::Campaign => l.prefetch_campaigns(some).await?,
        ObjectType::Lead => l.prefetch_leads(some).await?,
        ObjectType::Opportunity => l.prefetch_opportunities(some).await?,
        ObjectType::Competitor => l.prefetch_competitors(some).await?,
        other => {
            return Err(crate::error::AppError::Internal(format!(
                "no prefetch for relations to {}",
                other.as_str()
            ))
            .into());
        }
    }
    super::external_id::prefetch(ctx, &related, object, ids).await
}
