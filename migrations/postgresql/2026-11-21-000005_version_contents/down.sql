ALTER TABLE list_versions ADD COLUMN content TEXT NOT NULL DEFAULT '';
UPDATE list_versions v SET content = c.content FROM version_contents c WHERE c.version_id = v.id;
ALTER TABLE list_versions ALTER COLUMN content DROP DEFAULT;
DROP TABLE version_contents;
