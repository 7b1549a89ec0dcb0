//! Import and export of a responsibility list: JSON (`{"matters": [...]}`) and CSV, one
//! row per matter. List cells hold one entry per line; `|` separates an entry's parts:
//! `law|article|excerpt` for the legal basis, `department|duty|duty...` for supporters.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{DepartmentDuties, DutyList, Matter, MatterInput};
use crate::catalogue::{legal_basis_cell, legal_basis_from_cell};
use crate::error::{AppError, AppResult, FieldError};
use crate::http::{
    cell_flag, cell_lines, cell_optional, cell_parts, parse_csv, write_csv, Format, ImportBody,
};

/// A list as a JSON document: its matters (import), with the list's header (export).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MattersDocument {
    /// The list's header in an export; ignored on import.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub list: Option<serde_json::Value>,
    /// The matters.
    pub matters: Vec<MatterInput>,
}

/// An exported list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DutyListExport {
    /// The list's header.
    pub list: DutyList,
    /// Every matter, in code order.
    pub matters: Vec<MatterInput>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatterCsvRow {
    code: String,
    name: String,
    domain: String,
    #[serde(default)]
    legal_basis: String,
    lead_department: String,
    #[serde(default)]
    lead_duties: String,
    #[serde(default)]
    supporters: String,
    #[serde(default)]
    township_duties: String,
    #[serde(default)]
    one_matter: String,
    #[serde(default)]
    lead_response_minutes: String,
    #[serde(default)]
    support_arrival_minutes: String,
    #[serde(default)]
    notes: String,
}

impl MatterCsvRow {
    fn into_input(self, row: usize, errors: &mut Vec<FieldError>) -> MatterInput {
        let mut bad =
            |field: &str, message: String| errors.push(FieldError::new(field, message).in_row(row));
        let legal_basis = legal_basis_from_cell(&self.legal_basis, |m| bad("legal_basis", m));
        let supporters = cell_lines(&self.supporters)
            .map(|line| {
                let parts = cell_parts(line);
                DepartmentDuties {
                    department: parts[0].to_string(),
                    duties: parts[1..]
                        .iter()
                        .filter(|d| !d.is_empty())
                        .map(|d| d.to_string())
                        .collect(),
                }
            })
            .collect();
        let mut minutes = |field: &str, cell: &str| match cell.trim() {
            "" => None,
            text => text.parse::<i32>().map(Some).unwrap_or_else(|_| {
                bad(field, format!("{text:?} is not a whole number of minutes"));
                None
            }),
        };
        let lead_response_minutes = minutes("lead_response_minutes", &self.lead_response_minutes);
        let support_arrival_minutes =
            minutes("support_arrival_minutes", &self.support_arrival_minutes);
        let one_matter = cell_flag(&self.one_matter).unwrap_or_else(|message| {
            bad("one_matter", message);
            false
        });
        MatterInput {
            code: self.code,
            name: self.name,
            domain: self.domain,
            legal_basis,
            lead: DepartmentDuties {
                department: self.lead_department.trim().to_string(),
                duties: cell_lines(&self.lead_duties).map(String::from).collect(),
            },
            supporters,
            township_duties: cell_lines(&self.township_duties)
                .map(String::from)
                .collect(),
            one_matter,
            lead_response_minutes,
            support_arrival_minutes,
            notes: cell_optional(self.notes),
        }
    }

    fn from_input(input: &MatterInput) -> MatterCsvRow {
        MatterCsvRow {
            code: input.code.clone(),
            name: input.name.clone(),
            domain: input.domain.clone(),
            legal_basis: legal_basis_cell(&input.legal_basis),
            lead_department: input.lead.department.clone(),
            lead_duties: input.lead.duties.join("\n"),
            supporters: input
                .supporters
                .iter()
                .map(|s| {
                    std::iter::once(s.department.as_str())
                        .chain(s.duties.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect::<Vec<_>>()
                .join("\n"),
            township_duties: input.township_duties.join("\n"),
            one_matter: input.one_matter.to_string(),
            lead_response_minutes: input
                .lead_response_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
            support_arrival_minutes: input
                .support_arrival_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
            notes: input.notes.clone().unwrap_or_default(),
        }
    }
}

/// Reads an import body into numbered rows.
pub fn parse_matters(body: &ImportBody) -> AppResult<Vec<(usize, MatterInput)>> {
    match body.format {
        Format::Json => Ok(body
            .json::<MattersDocument>()?
            .matters
            .into_iter()
            .enumerate()
            .map(|(i, m)| (i + 1, m))
            .collect()),
        Format::Csv => {
            let mut errors = Vec::new();
            let rows = parse_csv::<MatterCsvRow>(&body.bytes)?
                .into_iter()
                .map(|(row, r)| (row, r.into_input(row, &mut errors)))
                .collect();
            if errors.is_empty() {
                Ok(rows)
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

/// Renders a list for export.
pub fn render(list: DutyList, matters: &[Matter], format: Format) -> AppResult<Vec<u8>> {
    let matters: Vec<MatterInput> = matters.iter().map(Matter::content).collect();
    match format {
        Format::Json => Ok(serde_json::to_vec_pretty(&DutyListExport {
            list,
            matters,
        })?),
        Format::Csv => {
            let mut bytes = b"\xEF\xBB\xBF".to_vec();
            bytes.extend(write_csv(matters.iter().map(MatterCsvRow::from_input))?);
            Ok(bytes)
        }
    }
}
