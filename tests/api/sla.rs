//! The SLA sweep: time alone moves an MQL from ON_TRACK to AT_RISK to
//! BREACHED, once, with one event each, even when sweeps race.
//!
//! Leads are set up through the server; the sweep is called directly with
//! controlled times, and the lead is read back over GraphQL.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use entity::{
    change_log,
    enums::Role::{self, *},
    event::{self, EventKind},
    lead,
};
use handoff::{
    config::Config,
    services::sla::{SweepReport, sweep},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use test_macros::db_test;
use uuid::Uuid;

use crate::common::{
    Instance, TestApp, each_backend_with, eventually, gid, lead_definition, manual_clock,
};

const LEAD: &str = "query($id: ID!) { node(id: $id) { ... on Lead { stage mqlAt slaStatus slaFirstContactDueAt slaDispositionDueAt firstContactedAt dispositionedAt owner { id } version } } }";

/// Approves the shared definition (fit 80 for the ideal lead, a DEMO_REQUEST
/// 40 engagement, MQL at fit 50 and engagement 30; 24 h to first contact,
/// 48 h to disposition); open leads that meet it become MQL now.
async fn approve(app: &TestApp) {
    app.approve_definition(lead_definition(50, 30)).await;
}

/// An account that fits the definition.
async fn fitting_account(app: &TestApp) -> String {
    app.gql(Admin, "mutation { createAccount(input: {name: \"Fitco\", industry: \"software\", employeeCount: 250, country: \"US\"}) { account { id } } }", json!({}))
        .await["createAccount"]["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A VP at `account` who asked for a demo: MQL as soon as a definition is
/// approved (or at once, if one already is).
async fn ideal_lead(app: &TestApp, account: &str, email: &str) -> String {
    let lead = app
        .create_lead(
            email,
            json!({ "accountId": account, "seniority": "VP", "jobTitle": "VP Engineering" }),
        )
        .await;
    activity(app, Marketing, &lead, "DEMO_REQUEST").await;
    lead
}

async fn activity(app: &TestApp, role: Role, lead: &str, kind: &str) -> Value {
    let data = app
        .gql(
            role,
            "mutation($i: RecordActivityInput!) { recordActivity(input: $i) { lead { stage slaStatus } userErrors { field code } } }",
            json!({ "i": { "leadId": lead, "kind": kind } }),
        )
        .await;
    assert_eq!(data["recordActivity"]["userErrors"], json!([]), "{data}");
    data["recordActivity"].clone()
}

async fn lead(app: &TestApp, id: &str) -> Value {
    app.gql(Admin, LEAD, json!({ "id": id })).await["node"].clone()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// The uuid inside a global id.
fn uuid_of(gid: &str) -> Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(gid)
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    Uuid::parse_str(raw.split_once(':').unwrap().1).unwrap()
}

fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

async fn run(app: &TestApp, at: DateTime<Utc>) -> SweepReport {
    sweep(&app.db, at).await.expect("sweep")
}

/// The events about these subjects, in stream order.
/// The SLA events of some leads (the stream also holds their other events).
async fn events_of(app: &TestApp, subjects: &[Uuid]) -> Vec<event::Model> {
    event::Entity::find()
        .filter(event::Column::SubjectId.is_in(subjects.iter().copied()))
        .filter(event::Column::Kind.is_in([
            event::EventKind::LeadSlaAtRisk,
            event::EventKind::LeadSlaBreached,
        ]))
        .order_by_asc(event::Column::Seq)
        .all(&app.db)
        .await
        .unwrap()
}

#[db_test]
async fn time_moves_an_untouched_mql_to_at_risk_then_breached_once_each(app: TestApp) {
    let account = fitting_account(&app).await;
    let gid = ideal_lead(&app, &account, "vp@fitco.example").await;
    approve(&app).await;
    let id = uuid_of(&gid);
    let l = lead(&app, &gid).await;
    assert_eq!(l["stage"], "MQL");
    assert_eq!(l["slaStatus"], "ON_TRACK");
    let mql_at = time(&l["mqlAt"]);
    let first_due = time(&l["slaFirstContactDueAt"]);
    let disposition_due = time(&l["slaDispositionDueAt"]);
    let version = l["version"].as_i64().unwrap();

    // An hour in: nothing to do.
    assert_eq!(run(&app, mql_at + hours(1)).await, SweepReport::default());
    assert_eq!(lead(&app, &gid).await["slaStatus"], "ON_TRACK");
    assert!(events_of(&app, &[id]).await.is_empty());

    // 19 h in: the last quarter of the 24 h first-contact window.
    let t = mql_at + hours(19);
    let report = run(&app, t).await;
    assert_eq!(report.at_risk, [id]);
    assert!(report.breached.is_empty());
    let l = lead(&app, &gid).await;
    assert_eq!(l["slaStatus"], "AT_RISK");
    assert_eq!(l["version"].as_i64().unwrap(), version + 1);
    let events = events_of(&app, &[id]).await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, EventKind::LeadSlaAtRisk);
    assert_eq!(e.subject_id, id);
    assert_eq!(e.owner_id, None, "the MQL is unowned");
    assert_eq!(e.at, t);
    let data = e.data.clone().unwrap();
    assert_eq!(time(&data["slaFirstContactDueAt"]), first_due);
    assert_eq!(time(&data["slaDispositionDueAt"]), disposition_due);
    // The change feed hears about it too, with the field that changed.
    let log = change_log::Entity::find()
        .filter(change_log::Column::ObjectId.eq(id))
        .order_by_desc(change_log::Column::Seq)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(log.changed_fields, Some(json!(["slaStatus"])));
    assert_eq!(log.actor_id, None);
    assert_eq!(log.at, t);

    // The same sweep again changes nothing and adds no event.
    assert_eq!(run(&app, t).await, SweepReport::default());
    assert_eq!(
        lead(&app, &gid).await["version"].as_i64().unwrap(),
        version + 1
    );
    assert_eq!(events_of(&app, &[id]).await.len(), 1);

    // 25 h in: the first contact is overdue.
    let t = mql_at + hours(25);
    let report = run(&app, t).await;
    assert!(report.at_risk.is_empty());
    assert_eq!(report.breached, [id]);
    let l = lead(&app, &gid).await;
    assert_eq!(l["slaStatus"], "BREACHED");
    assert_eq!(l["version"].as_i64().unwrap(), version + 2);
    let events = events_of(&app, &[id]).await;
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::LeadSlaAtRisk, EventKind::LeadSlaBreached]
    );
    assert_eq!(events[1].at, t);
    assert!(events[1].seq > events[0].seq);

    // BREACHED is final for the sweep.
    assert_eq!(run(&app, mql_at + hours(100)).await, SweepReport::default());
    assert_eq!(events_of(&app, &[id]).await.len(), 2);
}

#[db_test]
async fn a_lead_worked_within_its_windows_never_breaches(app: TestApp) {
    let account = fitting_account(&app).await;
    let worked = ideal_lead(&app, &account, "worked@fitco.example").await;
    let contacted = ideal_lead(&app, &account, "contacted@fitco.example").await;
    approve(&app).await;
    let mql_at = time(&lead(&app, &worked).await["mqlAt"]);

    // A sales call and an accept, right away: MET.
    assert_eq!(
        activity(&app, Sales, &worked, "CALL").await["lead"]["slaStatus"],
        "ON_TRACK"
    );
    let accepted = app
        .gql(Sales, "mutation($i: LeadMoveInput!) { acceptLead(input: $i) { lead { stage slaStatus } userErrors { code message } } }", json!({ "i": { "id": worked } }))
        .await;
    assert_eq!(accepted["acceptLead"]["lead"]["stage"], "SAL", "{accepted}");
    assert_eq!(accepted["acceptLead"]["lead"]["slaStatus"], "MET");
    // Only called: the first window is met, the disposition window runs.
    activity(&app, Sales, &contacted, "CALL").await;
    let version = lead(&app, &worked).await["version"].clone();

    for h in [19, 25, 100] {
        let report = run(&app, mql_at + hours(h)).await;
        assert!(
            !report.at_risk.contains(&uuid_of(&worked)),
            "+{h}h: {report:?}"
        );
        assert!(
            !report.breached.contains(&uuid_of(&worked)),
            "+{h}h: {report:?}"
        );
    }
    let l = lead(&app, &worked).await;
    assert_eq!(l["slaStatus"], "MET");
    assert_eq!(
        l["version"], version,
        "the sweep never wrote the worked lead"
    );
    assert!(events_of(&app, &[uuid_of(&worked)]).await.is_empty());

    // The called-only lead: on track at +25 h (its 48 h disposition
    // window is not yet in its last quarter), it breached by +100 h.
    let kinds: Vec<_> = events_of(&app, &[uuid_of(&contacted)])
        .await
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [EventKind::LeadSlaBreached]);
    assert_eq!(lead(&app, &contacted).await["slaStatus"], "BREACHED");
}

#[db_test]
async fn concurrent_sweeps_breach_each_lead_exactly_once(app: TestApp) {
    approve(&app).await;
    let account = fitting_account(&app).await;
    for round in 0..5 {
        let mut ids = Vec::new();
        for i in 0..20 {
            let gid = ideal_lead(&app, &account, &format!("r{round}-{i}@fitco.example")).await;
            ids.push(uuid_of(&gid));
        }
        // Every lead of this round became MQL just now.
        let open = lead::Entity::find()
            .filter(lead::Column::Id.is_in(ids.iter().copied()))
            .filter(lead::Column::SlaStatus.eq(entity::enums::SlaStatus::OnTrack))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(open.len(), 20, "round {round}");

        let t = handoff::services::records::now() + hours(25);
        let (a, b) = tokio::join!(sweep(&app.db, t), sweep(&app.db, t));
        let (a, b) = (a.expect("first sweep"), b.expect("second sweep"));
        assert!(a.at_risk.is_empty() && b.at_risk.is_empty());
        let mut reported: Vec<Uuid> = a.breached.iter().chain(&b.breached).copied().collect();
        reported.sort_unstable();
        let mut expected = ids.clone();
        expected.sort_unstable();
        assert_eq!(
            reported,
            expected,
            "round {round}: each lead reported by exactly one sweep ({} + {})",
            a.breached.len(),
            b.breached.len()
        );

        let events = events_of(&app, &ids).await;
        assert_eq!(events.len(), 20, "round {round}");
        let mut per_lead: HashMap<Uuid, usize> = HashMap::new();
        for e in &events {
            assert_eq!(e.kind, EventKind::LeadSlaBreached);
            assert_eq!(e.at, t);
            *per_lead.entry(e.subject_id).or_default() += 1;
        }
        assert_eq!(per_lead.len(), 20, "round {round}");
        assert!(
            per_lead.values().all(|&n| n == 1),
            "round {round}: {per_lead:?}"
        );

        let logs = change_log::Entity::find()
            .filter(change_log::Column::ObjectId.is_in(ids.iter().copied()))
            .filter(change_log::Column::At.eq(t))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(
            logs.len(),
            20,
            "round {round}: one change-log entry per lead"
        );
        for l in lead::Entity::find()
            .filter(lead::Column::Id.is_in(ids.iter().copied()))
            .all(&app.db)
            .await
            .unwrap()
        {
            assert_eq!(l.sla_status, Some(entity::enums::SlaStatus::Breached));
        }
        assert_eq!(lead(&app, &lead_gid(ids[0])).await["slaStatus"], "BREACHED");
    }
}

fn lead_gid(id: Uuid) -> String {
    gid("Lead", id)
}

/// Moves a lead's SLA clock `by` into the past, as if it became MQL then.
async fn backdate(app: &TestApp, id: Uuid, by: TimeDelta) {
    let l = lead::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    lead::Entity::update(lead::ActiveModel {
        id: Set(id),
        mql_at: Set(l.mql_at.map(|t| t - by)),
        sla_first_contact_due_at: Set(l.sla_first_contact_due_at.map(|t| t - by)),
        sla_disposition_due_at: Set(l.sla_disposition_due_at.map(|t| t - by)),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sweeps_in_the_background_unless_disabled() {
    for (interval, sweeps) in [(Duration::from_secs(60), true), (Duration::ZERO, false)] {
        let config = |c: &mut Config| {
            manual_clock(c);
            c.sla_sweep_interval = interval;
        };
        each_backend_with(config, async |app| {
            let account = fitting_account(&app).await;
            let gid = ideal_lead(&app, &account, "late@fitco.example").await;
            approve(&app).await;
            backdate(&app, uuid_of(&gid), hours(30)).await;

            // A minute passes: the sweep is due.
            app.clock().advance(Duration::from_secs(60));
            let status = if sweeps {
                eventually("the background sweep", async || {
                    let status = lead(&app, &gid).await["slaStatus"].clone();
                    (status == "BREACHED").then_some(status)
                })
                .await
            } else {
                // Nothing is due to run; a sweeper started by mistake would
                // have woken by now and moved the lead within a second.
                tokio::time::sleep(Duration::from_secs(1)).await;
                lead(&app, &gid).await["slaStatus"].clone()
            };
            let kinds: Vec<_> = events_of(&app, &[uuid_of(&gid)])
                .await
                .iter()
                .map(|e| e.kind)
                .collect();
            if sweeps {
                assert_eq!(status, "BREACHED");
                assert_eq!(kinds, [EventKind::LeadSlaBreached]);
            } else {
                assert_eq!(status, "ON_TRACK", "interval 0 disables the sweep");
                assert!(kinds.is_empty());
            }
        })
        .await;
    }
}

/// Reads the SLA status of every lead of `ids` from the database.
async fn statuses(app: &TestApp, ids: &[Uuid]) -> Vec<Option<entity::enums::SlaStatus>> {
    lead::Entity::find()
        .filter(lead::Column::Id.is_in(ids.iter().copied()))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.sla_status)
        .collect()
}

/// How often the instances of the two-server test sweep, by their shared
/// manual clock.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Moves the clock of `app` (shared by its instances) one sweep interval
/// at a time until every lead of `ids` is in `status`.
async fn until_all(app: &TestApp, ids: &[Uuid], status: entity::enums::SlaStatus, what: &str) {
    eventually(what, async || {
        let now = statuses(app, ids).await;
        if now.len() == ids.len() && now.iter().all(|s| *s == Some(status)) {
            return Some(());
        }
        app.clock().advance(SWEEP_EVERY);
        None
    })
    .await;
}

/// Moves the clock of `app` one sweep interval at a time until every
/// instance has started `more` sweeps since `since`: each move wakes both
/// instances at the same moment, so their sweeps race. The clock moves on
/// every poll, as in [`until_all`], so an instance still busy with the
/// previous sweep when the clock moved is woken by the next move.
async fn until_swept(
    app: &TestApp,
    instances: &[Instance],
    since: &[usize],
    more: usize,
    what: &str,
) {
    eventually(what, async || {
        let now: Vec<usize> = instances.iter().map(Instance::sweeps).collect();
        if now.iter().zip(since).all(|(n, s)| *n >= s + more) {
            return Some(());
        }
        app.clock().advance(SWEEP_EVERY);
        None
    })
    .await;
}

/// Each lead's SLA event kinds in stream order, and each lead's count of
/// change-log entries written by the sweep (no actor, `slaStatus` only).
async fn sla_history(app: &TestApp, ids: &[Uuid]) -> HashMap<Uuid, (Vec<EventKind>, usize)> {
    let mut out: HashMap<Uuid, (Vec<EventKind>, usize)> =
        ids.iter().map(|id| (*id, (vec![], 0))).collect();
    for e in events_of(app, ids).await {
        out.entry(e.subject_id).or_default().0.push(e.kind);
    }
    let logs = change_log::Entity::find()
        .filter(change_log::Column::ObjectId.is_in(ids.iter().copied()))
        .filter(change_log::Column::ActorId.is_null())
        .all(&app.db)
        .await
        .unwrap();
    for l in logs {
        if l.changed_fields == Some(json!(["slaStatus"])) {
            out.entry(l.object_id).or_default().1 += 1;
        }
    }
    out
}

fn assert_history(
    history: &HashMap<Uuid, (Vec<EventKind>, usize)>,
    ids: &[Uuid],
    expected: &[EventKind],
    what: &str,
) {
    for id in ids {
        let (kinds, logs) = &history[id];
        assert_eq!(kinds, expected, "{what}: lead {id}");
        assert_eq!(
            *logs,
            expected.len(),
            "{what}: lead {id}: one change-log entry per event"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sweeping_one_database_move_each_lead_once() {
    const LEADS: usize = 12;
    // The test's own server does not sweep; the two instances under test
    // sweep every second by the clock they share with it, which the test
    // moves: they wake together, so that they race.
    let config = |c: &mut Config| {
        manual_clock(c);
        c.sla_sweep_interval = Duration::ZERO;
    };
    each_backend_with(config, async |app| {
        approve(&app).await;
        let account = fitting_account(&app).await;
        let mut leads = Vec::new();
        for i in 0..2 * LEADS {
            leads.push(uuid_of(
                &ideal_lead(&app, &account, &format!("l{i}@fitco.example")).await,
            ));
        }
        // Half go to AT_RISK first, then to BREACHED; half straight to BREACHED.
        let (stepwise, direct) = leads.split_at(LEADS);
        until_all(&app, &leads, entity::enums::SlaStatus::OnTrack, "setup").await;

        let instances = app
            .spawn_instances(2, |c| c.sla_sweep_interval = SWEEP_EVERY)
            .await;
        // Both serve the API over the same data.
        for instance in &instances {
            let data = app
                .gql_at(instance, Admin, LEAD, json!({ "id": lead_gid(leads[0]) }))
                .await;
            assert_eq!(data["node"]["stage"], "MQL");
        }
        let start = vec![0; instances.len()];
        until_swept(&app, &instances, &start, 3, "warm-up").await;
        assert!(
            events_of(&app, &leads).await.is_empty(),
            "nothing was due yet"
        );

        for id in stepwise {
            backdate(&app, *id, hours(19)).await;
        }
        for id in direct {
            backdate(&app, *id, hours(30)).await;
        }
        until_all(&app, stepwise, entity::enums::SlaStatus::AtRisk, "19 h in").await;
        until_all(&app, direct, entity::enums::SlaStatus::Breached, "30 h in").await;
        let seen: Vec<usize> = instances.iter().map(Instance::sweeps).collect();
        until_swept(&app, &instances, &seen, 3, "after the first moves").await;
        let history = sla_history(&app, &leads).await;
        assert_history(&history, stepwise, &[EventKind::LeadSlaAtRisk], "at risk");
        assert_history(
            &history,
            direct,
            &[EventKind::LeadSlaBreached],
            "breached at once",
        );

        for id in stepwise {
            backdate(&app, *id, hours(10)).await;
        }
        until_all(
            &app,
            stepwise,
            entity::enums::SlaStatus::Breached,
            "29 h in",
        )
        .await;
        let seen: Vec<usize> = instances.iter().map(Instance::sweeps).collect();
        until_swept(&app, &instances, &seen, 3, "after the breaches").await;
        let history = sla_history(&app, &leads).await;
        assert_history(
            &history,
            stepwise,
            &[EventKind::LeadSlaAtRisk, EventKind::LeadSlaBreached],
            "at risk, then breached",
        );
        assert_history(
            &history,
            direct,
            &[EventKind::LeadSlaBreached],
            "breached at once",
        );
        let swept: Vec<usize> = instances.iter().map(Instance::sweeps).collect();
        println!("the two servers swept {swept:?} times");
    })
    .await;
}
