-- A replica's bookings by status, kept as the statuses change rather than
-- counted: the monitor's replication panel asks every node for them once a
-- second, and counting `bookings` then read the whole table, more of it as
-- the day's bookings grew.
--
-- Every statement that inserts or updates bookings adds, by the triggers
-- below, one row per status whose count it changed. The rows are only ever
-- added (two writers never wait for each other over a shared counter row);
-- the reader sums them and folds them into one row per status
-- (server/src/store/tallies.rs). Bookings are never deleted.
CREATE TABLE booking_status_deltas (
    status TEXT NOT NULL,
    delta BIGINT NOT NULL
);

CREATE FUNCTION count_inserted_statuses() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO booking_status_deltas (status, delta)
    SELECT status, count(*) FROM inserted GROUP BY status;
    RETURN NULL;
END
$$;

CREATE FUNCTION count_updated_statuses() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO booking_status_deltas (status, delta)
    SELECT status, sum(change) FROM (
        SELECT status, 1 AS change FROM after_update
        UNION ALL
        SELECT status, -1 FROM before_update
    ) AS changes
    GROUP BY status
    HAVING sum(change) <> 0;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_inserted_count AFTER INSERT ON bookings
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_statuses();

CREATE TRIGGER bookings_updated_count AFTER UPDATE ON bookings
    REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
    FOR EACH STATEMENT EXECUTE FUNCTION count_updated_statuses();

INSERT INTO booking_status_deltas (status, delta)
SELECT status, count(*) FROM bookings GROUP BY status;
