"""The unique-count sketches' parameters, one pair for every process that makes them.

The stream workers add hashes into the rollups' HyperLogLog sketches and the query API
unions those with sketches it builds from raw events; postgresql-hll refuses to union
sketches of different parameters, so both read them here. The rollup columns were
created with the same pair, ``public.hll(17, 5)``, by ``migrations/0003_rollups.sql``
(a forward-only migration, so the literal stays there; a unit test holds the two equal).
Why 17 and 5: ``docs/decisions/0003-hll-17-5-sketches.md``.
"""

HLL_LOG2M = 17  # 2^17 registers: exact below ~10k distinct values, ~0.5 % error above
HLL_REGWIDTH = 5  # bits a register

# The two as an SQL argument list, for ``hll_add_agg(hash, {HLL_PARAMETERS})``.
HLL_PARAMETERS = f"{HLL_LOG2M}, {HLL_REGWIDTH}"
