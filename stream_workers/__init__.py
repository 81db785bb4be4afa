"""The Faust stream workers: usage counts, plan limits, rollups and the raw store, exactly once."""
