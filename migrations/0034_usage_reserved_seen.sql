-- Per usage slot: the records that carried a gateway quota reservation, duplicates
-- included. The gateway's reservations still in flight are its reserved total minus the
-- sum of these (contracts/usage.py). `dropped` columns stay for history: the workers no
-- longer drop events past the limit (the gateway reserves before it answers 200).
ALTER TABLE usage_partitions ADD COLUMN reserved_seen bigint NOT NULL DEFAULT 0;
