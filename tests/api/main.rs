//! The HTTP API, end to end, against a real database.

mod common;

mod audit;
mod authz;
mod catalogue;
mod foundation;
mod generate;
mod organisations;
mod regions;
