//! The cost rules as data: aggregates' surcharges, list sizes, bulk
//! writes, values that cost nothing, sync-sized reads, page limits.

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
    ("SyncRecordResult.errors", Items::About(1)),
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
pub(super) const SYNC_SIZED: &[&str] = &["ChangePage.nodes", "Change.node"];

/// Fields whose page may exceed [`MAX_PAGE_SIZE`].
pub(super) const PAGE_LIMITS: &[(&str, i64)] = &[("QueryRoot.changes", 1000)];
