-- Every change of a confirmation is announced on a channel (payload: the runner id), so a
-- status stream waits for a NOTIFY instead of polling the database (marathon/service/status_watch.py).
CREATE OR REPLACE FUNCTION marathon_confirmation_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('marathon_confirmations', NEW.runner_id::text);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS confirmation_changed ON confirmations;
CREATE TRIGGER confirmation_changed AFTER INSERT OR UPDATE ON confirmations
    FOR EACH ROW EXECUTE FUNCTION marathon_confirmation_changed();
