-- Runners, one row per registration. The id is a UUIDv7 chosen by the app before any work starts.
CREATE TABLE IF NOT EXISTS runners (
    id          uuid PRIMARY KEY,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    email       text NOT NULL,
    address     text NOT NULL,
    distance    text NOT NULL CHECK (distance IN ('5k', '10k', 'half', 'full')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One registration per email address, whatever its case.
CREATE UNIQUE INDEX IF NOT EXISTS runners_email_lower_key ON runners (lower(email));
