//! The frozen content of a version: compiled from the working copy, written as canonical
//! JSON (object keys sorted, items in a fixed order) and named by its SHA-256.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::claims::{latest_edition, power_set};
use crate::db::schema::regions;
use crate::db::DbConnection;
use crate::duties::DutyLists;
use crate::error::{AppError, AppResult};
use crate::regions::{Level, RegionCode};

/// The two lists a county publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// Every township's powers (權力清單).
    Power,
    /// The responsibility list (屬地管理事項責任清單).
    Duty,
}

impl ListKind {
    /// The name in URLs and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Power => "power",
            ListKind::Duty => "duty",
        }
    }

    /// Reads a name from a URL.
    pub fn parse(s: &str) -> AppResult<ListKind> {
        match s {
            "power" => Ok(ListKind::Power),
            "duty" => Ok(ListKind::Duty),
            other => Err(AppError::NotFound(format!(
                "no list kind {other:?}; kinds are power and duty"
            ))),
        }
    }
}

/// Rewrites a value with every object's keys in sorted order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let ordered: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Canonical JSON bytes: sorted keys, no insignificant whitespace.
pub fn canonical_bytes(value: Value) -> Vec<u8> {
    serde_json::to_vec(&sorted(value)).expect("a JSON value serialises")
}

/// The SHA-256 of bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A compiled document, ready to freeze.
pub struct Compiled {
    /// Canonical bytes.
    pub bytes: Vec<u8>,
    /// Their SHA-256.
    pub hash: String,
    /// Items (power: township items; duty: matters).
    pub item_count: i64,
}

fn county_name(conn: &mut DbConnection, county: &RegionCode) -> AppResult<String> {
    regions::table
        .find(county.as_str())
        .select(regions::name)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no county {county}")))
}

/// Compiles the power list: for every township of the county, its statutory items and
/// confirmed claims under `edition` (default: the edition of the latest round).
pub fn compile_power(
    conn: &mut DbConnection,
    county: &RegionCode,
    edition: Option<String>,
) -> AppResult<Compiled> {
    let name = county_name(conn, county)?;
    let edition = match edition {
        Some(e) => e,
        None => latest_edition(conn, county)?,
    };
    let townships: Vec<(String, String, Option<String>)> = regions::table
        .filter(regions::parent_code.eq(county.as_str()))
        .filter(regions::level.eq(Level::Township.as_str()))
        .order(regions::code.asc())
        .select((regions::code, regions::name, regions::kind))
        .load(conn)?;
    if townships.is_empty() {
        return Err(AppError::Conflict(format!(
            "county {county} has no townships to publish a power list for"
        )));
    }
    let mut item_count = 0;
    let mut entries = Vec::with_capacity(townships.len());
    for (code, township_name, kind) in townships {
        let set = power_set(
            conn,
            &RegionCode::parse(&code).expect("stored codes are valid"),
            &edition,
        )?;
        item_count += set.items.len() as i64;
        entries.push(serde_json::json!({
            "code": code,
            "name": township_name,
            "kind": kind,
            "statutory": set.statutory,
            "delegated": set.delegated,
            "items": set.items,
        }));
    }
    let document = serde_json::json!({
        "kind": "power",
        "county": {"code": county.to_string(), "name": name},
        "edition": edition,
        "townships": entries,
    });
    let bytes = canonical_bytes(document);
    Ok(Compiled {
        hash: sha256_hex(&bytes),
        bytes,
        item_count,
    })
}

/// Compiles the responsibility list: every matter, with department names, in code order.
pub fn compile_duty(conn: &mut DbConnection, county: &RegionCode) -> AppResult<Compiled> {
    let name = county_name(conn, county)?;
    let matters = DutyLists::all(conn, county)?;
    if matters.is_empty() {
        return Err(AppError::Conflict(format!(
            "county {county}'s responsibility list has no matters to submit"
        )));
    }
    let entries: Vec<Value> = matters
        .iter()
        .map(|m| {
            let mut value = serde_json::to_value(m).expect("a matter serialises");
            if let Value::Object(map) = &mut value {
                for volatile in ["county", "revision", "created_at", "updated_at"] {
                    map.remove(volatile);
                }
            }
            value
        })
        .collect();
    let document = serde_json::json!({
        "kind": "duty",
        "county": {"code": county.to_string(), "name": name},
        "matters": entries,
    });
    let bytes = canonical_bytes(document);
    Ok(Compiled {
        hash: sha256_hex(&bytes),
        item_count: matters.len() as i64,
        bytes,
    })
}

/// The items of a document keyed for diffs: `township/code` for power lists, the matter
/// code for responsibility lists.
pub fn keyed_items(kind: ListKind, document: &Value) -> BTreeMap<String, &Value> {
    let mut items = BTreeMap::new();
    match kind {
        ListKind::Power => {
            for township in document["townships"].as_array().into_iter().flatten() {
                let code = township["code"].as_str().unwrap_or_default();
                for item in township["items"].as_array().into_iter().flatten() {
                    items.insert(
                        format!("{code}/{}", item["code"].as_str().unwrap_or_default()),
                        item,
                    );
                }
            }
        }
        ListKind::Duty => {
            for matter in document["matters"].as_array().into_iter().flatten() {
                items.insert(
                    matter["code"].as_str().unwrap_or_default().to_string(),
                    matter,
                );
            }
        }
    }
    items
}

/// One field that differs.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldDifference {
    /// The field.
    pub field: String,
    /// Its value before.
    #[schema(value_type = Object)]
    pub from: Value,
    /// Its value after.
    #[schema(value_type = Object)]
    pub to: Value,
}

/// An item in both versions with different content.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangedEntry {
    /// `township/code` (power) or the matter code (duty).
    pub key: String,
    /// The fields that differ.
    pub changes: Vec<FieldDifference>,
}

/// Differences between two documents of one kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDiff {
    /// Keys only in the newer version, with their content.
    #[schema(value_type = Object)]
    pub added: BTreeMap<String, Value>,
    /// Keys only in the older version, with their content.
    #[schema(value_type = Object)]
    pub removed: BTreeMap<String, Value>,
    /// Keys in both with different content.
    pub changed: Vec<ChangedEntry>,
    /// Keys in both with the same content.
    pub unchanged: usize,
}

/// Compares two documents item by item, field by field.
pub fn diff_documents(kind: ListKind, from: &Value, to: &Value) -> DocumentDiff {
    let mut old = keyed_items(kind, from);
    let mut diff = DocumentDiff {
        added: BTreeMap::new(),
        removed: BTreeMap::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    for (key, new) in keyed_items(kind, to) {
        match old.remove(&key) {
            None => {
                diff.added.insert(key, new.clone());
            }
            Some(before) if before == new => diff.unchanged += 1,
            Some(before) => {
                let empty = serde_json::Map::new();
                let before_map = before.as_object().unwrap_or(&empty);
                let after_map = new.as_object().unwrap_or(&empty);
                let mut fields: Vec<&String> = before_map.keys().chain(after_map.keys()).collect();
                fields.sort();
                fields.dedup();
                let changes: Vec<FieldDifference> = fields
                    .into_iter()
                    .filter_map(|field| {
                        let (a, b) = (before_map.get(field), after_map.get(field));
                        (a != b).then(|| FieldDifference {
                            field: field.clone(),
                            from: a.cloned().unwrap_or(Value::Null),
                            to: b.cloned().unwrap_or(Value::Null),
                        })
                    })
                    .collect();
                if changes.is_empty() {
                    diff.unchanged += 1;
                } else {
                    diff.changed.push(ChangedEntry { key, changes });
                }
            }
        }
    }
    diff.removed = old.into_iter().map(|(k, v)| (k, v.clone())).collect();
    diff
}
