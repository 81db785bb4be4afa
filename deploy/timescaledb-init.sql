-- Runs once, when the timescaledb container initialises an empty data directory
-- (mounted into /docker-entrypoint-initdb.d/ by compose.yaml), as POSTGRES_USER in
-- POSTGRES_DB. The migrations pick the *.timescale.sql variants only when the extension
-- is installed, so it must exist before `python -m migrations` runs.
CREATE EXTENSION IF NOT EXISTS timescaledb;
