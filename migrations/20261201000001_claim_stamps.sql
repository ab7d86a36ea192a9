-- A booking ranks among the claims on its seats by the stamp it was made
-- with, for good: the epoch it was made in, its Lamport time, its node and
-- its id. A cancellation or loss decided in a later epoch moves its
-- status_epoch on, never its place among the claims.
ALTER TABLE bookings ADD COLUMN made_in_epoch BIGINT;
UPDATE bookings SET made_in_epoch = status_epoch;
ALTER TABLE bookings ALTER COLUMN made_in_epoch SET NOT NULL;

-- Settling a seat reads every booking that ever claimed it, held or not.
CREATE INDEX booking_seats_claims ON booking_seats (showtime_id, seat_label);

-- A loser now names the claim that first beat it, computed when its seats
-- are settled; losers are no longer handed on along lost_to.
DROP INDEX bookings_by_lost_to;
