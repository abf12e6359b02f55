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

use std::collections::HashMap;

use async_graphql::{
    Name, Positioned, Variables,
    parser::types::{
        BaseType, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
        SelectionSet, ServiceDocument, Type, TypeKind, TypeSystemDefinition,
    },
};
// The parser's values may hold variables; `async_graphql::Value` may not.
use async_graphql_value::{ConstValue, Value};

use crate::services::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

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

/// Extra points for fields that run aggregates, roughly in proportion to
/// their time: `Campaign.performance` runs five aggregate statements plus
/// attribution (about 0.25 s per campaign for a quarter at 200,000 leads on
/// PostgreSQL), so about nine fit in one request; the root
/// `winLossAnalysis` and `leadRejectionAnalysis` run one statement each
/// over the whole period; `Opportunity.attribution` is batched but shares
/// out every opportunity's amount; the root `kpis` runs up to a dozen
/// aggregate statements over the period (its time grows with the data, not
/// with the selection) and `funnel` one cohort pass. Matched by field name.
pub const SURCHARGES: &[(&str, usize)] = &[
    ("performance", 100),
    ("kpis", 100),
    ("funnel", 50),
    ("winLossAnalysis", 50),
    ("leadRejectionAnalysis", 50),
    ("attribution", 2),
];

/// The surcharge of an aggregate field (0 for other fields).
pub fn surcharge(field: &str) -> usize {
    SURCHARGES
        .iter()
        .find(|(n, _)| *n == field)
        .map_or(0, |(_, s)| *s)
}

/// Scalar fields that run a statement of their own: `totalCount` counts
/// every row its filter matches, however many the page shows.
pub const SCALAR_COSTS: &[(&str, usize)] = &[("totalCount", 10)];

/// How many items a list field is charged for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Items {
    /// The page size of the connection the list belongs to.
    Page,
    /// One per element of this argument (a dotted path into an input
    /// object, e.g. `input.kpis`).
    PerElement(&'static str),
    /// An estimate for a list no argument bounds: the actual cost, counted
    /// from the response, corrects it.
    About(usize),
}

/// Every field that returns a list of objects, with its size. A field
/// missing here fails a test, so a new list must declare its size.
pub const LISTS: &[(&str, Items)] = &[
    // Roots.
    ("QueryRoot.nodes", Items::PerElement("ids")),
    (
        "QueryRoot.recordsByExternalIds",
        Items::PerElement("externalIds"),
    ),
    ("QueryRoot.kpis", Items::PerElement("input.kpis")),
    ("QueryRoot.kpiDefinitions", Items::About(25)),
    ("QueryRoot.kpiTargets", Items::About(50)),
    ("QueryRoot.compareLeadDefinitions", Items::About(40)),
    ("QueryRoot.winLossAnalysis", Items::About(20)),
    ("QueryRoot.leadRejectionAnalysis", Items::About(20)),
    // The change feed: entries are sync-sized (see RECORDS_PER_POINT).
    ("ChangePage.nodes", Items::Page),
    // A record's own small lists.
    ("Lead.stageHistory", Items::About(10)),
    ("Opportunity.stageHistory", Items::About(10)),
    ("Account.externalIds", Items::About(1)),
    ("Activity.externalIds", Items::About(1)),
    ("Campaign.externalIds", Items::About(1)),
    ("Lead.externalIds", Items::About(1)),
    ("Opportunity.externalIds", Items::About(1)),
    ("User.externalIds", Items::About(1)),
    ("LeadDefinition.engagementRules", Items::About(11)),
    ("LeadDefinition.signatures", Items::About(2)),
    ("FitCriteriaGql.industries", Items::About(20)),
    ("FitCriteriaGql.seniorities", Items::About(8)),
    ("FitCriteriaGql.countries", Items::About(20)),
    ("FitCriteriaGql.titleKeywords", Items::About(20)),
    ("ScoreBreakdown.lines", Items::About(20)),
    ("OpportunityAttribution.touches", Items::About(10)),
    ("OpportunityAttribution.campaigns", Items::About(5)),
    // Aggregates' rows (their statements are paid by SURCHARGES).
    ("KpiResult.groups", Items::About(20)),
    ("KpiResult.series", Items::About(12)),
    ("Funnel.stages", Items::About(7)),
    ("CampaignPerformance.rejectionReasons", Items::About(10)),
    ("CampaignPerformance.topLossReasons", Items::About(5)),
    ("CampaignPerformance.topCompetitors", Items::About(5)),
    ("CampaignPerformance.spend", Items::About(2)),
    ("CampaignPerformance.costPerLead", Items::About(2)),
    ("CampaignPerformance.costPerMql", Items::About(2)),
    ("CampaignPerformance.costPerOpportunity", Items::About(2)),
    ("CampaignPerformance.costPerCustomer", Items::About(2)),
    ("CampaignPerformance.attributedPipeline", Items::About(2)),
    ("CampaignPerformance.attributedRevenue", Items::About(2)),
    ("LeadRejectionGroup.reasons", Items::About(10)),
    ("WinLossGroup.lossReasons", Items::About(11)),
    ("WinLossGroup.winReasons", Items::About(11)),
    ("WinLossGroup.competitors", Items::About(10)),
    // What a bulk mutation answers per record: free (VALUE_TYPES), the
    // records are charged by BULK_WRITES.
    ("SyncPayload.results", Items::About(1)),
];

/// Bulk mutations and the list argument whose records they write: one
/// point per [`RECORDS_PER_POINT`] records.
pub const BULK_WRITES: &[(&str, &str)] = &[
    ("upsertLeads", "input.leads"),
    ("upsertAccounts", "input.accounts"),
    ("upsertCampaigns", "input.campaigns"),
    ("upsertOpportunities", "input.opportunities"),
    ("recordActivities", "input.activities"),
    ("deleteByExternalIds", "input.records"),
];

/// Objects built in memory from what their parent already read (a
/// mutation's per-record results, an aggregate's rows, money, ratios, a
/// definition's criteria): they cost nothing themselves; a record they hold
/// (a campaign, a competitor) still counts.
pub const VALUE_TYPES: &[&str] = &[
    "UserError",
    "SyncRecordResult",
    "SyncRecordError",
    "PageInfo",
    "Money",
    "Ratio",
    "KpiValue",
    "KpiGroup",
    "KpiPoint",
    "KpiTargetResult",
    "FunnelStage",
    "FeedbackReasonCount",
    "RejectionReasonCount",
    "ScoreBreakdown",
    "ScoreLine",
    "ValuePoints",
    "SeniorityPoints",
    "EmployeeRangePoints",
    "EngagementRule",
    "FitCriteriaGql",
    "DefinitionChange",
    "TouchCredit",
    "CampaignCredit",
];

/// Sync-sized reads, charged one point per [`RECORDS_PER_POINT`]: the
/// change feed's entries, and the record each entry loads (all of a
/// page's records are read by id in one statement per kind).
const SYNC_SIZED: &[&str] = &["ChangePage.nodes", "Change.node"];

/// Fields whose page may exceed [`MAX_PAGE_SIZE`].
const PAGE_LIMITS: &[(&str, i64)] = &[("QueryRoot.changes", 1000)];

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

/// The introspection sizes of the schema: how many objects each
/// introspection list returns, in total and at most per parent.
#[derive(Debug, Clone, Default)]
struct IntrospectionSizes {
    types: f64,
    directives: f64,
    directive_args: f64,
    /// (total, most per type): fields, input fields, enum values,
    /// interfaces, possible types.
    fields: (f64, f64),
    input_fields: (f64, f64),
    enum_values: (f64, f64),
    interfaces: (f64, f64),
    possible_types: (f64, f64),
    /// (total over all fields, most per field).
    args: (f64, f64),
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

/// One walk over an operation.
struct Walk<'a> {
    model: &'a CostModel,
    doc: &'a ExecutableDocument,
    variables: Variables,
    selections: std::cell::Cell<usize>,
    aliases: std::cell::Cell<usize>,
}

/// Fragment spreads nested deeper than this stop counting (cycles are
/// refused by validation anyway).
const MAX_FRAGMENT_NESTING: usize = 32;

impl<'a> Walk<'a> {
    fn new(
        model: &'a CostModel,
        doc: &'a ExecutableDocument,
        operation: &OperationDefinition,
        variables: &Variables,
    ) -> Self {
        // Variables the request leaves out take their definition's default.
        let mut variables = variables.clone();
        for definition in &operation.variable_definitions {
            let name = &definition.node.name.node;
            if !variables.contains_key(name)
                && let Some(default) = &definition.node.default_value
            {
                variables.insert(name.clone(), default.node.clone());
            }
        }
        Self {
            model,
            doc,
            variables,
            selections: std::cell::Cell::new(0),
            aliases: std::cell::Cell::new(0),
        }
    }

    /// Root fields of a selection, fragments spread (counting stops once
    /// the selections are over their limit).
    fn root_fields(&self, set: &SelectionSet, nesting: usize) -> usize {
        if nesting > MAX_FRAGMENT_NESTING || self.over_budget() {
            return 0;
        }
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => {
                    self.selections.set(self.selections.get() + 1);
                    usize::from(f.node.name.node.as_str() != "__typename")
                }
                Selection::FragmentSpread(spread) => self
                    .doc
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .map_or(0, |f| {
                        self.root_fields(&f.node.selection_set.node, nesting + 1)
                    }),
                Selection::InlineFragment(inline) => {
                    self.root_fields(&inline.node.selection_set.node, nesting + 1)
                }
            })
            .fold(0, usize::saturating_add)
    }

    fn over_budget(&self) -> bool {
        self.selections.get() > MAX_SELECTIONS
    }

    /// The cost of a selection set on `parent` (a type name). `data` is the
    /// object it was answered with (actual cost), or `None` (requested).
    /// `page` is the page size of the connection the set belongs to.
    fn set(
        &self,
        parent: &str,
        set: &SelectionSet,
        page: Option<f64>,
        data: Option<&ConstValue>,
        nesting: usize,
    ) -> f64 {
        if nesting > MAX_FRAGMENT_NESTING {
            return 0.0;
        }
        let mut total = 0.0;
        for item in &set.items {
            if self.over_budget() {
                return total;
            }
            total += match &item.node {
                Selection::Field(field) => self.field(parent, &field.node, page, data),
                Selection::FragmentSpread(spread) => self
                    .doc
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .map_or(0.0, |f| {
                        let on = f.node.type_condition.node.on.node.as_str();
                        self.set(
                            self.narrow(parent, on),
                            &f.node.selection_set.node,
                            page,
                            data,
                            nesting + 1,
                        )
                    }),
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |c| self.narrow(parent, c.node.on.node.as_str()));
                    self.set(on, &inline.node.selection_set.node, page, data, nesting + 1)
                }
            };
        }
        total
    }

    /// The type a fragment's condition selects: its own when known.
    fn narrow<'b>(&self, parent: &'b str, on: &'b str) -> &'b str {
        if self.model.types.contains_key(on) {
            on
        } else {
            parent
        }
    }

    fn field(
        &self,
        parent: &str,
        field: &Field,
        page: Option<f64>,
        data: Option<&ConstValue>,
    ) -> f64 {
        self.selections.set(self.selections.get() + 1);
        let name = field.name.node.as_str();
        if field.alias.is_some() {
            self.aliases.set(self.aliases.get() + 1);
        }
        if name == "__typename" {
            return 0.0;
        }
        let key = field.alias.as_ref().map_or(name, |a| a.node.as_str());
        // The value answered for this field, when counting actual cost;
        // a field absent from the data (a fragment of another type) did
        // not run.
        let value = match data {
            Some(ConstValue::Object(map)) => match map.get(key) {
                Some(v) => Some(v),
                None => return 0.0,
            },
            Some(_) => return 0.0,
            None => None,
        };
        if name == "__schema" || name == "__type" {
            return self.introspection(field, value);
        }
        let shape = self.model.field(parent, name);
        let Some(shape) = shape else {
            // Unknown here (validation refuses it): count as an object.
            return if field.selection_set.node.items.is_empty() {
                0.0
            } else {
                1.0
            };
        };
        let qualified = format!("{parent}.{name}");
        if !self.model.types.contains_key(&shape.base) {
            // A scalar or an enum.
            return SCALAR_COSTS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0.0, |(_, c)| *c as f64);
        }
        let surcharge = SURCHARGES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0.0, |(_, s)| *s as f64)
            + self.bulk_write(name, field);
        let own = if VALUE_TYPES.contains(&shape.base.as_str()) {
            0.0
        } else {
            1.0
        };
        let sync_sized = SYNC_SIZED.contains(&qualified.as_str());
        // A connection's lists take its page size.
        let child_page = shape
            .paged
            .then(|| self.page_size(&qualified, shape, field));
        let children = |item: Option<&ConstValue>| {
            self.set(&shape.base, &field.selection_set.node, child_page, item, 0)
        };
        let per_item_own = if sync_sized {
            own / RECORDS_PER_POINT as f64
        } else {
            own
        };
        if !shape.list {
            if let Some(ConstValue::Null) = value {
                // Resolved to null: the lookup ran, nothing below it did.
                return per_item_own + surcharge;
            }
            return per_item_own + surcharge + children(value);
        }
        match value {
            // Actual: what came back.
            Some(ConstValue::List(items)) => {
                surcharge
                    + items
                        .iter()
                        .map(|item| per_item_own + children(Some(item)))
                        .sum::<f64>()
            }
            Some(_) => surcharge,
            None => {
                let n = self.items(&qualified, field, page);
                let mut cost = surcharge + n * (per_item_own + children(None));
                if sync_sized {
                    cost = points(cost) as f64;
                }
                cost
            }
        }
    }

    /// Points for a bulk mutation's records.
    fn bulk_write(&self, name: &str, field: &Field) -> f64 {
        BULK_WRITES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0.0, |(_, path)| {
                let records = list_len(self.argument_path(field, None, path));
                (records as f64 / RECORDS_PER_POINT as f64).ceil()
            })
    }

    /// How many items a list field is charged for, before it runs.
    fn items(&self, qualified: &str, field: &Field, page: Option<f64>) -> f64 {
        let parent_is_connection = qualified
            .split_once('.')
            .is_some_and(|(t, f)| t.ends_with("Connection") && matches!(f, "nodes" | "edges"));
        let rule = if parent_is_connection {
            Some(Items::Page)
        } else {
            LISTS
                .iter()
                .find(|(n, _)| *n == qualified)
                .map(|(_, rule)| *rule)
        };
        match rule {
            Some(Items::Page) => page.unwrap_or(f64::from(DEFAULT_PAGE_SIZE)),
            Some(Items::PerElement(path)) => list_len(self.argument_path(field, None, path)) as f64,
            Some(Items::About(n)) => n as f64,
            // Not declared (a test keeps LISTS complete): count it as a
            // full default page.
            None => f64::from(DEFAULT_PAGE_SIZE),
        }
    }

    /// `first` or `last` of a paged field, clamped to its maximum.
    fn page_size(&self, qualified: &str, shape: &FieldShape, field: &Field) -> f64 {
        let max = PAGE_LIMITS
            .iter()
            .find(|(n, _)| *n == qualified)
            .map_or(i64::from(MAX_PAGE_SIZE), |(_, m)| *m);
        let given = ["first", "last"]
            .iter()
            .find_map(|a| int(self.argument_path(field, Some(shape), a)));
        let n = given.unwrap_or(i64::from(DEFAULT_PAGE_SIZE));
        n.clamp(1, max) as f64
    }

    /// An argument's value (a dotted path into input objects) with
    /// variables substituted, or its default in the schema.
    fn argument_path(
        &self,
        field: &Field,
        shape: Option<&FieldShape>,
        path: &str,
    ) -> Option<ConstValue> {
        let mut parts = path.split('.');
        let first = parts.next()?;
        let value = field
            .arguments
            .iter()
            .find(|(n, _): &&(Positioned<Name>, Positioned<Value>)| n.node.as_str() == first)
            .and_then(|(_, v)| resolve(&v.node, &self.variables))
            .or_else(|| shape.and_then(|s| s.defaults.get(first).cloned()));
        parts.try_fold(value?, |value, part| match value {
            ConstValue::Object(mut map) => map.swap_remove(part),
            _ => None,
        })
    }

    /// Introspection: one point per [`INTROSPECTION_OBJECTS_PER_POINT`]
    /// objects returned.
    fn introspection(&self, field: &Field, value: Option<&ConstValue>) -> f64 {
        let objects = match value {
            Some(value) => count_objects(value) as f64,
            None => {
                let (kind, ctx) = if field.name.node.as_str() == "__schema" {
                    (Intro::Schema, Ctx::All)
                } else {
                    (Intro::Type, Ctx::One)
                };
                1.0 + self.intro_set(kind, ctx, 1.0, &field.selection_set.node, 0)
            }
        };
        (objects / INTROSPECTION_OBJECTS_PER_POINT as f64).ceil()
    }

    /// How many introspection objects a selection returns for `count`
    /// parents of `kind`.
    fn intro_set(
        &self,
        kind: Intro,
        ctx: Ctx,
        count: f64,
        set: &SelectionSet,
        nesting: usize,
    ) -> f64 {
        if nesting > MAX_FRAGMENT_NESTING {
            return 0.0;
        }
        let mut total = 0.0;
        for item in &set.items {
            if self.over_budget() {
                return total;
            }
            total += match &item.node {
                Selection::Field(f) => {
                    self.selections.set(self.selections.get() + 1);
                    if f.node.alias.is_some() {
                        self.aliases.set(self.aliases.get() + 1);
                    }
                    match self.intro_child(kind, ctx, f.node.name.node.as_str()) {
                        Some((child, child_ctx, per_parent)) => {
                            let n = count * per_parent;
                            n + self.intro_set(child, child_ctx, n, &f.node.selection_set.node, 0)
                        }
                        None => 0.0,
                    }
                }
                Selection::FragmentSpread(spread) => self
                    .doc
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .map_or(0.0, |f| {
                        self.intro_set(kind, ctx, count, &f.node.selection_set.node, nesting + 1)
                    }),
                Selection::InlineFragment(inline) => self.intro_set(
                    kind,
                    ctx,
                    count,
                    &inline.node.selection_set.node,
                    nesting + 1,
                ),
            };
        }
        total
    }

    /// The objects a field of an introspection type returns per parent:
    /// exact ratios (totals over parents) when the parents are all the
    /// schema's types or fields, the largest per parent otherwise.
    fn intro_child(&self, kind: Intro, ctx: Ctx, name: &str) -> Option<(Intro, Ctx, f64)> {
        let s = &self.model.introspection;
        let per = |(total, most): (f64, f64), parents: f64| match ctx {
            Ctx::All => total / parents.max(1.0),
            Ctx::One => most,
        };
        Some(match (kind, name) {
            (Intro::Schema, "types") => (Intro::Type, Ctx::All, s.types),
            (Intro::Schema, "queryType" | "mutationType" | "subscriptionType") => {
                (Intro::Type, Ctx::One, 1.0)
            }
            (Intro::Schema, "directives") => (Intro::Directive, Ctx::All, s.directives),
            (Intro::Type, "fields") => (Intro::Field, ctx, per(s.fields, s.types)),
            (Intro::Type, "inputFields") => (Intro::Value, Ctx::One, per(s.input_fields, s.types)),
            (Intro::Type, "enumValues") => (Intro::Leaf, Ctx::One, per(s.enum_values, s.types)),
            (Intro::Type, "interfaces") => (Intro::Type, Ctx::One, per(s.interfaces, s.types)),
            (Intro::Type, "possibleTypes") => {
                (Intro::Type, Ctx::One, per(s.possible_types, s.types))
            }
            (Intro::Type, "ofType") => (Intro::Type, Ctx::One, 1.0),
            (Intro::Field, "args") => (Intro::Value, Ctx::One, per(s.args, s.fields.0)),
            (Intro::Field | Intro::Value, "type") => (Intro::Type, Ctx::One, 1.0),
            (Intro::Directive, "args") => (
                Intro::Value,
                Ctx::One,
                match ctx {
                    Ctx::All => s.directive_args / s.directives.max(1.0),
                    Ctx::One => s.directive_args,
                },
            ),
            _ => return None,
        })
    }
}

/// The introspection types whose fields return objects.
#[derive(Clone, Copy, Debug)]
enum Intro {
    Schema,
    Type,
    Field,
    Value,
    Directive,
    Leaf,
}

/// Whether the parents are all of the schema's (exact totals apply) or
/// some of them (the largest per parent applies).
#[derive(Clone, Copy, Debug)]
enum Ctx {
    All,
    One,
}

/// Whole points, rounded up, ignoring the float error of tenths.
fn points(cost: f64) -> usize {
    ((cost * 1e6).round() / 1e6).ceil() as usize
}

/// An argument's value with variables substituted.
fn resolve(value: &Value, variables: &Variables) -> Option<ConstValue> {
    value
        .clone()
        .into_const_with(|name| variables.get(&name).cloned().ok_or(()))
        .ok()
}

fn int(value: Option<ConstValue>) -> Option<i64> {
    match value {
        Some(ConstValue::Number(n)) => n.as_i64(),
        _ => None,
    }
}

fn list_len(value: Option<ConstValue>) -> usize {
    match value {
        Some(ConstValue::List(items)) => items.len(),
        Some(ConstValue::Null) | None => 0,
        Some(_) => 1,
    }
}

/// Objects in a value, itself included.
fn count_objects(value: &ConstValue) -> usize {
    match value {
        ConstValue::Object(map) => 1 + map.values().map(count_objects).sum::<usize>(),
        ConstValue::List(items) => items.iter().map(count_objects).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::{parse_query, types::DocumentOperations};

    use super::*;

    /// GraphiQL's introspection query.
    pub const STANDARD_INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

    fn model() -> &'static CostModel {
        static MODEL: std::sync::OnceLock<CostModel> = std::sync::OnceLock::new();
        MODEL.get_or_init(CostModel::handoff)
    }

    fn requested(query: &str, variables: serde_json::Value) -> Result<usize, Refusal> {
        let doc = parse_query(query).unwrap_or_else(|e| panic!("{e}"));
        let variables = Variables::from_json(variables);
        let op = match &doc.operations {
            DocumentOperations::Single(op) => op,
            DocumentOperations::Multiple(ops) => {
                ops.values().next().unwrap_or_else(|| panic!("no op"))
            }
        };
        model().requested(&doc, &op.node, &variables)
    }

    fn cost_of(query: &str, variables: serde_json::Value) -> usize {
        requested(query, variables).unwrap_or_else(|e| panic!("{}", e.message()))
    }

    fn actual(query: &str, data: serde_json::Value) -> usize {
        let doc = parse_query(query).unwrap_or_else(|e| panic!("{e}"));
        let DocumentOperations::Single(op) = &doc.operations else {
            panic!("one operation")
        };
        let data = ConstValue::from_json(data).unwrap_or_else(|e| panic!("{e}"));
        model().actual(&doc, &op.node, &Variables::default(), &data)
    }

    #[test]
    fn scalars_are_free_and_objects_cost_one() {
        assert_eq!(
            cost_of("{ viewer { id name role } }", serde_json::json!({})),
            1
        );
    }

    #[test]
    fn a_connection_costs_its_page_size_times_its_nodes() {
        // leads 1 + 100 x (node 1 + account 1 + owner 1); totalCount 10
        assert_eq!(
            cost_of(
                "{ leads(first: 100) { totalCount nodes { id email account { name } owner { name } } } }",
                serde_json::json!({})
            ),
            1 + 10 + 300
        );
        // The same with the page size in a variable.
        assert_eq!(
            cost_of(
                "query($n: Int) { leads(first: $n) { nodes { id account { name } } } }",
                serde_json::json!({ "n": 10 })
            ),
            1 + 10 * 2
        );
        // No first or last: the default page of 20; pageInfo is free.
        assert_eq!(
            cost_of(
                "{ leads { nodes { id } pageInfo { hasNextPage } } }",
                serde_json::json!({})
            ),
            1 + 20
        );
        // Out-of-range sizes are clamped (and refused later as BAD_USER_INPUT).
        assert_eq!(
            cost_of(
                "{ leads(first: -5) { nodes { id } } }",
                serde_json::json!({})
            ),
            2
        );
        assert_eq!(
            cost_of(
                "{ leads(first: 100000) { nodes { id } } }",
                serde_json::json!({})
            ),
            101
        );
        // edges: an edge and its node per item.
        assert_eq!(
            cost_of(
                "{ leads(first: 10) { edges { cursor node { id } } } }",
                serde_json::json!({})
            ),
            1 + 10 * 2
        );
    }

    #[test]
    fn a_variable_left_out_counts_with_its_default() {
        // 1 + 100 x (node 1 + account (1 + leads (1 + 100 x 1))) = 10,301
        let q = "query($n: Int = 100) { leads(first: $n) { nodes { account { leads(first: $n) { nodes { id } } } } } }";
        assert_eq!(
            requested(q, serde_json::json!({})),
            Err(Refusal::Cost(10_301))
        );
        assert_eq!(
            cost_of(q, serde_json::json!({ "n": 5 })),
            1 + 5 * (1 + 1 + 1 + 5)
        );
    }

    #[test]
    fn the_change_feed_counts_its_page_up_to_a_thousand_at_one_point_per_ten_entries() {
        // Its default page is the schema's: 100 entries, 10 points.
        assert_eq!(
            cost_of("{ changes { nodes { cursor } } }", serde_json::json!({})),
            1 + 10
        );
        assert_eq!(
            cost_of(
                "{ changes(first: 1000) { endCursor nodes { cursor } } }",
                serde_json::json!({})
            ),
            1 + 100
        );
        // Each entry's node is read with the page's others by id: sync-sized
        // too; what the node loads besides counts as usual.
        assert_eq!(
            cost_of(
                "{ changes(first: 1000) { nodes { node { id } } } }",
                serde_json::json!({})
            ),
            1 + 100 + 100
        );
        assert_eq!(
            cost_of(
                "{ changes(first: 500) { nodes { node { ... on Lead { account { name } } } } } }",
                serde_json::json!({})
            ),
            1 + 50 + 50 + 500
        );
    }

    #[test]
    fn total_count_runs_a_count_and_costs_ten() {
        assert_eq!(
            cost_of("{ leads { totalCount } }", serde_json::json!({})),
            11
        );
        // 90 aliased counts: 990 points; 91 go over.
        let many = |n: usize| {
            let fields: String = (0..n)
                .map(|i| format!("a{i}: leads {{ totalCount }} "))
                .collect();
            format!("{{ {fields} }}")
        };
        assert_eq!(requested(&many(25), serde_json::json!({})), Ok(25 * 11));
        assert_eq!(
            requested(&many(31), serde_json::json!({})),
            Err(Refusal::RootFields(31))
        );
    }

    #[test]
    fn nested_connections_multiply() {
        // 1 + 100 x (node 1 + account (1 + leads (1 + 100 x node 1))) = 1 + 100 x 103
        assert_eq!(
            requested(
                "{ leads(first: 100) { nodes { account { leads(first: 100) { nodes { id } } } } } }",
                serde_json::json!({})
            ),
            Err(Refusal::Cost(10_301))
        );
    }

    #[test]
    fn aggregates_cost_their_surcharge_times_the_list_they_are_in() {
        // node 1 + performance (1 + 100 + topCompetitors 5 x (1 + competitor 1))
        assert_eq!(
            cost_of(
                "{ node(id: \"x\") { ... on Campaign { performance(from: \"2026-01-01T00:00:00Z\", to: \"2026-02-01T00:00:00Z\") { touches topCompetitors { competitor { name } } } } } }",
                serde_json::json!({})
            ),
            1 + (1 + 100 + 5 * 2)
        );
        // campaigns(first: 10): 1 + 10 x (node 1 + performance (1 + 100)) = 1021: refused.
        assert_eq!(
            requested(
                "{ campaigns(first: 10) { nodes { performance(from: \"2026-01-01T00:00:00Z\", to: \"2026-02-01T00:00:00Z\") { touches spend { amount } } } } }",
                serde_json::json!({})
            ),
            Err(Refusal::Cost(1 + 10 * (1 + (1 + 100))))
        );
        // 50 + 20 groups x 1
        assert_eq!(
            cost_of(
                "{ winLossAnalysis(from: \"2026-01-01\", to: \"2026-02-01\") { won } }",
                serde_json::json!({})
            ),
            50 + 20
        );
    }

    #[test]
    fn fragments_count_where_spread_and_nodes_by_ids() {
        let q = "query($ids: [ID!]!) { nodes(ids: $ids) { ...F } } fragment F on Lead { account { name } }";
        assert_eq!(
            cost_of(q, serde_json::json!({ "ids": ["a", "b", "c"] })),
            3 * 2
        );
        let q = "query($x: [String!]!) { recordsByExternalIds(system: HUBSPOT, objectType: LEAD, externalIds: $x) { ... on Lead { account { name } } } }";
        assert_eq!(
            cost_of(q, serde_json::json!({ "x": ["1", "2", "3", "4"] })),
            4 * 2
        );
        assert_eq!(
            cost_of(
                "{ leads(first: 2) { nodes { ... on Lead { owner { id } } } } }",
                serde_json::json!({})
            ),
            1 + 2 * 2
        );
    }

    #[test]
    fn bulk_mutations_cost_one_point_per_ten_records() {
        let leads: Vec<_> = (0..1000)
            .map(|i| serde_json::json!({ "externalId": i.to_string() }))
            .collect();
        assert_eq!(
            cost_of(
                "mutation($l: [LeadUpsertInput!]!) { upsertLeads(input: {system: HUBSPOT, leads: $l}) { created results { status error { code } } } }",
                serde_json::json!({ "l": leads })
            ),
            1 + 100
        );
    }

    #[test]
    fn introspection_counts_the_objects_it_returns() {
        // The standard query fits, with room to spare.
        let cost = cost_of(STANDARD_INTROSPECTION, serde_json::json!({}));
        assert!(
            (150..=400).contains(&cost),
            "standard introspection costs {cost}"
        );
        // One type's fields: a few points.
        assert!(
            cost_of(
                "{ __type(name: \"Lead\") { fields { name } } }",
                serde_json::json!({})
            ) <= 3
        );
        // 300 aliased copies of a small one are refused (root fields), and
        // so are aliases nested inside one.
        let small = "__schema { types { name fields { name } } }";
        let many: String = (0..300).map(|i| format!("a{i}: {small} ")).collect();
        assert_eq!(
            requested(&format!("{{ {many} }}"), serde_json::json!({})),
            Err(Refusal::RootFields(300))
        );
        let nested: String = (0..90)
            .map(|i| format!("f{i}: fields {{ name }} "))
            .collect();
        assert!(matches!(
            requested(
                &format!("{{ __schema {{ types {{ {nested} }} }} }}"),
                serde_json::json!({})
            ),
            Err(Refusal::Cost(_))
        ));
    }

    #[test]
    fn aliases_and_expanded_selections_are_limited() {
        let aliased: String = (0..101).map(|i| format!("a{i}: id ")).collect();
        assert_eq!(
            requested(
                &format!("{{ viewer {{ {aliased} }} }}"),
                serde_json::json!({})
            ),
            Err(Refusal::Aliases(101))
        );
        // Each fragment spreads the next one twice: 2^20 selections, at
        // the root or below it.
        let mut doc = String::from("{ ...F0 } ");
        for i in 0..20 {
            doc.push_str(&format!(
                "fragment F{i} on QueryRoot {{ ...F{} ...F{} }} ",
                i + 1,
                i + 1
            ));
        }
        doc.push_str("fragment F20 on QueryRoot { viewer { id } }");
        assert_eq!(
            requested(&doc, serde_json::json!({})),
            Err(Refusal::Selections)
        );
        let mut doc = String::from("{ viewer { ...F0 } } ");
        for i in 0..20 {
            doc.push_str(&format!(
                "fragment F{i} on User {{ ...F{} ...F{} }} ",
                i + 1,
                i + 1
            ));
        }
        doc.push_str("fragment F20 on User { id }");
        assert_eq!(
            requested(&doc, serde_json::json!({})),
            Err(Refusal::Selections)
        );
    }

    #[test]
    fn the_actual_cost_counts_what_came_back() {
        let q = "{ leads(first: 100) { nodes { id account { name } } } }";
        let data = serde_json::json!({ "leads": { "nodes": [
            { "id": "1", "account": { "name": "a" } },
            { "id": "2", "account": null },
        ] } });
        // leads 1 + node 1 + account 1 + node 1 + (null account) 1
        assert_eq!(actual(q, data), 5);
        assert_eq!(
            actual(q, serde_json::json!({ "leads": { "nodes": [] } })),
            1
        );
    }

    #[test]
    fn every_list_of_objects_declares_its_size() {
        let undeclared: Vec<_> = model()
            .object_lists()
            .into_iter()
            .filter(|(ty, field)| {
                let qualified = format!("{ty}.{field}");
                let in_connection =
                    ty.ends_with("Connection") && matches!(field.as_str(), "nodes" | "edges");
                let value_list = field == "userErrors";
                !in_connection && !value_list && !LISTS.iter().any(|(n, _)| *n == qualified)
            })
            .collect();
        assert!(
            undeclared.is_empty(),
            "add these lists to cost::LISTS: {undeclared:?}"
        );
    }
}
