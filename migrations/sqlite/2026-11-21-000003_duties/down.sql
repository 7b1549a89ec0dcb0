DROP TABLE duty_admissions;
DROP TABLE duty_departments;
DROP TABLE duty_matters;
DROP TABLE duty_lists;
DROP INDEX organisations_code_region;
