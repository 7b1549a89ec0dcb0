//! Catalogue items: the content of a power, its rules, and its stored form.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::catalogue_items;
use crate::error::{AppResult, FieldError};
use crate::text::separator_problem;

/// Where a power comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// 法定: a law gives the power to townships directly; every township holds it.
    Statutory,
    /// 賦權: a county power the province allows to be handed down.
    Delegable,
}

crate::stored_states!(Source {
    Statutory => "statutory",
    Delegable => "delegable",
});

/// How a delegable power is handed down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DelegationMode {
    /// 直接賦權: the township exercises it in its own name.
    Direct,
    /// 委託: the township exercises it in the county department's name.
    Entrusted,
}

crate::stored_states!(DelegationMode {
    Direct => "direct",
    Entrusted => "entrusted",
});

/// One legal basis of a power (法律依據).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    /// The law or regulation, e.g. 《中華人民共和國城鄉規劃法》.
    pub law: String,
    /// The article, e.g. 第四十一條.
    #[serde(default)]
    pub article: String,
    /// The words of the article that give the power.
    #[serde(default)]
    pub excerpt: String,
}

/// A duty at one stage of exercising the power (責任事項).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Responsibility {
    /// The stage: 受理, 審查, 決定, 送達, 事後監管...
    pub stage: String,
    /// What must be done at that stage.
    pub duty: String,
}

/// The content of an item as submitted (create, replace, import) and as compared by
/// diffs. Enumerated fields are plain strings here so that every bad value is reported
/// at once, with the allowed set, instead of failing on the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// Stable code, kept across editions: uppercase letters, digits and hyphens, e.g. `XK-0001`.
    #[schema(min_length = 2, max_length = 32, pattern = "^[A-Z0-9]+(-[A-Z0-9]+)*$")]
    pub code: String,
    /// Name of the power.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Item-type code from the dictionary (01 行政許可, 02 行政處罰, ... 20 公共服務).
    pub category: String,
    /// `statutory` or `delegable`.
    #[schema(value_type = Source)]
    pub source: String,
    /// `direct` or `entrusted`; exactly when the source is delegable.
    #[serde(default)]
    #[schema(value_type = Option<DelegationMode>)]
    pub delegation_mode: Option<String>,
    /// Sector of the county department that holds the power today.
    pub sector: String,
    /// Domain, e.g. 城鄉建設.
    #[schema(min_length = 1, max_length = 50)]
    pub domain: String,
    /// At least one legal basis.
    #[serde(default)]
    #[schema(required = true, min_items = 1)]
    pub legal_basis: Vec<LegalBasis>,
    /// Duties by stage.
    #[serde(default)]
    pub responsibilities: Vec<Responsibility>,
    /// Cases in which officials are held accountable (追責情形).
    #[serde(default)]
    pub accountability: Vec<String>,
    /// Statutory time limit in working days.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub time_limit_days: Option<i32>,
    /// On the high-frequency list (高頻事項).
    #[serde(default)]
    pub high_frequency: bool,
    /// Service guide text for applicants.
    #[serde(default)]
    pub service_guide: Option<String>,
    /// The parent item's code, for a sub-item.
    #[serde(default)]
    pub parent_code: Option<String>,
    /// Statutory items: the kinds of township they belong to (a town's powers are not a
    /// subdistrict's); every township when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<crate::codes::TownshipKind>)]
    pub township_kinds: Vec<String>,
}

impl ItemInput {
    /// Whether a township of `kind` holds this item when it is statutory.
    pub fn belongs_to(&self, kind: crate::codes::TownshipKind) -> bool {
        self.township_kinds.is_empty() || self.township_kinds.iter().any(|k| k == kind.as_str())
    }
}

/// A catalogue item as read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Item {
    /// The edition it belongs to.
    pub edition: String,
    /// The content.
    #[serde(flatten)]
    pub content: ItemInput,
    /// Revision, also the ETag.
    pub revision: i64,
    /// Created, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub created_at: NaiveDateTime,
    /// Last changed, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub updated_at: NaiveDateTime,
}

/// The stored row (JSON lists are text so that one schema serves both backends).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = catalogue_items)]
pub struct ItemRecord {
    pub edition_code: String,
    pub code: String,
    pub name: String,
    pub category: String,
    pub source: String,
    pub delegation_mode: Option<String>,
    pub sector: String,
    pub domain: String,
    pub legal_basis: String,
    pub responsibilities: String,
    pub accountability: String,
    pub time_limit_days: Option<i32>,
    pub high_frequency: bool,
    pub service_guide: Option<String>,
    pub parent_code: Option<String>,
    pub revision: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub township_kinds: Option<String>,
}

impl ItemRecord {
    /// The row for `content` in `edition`.
    pub fn new(
        edition: &str,
        content: &ItemInput,
        revision: i64,
        created_at: NaiveDateTime,
        updated_at: NaiveDateTime,
    ) -> ItemRecord {
        ItemRecord {
            edition_code: edition.into(),
            code: content.code.clone(),
            name: content.name.clone(),
            category: content.category.clone(),
            source: content.source.clone(),
            delegation_mode: content.delegation_mode.clone(),
            sector: content.sector.clone(),
            domain: content.domain.clone(),
            legal_basis: serde_json::to_string(&content.legal_basis).expect("serialisable"),
            responsibilities: serde_json::to_string(&content.responsibilities)
                .expect("serialisable"),
            accountability: serde_json::to_string(&content.accountability).expect("serialisable"),
            time_limit_days: content.time_limit_days,
            high_frequency: content.high_frequency,
            service_guide: content.service_guide.clone(),
            parent_code: content.parent_code.clone(),
            revision,
            created_at,
            updated_at,
            township_kinds: (!content.township_kinds.is_empty())
                .then(|| content.township_kinds.join(",")),
        }
    }

    /// The item as read by clients.
    pub fn into_item(self) -> AppResult<Item> {
        Ok(Item {
            edition: self.edition_code,
            content: ItemInput {
                code: self.code,
                name: self.name,
                category: self.category,
                source: self.source,
                delegation_mode: self.delegation_mode,
                sector: self.sector,
                domain: self.domain,
                legal_basis: serde_json::from_str(&self.legal_basis)?,
                responsibilities: serde_json::from_str(&self.responsibilities)?,
                accountability: serde_json::from_str(&self.accountability)?,
                time_limit_days: self.time_limit_days,
                high_frequency: self.high_frequency,
                service_guide: self.service_guide,
                parent_code: self.parent_code,
                township_kinds: self
                    .township_kinds
                    .as_deref()
                    .map(|kinds| kinds.split(',').map(String::from).collect())
                    .unwrap_or_default(),
            },
            revision: self.revision,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

static ITEM_CODE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[A-Z0-9]+(-[A-Z0-9]+)*$").expect("valid regex")
});

/// The dictionaries an item is checked against.
pub struct Dictionaries {
    /// Item-type codes.
    pub categories: HashSet<String>,
    /// Sector codes.
    pub sectors: HashSet<String>,
}

fn sorted(set: &HashSet<String>) -> String {
    let mut v: Vec<&str> = set.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.join(", ")
}

impl ItemInput {
    /// Trims text fields and drops empty optional text, so that stored content is canonical.
    pub fn normalise(&mut self) {
        fn trim(s: &mut String) {
            let t = s.trim();
            if t.len() != s.len() {
                *s = t.to_string();
            }
        }
        for s in [
            &mut self.code,
            &mut self.name,
            &mut self.category,
            &mut self.source,
            &mut self.sector,
            &mut self.domain,
        ] {
            trim(s);
        }
        for opt in [
            &mut self.delegation_mode,
            &mut self.service_guide,
            &mut self.parent_code,
        ] {
            if let Some(s) = opt {
                trim(s);
                if s.is_empty() {
                    *opt = None;
                }
            }
        }
        for basis in &mut self.legal_basis {
            trim(&mut basis.law);
            trim(&mut basis.article);
            trim(&mut basis.excerpt);
        }
        for r in &mut self.responsibilities {
            trim(&mut r.stage);
            trim(&mut r.duty);
        }
        for a in &mut self.accountability {
            trim(a);
        }
    }

    /// Every rule an item obeys on its own (the parent is checked against the edition).
    pub fn check(&self, dict: &Dictionaries) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: String| errors.push(FieldError::new(field, message));
        if !(2..=32).contains(&self.code.len()) || !ITEM_CODE.is_match(&self.code) {
            bad(
                "code",
                format!(
                    "{:?} must be 2–32 uppercase letters, digits and single hyphens, e.g. XK-0001",
                    self.code
                ),
            );
        }
        let name_len = self.name.chars().count();
        if name_len == 0 || name_len > 200 {
            bad("name", "must be 1 to 200 characters".into());
        }
        if !dict.categories.contains(&self.category) {
            bad(
                "category",
                format!(
                    "{:?} is not an item-type code; use one of {}",
                    self.category,
                    sorted(&dict.categories)
                ),
            );
        }
        let mode = self.delegation_mode.as_deref();
        match (Source::parse(&self.source), mode) {
            (Some(Source::Statutory), None) => {}
            (Some(Source::Statutory), Some(_)) => bad(
                "delegation_mode",
                "a statutory item has no delegation mode".into(),
            ),
            (Some(Source::Delegable), Some(mode)) if DelegationMode::parse(mode).is_some() => {}
            (Some(Source::Delegable), Some(other)) => bad(
                "delegation_mode",
                format!("{other:?} must be direct or entrusted"),
            ),
            (Some(Source::Delegable), None) => bad(
                "delegation_mode",
                "a delegable item needs a delegation mode: direct or entrusted".into(),
            ),
            (None, _) => bad(
                "source",
                format!("{:?} must be statutory or delegable", self.source),
            ),
        }
        let mut seen = Vec::new();
        for kind in &self.township_kinds {
            if crate::codes::TownshipKind::parse(kind).is_none() {
                bad(
                    "township_kinds",
                    format!("{kind:?} is not a kind of township: subdistrict, town or township"),
                );
            } else if seen.contains(&kind) {
                bad("township_kinds", format!("{kind:?} is named twice"));
            }
            seen.push(kind);
        }
        if !self.township_kinds.is_empty() && self.source != Source::Statutory.as_str() {
            bad(
                "township_kinds",
                "only a statutory item names the kinds of township it belongs to; a round chooses the townships a delegable item is offered to".into(),
            );
        }
        if !dict.sectors.contains(&self.sector) {
            bad(
                "sector",
                format!(
                    "{:?} is not a sector; use one of {}",
                    self.sector,
                    sorted(&dict.sectors)
                ),
            );
        }
        let domain_len = self.domain.chars().count();
        if domain_len == 0 || domain_len > 50 {
            bad("domain", "must be 1 to 50 characters".into());
        }
        errors.extend(self.detail_problems());
        errors
    }

    /// The legal bases, responsibilities and accountability lines (present where
    /// required, free of the separators the CSV form uses between their parts), the time
    /// limit and the parent.
    fn detail_problems(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: String| errors.push(FieldError::new(field, message));
        if self.legal_basis.is_empty() {
            bad("legal_basis", "at least one legal basis is required".into());
        }
        for (i, basis) in self.legal_basis.iter().enumerate() {
            if basis.law.is_empty() {
                bad(
                    &format!("legal_basis[{i}].law"),
                    "must name the law or regulation".into(),
                );
            }
            for (part, text) in [
                ("law", &basis.law),
                ("article", &basis.article),
                ("excerpt", &basis.excerpt),
            ] {
                if let Some(message) = separator_problem(text) {
                    bad(&format!("legal_basis[{i}].{part}"), message);
                }
            }
        }
        for (i, r) in self.responsibilities.iter().enumerate() {
            for (part, text) in [("stage", &r.stage), ("duty", &r.duty)] {
                if let Some(message) = separator_problem(text) {
                    bad(&format!("responsibilities[{i}].{part}"), message);
                }
            }
            if r.stage.is_empty() {
                bad(
                    &format!("responsibilities[{i}].stage"),
                    "must name the stage".into(),
                );
            }
            if r.duty.is_empty() {
                bad(
                    &format!("responsibilities[{i}].duty"),
                    "must say what is to be done".into(),
                );
            }
        }
        for (i, a) in self.accountability.iter().enumerate() {
            if let Some(message) = separator_problem(a) {
                bad(&format!("accountability[{i}]"), message);
            }
            if a.is_empty() {
                bad(&format!("accountability[{i}]"), "must not be empty".into());
            }
        }
        if let Some(days) = self.time_limit_days {
            if !(1..=3650).contains(&days) {
                bad(
                    "time_limit_days",
                    "must be between 1 and 3650 working days".into(),
                );
            }
        }
        if self.parent_code.as_deref() == Some(self.code.as_str()) {
            bad("parent_code", "an item cannot be its own parent".into());
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dictionaries() -> Dictionaries {
        Dictionaries {
            categories: ["02".to_string()].into(),
            sectors: ["natural_resources".to_string()].into(),
        }
    }

    fn item() -> ItemInput {
        ItemInput {
            code: "CF-0001".into(),
            name: "对违反城乡规划行为的处罚".into(),
            category: "02".into(),
            source: "delegable".into(),
            delegation_mode: Some("direct".into()),
            sector: "natural_resources".into(),
            domain: "自然资源".into(),
            legal_basis: vec![LegalBasis {
                law: "《中华人民共和国城乡规划法》".into(),
                article: "第六十五条".into(),
                excerpt: String::new(),
            }],
            responsibilities: vec![Responsibility {
                stage: "立案".into(),
                duty: "依法立案".into(),
            }],
            accountability: vec!["不依法履职的，依法追责".into()],
            time_limit_days: Some(30),
            high_frequency: false,
            service_guide: None,
            parent_code: None,
            township_kinds: Vec::new(),
        }
    }

    #[test]
    fn township_kinds_are_named_once_and_only_on_statutory_items() {
        fn kinds(kinds: &'static [&'static str]) -> impl Fn(&mut ItemInput) {
            move |i: &mut ItemInput| {
                i.township_kinds = kinds.iter().map(|k| k.to_string()).collect()
            }
        }
        assert_eq!(
            refused(kinds(&["town"])),
            ["township_kinds"],
            "a delegable item"
        );
        let statutory = |i: &mut ItemInput| {
            i.source = "statutory".into();
            i.delegation_mode = None;
        };
        assert!(refused(|i| {
            statutory(i);
            kinds(&["town", "township"])(i)
        })
        .is_empty());
        assert_eq!(
            refused(|i| {
                statutory(i);
                kinds(&["village", "town", "town"])(i)
            }),
            ["township_kinds", "township_kinds"]
        );
        let mut input = item();
        input.township_kinds = vec!["town".into(), "township".into()];
        assert!(input.belongs_to(crate::codes::TownshipKind::Town));
        assert!(!input.belongs_to(crate::codes::TownshipKind::Subdistrict));
        input.township_kinds.clear();
        assert!(input.belongs_to(crate::codes::TownshipKind::Subdistrict));
    }

    /// The fields a changed item is refused for.
    fn refused(change: impl FnOnce(&mut ItemInput)) -> Vec<String> {
        let mut input = item();
        change(&mut input);
        input
            .check(&dictionaries())
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_well_formed_item_passes() {
        assert!(refused(|_| {}).is_empty());
        assert!(refused(|i| {
            i.source = "statutory".into();
            i.delegation_mode = None;
        })
        .is_empty());
    }

    #[test]
    fn each_field_rule_names_its_field() {
        type Change = Box<dyn FnOnce(&mut ItemInput)>;
        let cases: Vec<(Change, &[&str])> = vec![
            (Box::new(|i| i.code = "cf-1".into()), &["code"]),
            (Box::new(|i| i.code = "X".into()), &["code"]),
            (Box::new(|i| i.name = String::new()), &["name"]),
            (Box::new(|i| i.name = "名".repeat(201)), &["name"]),
            (Box::new(|i| i.category = "99".into()), &["category"]),
            (Box::new(|i| i.sector = "nowhere".into()), &["sector"]),
            (Box::new(|i| i.domain = String::new()), &["domain"]),
            (Box::new(|i| i.source = "granted".into()), &["source"]),
            (Box::new(|i| i.delegation_mode = None), &["delegation_mode"]),
            (
                Box::new(|i| i.delegation_mode = Some("lent".into())),
                &["delegation_mode"],
            ),
            (
                Box::new(|i| {
                    i.source = "statutory".into();
                    i.delegation_mode = Some("direct".into());
                }),
                &["delegation_mode"],
            ),
            (Box::new(|i| i.legal_basis.clear()), &["legal_basis"]),
            (
                Box::new(|i| i.legal_basis[0].law = String::new()),
                &["legal_basis[0].law"],
            ),
            (
                Box::new(|i| i.legal_basis[0].article = "第一条|第二条".into()),
                &["legal_basis[0].article"],
            ),
            (
                Box::new(|i| i.responsibilities[0].duty = "立案\n调查".into()),
                &["responsibilities[0].duty"],
            ),
            (
                Box::new(|i| i.responsibilities[0].stage = String::new()),
                &["responsibilities[0].stage"],
            ),
            (
                Box::new(|i| i.accountability[0] = String::new()),
                &["accountability[0]"],
            ),
            (
                Box::new(|i| i.time_limit_days = Some(0)),
                &["time_limit_days"],
            ),
            (
                Box::new(|i| i.time_limit_days = Some(3651)),
                &["time_limit_days"],
            ),
            (
                Box::new(|i| i.parent_code = Some("CF-0001".into())),
                &["parent_code"],
            ),
        ];
        for (change, fields) in cases {
            assert_eq!(refused(change), *fields);
        }
    }

    #[test]
    fn every_problem_is_listed_at_once_in_field_order() {
        let fields = refused(|i| {
            i.code = "bad code".into();
            i.category = "99".into();
            i.legal_basis.clear();
            i.time_limit_days = Some(0);
        });
        assert_eq!(
            fields,
            ["code", "category", "legal_basis", "time_limit_days"]
        );
    }
}
