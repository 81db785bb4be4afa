"""One ingest request from body to acknowledged append: auth, rate limit, validation, quota.

Ordered so the cheap refusals come first and nothing is appended unless every check
passed, including the project's deployed config (allowed origins, strict tracking plan);
then one Redis round trip admits the request (``ingest_gateway.admission``): its key's
rate limit, its project's monthly quota (reserved, given back if the append fails) and
its lane (``ingest_gateway.lanes``). A request refused before admission still counts
against its key's rate limit.
Redis problems fail open (counted and logged: events appended without a reservation are
counted by the workers as usage past the limit if it comes to that, never dropped); Kafka
and PostgreSQL problems fail closed with 503 — an event is never answered 200 unless Kafka
acknowledged it.
"""

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import psycopg
from multidict import CIMultiDictProxy
from redis.exceptions import RedisError

from common.client_address import UNKNOWN, IpNetwork, client_address, forwarded_chain
from contracts.lanes import Lane
from ingest_gateway.admission import Admission, Admitter, UsageUnknown
from ingest_gateway.dropin.wire import Translated, mark_sessionless
from ingest_gateway.errors import (
    EventLimitExceeded,
    IngestError,
    InvalidApiKey,
    OriginNotAllowed,
    RateLimited,
    ServiceUnavailable,
    ValidationFailed,
    valid_text,
)
from ingest_gateway.metrics import Metrics
from ingest_gateway.producer import AppendFailed, EventAppender
from ingest_gateway.projects import Project, ProjectDirectory
from ingest_gateway.quota import QuotaReserver
from ingest_gateway.ratelimit import RateDecision, RateLimiter, RefusedKeys
from ingest_gateway.records import build_records
from ingest_gateway.rules import ProjectRules, plan_violations
from ingest_gateway.usage_rebuild import UnknownShard, UsageRebuilder
from ingest_gateway.validation import Payload, body_error, parse_payload, validate_events

logger = logging.getLogger(__name__)

T = TypeVar("T")
_CONTEXT_MAX = 512


@dataclass(frozen=True, slots=True)
class Accepted:
    count: int
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class RequestContext:
    header_key: str | None
    user_agent: str | None
    origin: str | None
    ip: str | None = None  # the client's (common.client_address); the workers drop it
    request_id: str | None = None  # common.request_ids: a Kafka header on each record

    def as_record_context(self) -> dict[str, str]:
        context = {"userAgent": self.user_agent, "origin": self.origin, "ip": self.ip}
        return {k: v[:_CONTEXT_MAX] for k, v in context.items() if v}


def request_context(
    headers: CIMultiDictProxy[str] | Mapping[str, str],
    peer: str | None = None,
    proxies: Sequence[IpNetwork] = (),
    request_id: str | None = None,
) -> RequestContext:
    """The headers the gateway reads, and the client's address (the peer's, or the one a
    trusted proxy forwarded). A key that is not valid UTF-8 is refused; the others are only
    recorded, so their undecodable bytes become U+FFFD."""
    key = headers.get("X-API-Key")
    if key is not None and valid_text(key) != key:
        raise body_error("Header is not valid UTF-8.", field="X-API-Key", reason="bad_header")
    user_agent, origin = headers.get("User-Agent"), headers.get("Origin")
    return RequestContext(
        header_key=key,
        user_agent=None if user_agent is None else valid_text(user_agent),
        origin=None if origin is None else valid_text(origin),
        ip=_client(headers, peer, proxies),
        request_id=request_id,
    )


def _client(
    headers: CIMultiDictProxy[str] | Mapping[str, str],
    peer: str | None,
    proxies: Sequence[IpNetwork],
) -> str | None:
    """The peer's address, or the client a trusted proxy forwarded (every
    ``X-Forwarded-For`` line, in order); None without one (a socket with no address)."""
    if isinstance(headers, CIMultiDictProxy):
        lines = headers.getall("X-Forwarded-For", [])
    else:
        line = headers.get("X-Forwarded-For")
        lines = [] if line is None else [line]
    address = client_address(peer, forwarded_chain(lines), proxies)
    return None if address == UNKNOWN else address


class Ingestor:
    def __init__(
        self,
        projects: ProjectDirectory,
        admitter: Admitter,
        limiter: RateLimiter,
        quota: QuotaReserver,
        appender: EventAppender,
        metrics: Metrics,
        rules: ProjectRules,
        usage: UsageRebuilder,
        redis_timeout: float,
        retry_after_unavailable: int,
        rate_limit_override: int | None = None,
        topics: Mapping[Lane, str] | None = None,
    ) -> None:
        self._projects = projects
        self._admitter = admitter  # rate, quota and lane in one round trip
        self._limiter = limiter  # the rate alone, for requests refused before admission
        self._refused = RefusedKeys()
        self._quota = quota  # gives a failed append's reservation back
        self._appender = appender
        self._metrics = metrics
        self._rules = rules
        self._usage = usage  # the quota's usage state, rebuilt when Redis lost it
        self._redis_timeout = redis_timeout
        self._retry_after = retry_after_unavailable
        self._rate_limit_override = rate_limit_override
        self._topics = dict(topics or {})

    async def ingest(self, body: bytes, request: RequestContext) -> Accepted:
        # With the key in a header, a key this process saw refused by the rate limit is
        # refused before its body is even parsed; the Beacon envelope carries its key
        # inside the body.
        payload = None if request.header_key else parse_payload(body)
        api_key = request.header_key or (payload.api_key if payload else None)
        project = await self._authenticate(api_key)
        try:
            return await self._ingest_for(project, str(api_key), body, payload, request)
        except IngestError as exc:
            exc.project = project.slug  # the refusal is counted against its project
            raise

    async def ingest_translated(self, translated: Translated, request: RequestContext) -> Accepted:
        """A drop-in format's request (``ingest_gateway.dropin``): the same path as ``POST /``
        once its events without a session id ask the workers to derive one."""
        project = await self._authenticate(translated.api_key)
        if not translated.request_address:
            request = dataclasses.replace(request, ip=None)
        try:
            mark_sessionless(translated.events)
            payload = Payload(
                translated.api_key,
                translated.events,
                translated.may_hold_nul,
                translated.max_events,
            )
            return await self._ingest_for(
                project, str(translated.api_key), b"", payload, request, translated.contexts
            )
        except IngestError as exc:
            exc.project = project.slug
            raise

    async def _ingest_for(
        self,
        project: Project,
        api_key: str,
        body: bytes,
        payload: Payload | None,
        request: RequestContext,
        own_contexts: list[dict[str, str]] | None = None,
    ) -> Accepted:
        key_id = hashlib.sha256(api_key.encode()).hexdigest()[:32]
        standing = self._refused.refused(key_id, time.monotonic())
        if standing is not None:
            self._rate_limited(key_id, standing)
        try:
            events = self._checked_events(project, body, payload, request)
        except IngestError:
            await self._rate_check(key_id, project)  # a refused request counts too
            raise
        now = datetime.now(UTC)
        admission = await self._admit(key_id, project, len(events), now)
        reservation = admission.reservation if admission else None
        context = request.as_record_context()
        messages = build_records(
            project.id,
            events,
            now,
            context,
            quota_reserved=reservation is not None,
            own_contexts=own_contexts,
        )
        lane = admission.lane.lane if admission else Lane.MAIN
        started = time.perf_counter()
        try:
            await self._appender.append(messages, self._topics.get(lane), request.request_id)
        except AppendFailed as exc:
            logger.warning("append failed for project %s: %s", project.id, exc)
            if reservation is not None:
                await self._fail_open("quota_release", self._quota.release(reservation))
            raise ServiceUnavailable(self._retry_after) from exc
        if reservation is None:
            self._metrics.unreserved_events.labels(project.slug).inc(len(messages))
        self._metrics.append_seconds.observe(time.perf_counter() - started)
        self._metrics.events_accepted.inc(len(messages))
        if lane is Lane.OVERFLOW:
            self._metrics.overflow_events.labels(project.slug).inc(len(messages))
        return Accepted(count=len(messages), headers=admission.rate.headers() if admission else {})

    def _checked_events(
        self, project: Project, body: bytes, payload: Payload | None, request: RequestContext
    ) -> list[dict[str, Any]]:
        """The request's events, or the refusal of its body, origin or tracking plan."""
        if payload is None:
            payload = parse_payload(body)
        rules = self._rules.get(project.id)
        if rules is not None and not rules.origin_allowed(request.origin):
            raise OriginNotAllowed()
        events = validate_events(payload.events, payload.may_hold_nul, payload.max_events)
        if rules is not None and (violations := plan_violations(events, rules)).total:
            raise ValidationFailed(violations.details, violations.total, reason="tracking_plan")
        return events

    async def _authenticate(self, api_key: str | None) -> Project:
        if not api_key:
            raise InvalidApiKey()
        try:
            project = await self._projects.by_public_key(api_key)
        except (psycopg.Error, OSError) as exc:
            logger.warning("project look-up failed: %s", type(exc).__name__)
            raise ServiceUnavailable(self._retry_after) from exc
        if project is None:
            raise InvalidApiKey()
        return project

    async def _admit(
        self, key_id: str, project: Project, events: int, now: datetime
    ) -> Admission | None:
        """Rate, quota and lane in one round trip; None when Redis could not be asked
        (fail open: unlimited, unreserved, main lane)."""
        admission = await self._admission(key_id, project, events, now)
        if admission is None:
            return None
        if not admission.rate.allowed:
            self._rate_limited(key_id, admission.rate)
        reservation = admission.reservation
        if reservation is not None and not reservation.granted:
            self._metrics.quota_refused.inc()
            usage = reservation.usage
            raise EventLimitExceeded(usage.limit, usage.used, usage.remaining)
        if admission.lane.entered:
            logger.info("project %s is over the overflow threshold: overflow lane", project.id)
        return admission

    async def _admission(
        self, key_id: str, project: Project, events: int, now: datetime
    ) -> Admission | None:
        """The admission script's answer; when Redis had lost the project-month's usage,
        after rebuilding it from PostgreSQL (failing open if that is not possible)."""
        for attempt in range(2):
            try:
                return await self._fail_open(
                    "admission",
                    self._admitter.admit(
                        key_id,
                        self._rate_limit_override or project.rate_limit,
                        project.id,
                        events,
                        project.monthly_event_limit,
                        now,
                    ),
                )
            except UsageUnknown:
                if attempt == 1:
                    break
            try:
                await self._usage.rebuild(
                    project.id, project.monthly_event_limit, now, project.shard
                )
            except (psycopg.Error, RedisError, OSError, TimeoutError, UnknownShard) as exc:
                self._metrics.redis_failures.labels("usage_rebuild").inc()
                logger.warning("usage rebuild failed (%s): failing open", type(exc).__name__)
                return None
        logger.warning("usage of project %s unknown after a rebuild: failing open", project.id)
        return None

    async def _rate_check(self, key_id: str, project: Project) -> None:
        """Count a request refused before admission; over the limit, it is a 429."""
        limit = self._rate_limit_override or project.rate_limit
        decision = await self._fail_open("rate_limit", self._limiter.hit(key_id, limit))
        if decision is not None and not decision.allowed:
            self._rate_limited(key_id, decision)

    def _rate_limited(self, key_id: str, decision: RateDecision) -> NoReturn:
        self._refused.remember(key_id, decision, time.monotonic())
        self._metrics.rate_limited.inc()
        raise RateLimited(decision.headers())

    async def _fail_open(self, operation: str, call: Awaitable[T]) -> T | None:
        try:
            async with asyncio.timeout(self._redis_timeout):
                return await call
        except (RedisError, OSError, TimeoutError) as exc:
            self._metrics.redis_failures.labels(operation).inc()
            logger.warning("redis %s failed (%s): failing open", operation, type(exc).__name__)
            return None
