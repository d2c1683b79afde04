DROP TABLE hours_overrides;
