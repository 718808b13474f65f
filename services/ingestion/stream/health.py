"""The stream consumer's container healthcheck: healthy while its loop beats.

The consumer touches STREAM_HEARTBEAT_FILE after every loop (a fetch returns at least every
STREAM_BATCH_MAX_WAIT_SECONDS, so a live loop touches it several times a second).

    python -m services.ingestion.stream.health --max-age 60
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from services.ingestion.settings import StreamOptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-age", type=float, default=60.0)
    args = parser.parse_args(argv)
    path = Path(StreamOptions().heartbeat_file)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        sys.stderr.write(f"{path} does not exist: the consumer never looped\n")
        return 1
    if age > args.max_age:
        sys.stderr.write(f"the consumer's last loop was {age:.0f}s ago\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
