-- A node's own ops are numbered after they commit, many at a time, by one
-- task (see server/src/store/numbering.rs). Numbering inside each write's
-- transaction held the op_counter row until that transaction's commit had
-- reached the disk, so no two writes of a node could commit together.
--
-- A write now records its op here, in its own transaction; the numbering
-- task moves a batch of them into booking_ops, numbered contiguously in one
-- short transaction. Numbers still have no gaps (a rolled-back write leaves
-- no row here), and an op is counted as applied only once numbered. Rows
-- left here by a node that stopped are numbered when it starts again.
CREATE TABLE pending_ops (
    seq        BIGSERIAL PRIMARY KEY,
    origin     INTEGER NOT NULL,
    booking_id UUID NOT NULL REFERENCES bookings (id)
);
