-- The confirmation of a queued registration: what the client can ask about (the job itself
-- lives in procrastinate's tables). No personal data here: the runner id identifies it.
CREATE TABLE IF NOT EXISTS confirmations (
    runner_id          uuid PRIMARY KEY REFERENCES runners (id),
    job_id             bigint NOT NULL,
    state              text NOT NULL DEFAULT 'queued'
                       CHECK (state IN ('queued', 'sending', 'sent', 'retrying', 'dead')),
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz,
    last_error         text,
    email_id           text,
    request_trace_id   text,
    attempt_trace_ids  text[] NOT NULL DEFAULT '{}',
    updated_at         timestamptz NOT NULL DEFAULT now()
);
