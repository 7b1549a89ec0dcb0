//! Planning a claiming round: which items go to which townships, from the request and
//! what was loaded (the edition, the county's townships, the edition's items), or every
//! problem at once. Pure; `Round::open` loads before and stores after.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;

use super::model::NewRound;
use crate::catalogue::{Edition, EditionStatus, Source};
use crate::error::{AppError, AppResult, FieldError};
use crate::regions::RegionCode;

/// An edition's item as a round offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedItem {
    /// Row id.
    pub id: i64,
    /// Item code.
    pub code: String,
    /// Statutory or delegable.
    pub source: String,
    /// Item-type code.
    pub category: String,
    /// Domain.
    pub domain: String,
    /// Sector of the department that gives it up.
    pub sector: String,
}

/// What opening a round needs loaded.
#[derive(Debug)]
pub struct OpeningContext<'a> {
    /// The county.
    pub county: &'a RegionCode,
    /// The edition named, when it exists.
    pub edition: Option<&'a Edition>,
    /// The county's townships: code → name.
    pub townships: &'a BTreeMap<String, String>,
    /// The edition's items by code.
    pub items: &'a BTreeMap<String, OfferedItem>,
    /// Today, China Standard Time.
    pub today: NaiveDate,
}

/// What a round offers.
#[derive(Debug, PartialEq, Eq)]
pub struct Offer {
    /// The townships offered to.
    pub townships: Vec<String>,
    /// The items offered to each.
    pub items: Vec<OfferedItem>,
}

/// The round's offer, or a 422 listing every problem with the request.
pub fn plan_opening(input: &NewRound, context: &OpeningContext<'_>) -> AppResult<Offer> {
    let mut errors = edition_problems(input, context);
    let townships = chosen_townships(input, context, &mut errors);
    let items = match context.edition {
        Some(edition) => chosen_items(input, edition, context.items, &mut errors),
        None => Vec::new(),
    };
    AppError::check(errors)?;
    Ok(Offer { townships, items })
}

fn edition_problems(input: &NewRound, context: &OpeningContext<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match context.edition {
        None => errors.push(FieldError::new(
            "edition",
            format!("no catalogue edition {}", input.edition),
        )),
        Some(edition) => {
            if edition.status != EditionStatus::Published {
                errors.push(FieldError::new(
                    "edition",
                    format!(
                        "edition {} is {}; rounds offer items of a published edition",
                        edition.code, edition.status
                    ),
                ));
            }
            let province = RegionCode::parse(&edition.province_code);
            if !province.is_ok_and(|province| province.contains(context.county)) {
                errors.push(FieldError::new(
                    "edition",
                    format!("edition {} belongs to another province", edition.code),
                ));
            }
        }
    }
    if input.deadline < context.today {
        errors.push(FieldError::new("deadline", "must be today or later"));
    }
    errors
}

/// The county's townships, or a chosen subset of them.
fn chosen_townships(
    input: &NewRound,
    context: &OpeningContext<'_>,
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    let townships: Vec<String> = match &input.townships {
        None => context.townships.keys().cloned().collect(),
        Some(chosen) => {
            let mut seen = HashSet::new();
            for (i, code) in chosen.iter().enumerate() {
                let field = format!("townships[{i}]");
                if !context.townships.contains_key(code) {
                    let message = format!("{code} is not a township of {}", context.county);
                    errors.push(FieldError::new(field, message));
                } else if !seen.insert(code) {
                    errors.push(FieldError::new(field, format!("{code} is listed twice")));
                }
            }
            chosen.clone()
        }
    };
    if townships.is_empty() {
        errors.push(FieldError::new(
            "townships",
            format!("county {} has no townships to offer to", context.county),
        ));
    }
    townships
}

/// The edition's delegable items, or a chosen subset of them.
fn chosen_items(
    input: &NewRound,
    edition: &Edition,
    items: &BTreeMap<String, OfferedItem>,
    errors: &mut Vec<FieldError>,
) -> Vec<OfferedItem> {
    let delegable = Source::Delegable.as_str();
    let offered: Vec<OfferedItem> = match &input.items {
        None => items
            .values()
            .filter(|item| item.source == delegable)
            .cloned()
            .collect(),
        Some(chosen) => {
            let mut seen = HashSet::new();
            let mut offered = Vec::new();
            for (i, code) in chosen.iter().enumerate() {
                let field = format!("items[{i}]");
                match items.get(code) {
                    None => errors.push(FieldError::new(
                        field,
                        format!("edition {} has no item {code}", edition.code),
                    )),
                    Some(item) if item.source != delegable => errors.push(FieldError::new(
                        field,
                        format!(
                            "{code} is statutory: every township holds it, so it is never offered"
                        ),
                    )),
                    Some(_) if !seen.insert(code) => {
                        errors.push(FieldError::new(field, format!("{code} is listed twice")))
                    }
                    Some(item) => offered.push(item.clone()),
                }
            }
            offered
        }
    };
    if offered.is_empty() && input.items.as_ref().is_none_or(|v| v.is_empty()) {
        errors.push(FieldError::new(
            "items",
            format!("edition {} offers no delegable items", edition.code),
        ));
    }
    offered
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    const COUNTY: &str = "510521000000";

    fn edition(status: EditionStatus, province: &str) -> Edition {
        Edition {
            code: "2026".into(),
            province_code: province.into(),
            title: "目录".into(),
            status,
            based_on: None,
            revision: 1,
            created_at: NaiveDateTime::default(),
            updated_at: NaiveDateTime::default(),
            published_at: None,
            retired_at: None,
        }
    }

    fn item(id: i64, code: &str, source: Source) -> (String, OfferedItem) {
        let item = OfferedItem {
            id,
            code: code.into(),
            source: source.as_str().into(),
            category: "行政处罚".into(),
            domain: "自然资源".into(),
            sector: "natural_resources".into(),
        };
        (code.into(), item)
    }

    fn request(items: Option<&[&str]>, townships: Option<&[&str]>) -> NewRound {
        let list = |codes: &[&str]| codes.iter().map(|c| c.to_string()).collect();
        NewRound {
            edition: "2026".into(),
            title: "第一批".into(),
            deadline: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            items: items.map(list),
            townships: townships.map(list),
        }
    }

    fn fields(result: AppResult<Offer>) -> Vec<String> {
        match result {
            Err(AppError::Validation { errors, .. }) => {
                errors.into_iter().map(|e| e.field).collect()
            }
            other => panic!("not a validation error: {other:?}"),
        }
    }

    struct World {
        county: RegionCode,
        edition: Edition,
        townships: BTreeMap<String, String>,
        items: BTreeMap<String, OfferedItem>,
    }

    impl World {
        fn new() -> World {
            World {
                county: RegionCode::parse(COUNTY).unwrap(),
                edition: edition(EditionStatus::Published, "510000000000"),
                townships: [("510521101000", "玉蟾街道"), ("510521102000", "福集镇")]
                    .into_iter()
                    .map(|(c, n)| (c.to_string(), n.to_string()))
                    .collect(),
                items: [
                    item(1, "A", Source::Delegable),
                    item(2, "B", Source::Delegable),
                    item(3, "S", Source::Statutory),
                ]
                .into_iter()
                .collect(),
            }
        }

        fn context(&self) -> OpeningContext<'_> {
            OpeningContext {
                county: &self.county,
                edition: Some(&self.edition),
                townships: &self.townships,
                items: &self.items,
                today: NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
            }
        }
    }

    #[test]
    fn by_default_every_delegable_item_goes_to_every_township() {
        let world = World::new();
        let offer = plan_opening(&request(None, None), &world.context()).unwrap();
        assert_eq!(offer.townships, ["510521101000", "510521102000"]);
        let codes: Vec<&str> = offer.items.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes, ["A", "B"]);
    }

    #[test]
    fn chosen_items_and_townships_are_offered_as_chosen() {
        let world = World::new();
        let offer = plan_opening(
            &request(Some(&["B"]), Some(&["510521102000"])),
            &world.context(),
        )
        .unwrap();
        assert_eq!(offer.townships, ["510521102000"]);
        assert_eq!(offer.items[0].id, 2);
    }

    #[test]
    fn every_problem_of_the_request_is_reported_at_once() {
        let mut world = World::new();
        world.edition = edition(EditionStatus::Draft, "520000000000");
        let mut input = request(
            Some(&["A", "S", "Z", "A"]),
            Some(&["510521101000", "510522101000", "510521101000"]),
        );
        input.deadline = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        assert_eq!(
            fields(plan_opening(&input, &world.context())),
            [
                "edition",
                "edition",
                "deadline",
                "townships[1]",
                "townships[2]",
                "items[1]",
                "items[2]",
                "items[3]",
            ]
        );
    }

    #[test]
    fn a_missing_edition_an_empty_county_and_no_delegable_items_are_problems() {
        let mut world = World::new();
        world.townships.clear();
        let mut context = world.context();
        context.edition = None;
        assert_eq!(
            fields(plan_opening(&request(None, None), &context)),
            ["edition", "townships"]
        );
        let mut world = World::new();
        world
            .items
            .retain(|_, item| item.source == Source::Statutory.as_str());
        assert_eq!(
            fields(plan_opening(&request(None, None), &world.context())),
            ["items"]
        );
    }
}
