//! Editions and their items: the lifecycle, the rules that need the database, queries.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::item::{Dictionaries, Item, ItemInput, ItemRecord};
use crate::audit;
use crate::auth::{Permission, Principal};
use crate::db::schema::{catalogue_editions, catalogue_items, item_categories, regions, sectors};
use crate::db::{like_pattern, now, DbConnection, BATCH};
use crate::error::{AppError, AppResult, FieldError};
use crate::import::{Checked, Comparison, ImportReport};
use crate::paging::PageRequest;
use crate::regions::{Level, RegionCode};
use crate::revision;

/// The state of an edition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EditionStatus {
    /// Being edited.
    Draft,
    /// In force and immutable.
    Published,
    /// No longer used; still readable.
    Retired,
}

crate::stored_states!(EditionStatus {
    Draft => "draft",
    Published => "published",
    Retired => "retired",
});

/// An edition of the province catalogue (法定和賦權指導目錄).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = catalogue_editions)]
pub struct Edition {
    /// Edition code, e.g. `2026`.
    pub code: String,
    /// The province it belongs to.
    #[serde(rename = "province")]
    pub province_code: String,
    /// Title, e.g. 四川省鄉鎮（街道）法定和賦權指導目錄（2026年版）.
    pub title: String,
    /// `draft`, `published` or `retired`.
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: EditionStatus,
    /// The edition this one was copied from.
    pub based_on: Option<String>,
    /// Revision, also the ETag.
    pub revision: i64,
    /// Created, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub created_at: NaiveDateTime,
    /// Last changed, UTC.
    #[serde(with = "crate::timestamp::utc")]
    pub updated_at: NaiveDateTime,
    /// When it was published.
    #[serde(with = "crate::timestamp::utc_option")]
    pub published_at: Option<NaiveDateTime>,
    /// When it was retired.
    #[serde(with = "crate::timestamp::utc_option")]
    pub retired_at: Option<NaiveDateTime>,
}

/// An edition with its item count.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EditionView {
    /// The edition.
    #[serde(flatten)]
    pub edition: Edition,
    /// Items in it.
    pub item_count: i64,
}

static EDITION_CODE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._-]*$").expect("valid regex")
});

/// A new draft edition.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEdition {
    /// Edition code: 1–32 of letters, digits, `.`, `_`, `-`.
    #[validate(length(min = 1, max = 32), regex(path = *EDITION_CODE, message = "must be letters, digits, '.', '_' or '-'"))]
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )]
    pub code: String,
    /// Title.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Province division code; defaults to the caller's province.
    #[serde(default)]
    pub province: Option<String>,
}

/// A new title for a draft edition.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditionPatch {
    /// Title.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
}

/// Filters for listing items.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    /// Item-type code.
    pub category: Option<String>,
    /// `statutory` or `delegable`.
    pub source: Option<String>,
    /// Sector code.
    pub sector: Option<String>,
    /// Domain.
    pub domain: Option<String>,
    /// High-frequency flag.
    pub high_frequency: Option<bool>,
    /// Text in the name.
    pub q: Option<String>,
}

/// Loads the dictionaries items are checked against.
pub fn dictionaries(conn: &mut DbConnection) -> AppResult<Dictionaries> {
    Ok(Dictionaries {
        categories: item_categories::table
            .select(item_categories::code)
            .load::<String>(conn)?
            .into_iter()
            .collect(),
        sectors: crate::organisations::known_sectors(conn)?,
    })
}

/// One entry of a dictionary.
#[derive(Debug, Serialize, ToSchema)]
pub struct DictionaryEntry {
    /// Code.
    pub code: String,
    /// Label.
    pub label: String,
}

/// The dictionaries items and organisations refer to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Dictionaries)]
pub struct DictionaryLists {
    /// Item-type codes (01 行政許可 ... 20 公共服務).
    pub categories: Vec<DictionaryEntry>,
    /// Sectors of county departments.
    pub sectors: Vec<DictionaryEntry>,
}

/// The dictionaries with their labels, in their order, as clients show them.
pub fn dictionary_lists(conn: &mut DbConnection) -> AppResult<DictionaryLists> {
    let entry = |(code, label)| DictionaryEntry { code, label };
    Ok(DictionaryLists {
        categories: item_categories::table
            .order(item_categories::sort_order)
            .select((item_categories::code, item_categories::label))
            .load::<(String, String)>(conn)?
            .into_iter()
            .map(entry)
            .collect(),
        sectors: sectors::table
            .order(sectors::sort_order)
            .select((sectors::code, sectors::label))
            .load::<(String, String)>(conn)?
            .into_iter()
            .map(entry)
            .collect(),
    })
}

fn item_entity(edition: &str, code: &str) -> String {
    format!("{edition}/{code}")
}

impl Edition {
    /// One edition.
    pub fn find(conn: &mut DbConnection, code: &str) -> AppResult<Edition> {
        catalogue_editions::table
            .find(code)
            .select(Edition::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::NotFound(format!("no catalogue edition {code}")))
    }

    /// The province it belongs to.
    pub fn province(&self) -> RegionCode {
        RegionCode::parse(&self.province_code).expect("stored codes are valid")
    }

    /// True for published and retired editions, which anyone may read.
    pub fn is_public(&self) -> bool {
        self.status != EditionStatus::Draft
    }

    /// Anyone reads published editions; drafts need the right in the province. An
    /// anonymous caller is told a draft does not exist.
    pub fn ensure_readable(&self, reader: Option<&Principal>) -> AppResult<()> {
        if self.is_public() {
            return Ok(());
        }
        match reader {
            None => Err(AppError::NotFound(format!(
                "no catalogue edition {}",
                self.code
            ))),
            Some(p) => p.require(Permission::ReadCatalogueDrafts, &self.province()),
        }
    }

    fn ensure_draft(&self) -> AppResult<()> {
        if self.status == EditionStatus::Draft {
            Ok(())
        } else {
            Err(AppError::Conflict(format!(
                "edition {} is {}: only a draft can change; start a new edition from it instead",
                self.code, self.status
            )))
        }
    }

    /// Takes an edition for a change: checks the actor's right and (when given) the
    /// revision the actor saw, then moves the revision on with a guarded UPDATE. That
    /// UPDATE holds the row until commit, so concurrent changes of one edition (an item
    /// write racing a publish, two publishes with one ETag) queue and the later ones
    /// see the state the first left. Returns the edition as it is now, under that lock.
    fn for_change(
        conn: &mut DbConnection,
        actor: &Principal,
        code: &str,
        expected: Option<i64>,
    ) -> AppResult<Edition> {
        let edition = Edition::find(conn, code)?;
        actor.require(Permission::ManageCatalogue, &edition.province())?;
        let mut guarded = diesel::update(catalogue_editions::table.find(code)).into_boxed();
        if let Some(expected) = expected {
            revision::require(expected, edition.revision)?;
            guarded = guarded.filter(catalogue_editions::revision.eq(expected));
        }
        let changed = guarded
            .set((
                catalogue_editions::revision.eq(catalogue_editions::revision + 1),
                catalogue_editions::updated_at.eq(now()),
            ))
            .execute(conn)?;
        revision::guarded(changed, || Ok(Edition::find(conn, code)?.revision))?;
        Edition::find(conn, code)
    }

    /// Finds an edition the actor may change, without taking it (dry runs).
    fn for_check(conn: &mut DbConnection, actor: &Principal, code: &str) -> AppResult<Edition> {
        let edition = Edition::find(conn, code)?;
        actor.require(Permission::ManageCatalogue, &edition.province())?;
        Ok(edition)
    }

    /// Editions visible to the reader, newest first, with item counts.
    pub fn list(
        conn: &mut DbConnection,
        reader: Option<&Principal>,
        status: Option<EditionStatus>,
        page: PageRequest,
    ) -> AppResult<(Vec<EditionView>, i64)> {
        // The same rule as `ensure_readable`: drafts of the province the reader's region is.
        let drafts_in = reader
            .filter(|p| {
                p.can(Permission::ReadCatalogueDrafts) && p.region.level() == Level::Province
            })
            .map(|p| p.region.clone());
        let query = || {
            let mut q = catalogue_editions::table.into_boxed();
            if let Some(status) = status {
                q = q.filter(catalogue_editions::status.eq(status.as_str()));
            }
            match &drafts_in {
                Some(province) => {
                    q = q.filter(
                        catalogue_editions::status
                            .ne(EditionStatus::Draft.as_str())
                            .or(catalogue_editions::province_code.eq(province.to_string())),
                    )
                }
                None => q = q.filter(catalogue_editions::status.ne(EditionStatus::Draft.as_str())),
            }
            q
        };
        let total = query().count().get_result(conn)?;
        let editions: Vec<Edition> = query()
            .order((
                catalogue_editions::created_at.desc(),
                catalogue_editions::code.asc(),
            ))
            .limit(page.size)
            .offset(page.offset())
            .select(Edition::as_select())
            .load(conn)?;
        let codes: Vec<&str> = editions.iter().map(|e| e.code.as_str()).collect();
        let counts: HashMap<String, i64> = catalogue_items::table
            .filter(catalogue_items::edition_code.eq_any(&codes))
            .group_by(catalogue_items::edition_code)
            .select((catalogue_items::edition_code, diesel::dsl::count_star()))
            .load::<(String, i64)>(conn)?
            .into_iter()
            .collect();
        let items = editions
            .into_iter()
            .map(|edition| {
                let item_count = counts.get(&edition.code).copied().unwrap_or(0);
                EditionView {
                    edition,
                    item_count,
                }
            })
            .collect();
        Ok((items, total))
    }

    /// The edition with its item count.
    pub fn view(self, conn: &mut DbConnection) -> AppResult<EditionView> {
        let item_count = catalogue_items::table
            .filter(catalogue_items::edition_code.eq(&self.code))
            .count()
            .get_result(conn)?;
        Ok(EditionView {
            edition: self,
            item_count,
        })
    }

    /// Creates an empty draft.
    pub fn create(
        conn: &mut DbConnection,
        actor: &Principal,
        input: NewEdition,
    ) -> AppResult<Edition> {
        let province = match &input.province {
            Some(code) => RegionCode::parse(code).map_err(|e| AppError::invalid("province", e))?,
            None => actor.region.province(),
        };
        if province.level() != Level::Province {
            return Err(AppError::invalid(
                "province",
                format!("{province} is not a province"),
            ));
        }
        actor.require(Permission::ManageCatalogue, &province)?;
        if regions::table
            .find(province.as_str())
            .count()
            .get_result::<i64>(conn)?
            == 0
        {
            return Err(AppError::invalid(
                "province",
                format!("province {province} is not registered"),
            ));
        }
        Edition::insert_draft(conn, actor, &input.code, &input.title, &province, None)
    }

    fn insert_draft(
        conn: &mut DbConnection,
        actor: &Principal,
        code: &str,
        title: &str,
        province: &RegionCode,
        based_on: Option<&str>,
    ) -> AppResult<Edition> {
        if catalogue_editions::table
            .find(code)
            .count()
            .get_result::<i64>(conn)?
            > 0
        {
            return Err(AppError::Conflict(format!(
                "catalogue edition {code} already exists"
            )));
        }
        let stamp = now();
        let edition = Edition {
            code: code.into(),
            province_code: province.to_string(),
            title: title.into(),
            status: EditionStatus::Draft,
            based_on: based_on.map(Into::into),
            revision: 1,
            created_at: stamp,
            updated_at: stamp,
            published_at: None,
            retired_at: None,
        };
        diesel::insert_into(catalogue_editions::table)
            .values(edition.clone())
            .execute(conn)?;
        let summary = match based_on {
            Some(from) => format!("new draft edition {code} from {from}"),
            None => format!("new draft edition {code}"),
        };
        audit::record(
            conn,
            actor,
            province,
            "catalogue.edition.create",
            "catalogue_edition",
            code,
            &summary,
        )?;
        Ok(edition)
    }

    /// "New edition from this one": copies a published (or retired) edition's items into
    /// a new draft. Item codes stay the same, so diffs line up.
    pub fn copy(
        conn: &mut DbConnection,
        actor: &Principal,
        from: &str,
        input: NewEdition,
    ) -> AppResult<Edition> {
        let source = Edition::find(conn, from)?;
        actor.require(Permission::ManageCatalogue, &source.province())?;
        if !source.is_public() {
            return Err(AppError::Conflict(format!(
                "edition {from} is a draft: only a published edition can be the base of a new one"
            )));
        }
        if input
            .province
            .as_deref()
            .is_some_and(|p| p != source.province_code)
        {
            return Err(AppError::invalid(
                "province",
                "a copy stays in the province of its source",
            ));
        }
        let edition = Edition::insert_draft(
            conn,
            actor,
            &input.code,
            &input.title,
            &source.province(),
            Some(from),
        )?;
        let stamp = now();
        let records: Vec<ItemRecord> = catalogue_items::table
            .filter(catalogue_items::edition_code.eq(from))
            .select(ItemRecord::as_select())
            .load(conn)?
            .into_iter()
            .map(|r| ItemRecord {
                edition_code: edition.code.clone(),
                revision: 1,
                created_at: stamp,
                updated_at: stamp,
                ..r
            })
            .collect();
        for chunk in records.chunks(200) {
            crate::insert_batch!(conn, catalogue_items::table, chunk)?;
        }
        Ok(edition)
    }

    /// Changes a draft's title.
    pub fn rename(
        conn: &mut DbConnection,
        actor: &Principal,
        code: &str,
        expected: i64,
        patch: EditionPatch,
    ) -> AppResult<Edition> {
        let edition = Edition::for_change(conn, actor, code, Some(expected))?;
        edition.ensure_draft()?;
        diesel::update(catalogue_editions::table.find(code))
            .set((catalogue_editions::title.eq(&patch.title),))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            &edition.province(),
            "catalogue.edition.update",
            "catalogue_edition",
            code,
            &format!("retitled {code}: {}", patch.title),
        )?;
        Edition::find(conn, code)
    }

    /// Publishes a draft: from now on it is immutable.
    pub fn publish(
        conn: &mut DbConnection,
        actor: &Principal,
        code: &str,
        expected: i64,
    ) -> AppResult<Edition> {
        let edition = Edition::for_change(conn, actor, code, Some(expected))?;
        edition.ensure_draft()?;
        let count: i64 = catalogue_items::table
            .filter(catalogue_items::edition_code.eq(code))
            .count()
            .get_result(conn)?;
        if count == 0 {
            return Err(AppError::Conflict(format!(
                "edition {code} has no items: there is nothing to publish"
            )));
        }
        let stamp = now();
        diesel::update(catalogue_editions::table.find(code))
            .set((
                catalogue_editions::status.eq(EditionStatus::Published.as_str()),
                catalogue_editions::published_at.eq(stamp),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            &edition.province(),
            "catalogue.edition.publish",
            "catalogue_edition",
            code,
            &format!("published {code} with {count} items"),
        )?;
        Edition::find(conn, code)
    }

    /// Retires a published edition.
    pub fn retire(
        conn: &mut DbConnection,
        actor: &Principal,
        code: &str,
        expected: i64,
    ) -> AppResult<Edition> {
        let edition = Edition::for_change(conn, actor, code, Some(expected))?;
        if edition.status != EditionStatus::Published {
            return Err(AppError::Conflict(format!(
                "edition {code} is {}: only a published edition can be retired",
                edition.status
            )));
        }
        let stamp = now();
        diesel::update(catalogue_editions::table.find(code))
            .set((
                catalogue_editions::status.eq(EditionStatus::Retired.as_str()),
                catalogue_editions::retired_at.eq(stamp),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            &edition.province(),
            "catalogue.edition.retire",
            "catalogue_edition",
            code,
            &format!("retired {code}"),
        )?;
        Edition::find(conn, code)
    }

    /// Deletes a draft and its items.
    pub fn delete(
        conn: &mut DbConnection,
        actor: &Principal,
        code: &str,
        expected: i64,
    ) -> AppResult<()> {
        let edition = Edition::for_change(conn, actor, code, Some(expected))?;
        edition.ensure_draft()?;
        diesel::delete(catalogue_items::table.filter(catalogue_items::edition_code.eq(code)))
            .execute(conn)?;
        diesel::delete(catalogue_editions::table.find(code)).execute(conn)?;
        audit::record(
            conn,
            actor,
            &edition.province(),
            "catalogue.edition.delete",
            "catalogue_edition",
            code,
            &format!("deleted draft {code}"),
        )?;
        Ok(())
    }
}

/// Item queries and changes.
pub struct Items;

impl Items {
    /// One item.
    pub fn find(conn: &mut DbConnection, edition: &str, code: &str) -> AppResult<Item> {
        Items::find_record(conn, edition, code)?
            .ok_or_else(|| AppError::NotFound(format!("edition {edition} has no item {code}")))?
            .into_item()
    }

    fn find_record(
        conn: &mut DbConnection,
        edition: &str,
        code: &str,
    ) -> AppResult<Option<ItemRecord>> {
        Ok(catalogue_items::table
            .filter(catalogue_items::edition_code.eq(edition))
            .filter(catalogue_items::code.eq(code))
            .select(ItemRecord::as_select())
            .first(conn)
            .optional()?)
    }

    /// A page of items in code order.
    pub fn list(
        conn: &mut DbConnection,
        edition: &str,
        filter: &ItemFilter,
        page: PageRequest,
    ) -> AppResult<(Vec<Item>, i64)> {
        let query = || {
            let mut q = catalogue_items::table
                .filter(catalogue_items::edition_code.eq(edition.to_string()))
                .into_boxed();
            if let Some(v) = &filter.category {
                q = q.filter(catalogue_items::category.eq(v.clone()));
            }
            if let Some(v) = &filter.source {
                q = q.filter(catalogue_items::source.eq(v.clone()));
            }
            if let Some(v) = &filter.sector {
                q = q.filter(catalogue_items::sector.eq(v.clone()));
            }
            if let Some(v) = &filter.domain {
                q = q.filter(catalogue_items::domain.eq(v.clone()));
            }
            if let Some(v) = filter.high_frequency {
                q = q.filter(catalogue_items::high_frequency.eq(v));
            }
            if let Some(text) = &filter.q {
                q = q.filter(catalogue_items::name.like(like_pattern(text)).escape('\\'));
            }
            q
        };
        let total = query().count().get_result(conn)?;
        let items = query()
            .order(catalogue_items::code.asc())
            .limit(page.size)
            .offset(page.offset())
            .select(ItemRecord::as_select())
            .load(conn)?
            .into_iter()
            .map(ItemRecord::into_item)
            .collect::<AppResult<Vec<_>>>()?;
        Ok((items, total))
    }

    /// Every item of an edition in code order (exports, diffs).
    pub fn all(conn: &mut DbConnection, edition: &str) -> AppResult<Vec<Item>> {
        catalogue_items::table
            .filter(catalogue_items::edition_code.eq(edition))
            .order(catalogue_items::code.asc())
            .select(ItemRecord::as_select())
            .load(conn)?
            .into_iter()
            .map(ItemRecord::into_item)
            .collect()
    }

    /// Checks the parent of an item against the edition: it exists, and is a top-level
    /// item (sub-items are one level deep, which also rules out cycles).
    fn check_parent(
        conn: &mut DbConnection,
        edition: &str,
        input: &ItemInput,
    ) -> AppResult<Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(parent) = &input.parent_code {
            match Items::find_record(conn, edition, parent)? {
                None => errors.push(FieldError::new(
                    "parent_code",
                    format!("edition {edition} has no item {parent}"),
                )),
                Some(p) if p.parent_code.is_some() => errors.push(FieldError::new(
                    "parent_code",
                    format!("{parent} is itself a sub-item; sub-items hang from top-level items"),
                )),
                Some(_) => {
                    let children: i64 = catalogue_items::table
                        .filter(catalogue_items::edition_code.eq(edition))
                        .filter(catalogue_items::parent_code.eq(&input.code))
                        .count()
                        .get_result(conn)?;
                    if children > 0 {
                        errors.push(FieldError::new(
                            "parent_code",
                            format!(
                                "{} has sub-items of its own, so it cannot become a sub-item",
                                input.code
                            ),
                        ));
                    }
                }
            }
        }
        Ok(errors)
    }

    fn checked(
        conn: &mut DbConnection,
        edition: &str,
        mut input: ItemInput,
    ) -> AppResult<ItemInput> {
        input.normalise();
        let dict = dictionaries(conn)?;
        let mut errors = input.check(&dict);
        errors.extend(Items::check_parent(conn, edition, &input)?);
        AppError::check(errors)?;
        Ok(input)
    }

    /// Adds an item to a draft.
    pub fn create(
        conn: &mut DbConnection,
        actor: &Principal,
        edition: &str,
        input: ItemInput,
    ) -> AppResult<Item> {
        let ed = Edition::for_change(conn, actor, edition, None)?;
        ed.ensure_draft()?;
        let input = Items::checked(conn, edition, input)?;
        if Items::find_record(conn, edition, &input.code)?.is_some() {
            return Err(AppError::Conflict(format!(
                "edition {edition} already has an item {}",
                input.code
            )));
        }
        let stamp = now();
        let record = ItemRecord::new(edition, &input, 1, stamp, stamp);
        diesel::insert_into(catalogue_items::table)
            .values(&record)
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            &ed.province(),
            "catalogue.item.create",
            "catalogue_item",
            &item_entity(edition, &input.code),
            &format!("added {} {}", input.code, input.name),
        )?;
        record.into_item()
    }

    /// Replaces an item's content in a draft.
    pub fn update(
        conn: &mut DbConnection,
        actor: &Principal,
        edition: &str,
        code: &str,
        expected: i64,
        input: ItemInput,
    ) -> AppResult<Item> {
        let ed = Edition::for_change(conn, actor, edition, None)?;
        ed.ensure_draft()?;
        let current = Items::find_record(conn, edition, code)?
            .ok_or_else(|| AppError::NotFound(format!("edition {edition} has no item {code}")))?;
        revision::require(expected, current.revision)?;
        if input.code.trim() != code {
            return Err(AppError::invalid("code", "the code of an item cannot change; it is what keeps it the same power across editions"));
        }
        let input = Items::checked(conn, edition, input)?;
        let record = ItemRecord::new(
            edition,
            &input,
            current.revision + 1,
            current.created_at,
            now(),
        );
        // The edition lock taken above already queues writers; the guard is the backstop.
        let changed = diesel::update(
            catalogue_items::table
                .filter(catalogue_items::edition_code.eq(edition))
                .filter(catalogue_items::code.eq(code))
                .filter(catalogue_items::revision.eq(current.revision)),
        )
        .set((
            catalogue_items::name.eq(&record.name),
            catalogue_items::category.eq(&record.category),
            catalogue_items::source.eq(&record.source),
            catalogue_items::delegation_mode.eq(&record.delegation_mode),
            catalogue_items::sector.eq(&record.sector),
            catalogue_items::domain.eq(&record.domain),
            catalogue_items::legal_basis.eq(&record.legal_basis),
            catalogue_items::responsibilities.eq(&record.responsibilities),
            catalogue_items::accountability.eq(&record.accountability),
            catalogue_items::time_limit_days.eq(record.time_limit_days),
            catalogue_items::high_frequency.eq(record.high_frequency),
            catalogue_items::service_guide.eq(&record.service_guide),
            catalogue_items::parent_code.eq(&record.parent_code),
            catalogue_items::township_kinds.eq(&record.township_kinds),
            catalogue_items::revision.eq(record.revision),
            catalogue_items::updated_at.eq(record.updated_at),
        ))
        .execute(conn)?;
        revision::guarded(changed, || {
            Ok(catalogue_items::table
                .filter(catalogue_items::edition_code.eq(edition))
                .filter(catalogue_items::code.eq(code))
                .select(catalogue_items::revision)
                .first(conn)?)
        })?;
        audit::record(
            conn,
            actor,
            &ed.province(),
            "catalogue.item.update",
            "catalogue_item",
            &item_entity(edition, code),
            &format!("changed {code} {}", record.name),
        )?;
        record.into_item()
    }

    /// Removes an item (without sub-items) from a draft.
    pub fn delete(
        conn: &mut DbConnection,
        actor: &Principal,
        edition: &str,
        code: &str,
        expected: i64,
    ) -> AppResult<()> {
        let ed = Edition::for_change(conn, actor, edition, None)?;
        ed.ensure_draft()?;
        let current = Items::find_record(conn, edition, code)?
            .ok_or_else(|| AppError::NotFound(format!("edition {edition} has no item {code}")))?;
        revision::require(expected, current.revision)?;
        let children: Vec<String> = catalogue_items::table
            .filter(catalogue_items::edition_code.eq(edition))
            .filter(catalogue_items::parent_code.eq(code))
            .select(catalogue_items::code)
            .load(conn)?;
        if !children.is_empty() {
            return Err(AppError::Conflict(format!(
                "{code} still has sub-items: {}",
                children.join(", ")
            )));
        }
        let deleted = diesel::delete(
            catalogue_items::table
                .filter(catalogue_items::edition_code.eq(edition))
                .filter(catalogue_items::code.eq(code))
                .filter(catalogue_items::revision.eq(current.revision)),
        )
        .execute(conn)?;
        revision::guarded(deleted, || {
            Ok(catalogue_items::table
                .filter(catalogue_items::edition_code.eq(edition))
                .filter(catalogue_items::code.eq(code))
                .select(catalogue_items::revision)
                .first(conn)?)
        })?;
        audit::record(
            conn,
            actor,
            &ed.province(),
            "catalogue.item.delete",
            "catalogue_item",
            &item_entity(edition, code),
            &format!("removed {code} {}", current.name),
        )?;
        Ok(())
    }

    /// Replaces a draft's whole content with `rows`, all or nothing. Every row is checked
    /// (codes unique in the file, parents present in the file) before anything is written;
    /// the report counts created, changed, unchanged and removed items.
    pub fn import(
        conn: &mut DbConnection,
        actor: &Principal,
        edition: &str,
        expected: Option<i64>,
        rows: Vec<(usize, ItemInput)>,
        dry_run: bool,
    ) -> AppResult<ImportReport> {
        let ed = Edition::for_check(conn, actor, edition)?;
        if let Some(expected) = expected.filter(|_| !dry_run) {
            revision::require(expected, ed.revision)?;
        }
        ed.ensure_draft()?;
        let dict = dictionaries(conn)?;
        let mut checked = Checked::new(
            rows,
            "code",
            |mut input: ItemInput| {
                input.normalise();
                let problems = input.check(&dict);
                (Some(input), problems)
            },
            |input| input.code.clone(),
        );
        for (row, message) in parent_problems(&checked.rows) {
            checked.problem(row, "parent_code", message);
        }
        let checked = checked.finish("items", "the file has no items")?;
        let existing: HashMap<String, (ItemRecord, ItemInput)> = catalogue_items::table
            .filter(catalogue_items::edition_code.eq(edition))
            .select(ItemRecord::as_select())
            .load(conn)?
            .into_iter()
            .map(|r| Ok((r.code.clone(), (r.clone(), r.into_item()?.content))))
            .collect::<AppResult<_>>()?;
        let comparison = checked.compare(&existing, |input, (_, old)| old == input);
        let report = comparison.report(dry_run, checked.total, true);
        if dry_run {
            return Ok(report);
        }
        if !report.changes_anything() {
            // Nothing to write, but the answer must still hold at commit: a guarded no-op
            // UPDATE waits for a concurrent writer and then sees what it did.
            let held = diesel::update(
                catalogue_editions::table
                    .find(edition)
                    .filter(catalogue_editions::revision.eq(ed.revision))
                    .filter(catalogue_editions::status.eq(EditionStatus::Draft.as_str())),
            )
            .set(catalogue_editions::revision.eq(catalogue_editions::revision))
            .execute(conn)?;
            return revision::guarded(held, || {
                let now = Edition::find(conn, edition)?;
                now.ensure_draft()?;
                Ok(now.revision)
            })
            .map(|()| report);
        }
        // Only now is the edition taken; the guard catches a writer since it was read,
        // and a draft published meanwhile is refused.
        let ed = Edition::for_change(conn, actor, edition, expected)?;
        ed.ensure_draft()?;
        Items::store_import(conn, edition, &comparison)?;
        audit::record(
            conn,
            actor,
            &ed.province(),
            "catalogue.edition.import",
            "catalogue_edition",
            edition,
            &report.summary("items", "changed"),
        )?;
        Ok(report)
    }

    /// Writes an import: changed rows are replaced whole (the parent key is deferred to
    /// commit), absent ones removed, new ones added.
    fn store_import(
        conn: &mut DbConnection,
        edition: &str,
        comparison: &Comparison<'_, String, ItemInput, (ItemRecord, ItemInput)>,
    ) -> AppResult<()> {
        let stamp = now();
        let gone: Vec<&String> = comparison
            .changed
            .iter()
            .map(|(input, _)| &input.code)
            .chain(comparison.absent.iter().copied())
            .collect();
        for chunk in gone.chunks(BATCH) {
            diesel::delete(
                catalogue_items::table
                    .filter(catalogue_items::edition_code.eq(edition))
                    .filter(catalogue_items::code.eq_any(chunk)),
            )
            .execute(conn)?;
        }
        let inserts: Vec<ItemRecord> = comparison
            .created
            .iter()
            .map(|input| ItemRecord::new(edition, input, 1, stamp, stamp))
            .chain(comparison.changed.iter().map(|(input, (old, _))| {
                ItemRecord::new(edition, input, old.revision + 1, old.created_at, stamp)
            }))
            .collect();
        for chunk in inserts.chunks(BATCH) {
            crate::insert_batch!(conn, catalogue_items::table, chunk)?;
        }
        Ok(())
    }
}

/// Each sub-item's parent must be a top-level item of the same file.
fn parent_problems(rows: &BTreeMap<String, (usize, ItemInput)>) -> Vec<(usize, String)> {
    let mut problems = Vec::new();
    for (row, input) in rows.values() {
        let Some(parent) = &input.parent_code else {
            continue;
        };
        match rows.get(parent) {
            None => problems.push((*row, format!("{parent} is not in this file"))),
            Some((_, p)) if p.parent_code.is_some() => problems.push((
                *row,
                format!("{parent} is itself a sub-item; sub-items hang from top-level items"),
            )),
            Some(_) => {}
        }
    }
    problems
}
