//! Import and export formats of an edition: JSON (`{"items": [...]}`) and CSV, one row
//! per item, where list cells hold one entry per line and `|` separates an entry's parts
//! (`law|article|excerpt`, `stage|duty`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::item::{Item, ItemInput, LegalBasis, Responsibility};
use super::model::EditionView;
use crate::error::{AppError, AppResult, FieldError};
use crate::http::{
    cell_flag, cell_lines, cell_optional, cell_parts, parse_csv, write_csv, Format, ImportBody,
};

/// A whole edition as a JSON document (export), or its items (import).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemsDocument {
    /// The edition's metadata in an export; ignored on import.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub edition: Option<serde_json::Value>,
    /// The items.
    pub items: Vec<ItemInput>,
}

/// An exported edition.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditionExport {
    /// The edition.
    pub edition: EditionView,
    /// Every item, in code order.
    pub items: Vec<ItemInput>,
}

/// One CSV row: every column is text so that each bad cell is reported by column.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemCsvRow {
    code: String,
    name: String,
    category: String,
    source: String,
    #[serde(default)]
    delegation_mode: String,
    sector: String,
    domain: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    responsibilities: String,
    #[serde(default)]
    accountability: String,
    #[serde(default)]
    time_limit_days: String,
    #[serde(default)]
    high_frequency: String,
    #[serde(default)]
    service_guide: String,
    #[serde(default)]
    parent_code: String,
    #[serde(default)]
    township_kinds: String,
}

/// Reads a legal-basis cell: one `law|article|excerpt` per line.
pub fn legal_basis_from_cell(cell: &str, mut bad: impl FnMut(String)) -> Vec<LegalBasis> {
    cell_lines(cell)
        .map(|line| {
            let p = cell_parts(line);
            if p.len() > 3 {
                bad(format!(
                    "{line:?} has more than three parts (law|article|excerpt)"
                ));
            }
            LegalBasis {
                law: p.first().copied().unwrap_or("").into(),
                article: p.get(1).copied().unwrap_or("").into(),
                excerpt: p.get(2).copied().unwrap_or("").into(),
            }
        })
        .collect()
}

/// Writes a legal-basis cell; empty trailing parts are left out.
pub fn legal_basis_cell(basis: &[LegalBasis]) -> String {
    basis
        .iter()
        .map(|b| {
            let mut parts = vec![b.law.as_str(), b.article.as_str(), b.excerpt.as_str()];
            while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
                parts.pop();
            }
            parts.join("|")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl ItemCsvRow {
    fn into_input(self, row: usize, errors: &mut Vec<FieldError>) -> ItemInput {
        let mut bad =
            |field: &str, message: String| errors.push(FieldError::new(field, message).in_row(row));
        let legal_basis = legal_basis_from_cell(&self.legal_basis, |m| bad("legal_basis", m));
        let responsibilities = cell_lines(&self.responsibilities)
            .map(|line| match cell_parts(line).as_slice() {
                [stage, duty] => Responsibility {
                    stage: (*stage).into(),
                    duty: (*duty).into(),
                },
                _ => {
                    bad("responsibilities", format!("{line:?} must be stage|duty"));
                    Responsibility {
                        stage: String::new(),
                        duty: line.into(),
                    }
                }
            })
            .collect();
        let time_limit_days = match self.time_limit_days.trim() {
            "" => None,
            text => match text.parse::<i32>() {
                Ok(days) => Some(days),
                Err(_) => {
                    bad(
                        "time_limit_days",
                        format!("{text:?} is not a whole number of working days"),
                    );
                    None
                }
            },
        };
        let high_frequency = cell_flag(&self.high_frequency).unwrap_or_else(|message| {
            bad("high_frequency", message);
            false
        });
        ItemInput {
            code: self.code,
            name: self.name,
            category: self.category,
            source: self.source,
            delegation_mode: cell_optional(self.delegation_mode),
            sector: self.sector,
            domain: self.domain,
            legal_basis,
            responsibilities,
            accountability: cell_lines(&self.accountability).map(String::from).collect(),
            time_limit_days,
            high_frequency,
            service_guide: cell_optional(self.service_guide),
            parent_code: cell_optional(self.parent_code),
            township_kinds: cell_parts(&self.township_kinds)
                .into_iter()
                .filter(|k| !k.is_empty())
                .map(String::from)
                .collect(),
        }
    }

    fn from_input(input: &ItemInput) -> ItemCsvRow {
        ItemCsvRow {
            code: input.code.clone(),
            name: input.name.clone(),
            category: input.category.clone(),
            source: input.source.clone(),
            delegation_mode: input.delegation_mode.clone().unwrap_or_default(),
            sector: input.sector.clone(),
            domain: input.domain.clone(),
            legal_basis: legal_basis_cell(&input.legal_basis),
            responsibilities: input
                .responsibilities
                .iter()
                .map(|r| format!("{}|{}", r.stage, r.duty))
                .collect::<Vec<_>>()
                .join("\n"),
            accountability: input.accountability.join("\n"),
            time_limit_days: input
                .time_limit_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            high_frequency: input.high_frequency.to_string(),
            service_guide: input.service_guide.clone().unwrap_or_default(),
            parent_code: input.parent_code.clone().unwrap_or_default(),
            township_kinds: input.township_kinds.join("|"),
        }
    }
}

/// Reads an import body into numbered rows: JSON rows are numbered from 1 in array
/// order, CSV rows as a spreadsheet shows them (the header is row 1).
pub fn parse_items(body: &ImportBody) -> AppResult<Vec<(usize, ItemInput)>> {
    match body.format {
        Format::Json => Ok(body
            .json::<ItemsDocument>()?
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| (i + 1, item))
            .collect()),
        Format::Csv => {
            let rows = parse_csv::<ItemCsvRow>(&body.bytes)?;
            let mut errors = Vec::new();
            let items = rows
                .into_iter()
                .map(|(row, r)| (row, r.into_input(row, &mut errors)))
                .collect();
            if errors.is_empty() {
                Ok(items)
            } else {
                Err(AppError::Malformed {
                    detail: format!(
                        "the CSV file has {} problem(s); nothing was written",
                        errors.len()
                    ),
                    errors,
                })
            }
        }
    }
}

/// Renders an edition for export.
pub fn render(edition: EditionView, items: Vec<Item>, format: Format) -> AppResult<Vec<u8>> {
    let items: Vec<ItemInput> = items.into_iter().map(|i| i.content).collect();
    match format {
        Format::Json => Ok(serde_json::to_vec_pretty(&EditionExport {
            edition,
            items,
        })?),
        Format::Csv => {
            let mut bytes = b"\xEF\xBB\xBF".to_vec(); // a BOM, so spreadsheet programs read UTF-8
            bytes.extend(write_csv(items.iter().map(ItemCsvRow::from_input))?);
            Ok(bytes)
        }
    }
}
