-- The epoch of the leader whose decision set each booking's status (0 where
-- no leader decided). Replicas keep the latest decision: a booking confirmed
-- by a new leader overrides the "lost" a deposed one wrote for it, and a
-- booking confirmed in a later epoch keeps a contested seat.
ALTER TABLE bookings ADD COLUMN status_epoch BIGINT NOT NULL DEFAULT 0;
