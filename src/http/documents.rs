//! Documents sent by reference: Apollo's automatic persisted queries and,
//! for production, trusted documents (docs/api.md "Persisted queries and
//! trusted documents").
//!
//! - A request may carry `extensions.persistedQuery.sha256Hash` (Apollo's
//!   protocol, version 1) or a top-level `documentId` instead of the query
//!   text. A hash this server does not know is answered with code
//!   `PERSISTED_QUERY_NOT_FOUND` (HTTP 200), and the client sends the text
//!   with the hash; the text must hash to it, and is remembered.
//! - With `HANDOFF_TRUSTED_DOCUMENTS=FILE` (a manifest of id -> document,
//!   as graphql-codegen's client preset writes `persisted-documents.json`),
//!   every role but ADMIN runs only the documents in the manifest: by id, by
//!   hash or as the same text. Nothing else is remembered for them.
//!
//! The cache of automatic persisted queries is per process and bounded;
//! a client whose hash was evicted (or who reaches another replica) gets
//! `PERSISTED_QUERY_NOT_FOUND` and resends the text.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::{Arc, Mutex},
};

use anyhow::{Context, bail};
use async_graphql::{Request, Value};
use sha2::{Digest, Sha256};

use entity::enums::Role;

/// Most documents the automatic cache keeps.
pub const CACHE_DOCUMENTS: usize = 2_000;
/// Most bytes of document text the automatic cache keeps.
pub const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Why a request's document cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The hash is unknown: send the query text with it.
    NotFound,
    /// The text does not hash to the hash sent with it.
    HashMismatch,
    /// Only trusted documents run for this role.
    NotTrusted,
    /// `persistedQuery` is not version 1 or has no `sha256Hash`.
    Malformed(String),
}

impl Refusal {
    /// The error code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::HashMismatch | Self::Malformed(_) => "BAD_USER_INPUT",
            Self::NotTrusted => "FORBIDDEN",
        }
    }

    /// The message clients see.
    pub fn message(&self) -> String {
        match self {
            Self::NotFound => "PersistedQueryNotFound: send the query text with its hash".into(),
            Self::HashMismatch => {
                "the persisted query's sha256Hash is not the SHA-256 of the query text".into()
            }
            Self::NotTrusted => "this server runs only trusted documents for your role: \
                 send a document of the published manifest (by documentId or hash)"
                .into(),
            Self::Malformed(why) => why.clone(),
        }
    }
}

/// The manifest of trusted documents.
#[derive(Debug, Default)]
pub struct TrustedDocuments {
    /// By the manifest's own ids (whatever hash its generator used).
    by_id: HashMap<String, Arc<str>>,
    /// By the SHA-256 of their text, hex.
    by_sha256: HashMap<String, Arc<str>>,
}

impl TrustedDocuments {
    /// Reads a manifest: a JSON object of id -> document text.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// Parses a manifest.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let entries: HashMap<String, String> = serde_json::from_str(text).context(
            "a trusted-documents manifest is a JSON object of id -> document text, \
             as graphql-codegen's client preset writes persisted-documents.json",
        )?;
        if entries.is_empty() {
            bail!("the trusted-documents manifest lists no document");
        }
        let mut documents = Self::default();
        for (id, text) in entries {
            let text: Arc<str> = text.into();
            documents.by_sha256.insert(sha256_hex(&text), text.clone());
            documents.by_id.insert(normalise_id(&id).to_owned(), text);
        }
        Ok(documents)
    }

    /// How many documents the manifest lists.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the manifest is empty (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn get(&self, id: &str) -> Option<&Arc<str>> {
        let id = normalise_id(id);
        self.by_id.get(id).or_else(|| self.by_sha256.get(id))
    }

    fn contains_text(&self, text: &str) -> bool {
        self.by_sha256.contains_key(&sha256_hex(text))
    }
}

/// Persisted and trusted documents of one server.
#[derive(Debug, Default)]
pub struct Documents {
    trusted: Option<Arc<TrustedDocuments>>,
    cache: Mutex<Cache>,
}

impl Documents {
    /// Automatic persisted queries only, or also a trusted manifest.
    pub fn new(trusted: Option<Arc<TrustedDocuments>>) -> Self {
        Self {
            trusted,
            cache: Mutex::default(),
        }
    }

    /// Fills in the query text of a request sent by reference, checks a
    /// hash sent with text, and, in trusted mode, that a non-ADMIN runs a
    /// trusted document. `document_id` is the request's top-level
    /// `documentId`, when it had one.
    pub fn resolve(
        &self,
        role: Role,
        request: &mut Request,
        document_id: Option<&str>,
    ) -> Result<(), Refusal> {
        let hash = match document_id {
            Some(id) => Some(id.to_owned()),
            None => persisted_query_hash(request)?,
        };
        let trusted_only = self.trusted.is_some() && role != Role::Admin;
        let sent_text = !request.query.trim().is_empty();
        match (hash, sent_text) {
            (None, false) => Ok(()), // execution reports the missing query
            (None, true) => {
                if trusted_only && !self.is_trusted_text(&request.query) {
                    return Err(Refusal::NotTrusted);
                }
                Ok(())
            }
            (Some(hash), false) => {
                let found = self.trusted.as_ref().and_then(|t| t.get(&hash)).cloned();
                let found = match found {
                    Some(text) => Some(text),
                    None if trusted_only => return Err(Refusal::NotTrusted),
                    None => self.cached(&hash),
                };
                match found {
                    Some(text) => {
                        request.query = text.to_string();
                        Ok(())
                    }
                    None => Err(Refusal::NotFound),
                }
            }
            (Some(hash), true) => {
                let id = normalise_id(&hash);
                let trusted = self.trusted.as_ref().and_then(|t| t.get(id));
                match trusted {
                    Some(text) if **text == *request.query => return Ok(()),
                    Some(_) => return Err(Refusal::HashMismatch),
                    None if trusted_only => return Err(Refusal::NotTrusted),
                    None => {}
                }
                if !id.eq_ignore_ascii_case(&sha256_hex(&request.query)) {
                    return Err(Refusal::HashMismatch);
                }
                self.remember(id, &request.query);
                Ok(())
            }
        }
    }

    fn is_trusted_text(&self, text: &str) -> bool {
        self.trusted.as_ref().is_some_and(|t| t.contains_text(text))
    }

    fn cached(&self, hash: &str) -> Option<Arc<str>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&hash.to_ascii_lowercase())
    }

    fn remember(&self, hash: &str, text: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(hash.to_ascii_lowercase(), text.into());
    }
}

/// A document id without its algorithm prefix (`sha256:abc` -> `abc`).
fn normalise_id(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

/// `extensions.persistedQuery.sha256Hash` of a version 1 persisted query.
fn persisted_query_hash(request: &Request) -> Result<Option<String>, Refusal> {
    let Some(pq) = request.extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let Value::Object(pq) = pq else {
        return Err(Refusal::Malformed(
            "extensions.persistedQuery must be an object".into(),
        ));
    };
    match pq.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        _ => {
            return Err(Refusal::Malformed(
                "extensions.persistedQuery.version must be 1".into(),
            ));
        }
    }
    match pq.get("sha256Hash") {
        Some(Value::String(hash)) if is_sha256_hex(hash) => Ok(Some(hash.clone())),
        _ => Err(Refusal::Malformed(
            "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits".into(),
        )),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The SHA-256 of a text, lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The automatic persisted queries, least recently used first out.
#[derive(Debug, Default)]
struct Cache {
    entries: HashMap<String, (Arc<str>, u64)>,
    by_use: BTreeMap<u64, String>,
    bytes: usize,
    tick: u64,
}

impl Cache {
    fn get(&mut self, hash: &str) -> Option<Arc<str>> {
        self.tick += 1;
        let tick = self.tick;
        let (text, used) = self.entries.get_mut(hash)?;
        self.by_use.remove(used);
        *used = tick;
        self.by_use.insert(tick, hash.to_owned());
        Some(text.clone())
    }

    fn insert(&mut self, hash: String, text: Arc<str>) {
        if self.get(&hash).is_some() || text.len() > CACHE_BYTES {
            return;
        }
        while self.entries.len() >= CACHE_DOCUMENTS || self.bytes + text.len() > CACHE_BYTES {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((gone, _)) = self.entries.remove(&oldest) {
                self.bytes -= gone.len();
            }
        }
        self.tick += 1;
        self.bytes += text.len();
        self.by_use.insert(self.tick, hash.clone());
        self.entries.insert(hash, (text, self.tick));
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::Name;

    use super::*;

    const QUERY: &str = "{ viewer { id } }";

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut pq = async_graphql::indexmap::IndexMap::new();
        pq.insert(Name::new("version"), Value::from(1));
        pq.insert(Name::new("sha256Hash"), Value::from(hash));
        let mut request = Request::new(query);
        request
            .extensions
            .insert("persistedQuery".into(), Value::Object(pq));
        request
    }

    #[test]
    fn sha256_is_the_hex_digest_clients_compute() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_unknown_hash_is_not_found_then_registered_with_its_text() {
        let documents = Documents::new(None);
        let hash = sha256_hex(QUERY);
        let mut bare = with_hash("", &hash);
        assert_eq!(
            documents.resolve(Role::Sales, &mut bare, None),
            Err(Refusal::NotFound)
        );
        let mut full = with_hash(QUERY, &hash);
        assert_eq!(documents.resolve(Role::Sales, &mut full, None), Ok(()));
        let mut bare = with_hash("", &hash.to_ascii_uppercase());
        assert_eq!(documents.resolve(Role::Sales, &mut bare, None), Ok(()));
        assert_eq!(bare.query, QUERY);
    }

    #[test]
    fn a_text_that_does_not_match_its_hash_is_refused_and_not_remembered() {
        let documents = Documents::new(None);
        let hash = sha256_hex("{ other }");
        let mut request = with_hash(QUERY, &hash);
        assert_eq!(
            documents.resolve(Role::Sales, &mut request, None),
            Err(Refusal::HashMismatch)
        );
        let mut bare = with_hash("", &hash);
        assert_eq!(
            documents.resolve(Role::Sales, &mut bare, None),
            Err(Refusal::NotFound)
        );
    }

    #[test]
    fn malformed_persisted_queries_are_refused() {
        let documents = Documents::new(None);
        let mut short = with_hash("", "abc");
        assert!(matches!(
            documents.resolve(Role::Sales, &mut short, None),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn the_cache_forgets_the_least_recently_used_document_first() {
        let mut cache = Cache::default();
        for i in 0..CACHE_DOCUMENTS {
            cache.insert(format!("h{i}"), format!("q{i}").into());
        }
        assert!(cache.get("h0").is_some()); // now the most recent
        cache.insert("new".into(), "q".into());
        assert!(cache.get("h0").is_some());
        assert!(cache.get("h1").is_none());
        assert!(cache.get("new").is_some());
        assert_eq!(cache.entries.len(), CACHE_DOCUMENTS);
        let mut cache = Cache::default();
        let big: Arc<str> = "x".repeat(CACHE_BYTES / 2 + 1).into();
        cache.insert("a".into(), big.clone());
        cache.insert("b".into(), big);
        assert!(cache.get("a").is_none());
        assert!(cache.bytes <= CACHE_BYTES);
    }

    #[test]
    fn in_trusted_mode_only_admins_run_documents_outside_the_manifest() {
        let manifest = format!(r#"{{"abc123": "{QUERY}"}}"#);
        let documents = Documents::new(TrustedDocuments::parse(&manifest).ok().map(Arc::new));
        // By the manifest's id, with or without a prefix.
        let mut by_id = Request::new("");
        assert_eq!(
            documents.resolve(Role::Sales, &mut by_id, Some("abc123")),
            Ok(())
        );
        assert_eq!(by_id.query, QUERY);
        let mut by_prefixed_id = Request::new("");
        assert_eq!(
            documents.resolve(Role::Sales, &mut by_prefixed_id, Some("sha256:abc123")),
            Ok(())
        );
        // By its SHA-256 (Apollo's protocol) and as the same text.
        let mut by_hash = with_hash("", &sha256_hex(QUERY));
        assert_eq!(documents.resolve(Role::Sales, &mut by_hash, None), Ok(()));
        let mut as_text = Request::new(QUERY);
        assert_eq!(documents.resolve(Role::Sales, &mut as_text, None), Ok(()));
        // Anything else, only for ADMIN.
        let other = "{ leads(first: 1) { totalCount } }";
        let mut request = Request::new(other);
        assert_eq!(
            documents.resolve(Role::Sales, &mut request, None),
            Err(Refusal::NotTrusted)
        );
        let mut registering = with_hash(other, &sha256_hex(other));
        assert_eq!(
            documents.resolve(Role::Marketing, &mut registering, None),
            Err(Refusal::NotTrusted)
        );
        let mut request = Request::new(other);
        assert_eq!(documents.resolve(Role::Admin, &mut request, None), Ok(()));
        let mut unknown = Request::new("");
        assert_eq!(
            documents.resolve(Role::Sales, &mut unknown, Some("nope")),
            Err(Refusal::NotTrusted)
        );
    }

    #[test]
    fn a_manifest_must_be_an_object_of_documents() {
        assert!(TrustedDocuments::parse("[]").is_err());
        assert!(TrustedDocuments::parse("{}").is_err());
        assert!(TrustedDocuments::parse(r#"{"a": 1}"#).is_err());
        assert_eq!(
            TrustedDocuments::parse(r#"{"a": "{ x }", "b": "{ y }"}"#)
                .map(|t| t.len())
                .ok(),
            Some(2)
        );
    }
}
