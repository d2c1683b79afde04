DROP TRIGGER contacts_note_deletions ON contacts;
DROP FUNCTION note_contact_deletions();
DROP TABLE contact_deletions;
