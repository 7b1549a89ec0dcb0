DROP TABLE audit_head;
DROP TABLE audit_events;
DROP TABLE catalogue_items;
DROP TABLE catalogue_editions;
DROP TABLE organisations;
DROP TABLE item_categories;
DROP TABLE sectors;
DROP TABLE regions;
