//! The one import pipeline (regions, organisations, the catalogue, the duty list): rows as
//! read, each with its row number, checked all at once and keyed; compared with what is
//! stored; counted into a report; written unless it is a dry run. A file with any problem
//! writes nothing and is answered with every problem, in row order.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::hash::Hash;

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult, FieldError};

/// The outcome of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportReport {
    /// True when nothing was written.
    pub dry_run: bool,
    /// Rows read.
    pub rows: usize,
    /// Rows that created something.
    pub created: usize,
    /// Rows that changed something that existed.
    pub updated: usize,
    /// Rows identical to what existed.
    pub unchanged: usize,
    /// Existing entries the import removed (for imports that replace a whole set).
    pub removed: usize,
}

impl ImportReport {
    /// Whether a write would change anything.
    pub fn changes_anything(&self) -> bool {
        self.created + self.updated + self.removed > 0
    }

    /// The audit summary: `imported 12 regions: 3 created, 2 renamed, 7 unchanged`.
    pub fn summary(&self, plural: &str, updated: &str) -> String {
        let mut text = format!(
            "imported {} {plural}: {} created, {} {updated}, {} unchanged",
            self.rows, self.created, self.updated, self.unchanged
        );
        if self.removed > 0 {
            text.push_str(&format!(", {} removed", self.removed));
        }
        text
    }
}

/// An import's rows, keyed, with every problem found so far.
#[derive(Debug)]
pub struct Checked<K, T> {
    /// Each key's row number and checked value, in key order.
    pub rows: BTreeMap<K, (usize, T)>,
    /// Rows read.
    pub total: usize,
    problems: Vec<FieldError>,
}

impl<K: Ord + Clone + Display, T> Checked<K, T> {
    /// Checks each row (`check` gives the value to key, when it has one, and the row's
    /// problems) and keys it; a key seen again is a problem of `field`.
    pub fn new<R>(
        rows: Vec<(usize, R)>,
        field: &str,
        mut check: impl FnMut(R) -> (Option<T>, Vec<FieldError>),
        key: impl Fn(&T) -> K,
    ) -> Self {
        let mut checked = Checked {
            rows: BTreeMap::new(),
            total: rows.len(),
            problems: Vec::new(),
        };
        for (row, input) in rows {
            let (value, problems) = check(input);
            checked.problems_of(row, problems);
            let Some(value) = value else { continue };
            let key = key(&value);
            match checked.rows.get(&key) {
                Some((first, _)) => {
                    let message = format!("{key} appears again (first in row {first})");
                    checked.problem(row, field, message);
                }
                None => {
                    checked.rows.insert(key, (row, value));
                }
            }
        }
        checked
    }

    /// A second key that must be unique too (a name within its county).
    pub fn unique<U: Eq + Hash>(
        &mut self,
        field: &str,
        key: impl Fn(&T) -> U,
        message: impl Fn(&T, usize) -> String,
    ) {
        let mut first_rows: HashMap<U, usize> = HashMap::new();
        let mut in_row_order: Vec<&(usize, T)> = self.rows.values().collect();
        in_row_order.sort_by_key(|(row, _)| *row);
        let mut found = Vec::new();
        for (row, value) in in_row_order {
            if let Some(first) = first_rows.insert(key(value), *row) {
                found.push(FieldError::new(field, message(value, first)).in_row(*row));
            }
        }
        self.problems.extend(found);
    }

    /// Records a problem of one row.
    pub fn problem(&mut self, row: usize, field: &str, message: String) {
        self.problems
            .push(FieldError::new(field, message).in_row(row));
    }

    /// Records a row's problems.
    pub fn problems_of(&mut self, row: usize, problems: Vec<FieldError>) {
        self.problems
            .extend(problems.into_iter().map(|p| p.in_row(row)));
    }

    /// The keyed rows, or a 422 listing every problem in row order (an empty file is one,
    /// of `empty_field`).
    pub fn finish(mut self, empty_field: &str, empty: &str) -> AppResult<Checked<K, T>> {
        if self.total == 0 {
            self.problems.push(FieldError::new(empty_field, empty));
        }
        if self.problems.is_empty() {
            return Ok(self);
        }
        let mut errors = std::mem::take(&mut self.problems);
        errors.sort_by_key(|e| e.row);
        Err(AppError::Validation {
            detail: format!(
                "{} problem(s) in the import; nothing was written",
                errors.len()
            ),
            errors,
        })
    }

    /// How the rows compare with `stored`, by key: `same` says a row would change nothing.
    pub fn compare<'a, S>(
        &'a self,
        stored: &'a HashMap<K, S>,
        same: impl Fn(&T, &S) -> bool,
    ) -> Comparison<'a, K, T, S>
    where
        K: Hash,
    {
        let mut comparison = Comparison {
            created: Vec::new(),
            changed: Vec::new(),
            unchanged: 0,
            absent: stored
                .keys()
                .filter(|key| !self.rows.contains_key(*key))
                .collect(),
        };
        comparison.absent.sort();
        for (key, (_, value)) in &self.rows {
            match stored.get(key) {
                None => comparison.created.push(value),
                Some(old) if same(value, old) => comparison.unchanged += 1,
                Some(old) => comparison.changed.push((value, old)),
            }
        }
        comparison
    }
}

/// How an import's rows compare with what is stored.
#[derive(Debug)]
pub struct Comparison<'a, K, T, S> {
    /// Rows with no stored counterpart.
    pub created: Vec<&'a T>,
    /// Rows that differ from what is stored, with it.
    pub changed: Vec<(&'a T, &'a S)>,
    /// Rows identical to what is stored.
    pub unchanged: usize,
    /// Stored keys the import does not name (removed by imports that replace a set).
    pub absent: Vec<&'a K>,
}

impl<K, T, S> Comparison<'_, K, T, S> {
    /// The report; `replaces` counts the absent as removed.
    pub fn report(&self, dry_run: bool, rows: usize, replaces: bool) -> ImportReport {
        ImportReport {
            dry_run,
            rows,
            created: self.created.len(),
            updated: self.changed.len(),
            unchanged: self.unchanged,
            removed: if replaces { self.absent.len() } else { 0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(rows: &[(&'static str, &'static str)]) -> Checked<String, (String, String)> {
        let rows: Vec<(usize, (String, String))> = rows
            .iter()
            .enumerate()
            .map(|(i, (code, name))| (i + 1, (code.to_string(), name.to_string())))
            .collect();
        Checked::new(
            rows,
            "code",
            |row: (String, String)| {
                let problems = if row.1.is_empty() {
                    vec![FieldError::new("name", "is empty")]
                } else {
                    Vec::new()
                };
                (Some(row), problems)
            },
            |row| row.0.clone(),
        )
    }

    fn problems(result: AppResult<Checked<String, (String, String)>>) -> Vec<(usize, String)> {
        match result {
            Err(AppError::Validation { errors, detail }) => {
                assert!(detail.ends_with("nothing was written"));
                errors
                    .into_iter()
                    .map(|e| (e.row.unwrap_or(0), e.message))
                    .collect()
            }
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn every_problem_is_reported_at_once_in_row_order() {
        let mut rows = checked(&[("a", "甲"), ("b", ""), ("a", "乙"), ("c", "甲")]);
        rows.unique(
            "name",
            |row| row.1.clone(),
            |row, first| format!("{} appears again (first in row {first})", row.1),
        );
        assert_eq!(
            problems(rows.finish("items", "the file has no items")),
            [
                (2, "is empty".to_string()),
                (3, "a appears again (first in row 1)".to_string()),
                (4, "甲 appears again (first in row 1)".to_string()),
            ]
        );
    }

    #[test]
    fn an_empty_file_is_a_problem() {
        assert_eq!(
            problems(checked(&[]).finish("items", "the file has no items")),
            [(0, "the file has no items".to_string())]
        );
    }

    #[test]
    fn rows_compare_with_what_is_stored_by_key() {
        let rows = checked(&[("a", "甲"), ("b", "乙"), ("c", "丙")])
            .finish("items", "none")
            .unwrap();
        let stored: HashMap<String, String> = [("a", "甲"), ("b", "旧"), ("z", "末")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let comparison = rows.compare(&stored, |row, old| row.1 == *old);
        assert_eq!(comparison.created.len(), 1);
        assert_eq!(comparison.changed.len(), 1);
        assert_eq!(comparison.changed[0].1, "旧");
        assert_eq!(comparison.absent, [&"z".to_string()]);
        let report = comparison.report(true, rows.total, true);
        assert_eq!(
            (
                report.created,
                report.updated,
                report.unchanged,
                report.removed
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(
            report.summary("items", "changed"),
            "imported 3 items: 1 created, 1 changed, 1 unchanged, 1 removed"
        );
        assert_eq!(comparison.report(false, 3, false).removed, 0);
    }
}
