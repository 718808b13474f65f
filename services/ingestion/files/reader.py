"""Reading a dropped file as a stream: S3 chunks -> text lines -> CSV rows with line numbers.

Nothing holds the whole file: the object is read in chunks of INBOX_READ_CHUNK_BYTES from
one streamed GET, hashed as it passes (sha256 of the exact bytes), decoded incrementally
(a UTF-8 byte-order mark is dropped), and split into lines the csv module parses (quoted
fields with commas, quotes and even line breaks; CRLF or LF). Empty lines are skipped.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from shared.s3 import is_missing_object


@dataclass
class ReadState:
    """What reading saw of the bytes: their checksum, size and how they ended."""

    sha: Any = field(default_factory=hashlib.sha256)
    size: int = 0
    last_byte: bytes = b""

    @property
    def sha256(self) -> str:
        return self.sha.hexdigest()

    @property
    def ends_with_newline(self) -> bool:
        return self.last_byte == b"\n"


def object_chunks(s3, bucket: str, key: str, chunk_bytes: int) -> Iterator[bytes]:
    """The object's bytes in chunks, from one streamed GET."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        yield from body.iter_chunks(chunk_bytes)
    finally:
        body.close()


def hash_object(s3, bucket: str, key: str, chunk_bytes: int) -> ReadState:
    """Checksum and size of an object, streamed."""
    state = ReadState()
    for chunk in object_chunks(s3, bucket, key, chunk_bytes):
        _account(state, chunk)
    return state


def _account(state: ReadState, chunk: bytes) -> None:
    if chunk:
        state.sha.update(chunk)
        state.size += len(chunk)
        state.last_byte = chunk[-1:]


def text_lines(chunks: Iterable[bytes], state: ReadState) -> Iterator[str]:
    """Decoded lines (each with its line end) of a byte stream; bytes that are not UTF-8
    become U+FFFD, so such a line is rejected rather than the file."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    pending = ""
    for chunk in chunks:
        _account(state, chunk)
        text = pending + decoder.decode(chunk)
        lines = text.split("\n")
        pending = lines.pop()
        for line in lines:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-empty CSV record; the number is the record's last
    physical line, counting from 1 (a header is line 1)."""
    reader = csv.reader(lines, strict=False)
    for fields in reader:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        yield reader.line_num, fields


def read_control(s3, bucket: str, key: str) -> dict[str, str] | None:
    """The `key=value` lines of a control file, or None when there is none."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(64 * 1024)
    except Exception as exc:  # noqa: BLE001 - a 404 surfaces as ClientError on some servers
        if is_missing_object(exc):
            return None
        raise
    out = {}
    for line in body.decode("utf-8-sig", errors="replace").splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip().lower()] = v.strip()
    return out
