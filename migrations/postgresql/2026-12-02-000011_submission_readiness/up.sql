-- A power list submitted while its county's open round still has undecided claims says
-- why (allow_incomplete); reviewers read the reason beside the version.
ALTER TABLE list_versions ADD COLUMN incomplete_reason TEXT;
