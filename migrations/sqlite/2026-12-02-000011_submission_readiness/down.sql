ALTER TABLE list_versions DROP COLUMN incomplete_reason;
