"""Several stream worker processes in one consumer group on the same topic
(``python -m benchmarks.stream_workers --processes 1,2,3``): per-worker and total ev/s,
and CPU per event, of each count."""

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from benchmarks.worker_support import (
    ROOT,
    applied,
    cpu_seconds,
    load_average,
    new_schema,
    reached,
    worker_environment,
)
from tests.integration.stream_workers.workers import WorkerProcess, applied_total


@dataclass(frozen=True, slots=True)
class GroupRun:
    """``processes`` workers in one group applying the same load into a fresh schema."""

    processes: int
    per_worker: list[float]  # ev/s each applied over the group's window
    total: float  # ev/s the group applied, from the stored offsets
    cpu_us_per_event: float  # every worker's CPU, summed, per event applied
    load: str


async def applied_by(port: int) -> float:
    return await asyncio.to_thread(applied_total, port)


async def snapshot(
    conn: psycopg.AsyncConnection, group: str, workers: list[WorkerProcess]
) -> tuple[int, list[float]]:
    """The group's stored offsets and every worker's applied counter, read while neither
    moves (a worker counts a batch a moment before or after its offsets commit: read in
    between, the batch would count in one and not the other)."""
    while True:
        counts = [await applied_by(w.port) for w in workers]
        offsets = await applied(conn, group)
        await asyncio.sleep(0.05)
        if [await applied_by(w.port) for w in workers] == counts and (
            await applied(conn, group) == offsets
        ):
            return offsets, counts


async def worker_group(
    processes: int, env: dict[str, str], topic: str, total: int, project: str
) -> tuple[GroupRun, str]:
    """Start ``processes`` workers at once in a group of their own; the window runs from
    the moment every one of them has applied a batch (the group has settled: each owns
    partitions) until the whole topic is applied. Returns the run and its schema."""
    schema, database, _ = await new_schema(env, project)
    group = f"bench-{schema}"
    environment = worker_environment(env, database, topic, group, schema)
    with tempfile.TemporaryDirectory() as tmp:
        workers = [
            WorkerProcess(
                {
                    **environment,
                    "RA_WORKER_INSTANCE_ID": f"bench-{n}",
                    "RA_WORKER_DATA_DIR": f"{tmp}/w{n}",
                },
                Path(tmp) / f"worker-{n}.log",
                ROOT,
            )
            for n in range(processes)
        ]
        for worker in workers:
            worker.start()
        try:
            async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
                while min([await applied_by(w.port) for w in workers]) == 0:
                    if await applied(conn, group) >= total:
                        raise SystemExit(
                            f"{processes} workers: the load was applied before every worker"
                            " had a batch; use more --events"
                        )
                    await asyncio.sleep(0.2)
                pids = [w.process.pid for w in workers if w.process is not None]
                load = load_average()
                started, (first, counts) = time.perf_counter(), await snapshot(conn, group, workers)
                cpu = sum(cpu_seconds(pid) for pid in pids)
                await reached(conn, group, total)
                seconds = time.perf_counter() - started
                cpu = sum(cpu_seconds(pid) for pid in pids) - cpu
                done, ends = await snapshot(conn, group, workers)
                counts = [end - c for end, c in zip(ends, counts, strict=True)]
        finally:
            for worker in workers:
                worker.stop()
    run = GroupRun(
        processes=processes,
        per_worker=[c / seconds for c in counts],
        total=(done - first) / seconds,
        cpu_us_per_event=cpu / max(1, done - first) * 1e6,
        load=load,
    )
    return run, schema


def print_group_runs(runs: list[GroupRun], bare: float) -> None:
    one = next((r.total for r in runs if r.processes == 1), None)
    print(
        "processes | per worker ev/s | total ev/s | total/bare | total/one worker"
        " | CPU us/event (all workers) | load average at start"
    )
    for run in runs:
        per = ", ".join(f"{rate:,.0f}" for rate in run.per_worker)
        scale = f"{run.total / one:.2f}" if one else "-"
        print(
            f"{run.processes} | {per} | {run.total:,.0f} | {run.total / bare:.3f} | {scale}"
            f" | {run.cpu_us_per_event:.0f} | {run.load}"
        )
