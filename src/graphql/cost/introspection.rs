//! Introspection's cost: the objects `__schema` and `__type` return,
//! counted from the schema's real sizes.

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql_value::ConstValue;

use super::{
    INTROSPECTION_OBJECTS_PER_POINT,
    walk::{MAX_FRAGMENT_NESTING, Walk, count_objects},
};

/// The introspection sizes of the schema: how many objects each
/// introspection list returns, in total and at most per parent.
#[derive(Debug, Clone, Default)]
pub(super) struct IntrospectionSizes {
    pub(super) types: f64,
    pub(super) directives: f64,
    pub(super) directive_args: f64,
    /// (total, most per type): fields, input fields, enum values,
    /// interfaces, possible types.
    pub(super) fields: (f64, f64),
    pub(super) input_fields: (f64, f64),
    pub(super) enum_values: (f64, f64),
    pub(super) interfaces: (f64, f64),
    pub(super) possible_types: (f64, f64),
    /// (total over all fields, most per field).
    pub(super) args: (f64, f64),
}

impl<'a> Walk<'a> {
    /// Introspection: one point per [`INTROSPECTION_OBJECTS_PER_POINT`]
    /// objects returned.
    pub(super) fn introspection(&self, field: &Field, value: Option<&ConstValue>) -> f64 {
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
