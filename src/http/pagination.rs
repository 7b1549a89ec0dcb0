use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::AppError;

/// The largest page any list returns.
pub const MAX_PAGE_SIZE: i64 = 500;
const DEFAULT_PAGE_SIZE: i64 = 50;

/// `?page=&page_size=` on every list.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (default 1).
    pub page: Option<i64>,
    /// Items per page (default 50, at most 500).
    pub page_size: Option<i64>,
}

impl PageParams {
    /// Checks the numbers: 422 when out of range.
    pub fn resolve(self) -> Result<PageRequest, AppError> {
        let page = self.page.unwrap_or(1);
        let size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        let mut errors = Vec::new();
        if page < 1 {
            errors.push(crate::error::FieldError::new("page", "must be at least 1"));
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
    /// Rows to skip.
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
