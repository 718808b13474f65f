"""Settings of the transformation service's processes: the worker and the replay API.

    TransformationWorkerSettings  loads partitions: warehouse, queue, steps, S3, TRANSFORMATION_*
    TransformationApiSettings     the replay API: the same, and the bearer token
    ReplaySettings                what starting and following a replay needs (also `retail`)
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from shared.settings import ApiTokenSettings, PipelineSettings, S3Settings, current, env_config


class ReplayOptions(BaseSettings):
    """How long a replay is followed (`retail replay`, `replay(..., wait=True)`)."""

    model_config = env_config("TRANSFORMATION_")
    replay_wait_seconds: float = Field(3600.0, gt=0)


class TransformationSettings(ReplayOptions):
    """How a partition is loaded (TRANSFORMATION_*)."""

    host: str = "127.0.0.1"
    port: int = 8002
    worker_concurrency: int = 2
    # Session settings of a load: sorts and hashes of a million staged lines stay in memory;
    # temp_buffers only takes effect before the session's first temporary table.
    work_mem: str = "256MB"
    temp_buffers: str = "256MB"
    # Bytes read from S3 per request, and the most of a rejected object inflated at once.
    copy_chunk_bytes: int = Field(1024 * 1024, ge=64 * 1024)
    # Check each object's size and sha256 against the manifest before loading it.
    verify_checksums: bool = True


class ReplaySettings(PipelineSettings):
    """What starting and following a replay needs (`replay.py`), whichever process does it:
    the replay API, the worker's `transformation.replay_date` task, or `retail replay`."""

    model_config = env_config()
    transformation: ReplayOptions = Field(default_factory=ReplayOptions)


class TransformationWorkerSettings(ReplaySettings, S3Settings):
    """The transformation worker (`celery -A services.transformation.tasks worker`)."""

    model_config = env_config()
    transformation: TransformationSettings = Field(default_factory=TransformationSettings)


class TransformationApiSettings(TransformationWorkerSettings, ApiTokenSettings):
    """The replay API (`uvicorn services.transformation.api:create_app --factory`)."""

    model_config = env_config()


def get_replay_settings() -> ReplaySettings:
    """What `replay.py` needs, from whichever process runs it."""
    return current(ReplaySettings)


def get_settings() -> TransformationWorkerSettings:
    """The transformation settings of this process (the worker's, or the API's superset)."""
    return current(TransformationWorkerSettings)
