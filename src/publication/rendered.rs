//! A published version's bytes, made once when it is published and kept in the database
//! beside its content: each township's slice of a power list with its gzip copy and
//! signature, and the gzip copy of the whole document. Memory is a cache in front of
//! them; a read that misses it costs one indexed read of stored bytes, never a render.
//!
//! They live in the database rather than in files beside it so that every instance, a
//! read replica and a backup see the same bytes, written in the publication's own
//! transaction: a version in force always has its bytes.

use std::io::Write;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::value::RawValue;
use serde_json::Value;

use super::document::{sha256_hex, ListKind};
use super::model::{Version, VersionStatus};
use crate::db::schema::{list_versions, version_contents, version_slices};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::keys::SigningKeys;

/// One township's slice as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = version_slices)]
pub struct StoredSlice {
    /// The version it was cut from.
    pub version_id: i64,
    /// The township's code.
    pub township: String,
    /// SHA-256 (hex) of `body`.
    pub content_hash: String,
    /// Canonical JSON.
    pub body: Vec<u8>,
    /// `body` gzip-compressed.
    pub body_gzip: Vec<u8>,
    /// Detached JWS over `body`.
    pub signature: String,
}

/// One representation of a stored slice.
#[derive(Debug, Clone)]
pub struct StoredPart {
    /// SHA-256 (hex) of the slice as it is (the gzip copy's tag is made from it).
    pub content_hash: String,
    /// Detached JWS over the slice as it is.
    pub signature: String,
    /// The slice, or its gzip copy.
    pub bytes: Vec<u8>,
}

/// A power list as stored, read without building a tree: each township's items stay the
/// canonical text they were frozen as, so cutting a slice is copying.
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

/// What a slice says besides its items, read back from its bytes to cut a filtered slice.
#[derive(serde::Deserialize)]
pub struct SliceHead {
    /// The county's code and name.
    pub county: Value,
    /// The catalogue edition.
    pub edition: Option<String>,
    /// The township's code, kind and name.
    pub township: Value,
}

impl SliceHead {
    /// Reads the head of a slice's bytes (the items are skipped, not parsed).
    pub fn of(bytes: &[u8]) -> AppResult<SliceHead> {
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// `bytes` gzip-compressed.
pub fn gzipped(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 8),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// Renders a township's slice (all items, or the filtered ones). The fields are in
/// sorted order and every part comes from a canonical document, so the bytes are
/// canonical JSON without re-sorting a tree of thousands of items.
pub fn slice_bytes<Item: serde::Serialize>(
    version: &Version,
    head: &SliceHead,
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
        county: &head.county,
        edition: head.edition.as_deref(),
        effective_from: version.effective_from,
        item_count: items.len(),
        items,
        kind: "power",
        township: &head.township,
        version: version.number,
    })
    .expect("a slice serialises")
}

/// Cuts, compresses and signs every township's slice of a published power list.
pub fn render_slices(
    version: &Version,
    content: &str,
    signer: &SigningKeys,
) -> AppResult<Vec<StoredSlice>> {
    let list: RawPowerList = serde_json::from_str(content)?;
    let county: Value = serde_json::from_str(list.county.get())?;
    let mut head = SliceHead {
        county,
        edition: list.edition,
        township: Value::Null,
    };
    let mut slices = Vec::with_capacity(list.townships.len());
    for township in list.townships {
        // Keys in sorted order: the slice is canonical JSON.
        head.township = serde_json::json!({"code": township.code, "kind": township.kind, "name": township.name});
        let body = slice_bytes(version, &head, &township.items);
        slices.push(StoredSlice {
            version_id: version.id,
            township: township.code,
            content_hash: sha256_hex(&body),
            body_gzip: gzipped(&body),
            signature: signer.sign_detached(&body),
            body,
        });
    }
    Ok(slices)
}

/// The stored bytes of published versions.
pub struct Rendered;

impl Rendered {
    /// Makes and stores a published version's bytes unless they are stored already
    /// (another instance may have made them first); true when this call made them.
    pub fn store(
        conn: &mut DbConnection,
        version: &Version,
        signer: &SigningKeys,
    ) -> AppResult<bool> {
        if version.published_at.is_none() {
            return Err(AppError::Internal(format!(
                "version {} is not published: it has no bytes to make",
                version.id
            )));
        }
        // Touching the row first takes its lock (PostgreSQL), so two instances making the
        // same version's bytes take turns and the second finds them made.
        diesel::update(version_contents::table.find(version.id))
            .set(version_contents::content_gzip.eq(version_contents::content_gzip))
            .execute(conn)?;
        if Rendered::is_stored(conn, version.id)? {
            return Ok(false);
        }
        let content = super::model::Versions::content(conn, version.id)?;
        if ListKind::parse(&version.kind)? == ListKind::Power {
            // One slice a statement: each is hundreds of kilobytes.
            for slice in render_slices(version, &content, signer)? {
                diesel::insert_into(version_slices::table)
                    .values(&slice)
                    .execute(conn)?;
            }
        }
        diesel::update(version_contents::table.find(version.id))
            .set(version_contents::content_gzip.eq(gzipped(content.as_bytes())))
            .execute(conn)?;
        Ok(true)
    }

    /// Whether a version's bytes are stored.
    pub fn is_stored(conn: &mut DbConnection, version_id: i64) -> AppResult<bool> {
        Ok(version_contents::table
            .find(version_id)
            .select(version_contents::content_gzip.is_not_null())
            .first::<bool>(conn)
            .optional()?
            .unwrap_or(false))
    }

    /// One representation of a township's stored slice: its bytes as they are, or their
    /// gzip copy; only that one is read.
    pub fn slice(
        conn: &mut DbConnection,
        version_id: i64,
        township: &str,
        gzip: bool,
    ) -> AppResult<Option<StoredPart>> {
        let row = version_slices::table.find((version_id, township));
        let part = if gzip {
            row.select((
                version_slices::content_hash,
                version_slices::signature,
                version_slices::body_gzip,
            ))
            .first::<(String, String, Vec<u8>)>(conn)
        } else {
            row.select((
                version_slices::content_hash,
                version_slices::signature,
                version_slices::body,
            ))
            .first::<(String, String, Vec<u8>)>(conn)
        };
        Ok(part
            .optional()?
            .map(|(content_hash, signature, bytes)| StoredPart {
                content_hash,
                signature,
                bytes,
            }))
    }

    /// A version's document gzip-compressed, once stored.
    pub fn document_gzip(conn: &mut DbConnection, version_id: i64) -> AppResult<Option<Vec<u8>>> {
        Ok(version_contents::table
            .find(version_id)
            .select(version_contents::content_gzip)
            .first::<Option<Vec<u8>>>(conn)
            .optional()?
            .flatten())
    }

    /// Published versions whose bytes are not stored yet: those published before the
    /// bytes were made at publication.
    pub fn missing(conn: &mut DbConnection) -> AppResult<Vec<Version>> {
        Ok(list_versions::table
            .inner_join(version_contents::table)
            .filter(
                list_versions::status
                    .eq_any(VersionStatus::EVER_PUBLISHED.map(VersionStatus::as_str)),
            )
            .filter(version_contents::content_gzip.is_null())
            .order(list_versions::id)
            .select(Version::as_select())
            .load(conn)?)
    }

    /// Holds every version's stored document against the hash it was frozen with, and
    /// every stored slice against its own hash and signature: what a restored backup must
    /// pass. Reads a version at a time.
    pub fn check(conn: &mut DbConnection, keys: &crate::keys::JwkSet) -> AppResult<StoredCheck> {
        let ids: Vec<(i64, String)> = list_versions::table
            .inner_join(version_contents::table)
            .order(list_versions::id)
            .select((list_versions::id, list_versions::content_hash))
            .load(conn)?;
        let mut check = StoredCheck::default();
        for (id, hash) in ids {
            let content: String = version_contents::table
                .find(id)
                .select(version_contents::content)
                .first(conn)?;
            check.versions += 1;
            if sha256_hex(content.as_bytes()) != hash {
                check.problems.push(format!(
                    "version {id}: its document does not match its hash"
                ));
            }
            let slices: Vec<StoredSlice> = version_slices::table
                .filter(version_slices::version_id.eq(id))
                .select(StoredSlice::as_select())
                .load(conn)?;
            for slice in slices {
                check.slices += 1;
                let whose = format!("version {id}, township {}", slice.township);
                if sha256_hex(&slice.body) != slice.content_hash {
                    check
                        .problems
                        .push(format!("{whose}: the slice does not match its hash"));
                }
                if keys.verify_detached(&slice.signature, &slice.body).is_err() {
                    check
                        .problems
                        .push(format!("{whose}: the slice's signature does not verify"));
                }
                if gunzip(&slice.body_gzip).as_deref() != Some(&slice.body[..]) {
                    check
                        .problems
                        .push(format!("{whose}: the gzip copy differs from the slice"));
                }
            }
        }
        Ok(check)
    }
}

/// What [`Rendered::check`] found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StoredCheck {
    /// Versions whose documents were checked.
    pub versions: usize,
    /// Slices checked.
    pub slices: usize,
    /// Each mismatch, in words; none when all is well.
    pub problems: Vec<String>,
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}
