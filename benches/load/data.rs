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
    /// Every township of the province, in code order.
    pub(crate) all_townships: Vec<String>,
    /// Counties other than `county`, whose power lists (10) publishes again, with their
    /// townships.
    pub(crate) fresh: Vec<(String, Vec<String>)>,
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
        SplitMix(SEED).shuffle(&mut sweep);
        let all_townships: Vec<String> = by_county.values().flatten().cloned().collect();
        let fresh = counties
            .iter()
            .rev()
            .filter(|c| **c != county)
            .take(8)
            .map(|c| (c.clone(), by_county.get(c).cloned().unwrap_or_default()))
            .collect();
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
            all_townships,
            fresh,
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

/// SplitMix64: a fixed sequence from a seed, so every run asks in the same order.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
    }
}

/// `count` draws from `items` by Zipf's law with exponent 1: the k-th most read (ranks are
/// a fixed shuffle of `items`) is read in proportion to 1/k.
pub(crate) fn zipf<T: Clone>(items: &[T], count: usize, seed: u64) -> Vec<T> {
    let mut ranked: Vec<T> = items.to_vec();
    let mut rng = SplitMix(seed);
    rng.shuffle(&mut ranked);
    let mut cumulative = Vec::with_capacity(ranked.len());
    let mut total = 0.0;
    for k in 1..=ranked.len() {
        total += 1.0 / k as f64;
        cumulative.push(total);
    }
    (0..count)
        .map(|_| {
            let u = rng.unit() * total;
            let k = cumulative.partition_point(|c| *c < u).min(ranked.len() - 1);
            ranked[k].clone()
        })
        .collect()
}
