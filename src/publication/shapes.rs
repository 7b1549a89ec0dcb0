//! The shapes of published documents, for the contract. The documents themselves are
//! canonical JSON frozen at submission (their bytes are what is hashed and signed); these
//! types say what those bytes hold, and a test checks real documents against them.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::document::ListKind;
use crate::catalogue::LegalBasis;
use crate::claims::Power;
use crate::duties::DepartmentRole;

/// A county as a document names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountyName {
    /// Division code.
    pub code: String,
    /// Name, e.g. 瀘縣.
    pub name: String,
}

/// A township as a document names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TownshipName {
    /// Division code.
    pub code: String,
    /// Name, e.g. 玉蟾街道.
    pub name: String,
    /// `town` (鎮), `township` (鄉) or `subdistrict` (街道), when known.
    pub kind: Option<String>,
}

/// One township's powers in a power list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TownshipPowers {
    /// Division code.
    pub code: String,
    /// Name.
    pub name: String,
    /// `town`, `township` or `subdistrict`, when known.
    pub kind: Option<String>,
    /// How many of its powers are statutory.
    pub statutory: u64,
    /// How many were handed down by confirmed claims.
    pub delegated: u64,
    /// Every power it holds, by item code.
    pub items: Vec<Power>,
}

/// 權力清單: the document of a power list version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PowerListDocument {
    /// `power`.
    pub kind: ListKind,
    /// The county.
    pub county: CountyName,
    /// The catalogue edition the powers come from.
    pub edition: String,
    /// Every township of the county, in code order.
    pub townships: Vec<TownshipPowers>,
}

/// A matter as a published responsibility list holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedMatter {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Domain.
    pub domain: String,
    /// Legal basis.
    pub legal_basis: Vec<LegalBasis>,
    /// The lead department.
    pub lead: DepartmentRole,
    /// Supporting departments.
    pub supporters: Vec<DepartmentRole>,
    /// The township's duties.
    pub township_duties: Vec<String>,
    /// Handled as one joint case.
    pub one_matter: bool,
    /// Lead response time, minutes.
    pub lead_response_minutes: Option<i32>,
    /// Supporters on site, minutes.
    pub support_arrival_minutes: Option<i32>,
    /// Notes.
    pub notes: Option<String>,
}

/// 屬地管理事項責任清單: the document of a responsibility list version.
#[derive(Debug, Serialize, ToSchema)]
pub struct DutyListDocument {
    /// `duty`.
    pub kind: ListKind,
    /// The county.
    pub county: CountyName,
    /// Every matter, in code order.
    pub matters: Vec<PublishedMatter>,
}

/// The document of a version: a power list or a responsibility list, by `kind`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ListDocument {
    /// `kind: power`.
    Power(PowerListDocument),
    /// `kind: duty`.
    Duty(DutyListDocument),
}

/// One township's part of the power list in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct TownshipPowerList {
    /// The whole version's content hash.
    pub content_hash: String,
    /// The county.
    pub county: CountyName,
    /// The catalogue edition.
    pub edition: Option<String>,
    /// When the version took effect.
    pub effective_from: Option<NaiveDate>,
    /// Items in this answer.
    pub item_count: u64,
    /// The township's powers (filtered when the request filters).
    pub items: Vec<Power>,
    /// `power`.
    pub kind: ListKind,
    /// The township.
    pub township: TownshipName,
    /// The version number.
    pub version: i32,
}
