//! One walk over an operation: the requested cost (lists at their
//! declared or asked-for sizes) or the actual cost (lists as answered).

use async_graphql::{
    Name, Positioned, Variables,
    parser::types::{ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet},
};
// The parser's values may hold variables; `async_graphql::Value` may not.
use async_graphql_value::{ConstValue, Value};

use super::{
    CostModel, FieldShape, MAX_SELECTIONS, RECORDS_PER_POINT,
    rules::{
        BULK_WRITES, Items, LISTS, PAGE_LIMITS, SCALAR_COSTS, SURCHARGES, SYNC_SIZED, VALUE_TYPES,
    },
};
use crate::services::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// One walk over an operation.
pub(super) struct Walk<'a> {
    pub(super) model: &'a CostModel,
    pub(super) doc: &'a ExecutableDocument,
    pub(super) variables: Variables,
    pub(super) selections: std::cell::Cell<usize>,
    pub(super) aliases: std::cell::Cell<usize>,
}

/// Fragment spreads nested deeper than this stop counting (cycles are
/// refused by validation anyway).
pub(super) const MAX_FRAGMENT_NESTING: usize = 32;

impl<'a> Walk<'a> {
    pub(super) fn new(
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
    pub(super) fn root_fields(&self, set: &SelectionSet, nesting: usize) -> usize {
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

    pub(super) fn over_budget(&self) -> bool {
        self.selections.get() > MAX_SELECTIONS
    }

    /// The cost of a selection set on `parent` (a type name). `data` is the
    /// object it was answered with (actual cost), or `None` (requested).
    /// `page` is the page size of the connection the set belongs to.
    pub(super) fn set(
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
}

/// Whole points, rounded up, ignoring the float error of tenths.
pub(super) fn points(cost: f64) -> usize {
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
pub(super) fn count_objects(value: &ConstValue) -> usize {
    match value {
        ConstValue::Object(map) => 1 + map.values().map(count_objects).sum::<usize>(),
        ConstValue::List(items) => items.iter().map(count_objects).sum(),
        _ => 0,
    }
}
