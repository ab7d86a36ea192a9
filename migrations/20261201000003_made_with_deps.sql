-- What a booking's first op (its making) depended on. A copy carries the
-- dependencies of its latest op; in causal consistency a replica that
-- cannot take a copy yet (its cancellation depends on more than the
-- replica holds) can still take the booking as it was made, once what its
-- making depended on is there, so causal delivery never waits in a circle.
ALTER TABLE bookings ADD COLUMN made_with_deps JSONB;
UPDATE bookings SET made_with_deps = deps;
ALTER TABLE bookings ALTER COLUMN made_with_deps SET NOT NULL;
