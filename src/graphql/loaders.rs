//! Per-request DataLoaders: every relation goes through one, so a page of
//! 100 leads with their account, owner and campaign costs one query per
//! relation, not one per row. Created for each request (a shared loader
//! would share its cache across users).

use std::{collections::HashMap, marker::PhantomData};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{account, campaign, competitor, lead, opportunity, user};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::services::records::{self, Record};

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
        tokio::spawn,
        HashMapCache::default(),
    )
    .max_batch_size(MAX_BATCH)
}

macro_rules! loaders {
    ($($field:ident: $module:ident => $prefetch:ident),* $(,)?) => {
        /// The DataLoaders of one request.
        pub struct Loaders {
            $($field: DataLoader<ById<$module::Entity>, HashMapCache>,)*
        }

        impl Loaders {
            /// Fresh loaders with empty caches.
            pub fn new(db: DatabaseConnection) -> Self {
                Self { $($field: loader(&db),)* }
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
}
