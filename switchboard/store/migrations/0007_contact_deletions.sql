-- depends: 0006_call_outcome
-- The FastAGI process holds every contact's numbers in memory and follows changes every
-- few seconds by contacts.updated_at, so it never has to read all contacts again (at
-- 100,000 contacts that took over a second). A deleted contact leaves no row to see:
-- this trigger notes it, whoever deletes it (an admin's SQL, a clean-up script), so
-- the caller is no longer recognised as them within seconds.

CREATE TABLE contact_deletions (
    contact_id  bigint NOT NULL,
    deleted_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX contact_deletions_by_time ON contact_deletions (deleted_at);

CREATE FUNCTION note_contact_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_deletions (contact_id) SELECT id FROM deleted;
    -- Readers look back seconds, not days; a week keeps the table small.
    DELETE FROM contact_deletions WHERE deleted_at < clock_timestamp() - interval '7 days';
    RETURN NULL;
END
$$;

CREATE TRIGGER contacts_note_deletions AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION note_contact_deletions();
