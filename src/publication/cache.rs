//! Memory in front of the stored bytes of published versions (`rendered.rs`): versions
//! never change once published, so what is held is keyed by version and never goes
//! stale. The hot public path asks the database only which version is in force, and even
//! that answer is kept for a moment.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::header::HeaderValue;
use actix_web::web::{self, Bytes};
use chrono::NaiveDate;
use moka::sync::Cache;
use serde_json::value::RawValue;
use serde_json::Value;

use super::document::ListKind;
use super::model::{Version, Versions};
use super::rendered::StoredPart;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::keys::SigningKeys;
use crate::regions::RegionCode;
use crate::text::searchable;

/// One representation of a township's part of a published power list, as stored at
/// publication: its bytes as they are or their gzip copy, each held on its own, so that
/// memory keeps what clients ask for (the gzip copies of a whole province fit the default
/// budget; the bytes as they are, twenty times larger, do not).
pub struct Slice {
    /// The answer's bytes: canonical JSON, or its gzip copy.
    pub bytes: Bytes,
    /// Whether `bytes` is the gzip copy.
    pub gzip: bool,
    /// The strong ETags of the slice's representations.
    pub tags: EntityTags,
    /// The detached JWS over the slice as it is (what a client reads after decoding).
    pub signature: HeaderValue,
    /// Where each item lies in `bytes` (the JSON, not the gzip copy), made on the first
    /// filtered request.
    pub index: OnDemand<SliceIndex>,
    /// The version's own public address, for `Content-Location`.
    pub location: HeaderValue,
}

impl Slice {
    /// A stored representation of a slice of `version`, ready to serve.
    pub fn from_stored(stored: StoredPart, gzip: bool, version: &Version) -> AppResult<Slice> {
        Ok(Slice {
            location: location_of(version)?,
            tags: EntityTags::of(&stored.content_hash),
            signature: HeaderValue::try_from(stored.signature).map_err(|e| {
                AppError::Internal(format!("a stored signature of version {}: {e}", version.id))
            })?,
            bytes: Bytes::from(stored.bytes),
            gzip,
            index: OnDemand::default(),
        })
    }

    fn weight(&self) -> usize {
        let index = if self.gzip {
            0
        } else {
            self.bytes.len() / INDEX_RESERVE_DIVISOR
        };
        self.bytes.len() + index
    }
}

/// A filter on a township's slice; `None` admits any value.
#[derive(Debug, Clone, Copy, Default)]
pub struct SliceFilter<'a> {
    /// Only this item-type code.
    pub category: Option<&'a str>,
    /// Only this domain.
    pub domain: Option<&'a str>,
    /// Only high-frequency items, or only the others.
    pub high_frequency: Option<bool>,
}

impl SliceFilter<'_> {
    /// Whether the filter admits every item.
    pub fn is_empty(&self) -> bool {
        self.category.is_none() && self.domain.is_none() && self.high_frequency.is_none()
    }
}

/// A slice's items indexed for filters: where each item's canonical text lies in the
/// slice's bytes, and the values a filter looks at, as numbers into `values`. A slice has a
/// handful of categories and domains, so the index is a few percent of the slice's size.
#[derive(Default)]
pub struct SliceIndex {
    values: Vec<Box<str>>,
    items: Vec<IndexedItem>,
}

struct IndexedItem {
    span: Range<u32>,
    category: Option<u32>,
    domain: Option<u32>,
    high_frequency: Option<bool>,
}

impl SliceIndex {
    /// Indexes a slice's bytes, read without building a tree.
    pub fn build(bytes: &[u8]) -> AppResult<SliceIndex> {
        #[derive(serde::Deserialize)]
        struct Items<'a> {
            #[serde(borrow)]
            items: Vec<&'a RawValue>,
        }
        #[derive(serde::Deserialize)]
        struct Keys {
            category: Option<String>,
            domain: Option<String>,
            high_frequency: Option<bool>,
        }
        let slice: Items = serde_json::from_slice(bytes)?;
        let base = bytes.as_ptr() as usize;
        let mut index = SliceIndex {
            values: Vec::new(),
            items: Vec::with_capacity(slice.items.len()),
        };
        for raw in slice.items {
            let keys: Keys = serde_json::from_str(raw.get())?;
            let start = raw.get().as_ptr() as usize - base;
            // Where the item ends fits in a u32, so where it starts does too.
            let end = u32::try_from(start + raw.get().len())
                .map_err(|_| AppError::Internal("a slice over 4 GiB".into()))?;
            let item = IndexedItem {
                span: start as u32..end,
                category: keys.category.map(|c| index.intern(c)),
                domain: keys.domain.map(|d| index.intern(d)),
                high_frequency: keys.high_frequency,
            };
            index.items.push(item);
        }
        Ok(index)
    }

    fn intern(&mut self, value: String) -> u32 {
        let id = self
            .values
            .iter()
            .position(|v| **v == *value)
            .unwrap_or_else(|| {
                self.values.push(value.into_boxed_str());
                self.values.len() - 1
            });
        id as u32
    }

    /// The items of `slice` (the bytes this index was built from) that `filter` admits, as
    /// the canonical text they have there; a value no item has admits none.
    pub fn admitted<'a>(
        &self,
        slice: &'a [u8],
        filter: &SliceFilter,
    ) -> AppResult<Vec<&'a RawValue>> {
        let wanted = |value: Option<&str>| {
            value.map(|v| {
                self.values
                    .iter()
                    .position(|known| **known == *v)
                    .map(|id| id as u32)
            })
        };
        let (category, domain) = (wanted(filter.category), wanted(filter.domain));
        self.items
            .iter()
            .filter(|item| {
                category.is_none_or(|c| c.is_some() && item.category == c)
                    && domain.is_none_or(|d| d.is_some() && item.domain == d)
                    && filter
                        .high_frequency
                        .is_none_or(|h| item.high_frequency == Some(h))
            })
            .map(|item| {
                let span = item.span.start as usize..item.span.end as usize;
                Ok(serde_json::from_slice(&slice[span])?)
            })
            .collect()
    }
}

/// What some requests derive from cached bytes (a gzip copy, an item index, a signature):
/// made at most once, by the first request that wants it, on a blocking thread (a county's
/// document takes tens of milliseconds), and shared by the rest. The bytes never change, so
/// neither does the outcome: a failure is kept too.
pub struct OnDemand<T>(Arc<OnceLock<Result<T, String>>>);

impl<T> Default for OnDemand<T> {
    fn default() -> Self {
        OnDemand(Arc::default())
    }
}

impl<T> OnDemand<T> {
    /// A value made already.
    pub fn ready(value: T) -> Self {
        OnDemand(Arc::new(OnceLock::from(Ok(value))))
    }
}

impl<T: Send + Sync + 'static> OnDemand<T> {
    /// The value made from `bytes` by `make`, making it if no one has.
    pub async fn get_or_make(
        &self,
        bytes: &Bytes,
        make: impl FnOnce(&[u8]) -> AppResult<T> + Send + 'static,
    ) -> AppResult<&T> {
        if self.0.get().is_none() {
            let (cell, bytes) = (self.0.clone(), bytes.clone());
            web::block(move || {
                cell.get_or_init(|| make(&bytes).map_err(|e| e.to_string()));
            })
            .await?;
        }
        match self.0.get().expect("made above") {
            Ok(made) => Ok(made),
            Err(error) => Err(AppError::Internal(error.clone())),
        }
    }
}

/// One matter of a published responsibility list, with its folded search text.
pub struct PublishedMatter {
    /// Folded name and domain.
    pub search_text: String,
    /// The matter as published.
    pub matter: Value,
}

/// A published version's whole document, read once from storage.
pub struct Published {
    /// Its metadata at publication.
    pub version: Version,
    /// The canonical content bytes.
    pub bytes: Bytes,
    /// Responsibility lists: the matters.
    pub matters: Vec<PublishedMatter>,
    /// The canonical content gzip-compressed: stored at publication, or made on the
    /// first request that accepts it for a version not yet rendered.
    pub gzip: OnDemand<Bytes>,
    /// The content's strong ETags.
    pub tags: EntityTags,
    /// The detached JWS over the content, made when it was published.
    pub signature: HeaderValue,
    /// The version's own public address, for `Content-Location`.
    pub location: HeaderValue,
}

/// The quoted `ETag` values of some bytes and of their gzip copy (another representation,
/// so another strong tag), made once so that the hot path sends them without formatting.
pub struct EntityTags {
    /// `"<hash>"`.
    pub identity: HeaderValue,
    /// `"<hash>-gzip"`.
    pub gzip: HeaderValue,
}

impl EntityTags {
    /// The tags of bytes whose hash (hex) is `hash`.
    pub fn of(hash: &str) -> EntityTags {
        let tag = |text: String| HeaderValue::try_from(text).expect("a hex hash is a header value");
        EntityTags {
            identity: tag(format!("\"{hash}\"")),
            gzip: tag(format!("\"{hash}-gzip\"")),
        }
    }
}

/// The share of a slice's weight kept for its filter index, made on demand (about 3 % of
/// a slice).
const INDEX_RESERVE_DIVISOR: usize = 16;

/// The share of the cache's budget kept for filtered slices, on top of it (one eighth).
const FILTERED_SHARE_DIVISOR: usize = 8;

/// A version's own public address as a header value.
fn location_of(version: &Version) -> AppResult<HeaderValue> {
    HeaderValue::try_from(version.public_path())
        .map_err(|e| AppError::Internal(format!("a version's address: {e}")))
}

/// A detached JWS as a header value.
pub fn signature_header(signer: &SigningKeys, bytes: &[u8]) -> HeaderValue {
    HeaderValue::try_from(signer.sign_detached(bytes)).expect("a JWS is base64url and dots")
}

impl Published {
    /// A version's document from its stored content (and gzip copy, once made).
    pub fn build(
        version: Version,
        content: String,
        gzip: Option<Vec<u8>>,
        signer: &SigningKeys,
    ) -> AppResult<Published> {
        let matters = match ListKind::parse(&version.kind)? {
            ListKind::Power => Vec::new(),
            ListKind::Duty => {
                let document: Value = serde_json::from_str(&content)?;
                document["matters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| PublishedMatter {
                        search_text: searchable(&[
                            m["name"].as_str().unwrap_or(""),
                            m["domain"].as_str().unwrap_or(""),
                        ]),
                        matter: m.clone(),
                    })
                    .collect()
            }
        };
        // Versions published before publications were signed are signed when read.
        let signature = match &version.signature {
            Some(jws) => HeaderValue::try_from(jws.as_str())
                .map_err(|e| AppError::Internal(format!("a stored signature: {e}")))?,
            None => signature_header(signer, content.as_bytes()),
        };
        Ok(Published {
            signature,
            tags: EntityTags::of(&version.content_hash),
            location: location_of(&version)?,
            version,
            bytes: Bytes::from(content),
            matters,
            gzip: gzip
                .map(Bytes::from)
                .map(OnDemand::ready)
                .unwrap_or_default(),
        })
    }

    /// Bytes held, for the cache's budget.
    fn weight(&self) -> usize {
        // A responsibility list also holds its matters parsed, about the size again.
        let parsed = if self.matters.is_empty() {
            0
        } else {
            self.bytes.len()
        };
        self.bytes.len() + parsed + self.bytes.len() / 8
    }
}

/// A filtered township slice, made, hashed and signed once.
pub struct FilteredAnswer {
    /// The answer's canonical JSON.
    pub bytes: Bytes,
    /// Its strong ETags.
    pub tags: EntityTags,
    /// Its detached JWS.
    pub signature: HeaderValue,
}

/// Which filtered slice: the version, the township and the filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilteredKey {
    version: i64,
    township: Box<str>,
    category: Option<Box<str>>,
    domain: Option<Box<str>>,
    high_frequency: Option<bool>,
}

impl FilteredKey {
    /// The key of a filtered slice of a version's township.
    pub fn new(version: i64, township: &str, filter: &SliceFilter) -> FilteredKey {
        FilteredKey {
            version,
            township: township.into(),
            category: filter.category.map(Into::into),
            domain: filter.domain.map(Into::into),
            high_frequency: filter.high_frequency,
        }
    }
}

type InForceKey = (String, ListKind, NaiveDate);

/// What memory holds of published versions: whole documents and township slices share
/// one budget.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HeldKey {
    Document(i64),
    Slice(i64, Box<str>, bool),
}

#[derive(Clone)]
enum Held {
    Document(Arc<Published>),
    Slice(Arc<Slice>),
}

impl Held {
    fn weight(&self) -> u32 {
        let bytes = match self {
            Held::Document(published) => published.weight(),
            Held::Slice(slice) => slice.weight(),
        };
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// A failure shared by every caller that waited for one loading: the ones a client is
/// told apart keep their status.
fn shared_error(error: Arc<AppError>) -> AppError {
    match &*error {
        AppError::NotFound(detail) => AppError::NotFound(detail.clone()),
        AppError::Unavailable => AppError::Unavailable,
        other => AppError::Internal(other.to_string()),
    }
}

/// An in-force answer: the version (or none) and when the database gave it.
type InForce = (Option<Arc<Version>>, Instant);

/// The caches. Memory is bounded by weight with TinyLFU admission (moka): a sweep across
/// the province does not push out the townships read all day.
pub struct PublishedCache {
    held: Cache<HeldKey, Held>,
    filtered: Cache<FilteredKey, Arc<FilteredAnswer>>,
    in_force: RwLock<HashMap<InForceKey, InForce>>,
    in_force_ttl: Duration,
    /// Held while a version published before its bytes were made at publication is
    /// rendered on demand, so that it is rendered once.
    renderer: Mutex<()>,
    /// Bytes read into memory since freed memory was last handed back.
    loaded_since_trim: AtomicUsize,
    /// Hits, misses and evictions, for the metrics.
    counters: crate::metrics::CacheCounters,
}

/// What the cache holds at a moment.
#[derive(Debug, Clone, Copy)]
pub struct HeldNow {
    /// Bytes of documents and slices.
    pub bytes: u64,
    /// Documents and slices.
    pub entries: u64,
}

/// How much is read into memory (and, the budget being full, let go of) between two
/// hand-backs of freed memory: glibc keeps what the evicted entries held in its arenas,
/// and under reads across the province resident memory would climb far past the budget.
const TRIM_EVERY_BYTES: usize = 64 * 1024 * 1024;

impl PublishedCache {
    /// Caches holding about `max_bytes` of published bytes, trusting an in-force answer
    /// for `in_force_ttl`.
    pub fn new(in_force_ttl: Duration, max_bytes: usize) -> PublishedCache {
        let counters = crate::metrics::CacheCounters::default();
        let evictions = counters.evictions.clone();
        PublishedCache {
            held: Cache::builder()
                .max_capacity(max_bytes as u64)
                .weigher(|_, held: &Held| held.weight())
                .eviction_listener(move |_, _, cause| {
                    if cause == moka::notification::RemovalCause::Size {
                        evictions.inc();
                    }
                })
                .build(),
            filtered: Cache::builder()
                .max_capacity((max_bytes / FILTERED_SHARE_DIVISOR) as u64)
                .weigher(|_, answer: &Arc<FilteredAnswer>| {
                    u32::try_from(answer.bytes.len()).unwrap_or(u32::MAX)
                })
                .build(),
            in_force: RwLock::new(HashMap::new()),
            in_force_ttl,
            renderer: Mutex::new(()),
            loaded_since_trim: AtomicUsize::new(0),
            counters,
        }
    }

    /// The cache's counters.
    pub fn counters(&self) -> &crate::metrics::CacheCounters {
        &self.counters
    }

    /// What is held now.
    pub fn held(&self) -> HeldNow {
        self.held.run_pending_tasks();
        HeldNow {
            bytes: self.held.weighted_size(),
            entries: self.held.entry_count(),
        }
    }

    /// Counts a read answered from memory, or not.
    fn counted<T>(&self, found: Option<T>) -> Option<T> {
        match &found {
            Some(_) => self.counters.hits.inc(),
            None => self.counters.misses.inc(),
        };
        found
    }

    /// Forgets which versions are in force (after a publication in this process).
    pub fn invalidate_in_force(&self) {
        self.in_force
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Asks the database which version is in force and remembers the answer.
    pub fn refresh_in_force(
        &self,
        conn: &mut DbConnection,
        county: &RegionCode,
        kind: ListKind,
        date: NaiveDate,
    ) -> AppResult<Option<Arc<Version>>> {
        let key = (county.as_str().to_owned(), kind, date);
        let version = Versions::in_force(conn, county, kind, date)?.map(Arc::new);
        let mut map = self.in_force.write().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(key, (version.clone(), Instant::now()));
        Ok(version)
    }

    /// The in-force answer from memory while fresh; `None` when unknown, or to the one
    /// caller that should refresh an expired answer.
    pub fn cached_in_force(
        &self,
        county: &RegionCode,
        kind: ListKind,
        date: NaiveDate,
    ) -> Option<Option<Arc<Version>>> {
        let key = (county.as_str().to_owned(), kind, date);
        match self
            .in_force
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            None => return None,
            Some((version, at)) if at.elapsed() < self.in_force_ttl => {
                return Some(version.clone())
            }
            Some(_) => {}
        }
        // Expired: the first caller to get here asks the database; by restamping the old
        // answer it lets every other caller keep using it meanwhile, so the expiry does not
        // send all concurrent requests to the database at once.
        let mut map = self.in_force.write().unwrap_or_else(|p| p.into_inner());
        let (version, at) = map.get_mut(&key)?;
        if at.elapsed() < self.in_force_ttl {
            return Some(version.clone());
        }
        *at = Instant::now();
        None
    }

    /// A filtered slice made before, if still held.
    pub fn filtered(&self, key: &FilteredKey) -> Option<Arc<FilteredAnswer>> {
        self.filtered.get(key)
    }

    /// Keeps a filtered slice within its budget.
    pub fn keep_filtered(&self, key: FilteredKey, answer: FilteredAnswer) -> Arc<FilteredAnswer> {
        let answer = Arc::new(answer);
        self.filtered.insert(key, answer.clone());
        answer
    }

    /// A version's document from memory, if there.
    pub fn document(&self, id: i64) -> Option<Arc<Published>> {
        self.counted(match self.held.get(&HeldKey::Document(id)) {
            Some(Held::Document(published)) => Some(published),
            _ => None,
        })
    }

    /// A version's document: from memory, or made by `load` once however many ask at
    /// once. Call it on a blocking thread.
    pub fn load_document(
        &self,
        id: i64,
        load: impl FnOnce() -> AppResult<Published>,
    ) -> AppResult<Arc<Published>> {
        let held = self
            .held
            .try_get_with(HeldKey::Document(id), || {
                let held = load().map(|published| Held::Document(Arc::new(published)))?;
                self.loaded(held.weight());
                Ok(held)
            })
            .map_err(shared_error)?;
        self.forget_if_oversized(&HeldKey::Document(id), &held);
        match held {
            Held::Document(published) => Ok(published),
            Held::Slice(_) => Err(AppError::Internal("a slice held as a document".into())),
        }
    }

    /// A township's slice (as it is, or its gzip copy) from memory, if there.
    pub fn slice(&self, version: i64, township: &str, gzip: bool) -> Option<Arc<Slice>> {
        self.counted(
            match self
                .held
                .get(&HeldKey::Slice(version, township.into(), gzip))
            {
                Some(Held::Slice(slice)) => Some(slice),
                _ => None,
            },
        )
    }

    /// A township's slice: from memory, or read by `load` once however many ask at once.
    /// Call it on a blocking thread.
    pub fn load_slice(
        &self,
        version: i64,
        township: &str,
        gzip: bool,
        load: impl FnOnce() -> AppResult<Slice>,
    ) -> AppResult<Arc<Slice>> {
        let key = HeldKey::Slice(version, township.into(), gzip);
        let held = self
            .held
            .try_get_with(key.clone(), || {
                let held = load().map(|slice| Held::Slice(Arc::new(slice)))?;
                self.loaded(held.weight());
                Ok(held)
            })
            .map_err(shared_error)?;
        self.forget_if_oversized(&key, &held);
        match held {
            Held::Slice(slice) => Ok(slice),
            Held::Document(_) => Err(AppError::Internal("a document held as a slice".into())),
        }
    }

    /// Counts bytes read into memory, handing freed memory back every so often.
    fn loaded(&self, bytes: u32) {
        let before = self
            .loaded_since_trim
            .fetch_add(bytes as usize, Ordering::Relaxed);
        if before + bytes as usize >= TRIM_EVERY_BYTES {
            self.loaded_since_trim.store(0, Ordering::Relaxed);
            crate::http::expensive::release_freed_memory();
        }
    }

    /// Lets go at once of what weighs more than the whole budget: it was answered, and
    /// keeping it would push out everything else until the cache next tidies up.
    fn forget_if_oversized(&self, key: &HeldKey, held: &Held) {
        let budget = self.held.policy().max_capacity().unwrap_or(u64::MAX);
        if u64::from(held.weight()) > budget {
            self.held.invalidate(key);
        }
    }

    /// Runs `render` while no other rendering on demand runs.
    pub fn rendering<T>(&self, render: impl FnOnce() -> T) -> T {
        let _turn = self.renderer.lock().unwrap_or_else(|p| p.into_inner());
        render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(slice: &str, filter: SliceFilter) -> Vec<String> {
        let index = SliceIndex::build(slice.as_bytes()).unwrap();
        let items = index.admitted(slice.as_bytes(), &filter).unwrap();
        items.iter().map(|raw| raw.get().to_string()).collect()
    }

    #[test]
    fn filters_cut_items_from_the_slice_as_they_were_written() {
        // Nested fields of the same names and escaped text must not confuse the index.
        let a = r#"{"category":"01","code":"A","domain":"市容\"环境\"","high_frequency":true,"legal_basis":[{"category":"02"}]}"#;
        let b = r#"{"category":"02","code":"B","domain":"交通","high_frequency":false}"#;
        let c = r#"{"code":"C","domain":"交通"}"#;
        let s = &format!(
            r#"{{"content_hash":"x","item_count":3,"items":[{a},{b},{c}],"kind":"power","township":{{"items":[]}}}}"#
        );
        assert_eq!(texts(s, SliceFilter::default()), [a, b, c]);
        let category = |c| SliceFilter {
            category: Some(c),
            ..Default::default()
        };
        assert_eq!(texts(s, category("01")), [a]);
        assert_eq!(texts(s, category("02")), [b]);
        assert!(texts(s, category("99")).is_empty(), "unknown value");
        let domain = SliceFilter {
            domain: Some("交通"),
            ..Default::default()
        };
        assert_eq!(texts(s, domain), [b, c]);
        let escaped = SliceFilter {
            domain: Some("市容\"环境\""),
            ..Default::default()
        };
        assert_eq!(texts(s, escaped), [a]);
        let rare = SliceFilter {
            high_frequency: Some(false),
            domain: Some("交通"),
            ..Default::default()
        };
        assert_eq!(
            texts(s, rare),
            [b],
            "an item without the flag is not admitted"
        );
    }

    #[test]
    fn memory_holds_slices_within_its_budget_and_each_is_loaded_once() {
        let budget = 100 * 1024;
        let cache = PublishedCache::new(Duration::from_secs(1), budget);
        let loads = std::sync::atomic::AtomicUsize::new(0);
        let slice = |size: usize| {
            loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Slice {
                bytes: Bytes::from(vec![b' '; size]),
                gzip: false,
                tags: EntityTags::of("00"),
                signature: HeaderValue::from_static("x..y"),
                index: OnDemand::default(),
                location: HeaderValue::from_static("/"),
            })
        };
        for township in 0..200 {
            let code = format!("5105210{township:05}");
            let first = cache.load_slice(1, &code, false, || slice(4096)).unwrap();
            let again = cache.load_slice(1, &code, false, || slice(4096)).unwrap();
            assert!(
                Arc::ptr_eq(&first, &again),
                "read from memory the second time"
            );
        }
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 200);
        cache.held.run_pending_tasks();
        assert!(
            cache.held.weighted_size() <= budget as u64,
            "{} bytes held over a budget of {budget}",
            cache.held.weighted_size()
        );
        let missing = cache.load_slice(2, "510521000001", false, || {
            Err(AppError::NotFound("no such township".into()))
        });
        assert!(
            matches!(missing, Err(AppError::NotFound(_))),
            "a 404 stays a 404"
        );
        assert!(
            cache.slice(2, "510521000001", false).is_none(),
            "and is not kept"
        );
    }

    #[test]
    fn a_slice_that_is_not_json_is_an_error_not_an_empty_answer() {
        assert!(SliceIndex::build(b"{\"items\":[").is_err());
    }

    #[actix_web::test]
    async fn what_is_made_on_demand_is_made_once_and_so_is_a_failure() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static MADE: AtomicUsize = AtomicUsize::new(0);
        fn length(bytes: &[u8]) -> AppResult<usize> {
            MADE.fetch_add(1, Ordering::SeqCst);
            if bytes.is_empty() {
                return Err(AppError::Internal("nothing to make it from".into()));
            }
            Ok(bytes.len())
        }
        let made = OnDemand::default();
        let bytes = Bytes::from_static(b"abc");
        let (first, second) = futures_util::future::join(
            made.get_or_make(&bytes, length),
            made.get_or_make(&bytes, length),
        )
        .await;
        assert_eq!((*first.unwrap(), *second.unwrap()), (3, 3));
        assert_eq!(*made.get_or_make(&bytes, length).await.unwrap(), 3);
        assert_eq!(MADE.load(Ordering::SeqCst), 1, "made once");

        let failed = OnDemand::default();
        let empty = Bytes::new();
        assert!(failed.get_or_make(&empty, length).await.is_err());
        assert!(failed.get_or_make(&empty, length).await.is_err());
        assert_eq!(
            MADE.load(Ordering::SeqCst),
            2,
            "a failure is kept, not retried"
        );
    }
}
