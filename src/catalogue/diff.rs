//! Differences between two editions, matched by item code.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::item::{Item, ItemInput};

/// One field that differs.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct FieldChange {
    /// The field's name.
    pub field: String,
    /// Its value in the older edition.
    #[schema(value_type = Object)]
    pub from: serde_json::Value,
    /// Its value in the newer edition.
    #[schema(value_type = Object)]
    pub to: serde_json::Value,
}

/// An item present in both editions with different content.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangedItem {
    /// The item's code.
    pub code: String,
    /// Its name in the newer edition.
    pub name: String,
    /// The fields that differ.
    pub changes: Vec<FieldChange>,
}

/// What changed from one edition to another.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditionDiff {
    /// The older edition.
    pub from: String,
    /// The newer edition.
    pub to: String,
    /// Items only in `to`.
    pub added: Vec<ItemInput>,
    /// Items only in `from`.
    pub removed: Vec<ItemInput>,
    /// Items in both whose content differs.
    pub changed: Vec<ChangedItem>,
    /// Items in both with the same content.
    pub unchanged: usize,
}

/// The fields of `to` that differ from `from`, in the content's field order.
pub fn changed_fields(from: &ItemInput, to: &ItemInput) -> Vec<FieldChange> {
    let as_map = |i: &ItemInput| match serde_json::to_value(i) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (old, mut new) = (as_map(from), as_map(to));
    // A field left out when empty (township_kinds) is compared as absent on the other side.
    for field in old.keys() {
        if !new.contains_key(field) {
            new.insert(field.clone(), serde_json::Value::Null);
        }
    }
    new.into_iter()
        .filter_map(|(field, value)| {
            let before = old.get(&field).cloned().unwrap_or(serde_json::Value::Null);
            (before != value).then_some(FieldChange {
                field,
                from: before,
                to: value,
            })
        })
        .collect()
}

/// Compares two editions' items by code.
pub fn diff(from_code: &str, from: Vec<Item>, to_code: &str, to: Vec<Item>) -> EditionDiff {
    let mut old: BTreeMap<String, ItemInput> = from
        .into_iter()
        .map(|i| (i.content.code.clone(), i.content))
        .collect();
    let mut result = EditionDiff {
        from: from_code.into(),
        to: to_code.into(),
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    for item in to {
        let new = item.content;
        match old.remove(&new.code) {
            None => result.added.push(new),
            Some(before) => {
                let changes = changed_fields(&before, &new);
                if changes.is_empty() {
                    result.unchanged += 1;
                } else {
                    result.changed.push(ChangedItem {
                        code: new.code.clone(),
                        name: new.name.clone(),
                        changes,
                    });
                }
            }
        }
    }
    result.removed = old.into_values().collect();
    result
}
