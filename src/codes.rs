//! The 12-digit statistical division code (統計用區劃代碼): 2 province, 2 city,
//! 2 county, 3 township and 3 village digits.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The administrative level a code names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 省.
    Province,
    /// 市 (prefecture level).
    City,
    /// 縣/區 (county level).
    County,
    /// 鄉鎮/街道 (township level).
    Township,
}

impl Level {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
        }
    }

    /// Reads a stored or submitted name.
    pub fn parse(s: &str) -> Option<Level> {
        [Level::Province, Level::City, Level::County, Level::Township]
            .into_iter()
            .find(|l| l.as_str() == s)
    }

    /// Digits that identify a region of this level; the rest are zero.
    fn significant_digits(self) -> usize {
        match self {
            Level::Province => 2,
            Level::City => 4,
            Level::County => 6,
            Level::Township => 9,
        }
    }
}

/// The kind of a township, read from its three township digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TownshipKind {
    /// 街道 (001–099).
    Subdistrict,
    /// 鎮 (100–199).
    Town,
    /// 鄉 (200–299).
    Township,
}

impl TownshipKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TownshipKind::Subdistrict => "subdistrict",
            TownshipKind::Town => "town",
            TownshipKind::Township => "township",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<TownshipKind> {
        [
            TownshipKind::Subdistrict,
            TownshipKind::Town,
            TownshipKind::Township,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A checked division code of a province, city, county or township.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode {
    code: String,
    level: Level,
}

impl RegionCode {
    /// What [`RegionCode::parse`] takes, as a regular expression (for the contract):
    /// province digits not 00, each lower level's digits present only under its parent's,
    /// township digits 001–299, no village digits.
    pub const PATTERN: &'static str = "^(?:0[1-9]|[1-9][0-9])(?:0{10}|(?:0[1-9]|[1-9][0-9])(?:0{8}|(?:0[1-9]|[1-9][0-9])(?:0{6}|(?:00[1-9]|0[1-9][0-9]|1[0-9]{2}|2[0-9]{2})000)))$";

    /// Checks the shape: twelve digits, non-zero segments then zero segments, no village.
    pub fn parse(s: &str) -> Result<RegionCode, String> {
        if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{s:?} is not a 12-digit division code"));
        }
        let segment = |from: usize, to: usize| &s[from..to];
        let zero = |from: usize, to: usize| segment(from, to).bytes().all(|b| b == b'0');
        if zero(0, 2) {
            return Err(format!("{s} has no province digits"));
        }
        if !zero(9, 12) {
            return Err(format!(
                "{s} is a village-level code; quanze registers regions down to townships"
            ));
        }
        let level = if zero(2, 12) {
            Level::Province
        } else if zero(4, 12) {
            Level::City
        } else if zero(6, 12) {
            if zero(2, 4) {
                return Err(format!("{s} has county digits but no city digits"));
            }
            Level::County
        } else {
            if zero(2, 4) || zero(4, 6) {
                return Err(format!(
                    "{s} has township digits but no city or county digits"
                ));
            }
            Level::Township
        };
        let code = RegionCode {
            code: s.to_string(),
            level,
        };
        if level == Level::Township {
            code.township_kind()?;
        }
        Ok(code)
    }

    /// The code's text.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The level the code names.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The kind of a township code; an error for township digits outside 001–299.
    pub fn township_kind(&self) -> Result<TownshipKind, String> {
        let digits: u32 = self.code[6..9].parse().unwrap_or(0);
        match digits {
            1..=99 => Ok(TownshipKind::Subdistrict),
            100..=199 => Ok(TownshipKind::Town),
            200..=299 => Ok(TownshipKind::Township),
            _ => Err(format!(
                "{}: township digits {:03} are outside 001–299 (街道 001–099, 鎮 100–199, 鄉 200–299)",
                self.code, digits
            )),
        }
    }

    /// The code of the region one level up; `None` for a province.
    pub fn parent(&self) -> Option<RegionCode> {
        let level = match self.level {
            Level::Province => return None,
            Level::City => Level::Province,
            Level::County => Level::City,
            Level::Township => Level::County,
        };
        Some(self.truncated(level))
    }

    /// The county a county or township code lies in.
    pub fn county(&self) -> Option<RegionCode> {
        (self.level >= Level::County).then(|| self.truncated(Level::County))
    }

    /// The province a code lies in.
    pub fn province(&self) -> RegionCode {
        self.truncated(Level::Province)
    }

    fn truncated(&self, level: Level) -> RegionCode {
        let keep = level.significant_digits();
        let mut code = String::with_capacity(12);
        code.push_str(&self.code[..keep]);
        code.extend(std::iter::repeat_n('0', 12 - keep));
        RegionCode { code, level }
    }

    /// The digits every code inside this region starts with.
    pub fn scope_prefix(&self) -> &str {
        &self.code[..self.level.significant_digits()]
    }

    /// True when `other` is this region or lies inside it.
    pub fn contains(&self, other: &RegionCode) -> bool {
        other.level >= self.level && other.code.starts_with(self.scope_prefix())
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_parents_follow_the_digits() {
        let township = RegionCode::parse("510521101000").unwrap();
        assert_eq!(township.level(), Level::Township);
        assert_eq!(township.township_kind().unwrap(), TownshipKind::Town);
        assert_eq!(township.parent().unwrap().as_str(), "510521000000");
        assert_eq!(township.county().unwrap().as_str(), "510521000000");
        let county = township.parent().unwrap();
        assert_eq!(county.parent().unwrap().as_str(), "510500000000");
        assert_eq!(
            county.parent().unwrap().parent().unwrap().as_str(),
            "510000000000"
        );
        assert!(county
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .parent()
            .is_none());
    }

    #[test]
    fn township_kinds_by_digits() {
        let kind = |c: &str| RegionCode::parse(c).unwrap().township_kind().unwrap();
        assert_eq!(kind("510521001000"), TownshipKind::Subdistrict);
        assert_eq!(kind("510521199000"), TownshipKind::Town);
        assert_eq!(kind("510522200000"), TownshipKind::Township);
        assert!(RegionCode::parse("510521400000").is_err());
    }

    #[test]
    fn the_pattern_takes_exactly_the_codes_parse_takes() {
        let pattern = regex::Regex::new(RegionCode::PATTERN).unwrap();
        let mut seed: u64 = 0x5eed;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let digit = |n: u64| char::from(b'0' + (n % 10) as u8);
        for _ in 0..200_000 {
            // Mostly zeros, so that every level and every malformed shape comes up.
            let code: String = (0..12)
                .map(|_| {
                    let n = next();
                    if n % 3 == 0 {
                        digit(n >> 8)
                    } else {
                        '0'
                    }
                })
                .collect();
            assert_eq!(
                pattern.is_match(&code),
                RegionCode::parse(&code).is_ok(),
                "{code}"
            );
        }
        for code in [
            "510521001000",
            "510521299000",
            "510521300000",
            "510000000000",
            "000000000000",
        ] {
            assert_eq!(
                pattern.is_match(code),
                RegionCode::parse(code).is_ok(),
                "{code}"
            );
        }
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in [
            "51052100000",
            "51052100000x",
            "000000000000",
            "510021000000",
            "510521101001",
            "510500101000",
        ] {
            assert!(RegionCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scope_contains_descendants_only() {
        let county = RegionCode::parse("510521000000").unwrap();
        assert!(county.contains(&RegionCode::parse("510521101000").unwrap()));
        assert!(county.contains(&county));
        assert!(!county.contains(&RegionCode::parse("510522101000").unwrap()));
        assert!(!county.contains(&RegionCode::parse("510500000000").unwrap()));
        let province = RegionCode::parse("510000000000").unwrap();
        assert!(province.contains(&county));
    }
}
