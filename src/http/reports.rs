//! The KPI report as CSV for spreadsheets and BI tools:
//! `GET /reports/kpis.csv?kpis=WIN_RATE,REVENUE&from=2026-01-01&to=2026-03-31`,
//! behind the same bearer tokens and role policy as `/graphql`, and
//! computed by the same code as the `kpis` query, so the numbers are the
//! same.

use std::{collections::HashMap, fmt::Write as _};

use async_graphql::ID;
use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::NaiveDate;
use entity::enums::Channel;
use sea_orm::Iterable;

use super::{
    AppState,
    graphql::{app_error_response, authenticate, error_response, rate_limited, request_id},
};
use crate::{
    domain::{
        kpi::{Kpi, Unit},
        spreadsheet,
    },
    error::AppError,
    graphql::analytics::AttributionModel,
    graphql::cost,
    graphql::kpi::{
        KpiDimension, KpiFilter, KpiGranularity, KpiResult, KpiValue, KpisInput, compute,
    },
    graphql::scalars::InputDate,
    services::kpis::CohortCache,
};

/// The columns, in order.
const HEADER: &str = "kpi,unit,currency,group,start,end,value,numerator,denominator,mean,target,expected,attainment,status";

fn bad(parameter: &str, message: impl std::fmt::Display) -> AppError {
    AppError::BadUserInput(format!("`{parameter}`: {message}"))
}

fn list(params: &HashMap<String, String>, name: &str) -> Vec<String> {
    params
        .get(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn channels(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<Vec<crate::graphql::enums::Channel>>, AppError> {
    let values = list(params, name);
    if values.is_empty() {
        return Ok(None);
    }
    values
        .iter()
        .map(|v| {
            Channel::iter()
                .find(|c| c.as_str() == v)
                .map(Into::into)
                .ok_or_else(|| bad(name, format!("unknown channel {v}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn day(params: &HashMap<String, String>, name: &str) -> Result<InputDate, AppError> {
    let v = params
        .get(name)
        .ok_or_else(|| bad(name, "required (YYYY-MM-DD)"))?;
    InputDate::parse(v).map_err(|message| bad(name, message))
}

/// Reads the query string into the `kpis` query's input.
fn input(params: &HashMap<String, String>) -> Result<KpisInput, AppError> {
    // The rule of all text given to the API (src/graphql/text.rs).
    if let Some(name) = params
        .iter()
        .find_map(|(k, v)| v.contains('\0').then_some(k))
    {
        return Err(bad(name, "must not contain the NUL character (U+0000)"));
    }
    let kpis = list(params, "kpis")
        .iter()
        .map(|k| {
            Kpi::from_key(k)
                .map(Into::into)
                .ok_or_else(|| bad("kpis", format!("unknown KPI {k}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let group_by = match params.get("groupBy").map(String::as_str) {
        None | Some("") => None,
        Some("SOURCE") => Some(KpiDimension::Source),
        Some("CAMPAIGN") => Some(KpiDimension::Campaign),
        Some("CHANNEL") => Some(KpiDimension::Channel),
        Some("OWNER") => Some(KpiDimension::Owner),
        Some("INDUSTRY") => Some(KpiDimension::Industry),
        Some("OPPORTUNITY_TYPE") => Some(KpiDimension::OpportunityType),
        Some(other) => return Err(bad("groupBy", format!("unknown dimension {other}"))),
    };
    let granularity = match params.get("granularity").map(String::as_str) {
        None | Some("") => None,
        Some("DAY") => Some(KpiGranularity::Day),
        Some("WEEK") => Some(KpiGranularity::Week),
        Some("MONTH") => Some(KpiGranularity::Month),
        Some("QUARTER") => Some(KpiGranularity::Quarter),
        Some(other) => return Err(bad("granularity", format!("unknown granularity {other}"))),
    };
    let attribution_model = match params.get("attributionModel").map(String::as_str) {
        None | Some("") => None,
        Some("FIRST_TOUCH") => Some(AttributionModel::FirstTouch),
        Some("LAST_TOUCH") => Some(AttributionModel::LastTouch),
        Some("LINEAR") => Some(AttributionModel::Linear),
        Some("U_SHAPED") => Some(AttributionModel::UShaped),
        Some("W_SHAPED") => Some(AttributionModel::WShaped),
        Some("TIME_DECAY") => Some(AttributionModel::TimeDecay),
        Some(other) => {
            return Err(bad(
                "attributionModel",
                format!("unknown attribution model {other}"),
            ));
        }
    };
    let ids = |name: &str| {
        let v = list(params, name);
        (!v.is_empty()).then(|| v.into_iter().map(ID).collect())
    };
    let industries = list(params, "industries");
    let target_accounts_only = match params.get("targetAccountsOnly").map(String::as_str) {
        None | Some("") | Some("false") => None,
        Some("true") => Some(true),
        Some(other) => {
            return Err(bad(
                "targetAccountsOnly",
                format!("{other} is not true or false"),
            ));
        }
    };
    Ok(KpisInput {
        kpis,
        from: day(params, "from")?,
        to: day(params, "to")?,
        filter: Some(KpiFilter {
            sources: channels(params, "sources")?,
            campaign_ids: ids("campaignIds"),
            channels: channels(params, "channels")?,
            owner_ids: ids("ownerIds"),
            industries: (!industries.is_empty()).then_some(industries),
            target_accounts_only,
        }),
        group_by,
        granularity,
        currency: params.get("currency").cloned(),
        attribution_model,
    })
}

/// A CSV cell: neutralised so that no spreadsheet runs it as a formula
/// (an industry or group name is anyone's text), then quoted when it needs
/// it (RFC 4180).
fn field(s: &str) -> String {
    let s = spreadsheet::neutralise(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

fn num(x: Option<f64>) -> String {
    x.map(|x| x.to_string()).unwrap_or_default()
}

fn row(out: &mut String, r: &KpiResult, group: &str, start: &str, end: &str, v: &KpiValue) {
    let kpi = Kpi::from(r.kpi).key();
    let unit = match Kpi::from(r.kpi).definition().unit {
        Unit::Count => "COUNT",
        Unit::Ratio => "RATIO",
        Unit::Money => "MONEY",
        Unit::Hours => "HOURS",
        Unit::Days => "DAYS",
        Unit::MoneyPerDay => "MONEY_PER_DAY",
        Unit::Multiple => "MULTIPLE",
    };
    let (target, expected, attainment, status) = match &v.target {
        Some(t) => (
            num(rust_decimal::prelude::ToPrimitive::to_f64(
                &t.target.0.target,
            )),
            num(Some(t.expected)),
            num(t.attainment),
            match t.status {
                crate::graphql::kpi::KpiTargetStatus::OnTrack => "ON_TRACK",
                crate::graphql::kpi::KpiTargetStatus::AtRisk => "AT_RISK",
                crate::graphql::kpi::KpiTargetStatus::OffTrack => "OFF_TRACK",
            }
            .to_owned(),
        ),
        None => Default::default(),
    };
    // Every cell goes through `field`, numbers and names included: none
    // may reach a spreadsheet as a formula.
    let cells = [
        kpi,
        unit,
        r.currency.as_deref().unwrap_or(""),
        group,
        start,
        end,
        &num(v.value),
        &num(v.numerator),
        &num(v.denominator),
        &num(v.mean),
        &target,
        &expected,
        &attainment,
        &status,
    ];
    let cells: Vec<String> = cells.into_iter().map(field).collect();
    let _ = writeln!(out, "{}", cells.join(","));
}

/// Renders the results: per KPI a total row (empty `group`, the whole
/// period), then one row per group or time bucket.
fn csv(results: &[KpiResult], from: NaiveDate, to: NaiveDate) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push('\n');
    let (from, to) = (from.to_string(), to.to_string());
    for r in results {
        row(&mut out, r, "", &from, &to, &r.total);
        for g in &r.groups {
            row(
                &mut out,
                r,
                g.key.as_deref().unwrap_or("(none)"),
                &from,
                &to,
                &g.value,
            );
        }
        for p in &r.series {
            row(
                &mut out,
                r,
                "",
                &p.start.to_string(),
                &p.end.to_string(),
                &p.value,
            );
        }
    }
    out
}

/// `GET /reports/kpis.csv`: the `kpis` query's results as CSV. Parameters
/// as in `KpisInput`, lists comma-separated: `kpis`, `from`, `to`,
/// `groupBy`, `granularity`, `currency`, `sources`, `campaignIds`,
/// `channels`, `ownerIds`, `industries`, `targetAccountsOnly`.
pub async fn kpis_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let rid = request_id(&headers);
    let fail = |e: AppError| {
        let status = match e.code() {
            "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
            "FORBIDDEN" => StatusCode::FORBIDDEN,
            "BAD_USER_INPUT" => StatusCode::BAD_REQUEST,
            "TIMEOUT" => StatusCode::SERVICE_UNAVAILABLE,
            // UNAVAILABLE (503 with Retry-After) and INTERNAL (logged, 500).
            _ => return app_error_response(e, &rid),
        };
        error_response(status, e.code(), &e.public_message(), &rid)
    };
    let viewer = match authenticate(&state, &headers).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let input = match input(&params) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    // Charged to the budget as the `kpis` query with the same KPIs costs.
    let requested = cost::surcharge("kpis") + input.kpis.len();
    if let Some(Err(throttled)) = state.throttle.take(viewer.user_id, requested) {
        return rate_limited(requested, &throttled, &rid);
    }
    crate::telemetry::access::note(|f| f.cost = Some(requested));
    let (from, to) = (input.from.get(), input.to.get());
    let cohorts = CohortCache::default();
    let work = compute(&state.db, &viewer, input, &cohorts);
    let results = match tokio::time::timeout(state.request_timeout, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return fail(e),
        Err(_) => return fail(AppError::Timeout("the report took too long".into())),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"kpis.csv\"",
            ),
        ],
        csv(&results, from, to),
    )
        .into_response()
}
