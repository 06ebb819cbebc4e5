"""Reading bill sources line by line: paths, bytes or binary files, any size.

Lines are decoded one at a time (never the whole file) so a 1 GB bill streams in
constant memory and a decoding error names its physical line. The same pass feeds a
sha256 so the importer learns the file's fingerprint without reading it twice.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from engines.match.errors import BillFormatError

BillSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO
UTF8_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20


@contextmanager
def open_binary(source: BillSource) -> Iterator[BinaryIO]:
    """Yield a binary stream for a path, a bytes object or an already open binary file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as stream:
            yield stream
    elif hasattr(source, "read"):
        if isinstance(source, io.TextIOBase):
            raise BillFormatError("bill files must be opened in binary mode ('rb')")
        yield source
    else:
        raise BillFormatError(f"cannot read a bill from {type(source).__name__}")


def file_fingerprint(source: BillSource) -> str:
    """sha256 hex digest of the file's bytes, to spot the same bill imported twice."""
    digest = hashlib.sha256()
    with open_binary(source) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_head(source: BillSource, size: int = 8192) -> bytes:
    """The first bytes of a source; file objects are rewound so they can be read again."""
    with open_binary(source) as stream:
        start = stream.tell() if stream.seekable() else None
        head = stream.read(size)
        if start is not None:
            stream.seek(start)
        elif not isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
            raise BillFormatError("cannot detect the format of a non-seekable stream")
    return head


def decoded_lines(
    stream: BinaryIO, encoding: str, channel: str, digest: hashlib._Hash
) -> Iterator[tuple[int, str]]:
    """Yield (line number, text without line ending) for every physical line.

    A UTF-8 BOM on the first line is dropped. For GBK bills, a first non-ASCII line
    that is valid UTF-8 means the file was re-saved as UTF-8: refuse it clearly rather
    than yield mojibake that might still parse.
    """
    checked_encoding = encoding != "gbk"
    for line_no, raw in enumerate(stream, 1):
        digest.update(raw)
        if line_no == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
        if not checked_encoding and not raw.isascii():
            checked_encoding = True
            if _is_utf8(raw):
                raise BillFormatError(
                    f"file is UTF-8 encoded, but {channel} bills are {encoding.upper()}",
                    channel=channel,
                    line=line_no,
                )
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise BillFormatError(
                f"not valid {encoding.upper()} text at byte {exc.start}"
                + (" (is the file GBK?)" if encoding == "utf-8" else ""),
                channel=channel,
                line=line_no,
            ) from None
        yield line_no, text.rstrip("\r\n")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
