-- Responsibility lists (屬地管理事項責任清單): per county, matters with exactly one lead
-- department, supporting departments and the township's duties; duty admission requests.

-- Lets departments be referenced together with their county, so that the database
-- itself keeps every department of a matter in the matter's county.
CREATE UNIQUE INDEX organisations_code_region ON organisations (code, region_code);

CREATE TABLE duty_lists (
  county_code TEXT PRIMARY KEY REFERENCES regions (code),
  revision    BIGINT NOT NULL DEFAULT 1,
  updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE duty_matters (
  id                      BIGSERIAL PRIMARY KEY,
  county_code             TEXT NOT NULL REFERENCES duty_lists (county_code),
  code                    TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 32),
  name                    TEXT NOT NULL CHECK (length(name) > 0),
  search_text             TEXT NOT NULL,
  domain                  TEXT NOT NULL CHECK (length(domain) > 0),
  legal_basis             TEXT NOT NULL,
  township_duties         TEXT NOT NULL,
  one_matter              BOOLEAN NOT NULL DEFAULT FALSE,
  lead_response_minutes   INTEGER CHECK (lead_response_minutes > 0),
  support_arrival_minutes INTEGER CHECK (support_arrival_minutes > 0),
  notes                   TEXT,
  revision                BIGINT NOT NULL DEFAULT 1,
  created_at              TIMESTAMP NOT NULL,
  updated_at              TIMESTAMP NOT NULL,
  UNIQUE (county_code, code),
  UNIQUE (county_code, name),
  UNIQUE (id, county_code)
);
CREATE INDEX duty_matters_domain ON duty_matters (county_code, domain);

-- The lead and the supporters of a matter: one row per department, so no department
-- appears twice (lead included), and at most one lead (the partial unique index).
CREATE TABLE duty_departments (
  matter_id   BIGINT NOT NULL,
  county_code TEXT NOT NULL,
  org_code    TEXT NOT NULL,
  role        TEXT NOT NULL CHECK (role IN ('lead', 'support')),
  position    INTEGER NOT NULL,
  duties      TEXT NOT NULL,
  PRIMARY KEY (matter_id, org_code),
  FOREIGN KEY (matter_id, county_code) REFERENCES duty_matters (id, county_code) ON DELETE CASCADE,
  FOREIGN KEY (org_code, county_code) REFERENCES organisations (code, region_code)
);
CREATE UNIQUE INDEX duty_departments_one_lead ON duty_departments (matter_id) WHERE role = 'lead';
CREATE INDEX duty_departments_org ON duty_departments (county_code, org_code, role);

-- 職責準入: a department asks for a matter to be added; the compiler decides.
CREATE TABLE duty_admissions (
  id              BIGSERIAL PRIMARY KEY,
  county_code     TEXT NOT NULL REFERENCES regions (code),
  org_code        TEXT NOT NULL REFERENCES organisations (code),
  requested_by    TEXT NOT NULL,
  proposal        TEXT NOT NULL,
  justification   TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
  decision_reason TEXT,
  matter_code     TEXT,
  decided_by      TEXT,
  revision        BIGINT NOT NULL DEFAULT 1,
  created_at      TIMESTAMP NOT NULL,
  decided_at      TIMESTAMP,
  CHECK ((status = 'pending') = (decided_at IS NULL)),
  CHECK (status <> 'rejected' OR decision_reason IS NOT NULL),
  CHECK (status <> 'accepted' OR matter_code IS NOT NULL)
);
CREATE INDEX duty_admissions_county ON duty_admissions (county_code, status, id);
