-- Foundation: regions, organisations, the catalogue and the audit chain.

CREATE TABLE regions (
  code        TEXT PRIMARY KEY CHECK (length(code) = 12),
  name        TEXT NOT NULL CHECK (length(name) > 0),
  level       TEXT NOT NULL CHECK (level IN ('province', 'city', 'county', 'township')),
  kind        TEXT CHECK (kind IN ('subdistrict', 'town', 'township')),
  parent_code TEXT REFERENCES regions (code),
  CHECK ((level = 'township') = (kind IS NOT NULL)),
  CHECK ((level = 'province') = (parent_code IS NULL))
);
CREATE INDEX regions_parent ON regions (parent_code, code);

-- Dictionaries seeded here because provinces extend them.
CREATE TABLE sectors (
  code       TEXT PRIMARY KEY,
  label      TEXT NOT NULL,
  sort_order INTEGER NOT NULL
);
CREATE TABLE item_categories (
  code       TEXT PRIMARY KEY,
  label      TEXT NOT NULL,
  sort_order INTEGER NOT NULL
);

CREATE TABLE organisations (
  code        TEXT PRIMARY KEY,
  name        TEXT NOT NULL CHECK (length(name) > 0),
  kind        TEXT NOT NULL CHECK (kind IN ('department', 'justice_bureau', 'staffing_office', 'approval_bureau', 'county_government', 'township_unit')),
  sector      TEXT REFERENCES sectors (code),
  region_code TEXT NOT NULL REFERENCES regions (code),
  revision    BIGINT NOT NULL DEFAULT 1,
  created_at  TIMESTAMP NOT NULL,
  updated_at  TIMESTAMP NOT NULL,
  CHECK (kind <> 'department' OR sector IS NOT NULL),
  UNIQUE (region_code, name)
);
CREATE INDEX organisations_region ON organisations (region_code, code);
CREATE INDEX organisations_sector ON organisations (region_code, sector);

CREATE TABLE catalogue_editions (
  code          TEXT PRIMARY KEY,
  province_code TEXT NOT NULL REFERENCES regions (code),
  title         TEXT NOT NULL CHECK (length(title) > 0),
  status        TEXT NOT NULL CHECK (status IN ('draft', 'published', 'retired')),
  based_on      TEXT REFERENCES catalogue_editions (code),
  revision      BIGINT NOT NULL DEFAULT 1,
  created_at    TIMESTAMP NOT NULL,
  updated_at    TIMESTAMP NOT NULL,
  published_at  TIMESTAMP,
  retired_at    TIMESTAMP,
  CHECK ((status = 'draft') = (published_at IS NULL)),
  CHECK ((status = 'retired') = (retired_at IS NOT NULL))
);
CREATE INDEX catalogue_editions_province ON catalogue_editions (province_code, status);

CREATE TABLE catalogue_items (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  edition_code     TEXT NOT NULL REFERENCES catalogue_editions (code) ON DELETE CASCADE,
  code             TEXT NOT NULL CHECK (length(code) BETWEEN 2 AND 32),
  name             TEXT NOT NULL CHECK (length(name) > 0),
  category         TEXT NOT NULL REFERENCES item_categories (code),
  source           TEXT NOT NULL CHECK (source IN ('statutory', 'delegable')),
  delegation_mode  TEXT CHECK (delegation_mode IN ('direct', 'entrusted')),
  sector           TEXT NOT NULL REFERENCES sectors (code),
  domain           TEXT NOT NULL CHECK (length(domain) > 0),
  legal_basis      TEXT NOT NULL,
  responsibilities TEXT NOT NULL,
  accountability   TEXT NOT NULL,
  time_limit_days  INTEGER CHECK (time_limit_days > 0),
  high_frequency   BOOLEAN NOT NULL DEFAULT 0,
  service_guide    TEXT,
  parent_code      TEXT,
  revision         BIGINT NOT NULL DEFAULT 1,
  created_at       TIMESTAMP NOT NULL,
  updated_at       TIMESTAMP NOT NULL,
  UNIQUE (edition_code, code),
  CHECK ((source = 'delegable') = (delegation_mode IS NOT NULL)),
  CHECK (parent_code IS NULL OR parent_code <> code),
  FOREIGN KEY (edition_code, parent_code) REFERENCES catalogue_items (edition_code, code) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX catalogue_items_category ON catalogue_items (edition_code, category, code);
CREATE INDEX catalogue_items_sector ON catalogue_items (edition_code, sector, code);
CREATE INDEX catalogue_items_domain ON catalogue_items (edition_code, domain, code);
CREATE INDEX catalogue_items_parent ON catalogue_items (edition_code, parent_code);

-- The audit log is append-only and hash-chained; audit_head is the single row every
-- writer updates first, which serialises appends so the chain never forks.
CREATE TABLE audit_events (
  seq         BIGINT PRIMARY KEY,
  occurred_at TIMESTAMP NOT NULL,
  actor_sub   TEXT NOT NULL,
  actor_org   TEXT NOT NULL,
  actor_roles TEXT NOT NULL,
  region_code TEXT NOT NULL,
  action      TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id   TEXT NOT NULL,
  summary     TEXT NOT NULL,
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id, seq);
CREATE INDEX audit_events_time ON audit_events (occurred_at, seq);
CREATE INDEX audit_events_region ON audit_events (region_code, seq);

CREATE TABLE audit_head (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  BIGINT NOT NULL,
  hash TEXT NOT NULL
);

INSERT INTO item_categories (code, label, sort_order) VALUES
  ('01', '行政许可', 1), ('02', '行政处罚', 2), ('03', '行政强制', 3), ('04', '行政征收', 4),
  ('05', '行政给付', 5), ('06', '行政检查', 6), ('07', '行政确认', 7), ('08', '行政奖励', 8),
  ('09', '行政裁决', 9), ('10', '其他行政权力', 10), ('20', '公共服务', 20);

INSERT INTO sectors (code, label, sort_order) VALUES
  ('natural_resources', '自然资源', 1),
  ('ecology_environment', '生态环境', 2),
  ('housing_construction', '住房城乡建设', 3),
  ('agriculture_rural', '农业农村', 4),
  ('market_regulation', '市场监管', 5),
  ('emergency_management', '应急管理', 6),
  ('comprehensive_enforcement', '综合行政执法', 7),
  ('public_security', '公安', 8),
  ('civil_affairs', '民政', 9),
  ('human_resources', '人力资源社会保障', 10),
  ('health', '卫生健康', 11),
  ('education', '教育', 12),
  ('transport', '交通运输', 13),
  ('water_resources', '水利', 14),
  ('culture_tourism', '文化旅游', 15),
  ('forestry', '林业草原', 16),
  ('fire_rescue', '消防救援', 17),
  ('veterans_affairs', '退役军人事务', 18),
  ('medical_security', '医疗保障', 19),
  ('other', '其他', 99);

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
