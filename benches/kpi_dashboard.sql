-- The KPI dashboard written by hand for PostgreSQL: the floor the GraphQL
-- request is compared with (cargo bench --bench kpi_dashboard runs it with
-- psql). Variables: :'q_from' / :'q_to' (the quarter, inclusive start,
-- exclusive end, timestamps) and :'y_from' / :'y_to' (the 12 months).
-- Money in USD, like the request.

-- Leads created in the quarter, with their cohort conversion (funnel counts).
-- Only entries into the stages after NEW count, so only the leads with one
-- are grouped; the cohort's size is counted on its own.
WITH f AS (
  SELECT l.id, l.created_at AS t0,
    MIN(CASE WHEN r.to_stage = 'MQL' THEN r.at END) AS t1,
    MIN(CASE WHEN r.to_stage = 'SAL' THEN r.at END) AS t2,
    MIN(CASE WHEN r.to_stage = 'SQL' THEN r.at END) AS t3,
    MIN(CASE WHEN r.to_stage = 'OPPORTUNITY' THEN r.at END) AS t4,
    MIN(CASE WHEN r.to_stage = 'CUSTOMER' THEN r.at END) AS t5
  FROM leads l JOIN stage_changes r ON r.subject_type = 'LEAD' AND r.subject_id = l.id
    AND r.to_stage IN ('MQL', 'SAL', 'SQL', 'OPPORTUNITY', 'CUSTOMER')
  WHERE l.deleted_at IS NULL AND l.created_at >= :'q_from' AND l.created_at < :'q_to'
  GROUP BY l.id, l.created_at
), d AS (
  SELECT 1 AS k, EXTRACT(EPOCH FROM t1 - t0) / 86400 AS x FROM f WHERE t1 >= t0
  UNION ALL SELECT 2, EXTRACT(EPOCH FROM t2 - t1) / 86400 FROM f WHERE t2 >= t1
  UNION ALL SELECT 3, EXTRACT(EPOCH FROM t3 - t2) / 86400 FROM f WHERE t3 >= t2
  UNION ALL SELECT 4, EXTRACT(EPOCH FROM t4 - t3) / 86400 FROM f WHERE t4 >= t3
  UNION ALL SELECT 5, EXTRACT(EPOCH FROM t5 - t4) / 86400 FROM f WHERE t5 >= t4
)
SELECT 'funnel' AS what,
  (SELECT COUNT(*) FROM leads WHERE deleted_at IS NULL AND created_at >= :'q_from' AND created_at < :'q_to') AS leads,
  (SELECT COUNT(*) FROM f WHERE COALESCE(t1, t2, t3, t4, t5) IS NOT NULL) AS mql,
  (SELECT COUNT(*) FROM f WHERE COALESCE(t2, t3, t4, t5) IS NOT NULL) AS sal,
  (SELECT COUNT(*) FROM f WHERE COALESCE(t3, t4, t5) IS NOT NULL) AS sql,
  (SELECT COUNT(*) FROM f WHERE COALESCE(t4, t5) IS NOT NULL) AS opportunity,
  (SELECT COUNT(*) FROM f WHERE t5 IS NOT NULL) AS won,
  (SELECT array_agg(m ORDER BY k) FROM (SELECT k, percentile_cont(0.5) WITHIN GROUP (ORDER BY x) AS m FROM d GROUP BY k) AS md) AS median_days;

-- MQL entries and dispositions in the quarter.
SELECT 'mql' AS what,
  COUNT(*) FILTER (WHERE sc.to_stage = 'MQL') AS mqls,
  COUNT(*) FILTER (WHERE sc.to_stage = 'MQL' AND l.first_contacted_at >= sc.at) AS worked,
  SUM(EXTRACT(EPOCH FROM l.first_contacted_at - sc.at) / 3600) FILTER (WHERE sc.to_stage = 'MQL' AND l.first_contacted_at >= sc.at) AS contact_hours,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM l.first_contacted_at - sc.at) / 3600)
    FILTER (WHERE sc.to_stage = 'MQL' AND l.first_contacted_at >= sc.at) AS median_contact_hours,
  COUNT(*) FILTER (WHERE sc.from_stage = 'MQL' AND sc.to_stage = 'SAL') AS accepted,
  COUNT(*) FILTER (WHERE sc.from_stage = 'MQL' AND sc.to_stage IN ('SAL', 'NURTURE')) AS dispositioned
FROM stage_changes sc JOIN leads l ON l.id = sc.subject_id
WHERE sc.subject_type = 'LEAD' AND sc.at >= :'q_from' AND sc.at < :'q_to'
  AND (sc.to_stage = 'MQL' OR sc.from_stage = 'MQL') AND l.deleted_at IS NULL;

-- SLA compliance by deadline.
SELECT 'sla' AS what,
  COUNT(*) FILTER (WHERE first_contacted_at <= sla_first_contact_due_at) AS in_time, COUNT(*) AS due
FROM leads
WHERE deleted_at IS NULL AND sla_first_contact_due_at >= :'q_from' AND sla_first_contact_due_at < :'q_to'
  AND (first_contacted_at IS NOT NULL OR sla_first_contact_due_at <= now());

-- Deals: closed, won, pipeline, open at the end, new customers.
SELECT 'deals' AS what,
  COUNT(*) FILTER (WHERE o.closed_at >= :'q_from' AND o.closed_at < :'q_to' AND o.stage = 'CLOSED_WON') AS won,
  COUNT(*) FILTER (WHERE o.closed_at >= :'q_from' AND o.closed_at < :'q_to' AND o.stage = 'CLOSED_LOST') AS lost,
  SUM(o.amount) FILTER (WHERE o.closed_at >= :'q_from' AND o.closed_at < :'q_to' AND o.stage = 'CLOSED_WON' AND o.currency = 'USD') AS revenue,
  COUNT(*) FILTER (WHERE o.closed_at >= :'q_from' AND o.closed_at < :'q_to' AND o.stage = 'CLOSED_WON' AND o.currency = 'USD') AS won_usd,
  SUM(EXTRACT(EPOCH FROM o.closed_at - COALESCE(l.created_at, o.created_at)) / 86400)
    FILTER (WHERE o.closed_at >= :'q_from' AND o.closed_at < :'q_to' AND o.stage = 'CLOSED_WON') AS cycle_days,
  COUNT(*) FILTER (WHERE o.created_at < :'q_to' AND (o.closed_at IS NULL OR o.closed_at >= :'q_to')) AS open_at_end,
  COUNT(*) FILTER (WHERE o.created_at >= :'q_from' AND o.created_at < :'q_to') AS created,
  SUM(o.amount) FILTER (WHERE o.created_at >= :'q_from' AND o.created_at < :'q_to' AND o.sourced_by = 'MARKETING' AND o.currency = 'USD') AS sourced,
  SUM(o.amount) FILTER (WHERE o.created_at >= :'q_from' AND o.created_at < :'q_to' AND o.currency = 'USD'
    AND (l.source_campaign_id IS NOT NULL OR EXISTS (SELECT 1 FROM activities a WHERE a.lead_id = o.primary_lead_id
      AND a.campaign_id IS NOT NULL AND a.deleted_at IS NULL AND a.occurred_at <= o.created_at))) AS influenced,
  COUNT(*) FILTER (WHERE o.closed_at >= :'q_from' AND o.closed_at < :'q_to' AND o.stage = 'CLOSED_WON' AND o.type = 'NEW_BUSINESS') AS new_customers
FROM opportunities o LEFT JOIN leads l ON l.id = o.primary_lead_id
WHERE o.deleted_at IS NULL
  AND ((o.closed_at >= :'q_from' AND o.closed_at < :'q_to') OR o.created_at >= :'q_from' OR o.closed_at IS NULL OR o.closed_at >= :'q_to')
  AND o.created_at < :'q_to';

-- Spend in the quarter.
SELECT 'spend' AS what, SUM(amount) AS spend FROM campaign_spend
WHERE deleted_at IS NULL AND currency = 'USD' AND spent_on >= CAST(:'q_from' AS date) AND spent_on < CAST(:'q_to' AS date);

-- 12-month trend: leads, MQLs, win rate, revenue, spend per month.
SELECT 'trend_leads' AS what, date_trunc('month', created_at AT TIME ZONE 'UTC') AS month, COUNT(*)
FROM leads WHERE deleted_at IS NULL AND created_at >= :'y_from' AND created_at < :'y_to' GROUP BY 2 ORDER BY 2;
SELECT 'trend_mqls' AS what, date_trunc('month', sc.at AT TIME ZONE 'UTC') AS month, COUNT(*)
FROM stage_changes sc JOIN leads l ON l.id = sc.subject_id
WHERE sc.subject_type = 'LEAD' AND sc.to_stage = 'MQL' AND l.deleted_at IS NULL AND sc.at >= :'y_from' AND sc.at < :'y_to' GROUP BY 2 ORDER BY 2;
SELECT 'trend_deals' AS what, date_trunc('month', closed_at AT TIME ZONE 'UTC') AS month,
  COUNT(*) FILTER (WHERE stage = 'CLOSED_WON') AS won, COUNT(*) AS closed,
  SUM(amount) FILTER (WHERE stage = 'CLOSED_WON' AND currency = 'USD') AS revenue
FROM opportunities WHERE deleted_at IS NULL AND stage IN ('CLOSED_WON', 'CLOSED_LOST') AND closed_at >= :'y_from' AND closed_at < :'y_to'
GROUP BY 2 ORDER BY 2;
SELECT 'trend_spend' AS what, date_trunc('month', spent_on) AS month, SUM(amount)
FROM campaign_spend WHERE deleted_at IS NULL AND currency = 'USD' AND spent_on >= CAST(:'y_from' AS date) AND spent_on < CAST(:'y_to' AS date)
GROUP BY 2 ORDER BY 2;
