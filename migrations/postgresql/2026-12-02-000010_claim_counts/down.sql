ALTER TABLE claim_rounds DROP COLUMN counts_revision;
ALTER TABLE claim_rounds DROP COLUMN items_offered;
DROP TABLE claim_counts;
