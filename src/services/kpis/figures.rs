//! The formulas: a KPI's value, numerator and denominator from the named
//! aggregates of its measures, for the whole period, one group or one
//! bucket. An aggregate is read by its measure and name; one a KPI's
//! measures do not have is an internal error, never a silent zero.

use std::collections::HashMap;

use super::{
    Figures, GroupFigures,
    measures::{
        CLOSED, COHORT, CYCLE, INFLUENCED_PIPELINE, LEADS, MQL_COUNT, MQL_DISPOSITIONS,
        MQL_ENTRIES, Measure, NEW_CUSTOMERS, OPEN_AT_END, OPPORTUNITIES_CREATED, SLA,
        SOURCED_PIPELINE, SPEND, measures,
    },
};
use crate::{
    domain::kpi::{Kpi, Unit, round_cents},
    error::{AppError, AppResult},
    services::analytics::WinLoss,
};

/// A cell of a split: (group key, bucket).
pub(super) type Cell = (Option<String>, i64);

/// Aggregated rows of a measure: per cell, its aggregates in the order the
/// measure names them.
pub(super) type Cells = HashMap<Cell, Vec<f64>>;

/// The aggregates a KPI reads at one cell, or summed over every cell, by
/// measure and name. A cell a statement returned no row for is zero: no
/// row matched.
pub(super) struct Values {
    kpi: Kpi,
    measures: Vec<(&'static Measure, Vec<f64>)>,
}

impl Values {
    /// The aggregates of `kpi`'s measures at `cell`.
    pub(super) fn at(kpi: Kpi, cells: &HashMap<&'static str, Cells>, cell: &Cell) -> Self {
        let measures = measures(kpi)
            .iter()
            .map(|m| {
                let values = cells
                    .get(m.id)
                    .and_then(|c| c.get(cell))
                    .cloned()
                    .unwrap_or_else(|| vec![0.0; m.aggs.len()]);
                (m, values)
            })
            .collect();
        Self { kpi, measures }
    }

    /// The aggregates of `kpi`'s measures summed over every cell.
    pub(super) fn total(kpi: Kpi, cells: &HashMap<&'static str, Cells>) -> Self {
        let measures = measures(kpi)
            .iter()
            .map(|m| {
                let mut sum = vec![0.0; m.aggs.len()];
                for values in cells.get(m.id).into_iter().flat_map(HashMap::values) {
                    for (slot, x) in sum.iter_mut().zip(values) {
                        *slot += x;
                    }
                }
                (m, sum)
            })
            .collect();
        Self { kpi, measures }
    }

    /// The aggregate `name` of `measure`.
    fn get(&self, measure: &Measure, name: &str) -> AppResult<f64> {
        let missing = |what: &str| {
            AppError::Internal(format!(
                "{}: {what} (measure `{}`, aggregate `{name}`)",
                self.kpi.key(),
                measure.id
            ))
        };
        let (m, values) = self
            .measures
            .iter()
            .find(|(m, _)| m.id == measure.id)
            .ok_or_else(|| missing("the formula reads a measure the KPI does not run"))?;
        let i = m
            .position(name)
            .ok_or_else(|| missing("the measure has no aggregate of this name"))?;
        values
            .get(i)
            .copied()
            .ok_or_else(|| missing("the statement returned fewer aggregates than named"))
    }
}

/// A KPI's figures from its measures' aggregates (`median`: the
/// TIME_TO_FIRST_CONTACT median of the same cell).
pub(super) fn figures(kpi: Kpi, v: &Values, median: Option<f64>) -> AppResult<Figures> {
    let unit = kpi.definition().unit;
    let money = |x: f64| {
        if matches!(unit, Unit::Money | Unit::MoneyPerDay) {
            round_cents(x)
        } else {
            x
        }
    };
    let plain = |value: f64| Figures {
        value: Some(money(value)),
        ..Figures::default()
    };
    let ratio = |num: f64, den: f64| Figures {
        value: kpi.value(num, Some(den)).map(money),
        numerator: Some(money(num)),
        denominator: Some(den),
        ..Figures::default()
    };
    let spend = || v.get(&SPEND, "spend");
    Ok(match kpi {
        Kpi::LeadsCreated => plain(v.get(&LEADS, "leads")?),
        Kpi::Mqls => plain(v.get(&MQL_COUNT, "mqls")?),
        Kpi::MqlAcceptanceRate => ratio(
            v.get(&MQL_DISPOSITIONS, "accepted")?,
            v.get(&MQL_DISPOSITIONS, "dispositioned")?,
        ),
        Kpi::MqlWorkedRate => ratio(
            v.get(&MQL_ENTRIES, "touched")?,
            v.get(&MQL_ENTRIES, "entries")?,
        ),
        Kpi::TimeToFirstContact => {
            let (num, den) = (
                v.get(&MQL_ENTRIES, "hours")?,
                v.get(&MQL_ENTRIES, "touched")?,
            );
            Figures {
                value: if den > 0.0 { median } else { None },
                numerator: Some(num),
                denominator: Some(den),
                mean: kpi.value(num, Some(den)),
                target: None,
            }
        }
        Kpi::SlaComplianceRate => ratio(v.get(&SLA, "met")?, v.get(&SLA, "due")?),
        Kpi::MqlToSqlRate => ratio(
            v.get(&COHORT, "reached_sql")?,
            v.get(&COHORT, "reached_mql")?,
        ),
        Kpi::LeadToOpportunityRate => ratio(
            v.get(&COHORT, "reached_opportunity")?,
            v.get(&COHORT, "leads")?,
        ),
        Kpi::OpportunityToWinRate => ratio(
            v.get(&COHORT, "reached_customer")?,
            v.get(&COHORT, "reached_opportunity")?,
        ),
        Kpi::LeadToCustomerRate => ratio(
            v.get(&COHORT, "reached_customer")?,
            v.get(&COHORT, "leads")?,
        ),
        Kpi::WinRate => ratio(v.get(&CLOSED, "won")?, v.get(&CLOSED, "closed")?),
        Kpi::AverageDealSize => ratio(
            v.get(&CLOSED, "won_amount")?,
            v.get(&CLOSED, "won_in_currency")?,
        ),
        Kpi::SalesCycleDays => ratio(v.get(&CYCLE, "days")?, v.get(&CYCLE, "won")?),
        Kpi::PipelineVelocity => {
            let open = v.get(&OPEN_AT_END, "open")?;
            let won = v.get(&CLOSED, "won")?;
            let lost = v.get(&CLOSED, "closed")? - won;
            let won_amount = v.get(&CLOSED, "won_amount")?;
            let won_in_currency = v.get(&CLOSED, "won_in_currency")?;
            let cycle_days = v.get(&CYCLE, "days")?;
            let value =
                (won + lost > 0.0 && won_in_currency > 0.0 && cycle_days > 0.0).then(|| {
                    let win_rate = won / (won + lost);
                    let deal = won_amount / won_in_currency;
                    let cycle = cycle_days / won;
                    round_cents(open * win_rate * deal / cycle)
                });
            Figures {
                value,
                ..Figures::default()
            }
        }
        Kpi::MarketingSourcedPipeline => plain(v.get(&SOURCED_PIPELINE, "amount")?),
        Kpi::MarketingInfluencedPipeline => plain(v.get(&INFLUENCED_PIPELINE, "amount")?),
        Kpi::Revenue => plain(v.get(&CLOSED, "won_amount")?),
        Kpi::MarketingSpend => plain(spend()?),
        Kpi::CostPerLead => ratio(spend()?, v.get(&LEADS, "leads")?),
        Kpi::CostPerMql => ratio(spend()?, v.get(&MQL_COUNT, "mqls")?),
        Kpi::CostPerQualifiedOpportunity => {
            ratio(spend()?, v.get(&OPPORTUNITIES_CREATED, "created")?)
        }
        Kpi::CostPerCustomer => ratio(spend()?, v.get(&NEW_CUSTOMERS, "customers")?),
        Kpi::CampaignRoi | Kpi::LossReasons | Kpi::CompetitorWinRates => {
            return Err(AppError::Internal(format!(
                "{} is not computed from measures",
                kpi.key()
            )));
        }
    })
}

/// LOSS_REASONS and COMPETITOR_WIN_RATES from the win/loss aggregate:
/// the total and the intrinsic groups (reasons, competitors) in key order,
/// "none" last.
pub(super) fn win_loss_figures(kpi: Kpi, w: &WinLoss) -> (Figures, Vec<GroupFigures>) {
    // Counts of deals: exact in f64.
    let ratio = |num: i64, den: i64| Figures {
        value: kpi.value(num as f64, Some(den as f64)),
        numerator: Some(num as f64),
        denominator: Some(den as f64),
        ..Figures::default()
    };
    let mut groups: Vec<GroupFigures> = match kpi {
        Kpi::CompetitorWinRates => w
            .competitors
            .iter()
            .map(|c| GroupFigures {
                key: Some(c.competitor_id.to_string()),
                figures: ratio(c.won, c.won + c.lost),
            })
            .collect(),
        _ => w
            .loss_reasons
            .iter()
            .map(|r| GroupFigures {
                key: Some(r.reason.as_str().to_owned()),
                figures: ratio(r.count, w.lost),
            })
            .collect(),
    };
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    let total = match kpi {
        Kpi::CompetitorWinRates => {
            let won = w.competitors.iter().map(|c| c.won).sum::<i64>();
            let lost = w.competitors.iter().map(|c| c.lost).sum::<i64>();
            ratio(won, won + lost)
        }
        _ => {
            let with_reason = w.loss_reasons.iter().map(|r| r.count).sum::<i64>();
            if with_reason < w.lost {
                groups.push(GroupFigures {
                    key: None,
                    figures: ratio(w.lost - with_reason, w.lost),
                });
            }
            ratio(with_reason, w.lost)
        }
    };
    (total, groups)
}

#[cfg(test)]
mod tests {
    use entity::enums::FeedbackReason;
    use uuid::Uuid;

    use super::*;
    use crate::services::analytics::{CompetitorRecord, ReasonCount};

    /// One cell of every measure, each aggregate set to `value_of(name)`.
    fn cells_with(value_of: impl Fn(&str, &str) -> f64) -> HashMap<&'static str, Cells> {
        let mut out = HashMap::new();
        for m in crate::services::kpis::measures::ALL {
            let values = m.aggs.iter().map(|a| value_of(m.id, a.name)).collect();
            out.insert(m.id, Cells::from([((None, 0), values)]));
        }
        out
    }

    fn parts(f: &Figures) -> (Option<f64>, Option<f64>, Option<f64>) {
        (f.value, f.numerator, f.denominator)
    }

    #[test]
    fn every_kpi_computed_from_measures_reads_only_aggregates_they_name() {
        let cells = cells_with(|_, _| 1.0);
        for kpi in Kpi::ALL {
            let v = Values::total(kpi, &cells);
            let computed = figures(kpi, &v, Some(1.0));
            if measures(kpi).is_empty() {
                assert!(computed.is_err(), "{}", kpi.key());
            } else {
                assert!(computed.is_ok(), "{}: {computed:?}", kpi.key());
            }
        }
    }

    #[test]
    fn an_aggregate_missing_from_the_measures_is_an_error_not_zero() {
        let cells = cells_with(|_, _| 1.0);
        let v = Values::total(Kpi::WinRate, &cells);
        assert!(v.get(&CLOSED, "lost").is_err());
        // A measure the KPI does not run.
        assert!(v.get(&CYCLE, "won").is_err());
        assert_eq!(v.get(&CLOSED, "closed").ok(), Some(1.0));
    }

    #[test]
    fn formulas_divide_the_aggregates_they_name() {
        // Hand-set: 3 won of 12 closed, 3,000.004 won in 2 deals of the
        // currency; 9 open at the end; 60 days over 3 won deals; spend 500
        // over 20 leads; cohort 40 leads, 10 MQL, 4 SQL, 2 OPPORTUNITY, 1
        // CUSTOMER.
        let cells = cells_with(|m, a| match (m, a) {
            ("closed", "won") => 3.0,
            ("closed", "closed") => 12.0,
            ("closed", "won_amount") => 3000.004,
            ("closed", "won_in_currency") => 2.0,
            ("open_at_end", "open") => 9.0,
            ("cycle", "won") => 3.0,
            ("cycle", "days") => 60.0,
            ("spend", "spend") => 500.0,
            ("leads", "leads") => 20.0,
            ("cohort", "leads") => 40.0,
            ("cohort", "reached_mql") => 10.0,
            ("cohort", "reached_sql") => 4.0,
            ("cohort", "reached_opportunity") => 2.0,
            ("cohort", "reached_customer") => 1.0,
            _ => 0.0,
        });
        let of = |kpi| {
            figures(kpi, &Values::total(kpi, &cells), None).unwrap_or_else(|e| panic!("{e:?}"))
        };
        assert_eq!(
            parts(&of(Kpi::WinRate)),
            (Some(0.25), Some(3.0), Some(12.0))
        );
        // 3,000.004 / 2 = 1,500.002 -> 1,500.00; the numerator to cents.
        assert_eq!(
            parts(&of(Kpi::AverageDealSize)),
            (Some(1500.0), Some(3000.0), Some(2.0))
        );
        assert_eq!(of(Kpi::Revenue).value, Some(3000.0));
        assert_eq!(
            parts(&of(Kpi::SalesCycleDays)),
            (Some(20.0), Some(60.0), Some(3.0))
        );
        // 9 open × 3/12 × 1,500.002 ÷ 20 days = 168.750225 -> 168.75 a day.
        assert_eq!(of(Kpi::PipelineVelocity).value, Some(168.75));
        assert_eq!(
            parts(&of(Kpi::CostPerLead)),
            (Some(25.0), Some(500.0), Some(20.0))
        );
        assert_eq!(
            parts(&of(Kpi::MqlToSqlRate)),
            (Some(0.4), Some(4.0), Some(10.0))
        );
        assert_eq!(
            parts(&of(Kpi::LeadToOpportunityRate)),
            (Some(0.05), Some(2.0), Some(40.0))
        );
        assert_eq!(
            parts(&of(Kpi::OpportunityToWinRate)),
            (Some(0.5), Some(1.0), Some(2.0))
        );
        assert_eq!(
            parts(&of(Kpi::LeadToCustomerRate)),
            (Some(0.025), Some(1.0), Some(40.0))
        );
        // No MQL entry touched: no median, no mean.
        let ttfc = of(Kpi::TimeToFirstContact);
        assert_eq!((ttfc.value, ttfc.mean), (None, None));
    }

    fn win_loss(rival: Uuid) -> WinLoss {
        // 2 won, 4 lost: PRICE twice, TIMING once, one loss without feedback;
        // the rival named on 1 win and 2 losses.
        WinLoss {
            won: 2,
            lost: 4,
            loss_reasons: vec![
                ReasonCount {
                    reason: FeedbackReason::Price,
                    count: 2,
                },
                ReasonCount {
                    reason: FeedbackReason::Timing,
                    count: 1,
                },
            ],
            competitors: vec![CompetitorRecord {
                competitor_id: rival,
                won: 1,
                lost: 2,
            }],
            ..WinLoss::default()
        }
    }

    #[test]
    fn loss_reasons_share_the_lost_deals_and_the_unexplained_ones_come_last() {
        let (total, groups) = win_loss_figures(Kpi::LossReasons, &win_loss(Uuid::nil()));
        assert_eq!(parts(&total), (Some(0.75), Some(3.0), Some(4.0)));
        let got: Vec<_> = groups
            .iter()
            .map(|g| (g.key.as_deref(), parts(&g.figures)))
            .collect();
        assert_eq!(
            got,
            [
                (Some("PRICE"), (Some(0.5), Some(2.0), Some(4.0))),
                (Some("TIMING"), (Some(0.25), Some(1.0), Some(4.0))),
                (None, (Some(0.25), Some(1.0), Some(4.0))),
            ]
        );
    }

    #[test]
    fn competitor_win_rates_count_only_deals_naming_a_competitor() {
        let rival = Uuid::from_u128(7);
        let (total, groups) = win_loss_figures(Kpi::CompetitorWinRates, &win_loss(rival));
        // 1 won of 3 naming it, not 2 of 6 overall.
        assert_eq!(parts(&total), (Some(1.0 / 3.0), Some(1.0), Some(3.0)));
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].key, Some(rival.to_string()));
        assert_eq!(parts(&groups[0].figures), parts(&total));
    }
}
