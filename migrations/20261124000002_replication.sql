-- Replication bookkeeping. Every insert or update of a booking takes the next
-- number of this database's change sequence, so a peer can ask "what changed
-- since N?" (anti-entropy) and catch up on what it missed.

CREATE SEQUENCE booking_change_seq;

ALTER TABLE bookings
    ADD COLUMN change_seq BIGINT NOT NULL DEFAULT nextval('booking_change_seq');
CREATE INDEX bookings_by_change ON bookings (change_seq);

CREATE FUNCTION next_booking_change() RETURNS trigger AS $$
BEGIN
    NEW.change_seq := nextval('booking_change_seq');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER booking_changed
    BEFORE UPDATE ON bookings
    FOR EACH ROW EXECUTE FUNCTION next_booking_change();
