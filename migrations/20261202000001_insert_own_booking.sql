-- A booking made on this node, written by one call: one round trip, in no
-- transaction of the caller's (see server/src/store/bookings.rs). It writes
-- the booking, its seats, its op waiting for its number (pending_ops) and,
-- for a claim (multi-master strong), its mark as undecided; it returns the
-- op's pending number.
--
-- Nothing is written when:
-- - a seat is held by an active booking, or was claimed here with a stamp
--   (epoch, Lamport clock) as late as this booking's or later: it raises
--   SQLSTATE MB001 with those seats, comma-separated, as its DETAIL;
-- - a concurrent booking takes a seat at the same moment: unique_violation
--   on one_active_booking_per_seat;
-- - a booking with this id is held already (a retried write):
--   unique_violation on bookings_pkey.
CREATE FUNCTION insert_own_booking(
    p_id UUID, p_user_id TEXT, p_user_name TEXT, p_showtime_id BIGINT,
    p_total_cents BIGINT, p_logical_clock BIGINT, p_vector_clock JSONB,
    p_processed_by TEXT, p_timestamp TIMESTAMPTZ, p_labels TEXT[], p_prices BIGINT[],
    p_status_epoch BIGINT, p_mode TEXT, p_made_in_epoch BIGINT, p_deps JSONB,
    p_origin INTEGER, p_first_claim_holds BOOLEAN
) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    taken TEXT[];
    op BIGINT;
BEGIN
    INSERT INTO bookings (id, user_id, user_name, showtime_id, total_cents, status,
                          logical_clock, vector_clock, processed_by, "timestamp",
                          status_epoch, mode, made_in_epoch, made_with_deps, deps)
    VALUES (p_id, p_user_id, p_user_name, p_showtime_id, p_total_cents, 'confirmed',
            p_logical_clock, p_vector_clock, p_processed_by, p_timestamp,
            p_status_epoch, p_mode, p_made_in_epoch, p_deps, p_deps);

    SELECT array_agg(seat.label ORDER BY seat.n) INTO taken
    FROM unnest(p_labels) WITH ORDINALITY AS seat(label, n)
    WHERE EXISTS (SELECT 1 FROM booking_seats claim
                  JOIN bookings rival ON rival.id = claim.booking_id
                  WHERE claim.showtime_id = p_showtime_id AND claim.seat_label = seat.label
                    AND (claim.active
                         OR (rival.made_in_epoch, rival.logical_clock)
                            >= (p_made_in_epoch, p_logical_clock)));
    IF taken IS NOT NULL THEN
        RAISE EXCEPTION 'seats taken' USING ERRCODE = 'MB001', DETAIL = array_to_string(taken, ',');
    END IF;

    INSERT INTO booking_seats (booking_id, showtime_id, seat_label, price_cents)
    SELECT p_id, p_showtime_id, seat.label, seat.price
    FROM unnest(p_labels, p_prices) AS seat(label, price);
    INSERT INTO pending_ops (origin, booking_id) VALUES (p_origin, p_id) RETURNING seq INTO op;
    IF p_first_claim_holds THEN
        INSERT INTO undecided_claims (booking_id) VALUES (p_id);
    END IF;
    RETURN op;
END
$$;
