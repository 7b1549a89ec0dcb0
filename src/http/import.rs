//! Bulk import bodies: JSON or CSV (UTF-8), chosen by `Content-Type`, with a dry-run
//! switch. Parsing failures name the row and column.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::body::{parse_json, read_limited, BodyLimits};
use crate::error::{AppError, FieldError};

/// The format of an import or export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `application/json`.
    Json,
    /// `text/csv`, UTF-8, header row first.
    Csv,
}

/// `?dry_run=true` validates without writing.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Validate and report, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// The raw body of an import, up to the import size limit.
#[derive(Debug)]
pub struct ImportBody {
    /// JSON or CSV.
    pub format: Format,
    /// The bytes.
    pub bytes: web::Bytes,
}

impl FromRequest for ImportBody {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<BodyLimits>>()
            .map(|l| l.import)
            .unwrap_or_else(|| BodyLimits::default().import);
        let essence = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let format = match essence.as_str() {
            "application/json" => Some(Format::Json),
            "text/csv" | "application/csv" => Some(Format::Csv),
            _ => None,
        };
        let mut payload = payload.take();
        Box::pin(async move {
            let format = format.ok_or_else(|| {
                AppError::UnsupportedMediaType(
                    "send the import as application/json or text/csv".into(),
                )
            })?;
            let bytes = read_limited(&mut payload, limit).await?;
            Ok(ImportBody { format, bytes })
        })
    }
}

impl ImportBody {
    /// Parses a JSON document.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        parse_json(&self.bytes)
    }
}

/// Parses CSV rows into `T` (by header names), collecting every bad row. Rows are
/// numbered as a spreadsheet shows them: the header is row 1. The file may be UTF-8 (with
/// or without a BOM) or GB18030/GBK, as Excel and WPS save CSV on Chinese Windows.
pub fn parse_csv<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<(usize, T)>, AppError> {
    let text = decode_csv(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| malformed(vec![FieldError::new("header", e.to_string()).in_row(1)]))?
        .clone();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut unclean = Vec::new();
    // Rows are counted by record, not by line: a quoted cell may span several lines.
    for (index, record) in reader.records().enumerate() {
        let row = index + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(FieldError::new("row", e.to_string()).in_row(row));
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        let mut cleaned = csv::StringRecord::with_capacity(record.as_slice().len(), record.len());
        for (i, cell) in record.iter().enumerate() {
            let mut cell = cell.to_string();
            let field = headers.get(i).unwrap_or("row");
            if let Some(problem) = crate::text::clean(field, &mut cell) {
                unclean.push(problem.in_row(row));
            }
            cleaned.push_field(&cell);
        }
        match cleaned.deserialize::<T>(Some(&headers)) {
            Ok(value) => rows.push((row, value)),
            Err(e) => {
                let field = match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => err
                        .field()
                        .and_then(|i| headers.get(i as usize))
                        .unwrap_or("row")
                        .to_string(),
                    _ => "row".into(),
                };
                let message = match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => err.kind().to_string(),
                    other => format!("{other:?}"),
                };
                errors.push(FieldError::new(field, message).in_row(row));
            }
        }
    }
    if !errors.is_empty() {
        return Err(malformed(errors));
    }
    AppError::check(unclean)?;
    Ok(rows)
}

/// The text of a CSV file: UTF-8 when it says so (a BOM) or is valid UTF-8, otherwise
/// GB18030 (a superset of GBK and GB2312) when it decodes without a fault.
pub fn decode_csv(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, AppError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .map(Into::into)
            .map_err(|e| not_text(format!("the file says it is UTF-8 but is not: {e}")));
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(not_text(
            "the file is UTF-16 (\"Unicode text\"); save it as CSV UTF-8 or CSV".into(),
        ));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.into());
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(not_text(
            "the file is neither UTF-8 nor GB18030/GBK text".into(),
        ));
    }
    Ok(text)
}

fn not_text(message: String) -> AppError {
    malformed(vec![FieldError::new("body", message)])
}

fn malformed(errors: Vec<FieldError>) -> AppError {
    AppError::Malformed {
        detail: format!(
            "the CSV file has {} problem(s); nothing was written",
            errors.len()
        ),
        errors,
    }
}

/// Writes rows as CSV with a header row. A text cell that a spreadsheet would run as a
/// formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with
/// a `'` before it, OWASP's rule against CSV injection: the export carries text that
/// township clerks and departments typed into a county's spreadsheet. Numbers stay numbers.
pub fn write_csv<T: Serialize>(rows: impl IntoIterator<Item = T>) -> Result<Vec<u8>, AppError> {
    let failed = |e: &dyn std::fmt::Display| AppError::Internal(format!("CSV export failed: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header_written = false;
    for row in rows {
        let Value::Object(fields) = serde_json::to_value(row).map_err(|e| failed(&e))? else {
            return Err(AppError::Internal("a CSV row is not a record".into()));
        };
        if !header_written {
            writer.write_record(fields.keys()).map_err(|e| failed(&e))?;
            header_written = true;
        }
        writer
            .write_record(fields.values().map(csv_cell))
            .map_err(|e| failed(&e))?;
    }
    writer.into_inner().map_err(|e| failed(&e))
}

/// One cell's text, neutralised when a spreadsheet would read it as a formula.
fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) if text.starts_with(['=', '+', '-', '@', '\t', '\r']) => {
            format!("'{text}")
        }
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub use crate::import::ImportReport;

/// Reads an empty string (an empty CSV cell) as `None`.
pub fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let value: Option<String> = Option::deserialize(deserializer)?;
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// The entries of a list cell: one per line, blank lines skipped.
pub fn cell_lines(cell: &str) -> impl Iterator<Item = &str> {
    cell.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// The parts of one entry, separated by `|` (or the full-width `｜`).
pub fn cell_parts(line: &str) -> Vec<&str> {
    line.split(['|', '｜']).map(str::trim).collect()
}

/// An optional cell: empty means none.
pub fn cell_optional(cell: String) -> Option<String> {
    let t = cell.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Reads a yes/no cell (true/false, 1/0, yes/no, 是/否); empty is no.
pub fn cell_flag(cell: &str) -> Result<bool, String> {
    match cell.trim().to_lowercase().as_str() {
        "" | "false" | "0" | "no" | "n" | "否" => Ok(false),
        "true" | "1" | "yes" | "y" | "是" => Ok(true),
        other => Err(format!("{other:?} must be true or false (是/否)")),
    }
}
