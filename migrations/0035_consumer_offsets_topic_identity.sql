-- Which topic the stored offsets belong to, and whether they still match it (issue 16).
-- A topic deleted and created again (Kafka's data wiped, a cluster replaced) starts at
-- offset 0 under the same name: without its id the workers took the new records for ones
-- already applied. The workers record Kafka's topic id and the partition's log start
-- offset with the offsets; a partition whose stored offsets contradict Kafka is marked
-- here and held (nothing applied, nothing skipped) until an operator recovers it
-- (docs/operations.md, "Kafka was reset").
ALTER TABLE consumer_offsets
    ADD COLUMN topic_id uuid,                  -- Kafka's id of the topic (NULL: not seen yet)
    ADD COLUMN log_start bigint,               -- the partition's log start offset, last seen
    ADD COLUMN inconsistent text,              -- why it is held (contracts/lag.py); NULL: it is not
    ADD COLUMN kafka_offset bigint,            -- the Kafka offset that contradicted next_offset
    ADD COLUMN inconsistent_since timestamptz;
