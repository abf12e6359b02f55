//! The role matrix: for every role and every query field and mutation,
//! allowed or FORBIDDEN as docs/roles.md says. The expected table is
//! written out here, independently of the policy code it checks.

use entity::enums::Role::{self, *};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::{ROLES, TestApp};

/// Records every operation can refer to, created by ADMIN (and owned by the
/// SALES user where ownership matters).
struct Fixture {
    account: String,
    lead: String,
    campaign: String,
    opportunity: String,
    competitor: String,
    user: String,
    definition: String,
    /// A second draft, for discarding (the first is approved by the
    /// signatures in the matrix).
    draft: String,
    spend: String,
    open_deal: String,
    closed_deal: String,
    feedback: String,
    kpi_target: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let sales = app.user_gid(Sales);
    let account = app
        .create_account("Matrix Corp", Some("matrix.example"))
        .await;
    let lead = app
        .create_lead("neo@matrix.example", json!({ "ownerId": sales, "accountId": account, "firstName": "Thomas", "lastName": "Anderson" }))
        .await;
    let campaign = app
        .gql(Admin, "mutation { createCampaign(input: {name: \"Spring\", channel: WEBINAR, objective: CONVERSION, startsOn: \"2026-01-01\"}) { campaign { id } userErrors { message } } }", json!({}))
        .await["createCampaign"]["campaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let opportunity = app
        .gql(
            Admin,
            "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { opportunity { id } userErrors { message } } }",
            json!({ "i": { "name": "Matrix deal", "accountId": account, "primaryLeadId": lead, "ownerId": sales, "amount": { "amount": "1000.00", "currency": "USD" } } }),
        )
        .await["createOpportunity"]["opportunity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let competitor = app
        .gql(Admin, "mutation { createCompetitor(input: {name: \"Agent Smith Inc\"}) { competitor { id } userErrors { message } } }", json!({}))
        .await["createCompetitor"]["competitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = app
        .gql(Admin, "mutation { createUser(input: {name: \"Trinity\", email: \"trinity@example.com\", role: SALES, team: SALES}) { user { id } userErrors { message } } }", json!({}))
        .await["createUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create_definition = "mutation { createLeadDefinition(input: {fitCriteria: {}, engagementRules: [], halfLifeDays: 30, mqlFitMin: 50, mqlEngagementMin: 30, reviewBy: \"2027-01-01\"}) { leadDefinition { id } userErrors { message } } }";
    let definition = app.gql(Admin, create_definition, json!({})).await["createLeadDefinition"]
        ["leadDefinition"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let draft = app.gql(Admin, create_definition, json!({})).await["createLeadDefinition"]
        ["leadDefinition"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let spend = app
        .gql(Admin, &format!("mutation {{ createCampaignSpend(input: {{campaignId: \"{campaign}\", spentOn: \"2026-01-05\", amount: {{amount: \"10\", currency: \"USD\"}}}}) {{ campaignSpend {{ id }} userErrors {{ message }} }} }}"), json!({}))
        .await["createCampaignSpend"]["campaignSpend"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deal = |name: &'static str, stage: &'static str| {
        let sales = sales.clone();
        async move {
            app.gql(
                Admin,
                "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { opportunity { id } userErrors { message } } }",
                json!({ "i": { "name": name, "ownerId": sales, "stage": stage, "amount": { "amount": "10.00", "currency": "USD" } } }),
            )
            .await["createOpportunity"]["opportunity"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let open_deal = deal("Open deal", "PROPOSAL").await;
    let closed_deal = deal("Closed deal", "CLOSED_LOST").await;
    let with_feedback = deal("Deal with feedback", "CLOSED_WON").await;
    let feedback = app
        .gql(Admin, &format!("mutation {{ submitWinLossFeedback(input: {{opportunityId: \"{with_feedback}\", outcome: WON, primaryReason: PRODUCT_FIT}}) {{ winLossFeedback {{ id }} userErrors {{ message }} }} }}"), json!({}))
        .await["submitWinLossFeedback"]["winLossFeedback"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kpi_target = app
        .gql(Admin, "mutation { setKpiTarget(input: {kpi: LEADS_CREATED, periodKind: MONTH, periodStart: \"2026-01-01\", target: 100, direction: AT_LEAST}) { kpiTarget { id } userErrors { message } } }", json!({}))
        .await["setKpiTarget"]["kpiTarget"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Fixture {
        kpi_target,
        spend,
        open_deal,
        closed_deal,
        feedback,
        account,
        lead,
        campaign,
        opportunity,
        competitor,
        user,
        definition,
        draft,
    }
}

const ALL: &[Role] = &[Admin, Marketing, Sales, Leadership, Integration, Reporting];
/// KPIs are for the teams' dashboards and reporting, not for sync jobs.
const KPI_READERS: &[Role] = &[Admin, Marketing, Sales, Leadership, Reporting];
/// The change feed is for sync jobs (and ADMIN); REPORTING would get
/// personal data through `node`.
const CHANGE_READERS: &[Role] = &[Admin, Integration];

/// (operation, document, roles allowed). `$id` stands for the fixture id the
/// operation needs; each role gets a fresh value where the operation
/// creates something unique.
fn matrix(f: &Fixture) -> Vec<(&'static str, String, &'static [Role])> {
    vec![
        ("viewer", "{ viewer { id role } }".into(), ALL),
        ("node", format!("{{ node(id: \"{}\") {{ id }} }}", f.account), ALL),
        ("nodes", format!("{{ nodes(ids: [\"{}\"]) {{ id }} }}", f.account), ALL),
        ("accounts", "{ accounts { totalCount } }".into(), ALL),
        ("leads", "{ leads { totalCount nodes { stage source } } }".into(), ALL),
        ("campaigns", "{ campaigns { totalCount } }".into(), ALL),
        ("opportunities", "{ opportunities { totalCount } }".into(), ALL),
        ("competitors", "{ competitors { totalCount } }".into(), ALL),
        ("users", "{ users { totalCount nodes { role team } } }".into(), ALL),
        ("leadDefinition", "{ leadDefinition { version } }".into(), ALL),
        ("leadDefinitions", "{ leadDefinitions { totalCount } }".into(), ALL),
        ("compareLeadDefinitions", "{ compareLeadDefinitions(fromVersion: 1, toVersion: 1) { field } }".into(), ALL),
        ("leadsStageChanges", "{ leadsStageChanges { totalCount nodes { from to at } } }".into(), ALL),
        ("winLossFeedback", "{ winLossFeedback { totalCount nodes { outcome primaryReason secondaryReasons objections leadFitRating } } }".into(), ALL),
        ("opportunities (feedback-missing queue)", "{ opportunities(filter: {feedbackMissing: true}) { totalCount nodes { feedbackMissing stageHistory { from to } } } }".into(), ALL),
        ("campaign.performance", format!("{{ node(id: \"{}\") {{ ... on Campaign {{ performance(from: \"2026-01-01\", to: \"2026-12-31\", attributionModel: U_SHAPED) {{ touches leadsSourced mqls rejected rejectionReasons {{ reason count }} won lost winRate {{ value }} topLossReasons {{ reason }} topCompetitors {{ competitor {{ name }} lost }} spend {{ amount }} costPerLead {{ amount }} attributedPipeline {{ amount }} attributedRevenue {{ amount }} }} }} }}", f.campaign), ALL),
        ("opportunity.attribution", format!("{{ node(id: \"{}\") {{ ... on Opportunity {{ attribution(model: W_SHAPED) {{ amount {{ amount }} touches {{ kind credit {{ amount }} share campaign {{ name }} }} campaigns {{ credit {{ amount }} touches }} }} }} }}", f.closed_deal), ALL),
        ("winLossAnalysis", "{ winLossAnalysis(from: \"2026-01-01\", to: \"2029-12-31\", groupBy: SOURCE) { key won lost winRate { value } lossReasons { reason count } competitors { competitor { name } won lost } averageLeadFitRating } }".into(), ALL),
        ("leadRejectionAnalysis", "{ leadRejectionAnalysis(from: \"2026-01-01\", to: \"2029-12-31\", groupBy: CAMPAIGN) { key rejected reasons { reason count } mqlsDispositioned rejectionRate { value } } }".into(), ALL),
        ("campaign.spend / totalSpend", format!("{{ node(id: \"{}\") {{ ... on Campaign {{ spend {{ totalCount nodes {{ spentOn amount {{ amount }} }} }} totalSpend {{ amount }} }} }} }}", f.campaign), ALL),
        ("externalIds", "{ leads { nodes { externalIds { system externalId } } } users { nodes { externalIds { system } } } }".into(), ALL),
        ("recordByExternalId", "{ recordByExternalId(system: HUBSPOT, objectType: LEAD, externalId: \"m-1\") { id } }".into(), ALL),
        ("recordsByExternalIds", "{ recordsByExternalIds(system: SALESFORCE, objectType: ACCOUNT, externalIds: [\"a\", \"b\"]) { id } }".into(), ALL),
        ("kpiDefinitions", "{ kpiDefinitions { kpi formula } }".into(), KPI_READERS),
        ("changes", "{ changes(first: 5) { endCursor hasMore nodes { cursor objectType objectId operation node { id } } } }".into(), CHANGE_READERS),
        ("kpis", "{ kpis(input: {kpis: [LEADS_CREATED, WIN_RATE], from: \"2026-01-01\", to: \"2026-03-31\", granularity: MONTH}) { kpi total { value } series { value { value } } } }".into(), KPI_READERS),
        ("kpiTargets", "{ kpiTargets { kpi target } }".into(), KPI_READERS),
        ("funnel", "{ funnel(input: {from: \"2026-01-01\", to: \"2026-03-31\"}) { stages { stage count } } }".into(), KPI_READERS),
        (
            "setKpiTarget",
            "mutation { setKpiTarget(input: {kpi: WIN_RATE, periodKind: QUARTER, periodStart: \"2026-01-01\", target: 0.3, direction: AT_LEAST}) { kpiTarget { id } } }".into(),
            &[Admin, Leadership],
        ),
        (
            "deleteKpiTarget",
            format!("mutation {{ deleteKpiTarget(input: {{id: \"{}\"}}) {{ deletedKpiTargetId }} }}", f.kpi_target),
            &[Admin, Leadership],
        ),
        (
            "createLeadDefinition",
            "mutation { createLeadDefinition(input: {fitCriteria: {}, engagementRules: [], halfLifeDays: 30, mqlFitMin: 50, mqlEngagementMin: 30, reviewBy: \"2027-01-01\"}) { leadDefinition { id } } }".into(),
            &[Admin, Marketing],
        ),
        (
            "updateLeadDefinition",
            format!("mutation {{ updateLeadDefinition(input: {{id: \"{}\", definition: {{fitCriteria: {{}}, engagementRules: [], halfLifeDays: 30, mqlFitMin: 50, mqlEngagementMin: 30, reviewBy: \"2027-01-01\"}}}}) {{ leadDefinition {{ id }} }} }}", f.definition),
            &[Admin, Marketing],
        ),
        (
            "signLeadDefinition",
            format!("mutation {{ signLeadDefinition(input: {{id: \"{}\", asTeam: SALES}}) {{ approved }} }}", f.definition),
            &[Admin, Marketing, Sales],
        ),
        (
            "recordActivity (sales touch)",
            format!("mutation {{ recordActivity(input: {{leadId: \"{}\", kind: CALL}}) {{ activity {{ kind }} }} }}", f.lead),
            &[Admin, Sales, Integration],
        ),
        (
            "recordActivity (marketing activity)",
            format!("mutation {{ recordActivity(input: {{leadId: \"{}\", kind: EMAIL_CLICK}}) {{ activity {{ kind }} }} }}", f.lead),
            &[Admin, Marketing, Integration],
        ),
        (
            "acceptLead",
            format!("mutation {{ acceptLead(input: {{id: \"{}\"}}) {{ lead {{ id }} }} }}", f.lead),
            &[Admin, Sales],
        ),
        (
            "rejectLead",
            format!("mutation {{ rejectLead(input: {{id: \"{}\", reason: SPAM}}) {{ lead {{ id }} }} }}", f.lead),
            &[Admin, Sales],
        ),
        (
            "qualifyLead",
            format!("mutation {{ qualifyLead(input: {{id: \"{}\"}}) {{ lead {{ id }} }} }}", f.lead),
            &[Admin, Sales],
        ),
        (
            "disqualifyLead",
            format!("mutation {{ disqualifyLead(input: {{id: \"{}\", reason: SPAM}}) {{ lead {{ id }} }} }}", f.lead),
            &[Admin, Sales],
        ),
        (
            "claimLead",
            format!("mutation {{ claimLead(input: {{id: \"{}\"}}) {{ lead {{ id }} }} }}", f.lead),
            &[Admin, Sales],
        ),
        (
            "recycleLead",
            format!("mutation {{ recycleLead(input: {{id: \"{}\"}}) {{ lead {{ id }} }} }}", f.lead),
            &[Admin, Marketing],
        ),
        (
            "forceLeadMql",
            format!("mutation {{ forceLeadMql(input: {{id: \"{}\"}}) {{ lead {{ id }} }} }}", f.lead),
            &[Admin],
        ),
        (
            "createAccount",
            "mutation { createAccount(input: {name: \"New Co ROLE\"}) { account { id } } }".into(),
            &[Admin, Marketing, Sales, Integration],
        ),
        (
            "updateAccount",
            format!("mutation {{ updateAccount(input: {{id: \"{}\", industry: \"Software\"}}) {{ account {{ id }} }} }}", f.account),
            &[Admin, Marketing, Sales, Integration],
        ),
        (
            "createLead",
            "mutation { createLead(input: {email: \"ROLE@new.example\", source: EMAIL}) { lead { id } } }".into(),
            &[Admin, Marketing, Integration],
        ),
        (
            "updateLead",
            format!("mutation {{ updateLead(input: {{id: \"{}\", jobTitle: \"The One\"}}) {{ lead {{ id }} }} }}", f.lead),
            &[Admin, Marketing, Sales, Integration],
        ),
        (
            "createCampaign",
            "mutation { createCampaign(input: {name: \"C ROLE\", channel: EMAIL, objective: AWARENESS, startsOn: \"2026-02-01\"}) { campaign { id } } }".into(),
            &[Admin, Marketing, Integration],
        ),
        (
            "updateCampaign",
            format!("mutation {{ updateCampaign(input: {{id: \"{}\", name: \"Spring ROLE\"}}) {{ campaign {{ id }} }} }}", f.campaign),
            &[Admin, Marketing, Integration],
        ),
        (
            "createOpportunity",
            "mutation { createOpportunity(input: {name: \"D ROLE\", amount: {amount: \"5.00\", currency: \"USD\"}}) { opportunity { id } } }".into(),
            &[Admin, Sales, Integration],
        ),
        (
            "updateOpportunity",
            format!("mutation {{ updateOpportunity(input: {{id: \"{}\", name: \"Deal ROLE\"}}) {{ opportunity {{ id }} }} }}", f.opportunity),
            &[Admin, Sales, Integration],
        ),
        (
            "createCampaignSpend",
            format!("mutation {{ createCampaignSpend(input: {{campaignId: \"{}\", spentOn: \"2026-01-06\", amount: {{amount: \"5\", currency: \"USD\"}}}}) {{ campaignSpend {{ id }} }} }}", f.campaign),
            &[Admin, Marketing, Integration],
        ),
        (
            "updateCampaignSpend",
            format!("mutation {{ updateCampaignSpend(input: {{id: \"{}\", note: \"ROLE\"}}) {{ campaignSpend {{ id }} }} }}", f.spend),
            &[Admin, Marketing, Integration],
        ),
        (
            "submitWinLossFeedback",
            format!("mutation {{ submitWinLossFeedback(input: {{opportunityId: \"{}\", outcome: LOST, primaryReason: PRICE}}) {{ winLossFeedback {{ id }} }} }}", f.closed_deal),
            &[Admin, Sales, Integration],
        ),
        (
            "updateWinLossFeedback",
            format!("mutation {{ updateWinLossFeedback(input: {{id: \"{}\", notes: \"ROLE\"}}) {{ winLossFeedback {{ id }} }} }}", f.feedback),
            &[Admin, Sales, Integration],
        ),
        (
            "closeOpportunity",
            format!("mutation {{ closeOpportunity(input: {{id: \"{}\", outcome: WON, feedback: {{primaryReason: PRODUCT_FIT}}}}) {{ opportunity {{ id }} }} }}", f.open_deal),
            &[Admin, Sales, Integration],
        ),
        (
            "createCompetitor",
            "mutation { createCompetitor(input: {name: \"Rival ROLE\"}) { competitor { id } } }".into(),
            &[Admin, Marketing, Sales],
        ),
        (
            "updateCompetitor",
            format!("mutation {{ updateCompetitor(input: {{id: \"{}\", name: \"Smith ROLE\"}}) {{ competitor {{ id }} }} }}", f.competitor),
            &[Admin, Marketing, Sales],
        ),
        (
            "createUser",
            "mutation { createUser(input: {name: \"U\", email: \"ROLE@users.example\", role: SALES, team: SALES}) { user { id } } }".into(),
            &[Admin],
        ),
        (
            "updateUser",
            format!("mutation {{ updateUser(input: {{id: \"{}\", name: \"Trinity ROLE\"}}) {{ user {{ id }} }} }}", f.user),
            &[Admin],
        ),
        (
            "addExternalId",
            format!("mutation {{ addExternalId(input: {{id: \"{}\", system: HUBSPOT, externalId: \"m-1\"}}) {{ record {{ id }} userErrors {{ code }} }} }}", f.lead),
            &[Admin, Integration],
        ),
        (
            "removeExternalId",
            format!("mutation {{ removeExternalId(input: {{id: \"{}\", system: HUBSPOT, externalId: \"m-1\"}}) {{ record {{ id }} userErrors {{ code }} }} }}", f.lead),
            &[Admin, Integration],
        ),
        // Deletes come last; a role that deleted first leaves NOT_FOUND (not
        // FORBIDDEN) for the next, which is still "allowed".
        (
            "deleteCompetitor",
            format!("mutation {{ deleteCompetitor(input: {{id: \"{}\"}}) {{ deletedCompetitorId }} }}", f.competitor),
            &[Admin, Marketing, Sales],
        ),
        (
            "deleteCampaignSpend",
            format!("mutation {{ deleteCampaignSpend(input: {{id: \"{}\"}}) {{ deletedCampaignSpendId }} }}", f.spend),
            &[Admin, Marketing, Integration],
        ),
        (
            "deleteOpportunity",
            format!("mutation {{ deleteOpportunity(input: {{id: \"{}\"}}) {{ deletedOpportunityId }} }}", f.opportunity),
            &[Admin, Sales, Integration],
        ),
        (
            "deleteLead",
            format!("mutation {{ deleteLead(input: {{id: \"{}\"}}) {{ deletedLeadId }} }}", f.lead),
            &[Admin, Marketing, Integration],
        ),
        (
            "deleteCampaign",
            format!("mutation {{ deleteCampaign(input: {{id: \"{}\"}}) {{ deletedCampaignId }} }}", f.campaign),
            &[Admin, Marketing, Integration],
        ),
        (
            "deleteAccount",
            format!("mutation {{ deleteAccount(input: {{id: \"{}\"}}) {{ deletedAccountId }} }}", f.account),
            &[Admin, Integration],
        ),
        (
            "discardLeadDefinitionDraft",
            format!("mutation {{ discardLeadDefinitionDraft(input: {{id: \"{}\"}}) {{ discardedLeadDefinitionId }} }}", f.draft),
            &[Admin, Marketing],
        ),
        (
            "upsertLeads",
            "mutation { upsertLeads(input: {system: HUBSPOT, leads: [{externalId: \"ROLE-1\", email: \"ROLE@sync.example\"}]}) { created failed results { status } } }".into(),
            &[Admin, Integration],
        ),
        (
            "upsertAccounts",
            "mutation { upsertAccounts(input: {system: SALESFORCE, accounts: [{externalId: \"ROLE-1\", name: \"ROLE Inc\"}]}) { created failed } }".into(),
            &[Admin, Integration],
        ),
        (
            "upsertCampaigns",
            "mutation { upsertCampaigns(input: {system: HUBSPOT, campaigns: [{externalId: \"ROLE-1\", name: \"ROLE\", channel: EMAIL, startsOn: \"2026-01-01\"}]}) { created failed } }".into(),
            &[Admin, Integration],
        ),
        (
            "upsertOpportunities",
            "mutation { upsertOpportunities(input: {system: HUBSPOT, opportunities: [{externalId: \"ROLE-1\", name: \"ROLE\", amount: {amount: \"1\", currency: \"USD\"}}]}) { created failed } }".into(),
            &[Admin, Integration],
        ),
        (
            "recordActivities",
            "mutation { recordActivities(input: {system: HUBSPOT, activities: [{externalId: \"ROLE-1\", leadExternalId: \"none\", kind: FORM_SUBMIT, occurredAt: \"2026-01-01T00:00:00Z\"}]}) { created failed } }".into(),
            &[Admin, Integration],
        ),
        (
            "deleteByExternalIds",
            "mutation { deleteByExternalIds(input: {objectType: LEAD, system: HUBSPOT, records: [{externalId: \"ROLE-1\"}]}) { deleted failed } }".into(),
            &[Admin, Integration],
        ),
        (
            "deleteUser",
            format!("mutation {{ deleteUser(input: {{id: \"{}\"}}) {{ deletedUserId }} }}", f.user),
            &[Admin],
        ),
    ]
}

fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[db_test]
async fn every_role_gets_exactly_the_operations_the_policy_grants(app: TestApp) {
    let f = fixture(&app).await;
    let mut wrong = vec![];
    for (operation, document, allowed) in matrix(&f) {
        // Denied roles first, so a delete by an allowed role comes after.
        let mut order: Vec<Role> = ROLES
            .iter()
            .copied()
            .filter(|r| !allowed.contains(r))
            .collect();
        order.extend(ROLES.iter().copied().filter(|r| allowed.contains(r)));
        for role in order {
            let document = document.replace("ROLE", &role.as_str().to_lowercase());
            let (status, body) = app.post(role, &document, json!({})).await;
            let forbidden = codes(&body).iter().any(|c| c == "FORBIDDEN");
            let expected_forbidden = !allowed.contains(&role);
            if status != 200 || forbidden != expected_forbidden {
                wrong.push(format!(
                    "{} {operation}: expected {}, got HTTP {status} {body}",
                    role.as_str(),
                    if expected_forbidden {
                        "FORBIDDEN"
                    } else {
                        "allowed"
                    }
                ));
            }
            if expected_forbidden {
                // Nothing of the data: the denied field is null.
                let field = body["data"]
                    .as_object()
                    .and_then(|d| d.values().next().cloned());
                assert!(
                    field.is_none_or(|v| v.is_null()),
                    "{} {operation} leaked data: {body}",
                    role.as_str()
                );
            } else if !forbidden {
                assert!(
                    codes(&body).iter().all(|c| c != "INTERNAL"),
                    "{} {operation}: {body}",
                    role.as_str()
                );
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "role matrix mismatches:\n{}",
        wrong.join("\n")
    );
}

#[db_test]
async fn sales_may_edit_only_the_leads_and_opportunities_it_owns(app: TestApp) {
    let theirs = app
        .create_lead(
            "someone@else.example",
            json!({ "ownerId": app.user_gid(Marketing) }),
        )
        .await;
    let code = app
        .error_code(
            Sales,
            "mutation($id: ID!) { updateLead(input: {id: $id, jobTitle: \"x\"}) { lead { id } } }",
            json!({ "id": theirs }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"));
    let code = app
        .error_code(Sales, "mutation($o: ID!) { createOpportunity(input: {name: \"x\", ownerId: $o, amount: {amount: \"1\", currency: \"USD\"}}) { opportunity { id } } }", json!({ "o": app.user_gid(Marketing) }))
        .await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"));
}

const EMAIL: &str = "neo@matrix.example";

fn assert_no_personal_data(body: &Value, path: &str) {
    let text = body.to_string();
    assert!(!text.contains(EMAIL), "{path}: email leaked: {text}");
    assert!(
        !text.contains("Anderson"),
        "{path}: last name leaked: {text}"
    );
    assert!(
        !text.contains("Thomas"),
        "{path}: first name leaked: {text}"
    );
}

#[db_test]
async fn reporting_cannot_read_a_leads_name_or_email_by_any_path(app: TestApp) {
    let f = fixture(&app).await;
    let paths = [
        (
            "leads",
            "{ leads { nodes { id email firstName lastName jobTitle } } }".to_owned(),
        ),
        (
            "node",
            format!(
                "{{ node(id: \"{}\") {{ id ... on Lead {{ email firstName lastName }} }} }}",
                f.lead
            ),
        ),
        (
            "nodes",
            format!(
                "{{ nodes(ids: [\"{}\"]) {{ ... on Lead {{ email lastName }} }} }}",
                f.lead
            ),
        ),
        (
            "opportunity.primaryLead",
            "{ opportunities { nodes { name primaryLead { email firstName } } } }".to_owned(),
        ),
        (
            "account.leads",
            "{ accounts { nodes { leads { nodes { email lastName } } } } }".to_owned(),
        ),
        (
            "fragment",
            "query { leads { nodes { ...L } } } fragment L on Lead { email }".to_owned(),
        ),
        (
            "search",
            "{ leads(filter: {search: \"neo\"}) { totalCount nodes { id } } }".to_owned(),
        ),
        (
            "orderBy email",
            "{ leads(orderBy: {field: EMAIL}) { nodes { id } } }".to_owned(),
        ),
        ("users", "{ users { nodes { name email } } }".to_owned()),
        ("viewer", "{ viewer { name email } }".to_owned()),
    ];
    for (path, document) in paths {
        let (status, body) = app.post(Reporting, &document, json!({})).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            codes(&body).iter().any(|c| c == "FORBIDDEN"),
            "{path}: expected FORBIDDEN, got {body}"
        );
        assert_no_personal_data(&body, path);
    }
    // The same documents give MARKETING the data.
    let data = app
        .gql(
            Marketing,
            &format!(
                "{{ node(id: \"{}\") {{ ... on Lead {{ email }} }} }}",
                f.lead
            ),
            json!({}),
        )
        .await;
    assert_eq!(data["node"]["email"], EMAIL);
    // REPORTING still reads non-personal lead data for aggregates.
    let data = app
        .gql(
            Reporting,
            "{ leads { totalCount nodes { stage source fitScore } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["leads"]["totalCount"], 1);
}
