-- Which database a project's events, rollups, usage and offsets live in (issue 16,
-- docs/decisions/0014): a shard named in RA_SHARD_DATABASES. Every project made before
-- shards, and every project of a deployment with one database, is on 'default'.
ALTER TABLE projects ADD COLUMN shard text NOT NULL DEFAULT 'default';
