//! Published versions never change, so their rendered bytes are kept in memory by
//! version: the hot public path asks the database only which version is in force, and
//! even that answer is kept for a moment.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::header::HeaderValue;
use actix_web::web::{self, Bytes};
use chrono::NaiveDate;
use serde_json::value::RawValue;
use serde_json::Value;

use super::document::{sha256_hex, ListKind};
use super::model::{Version, Versions};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::http::expensive::release_freed_memory;
use crate::keys::SigningKeys;
use crate::regions::RegionCode;
use crate::text::searchable;

/// One township's part of a published power list.
pub struct Slice {
    /// The rendered answer (canonical JSON).
    pub bytes: Bytes,
    /// Its strong ETags (from the SHA-256 of the bytes).
    pub tags: EntityTags,
    /// A detached JWS over the bytes, made on the first request for the slice and kept
    /// beside them: rendering a county's list for one township's slice (a sweep across the
    /// province) then signs that slice alone.
    pub signature: OnDemand<HeaderValue>,
    /// The township's code, name and kind.
    pub township: Value,
    /// The same bytes gzip-compressed, made on the first request that accepts them.
    pub gzip: OnDemand<Bytes>,
    /// Where each item lies in `bytes`, made on the first filtered request.
    pub index: OnDemand<SliceIndex>,
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

/// A published version, parsed and rendered once.
pub struct Published {
    /// Its metadata at publication.
    pub version: Version,
    /// The canonical content bytes.
    pub bytes: Bytes,
    /// Power lists: each township's slice, by code.
    pub townships: HashMap<String, Slice>,
    /// Responsibility lists: the matters.
    pub matters: Vec<PublishedMatter>,
    /// The county's code and name.
    pub county: Value,
    /// The catalogue edition of a power list.
    pub edition: Option<String>,
    /// The canonical content gzip-compressed, made on the first request that accepts it.
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

/// A power list as stored, read without building a tree: each township's items stay the
/// canonical text they were frozen as, so rendering a slice is copying, and a document of
/// megabytes costs little more than its own size in memory.
#[derive(serde::Deserialize)]
struct RawPowerList<'a> {
    #[serde(borrow)]
    county: &'a RawValue,
    edition: Option<String>,
    #[serde(borrow, default)]
    townships: Vec<RawTownship<'a>>,
}

#[derive(serde::Deserialize)]
struct RawTownship<'a> {
    code: String,
    kind: Value,
    name: Value,
    #[serde(borrow, default)]
    items: Vec<&'a RawValue>,
}

/// The share of a version's weight kept for what its requests make later, on demand (one
/// eighth): gzip copies (JSON lists compress about twentyfold) and slices' filter indexes
/// (about 3 % of a slice).
const ON_DEMAND_RESERVE_DIVISOR: usize = 8;

/// The share of the cache's budget kept for filtered slices, on top of it (one eighth).
const FILTERED_SHARE_DIVISOR: usize = 8;

/// `bytes` gzip-compressed, for clients that accept it.
pub fn gzipped(bytes: &[u8]) -> AppResult<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 8),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    encoder.write_all(bytes).expect("gzip into memory");
    Ok(Bytes::from(encoder.finish().expect("gzip into memory")))
}

/// A detached JWS as a header value.
pub fn signature_header(signer: &SigningKeys, bytes: &[u8]) -> HeaderValue {
    HeaderValue::try_from(signer.sign_detached(bytes)).expect("a JWS is base64url and dots")
}

impl Published {
    fn build(version: Version, content: String, signer: &SigningKeys) -> AppResult<Published> {
        let kind = ListKind::parse(&version.kind)?;
        let (county, edition, townships, matters) = match kind {
            ListKind::Power => {
                let list: RawPowerList = serde_json::from_str(&content)?;
                let county: Value = serde_json::from_str(list.county.get())?;
                let mut townships = HashMap::with_capacity(list.townships.len());
                for township in list.townships {
                    // Keys in sorted order: the slice is canonical JSON.
                    let meta = serde_json::json!({"code": township.code, "kind": township.kind, "name": township.name});
                    let bytes = slice_bytes(
                        &version,
                        &county,
                        list.edition.as_deref(),
                        &meta,
                        &township.items,
                    );
                    townships.insert(
                        township.code,
                        Slice {
                            tags: EntityTags::of(&sha256_hex(&bytes)),
                            signature: OnDemand::default(),
                            bytes: Bytes::from(bytes),
                            township: meta,
                            gzip: OnDemand::default(),
                            index: OnDemand::default(),
                        },
                    );
                }
                (county, list.edition, townships, Vec::new())
            }
            ListKind::Duty => {
                let document: Value = serde_json::from_str(&content)?;
                let matters = document["matters"]
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
                    .collect();
                (
                    document["county"].clone(),
                    document["edition"].as_str().map(String::from),
                    HashMap::new(),
                    matters,
                )
            }
        };
        // Versions published before publications were signed are signed when rendered.
        let signature = match &version.signature {
            Some(jws) => HeaderValue::try_from(jws.as_str())
                .map_err(|e| AppError::Internal(format!("a stored signature: {e}")))?,
            None => signature_header(signer, content.as_bytes()),
        };
        Ok(Published {
            signature,
            tags: EntityTags::of(&version.content_hash),
            location: HeaderValue::try_from(version.public_path())
                .map_err(|e| AppError::Internal(format!("a version's address: {e}")))?,
            version,
            bytes: Bytes::from(content),
            townships,
            matters,
            county,
            edition,
            gzip: OnDemand::default(),
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
        let identity = self.bytes.len()
            + parsed
            + self
                .townships
                .values()
                .map(|s| s.bytes.len())
                .sum::<usize>();
        identity + identity / ON_DEMAND_RESERVE_DIVISOR
    }
}

/// Renders a township's slice (all items, or the filtered ones). The fields are in
/// sorted order and every part comes from a canonical document, so the bytes are
/// canonical JSON without re-sorting a tree of thousands of items.
pub fn slice_bytes<Item: serde::Serialize>(
    version: &Version,
    county: &Value,
    edition: Option<&str>,
    township: &Value,
    items: &[Item],
) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct SliceDocument<'a, Item> {
        content_hash: &'a str,
        county: &'a Value,
        edition: Option<&'a str>,
        effective_from: Option<NaiveDate>,
        item_count: usize,
        items: &'a [Item],
        kind: &'static str,
        township: &'a Value,
        version: i32,
    }
    serde_json::to_vec(&SliceDocument {
        content_hash: &version.content_hash,
        county,
        edition,
        effective_from: version.effective_from,
        item_count: items.len(),
        items,
        kind: "power",
        township,
        version: version.number,
    })
    .expect("a slice serialises")
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

/// Filtered slices are as immutable as the slices they are cut from, so each is made and
/// signed once and kept, first in first out, within a budget of its own.
#[derive(Default)]
struct FilteredHeld {
    by_key: HashMap<FilteredKey, Arc<FilteredAnswer>>,
    arrival: VecDeque<FilteredKey>,
    bytes: usize,
}

type InForceKey = (String, ListKind, NaiveDate);

/// The rendered versions in memory, with their weight and the order they came in.
#[derive(Default)]
struct Held {
    by_id: HashMap<i64, Arc<Published>>,
    bytes: usize,
    arrival: VecDeque<i64>,
}

impl Held {
    /// Keeps a version, first letting the oldest go while over `budget`.
    fn keep(&mut self, published: Arc<Published>, budget: usize) {
        let weight = published.weight();
        while self.bytes + weight > budget {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            if let Some(gone) = self.by_id.remove(&oldest) {
                self.bytes -= gone.weight();
            }
        }
        let id = published.version.id;
        if let std::collections::hash_map::Entry::Vacant(slot) = self.by_id.entry(id) {
            slot.insert(published);
            self.bytes += weight;
            self.arrival.push_back(id);
        }
    }
}

/// The caches.
pub struct PublishedCache {
    versions: RwLock<Held>,
    filtered: RwLock<FilteredHeld>,
    filtered_budget: usize,
    in_force: RwLock<HashMap<InForceKey, (Option<i64>, Instant)>>,
    in_force_ttl: Duration,
    max_bytes: usize,
    builder: Mutex<()>,
}

impl PublishedCache {
    /// Caches holding at most `max_bytes` of rendered versions, trusting an in-force
    /// answer for `in_force_ttl`.
    pub fn new(in_force_ttl: Duration, max_bytes: usize) -> PublishedCache {
        PublishedCache {
            versions: RwLock::new(Held::default()),
            filtered: RwLock::new(FilteredHeld::default()),
            filtered_budget: max_bytes / FILTERED_SHARE_DIVISOR,
            in_force: RwLock::new(HashMap::new()),
            in_force_ttl,
            max_bytes,
            builder: Mutex::new(()),
        }
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
    ) -> AppResult<Option<Version>> {
        let key = (county.as_str().to_owned(), kind, date);
        let version = Versions::in_force(conn, county, kind, date)?;
        let mut map = self.in_force.write().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(key, (version.as_ref().map(|v| v.id), Instant::now()));
        Ok(version)
    }

    /// The in-force answer from memory while fresh; `None` when unknown, or to the one
    /// caller that should refresh an expired answer.
    pub fn cached_in_force(
        &self,
        county: &RegionCode,
        kind: ListKind,
        date: NaiveDate,
    ) -> Option<Option<i64>> {
        let key = (county.as_str().to_owned(), kind, date);
        match self
            .in_force
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            None => return None,
            Some((id, at)) if at.elapsed() < self.in_force_ttl => return Some(*id),
            Some(_) => {}
        }
        // Expired: the first caller to get here asks the database; by restamping the old
        // answer it lets every other caller keep using it meanwhile, so the expiry does not
        // send all concurrent requests to the database at once.
        let mut map = self.in_force.write().unwrap_or_else(|p| p.into_inner());
        let (id, at) = map.get_mut(&key)?;
        if at.elapsed() < self.in_force_ttl {
            return Some(*id);
        }
        *at = Instant::now();
        None
    }

    /// A filtered slice made before, if still held.
    pub fn filtered(&self, key: &FilteredKey) -> Option<Arc<FilteredAnswer>> {
        self.filtered
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_key
            .get(key)
            .cloned()
    }

    /// Keeps a filtered slice, letting the oldest go while over its budget.
    pub fn keep_filtered(&self, key: FilteredKey, answer: FilteredAnswer) -> Arc<FilteredAnswer> {
        let answer = Arc::new(answer);
        let weight = answer.bytes.len();
        if weight > self.filtered_budget {
            return answer;
        }
        let mut held = self.filtered.write().unwrap_or_else(|p| p.into_inner());
        while held.bytes + weight > self.filtered_budget {
            let Some(oldest) = held.arrival.pop_front() else {
                break;
            };
            if let Some(gone) = held.by_key.remove(&oldest) {
                held.bytes -= gone.bytes.len();
            }
        }
        if !held.by_key.contains_key(&key) {
            held.bytes += weight;
            held.arrival.push_back(key.clone());
            held.by_key.insert(key, answer.clone());
        }
        answer
    }

    /// A rendered version from memory, if there.
    pub fn get(&self, id: i64) -> Option<Arc<Published>> {
        self.versions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .get(&id)
            .cloned()
    }

    /// A rendered version: from memory, or its content fetched with `fetch` and rendered.
    /// Versions are fetched and rendered one at a time, so concurrent requests for one
    /// version wait for its one rendering, and a sweep across the province never holds
    /// more than one document of megabytes. Call it on a blocking thread.
    pub fn load(
        &self,
        version: Version,
        signer: &SigningKeys,
        fetch: impl FnOnce() -> AppResult<String>,
    ) -> AppResult<Arc<Published>> {
        let published = {
            let _turn = self.builder.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = self.get(version.id) {
                return Ok(hit);
            }
            let published = Arc::new(Published::build(version, fetch()?, signer)?);
            self.versions
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .keep(published.clone(), self.max_bytes);
            published
        };
        release_freed_memory();
        Ok(published)
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
    fn filtered_slices_are_kept_oldest_out_within_their_budget() {
        let cache = PublishedCache::new(Duration::from_secs(1), 8 * 100);
        let answer = |size: usize| FilteredAnswer {
            bytes: Bytes::from(vec![b' '; size]),
            tags: EntityTags::of("00"),
            signature: HeaderValue::from_static("x..y"),
        };
        let key = |version, category: &str| {
            let filter = SliceFilter {
                category: Some(category),
                ..Default::default()
            };
            FilteredKey::new(version, "510521001000", &filter)
        };
        cache.keep_filtered(key(1, "01"), answer(40));
        cache.keep_filtered(key(1, "02"), answer(40));
        assert!(cache.filtered(&key(1, "01")).is_some());
        assert!(cache.filtered(&key(2, "01")).is_none(), "another version");
        cache.keep_filtered(key(1, "03"), answer(40));
        assert!(cache.filtered(&key(1, "01")).is_none(), "the oldest went");
        assert!(cache.filtered(&key(1, "02")).is_some());
        assert!(cache.filtered(&key(1, "03")).is_some());
        let huge = cache.keep_filtered(key(1, "04"), answer(500));
        assert_eq!(huge.bytes.len(), 500, "answered, though not kept");
        assert!(cache.filtered(&key(1, "04")).is_none());
        assert!(cache.filtered(&key(1, "03")).is_some());
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
