"""Reading and writing CSV/XLSX files as streams of rows, in constant memory.

CSV: UTF-8 (with or without BOM) or GBK/GB18030, which Chinese Excel and bank systems
emit. The encoding is decided by one pass over the bytes (an incremental decoder; nothing
is kept) before any row is read, so a file that turns out not to be text fails before
anything is imported rather than halfway through. XLSX: openpyxl in read-only mode, which
streams the sheet XML instead of building the workbook in memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree import ElementTree

from engines.form.io import FileFormatError

CHUNK = 1 << 16
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls
TEXT_CONTROLS = frozenset(range(0, 32)) - {9, 10, 12, 13}
CSV_DELIMITERS = ",\t;|"
ENCODING_NAMES = {"utf-8-sig": "UTF-8 (BOM)", "utf-8": "UTF-8", "gb18030": "GBK"}


def file_kind(head: bytes, filename: str) -> str:
    """'csv' or 'xlsx' from the first bytes, checked against what the name claims."""
    name = filename.lower()
    claims = "xlsx" if name.endswith((".xlsx", ".xlsm")) else \
        "csv" if name.endswith((".csv", ".txt", ".tsv")) else None
    if head.startswith(OLE_MAGIC):
        raise FileFormatError("this is an old binary Excel file (.xls); save it as .xlsx or "
                              "CSV and upload it again")
    actual = "xlsx" if head.startswith(ZIP_MAGIC) else "csv"
    if claims == "xlsx" and actual != "xlsx":
        raise FileFormatError(f"{filename!r} is named .xlsx but is not an Excel workbook")
    if claims == "csv" and actual == "xlsx":
        raise FileFormatError(f"{filename!r} is named .csv but is a zip/Excel file; "
                              "name it .xlsx")
    if claims is None and actual == "csv" and name:
        raise FileFormatError(f"{filename!r}: upload a .csv or .xlsx file")
    return actual


def detect_encoding(stream: BinaryIO) -> str:
    """The codec name to read this CSV with: 'utf-8-sig', 'utf-8' or 'gb18030' (a superset
    of GBK). Raises FileFormatError for binary data or text in neither encoding. Reads the
    whole stream once, chunk by chunk, and rewinds it."""
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileFormatError("the file is UTF-16 text; save it as UTF-8 or GBK CSV")
    candidates = ["utf-8-sig"] if head.startswith(codecs.BOM_UTF8) else ["utf-8", "gb18030"]
    for encoding in candidates:
        if _decodes(stream, encoding):
            return encoding
    raise FileFormatError("the file is neither UTF-8 nor GBK text (is it really a CSV?)")


def _decodes(stream: BinaryIO, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    stream.seek(0)
    try:
        while chunk := stream.read(CHUNK):
            if b"\x00" in chunk:
                raise FileFormatError("the file contains binary data, not CSV text")
            text = decoder.decode(chunk)
            if any(ord(ch) in TEXT_CONTROLS for ch in text[:4096]):
                raise FileFormatError("the file contains binary data, not CSV text")
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        stream.seek(0)
    return True


def iter_csv(path: str | Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it, cells) for every row, header included."""
    with open(path, encoding=encoding, newline="") as handle:
        first_line = handle.readline()
        handle.seek(0)
        delimiter = _delimiter(first_line)
        reader = csv.reader(handle, delimiter=delimiter)
        number = 0
        try:
            for number, cells in enumerate(reader, start=1):
                yield number, cells
        except csv.Error as exc:
            raise FileFormatError(f"row {number + 1}: the CSV is malformed ({exc})") from None


def _delimiter(header_line: str) -> str:
    """The separator the header row uses most (comma, tab, semicolon or bar); a comma
    when there is only one column."""
    counts = {d: header_line.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


# what a damaged or fake workbook raises inside openpyxl: the zip layer (a corrupt member:
# BadZipFile, zlib.error, EOFError), the XML layer (ParseError) or a missing part
XLSX_READ_ERRORS = (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error,
                    ElementTree.ParseError)


def iter_xlsx(path: str | Path) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(row number, cell values) of the first sheet, header included; read-only mode
    streams the sheet, so memory stays flat whatever the row count."""
    workbook = open_xlsx(path)
    try:
        sheet = workbook.worksheets[0]
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    except XLSX_READ_ERRORS as exc:
        raise FileFormatError(f"the workbook could not be read: {exc}") from None
    finally:
        workbook.close()


def open_xlsx(path: str | Path) -> Any:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, *XLSX_READ_ERRORS) as exc:
        raise FileFormatError(f"the file is not a readable .xlsx workbook ({exc})") from None
    if not workbook.worksheets:
        workbook.close()
        raise FileFormatError("the workbook has no sheets")
    return workbook


def iter_rows(path: str | Path, kind: str, encoding: str | None = None
              ) -> Iterator[tuple[int, Sequence[Any]]]:
    if kind == "xlsx":
        return iter_xlsx(path)
    return iter_csv(path, encoding or "utf-8")


# -- writing --------------------------------------------------------------------------------
def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]],
               chunk_rows: int = 500) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (so Excel opens Chinese text correctly), as byte chunks of
    ``chunk_rows`` rows: the response streams while rows are still being read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    count = 0
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        count += 1
        if count % chunk_rows == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def write_xlsx(target: BinaryIO | str | Path, header: Sequence[str],
               rows: Iterable[Sequence[Any]], formats: Sequence[str | None],
               title: str = "records") -> int:
    """A write-only workbook (rows go to a temp file as they come, not into memory).
    Returns the number of data rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "records")
    bold = Font(bold=True)
    cells = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    count = 0
    formatted = [i for i, f in enumerate(formats) if f]
    for row in rows:
        values: list[Any] = list(row)
        for i in formatted:
            if values[i] is not None:
                cell = WriteOnlyCell(sheet, value=values[i])
                cell.number_format = formats[i]
                values[i] = cell
        sheet.append(values)
        count += 1
    workbook.save(target)
    return count
