ALTER TABLE version_contents DROP COLUMN content_gzip;
DROP TABLE version_slices;
