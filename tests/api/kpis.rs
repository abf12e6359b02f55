//! The KPI engine against a small hand-built history whose expected values
//! are worked out by hand below (not by re-running the engine's SQL), plus
//! the consistency rules, targets, roles and bad input.
//!
//! The history (all 2026 unless said; the period is Q1 2026):
//!
//! | lead | created | source, campaign | MQL at | contact (h after MQL) | SLA due | then |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | L1 | 01-10 | WEBINAR, C1, acct A1 (Software, target) | 01-12 10:00 | 01-12 14:00 (4) | 01-13 10:00 met | SAL 01-13, SQL 01-20, OPPORTUNITY 02-01, CUSTOMER 03-01 |
//! | L2 | 01-20 | PAID_SEARCH, C2, acct A2 (Retail) | 02-02 08:00 | 02-02 20:00 (12) | 02-03 08:00 met | rejected to NURTURE 02-03 |
//! | L3 | 02-15 | WEBINAR, C1, no owner | 02-16 00:00 | none | 02-17 00:00 breached | |
//! | L4 | 03-05 | EMAIL, acct A1 | 03-06 00:00 | 03-06 06:00 (6) | 03-07 00:00 met | SAL 03-07, SQL 03-10 |
//! | L5 | 2025-12-20 | EMAIL | 01-05 00:00 | 01-06 02:00 (26) | 01-06 00:00 late | SAL 01-07 |
//! | L6 | 04-02 | EMAIL | | | | |
//!
//! | deal | lead | created | amount | type | sourced | outcome |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | O1 | L1 | 02-01 | 10,000 USD | NEW_BUSINESS | MARKETING | won 03-01 |
//! | O2 | - | 01-15 | 5,000 USD | EXPANSION | SALES | lost 02-20 |
//! | O3 | L4 | 03-10 | 8,000 USD | NEW_BUSINESS | MARKETING | open (L4's campaign touch is on 03-12, after) |
//! | O4 | - | 01-05 | 2,000 USD | EXPANSION | SALES | won 03-15 |
//! | O5 | - | 01-10 | 3,000 EUR | NEW_BUSINESS | SALES | won 02-10 |
//!
//! Spend (USD): C1 1,000 on 01-10 and 500 on 02-10, C2 300 on 03-01; C1 700
//! on 2025-12-31 (outside).

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    account, activity, campaign, campaign_spend,
    enums::{
        ActivityKind, CampaignObjective, CampaignStatus, Channel, LeadStage, OpportunityStage,
        OpportunityType, Role::*, SourcedBy, StageSubject,
    },
    lead, opportunity, stage_change,
};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};
use test_macros::db_test;
use uuid::Uuid;

use crate::common::{TestApp, gid};

fn t(s: &str) -> DateTime<Utc> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        format!("{s}:00Z")
    };
    full.parse().expect("timestamp")
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

struct Ids {
    c1: Uuid,
    c2: Uuid,
}

async fn add_campaign(app: &TestApp, name: &str, channel: Channel) -> Uuid {
    let id = Uuid::new_v4();
    campaign::ActiveModel {
        id: Set(id),
        created_at: Set(t("2025-10-01")),
        updated_at: Set(t("2025-10-01")),
        name: Set(name.into()),
        channel: Set(channel),
        objective: Set(CampaignObjective::Conversion),
        status: Set(CampaignStatus::Active),
        starts_on: Set(d("2025-10-01")),
        ends_on: Set(None),
        budget: Set(None),
        currency: Set("USD".into()),
        owner_id: Set(None),
        version: Set(1),
        deleted_at: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("campaign");
    id
}

async fn add_account(app: &TestApp, name: &str, industry: &str, target: bool) -> Uuid {
    let id = Uuid::new_v4();
    account::ActiveModel {
        id: Set(id),
        created_at: Set(t("2025-10-01")),
        updated_at: Set(t("2025-10-01")),
        name: Set(name.into()),
        domain: Set(None),
        industry: Set(Some(industry.into())),
        employee_count: Set(None),
        annual_revenue: Set(None),
        currency: Set(None),
        country: Set(None),
        is_target_account: Set(target),
        owner_id: Set(None),
        fit_score: Set(0),
        version: Set(1),
        deleted_at: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("account");
    id
}

struct LeadSpec<'a> {
    created: &'a str,
    source: Channel,
    campaign: Option<Uuid>,
    account: Option<Uuid>,
    owner: Option<Uuid>,
    mql: Option<&'a str>,
    contacted: Option<&'a str>,
    due: Option<&'a str>,
    /// Later moves: (stage, at).
    moves: &'a [(LeadStage, &'a str)],
}

async fn add_lead(app: &TestApp, n: usize, spec: LeadSpec<'_>) -> Uuid {
    let id = Uuid::new_v4();
    let mut history = vec![(None, LeadStage::New, spec.created)];
    let mut stage = LeadStage::New;
    if let Some(m) = spec.mql {
        history.push((Some(LeadStage::New), LeadStage::Mql, m));
        stage = LeadStage::Mql;
    }
    for (to, at) in spec.moves {
        history.push((Some(stage), *to, at));
        stage = *to;
    }
    let last_at = history.last().map(|h| h.2).unwrap_or(spec.created);
    lead::ActiveModel {
        id: Set(id),
        created_at: Set(t(spec.created)),
        updated_at: Set(t(spec.created)),
        email: Set(Some(format!("l{n}@kpi.example"))),
        phone: Set(None),
        first_name: Set(None),
        last_name: Set(None),
        job_title: Set(None),
        seniority: Set(None),
        account_id: Set(spec.account),
        company_name: Set(None),
        country: Set(None),
        source: Set(spec.source),
        source_campaign_id: Set(spec.campaign),
        stage: Set(stage),
        stage_entered_at: Set(t(last_at)),
        owner_id: Set(spec.owner),
        fit_score: Set(0),
        engagement_score: Set(0),
        qualified_under_id: Set(None),
        mql_at: Set(spec.mql.map(t)),
        sla_first_contact_due_at: Set(spec.due.map(t)),
        first_contacted_at: Set(spec.contacted.map(t)),
        sla_disposition_due_at: Set(None),
        dispositioned_at: Set(None),
        sla_status: Set(None),
        rejection_reason: Set(None),
        rejection_note: Set(None),
        recycle_count: Set(0),
        version: Set(1),
        deleted_at: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("lead");
    for (from, to, at) in history {
        stage_change::ActiveModel {
            id: Set(Uuid::new_v4()),
            created_at: Set(t(at)),
            updated_at: Set(t(at)),
            subject_type: Set(StageSubject::Lead),
            subject_id: Set(id),
            from_stage: Set(from.map(|s| s.as_str().to_owned())),
            to_stage: Set(to.as_str().to_owned()),
            at: Set(t(at)),
            actor_id: Set(None),
            reason: Set(None),
        }
        .insert(&app.db)
        .await
        .expect("stage change");
    }
    id
}

#[allow(clippy::too_many_arguments)]
async fn add_deal(
    app: &TestApp,
    lead: Option<Uuid>,
    account: Option<Uuid>,
    owner: Option<Uuid>,
    created: &str,
    amount: i64,
    currency: &str,
    kind: OpportunityType,
    sourced: SourcedBy,
    outcome: Option<(OpportunityStage, &str)>,
) {
    let (stage, closed) = match outcome {
        Some((s, at)) => (s, Some(t(at))),
        None => (OpportunityStage::Proposal, None),
    };
    opportunity::ActiveModel {
        id: Set(Uuid::new_v4()),
        created_at: Set(t(created)),
        updated_at: Set(t(created)),
        name: Set("deal".into()),
        account_id: Set(account),
        primary_lead_id: Set(lead),
        owner_id: Set(owner),
        stage: Set(stage),
        stage_entered_at: Set(closed.unwrap_or(t(created))),
        amount: Set(Decimal::from(amount)),
        currency: Set(currency.into()),
        opportunity_type: Set(kind),
        sourced_by: Set(sourced),
        expected_close_on: Set(None),
        closed_at: Set(closed),
        version: Set(1),
        deleted_at: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("deal");
}

async fn add_spend(app: &TestApp, campaign: Uuid, on: &str, amount: i64) {
    campaign_spend::ActiveModel {
        id: Set(Uuid::new_v4()),
        created_at: Set(t(on)),
        updated_at: Set(t(on)),
        campaign_id: Set(campaign),
        spent_on: Set(d(on)),
        amount: Set(Decimal::from(amount)),
        currency: Set("USD".into()),
        note: Set(None),
        version: Set(1),
        deleted_at: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("spend");
}

async fn fixture(app: &TestApp) -> Ids {
    use LeadStage::*;
    let sales = Some(app.user_id(Sales));
    let c1 = add_campaign(app, "C1", Channel::Webinar).await;
    let c2 = add_campaign(app, "C2", Channel::PaidSearch).await;
    let a1 = add_account(app, "A1", "Software", true).await;
    let a2 = add_account(app, "A2", "Retail", false).await;
    let l1 = add_lead(
        app,
        1,
        LeadSpec {
            created: "2026-01-10",
            source: Channel::Webinar,
            campaign: Some(c1),
            account: Some(a1),
            owner: sales,
            mql: Some("2026-01-12T10:00"),
            contacted: Some("2026-01-12T14:00"),
            due: Some("2026-01-13T10:00"),
            moves: &[
                (Sal, "2026-01-13"),
                (Sql, "2026-01-20"),
                (Opportunity, "2026-02-01"),
                (Customer, "2026-03-01"),
            ],
        },
    )
    .await;
    add_lead(
        app,
        2,
        LeadSpec {
            created: "2026-01-20",
            source: Channel::PaidSearch,
            campaign: Some(c2),
            account: Some(a2),
            owner: sales,
            mql: Some("2026-02-02T08:00"),
            contacted: Some("2026-02-02T20:00"),
            due: Some("2026-02-03T08:00"),
            moves: &[(Nurture, "2026-02-03")],
        },
    )
    .await;
    add_lead(
        app,
        3,
        LeadSpec {
            created: "2026-02-15",
            source: Channel::Webinar,
            campaign: Some(c1),
            account: None,
            owner: None,
            mql: Some("2026-02-16"),
            contacted: None,
            due: Some("2026-02-17"),
            moves: &[],
        },
    )
    .await;
    let l4 = add_lead(
        app,
        4,
        LeadSpec {
            created: "2026-03-05",
            source: Channel::Email,
            campaign: None,
            account: Some(a1),
            owner: sales,
            mql: Some("2026-03-06"),
            contacted: Some("2026-03-06T06:00"),
            due: Some("2026-03-07"),
            moves: &[(Sal, "2026-03-07"), (Sql, "2026-03-10")],
        },
    )
    .await;
    add_lead(
        app,
        5,
        LeadSpec {
            created: "2025-12-20",
            source: Channel::Email,
            campaign: None,
            account: None,
            owner: sales,
            mql: Some("2026-01-05"),
            contacted: Some("2026-01-06T02:00"),
            due: Some("2026-01-06"),
            moves: &[(Sal, "2026-01-07")],
        },
    )
    .await;
    add_lead(
        app,
        6,
        LeadSpec {
            created: "2026-04-02",
            source: Channel::Email,
            campaign: None,
            account: None,
            owner: None,
            mql: None,
            contacted: None,
            due: None,
            moves: &[],
        },
    )
    .await;
    activity::ActiveModel {
        id: Set(Uuid::new_v4()),
        created_at: Set(t("2026-03-12")),
        updated_at: Set(t("2026-03-12")),
        lead_id: Set(l4),
        kind: Set(ActivityKind::WebinarAttended),
        occurred_at: Set(t("2026-03-12")),
        campaign_id: Set(Some(c2)),
        actor_id: Set(None),
        note: Set(None),
        version: Set(1),
        deleted_at: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("activity");
    use OpportunityStage::{ClosedLost, ClosedWon};
    use OpportunityType::{Expansion, NewBusiness};
    use SourcedBy::{Marketing as Mkt, Sales as Sls};
    add_deal(
        app,
        Some(l1),
        Some(a1),
        sales,
        "2026-02-01",
        10_000,
        "USD",
        NewBusiness,
        Mkt,
        Some((ClosedWon, "2026-03-01")),
    )
    .await;
    add_deal(
        app,
        None,
        Some(a2),
        sales,
        "2026-01-15",
        5_000,
        "USD",
        Expansion,
        Sls,
        Some((ClosedLost, "2026-02-20")),
    )
    .await;
    add_deal(
        app,
        Some(l4),
        Some(a1),
        sales,
        "2026-03-10",
        8_000,
        "USD",
        NewBusiness,
        Mkt,
        None,
    )
    .await;
    add_deal(
        app,
        None,
        Some(a2),
        sales,
        "2026-01-05",
        2_000,
        "USD",
        Expansion,
        Sls,
        Some((ClosedWon, "2026-03-15")),
    )
    .await;
    add_deal(
        app,
        None,
        None,
        sales,
        "2026-01-10",
        3_000,
        "EUR",
        NewBusiness,
        Sls,
        Some((ClosedWon, "2026-02-10")),
    )
    .await;
    add_spend(app, c1, "2026-01-10", 1_000).await;
    add_spend(app, c1, "2026-02-10", 500).await;
    add_spend(app, c2, "2026-03-01", 300).await;
    add_spend(app, c1, "2025-12-31", 700).await;
    Ids { c1, c2 }
}

const VALUE: &str = "value numerator denominator mean";

async fn kpis(app: &TestApp, role: entity::enums::Role, input: Value) -> Value {
    let q = format!(
        "query($i: KpisInput!) {{ kpis(input: $i) {{ kpi unit currency total {{ {VALUE} }} groups {{ key value {{ {VALUE} }} }} series {{ start end value {{ {VALUE} }} }} }} }}"
    );
    app.gql(role, &q, json!({ "i": input })).await["kpis"].clone()
}

fn by_kpi<'a>(results: &'a Value, kpi: &str) -> &'a Value {
    results
        .as_array()
        .and_then(|a| a.iter().find(|r| r["kpi"] == kpi))
        .unwrap_or(&Value::Null)
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-6)
}

#[db_test]
async fn every_kpi_matches_the_hand_computed_q1(app: TestApp) {
    fixture(&app).await;
    let all: Vec<&str> = vec![
        "LEADS_CREATED",
        "MQLS",
        "MQL_ACCEPTANCE_RATE",
        "MQL_WORKED_RATE",
        "TIME_TO_FIRST_CONTACT",
        "SLA_COMPLIANCE_RATE",
        "MQL_TO_SQL_RATE",
        "LEAD_TO_OPPORTUNITY_RATE",
        "OPPORTUNITY_TO_WIN_RATE",
        "LEAD_TO_CUSTOMER_RATE",
        "WIN_RATE",
        "AVERAGE_DEAL_SIZE",
        "SALES_CYCLE_DAYS",
        "PIPELINE_VELOCITY",
        "MARKETING_SOURCED_PIPELINE",
        "MARKETING_INFLUENCED_PIPELINE",
        "REVENUE",
        "MARKETING_SPEND",
        "COST_PER_LEAD",
        "COST_PER_MQL",
        "COST_PER_QUALIFIED_OPPORTUNITY",
        "COST_PER_CUSTOMER",
    ];
    let r = kpis(
        &app,
        Leadership,
        json!({ "kpis": all, "from": "2026-01-01", "to": "2026-03-31" }),
    )
    .await;
    // (kpi, value, numerator, denominator); None where not a ratio or mean.
    let expected: &[(&str, f64, Option<f64>, Option<f64>)] = &[
        ("LEADS_CREATED", 4.0, None, None),                    // L1-L4
        ("MQLS", 5.0, None, None),                             // L1-L5 entered MQL in Q1
        ("MQL_ACCEPTANCE_RATE", 0.75, Some(3.0), Some(4.0)),   // L1, L4, L5 accepted; L2 rejected
        ("MQL_WORKED_RATE", 0.8, Some(4.0), Some(5.0)),        // all but L3
        ("TIME_TO_FIRST_CONTACT", 9.0, Some(48.0), Some(4.0)), // 4, 6, 12, 26 h: median 9, mean 12
        ("SLA_COMPLIANCE_RATE", 0.6, Some(3.0), Some(5.0)), // L1, L2, L4 in time; L3 never, L5 late
        ("MQL_TO_SQL_RATE", 0.5, Some(2.0), Some(4.0)),     // L1, L4 of L1-L4
        ("LEAD_TO_OPPORTUNITY_RATE", 0.25, Some(1.0), Some(4.0)),
        ("OPPORTUNITY_TO_WIN_RATE", 1.0, Some(1.0), Some(1.0)),
        ("LEAD_TO_CUSTOMER_RATE", 0.25, Some(1.0), Some(4.0)),
        ("WIN_RATE", 0.75, Some(3.0), Some(4.0)), // O1, O4, O5 won; O2 lost
        ("AVERAGE_DEAL_SIZE", 6000.0, Some(12_000.0), Some(2.0)), // USD only: O1, O4
        ("SALES_CYCLE_DAYS", 50.0, Some(150.0), Some(3.0)), // 50 + 69 + 31 days
        ("PIPELINE_VELOCITY", 90.0, None, None),  // 1 open x 0.75 x 6000 / 50
        ("MARKETING_SOURCED_PIPELINE", 18_000.0, None, None), // O1 + O3
        ("MARKETING_INFLUENCED_PIPELINE", 10_000.0, None, None), // O1 (L4 touched after O3)
        ("REVENUE", 12_000.0, None, None),        // O1 + O4 in USD
        ("MARKETING_SPEND", 1800.0, None, None),
        ("COST_PER_LEAD", 450.0, Some(1800.0), Some(4.0)),
        ("COST_PER_MQL", 360.0, Some(1800.0), Some(5.0)),
        (
            "COST_PER_QUALIFIED_OPPORTUNITY",
            360.0,
            Some(1800.0),
            Some(5.0),
        ), // O1-O5 created in Q1
        ("COST_PER_CUSTOMER", 900.0, Some(1800.0), Some(2.0)), // O1, O5 new business won
    ];
    for (kpi, value, num, den) in expected {
        let total = &by_kpi(&r, kpi)["total"];
        assert!(close(&total["value"], *value), "{kpi}: {total}");
        match num {
            Some(n) => assert!(close(&total["numerator"], *n), "{kpi} numerator: {total}"),
            None => assert!(total["numerator"].is_null(), "{kpi}: {total}"),
        }
        match den {
            Some(n) => assert!(
                close(&total["denominator"], *n),
                "{kpi} denominator: {total}"
            ),
            None => assert!(total["denominator"].is_null(), "{kpi}: {total}"),
        }
    }
    assert!(close(
        &by_kpi(&r, "TIME_TO_FIRST_CONTACT")["total"]["mean"],
        12.0
    ));
    assert_eq!(by_kpi(&r, "REVENUE")["currency"], "USD");
    assert_eq!(by_kpi(&r, "WIN_RATE")["unit"], "RATIO");
    assert!(by_kpi(&r, "WIN_RATE")["currency"].is_null());

    // EUR: only O5 counts.
    let eur = kpis(
        &app,
        Admin,
        json!({ "kpis": ["REVENUE"], "from": "2026-01-01", "to": "2026-03-31", "currency": "EUR" }),
    )
    .await;
    assert!(close(&eur[0]["total"]["value"], 3000.0), "{eur}");
}

#[db_test]
async fn groups_split_revenue_by_type_and_source_and_spend_by_campaign(app: TestApp) {
    let ids = fixture(&app).await;
    let q1 = |kpis: &[&str], group: &str| json!({ "kpis": kpis, "from": "2026-01-01", "to": "2026-03-31", "groupBy": group });
    let r = kpis(&app, Marketing, q1(&["REVENUE"], "OPPORTUNITY_TYPE")).await;
    let groups: Vec<(Value, f64)> = r[0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].clone(), g["value"]["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        groups,
        vec![
            (json!("EXPANSION"), 2000.0),
            (json!("NEW_BUSINESS"), 10_000.0)
        ]
    );

    let r = kpis(&app, Marketing, q1(&["REVENUE"], "SOURCE")).await;
    let groups: Vec<(Value, f64)> = r[0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].clone(), g["value"]["value"].as_f64().unwrap()))
        .collect();
    // O4 has no lead: its revenue is in the null group, last.
    assert_eq!(
        groups,
        vec![(json!("WEBINAR"), 10_000.0), (Value::Null, 2000.0)]
    );

    let r = kpis(
        &app,
        Marketing,
        q1(&["MARKETING_SPEND", "COST_PER_LEAD"], "CAMPAIGN"),
    )
    .await;
    let spend = &r[0]["groups"];
    let c1 = app
        .gql(
            Admin,
            "{ campaigns(first: 10) { nodes { id name } } }",
            json!({}),
        )
        .await;
    let id_of = |name: &str| {
        c1["campaigns"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()["id"]
            .clone()
    };
    let find = |groups: &Value, key: &Value| {
        groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| &g["key"] == key)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert!(
        close(&find(spend, &id_of("C1"))["value"]["value"], 1500.0),
        "{spend}"
    );
    assert!(
        close(&find(spend, &id_of("C2"))["value"]["value"], 300.0),
        "{spend}"
    );
    // Cost per lead for C1: 1500 / 2 leads (L1, L3).
    let cpl = &r[1]["groups"];
    let g = find(cpl, &id_of("C1"));
    assert!(
        close(&g["value"]["value"], 750.0) && close(&g["value"]["denominator"], 2.0),
        "{cpl}"
    );
    let _ = (ids.c1, ids.c2);

    // Industry and target-account filters.
    let r = kpis(
        &app,
        Sales,
        json!({ "kpis": ["LEADS_CREATED", "REVENUE"], "from": "2026-01-01", "to": "2026-03-31",
        "filter": { "targetAccountsOnly": true } }),
    )
    .await;
    assert!(close(&r[0]["total"]["value"], 2.0)); // L1, L4 (A1)
    assert!(close(&r[1]["total"]["value"], 10_000.0)); // O1 (A1)
    let r = kpis(
        &app,
        Sales,
        json!({ "kpis": ["LEADS_CREATED"], "from": "2026-01-01", "to": "2026-03-31",
        "filter": { "industries": ["Retail"], "sources": ["PAID_SEARCH"] } }),
    )
    .await;
    assert!(close(&r[0]["total"]["value"], 1.0)); // L2
}

#[db_test]
async fn monthly_series_has_every_bucket_and_sums_to_the_total(app: TestApp) {
    fixture(&app).await;
    let r = kpis(&app, Reporting, json!({ "kpis": ["LEADS_CREATED", "MQLS", "WIN_RATE", "MARKETING_SPEND", "TIME_TO_FIRST_CONTACT"],
        "from": "2025-11-01", "to": "2026-03-31", "granularity": "MONTH" })).await;
    let leads = &r[0]["series"];
    let points: Vec<(String, String, f64)> = leads
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap().to_owned(),
                p["end"].as_str().unwrap().to_owned(),
                p["value"]["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        points,
        vec![
            ("2025-11-01".into(), "2025-11-30".into(), 0.0), // empty bucket, still there
            ("2025-12-01".into(), "2025-12-31".into(), 1.0), // L5
            ("2026-01-01".into(), "2026-01-31".into(), 2.0), // L1, L2
            ("2026-02-01".into(), "2026-02-28".into(), 1.0), // L3
            ("2026-03-01".into(), "2026-03-31".into(), 1.0), // L4
        ]
    );
    assert!(close(&r[0]["total"]["value"], 5.0));
    // Spend by month: Dec 700, Jan 1000, Feb 500, Mar 300.
    let spend: Vec<f64> = r[3]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"]["value"].as_f64().unwrap())
        .collect();
    assert_eq!(spend, vec![0.0, 700.0, 1000.0, 500.0, 300.0]);
    // Win rate buckets: Feb 1/2 (O5 won, O2 lost), Mar 2/2; Nov-Jan undefined.
    let win = &r[2]["series"];
    assert!(win[0]["value"]["value"].is_null() && close(&win[0]["value"]["denominator"], 0.0));
    assert!(close(&win[3]["value"]["value"], 0.5) && close(&win[4]["value"]["value"], 1.0));
    // Median per bucket: Jan has L1 (4 h) and L5 (26 h): 15.
    assert!(
        close(&r[4]["series"][2]["value"]["value"], 15.0),
        "{}",
        r[4]["series"]
    );
}

#[db_test]
async fn a_deleted_lead_counts_in_no_kpi_total_or_bucket(app: TestApp) {
    use LeadStage::*;
    fixture(&app).await;
    // L7: created, MQL and accepted in January, then deleted.
    let l7 = add_lead(
        &app,
        7,
        LeadSpec {
            created: "2026-01-15",
            source: Channel::Email,
            campaign: None,
            account: None,
            owner: None,
            mql: Some("2026-01-16T00:00"),
            contacted: Some("2026-01-16T03:00"),
            due: Some("2026-01-17T00:00"),
            moves: &[(Sal, "2026-01-17")],
        },
    )
    .await;
    let kpis_l7 = json!([
        "LEADS_CREATED",
        "MQLS",
        "MQL_ACCEPTANCE_RATE",
        "MQL_WORKED_RATE",
        "COST_PER_MQL"
    ]);
    let before = kpis(
        &app,
        Leadership,
        json!({ "kpis": kpis_l7, "from": "2026-01-01", "to": "2026-03-31" }),
    )
    .await;
    assert!(
        close(&by_kpi(&before, "MQLS")["total"]["value"], 6.0),
        "{before}"
    );
    let deleted = app
        .gql(
            Admin,
            "mutation($id: ID!) { deleteLead(input: {id: $id}) { deletedLeadId } }",
            json!({ "id": gid("Lead", l7) }),
        )
        .await;
    assert_eq!(deleted["deleteLead"]["deletedLeadId"], gid("Lead", l7));
    // Back to the hand-computed Q1 of the fixture.
    let r = kpis(
        &app,
        Leadership,
        json!({ "kpis": kpis_l7, "from": "2026-01-01", "to": "2026-03-31" }),
    )
    .await;
    let expected: &[(&str, f64, Option<f64>)] = &[
        ("LEADS_CREATED", 4.0, None),
        ("MQLS", 5.0, None),
        ("MQL_ACCEPTANCE_RATE", 0.75, Some(4.0)),
        ("MQL_WORKED_RATE", 0.8, Some(5.0)),
        ("COST_PER_MQL", 360.0, Some(5.0)),
    ];
    for (kpi, value, den) in expected {
        let total = &by_kpi(&r, kpi)["total"];
        assert!(close(&total["value"], *value), "{kpi}: {total}");
        if let Some(den) = den {
            assert!(close(&total["denominator"], *den), "{kpi}: {total}");
        }
    }
    // January's buckets too: L1 and L2 created, L1 and L5 MQL.
    let r = kpis(&app, Leadership, json!({ "kpis": kpis_l7, "from": "2026-01-01", "to": "2026-03-31", "granularity": "MONTH" })).await;
    let january = |kpi: &str| by_kpi(&r, kpi)["series"][0]["value"].clone();
    assert!(close(&january("LEADS_CREATED")["value"], 2.0), "{r}");
    assert!(close(&january("MQLS")["value"], 2.0), "{r}");
    // January's dispositions: L1 and L5 accepted, 2 of 2.
    assert!(
        close(&january("MQL_ACCEPTANCE_RATE")["denominator"], 2.0),
        "{r}"
    );
}

#[db_test]
async fn grouped_counts_and_buckets_add_up_and_ratios_are_numerator_over_denominator(app: TestApp) {
    fixture(&app).await;
    let kpis_all = [
        "LEADS_CREATED",
        "MQLS",
        "MQL_ACCEPTANCE_RATE",
        "MQL_WORKED_RATE",
        "SLA_COMPLIANCE_RATE",
        "MQL_TO_SQL_RATE",
        "LEAD_TO_CUSTOMER_RATE",
        "WIN_RATE",
        "AVERAGE_DEAL_SIZE",
        "SALES_CYCLE_DAYS",
        "MARKETING_SOURCED_PIPELINE",
        "REVENUE",
        "MARKETING_SPEND",
        "COST_PER_MQL",
    ];
    let period = json!({ "from": "2025-12-01", "to": "2026-03-31" });
    let total = kpis(
        &app,
        Admin,
        json!({ "kpis": kpis_all, "from": period["from"], "to": period["to"] }),
    )
    .await;
    // The part that adds up: the numerator (or the value for counts and amounts), and the denominator.
    let parts = |v: &Value| -> (f64, f64) {
        match v["numerator"].as_f64() {
            Some(n) => (n, v["denominator"].as_f64().unwrap_or(0.0)),
            None => (v["value"].as_f64().unwrap_or(0.0), 0.0),
        }
    };
    let check_ratio = |v: &Value, what: &str| {
        if let (Some(n), Some(d)) = (v["numerator"].as_f64(), v["denominator"].as_f64()) {
            if d == 0.0 {
                assert!(v["value"].is_null(), "{what}: {v}");
            } else {
                assert!(
                    (v["value"].as_f64().unwrap() - n / d).abs() < 0.01,
                    "{what}: {v}"
                );
            }
        }
    };
    for group in ["SOURCE", "CAMPAIGN", "CHANNEL"] {
        let grouped = kpis(&app, Admin, json!({ "kpis": kpis_all, "from": period["from"], "to": period["to"], "groupBy": group })).await;
        for (i, kpi) in kpis_all.iter().enumerate() {
            let (mut n, mut d) = (0.0, 0.0);
            for g in grouped[i]["groups"].as_array().unwrap() {
                let (gn, gd) = parts(&g["value"]);
                n += gn;
                d += gd;
                check_ratio(&g["value"], kpi);
            }
            let (tn, td) = parts(&total[i]["total"]);
            assert!(
                (n - tn).abs() < 0.01 && (d - td).abs() < 0.01,
                "{kpi} by {group}: {n}/{d} vs {tn}/{td}"
            );
            assert_eq!(grouped[i]["total"], total[i]["total"], "{kpi} by {group}");
        }
    }
    for granularity in ["WEEK", "MONTH", "QUARTER"] {
        let series = kpis(&app, Admin, json!({ "kpis": kpis_all, "from": period["from"], "to": period["to"], "granularity": granularity })).await;
        for (i, kpi) in kpis_all.iter().enumerate() {
            let (mut n, mut d) = (0.0, 0.0);
            for p in series[i]["series"].as_array().unwrap() {
                let (pn, pd) = parts(&p["value"]);
                n += pn;
                d += pd;
                check_ratio(&p["value"], kpi);
            }
            let (tn, td) = parts(&total[i]["total"]);
            assert!(
                (n - tn).abs() < 0.01 && (d - td).abs() < 0.01,
                "{kpi} by {granularity}: {n}/{d} vs {tn}/{td}"
            );
        }
    }
    for kpi in total.as_array().unwrap() {
        check_ratio(&kpi["total"], kpi["kpi"].as_str().unwrap());
    }
}

#[db_test]
async fn every_kpi_answers_for_every_filter_grouping_and_series_it_accepts(app: TestApp) {
    let ids = fixture(&app).await;
    let defs = app
        .gql(
            Admin,
            "{ kpiDefinitions { kpi groupBy timeSeries } }",
            json!({}),
        )
        .await;
    let defs = defs["kpiDefinitions"].as_array().unwrap().clone();
    let every = json!({
        "sources": ["WEBINAR"], "campaignIds": [gid("Campaign", ids.c1)], "channels": ["WEBINAR"],
        "ownerIds": [app.user_gid(Sales)], "industries": ["Software"], "targetAccountsOnly": true,
    });
    let mut filters = vec![json!({}), every.clone()];
    filters.extend(
        every
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| json!({ k: v })),
    );
    // A KPI over leads or deals takes every filter; one over spend only
    // the dimensions it is grouped by (CAMPAIGN_ROI: campaigns only).
    let takes = |def: &Value, filter: &Value| {
        let dims = def["groupBy"].as_array().unwrap();
        dims.is_empty()
            || dims.contains(&json!("OWNER"))
            || filter.as_object().unwrap().keys().all(|k| {
                let dim = match k.as_str() {
                    "sources" => "SOURCE",
                    "campaignIds" => "CAMPAIGN",
                    "channels" => "CHANNEL",
                    _ => "",
                };
                dims.contains(&json!(dim))
            })
    };
    let mut splits: Vec<(&str, Value)> = vec![("", Value::Null), ("granularity", json!("MONTH"))];
    for d in [
        "SOURCE",
        "CAMPAIGN",
        "CHANNEL",
        "OWNER",
        "INDUSTRY",
        "OPPORTUNITY_TYPE",
    ] {
        splits.push(("groupBy", json!(d)));
    }
    let q = "query($i: KpisInput!) { kpis(input: $i) { kpi total { value } groups { key } series { start } } }";
    let mut requests = 0;
    for filter in &filters {
        for (argument, value) in &splits {
            let kpis: Vec<Value> = defs
                .iter()
                .filter(|d| takes(d, filter))
                .filter(|d| match *argument {
                    "groupBy" => d["groupBy"].as_array().unwrap().contains(value),
                    "granularity" => d["timeSeries"] == true,
                    _ => true,
                })
                .map(|d| d["kpi"].clone())
                .collect();
            let mut input =
                json!({ "kpis": kpis, "from": "2026-01-01", "to": "2026-03-31", "filter": filter });
            if !argument.is_empty() {
                input[*argument] = value.clone();
            }
            let body = app.post(Admin, q, json!({ "i": input })).await.1;
            assert!(body["errors"].is_null(), "{input}: {body}");
            let answered: Vec<Value> = body["data"]["kpis"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["kpi"].clone())
                .collect();
            assert_eq!(answered, kpis, "{input}");
            requests += 1;
        }
    }
    assert_eq!(requests, 64);
}

#[db_test]
async fn every_reading_role_gets_identical_numbers(app: TestApp) {
    fixture(&app).await;
    let all: Vec<Value> = app
        .gql(Admin, "{ kpiDefinitions { kpi } }", json!({}))
        .await["kpiDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kpi"].clone())
        .collect();
    let inputs = [
        json!({ "kpis": all, "from": "2026-01-01", "to": "2026-03-31" }),
        json!({ "kpis": ["LEADS_CREATED", "WIN_RATE", "REVENUE"], "from": "2026-01-01", "to": "2026-03-31", "groupBy": "OWNER" }),
        json!({ "kpis": ["MQLS", "TIME_TO_FIRST_CONTACT", "MARKETING_SPEND"], "from": "2025-10-01", "to": "2026-03-31", "granularity": "MONTH" }),
    ];
    for input in inputs {
        let reference = kpis(&app, Admin, input.clone()).await;
        assert!(reference.is_array(), "{reference}");
        for role in [Marketing, Sales, Leadership, Reporting] {
            assert_eq!(kpis(&app, role, input.clone()).await, reference, "{role:?}");
        }
        assert_eq!(
            app.error_code(
                Integration,
                "query($i: KpisInput!) { kpis(input: $i) { kpi } }",
                json!({ "i": input })
            )
            .await
            .as_deref(),
            Some("FORBIDDEN")
        );
    }
}

#[db_test]
async fn bad_kpi_input_is_refused_naming_the_argument(app: TestApp) {
    let cases = [
        (
            json!({ "kpis": ["LEADS_CREATED"], "from": "2026-02-01", "to": "2026-01-01" }),
            "`input.from`",
        ),
        (
            json!({ "kpis": ["LEADS_CREATED"], "from": "2024-01-01", "to": "2026-12-31", "granularity": "DAY" }),
            "`input.granularity`",
        ),
        (
            json!({ "kpis": ["LEADS_CREATED"], "from": "2026-01-01", "to": "2026-01-31", "groupBy": "OPPORTUNITY_TYPE" }),
            "`input.groupBy`",
        ),
        (
            json!({ "kpis": ["MARKETING_SPEND"], "from": "2026-01-01", "to": "2026-01-31", "groupBy": "OWNER" }),
            "`input.groupBy`",
        ),
        (
            json!({ "kpis": ["COST_PER_LEAD"], "from": "2026-01-01", "to": "2026-01-31", "filter": { "ownerIds": [app.user_gid(Sales)] } }),
            "`input.filter.ownerIds`",
        ),
        (
            json!({ "kpis": ["PIPELINE_VELOCITY"], "from": "2026-01-01", "to": "2026-03-31", "granularity": "MONTH" }),
            "`input.granularity`",
        ),
        (
            json!({ "kpis": ["REVENUE"], "from": "2026-01-01", "to": "2026-03-31", "granularity": "MONTH", "groupBy": "SOURCE" }),
            "`input.groupBy`",
        ),
        (
            json!({ "kpis": [], "from": "2026-01-01", "to": "2026-03-31" }),
            "`input.kpis`",
        ),
        (
            json!({ "kpis": ["REVENUE"], "from": "2026-01-01", "to": "2026-03-31", "currency": "usd" }),
            "`input.currency`",
        ),
    ];
    for (input, argument) in cases {
        let body = app
            .post(
                Admin,
                "query($i: KpisInput!) { kpis(input: $i) { kpi } }",
                json!({ "i": input }),
            )
            .await
            .1;
        let error = &body["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{input}: {body}"
        );
        assert!(
            error["message"].as_str().unwrap().contains(argument),
            "{input}: {body}"
        );
    }
    // An unknown KPI or dimension is refused by the schema, naming the value.
    let body = app
        .post(
            Admin,
            "{ kpis(input: {kpis: [LEADS], from: \"2026-01-01\", to: \"2026-01-31\"}) { kpi } }",
            json!({}),
        )
        .await
        .1;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("LEADS"),
        "{body}"
    );
}

#[db_test]
async fn definitions_are_served_for_every_kpi(app: TestApp) {
    let defs = app.gql(Reporting, "{ kpiDefinitions { kpi name formula numerator denominator timestamps unit groupBy timeSeries cumulative } }", json!({})).await;
    let defs = defs["kpiDefinitions"].as_array().unwrap();
    assert_eq!(defs.len(), 25);
    let loss = defs.iter().find(|d| d["kpi"] == "LOSS_REASONS").unwrap();
    assert_eq!(
        (
            loss["unit"].clone(),
            loss["groupBy"].clone(),
            loss["timeSeries"].clone()
        ),
        (json!("RATIO"), json!([]), json!(false))
    );
    assert!(defs.iter().any(|d| d["kpi"] == "COMPETITOR_WIN_RATES"));
    let win = defs.iter().find(|d| d["kpi"] == "WIN_RATE").unwrap();
    assert_eq!(win["unit"], "RATIO");
    assert_eq!(win["timestamps"], "opportunity closedAt");
    assert!(win["numerator"].as_str().unwrap().contains("won"));
    assert!(
        win["groupBy"]
            .as_array()
            .unwrap()
            .contains(&json!("OPPORTUNITY_TYPE"))
    );
}

#[db_test]
async fn targets_carry_attainment_and_status_and_only_leadership_and_admin_set_them(app: TestApp) {
    fixture(&app).await;
    let set = "mutation($i: SetKpiTargetInput!) { setKpiTarget(input: $i) { kpiTarget { id target direction version } userErrors { field code } } }";
    // Q1 is over (the clock is past it), so nothing is pro-rated.
    let r = app.gql(Leadership, set, json!({ "i": { "kpi": "WIN_RATE", "periodKind": "QUARTER", "periodStart": "2026-01-01", "target": 0.8, "direction": "AT_LEAST" } })).await;
    assert!(
        r["setKpiTarget"]["userErrors"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{r}"
    );
    app.gql(Admin, set, json!({ "i": { "kpi": "COST_PER_LEAD", "periodKind": "QUARTER", "periodStart": "2026-01-01", "target": 500, "direction": "AT_MOST" } })).await;
    app.gql(Admin, set, json!({ "i": { "kpi": "LEADS_CREATED", "periodKind": "MONTH", "periodStart": "2026-01-01", "target": 4, "direction": "AT_LEAST" } })).await;
    app.gql(Admin, set, json!({ "i": { "kpi": "LEADS_CREATED", "periodKind": "QUARTER", "periodStart": "2026-01-01", "target": 3,
        "direction": "AT_LEAST", "segment": { "dimension": "SOURCE", "value": "WEBINAR" } } })).await;
    // Setting the same target again updates it.
    let again = app.gql(Leadership, set, json!({ "i": { "kpi": "WIN_RATE", "periodKind": "QUARTER", "periodStart": "2026-01-01", "target": 0.7, "direction": "AT_LEAST" } })).await;
    assert_eq!(again["setKpiTarget"]["kpiTarget"]["version"], 2);

    let q = "query($i: KpisInput!) { kpis(input: $i) { kpi total { value target { expected attainment status target { target } } }
        groups { key value { value target { status attainment } } } series { start value { value target { status attainment expected } } } } }";
    let r = app.gql(Reporting, q, json!({ "i": { "kpis": ["WIN_RATE", "COST_PER_LEAD"], "from": "2026-01-01", "to": "2026-03-31" } })).await;
    // Win rate 0.75 against 0.7: attainment 0.75 / 0.7, on track.
    let win = &r["kpis"][0]["total"]["target"];
    assert_eq!(win["status"], "ON_TRACK");
    assert!(close(&win["attainment"], 0.75 / 0.7));
    assert!(close(&win["target"]["target"], 0.7));
    // Cost per lead 450 against a ceiling of 500: attainment 500 / 450, on track.
    let cpl = &r["kpis"][1]["total"]["target"];
    assert_eq!(cpl["status"], "ON_TRACK");
    assert!(close(&cpl["attainment"], 500.0 / 450.0));
    // Monthly series: January has 2 leads against 4: attainment 0.5, off track. February has no target.
    let r = app.gql(Reporting, q, json!({ "i": { "kpis": ["LEADS_CREATED"], "from": "2026-01-01", "to": "2026-03-31", "granularity": "MONTH" } })).await;
    let jan = &r["kpis"][0]["series"][0]["value"]["target"];
    assert_eq!(jan["status"], "OFF_TRACK");
    assert!(close(&jan["attainment"], 0.5) && close(&jan["expected"], 4.0));
    assert!(r["kpis"][0]["series"][1]["value"]["target"].is_null());
    // Segment targets apply to the group and to a single-value filter: WEBINAR had 2 of 3 (0.667 < 0.9): off track.
    let r = app.gql(Reporting, q, json!({ "i": { "kpis": ["LEADS_CREATED"], "from": "2026-01-01", "to": "2026-03-31", "groupBy": "SOURCE" } })).await;
    let webinar = r["kpis"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "WEBINAR")
        .unwrap()
        .clone();
    assert_eq!(webinar["value"]["target"]["status"], "OFF_TRACK");
    assert!(r["kpis"][0]["total"]["target"].is_null());
    let r = app.gql(Reporting, q, json!({ "i": { "kpis": ["LEADS_CREATED"], "from": "2026-01-01", "to": "2026-03-31", "filter": { "sources": ["WEBINAR"] } } })).await;
    assert_eq!(r["kpis"][0]["total"]["target"]["status"], "OFF_TRACK");

    // Roles and validation.
    for role in [Marketing, Sales, Integration, Reporting] {
        let code = app.error_code(role, set, json!({ "i": { "kpi": "MQLS", "periodKind": "MONTH", "periodStart": "2026-01-01", "target": 1, "direction": "AT_LEAST" } })).await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
    }
    let bad = app.gql(Admin, set, json!({ "i": { "kpi": "WIN_RATE", "periodKind": "QUARTER", "periodStart": "2026-02-01", "target": 30, "direction": "AT_LEAST" } })).await;
    let fields: Vec<Value> = bad["setKpiTarget"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(
        fields,
        vec![json!(["input", "periodStart"]), json!(["input", "target"])]
    );

    let list = app.gql(Sales, "{ kpiTargets(kpis: [LEADS_CREATED]) { id kpi periodKind segmentDimension segmentValue } }", json!({})).await;
    let list = list["kpiTargets"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let id = list[0]["id"].clone();
    let del = app.gql(Leadership, "mutation($id: ID!) { deleteKpiTarget(input: {id: $id}) { deletedKpiTargetId userErrors { code } } }", json!({ "id": id })).await;
    assert_eq!(del["deleteKpiTarget"]["deletedKpiTargetId"], id);
    let list = app
        .gql(
            Sales,
            "{ kpiTargets(kpis: [LEADS_CREATED]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(list["kpiTargets"].as_array().unwrap().len(), 1);
}

#[db_test]
async fn the_funnel_follows_the_q1_cohort(app: TestApp) {
    fixture(&app).await;
    let q = "query($i: FunnelInput!) { funnel(input: $i) { from to stages { stage count conversionFromPrevious { value numerator denominator } conversionFromTop { value } medianDaysFromPrevious } } }";
    let r = app
        .gql(
            Reporting,
            q,
            json!({ "i": { "from": "2026-01-01", "to": "2026-03-31" } }),
        )
        .await;
    let stages = r["funnel"]["stages"].as_array().unwrap();
    let counts: Vec<(String, i64)> = stages
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_owned(),
                s["count"].as_i64().unwrap(),
            )
        })
        .collect();
    // Cohort L1-L4: all reached MQL; L1 and L4 SAL and SQL; L1 opportunity and won.
    assert_eq!(
        counts,
        vec![
            ("LEAD".into(), 4),
            ("MQL".into(), 4),
            ("SAL".into(), 2),
            ("SQL".into(), 2),
            ("OPPORTUNITY".into(), 1),
            ("WON".into(), 1)
        ]
    );
    assert!(stages[0]["conversionFromPrevious"].is_null());
    let conv: Vec<f64> = stages[1..]
        .iter()
        .map(|s| s["conversionFromPrevious"]["value"].as_f64().unwrap())
        .collect();
    assert_eq!(conv, vec![1.0, 0.5, 1.0, 0.5, 1.0]);
    assert_eq!(stages[2]["conversionFromPrevious"]["numerator"], 2.0);
    assert_eq!(stages[2]["conversionFromPrevious"]["denominator"], 4.0);
    assert!(close(&stages[5]["conversionFromTop"]["value"], 0.25));
    // Days: created -> MQL 2.4167, 13.333, 1, 1 -> median (1 + 2.4167) / 2;
    // MQL -> SAL 14 h and 1 d; SAL -> SQL 7 and 3; SQL -> opportunity 12; -> won 28.
    let medians: Vec<f64> = stages[1..]
        .iter()
        .map(|s| s["medianDaysFromPrevious"].as_f64().unwrap())
        .collect();
    let expected = [
        (1.0 + 2.0 + 10.0 / 24.0) / 2.0,
        (14.0 / 24.0 + 1.0) / 2.0,
        5.0,
        12.0,
        28.0,
    ];
    for (m, e) in medians.iter().zip(expected) {
        assert!((m - e).abs() < 1e-6, "{medians:?} vs {expected:?}");
    }
    // A segment: WEBINAR leads are L1 and L3.
    let r = app.gql(Marketing, q, json!({ "i": { "from": "2026-01-01", "to": "2026-03-31", "filter": { "sources": ["WEBINAR"] } } })).await;
    let counts: Vec<i64> = r["funnel"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, vec![2, 2, 1, 1, 1, 1]);
    // The funnel's rates are the cohort KPIs.
    let k = kpis(&app, Marketing, json!({ "kpis": ["MQL_TO_SQL_RATE", "LEAD_TO_CUSTOMER_RATE"], "from": "2026-01-01", "to": "2026-03-31" })).await;
    assert!(close(&k[0]["total"]["value"], 2.0 / 4.0) && close(&k[1]["total"]["value"], 1.0 / 4.0));
    let body = app
        .post(
            Admin,
            q,
            json!({ "i": { "from": "2026-04-01", "to": "2026-03-31" } }),
        )
        .await
        .1;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`input.from`"),
        "{body}"
    );
}

#[db_test]
async fn the_funnel_next_to_the_cohort_kpis_costs_no_extra_statement(app: TestApp) {
    fixture(&app).await;
    let cohort_kpis = "kpis(input: {kpis: [MQL_TO_SQL_RATE, LEAD_TO_OPPORTUNITY_RATE, OPPORTUNITY_TO_WIN_RATE, LEAD_TO_CUSTOMER_RATE], from: \"2026-01-01\", to: \"2026-03-31\"}) { kpi total { numerator denominator } }";
    let funnel = "funnel(input: {from: \"2026-01-01\", to: \"2026-03-31\"}) { stages { count } }";
    app.reset_queries();
    app.gql(Leadership, &format!("{{ {cohort_kpis} }}"), json!({}))
        .await;
    let alone = app.queries();
    app.reset_queries();
    let r = app
        .gql(
            Leadership,
            &format!("{{ {cohort_kpis} {funnel} }}"),
            json!({}),
        )
        .await;
    assert_eq!(app.queries(), alone, "the funnel ran its own cohort pass");
    // One pass, the same numbers: MQL_TO_SQL_RATE is SQL / MQL,
    // LEAD_TO_OPPORTUNITY_RATE opportunity / leads,
    // OPPORTUNITY_TO_WIN_RATE won / opportunity, LEAD_TO_CUSTOMER_RATE
    // won / leads.
    let n: Vec<f64> = r["funnel"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_f64().unwrap())
        .collect();
    assert_eq!(n, vec![4.0, 4.0, 2.0, 2.0, 1.0, 1.0]);
    let parts: Vec<(f64, f64)> = r["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["total"]["numerator"].as_f64().unwrap(),
                k["total"]["denominator"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        vec![(n[3], n[1]), (n[4], n[0]), (n[5], n[4]), (n[5], n[0])]
    );
}

#[db_test]
async fn the_csv_report_has_the_same_numbers_behind_the_same_auth(app: TestApp) {
    fixture(&app).await;
    let url = format!(
        "{}/reports/kpis.csv?kpis=LEADS_CREATED,WIN_RATE,REVENUE&from=2026-01-01&to=2026-03-31&granularity=MONTH",
        app.base
    );
    let get = |role: Option<entity::enums::Role>, url: String| {
        let mut req = app.client.get(url);
        if let Some(role) = role {
            req = req.bearer_auth(app.token(role));
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let ctype = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, ctype, res.text().await.unwrap())
        }
    };
    let (status, ctype, body) = get(Some(Reporting), url.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ctype.as_deref(), Some("text/csv; charset=utf-8"));
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "kpi,unit,currency,group,start,end,value,numerator,denominator,mean,target,expected,attainment,status"
    );
    // Per KPI: a total row and three monthly rows.
    assert_eq!(lines.len(), 1 + 3 * 4);
    assert!(
        lines.contains(&"WIN_RATE,RATIO,,,2026-01-01,2026-03-31,0.75,3,4,,,,,"),
        "{body}"
    );
    assert!(
        lines.contains(&"LEADS_CREATED,COUNT,,,2026-01-01,2026-01-31,2,,,,,,,"),
        "{body}"
    );
    assert!(
        lines.contains(&"REVENUE,MONEY,USD,,2026-03-01,2026-03-31,12000,,,,,,,"),
        "{body}"
    );
    // The same numbers as the GraphQL query, row by row.
    let r = kpis(&app, Reporting, json!({ "kpis": ["LEADS_CREATED", "WIN_RATE", "REVENUE"], "from": "2026-01-01", "to": "2026-03-31", "granularity": "MONTH" })).await;
    for k in r.as_array().unwrap() {
        for p in k["series"].as_array().unwrap() {
            let value = p["value"]["value"]
                .as_f64()
                .map(|v| v.to_string())
                .unwrap_or_default();
            let prefix = format!("{},", k["kpi"].as_str().unwrap());
            let needle = format!(
                ",{},{},{value},",
                p["start"].as_str().unwrap(),
                p["end"].as_str().unwrap()
            );
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(&prefix) && l.contains(&needle)),
                "{prefix} {needle} in {body}"
            );
        }
    }
    // Grouped, with a filter.
    let (status, _, body) = get(Some(Marketing), format!("{}/reports/kpis.csv?kpis=REVENUE&from=2026-01-01&to=2026-03-31&groupBy=OPPORTUNITY_TYPE", app.base)).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("REVENUE,MONEY,USD,EXPANSION,2026-01-01,2026-03-31,2000,"),
        "{body}"
    );
    // Same auth and policy as /graphql; bad parameters are named.
    assert_eq!(get(None, url.clone()).await.0, 401);
    assert_eq!(get(Some(Integration), url.clone()).await.0, 403);
    let (status, _, body) = get(
        Some(Admin),
        format!(
            "{}/reports/kpis.csv?kpis=NOPE&from=2026-01-01&to=2026-03-31",
            app.base
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("`kpis`") && body.contains("BAD_USER_INPUT"),
        "{body}"
    );
    let (status, _, body) = get(
        Some(Admin),
        format!(
            "{}/reports/kpis.csv?kpis=REVENUE&from=2026-04-01&to=2026-03-31",
            app.base
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("`input.from`"), "{body}");
}

#[db_test]
async fn the_csv_report_shows_a_hostile_industry_as_text_not_as_a_formula(app: TestApp) {
    let hostile = r#"=HYPERLINK("http://evil.example","x")"#;
    for (industry, email) in [(hostile, "a@evil.example"), ("-Services", "b@svc.example")] {
        let data = app
            .gql(Admin, "mutation($i: CreateAccountInput!) { createAccount(input: $i) { account { id } userErrors { message } } }", json!({ "i": { "name": email, "industry": industry } }))
            .await;
        let account = data["createAccount"]["account"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{data}"))
            .to_owned();
        app.create_lead(email, json!({ "accountId": account }))
            .await;
    }
    let today = Utc::now().date_naive();
    let res = app
        .client
        .get(format!(
            "{}/reports/kpis.csv?kpis=LEADS_CREATED&from={today}&to={today}&groupBy=INDUSTRY",
            app.base
        ))
        .bearer_auth(app.token(Reporting))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    // Groups in key order: "-Services" before "=HYPERLINK..."; each cell
    // that would start a formula starts with a quote, then CSV quoting.
    assert_eq!(
        lines[1..],
        [
            format!("LEADS_CREATED,COUNT,,,{today},{today},2,,,,,,,"),
            format!("LEADS_CREATED,COUNT,,'-Services,{today},{today},1,,,,,,,"),
            format!(
                r#"LEADS_CREATED,COUNT,,"'=HYPERLINK(""http://evil.example"",""x"")",{today},{today},1,,,,,,,"#
            ),
        ],
        "{body}"
    );
}
