"""Expected retention, lifecycle and paths answers, by brute force in plain Python over the
generated events: persons through an alias map, periods by flooring each event's wall time
in the zone (``truth.local_floor``), independently of the query API's SQL and buckets."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.events import EventRecord
from tests.integration.query_api.truth import local_floor


def person(record: EventRecord, aliases: Mapping[str, str]) -> str:
    return aliases.get(record.distinct_id, record.distinct_id)


def is_bot(record: EventRecord) -> bool:
    return record.properties.get("$bot") is True


def kept(records: Sequence[EventRecord], include_bots: bool) -> list[EventRecord]:
    return [r for r in records if include_bots or not is_bot(r)]


def period_labels(start: datetime, end: datetime, interval: str, zone: ZoneInfo) -> list[datetime]:
    """Every period holding a minute of ``[start, end)``, as the local floor of that minute."""
    labels: list[datetime] = []
    point = start
    while point < end:
        label = local_floor(point, interval, zone)
        if not labels or labels[-1] != label:
            labels.append(label)
        point += timedelta(minutes=1)
    return labels


def retention(
    records: Sequence[EventRecord],
    aliases: Mapping[str, str],
    start_event: str,
    return_event: str,
    start: datetime,
    end: datetime,
    interval: str,
    timezone: str,
    include_bots: bool = False,
) -> list[dict[str, Any]]:
    zone = ZoneInfo(timezone)
    labels = period_labels(start, end, interval, zone)
    index = {label: i for i, label in enumerate(labels)}
    firsts: dict[str, datetime] = {}
    returns: dict[str, set[int]] = defaultdict(set)
    for r in kept(records, include_bots):
        if not start <= r.timestamp < end:
            continue
        p = person(r, aliases)
        if r.event == start_event and (p not in firsts or r.timestamp < firsts[p]):
            firsts[p] = r.timestamp
        if r.event == return_event:
            returns[p].add(index[local_floor(r.timestamp, interval, zone)])
    rows = []
    for c, label in enumerate(labels):
        cohort = [p for p, t in firsts.items() if index[local_floor(t, interval, zone)] == c]
        returned = [
            sum(1 for p in cohort if c + k + 1 in returns[p]) for k in range(len(labels) - c - 1)
        ]
        rows.append(
            {"start": label.astimezone(zone).isoformat(), "size": len(cohort), "returned": returned}
        )
    return rows


def lifecycle(
    records: Sequence[EventRecord],
    aliases: Mapping[str, str],
    event: str,
    start: datetime,
    end: datetime,
    interval: str,
    timezone: str,
    include_bots: bool = False,
) -> list[dict[str, Any]]:
    zone = ZoneInfo(timezone)
    labels = period_labels(start, end, interval, zone)
    before = local_floor(labels[0] - timedelta(milliseconds=1), interval, zone)
    index = {label: i for i, label in enumerate(labels)}
    active: dict[int, set[str]] = defaultdict(set)  # -1: from ``before`` to ``start``
    first: dict[str, datetime] = {}
    for r in kept(records, include_bots):
        if r.event != event or r.timestamp >= end:
            continue
        p = person(r, aliases)
        first[p] = min(first.get(p, r.timestamp), r.timestamp)
        if r.timestamp >= start:
            active[index[local_floor(r.timestamp, interval, zone)]].add(p)
        elif r.timestamp >= before:
            active[-1].add(p)
    rows = []
    for i, label in enumerate(labels):
        now, then = active[i], active[i - 1]
        new = {
            p
            for p in now
            if first[p] >= start and index[local_floor(first[p], interval, zone)] == i
        }
        rows.append(
            {
                "t": label.astimezone(zone).isoformat(),
                "new": len(new),
                "returning": len((now - new) & then),
                "resurrecting": len(now - new - then),
                "dormant": len(then - now),
            }
        )
    return rows


def paths(
    records: Sequence[EventRecord],
    aliases: Mapping[str, str],
    start_event: str,
    direction: str,
    steps: int,
    limit: int,
    start: datetime,
    end: datetime,
    include_bots: bool = False,
) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """(nodes as (step, event or None, persons), links as (from node, to node, persons)),
    by following each person's own sorted sequence."""
    sequences: dict[str, list[EventRecord]] = defaultdict(list)
    for r in kept(records, include_bots):
        if start <= r.timestamp < end:
            sequences[person(r, aliases)].append(r)
    walks = []
    for rows in sequences.values():
        names = [r.event for r in sorted(rows, key=lambda r: (r.timestamp, r.event))]
        if start_event not in names:
            continue
        s = names.index(start_event)
        after = names[s + 1 : s + 1 + steps] if direction == "next" else names[:s][::-1][:steps]
        walks.append([start_event, *after])
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for walk in walks:
        for k, name in enumerate(walk):
            counts[k][name] += 1
    top = {
        k: {n for n, _ in sorted(c.items(), key=lambda i: (-i[1], i[0]))[:limit]}
        for k, c in counts.items()
    }

    def node(k: int, name: str) -> tuple[int, str | None]:
        return (k, name if k == 0 or name in top[k] else None)

    persons: dict[tuple[int, str | None], int] = defaultdict(int)
    flows: dict[tuple[Any, Any], int] = defaultdict(int)
    for walk in walks:
        for k, name in enumerate(walk):
            persons[node(k, name)] += 1
            if k:
                flows[(node(k - 1, walk[k - 1]), node(k, name))] += 1
    return (
        {(*v, n) for v, n in persons.items()},
        {(a, b, n) for (a, b), n in flows.items()},
    )


def answered_paths(answer: dict[str, Any]) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The answer's nodes and links in ``paths``' index-free form."""
    nodes = answer["nodes"]
    keys = [(n["step"], n["event"]) for n in nodes]
    return (
        {(n["step"], n["event"], n["persons"]) for n in nodes},
        {(keys[link["source"]], keys[link["target"]], link["persons"]) for link in answer["links"]},
    )
