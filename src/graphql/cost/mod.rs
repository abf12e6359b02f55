//! Query cost, counted the way Shopify's and GitHub's public APIs count it,
//! before anything runs, from the published schema (`schema.graphql`), so
//! the count knows every field's type, its arguments' defaults and which
//! fields are lists.
//!
//! - A scalar or enum field costs 0, except `totalCount`, which runs a
//!   `COUNT` of everything the filter matches ([`SCALAR_COSTS`]).
//! - An object field costs 1 plus its selection.
//! - A list costs its number of items times (1 + the item's selection).
//!   A connection's `nodes` and `edges` have its page size (`first`,
//!   `last`, else the argument's default, else 20, clamped to the field's
//!   maximum: 100, or 1,000 for `changes`); `nodes(ids:)`,
//!   `recordsByExternalIds(externalIds:)` and `kpis(input:)` one item per
//!   element of their list argument; every other list of objects has a
//!   declared size in [`LISTS`] (a test keeps the table complete).
//! - Sync-sized work is charged one point per ten records: a change-feed
//!   entry, and a record of a bulk mutation (`upsertLeads`, ...). What
//!   they load besides (`node`) costs as usual; their per-record results
//!   and user errors are free ([`VALUE_TYPES`]).
//! - Introspection (`__schema`, `__type`) counts the objects it returns
//!   (from the schema's real sizes), one point per
//!   [`INTROSPECTION_OBJECTS_PER_POINT`].
//! - An aggregate (see [`SURCHARGES`]) costs its surcharge on top, times
//!   the list it sits in, because it runs aggregate SQL rather than one
//!   batched read.
//! - Fragments count where they are spread; inline fragments for different
//!   types all count (an upper bound).
//!
//! Variables count with their values, or the default their definition
//! gives; arguments without a value count with the schema's default.
//!
//! The same walk over a response's data gives the **actual** cost: lists
//! count the items they returned. The request is charged the requested
//! cost up front and refunded to the actual cost.
//!
//! Besides the cost, an operation may select at most [`MAX_ROOT_FIELDS`]
//! root fields, use at most [`MAX_ALIASES`] aliases, and expand to at most
//! [`MAX_SELECTIONS`] field selections once its fragments are spread.

mod introspection;
mod rules;
#[cfg(test)]
mod tests;
mod walk;

use std::collections::HashMap;

use async_graphql::{
    Variables,
    parser::types::{
        BaseType, ExecutableDocument, OperationDefinition, OperationType, ServiceDocument, Type,
        TypeKind, TypeSystemDefinition,
    },
};
use async_graphql_value::ConstValue;

use introspection::IntrospectionSizes;
pub use rules::*;
use walk::{Walk, points};

/// Highest cost a single request may have.
pub const MAX_COST: usize = 1000;
/// Most root fields (aliases counted one by one) in one operation.
pub const MAX_ROOT_FIELDS: usize = 30;
/// Most aliased fields in one operation, fragments spread.
pub const MAX_ALIASES: usize = 100;
/// Most field selections in one operation once every fragment is spread
/// where it is used (a document of nested fragments can otherwise expand
/// exponentially).
pub const MAX_SELECTIONS: usize = 5_000;
/// Introspection objects (types, fields, arguments, ...) per point. The
/// standard introspection query of GraphiQL and code generators is
/// charged for about 11,000 of them on this schema (its type references
/// nest eight `ofType`s deep, all counted), so it costs about 230 points.
pub const INTROSPECTION_OBJECTS_PER_POINT: usize = 50;
/// Records of sync-sized work per point (change-feed entries, records of
/// bulk mutations).
pub const RECORDS_PER_POINT: usize = 10;

/// Why an operation is refused before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// More root fields than [`MAX_ROOT_FIELDS`].
    RootFields(usize),
    /// More aliases than [`MAX_ALIASES`].
    Aliases(usize),
    /// More selections than [`MAX_SELECTIONS`] once fragments are spread.
    Selections,
    /// A cost over [`MAX_COST`].
    Cost(usize),
}

impl Refusal {
    /// A message that names the limit and what to do.
    pub fn message(&self) -> String {
        match self {
            Self::RootFields(n) => format!(
                "Query is too complex: it selects {n} root fields and the limit is {MAX_ROOT_FIELDS} \
                 (each alias counts); split it into several requests."
            ),
            Self::Aliases(n) => format!(
                "Query is too complex: it uses {n} aliases and the limit is {MAX_ALIASES}; \
                 split it into several requests."
            ),
            Self::Selections => format!(
                "Query is too complex: with its fragments spread it selects more than \
                 {MAX_SELECTIONS} fields."
            ),
            Self::Cost(cost) => format!(
                "Query is too complex: it would cost {cost} points and the limit is {MAX_COST}. \
                 A connection costs its page size (first/last, default 20) times the cost of one \
                 item; ask for smaller pages or fewer nested lists."
            ),
        }
    }
}

/// What one field of the schema returns.
#[derive(Debug, Clone)]
struct FieldShape {
    /// The named type at the bottom of the field's type.
    base: String,
    /// Whether the field returns a list.
    list: bool,
    /// Argument defaults from the schema.
    defaults: HashMap<String, ConstValue>,
    /// Whether the field has `first`/`last` (a connection or page).
    paged: bool,
}

/// The schema's shape, read once from its SDL, and the rules above.
#[derive(Debug, Clone)]
pub struct CostModel {
    /// Composite types' fields by type name.
    types: HashMap<String, HashMap<String, FieldShape>>,
    query: String,
    mutation: String,
    subscription: String,
    introspection: IntrospectionSizes,
}

impl CostModel {
    /// The model of Handoff's schema.
    pub fn handoff() -> Self {
        Self::from_sdl(&super::sdl())
    }

    /// The model of the schema an SDL describes. A malformed SDL gives an
    /// empty model (everything unknown costs as an object).
    pub fn from_sdl(sdl: &str) -> Self {
        let doc = async_graphql::parser::parse_schema(sdl).unwrap_or(ServiceDocument {
            definitions: Vec::new(),
        });
        let mut model = Self {
            types: HashMap::new(),
            query: "Query".into(),
            mutation: "Mutation".into(),
            subscription: "Subscription".into(),
            introspection: IntrospectionSizes::default(),
        };
        // The introspection types themselves are listed too (about 8
        // types with 40 fields): counted generously.
        let mut sizes = IntrospectionSizes {
            types: 8.0,
            fields: (40.0, 0.0),
            args: (5.0, 1.0),
            ..IntrospectionSizes::default()
        };
        let mut implementations: HashMap<String, usize> = HashMap::new();
        let bump = |pair: &mut (f64, f64), n: usize| {
            pair.0 += n as f64;
            pair.1 = pair.1.max(n as f64);
        };
        for definition in &doc.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let s = &schema.node;
                    if let Some(q) = &s.query {
                        model.query = q.node.to_string();
                    }
                    if let Some(m) = &s.mutation {
                        model.mutation = m.node.to_string();
                    }
                    if let Some(s) = &s.subscription {
                        model.subscription = s.node.to_string();
                    }
                }
                TypeSystemDefinition::Directive(d) => {
                    sizes.directives += 1.0;
                    sizes.directive_args += d.node.arguments.len() as f64;
                }
                TypeSystemDefinition::Type(ty) => {
                    sizes.types += 1.0;
                    let name = ty.node.name.node.to_string();
                    let fields = match &ty.node.kind {
                        TypeKind::Object(o) => {
                            bump(&mut sizes.interfaces, o.implements.len());
                            for interface in &o.implements {
                                *implementations
                                    .entry(interface.node.to_string())
                                    .or_default() += 1;
                            }
                            Some(&o.fields)
                        }
                        TypeKind::Interface(i) => {
                            bump(&mut sizes.interfaces, i.implements.len());
                            Some(&i.fields)
                        }
                        TypeKind::Union(u) => {
                            bump(&mut sizes.possible_types, u.members.len());
                            None
                        }
                        TypeKind::Enum(e) => {
                            bump(&mut sizes.enum_values, e.values.len());
                            None
                        }
                        TypeKind::InputObject(i) => {
                            bump(&mut sizes.input_fields, i.fields.len());
                            None
                        }
                        TypeKind::Scalar => None,
                    };
                    let Some(fields) = fields else { continue };
                    bump(&mut sizes.fields, fields.len());
                    let shapes = fields
                        .iter()
                        .map(|f| {
                            let f = &f.node;
                            bump(&mut sizes.args, f.arguments.len());
                            let (base, list) = unwrap_type(&f.ty.node);
                            let defaults = f
                                .arguments
                                .iter()
                                .filter_map(|a| {
                                    a.node
                                        .default_value
                                        .as_ref()
                                        .map(|v| (a.node.name.node.to_string(), v.node.clone()))
                                })
                                .collect();
                            let paged = f
                                .arguments
                                .iter()
                                .any(|a| matches!(a.node.name.node.as_str(), "first" | "last"));
                            (
                                f.name.node.to_string(),
                                FieldShape {
                                    base,
                                    list,
                                    defaults,
                                    paged,
                                },
                            )
                        })
                        .collect();
                    model.types.insert(name, shapes);
                }
            }
        }
        // Interfaces list their implementations as possible types.
        for n in implementations.into_values() {
            bump(&mut sizes.possible_types, n);
        }
        // The built-in scalars and directives.
        sizes.types += 5.0;
        sizes.directives += 5.0;
        sizes.directive_args += 5.0;
        model.introspection = sizes;
        model
    }

    /// The cost of an operation before it runs, or why it is refused.
    pub fn requested(
        &self,
        doc: &ExecutableDocument,
        operation: &OperationDefinition,
        variables: &Variables,
    ) -> Result<usize, Refusal> {
        let walk = Walk::new(self, doc, operation, variables);
        let root = self.root_of(operation.ty);
        let root_fields = walk.root_fields(&operation.selection_set.node, 0);
        if walk.over_budget() {
            return Err(Refusal::Selections);
        }
        if root_fields > MAX_ROOT_FIELDS {
            return Err(Refusal::RootFields(root_fields));
        }
        walk.selections.set(0);
        let cost = walk.set(root, &operation.selection_set.node, None, None, 0);
        if walk.selections.get() > MAX_SELECTIONS {
            return Err(Refusal::Selections);
        }
        if walk.aliases.get() > MAX_ALIASES {
            return Err(Refusal::Aliases(walk.aliases.get()));
        }
        let cost = points(cost);
        if cost > MAX_COST {
            return Err(Refusal::Cost(cost));
        }
        Ok(cost)
    }

    /// The cost of an operation as it ran: lists count the items `data`
    /// holds. Never more than `requested` for lists bounded by arguments.
    pub fn actual(
        &self,
        doc: &ExecutableDocument,
        operation: &OperationDefinition,
        variables: &Variables,
        data: &ConstValue,
    ) -> usize {
        let walk = Walk::new(self, doc, operation, variables);
        let root = self.root_of(operation.ty);
        points(walk.set(root, &operation.selection_set.node, None, Some(data), 0))
    }

    fn root_of(&self, ty: OperationType) -> &str {
        match ty {
            OperationType::Query => &self.query,
            OperationType::Mutation => &self.mutation,
            OperationType::Subscription => &self.subscription,
        }
    }

    fn field(&self, parent: &str, name: &str) -> Option<&FieldShape> {
        self.types.get(parent)?.get(name)
    }

    /// `(type, field)` of every field returning a list of objects.
    #[cfg(test)]
    fn object_lists(&self) -> Vec<(String, String)> {
        let mut out: Vec<_> = self
            .types
            .iter()
            .flat_map(|(ty, fields)| {
                fields
                    .iter()
                    .filter(|(_, f)| f.list && self.types.contains_key(&f.base))
                    .map(move |(name, _)| (ty.clone(), name.clone()))
            })
            .collect();
        out.sort();
        out
    }
}

/// The named type under any list and non-null wrappers, and whether there
/// was a list.
fn unwrap_type(ty: &Type) -> (String, bool) {
    match &ty.base {
        BaseType::Named(name) => (name.to_string(), false),
        BaseType::List(inner) => (unwrap_type(inner).0, true),
    }
}
