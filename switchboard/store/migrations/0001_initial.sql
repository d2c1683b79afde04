-- The first schema: contacts with their numbers (for caller recognition), board users and
-- their sessions, and the call journal written by the AMI bridge.

CREATE TABLE contacts (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    company     text,
    vip         boolean NOT NULL DEFAULT false,
    language    text NOT NULL DEFAULT 'nl' CHECK (language IN ('nl', 'en')),
    email       text,
    address     text,
    notes       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Numbers are stored in E.164 form; one number may belong to several contacts
-- (a company switchboard), so it is not unique on its own.
CREATE TABLE contact_numbers (
    contact_id  bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    e164        text NOT NULL CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    label       text,
    verified_at timestamptz,
    PRIMARY KEY (contact_id, e164)
);
CREATE INDEX contact_numbers_by_e164 ON contact_numbers (e164);

CREATE TABLE board_users (
    username      text PRIMARY KEY CHECK (username ~ '^[a-z0-9._-]{2,64}$'),
    display_name  text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('receptionist', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Only a hash of the session token is stored, so a leaked table cannot be replayed.
CREATE TABLE board_sessions (
    token_sha256 text PRIMARY KEY,
    username     text NOT NULL REFERENCES board_users (username) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

-- One row per call (Asterisk linkedid) on one PBX.
CREATE TABLE calls (
    pbx            text NOT NULL,
    linked_id      text NOT NULL,
    caller_number  text,
    caller_name    text,
    contact_id     bigint REFERENCES contacts (id) ON DELETE SET NULL,
    started_at     timestamptz NOT NULL,
    answered_at    timestamptz,
    ended_at       timestamptz,
    PRIMARY KEY (pbx, linked_id)
);
CREATE INDEX calls_by_caller ON calls (caller_number, started_at DESC);
