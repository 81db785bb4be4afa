"""The query API: ``POST /api/query`` answered from the rollups, or the raw store."""
