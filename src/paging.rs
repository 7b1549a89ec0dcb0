//! Pages of a list: the request (`?page=&page_size=`, checked), and the page answered.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::AppError;

/// The largest page any list returns.
pub const MAX_PAGE_SIZE: i64 = 500;
const DEFAULT_PAGE_SIZE: i64 = 50;
/// The highest page number asked for: far past the end of any list, and an offset every
/// database takes.
pub const MAX_PAGE: i64 = 1_000_000_000;

/// `?page=&page_size=` on every list.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (default 1); a page past the end is empty.
    #[param(minimum = 1, maximum = 1_000_000_000)]
    pub page: Option<i64>,
    /// Items per page (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<i64>,
}

impl PageParams {
    /// Checks the numbers: 422 when out of range.
    pub fn resolve(self) -> Result<PageRequest, AppError> {
        let page = self.page.unwrap_or(1);
        let size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        let mut errors = Vec::new();
        if !(1..=MAX_PAGE).contains(&page) {
            errors.push(crate::error::FieldError::new(
                "page",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            errors.push(crate::error::FieldError::new(
                "page_size",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        AppError::check(errors)?;
        Ok(PageRequest { page, size })
    }
}

/// A checked page request.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: i64,
    /// Items per page.
    pub size: i64,
}

impl PageRequest {
    /// Rows to skip (bounded by `MAX_PAGE` and `MAX_PAGE_SIZE`, so it never overflows).
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.size
    }

    /// Wraps one page of results.
    pub fn wrap<T>(self, items: Vec<T>, total: i64) -> Page<T> {
        Page {
            items,
            page: self.page,
            page_size: self.size,
            total,
        }
    }
}

/// One page of a list, in a stable order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// This page's number.
    pub page: i64,
    /// The page size used.
    pub page_size: i64,
    /// Items in the whole list.
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(page: i64, size: i64) -> Result<PageRequest, Vec<String>> {
        PageParams {
            page: Some(page),
            page_size: Some(size),
        }
        .resolve()
        .map_err(|e| e.problem().errors.into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn pages_past_the_bound_are_refused_naming_the_page() {
        assert_eq!(resolve(i64::MAX, 50).unwrap_err(), ["page"]);
        assert_eq!(resolve(MAX_PAGE + 1, 1).unwrap_err(), ["page"]);
        let last = resolve(MAX_PAGE, MAX_PAGE_SIZE).unwrap();
        assert_eq!(last.offset(), (MAX_PAGE - 1) * MAX_PAGE_SIZE);
        assert_eq!(resolve(0, 0).unwrap_err(), ["page", "page_size"]);
    }
}
