-- Rolling back keeps the kinds aside (rollback_township_kinds), for the next upgrade to
-- put back: the catalogue loses nothing.
CREATE TABLE IF NOT EXISTS rollback_township_kinds (
  edition_code   TEXT NOT NULL,
  code           TEXT NOT NULL,
  township_kinds TEXT NOT NULL,
  PRIMARY KEY (edition_code, code)
);
INSERT INTO rollback_township_kinds (edition_code, code, township_kinds)
SELECT edition_code, code, township_kinds FROM catalogue_items WHERE township_kinds IS NOT NULL;
ALTER TABLE catalogue_items DROP COLUMN township_kinds;
