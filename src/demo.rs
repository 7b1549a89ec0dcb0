//! The demo data set: a province with two counties, six townships, their organisations
//! and a published catalogue edition. Loaded through the same domain code as imports.

use diesel::prelude::*;

use crate::auth::Principal;
use crate::catalogue::{parse_items, Edition, Items, NewEdition};
use crate::db::schema::regions;
use crate::db::Db;
use crate::error::AppResult;
use crate::http::{parse_csv, Format, ImportBody};
use crate::organisations::{parse_organisations, Organisation};
use crate::regions::{Region, RegionCode};

const REGIONS_CSV: &str = include_str!("../demo/regions.csv");
const ORGANISATIONS_JSON: &str = include_str!("../demo/organisations.json");
const CATALOGUE_JSON: &str = include_str!("../demo/catalogue.json");

/// The demo province.
pub const PROVINCE: &str = "510000000000";
/// The demo catalogue edition's code.
pub const EDITION: &str = "2026";

/// Loads the demo data unless the database already holds regions. Returns true when
/// it loaded.
pub fn load_if_empty(db: &Db) -> AppResult<bool> {
    let count: i64 = db.read_blocking(|conn| Ok(regions::table.count().get_result(conn)?))?;
    if count > 0 {
        return Ok(false);
    }
    let actor = Principal::system(RegionCode::parse(PROVINCE).expect("valid code"));
    db.write_blocking(|conn| {
        let rows = parse_csv(REGIONS_CSV.as_bytes())?;
        Region::import(conn, &actor, None, rows, false)?;
        let orgs = parse_organisations(&ImportBody {
            format: Format::Json,
            bytes: ORGANISATIONS_JSON.as_bytes().to_vec().into(),
        })?;
        Organisation::import(conn, &actor, None, orgs, false)?;
        let edition = Edition::create(
            conn,
            &actor,
            NewEdition {
                code: EDITION.into(),
                title: "四川省乡镇（街道）法定和赋权指导目录（2026年版）".into(),
                province: Some(PROVINCE.into()),
            },
        )?;
        let items = parse_items(&ImportBody {
            format: Format::Json,
            bytes: CATALOGUE_JSON.as_bytes().to_vec().into(),
        })?;
        Items::import(conn, &actor, &edition.code, None, items, false)?;
        let edition = Edition::find(conn, EDITION)?;
        Edition::publish(conn, &actor, EDITION, edition.revision)?;
        Ok(true)
    })
}
