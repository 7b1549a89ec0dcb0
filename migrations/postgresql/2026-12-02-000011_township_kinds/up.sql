-- The kinds of township a statutory item belongs to (subdistrict, town, township;
-- comma-separated); every township when NULL.
ALTER TABLE catalogue_items ADD COLUMN township_kinds TEXT;

-- What a rollback of this migration kept aside comes back.
CREATE TABLE IF NOT EXISTS rollback_township_kinds (
  edition_code   TEXT NOT NULL,
  code           TEXT NOT NULL,
  township_kinds TEXT NOT NULL,
  PRIMARY KEY (edition_code, code)
);
UPDATE catalogue_items SET township_kinds = (
  SELECT r.township_kinds FROM rollback_township_kinds r
  WHERE r.edition_code = catalogue_items.edition_code AND r.code = catalogue_items.code
)
WHERE EXISTS (
  SELECT 1 FROM rollback_township_kinds r
  WHERE r.edition_code = catalogue_items.edition_code AND r.code = catalogue_items.code
);
DROP TABLE rollback_township_kinds;
