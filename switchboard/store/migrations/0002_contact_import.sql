-- depends: 0001_initial
-- Contact import: where a contact came from and its id there, so that importing the same
-- file again updates its contacts instead of adding them a second time.
--
-- source       the list a contact was imported from ('import' unless the receptionist
--              names it, e.g. 'outlook' or 'crm'); NULL for contacts added by hand.
-- external_id  the contact's id in that list (a CSV ID column, a vCard UID), if any.
--
-- Re-import matches within one source only (switchboard/contact_store.py): by
-- external_id; else by e-mail (case-insensitive, when that address is on one row of the
-- file only); else by exact name + company. Contacts added by hand are never touched.

ALTER TABLE contacts
    ADD COLUMN source text CHECK (length(source) BETWEEN 1 AND 100),
    ADD COLUMN external_id text CHECK (length(external_id) BETWEEN 1 AND 200),
    ADD CONSTRAINT contacts_external_id_needs_source
        CHECK (external_id IS NULL OR source IS NOT NULL);

-- One contact per id per source (NULL ids do not collide); also finds a source's contacts.
CREATE UNIQUE INDEX contacts_by_source_external_id ON contacts (source, external_id);
