"""Make `.env` from `.env.example`, with a fresh random value for every secret placeholder."""

from __future__ import annotations

import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "changethis"


def write_env(example: Path = ROOT / ".env.example", target: Path = ROOT / ".env") -> bool:
    """Write `target` unless it exists. Returns True when a new file was written."""
    if target.exists():
        return False
    lines = []
    for line in example.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#") and value.strip() == PLACEHOLDER:
            line = f"{key}={secrets.token_urlsafe(24)}"
        lines.append(line)
    target.write_text("\n".join(lines) + "\n")
    target.chmod(0o600)
    return True


if __name__ == "__main__":
    print("wrote .env with fresh secrets" if write_env() else ".env exists; left as it is")
