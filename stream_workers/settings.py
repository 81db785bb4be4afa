"""The stream worker's settings, read from the environment in one place."""

from dataclasses import dataclass

from environs import Env

from common.settings import StoreSettings, environment, kafka_bootstrap, stores
from contracts.lanes import Lane, lane_group, lane_topic
from contracts.shards import DEFAULT_SHARD, shard_group
from contracts.topics import EVENTS_PARTITIONS, Topic


@dataclass(frozen=True, slots=True)
class Settings(StoreSettings):
    """The shared stores' fields (``StoreSettings``), except that ``database_url`` is this
    worker's shard's database (contracts/shards.py); with one shard, the control
    database, which then also holds the projects. Then the worker's own."""

    kafka_bootstrap: str
    events_topic: str = Topic.EVENTS.value
    control_topic: str = Topic.CONTROL.value
    dead_letter_topic: str = Topic.DEAD_LETTER.value
    # The main lane's consumer group; the overflow lane's is this plus "-overflow".
    group_id: str = "stream-workers"
    # Which lane this worker consumes (contracts/lanes.py): the events topic, or the
    # overflow topic (None: the events topic's name plus "-overflow").
    lane: Lane = Lane.MAIN
    overflow_topic: str | None = None
    # Static membership: a copy restarted with the same id takes its partitions back
    # at once instead of after the session timeout. One distinct id per running copy.
    instance_id: str | None = None
    batch_max: int = 100000
    batch_seconds: float = 0.2
    # stream_workers/fastdrain.py's fetch loop and direct delivery; False: faust's own
    # fetch loop and the agent's stream (what runs anyway when faust's code changed).
    fast_drain: bool = True
    # Records Faust may hold per partition queue while a batch is being written: under a
    # backlog the next batch is then ready when the transaction commits.
    stream_buffer_maxsize: int = 20000
    # Bytes aiokafka fetches per partition and request (Faust's default: 1 MiB). aiokafka
    # has one fetch in flight per broker, and none for a partition whose fetched records
    # were not handed on yet, so with 1 MiB the worker waited on Kafka between fetches:
    # 32k -> 38.7k ev/s at 4 MiB (README, Stream workers).
    fetch_bytes: int = 4 * 1024 * 1024
    # Bytes one fetch may bring over all partitions (aiokafka's fetch_max_bytes; its default,
    # 50 MB, is 12 partitions' 4 MiB): a fetch is held three times over while it is read,
    # decoded and unpacked, which made it the worker's biggest use of memory.
    fetch_max_bytes: int = 8 * 1024 * 1024
    session_timeout_seconds: float = 10.0
    host: str = "127.0.0.1"
    port: int = 6066
    usage_resync_seconds: float = 60.0
    lag_refresh_seconds: float = 5.0
    # How often every stored offset is checked against Kafka's topic id and log offsets
    # (a batch that re-delivers or skips offsets is checked before it applies anyway).
    topic_check_seconds: float = 5.0
    topic_partitions: int = EVENTS_PARTITIONS
    # How often the main lane's workers look for person deletions to carry out, and how
    # long one of them holds a request before another may take it over (issue 17).
    erasure_seconds: float = 2.0
    erasure_lease_seconds: float = 60.0
    # How often the main lane's workers run raw retention (stream_workers/retention.py).
    retention_seconds: float = 3600.0
    # How often freed memory is given back to the system (stream_workers/memory.py; 0: never).
    trim_seconds: float = 5.0
    data_dir: str = ".local/stream_workers"  # Faust's own files (memory store: almost none)
    # The shard this worker applies (RA_WORKER_SHARD, one of ``shard_databases``).
    shard: str = DEFAULT_SHARD
    # The geolocation database file (geoip2fast's format; None: the one the package
    # ships): replace the file and restart the workers to refresh it (decision 0017).
    geoip_database: str | None = None

    @property
    def sharded(self) -> bool:
        """Several shards: records of other shards' projects are passed over."""
        return len(self.shard_databases) > 1

    @property
    def control_database_url(self) -> str:
        """The control plane's database, which has the projects (and the default shard)."""
        return self.shard_databases.get(DEFAULT_SHARD, self.database_url)

    @property
    def topic(self) -> str:
        """The topic this worker's lane reads."""
        return lane_topic(self.lane, self.events_topic, self.overflow_topic)

    @property
    def consumer_group(self) -> str:
        """This worker's consumer group (and Faust app id): its shard's and lane's."""
        return lane_group(shard_group(self.group_id, self.shard), self.lane)

    def lanes(self) -> list[tuple[str, str]]:
        """(consumer group, topic) of every lane, main first: what the lag view shows."""
        return [
            (
                lane_group(shard_group(self.group_id, self.shard), lane),
                lane_topic(lane, self.events_topic, self.overflow_topic),
            )
            for lane in Lane
        ]


def load_settings(env: Env | None = None) -> Settings:
    env = environment(env)
    shared = stores(env)
    shard = env.str("RA_WORKER_SHARD", DEFAULT_SHARD)
    if shard not in shared["shard_databases"]:
        raise ValueError(f"RA_WORKER_SHARD: no shard {shard!r} in RA_SHARD_DATABASES")
    shared["database_url"] = shared["shard_databases"][shard]
    return Settings(
        **shared,
        kafka_bootstrap=kafka_bootstrap(env),
        events_topic=env.str("RA_EVENTS_TOPIC", Topic.EVENTS.value),
        control_topic=env.str("RA_CONTROL_TOPIC", Topic.CONTROL.value),
        dead_letter_topic=env.str("RA_WORKER_DEAD_LETTER_TOPIC", Topic.DEAD_LETTER.value),
        group_id=env.str("RA_WORKER_GROUP", "stream-workers"),
        lane=env.enum("RA_WORKER_LANE", Lane.MAIN, enum=Lane, by_value=True),
        overflow_topic=env.str("RA_OVERFLOW_TOPIC", None),
        instance_id=env.str("RA_WORKER_INSTANCE_ID", None),
        batch_max=env.int("RA_WORKER_BATCH_MAX", 100000),
        batch_seconds=env.float("RA_WORKER_BATCH_SECONDS", 0.2),
        fast_drain=env.bool("RA_WORKER_FAST_DRAIN", True),
        stream_buffer_maxsize=env.int("RA_WORKER_STREAM_BUFFER", 20000),
        fetch_bytes=env.int("RA_WORKER_FETCH_BYTES", 4 * 1024 * 1024),
        fetch_max_bytes=env.int("RA_WORKER_FETCH_MAX_BYTES", 8 * 1024 * 1024),
        session_timeout_seconds=env.float("RA_WORKER_SESSION_TIMEOUT_SECONDS", 10.0),
        host=env.str("RA_WORKER_HOST", "127.0.0.1"),
        port=env.int("RA_WORKER_PORT", 6066),
        usage_resync_seconds=env.float("RA_WORKER_USAGE_RESYNC_SECONDS", 60.0),
        lag_refresh_seconds=env.float("RA_WORKER_LAG_REFRESH_SECONDS", 5.0),
        topic_check_seconds=env.float("RA_WORKER_TOPIC_CHECK_SECONDS", 5.0),
        erasure_seconds=env.float("RA_WORKER_ERASURE_SECONDS", 2.0),
        erasure_lease_seconds=env.float("RA_WORKER_ERASURE_LEASE_SECONDS", 60.0),
        retention_seconds=env.float("RA_WORKER_RETENTION_SECONDS", 3600.0),
        trim_seconds=env.float("RA_WORKER_TRIM_SECONDS", 5.0),
        data_dir=env.str("RA_WORKER_DATA_DIR", ".local/stream_workers"),
        geoip_database=env.str("RA_GEOIP_DATABASE", None),
        shard=shard,
    )
