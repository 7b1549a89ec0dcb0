ALTER TABLE claim_rounds DROP COLUMN items_offered;
DROP TABLE claim_counts;
