-- A booking that loses its seats hands its losers on to the booking that
-- won (server/src/store/replicas.rs, repoint_losers): found by this index.
CREATE INDEX bookings_by_lost_to ON bookings (lost_to) WHERE lost_to IS NOT NULL;
