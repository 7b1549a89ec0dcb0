ALTER TABLE list_versions ADD COLUMN content TEXT NOT NULL DEFAULT '';
UPDATE list_versions SET content = (SELECT c.content FROM version_contents c WHERE c.version_id = list_versions.id);
DROP TABLE version_contents;
