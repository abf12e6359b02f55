//! The `DateTime` and `NaiveDate` scalars of every argument and input
//! field: chrono's, range-checked to the years 1900 to 9999
//! ([`validate::DATE_RANGE`]). Outputs keep chrono's types under the same
//! names; the schema is built with the two names exempt from the name
//! conflict check, and [`InputScalarsFirst`] registers these two before
//! chrono's, so their range check runs when a query is validated and the
//! error names the argument (`Invalid value for argument "input.to"`).

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    Context, ContextSelectionSet, InputType, InputValueError, InputValueResult, ObjectType,
    OutputType, Positioned, Scalar, ScalarType, ServerError, ServerResult, ValidationResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation},
    parser::types::Field,
    registry::{MetaType, MetaTypeId, Registry},
    resolver_utils::{ContainerType, resolve_container},
};
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::validate;

/// The GraphQL names of the input scalars, exempt from the schema's name
/// conflict check (chrono's output scalars have the same names).
pub const NAMES: [&str; 2] = ["DateTime", "NaiveDate"];

/// A `NaiveDate` argument or input field: a day in the years 1900 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InputDate(NaiveDate);

impl InputDate {
    /// Reads `YYYY-MM-DD` as the scalar does (for inputs that do not come
    /// through GraphQL, such as the CSV report's parameters).
    pub fn parse(value: &str) -> Result<Self, String> {
        validate::parse_date(value).map(Self)
    }

    /// The day.
    pub fn get(self) -> NaiveDate {
        self.0
    }
}

impl From<InputDate> for NaiveDate {
    fn from(d: InputDate) -> Self {
        d.0
    }
}

/// A calendar day, `YYYY-MM-DD` (ISO 8601), e.g. `2026-03-01`. Days given
/// to the API must fall in the years 1900 to 9999.
#[Scalar(name = "NaiveDate")]
impl ScalarType for InputDate {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => validate::parse_date(s)
                .map(Self)
                .map_err(InputValueError::custom),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(s) if validate::parse_date(s).is_ok())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// A `DateTime` argument or input field: an instant in the years 1900 to
/// 9999 (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InputDateTime(DateTime<Utc>);

impl InputDateTime {
    /// The instant.
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl From<InputDateTime> for DateTime<Utc> {
    fn from(t: InputDateTime) -> Self {
        t.0
    }
}

/// An instant, RFC 3339 (`2026-03-01T09:30:00Z`, or with an offset such as
/// `+01:00`); the API answers in UTC. Times given to the API must fall in
/// the years 1900 to 9999 (UTC).
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for InputDateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => validate::parse_instant(s)
                .map(Self)
                .map_err(InputValueError::custom),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(s) if validate::parse_instant(s).is_ok())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

/// The first member of the query root. It has no fields; registering it
/// registers [`InputDate`] and [`InputDateTime`] before any output uses
/// chrono's scalars of the same names. async-graphql keeps the first type
/// registered under a name, and validates argument values with its
/// `is_valid`: so a date out of range is refused before anything runs, with
/// the argument named.
#[derive(Debug, Default, Clone, Copy)]
pub struct InputScalarsFirst;

impl ContainerType for InputScalarsFirst {
    async fn resolve_field(&self, _ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        Ok(None)
    }
}

impl OutputType for InputScalarsFirst {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("InputScalarsFirst")
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <InputDate as InputType>::create_type_info(registry);
        <InputDateTime as InputType>::create_type_info(registry);
        registry.create_output_type::<Self, _>(MetaTypeId::Object, |_| MetaType::Object {
            name: Self::type_name().into_owned(),
            description: None,
            fields: Default::default(),
            cache_control: Default::default(),
            extends: false,
            shareable: false,
            resolvable: true,
            keys: None,
            visible: None,
            inaccessible: false,
            interface_object: false,
            tags: Default::default(),
            is_subscription: false,
            rust_typename: Some(std::any::type_name::<Self>()),
            directive_invocations: Default::default(),
            requires_scopes: Default::default(),
        })
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container(ctx, self).await
    }
}

impl ObjectType for InputScalarsFirst {}

/// Says what a `DateTime` or `NaiveDate` argument takes when validation
/// refuses one: async-graphql's message names the argument and the type
/// only ("Invalid value for argument \"input.to\", expected type
/// \"NaiveDate\"").
pub struct DateHints;

impl ExtensionFactory for DateHints {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DateHints)
    }
}

#[async_trait::async_trait]
impl Extension for DateHints {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|mut e| {
                    if let Some(hint) = hint(&e.message) {
                        e.message.push_str(hint);
                    }
                    e
                })
                .collect()
        })
    }
}

/// The explanation to append to a validation message about a date argument.
fn hint(message: &str) -> Option<&'static str> {
    if !message.starts_with("Invalid value for argument") {
        None
    } else if message.ends_with("expected type \"NaiveDate\"") {
        Some(": a day YYYY-MM-DD in the years 1900 to 9999")
    } else if message.ends_with("expected type \"DateTime\"") {
        Some(": an RFC 3339 time such as 2026-03-01T09:30:00Z in the years 1900 to 9999 (UTC)")
    } else {
        None
    }
}
