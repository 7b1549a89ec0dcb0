//! The HTTP API, end to end, against a real database.

#[allow(
    dead_code,
    reason = "the harness serves every test target; each uses part of it"
)]
mod common;

mod audit;
mod authz;
mod catalogue;
mod foundation;
mod generate;
mod hostile;
mod organisations;
mod public;
mod regions;
mod retries;
mod tokens;
mod upgrades;
mod wire;
