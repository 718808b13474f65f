"""services/transformation/staging.py: reading silver objects in bounded memory."""

from __future__ import annotations

import gzip
import os

from services.transformation.staging import inflate_chunks, split_lines


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_inflated_pieces_never_exceed_the_bound_and_lose_nothing():
    # JSON lines compress about tenfold; one read chunk must not inflate all at once.
    lines = [b'{"order_id": "%d", "note": "%s"}' % (i, b"x" * (i % 50)) for i in range(50_000)]
    raw = b"\n".join(lines) + b"\n"
    packed = gzip.compress(raw, 1)
    assert len(raw) > 8 * len(packed)

    pieces = list(inflate_chunks(chunked(packed, 64 * 1024), 64 * 1024))

    assert max(len(p) for p in pieces) <= 64 * 1024
    assert b"".join(pieces) == raw
    assert list(split_lines(pieces)) == lines


def test_every_member_of_a_multi_member_object_is_read():
    # Ingestion appends one gzip member per flush; a member may end mid-chunk.
    members = [gzip.compress(b"a%d\nb%d\n" % (i, i)) for i in range(3)]
    noise = gzip.compress(os.urandom(3000))   # incompressible: spans several chunks
    packed = b"".join(members) + noise + gzip.compress(b"last")

    data = b"".join(inflate_chunks(chunked(packed, 7), 5))

    assert data.startswith(b"a0\nb0\na1\nb1\na2\nb2\n")
    assert data.endswith(b"last") and len(data) == 18 + 3000 + 4


def test_a_last_line_without_newline_is_kept_and_blank_tails_are_not():
    assert list(split_lines([b"x\ny", b"z"])) == [b"x", b"yz"]
    assert list(split_lines([b"x\n", b"  "])) == [b"x"]
