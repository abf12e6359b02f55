//! Which column of an export holds what: the documented default headers of
//! each system and object, the mapping file that renames them, and a row's
//! cells by key.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::Path,
    sync::{Arc, Mutex},
};

use anyhow::{Context as _, bail};
use chrono::{DateTime, FixedOffset, Utc};
use entity::enums::{Channel, ExternalSystem, OpportunityType, Seniority};
use serde::Deserialize;
use uuid::Uuid;

use super::{dates, values};

/// A column an import reads.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its key in code and in the mapping file's `columns`.
    pub key: &'static str,
    /// The headers it is found under, first the documented one (matched
    /// ignoring case and spacing).
    pub headers: &'static [&'static str],
    /// The sync service's field it fills (errors name it).
    pub field: &'static str,
    /// How the cell is read, for docs/import.md.
    pub note: &'static str,
}

/// The mapping file (`--mapping FILE`, JSON): headers for column keys,
/// and extra values for every column whose values are a fixed list (lead
/// and deal stages, HubSpot lead statuses, sources, deal types,
/// seniorities). Its values win over the documented defaults.
///
/// ```json
/// {"columns": {"email": "E-mail Address"},
///  "stages": {"Working": "SAL"},
///  "statuses": {"Call back later": "NURTURE"},
///  "sources": {"Web": "ORGANIC_SEARCH"},
///  "types": {"Add-on": "EXPANSION"},
///  "seniorities": {"Head of": "DIRECTOR"}}
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Column key → the header that holds it in this file.
    #[serde(default)]
    pub columns: HashMap<String, String>,
    /// Source stage value → the stage to send instead (Handoff's name or a
    /// value the documented mapping knows).
    #[serde(default)]
    pub stages: HashMap<String, String>,
    /// Source value → Handoff channel name.
    #[serde(default)]
    pub sources: HashMap<String, String>,
    /// Deal type value → Handoff deal type name.
    #[serde(default)]
    pub types: HashMap<String, String>,
    /// HubSpot lead status value → the lead stage to send instead
    /// (Handoff's name or a value the documented mapping knows). A
    /// Salesforce Lead Status is the lead's stage: map it under `stages`.
    #[serde(default)]
    pub statuses: HashMap<String, String>,
    /// Seniority value → Handoff seniority name.
    #[serde(default)]
    pub seniorities: HashMap<String, String>,
}

impl Mapping {
    /// Reads a mapping file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the mapping file {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a mapping file: a JSON object with any of \"columns\", \"stages\", \"statuses\", \"sources\", \"types\" and \"seniorities\"",
                path.display()
            )
        })
    }
}

/// One row's failure before or at the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// `INVALID`, `REQUIRED`, `UNKNOWN_STAGE`, `MALFORMED`, or a service code.
    pub code: String,
    /// The column at fault (its header in the file), or the service field.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl RowError {
    /// An error on a column.
    pub fn on(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// One error as the failed file writes it: `CODE (field): message`.
    pub fn describe(&self) -> String {
        match &self.field {
            Some(f) if !f.is_empty() => format!("{} ({f}): {}", self.code, self.message),
            _ => format!("{}: {}", self.code, self.message),
        }
    }
}

/// Between two errors of one row in the failed file's `error` column. A
/// row stays one line (a line break in the cell would make the file harder
/// to read in an editor and to grep), a `;` or `,` already occurs in the
/// messages, and each error starts with its code, so a `|` followed by a
/// code is where the next error begins.
pub const ERROR_SEPARATOR: &str = " | ";

/// The text of the failed file's `error` column: every error of a row, each
/// as [`RowError::describe`] writes it, in order, separated by
/// [`ERROR_SEPARATOR`].
pub fn describe_all(errors: &[RowError]) -> String {
    errors
        .iter()
        .map(RowError::describe)
        .collect::<Vec<_>>()
        .join(ERROR_SEPARATOR)
}

/// The cells of one row that could not be read, collected while the row
/// converts, so that one pass names every one of them.
#[derive(Debug, Default)]
pub struct Unreadable(Vec<RowError>);

impl Unreadable {
    /// The value of a cell that was read; nothing (the field is left out)
    /// for one that was not, with its error noted.
    pub fn take<T: Default>(&mut self, cell: Result<T, RowError>) -> T {
        cell.unwrap_or_else(|e| {
            self.0.push(e);
            T::default()
        })
    }

    /// `record` when every cell was read, else every cell's error, in the
    /// order they were read.
    pub fn finish<T>(self, record: T) -> Result<T, Vec<RowError>> {
        if self.0.is_empty() {
            Ok(record)
        } else {
            Err(self.0)
        }
    }
}

/// What conversions need besides the row: the system, the defaults of the
/// command line and the mapping file's values.
#[derive(Debug, Clone)]
pub struct Context {
    /// The export's system.
    pub system: ExternalSystem,
    /// Currency of money columns without one.
    pub currency: String,
    /// Zone of times without one.
    pub offset: FixedOffset,
    /// Normalised source stage → stage to send.
    stages: HashMap<String, String>,
    /// Normalised source value → channel.
    sources: HashMap<String, Channel>,
    /// Normalised deal type value → deal type.
    types: HashMap<String, OpportunityType>,
    /// Normalised lead status value → stage to send.
    statuses: HashMap<String, String>,
    /// Normalised seniority value → seniority.
    seniorities: HashMap<String, Seniority>,
    /// Normalised user name → the user, or `None` when several share it.
    owners: HashMap<String, Option<Uuid>>,
    /// The active users' emails, in lower case.
    emails: HashSet<String>,
    /// What a row whose owner is not an active user gets.
    unknown_owner: UnknownOwner,
    /// Owner cells that named no active user, by their normalised form (as
    /// owners are matched): the first spelling seen and the rows.
    unknown: Arc<Mutex<BTreeMap<String, (String, usize)>>>,
    /// Cells a row had but nothing could take, by reason, with how many
    /// rows.
    unplaced: Arc<Mutex<BTreeMap<String, usize>>>,
    /// Normalised account name → the account, or `None` when several share
    /// it (loaded only for a file that names accounts).
    accounts: HashMap<String, Option<Uuid>>,
}

/// What to do with a row whose owner (an email or a name) is not an active
/// Handoff user (`--unknown-owner`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UnknownOwner {
    /// Import the record without an owner, and list the owner once at the
    /// end (HubSpot's own import does the same).
    #[default]
    Unowned,
    /// Fail the row (NOT_FOUND), naming the owner.
    Fail,
    /// Give the record to the active user with this email.
    Assign(String),
}

impl std::str::FromStr for UnknownOwner {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s.to_ascii_lowercase().as_str() {
            "unowned" => Ok(Self::Unowned),
            "fail" => Ok(Self::Fail),
            _ => match s.split_once(':') {
                Some((assign, email))
                    if assign.eq_ignore_ascii_case("assign") && email.contains('@') =>
                {
                    Ok(Self::Assign(email.trim().to_lowercase()))
                }
                _ => Err(format!(
                    "{s:?}: use unowned, fail or assign:EMAIL (a user's email)"
                )),
            },
        }
    }
}

impl Context {
    /// The context of an import, with the active users' names for owners
    /// exported by name; `Err` names a `--currency` that is no ISO 4217
    /// code or a mapping value that is no channel.
    pub fn new(
        system: ExternalSystem,
        currency: &str,
        offset: FixedOffset,
        mapping: &Mapping,
        users: &[(Uuid, String, String)],
        unknown_owner: UnknownOwner,
    ) -> anyhow::Result<Self> {
        let currency = currency.trim().to_uppercase();
        if !crate::domain::currency::is_active(&currency) {
            bail!(
                "--currency {currency:?} is not an active ISO 4217 currency code such as USD, EUR or JPY"
            );
        }
        let mut owners: HashMap<String, Option<Uuid>> = HashMap::new();
        for (id, name, _) in users {
            owners
                .entry(values::normalise(name))
                .and_modify(|found| *found = None)
                .or_insert(Some(*id));
        }
        let emails: HashSet<String> = users.iter().map(|(_, _, e)| e.to_lowercase()).collect();
        if let UnknownOwner::Assign(email) = &unknown_owner
            && !emails.contains(email)
        {
            bail!("--unknown-owner assign:{email}: no active user has this email");
        }
        let mut sources = HashMap::new();
        for (from, to) in &mapping.sources {
            let Some(channel) = values::handoff_channel(to) else {
                bail!(
                    "the mapping file maps source {from:?} to {to:?}, which is not a channel: use ORGANIC_SEARCH, PAID_SEARCH, PAID_SOCIAL, ORGANIC_SOCIAL, EMAIL, EVENT, WEBINAR, CONTENT, REFERRAL, PARTNER, OUTBOUND or OTHER"
                );
            };
            sources.insert(values::normalise(from), channel);
        }
        let mut types = HashMap::new();
        for (from, to) in &mapping.types {
            let Some(t) = values::handoff_type(to) else {
                bail!(
                    "the mapping file maps type {from:?} to {to:?}, which is not a deal type: use NEW_BUSINESS, EXPANSION or RENEWAL"
                );
            };
            types.insert(values::normalise(from), t);
        }
        let mut seniorities = HashMap::new();
        for (from, to) in &mapping.seniorities {
            let Some(s) = values::handoff_seniority(to) else {
                bail!(
                    "the mapping file maps seniority {from:?} to {to:?}, which is not a seniority: use INDIVIDUAL_CONTRIBUTOR, MANAGER, DIRECTOR, VP or C_LEVEL"
                );
            };
            seniorities.insert(values::normalise(from), s);
        }
        Ok(Self {
            system,
            currency,
            offset,
            stages: mapping
                .stages
                .iter()
                .map(|(from, to)| (values::normalise(from), to.clone()))
                .collect(),
            sources,
            types,
            statuses: mapping
                .statuses
                .iter()
                .map(|(from, to)| (values::normalise(from), to.clone()))
                .collect(),
            seniorities,
            owners,
            emails,
            unknown_owner,
            unknown: Arc::default(),
            unplaced: Arc::default(),
            accounts: HashMap::new(),
        })
    }

    /// A stage value after the mapping file's stages.
    pub fn stage(&self, value: &str) -> String {
        self.stages
            .get(&values::normalise(value))
            .cloned()
            .unwrap_or_else(|| value.to_owned())
    }

    /// The stage the mapping file gives a lead status, under `statuses`
    /// (or, as before `statuses` existed, under `stages`).
    pub fn status_stage(&self, value: &str) -> Option<String> {
        let v = values::normalise(value);
        self.statuses
            .get(&v)
            .or_else(|| self.stages.get(&v))
            .cloned()
    }

    /// A seniority value's seniority (mapping file first).
    pub fn seniority(&self, value: &str) -> Option<Seniority> {
        self.seniorities
            .get(&values::normalise(value))
            .copied()
            .or_else(|| values::seniority(value))
    }

    /// The owners that named no active user, one per owner as owners are
    /// matched (ignoring case and spacing), as first written, with how many
    /// rows named them, in alphabetical order.
    pub fn unknown_owners(&self) -> Vec<(String, usize)> {
        self.unknown
            .lock()
            .map(|u| u.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Sets the accounts a row may name by name.
    pub fn set_accounts(&mut self, accounts: &[(Uuid, String)]) {
        self.accounts.clear();
        for (id, name) in accounts {
            self.accounts
                .entry(values::normalise(name))
                .and_modify(|found| *found = None)
                .or_insert(Some(*id));
        }
    }

    /// Counts a row whose cells nothing could take, for the reason given
    /// (listed at the end of the import).
    pub fn unplaced(&self, reason: &str) {
        if let Ok(mut unplaced) = self.unplaced.lock() {
            *unplaced.entry(reason.to_owned()).or_default() += 1;
        }
    }

    /// The cells not imported, by reason, with how many rows.
    pub fn unplaced_cells(&self) -> Vec<(String, usize)> {
        self.unplaced
            .lock()
            .map(|u| u.iter().map(|(r, n)| (r.clone(), *n)).collect())
            .unwrap_or_default()
    }

    /// A deal type value's type (mapping file first).
    pub fn opportunity_type(&self, value: &str) -> Option<OpportunityType> {
        self.types
            .get(&values::normalise(value))
            .copied()
            .or_else(|| values::opportunity_type(self.system, value))
    }

    /// A source value's channel (mapping file first).
    pub fn channel(&self, value: &str) -> Option<Channel> {
        self.sources
            .get(&values::normalise(value))
            .copied()
            .or_else(|| values::channel(self.system, value))
    }
}

/// Where each column key is in a file.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Key → (field position, header as written).
    found: HashMap<&'static str, (usize, String)>,
    /// Headers no column reads.
    pub ignored: Vec<String>,
    /// How many fields a row has.
    pub width: usize,
}

impl Layout {
    /// Matches a file's headers to `columns`, with the mapping file's
    /// renames. The external id column is required; a rename that names no
    /// header, or a key no column has, is an error.
    pub fn new(headers: &[String], columns: &[Column], mapping: &Mapping) -> anyhow::Result<Self> {
        for key in mapping.columns.keys() {
            if !columns.iter().any(|c| c.key == key) {
                let keys: Vec<&str> = columns.iter().map(|c| c.key).collect();
                bail!(
                    "the mapping file names column key {key:?}, which this import does not read; the keys are: {}",
                    keys.join(", ")
                );
            }
        }
        let normalised: Vec<String> = headers.iter().map(|h| values::normalise(h)).collect();
        check_unique(headers, &normalised)?;
        let mut found = HashMap::new();
        for column in columns {
            let position = match mapping.columns.get(column.key) {
                Some(header) => {
                    let wanted = values::normalise(header);
                    let Some(p) = normalised.iter().position(|h| *h == wanted) else {
                        bail!(
                            "the mapping file puts {:?} in column {header:?}, which the file does not have",
                            column.key
                        );
                    };
                    Some(p)
                }
                None => column.headers.iter().find_map(|header| {
                    let wanted = values::normalise(header);
                    normalised.iter().position(|h| *h == wanted)
                }),
            };
            if let Some(p) = position {
                found.insert(column.key, (p, headers[p].trim().to_owned()));
            }
        }
        if !found.contains_key("external_id") {
            let id = columns.iter().find(|c| c.key == "external_id");
            let expected = id.and_then(|c| c.headers.first()).copied().unwrap_or("id");
            let others = id.map_or(&[][..], |c| c.headers.get(1..).unwrap_or_default());
            let others = if others.is_empty() {
                String::new()
            } else {
                format!(" (or \"{}\")", others.join("\", \""))
            };
            bail!(
                "the file has no id column: it needs a \"{expected}\" column{others}, or a mapping file naming it as {{\"columns\": {{\"external_id\": \"...\"}}}}"
            );
        }
        let used: Vec<usize> = found.values().map(|(p, _)| *p).collect();
        let ignored = headers
            .iter()
            .enumerate()
            .filter(|(i, h)| !used.contains(i) && !h.trim().is_empty())
            .map(|(_, h)| h.trim().to_owned())
            .collect();
        Ok(Self {
            found,
            ignored,
            width: headers.len(),
        })
    }

    /// The header a key was found under.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.found.get(key).map(|(_, h)| h.as_str())
    }

    /// Puts a row's cell errors in the order of their columns in the file
    /// (an error on no column of the file last).
    pub fn sort_by_column(&self, errors: &mut [RowError]) {
        errors.sort_by_key(|e| {
            e.field
                .as_deref()
                .and_then(|f| self.found.values().find(|(_, h)| h == f))
                .map_or(usize::MAX, |(p, _)| *p)
        });
    }
}

/// Refuses two headers that are the same once case and spacing are
/// ignored (which one a key reads would be a guess); blank headers may
/// repeat.
fn check_unique(headers: &[String], normalised: &[String]) -> anyhow::Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in normalised.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(name, i) {
            let (a, b) = (headers[first].trim(), headers[i].trim());
            if a == b {
                bail!(
                    "the column \"{a}\" appears twice (columns {} and {}): remove or rename one of them",
                    first + 1,
                    i + 1
                );
            }
            bail!(
                "the columns \"{a}\" and \"{b}\" (columns {} and {}) are the same column, as headers match ignoring case and spacing: remove or rename one of them",
                first + 1,
                i + 1
            );
        }
    }
    Ok(())
}

/// One well-formed row, its cells by column key.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The cells.
    pub fields: &'a [String],
    /// Where the keys are.
    pub layout: &'a Layout,
    /// The conversion context.
    pub ctx: &'a Context,
}

impl<'a> Row<'a> {
    /// The trimmed cell of `key`; an empty cell or a column the file lacks
    /// is `None` (leave the field as it is).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        let (p, _) = self.layout.found.get(key)?;
        self.fields
            .get(*p)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The header of `key`, for errors.
    pub fn header(&self, key: &str) -> String {
        self.layout.header(key).unwrap_or(key).to_owned()
    }

    /// A text cell: `Some(Some(text))` when filled, `None` when empty.
    pub fn text(&self, key: &str) -> Option<Option<String>> {
        self.get(key).map(|v| Some(v.to_owned()))
    }

    /// A date cell.
    pub fn date(&self, key: &str) -> Result<Option<DateTime<Utc>>, RowError> {
        self.get(key)
            .map(|v| dates::parse(v, self.ctx.offset))
            .transpose()
            .map_err(|m| RowError::on("INVALID", &self.header(key), m))
    }

    /// An amount cell (thousands separators and currency symbols dropped).
    pub fn amount(&self, key: &str) -> Result<Option<rust_decimal::Decimal>, RowError> {
        self.get(key)
            .map(|v| {
                values::decimal(v).ok_or_else(|| {
                    RowError::on(
                        "INVALID",
                        &self.header(key),
                        format!("{v:?} is not an amount"),
                    )
                })
            })
            .transpose()
    }

    /// A whole-number cell.
    pub fn whole_number(&self, key: &str) -> Result<Option<i32>, RowError> {
        self.get(key)
            .map(|v| {
                values::whole_number(v).ok_or_else(|| {
                    RowError::on(
                        "INVALID",
                        &self.header(key),
                        format!("{v:?} is not a whole number"),
                    )
                })
            })
            .transpose()
    }

    /// An owner cell: the user's email, or the full name of exactly one
    /// active user (what both systems export by default).
    pub fn owner(&self, key: &str) -> Result<Option<Option<super::Ref>>, RowError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        if v.contains('@') {
            if self.ctx.emails.contains(&v.trim().to_lowercase()) {
                return Ok(Some(Some(super::Ref::Email(v.to_owned()))));
            }
            return self.unknown_owner(key, v);
        }
        match self.ctx.owners.get(&values::normalise(v)) {
            Some(Some(id)) => Ok(Some(Some(super::Ref::Id(*id)))),
            Some(None) => Err(RowError::on(
                "INVALID",
                &self.header(key),
                format!("several users are named {v:?}: export the owner's email instead"),
            )),
            None => self.unknown_owner(key, v),
        }
    }

    /// An account cell that names the account: the one account with that
    /// name, ignoring case and spacing.
    pub fn account_by_name(&self, key: &str) -> Result<Option<Option<super::Ref>>, RowError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match self.ctx.accounts.get(&values::normalise(v)) {
            Some(Some(id)) => Ok(Some(Some(super::Ref::Id(*id)))),
            Some(None) => Err(RowError::on(
                "INVALID",
                &self.header(key),
                format!("several accounts are named {v:?}: export the Account ID instead"),
            )),
            None => Err(RowError::on(
                "NOT_FOUND",
                &self.header(key),
                format!("no account is named {v:?}: import the accounts first"),
            )),
        }
    }

    /// An owner who is no active user, as `--unknown-owner` says: no owner
    /// (the record is imported unowned), a failed row, or the assignee.
    fn unknown_owner(&self, key: &str, v: &str) -> Result<Option<Option<super::Ref>>, RowError> {
        let ctx = self.ctx;
        if ctx.unknown_owner == UnknownOwner::Fail {
            return Err(RowError::on(
                "NOT_FOUND",
                &self.header(key),
                format!("no active user has the email or name {v:?}"),
            ));
        }
        if let Ok(mut unknown) = ctx.unknown.lock() {
            unknown
                .entry(values::normalise(v))
                .or_insert_with(|| (v.to_owned(), 0))
                .1 += 1;
        }
        Ok(match &ctx.unknown_owner {
            UnknownOwner::Assign(email) => Some(Some(super::Ref::Email(email.clone()))),
            _ => None,
        })
    }
}

/// The columns as a Markdown table for docs/import.md (a test keeps its
/// copy equal to this).
pub fn markdown_table(columns: &[Column]) -> String {
    let mut out =
        String::from("| column | key | field | how it is read |\n| --- | --- | --- | --- |\n");
    for c in columns {
        let aliases = if c.headers.len() > 1 {
            format!(" (or {})", c.headers[1..].join(", "))
        } else {
            String::new()
        };
        out += &format!(
            "| {}{aliases} | `{}` | `{}` | {} |\n",
            c.headers.first().copied().unwrap_or_default(),
            c.key,
            c.field,
            c.note
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[
        Column {
            key: "external_id",
            headers: &["Record ID"],
            field: "externalId",
            note: "",
        },
        Column {
            key: "email",
            headers: &["Email", "Email Address"],
            field: "email",
            note: "",
        },
        Column {
            key: "stage",
            headers: &["Lifecycle Stage"],
            field: "stage",
            note: "",
        },
    ];

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn headers_match_ignoring_case_and_spacing() {
        let layout = Layout::new(
            &headers(&[" record  id", "EMAIL ADDRESS", "Favourite colour"]),
            COLUMNS,
            &Mapping::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(layout.header("external_id"), Some("record  id"));
        assert_eq!(layout.header("email"), Some("EMAIL ADDRESS"));
        assert_eq!(layout.header("stage"), None);
        assert_eq!(layout.ignored, vec!["Favourite colour".to_owned()]);
    }

    #[test]
    fn the_mapping_file_renames_columns_and_is_checked() {
        let mut mapping = Mapping::default();
        mapping
            .columns
            .insert("email".into(), "E-mail Address".into());
        let layout = Layout::new(
            &headers(&["Record ID", "e-mail address", "Email"]),
            COLUMNS,
            &mapping,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(layout.header("email"), Some("e-mail address"));

        mapping.columns.insert("colour".into(), "Colour".into());
        assert!(Layout::new(&headers(&["Record ID"]), COLUMNS, &mapping).is_err());
        assert!(Layout::new(&headers(&["Id"]), COLUMNS, &Mapping::default()).is_err());
    }

    fn refusal(h: &[&str]) -> String {
        match Layout::new(&headers(h), COLUMNS, &Mapping::default()) {
            Ok(layout) => panic!("{h:?} was accepted: {layout:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_header_twice_is_refused_by_name() {
        assert_eq!(
            refusal(&["Record ID", "Email", "Notes", "Email"]),
            "the column \"Email\" appears twice (columns 2 and 4): remove or rename one of them"
        );
        assert_eq!(
            refusal(&["Record ID", "Lifecycle Stage", " lifecycle_stage "]),
            "the columns \"Lifecycle Stage\" and \"lifecycle_stage\" (columns 2 and 3) are the \
             same column, as headers match ignoring case and spacing: remove or rename one of them"
        );
        // Columns the import does not read are no exception.
        assert!(refusal(&["Record ID", "Notes", "NOTES"]).contains("\"Notes\" and \"NOTES\""));
        // Blank headers (trailing commas) may repeat.
        assert!(
            Layout::new(
                &headers(&["Record ID", "", " "]),
                COLUMNS,
                &Mapping::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn every_error_of_a_row_is_described_in_order_on_one_line() {
        let errors = [
            RowError::on("INVALID", "Amount", "\"12,5x\" is not an amount"),
            RowError::on("INVALID", "Close Date", "\"soon\" is not a date"),
            RowError {
                code: "MALFORMED".into(),
                field: None,
                message: "bad quotes".into(),
            },
        ];
        assert_eq!(
            describe_all(&errors),
            "INVALID (Amount): \"12,5x\" is not an amount | INVALID (Close Date): \"soon\" \
             is not a date | MALFORMED: bad quotes"
        );
        assert_eq!(describe_all(&errors[1..2]), errors[1].describe());
    }

    #[test]
    fn unreadable_cells_are_all_kept_and_leave_their_fields_out() {
        let mut bad = Unreadable::default();
        let amount: Option<i32> = bad.take(Err(RowError::on("INVALID", "Amount", "no")));
        let name: Option<String> = bad.take(Ok(Some("Acme".to_owned())));
        let date: Option<i32> = bad.take(Err(RowError::on("INVALID", "Create Date", "no")));
        assert_eq!((amount, name.as_deref(), date), (None, Some("Acme"), None));
        let errors = bad.finish(()).expect_err("two cells failed");
        let columns: Vec<_> = errors.iter().filter_map(|e| e.field.as_deref()).collect();
        assert_eq!(columns, ["Amount", "Create Date"]);
        assert_eq!(Unreadable::default().finish(7), Ok(7));
    }

    #[test]
    fn a_file_without_the_id_column_is_refused_naming_it() {
        assert_eq!(
            refusal(&["Email", "Lifecycle Stage"]),
            "the file has no id column: it needs a \"Record ID\" column, or a mapping file naming \
             it as {\"columns\": {\"external_id\": \"...\"}}"
        );
    }
}
