-- A seat has exactly one spelling, its auditorium's label: a row letter and
-- a seat number with no sign and no leading zero. The service only ever
-- writes such labels; this is the last line of defence, so that the unique
-- index on (showtime, seat) can never see one seat as two. NOT VALID: rows
-- written before it are left as they are.
ALTER TABLE booking_seats
    ADD CONSTRAINT seat_label_is_canonical
    CHECK (seat_label ~ '^[A-Z][1-9][0-9]{0,4}$') NOT VALID;
