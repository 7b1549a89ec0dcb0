DROP TABLE review_findings;
DROP TABLE version_reviews;
DROP TABLE list_versions;
