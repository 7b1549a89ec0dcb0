//! The data the scenarios read: databases and picked townships.

use super::*;

// ----------------------------------------------------------------------------------------
// The data: a fresh database, generated, and what the scenarios ask for
// ----------------------------------------------------------------------------------------

/// A PostgreSQL database created for this run, dropped when this goes.
pub(crate) struct PgDatabase {
    pub(crate) admin: String,
    pub(crate) name: String,
}

impl PgDatabase {
    pub(crate) fn create(admin: &str) -> (PgDatabase, String) {
        use diesel::connection::SimpleConnection;
        let name = format!("quanze_load_{}", std::process::id());
        let mut conn = diesel::PgConnection::establish(admin)
            .unwrap_or_else(|e| panic!("cannot connect to {admin}: {e}"));
        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .expect("drop a leftover database");
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the load database");
        let (base, _) = admin.rsplit_once('/').expect("a database URL with a path");
        (
            PgDatabase {
                admin: admin.into(),
                name: name.clone(),
            },
            format!("{base}/{name}"),
        )
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.admin) {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// What the scenarios read and write, picked from the generated data.
pub(crate) struct Picked {
    /// The county of scenarios (1), (2), (5): the first with a second power version.
    pub(crate) county: String,
    pub(crate) edition: String,
    /// Its round.
    pub(crate) round: i64,
    /// The township of (1) and (2).
    pub(crate) township: String,
    pub(crate) county_townships: Vec<String>,
    /// One township in each of the first 8 counties, for (3).
    pub(crate) lookup_townships: Vec<String>,
    /// Rounds of the first 4 counties, for (4).
    pub(crate) rounds: Vec<(i64, String)>,
    /// One township per county, shuffled, for (7).
    pub(crate) sweep: Vec<String>,
    /// Answered claims of the county (not in the slice's township) to reopen for (5):
    /// id, township, item, revision.
    pub(crate) reopen: Vec<(i64, String, String, i64)>,
}

pub(crate) fn pick(db: &Db, writes: usize) -> Picked {
    db.read_blocking(|conn| {
        let counties: Vec<String> = regions::table
            .filter(regions::level.eq("county"))
            .order(regions::code.asc())
            .select(regions::code)
            .load(conn)?;
        let townships: Vec<(String, Option<String>)> = regions::table
            .filter(regions::level.eq("township"))
            .order(regions::code.asc())
            .select((regions::code, regions::parent_code))
            .load(conn)?;
        let mut by_county: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (code, parent) in townships {
            by_county
                .entry(parent.unwrap_or_default())
                .or_default()
                .push(code);
        }
        let twice: Option<String> = list_versions::table
            .filter(list_versions::kind.eq("power"))
            .filter(list_versions::number.eq(2))
            .order(list_versions::county_code.asc())
            .select(list_versions::county_code)
            .first(conn)
            .optional()?;
        let county = twice.unwrap_or_else(|| counties[0].clone());
        let county_townships = by_county.get(&county).cloned().unwrap_or_default();
        assert!(
            !county_townships.is_empty(),
            "county {county} has no townships"
        );
        let township = county_townships[1.min(county_townships.len() - 1)].clone();
        let all_rounds: Vec<(i64, String, String)> = claim_rounds::table
            .order(claim_rounds::id.asc())
            .select((
                claim_rounds::id,
                claim_rounds::county_code,
                claim_rounds::edition_code,
            ))
            .load(conn)?;
        let (round, edition) = all_rounds
            .iter()
            .find(|(_, c, _)| *c == county)
            .map(|(id, _, e)| (*id, e.clone()))
            .expect("the county has a claiming round");
        let first: Vec<&String> = counties.iter().take(4).collect();
        let rounds = all_rounds
            .iter()
            .filter(|(_, c, _)| first.contains(&c))
            .map(|(id, c, _)| (*id, c.clone()))
            .collect();
        let lookup_townships = counties
            .iter()
            .take(8)
            .filter_map(|c| by_county.get(c).and_then(|t| t.first().cloned()))
            .collect();
        let mut sweep: Vec<String> = counties
            .iter()
            .filter_map(|c| by_county.get(c).and_then(|t| t.first().cloned()))
            .collect();
        // A fixed shuffle (SplitMix64), so runs ask in the same order.
        let mut state = SEED;
        for i in (1..sweep.len()).rev() {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            sweep.swap(i, ((z ^ (z >> 31)) % (i as u64 + 1)) as usize);
        }
        let reopen = claims::table
            .filter(claims::round_id.eq(round))
            .filter(claims::township_code.ne(&township))
            .filter(claims::state.ne("offered"))
            .order((claims::township_code.asc(), claims::id.asc()))
            .select((
                claims::id,
                claims::township_code,
                claims::item_code,
                claims::revision,
            ))
            .limit(writes as i64)
            .load(conn)?;
        Ok(Picked {
            county,
            edition,
            round,
            township,
            county_townships,
            lookup_townships,
            rounds,
            sweep,
            reopen,
        })
    })
    .expect("pick townships, rounds and claims from the generated data")
}

/// A division code's leading digits (`510121` for a county, `510121101` for a township).
pub(crate) fn prefix(code: &str) -> &str {
    if code.ends_with("000000") {
        &code[..6]
    } else {
        &code[..9]
    }
}
