-- insert_own_bookings: this node's new bookings, many in one call and one
-- transaction (server/src/store/booking_writer.rs gathers them), each
-- numbered as an op of this node in that transaction. It replaces
-- insert_own_booking, which wrote one booking per call and left its op
-- pending for the numbering task: per booking, a call, a commit and two
-- more rows (the pending op, and its removal) cost more than the booking.
--
-- The arguments hold one element per booking (p_seat_counts: how many of
-- the seat arrays' elements are its seats, in order). The answer is one row
-- per booking, in order:
-- - 'written', with its op's number: written, its seats held;
-- - 'taken', with the seats that were: nothing written. A seat is taken if
--   an active booking holds it, if a booking made with a stamp as late as
--   this one's or later claimed it, or if an earlier booking of this call
--   took it;
-- - 'held': a booking with its id is held already (a retried write, or an
--   earlier booking of this call with the same id); nothing written.
--
-- Numbers stay contiguous and given only to committed ops: the counter is
-- moved last, so its row is locked only while the call commits, and the
-- numbering task (other ops) waits for that at most.
--
-- The seats are inserted in one order, by showtime and label, as every
-- other writer inserts them, so that two transactions inserting the same
-- seats never wait for each other both ways. A seat another transaction
-- takes between the check and the insert fails the whole call
-- (unique_violation); the writer calls again, and the check then sees it.
CREATE FUNCTION insert_own_bookings(
    p_ids UUID[], p_user_ids TEXT[], p_user_names TEXT[], p_showtime_ids BIGINT[],
    p_totals BIGINT[], p_logical_clocks BIGINT[], p_vector_clocks JSONB[],
    p_processed_by TEXT[], p_timestamps TIMESTAMPTZ[], p_status_epochs BIGINT[],
    p_modes TEXT[], p_made_in_epochs BIGINT[], p_deps JSONB[], p_first_claim_holds BOOLEAN[],
    p_seat_counts INTEGER[], p_labels TEXT[], p_prices BIGINT[], p_origin INTEGER
) RETURNS TABLE (verdict TEXT, seats_taken TEXT[], op_number BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    bookings_in_call INTEGER := cardinality(p_ids);
    verdicts TEXT[] := array_fill('written'::TEXT, ARRAY[bookings_in_call]);
    taken_lists TEXT[] := array_fill(''::TEXT, ARRAY[bookings_in_call]);
    numbers BIGINT[] := array_fill(NULL::BIGINT, ARRAY[bookings_in_call]);
    seat_owner INTEGER[] := '{}';
    written_ids UUID[] := '{}';
    claimed TEXT[] := '{}';
    taken TEXT[];
    first_seat INTEGER := 1;
    last_seat INTEGER;
    i INTEGER;
    n INTEGER;
    written INTEGER := 0;
    last_number BIGINT;
BEGIN
    -- Each booking decided in order, against the table and the bookings
    -- of this call written before it.
    FOR i IN 1 .. bookings_in_call LOOP
        last_seat := first_seat + p_seat_counts[i] - 1;
        FOR n IN first_seat .. last_seat LOOP
            seat_owner := seat_owner || i;
        END LOOP;
        IF p_ids[i] = ANY (written_ids) OR EXISTS (SELECT 1 FROM bookings WHERE id = p_ids[i]) THEN
            verdicts[i] := 'held';
        ELSE
            taken := '{}';
            FOR n IN first_seat .. last_seat LOOP
                IF (p_showtime_ids[i] || ' ' || p_labels[n]) = ANY (claimed)
                   OR EXISTS (SELECT 1 FROM booking_seats claim
                              WHERE claim.showtime_id = p_showtime_ids[i]
                                AND claim.seat_label = p_labels[n]
                                AND (claim.active
                                     OR (SELECT (rival.made_in_epoch, rival.logical_clock)
                                                >= (p_made_in_epochs[i], p_logical_clocks[i])
                                         FROM bookings rival WHERE rival.id = claim.booking_id))) THEN
                    taken := taken || p_labels[n];
                END IF;
            END LOOP;
            IF cardinality(taken) > 0 THEN
                verdicts[i] := 'taken';
                taken_lists[i] := array_to_string(taken, ',');
            ELSE
                written := written + 1;
                written_ids := written_ids || p_ids[i];
                FOR n IN first_seat .. last_seat LOOP
                    claimed := claimed || (p_showtime_ids[i] || ' ' || p_labels[n]);
                END LOOP;
            END IF;
        END IF;
        first_seat := last_seat + 1;
    END LOOP;

    IF written = 0 THEN
        RETURN QUERY SELECT v, string_to_array(NULLIF(t, ''), ','), NULL::BIGINT
                     FROM unnest(verdicts, taken_lists) AS decided(v, t);
        RETURN;
    END IF;

    INSERT INTO bookings (id, user_id, user_name, showtime_id, total_cents, status,
                          logical_clock, vector_clock, processed_by, "timestamp",
                          status_epoch, mode, made_in_epoch, made_with_deps, deps)
    SELECT p_ids[k], p_user_ids[k], p_user_names[k], p_showtime_ids[k], p_totals[k], 'confirmed',
           p_logical_clocks[k], p_vector_clocks[k], p_processed_by[k], p_timestamps[k],
           p_status_epochs[k], p_modes[k], p_made_in_epochs[k], p_deps[k], p_deps[k]
    FROM generate_subscripts(p_ids, 1) AS k
    WHERE verdicts[k] = 'written';

    INSERT INTO booking_seats (booking_id, showtime_id, seat_label, price_cents)
    SELECT p_ids[seat_owner[s]], p_showtime_ids[seat_owner[s]], p_labels[s], p_prices[s]
    FROM generate_subscripts(p_labels, 1) AS s
    WHERE verdicts[seat_owner[s]] = 'written'
    ORDER BY p_showtime_ids[seat_owner[s]], p_labels[s];

    INSERT INTO undecided_claims (booking_id)
    SELECT p_ids[k] FROM generate_subscripts(p_ids, 1) AS k
    WHERE verdicts[k] = 'written' AND p_first_claim_holds[k];

    INSERT INTO op_counter (origin, last) VALUES (p_origin, written)
    ON CONFLICT (origin) DO UPDATE SET last = op_counter.last + written
    RETURNING op_counter.last INTO last_number;
    n := 0;
    FOR i IN 1 .. bookings_in_call LOOP
        IF verdicts[i] = 'written' THEN
            n := n + 1;
            numbers[i] := last_number - written + n;
        END IF;
    END LOOP;
    INSERT INTO booking_ops (origin, number, booking_id)
    SELECT p_origin, numbers[k], p_ids[k] FROM generate_subscripts(p_ids, 1) AS k
    WHERE verdicts[k] = 'written';

    RETURN QUERY SELECT v, string_to_array(NULLIF(t, ''), ','), number
                 FROM unnest(verdicts, taken_lists, numbers) AS decided(v, t, number);
END
$$;

DROP FUNCTION insert_own_booking(UUID, TEXT, TEXT, BIGINT, BIGINT, BIGINT, JSONB, TEXT,
                                 TIMESTAMPTZ, TEXT[], BIGINT[], BIGINT, TEXT, BIGINT, JSONB,
                                 INTEGER, BOOLEAN);
