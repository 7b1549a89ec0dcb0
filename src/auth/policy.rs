//! Which role may do what. One table, no wildcard: a permission no role is listed for
//! is denied to everyone.

use serde::Serialize;
use utoipa::ToSchema;

/// A role a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The province's catalogue team.
    CatalogueAdmin,
    /// A county's list compiler.
    CountyCompiler,
    /// A township's clerk.
    TownshipClerk,
    /// An officer of a county department.
    DepartmentOfficer,
    /// 司法局: legality review.
    LegalityReviewer,
    /// 編辦: staffing office review.
    StaffingReviewer,
    /// 行政審批局: approval bureau review.
    ApprovalReviewer,
    /// 縣政府: approves the power list.
    GovernmentApprover,
    /// Reads everything in scope, including the audit log.
    Auditor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 9] = [
        Role::CatalogueAdmin,
        Role::CountyCompiler,
        Role::TownshipClerk,
        Role::DepartmentOfficer,
        Role::LegalityReviewer,
        Role::StaffingReviewer,
        Role::ApprovalReviewer,
        Role::GovernmentApprover,
        Role::Auditor,
    ];

    /// The role's name in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CatalogueAdmin => "catalogue_admin",
            Role::CountyCompiler => "county_compiler",
            Role::TownshipClerk => "township_clerk",
            Role::DepartmentOfficer => "department_officer",
            Role::LegalityReviewer => "legality_reviewer",
            Role::StaffingReviewer => "staffing_reviewer",
            Role::ApprovalReviewer => "approval_reviewer",
            Role::GovernmentApprover => "government_approver",
            Role::Auditor => "auditor",
        }
    }

    /// Reads a role name; `None` for names quanze does not know.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Something a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Create, edit, import, publish and retire catalogue editions.
    ManageCatalogue,
    /// Read draft and retired editions (published ones are public).
    ReadCatalogueDrafts,
    /// Import regions.
    ManageRegions,
    /// Create, edit and delete organisations.
    ManageOrganisations,
    /// Read organisations.
    ReadOrganisations,
    /// Read the audit log and verify its chain.
    ReadAudit,
    /// Open and close claiming rounds, reopen decided claims.
    ManageClaimRounds,
    /// Answer claims for a township (claim, defer, decline).
    AnswerClaims,
    /// Confirm or return claims for a department.
    ConfirmClaims,
    /// Read rounds, claims, statistics and power sets.
    ReadClaims,
    /// Edit a county's responsibility list and decide admission requests.
    ManageDutyList,
    /// Read a county's responsibility list working copy.
    ReadDutyList,
    /// Ask for a matter to be admitted to the list.
    RequestDutyAdmission,
    /// Submit, withdraw and publish list versions.
    SubmitLists,
    /// Review list versions (each stage also needs its own role).
    ReviewLists,
    /// Read versions under review and their history.
    ReadVersions,
}

impl Permission {
    /// Words for a 403.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ManageCatalogue => "managing the catalogue",
            Permission::ReadCatalogueDrafts => "reading unpublished catalogue editions",
            Permission::ManageRegions => "managing regions",
            Permission::ManageOrganisations => "managing organisations",
            Permission::ReadOrganisations => "reading organisations",
            Permission::ReadAudit => "reading the audit log",
            Permission::ManageClaimRounds => "managing claiming rounds",
            Permission::AnswerClaims => "answering claims for a township",
            Permission::ConfirmClaims => "confirming or returning claims for a department",
            Permission::ReadClaims => "reading claims",
            Permission::ManageDutyList => "editing the responsibility list",
            Permission::ReadDutyList => "reading the responsibility list",
            Permission::RequestDutyAdmission => "requesting a duty admission",
            Permission::SubmitLists => "submitting and publishing lists",
            Permission::ReviewLists => "reviewing lists",
            Permission::ReadVersions => "reading list versions under review",
        }
    }
}

/// The permission table.
pub fn grants(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        ManageCatalogue | ManageRegions => role == CatalogueAdmin,
        ReadCatalogueDrafts => matches!(role, CatalogueAdmin | Auditor),
        ManageOrganisations => matches!(role, CatalogueAdmin | CountyCompiler),
        // Every known role works with organisations of its region.
        ReadOrganisations => true,
        ReadAudit => role == Auditor,
        ManageClaimRounds => role == CountyCompiler,
        AnswerClaims => role == TownshipClerk,
        ConfirmClaims => role == DepartmentOfficer,
        ReadClaims => matches!(
            role,
            CountyCompiler | TownshipClerk | DepartmentOfficer | Auditor
        ),
        ManageDutyList => role == CountyCompiler,
        // Everyone of the county works with its list; the province catalogue team does not.
        ReadDutyList => role != CatalogueAdmin,
        RequestDutyAdmission => role == DepartmentOfficer,
        SubmitLists => role == CountyCompiler,
        ReviewLists => matches!(
            role,
            LegalityReviewer | GovernmentApprover | StaffingReviewer | ApprovalReviewer
        ),
        ReadVersions => role != CatalogueAdmin,
    }
}
