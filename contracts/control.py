"""Messages on the ``control`` topic (compacted, keyed by project id): config deploys.

One JSON object per record; the control plane produces, gateways and stream workers
consume. The record key is the project id (UTF-8), so compaction keeps each project's
latest deploy forever::

    {"type": "config_deployed", "projectId": "<uuid>", "version": 3,
     "config": {"breakdownKeys": ["plan", "$pathname"], ...the rest of the compiled config}}

``version`` grows by one per deploy of a project; consumers ignore a version not newer
than the one they hold. Unknown ``type`` values are skipped by consumers (room to grow).
"""

from dataclasses import dataclass, field
from typing import Any

import orjson

CONFIG_DEPLOYED = "config_deployed"


class ControlError(ValueError):
    """A control record that is not a well-formed message."""


@dataclass(frozen=True, slots=True)
class ConfigDeployed:
    project_id: str
    version: int
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def breakdown_keys(self) -> tuple[str, ...]:
        keys = self.config.get("breakdownKeys") or []
        return tuple(k for k in keys if isinstance(k, str) and k)


def control_key(project_id: str) -> bytes:
    return project_id.encode()


def encode_control(message: ConfigDeployed) -> bytes:
    return orjson.dumps(
        {
            "type": CONFIG_DEPLOYED,
            "projectId": message.project_id,
            "version": message.version,
            "config": message.config,
        }
    )


def decode_control(raw: bytes) -> ConfigDeployed | None:
    """The message, or None for a type this version does not know; ControlError if broken."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ControlError("not JSON") from exc
    if not isinstance(payload, dict):
        raise ControlError("not a JSON object")
    if payload.get("type") != CONFIG_DEPLOYED:
        return None
    project_id, version, config = (payload.get(k) for k in ("projectId", "version", "config"))
    if not isinstance(project_id, str) or not project_id:
        raise ControlError("projectId must be a non-empty string")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ControlError("version must be an integer")
    if not isinstance(config, dict):
        raise ControlError("config must be an object")
    return ConfigDeployed(project_id, version, config)
