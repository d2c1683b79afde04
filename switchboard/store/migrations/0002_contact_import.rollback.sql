DROP INDEX contacts_by_source_external_id;
ALTER TABLE contacts
    DROP CONSTRAINT contacts_external_id_needs_source,
    DROP COLUMN external_id,
    DROP COLUMN source;
