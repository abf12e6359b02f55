//! The catalogue of measures: the aggregate statements the KPIs are
//! computed from. Each measure says which rows it reads ([`Source`]), which
//! timestamp places a row in the period, which tables its own text reads
//! beyond its source ([`Table`], so the statement joins them), and names
//! its aggregates, which [`figures`](super::figures) reads by name.
//! [`measures`] says which measures each KPI reads.

use crate::domain::kpi::{Base, Kpi};

/// Which rows a measure reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// Live leads (`l`).
    Leads,
    /// Leads created in the period with one row each (`cf`, joined to
    /// their lead `l`), flagged with the stages they reached since (from
    /// their stage history).
    Cohort,
    /// Entries into MQL (`sc`).
    MqlEntries,
    /// MQLs accepted or rejected (`sc`: MQL -> SAL or NURTURE).
    MqlDispositions,
    /// Live opportunities (`o`).
    Opportunities,
    /// Live campaign spend (`s`) with its campaign (`c`).
    Spend,
}

impl Source {
    /// The records it counts.
    pub(super) fn base(self) -> Base {
        match self {
            Self::Leads | Self::Cohort | Self::MqlEntries | Self::MqlDispositions => Base::Leads,
            Self::Opportunities => Base::Opportunities,
            Self::Spend => Base::Spend,
        }
    }

    /// The tables its own `FROM` provides without a join.
    pub(super) fn provides(self, t: Table) -> bool {
        match self {
            Self::Leads | Self::Cohort => t == Table::Lead,
            Self::Spend => t == Table::Campaign,
            Self::MqlEntries | Self::MqlDispositions | Self::Opportunities => false,
        }
    }

    /// The aliases its own `FROM` introduces (besides [`Table`]s it provides).
    #[cfg(test)]
    pub(super) fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::Leads => &["l"],
            Self::Cohort => &["cf", "l"],
            Self::MqlEntries | Self::MqlDispositions => &["sc"],
            Self::Opportunities => &["o"],
            Self::Spend => &["s", "c"],
        }
    }
}

/// A table a statement joins to its source when the measure, the segment
/// or the grouping reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    /// `l`: the lead (of a stage change; an opportunity's primary lead).
    Lead,
    /// `c`: the lead's source campaign (spend's own campaign).
    Campaign,
    /// `a`: the account (of the lead; of an opportunity).
    Account,
}

impl Table {
    /// Its alias in every statement.
    #[cfg(test)]
    pub(super) fn alias(self) -> &'static str {
        match self {
            Self::Lead => "l",
            Self::Campaign => "c",
            Self::Account => "a",
        }
    }
}

/// A parameter of a measure's SQL, bound where its `?` stands.
#[derive(Debug, Clone, Copy)]
pub(super) enum Param {
    /// The request's currency.
    Currency,
    /// The time of the request.
    Now,
    /// The first instant after the period.
    PeriodEnd,
}

/// One named aggregate of a measure: `sql` may use `?` for `params`, in
/// order, and `{hours:a:b}` / `{days:a:b}` for the time from `a` to `b`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Agg {
    /// What [`figures`](super::figures) reads it by.
    pub name: &'static str,
    /// The aggregate expression.
    pub sql: &'static str,
    /// The values of its `?`s.
    pub params: &'static [Param],
}

/// One aggregate statement: what it reads, which timestamp places a row
/// in the period, extra conditions, the tables its own text reads beyond
/// its source, and its named aggregates.
#[derive(Debug, Clone, Copy)]
pub(super) struct Measure {
    /// Cache key: a measure two KPIs of a request read runs once.
    pub id: &'static str,
    /// The rows it reads.
    pub source: Source,
    /// The column that places a row in the period; `None` for measures
    /// whose own condition selects the rows (with `PeriodEnd`).
    pub ts: Option<&'static str>,
    /// A further condition (`?` for `cond_params`), or empty.
    pub cond: &'static str,
    /// The values of the condition's `?`s.
    pub cond_params: &'static [Param],
    /// The tables `ts`, `cond` and the aggregates read beyond the source,
    /// whatever the segment.
    pub joins: &'static [Table],
    /// The aggregates.
    pub aggs: &'static [Agg],
}

impl Measure {
    /// Whether its own text reads `t` (beyond the segment and grouping).
    pub(super) fn reads(&self, t: Table) -> bool {
        self.joins.contains(&t)
    }

    /// The position of the aggregate called `name`.
    pub(super) fn position(&self, name: &str) -> Option<usize> {
        self.aggs.iter().position(|a| a.name == name)
    }
}

const fn agg(name: &'static str, sql: &'static str) -> Agg {
    Agg {
        name,
        sql,
        params: &[],
    }
}

/// A measure over `source` placed by `ts`, with no condition or join.
const fn measure(
    id: &'static str,
    source: Source,
    ts: &'static str,
    aggs: &'static [Agg],
) -> Measure {
    Measure {
        id,
        source,
        ts: Some(ts),
        cond: "",
        cond_params: &[],
        joins: &[],
        aggs,
    }
}

/// Leads created.
pub(super) const LEADS: Measure = measure(
    "leads",
    Source::Leads,
    "l.created_at",
    &[agg("leads", "COUNT(*)")],
);

/// MQL entries alone: the count reads no lead column.
pub(super) const MQL_COUNT: Measure = measure(
    "mql_count",
    Source::MqlEntries,
    "sc.at",
    &[agg("mqls", "COUNT(*)")],
);

/// MQL entries, those touched since, and the hours to the touch.
pub(super) const MQL_ENTRIES: Measure = Measure {
    joins: &[Table::Lead],
    ..measure(
        "mql_entries",
        Source::MqlEntries,
        "sc.at",
        &[
            agg("entries", "COUNT(*)"),
            agg(
                "touched",
                "SUM(CASE WHEN l.first_contacted_at >= sc.at THEN 1 ELSE 0 END)",
            ),
            agg(
                "hours",
                "SUM(CASE WHEN l.first_contacted_at >= sc.at THEN {hours:sc.at:l.first_contacted_at} ELSE 0 END)",
            ),
        ],
    )
};

/// The rows of TIME_TO_FIRST_CONTACT's median: the hours from each touched
/// MQL entry to its first contact (see `sql::median_sql`).
pub(super) const TOUCHED_MQL_HOURS: Measure = Measure {
    cond: "l.first_contacted_at >= sc.at",
    joins: &[Table::Lead],
    ..measure(
        "ttfc_rows",
        Source::MqlEntries,
        "sc.at",
        &[agg("hours", "{hours:sc.at:l.first_contacted_at}")],
    )
};

/// MQLs accepted, and accepted or rejected.
pub(super) const MQL_DISPOSITIONS: Measure = measure(
    "mql_dispositions",
    Source::MqlDispositions,
    "sc.at",
    &[
        agg(
            "accepted",
            "SUM(CASE WHEN sc.to_stage = 'SAL' THEN 1 ELSE 0 END)",
        ),
        agg("dispositioned", "COUNT(*)"),
    ],
);

/// Leads whose first-contact deadline fell in the period and has passed
/// (or was met), and those contacted by it.
pub(super) const SLA: Measure = Measure {
    cond: "(l.first_contacted_at IS NOT NULL OR l.sla_first_contact_due_at <= ?)",
    cond_params: &[Param::Now],
    ..measure(
        "sla",
        Source::Leads,
        "l.sla_first_contact_due_at",
        &[
            agg(
                "met",
                "SUM(CASE WHEN l.first_contacted_at <= l.sla_first_contact_due_at THEN 1 ELSE 0 END)",
            ),
            agg("due", "COUNT(*)"),
        ],
    )
};

/// The cohort: leads created, and those that reached MQL (or later), SQL
/// (or later), OPPORTUNITY (or later) and CUSTOMER since.
pub(super) const COHORT: Measure = measure(
    "cohort",
    Source::Cohort,
    "l.created_at",
    &[
        agg("leads", "COUNT(*)"),
        agg("reached_mql", "SUM(cf.r1)"),
        agg("reached_sql", "SUM(cf.r3)"),
        agg("reached_opportunity", "SUM(cf.r4)"),
        agg("reached_customer", "SUM(cf.r5)"),
    ],
);

/// Closed in the period: won, closed, and the amount and number won in the
/// request's currency. Deals only: without a lead segment it reads no lead.
pub(super) const CLOSED: Measure = Measure {
    cond: "o.stage IN ('CLOSED_WON', 'CLOSED_LOST')",
    ..measure(
        "closed",
        Source::Opportunities,
        "o.closed_at",
        &[
            agg(
                "won",
                "SUM(CASE WHEN o.stage = 'CLOSED_WON' THEN 1 ELSE 0 END)",
            ),
            agg("closed", "COUNT(*)"),
            Agg {
                name: "won_amount",
                sql: "SUM(CASE WHEN o.stage = 'CLOSED_WON' AND o.currency = ? THEN o.amount ELSE 0 END)",
                params: &[Param::Currency],
            },
            Agg {
                name: "won_in_currency",
                sql: "SUM(CASE WHEN o.stage = 'CLOSED_WON' AND o.currency = ? THEN 1 ELSE 0 END)",
                params: &[Param::Currency],
            },
        ],
    )
};

/// Won in the period, with the days from the primary lead's creation (or
/// the deal's) to the win: its own statement, as it joins the lead.
pub(super) const CYCLE: Measure = Measure {
    cond: "o.stage = 'CLOSED_WON'",
    joins: &[Table::Lead],
    ..measure(
        "cycle",
        Source::Opportunities,
        "o.closed_at",
        &[
            agg("won", "COUNT(*)"),
            agg(
                "days",
                "SUM({days:COALESCE(l.created_at, o.created_at):o.closed_at})",
            ),
        ],
    )
};

/// Open at the period's end: created before it, not closed before it.
pub(super) const OPEN_AT_END: Measure = Measure {
    ts: None,
    cond: "o.created_at < ? AND (o.closed_at IS NULL OR o.closed_at >= ?)",
    cond_params: &[Param::PeriodEnd, Param::PeriodEnd],
    ..measure(
        "open_at_end",
        Source::Opportunities,
        "",
        &[agg("open", "COUNT(*)")],
    )
};

/// Spend in the request's currency dated in the period.
pub(super) const SPEND: Measure = Measure {
    cond: "s.currency = ?",
    cond_params: &[Param::Currency],
    ..measure(
        "spend",
        Source::Spend,
        "s.spent_on",
        &[agg("spend", "SUM(s.amount)")],
    )
};

/// Opportunities created.
pub(super) const OPPORTUNITIES_CREATED: Measure = measure(
    "opps_created",
    Source::Opportunities,
    "o.created_at",
    &[agg("created", "COUNT(*)")],
);

/// New-business deals won.
pub(super) const NEW_CUSTOMERS: Measure = Measure {
    cond: "o.stage = 'CLOSED_WON' AND o.type = 'NEW_BUSINESS'",
    ..measure(
        "new_customers",
        Source::Opportunities,
        "o.closed_at",
        &[agg("customers", "COUNT(*)")],
    )
};

/// Amount of the marketing-sourced opportunities created, in the currency.
pub(super) const SOURCED_PIPELINE: Measure = Measure {
    cond: "o.sourced_by = 'MARKETING' AND o.currency = ?",
    cond_params: &[Param::Currency],
    ..measure(
        "sourced_pipeline",
        Source::Opportunities,
        "o.created_at",
        &[agg("amount", "SUM(o.amount)")],
    )
};

/// Amount of the opportunities created, in the currency, whose primary
/// lead came from a campaign or had a live campaign touch by then.
pub(super) const INFLUENCED_PIPELINE: Measure = Measure {
    // Looked up per deal with a primary lead (a fifth of them), not
    // joined: a join made PostgreSQL hash every lead.
    cond: "o.currency = ? AND o.primary_lead_id IS NOT NULL AND (EXISTS (SELECT 1 FROM leads src \
           WHERE src.id = o.primary_lead_id AND src.source_campaign_id IS NOT NULL) \
           OR EXISTS (SELECT 1 FROM activities act \
           WHERE act.lead_id = o.primary_lead_id AND act.campaign_id IS NOT NULL \
           AND act.deleted_at IS NULL AND act.occurred_at <= o.created_at))",
    cond_params: &[Param::Currency],
    ..measure(
        "influenced_pipeline",
        Source::Opportunities,
        "o.created_at",
        &[agg("amount", "SUM(o.amount)")],
    )
};

/// The measures a KPI reads, each computed by one aggregate statement (a
/// measure several KPIs of a request read runs once). LOSS_REASONS,
/// COMPETITOR_WIN_RATES and CAMPAIGN_ROI read none: they are computed by
/// `closed_loop`.
pub(super) fn measures(kpi: Kpi) -> &'static [Measure] {
    match kpi {
        Kpi::LeadsCreated => &[LEADS],
        Kpi::Mqls => &[MQL_COUNT],
        Kpi::MqlAcceptanceRate => &[MQL_DISPOSITIONS],
        Kpi::MqlWorkedRate | Kpi::TimeToFirstContact => &[MQL_ENTRIES],
        Kpi::SlaComplianceRate => &[SLA],
        Kpi::MqlToSqlRate
        | Kpi::LeadToOpportunityRate
        | Kpi::OpportunityToWinRate
        | Kpi::LeadToCustomerRate => &[COHORT],
        Kpi::WinRate | Kpi::AverageDealSize | Kpi::Revenue => &[CLOSED],
        Kpi::SalesCycleDays => &[CYCLE],
        // Open at the period's end, and the period's win rate, deal size
        // and cycle from the statements WIN_RATE and SALES_CYCLE_DAYS share.
        Kpi::PipelineVelocity => &[OPEN_AT_END, CLOSED, CYCLE],
        Kpi::MarketingSourcedPipeline => &[SOURCED_PIPELINE],
        Kpi::MarketingInfluencedPipeline => &[INFLUENCED_PIPELINE],
        Kpi::MarketingSpend => &[SPEND],
        Kpi::CostPerLead => &[SPEND, LEADS],
        Kpi::CostPerMql => &[SPEND, MQL_COUNT],
        Kpi::CostPerQualifiedOpportunity => &[SPEND, OPPORTUNITIES_CREATED],
        Kpi::CostPerCustomer => &[SPEND, NEW_CUSTOMERS],
        Kpi::LossReasons | Kpi::CompetitorWinRates | Kpi::CampaignRoi => &[],
    }
}

/// Every measure, for the tests that check them all.
#[cfg(test)]
pub(super) const ALL: [Measure; 15] = [
    LEADS,
    MQL_COUNT,
    MQL_ENTRIES,
    TOUCHED_MQL_HOURS,
    MQL_DISPOSITIONS,
    SLA,
    COHORT,
    CLOSED,
    CYCLE,
    OPEN_AT_END,
    SPEND,
    OPPORTUNITIES_CREATED,
    NEW_CUSTOMERS,
    SOURCED_PIPELINE,
    INFLUENCED_PIPELINE,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::sql::unresolved_aliases;

    #[test]
    fn every_alias_a_measure_reads_is_its_sources_or_a_declared_join() {
        for m in ALL {
            let mut text = vec![m.ts.unwrap_or_default(), m.cond];
            text.extend(m.aggs.iter().map(|a| a.sql));
            for part in text {
                for alias in unresolved_aliases(part) {
                    let declared = m.joins.iter().any(|t| t.alias() == alias);
                    assert!(
                        m.source.aliases().contains(&alias.as_str()) || declared,
                        "measure {} reads `{alias}.` in {part:?} without declaring its join",
                        m.id
                    );
                }
            }
        }
    }

    #[test]
    fn aggregate_names_and_measure_ids_are_unique() {
        for m in ALL {
            for (i, a) in m.aggs.iter().enumerate() {
                assert_eq!(m.position(a.name), Some(i), "{}.{}", m.id, a.name);
            }
            assert_eq!(ALL.iter().filter(|o| o.id == m.id).count(), 1, "{}", m.id);
        }
    }
}
