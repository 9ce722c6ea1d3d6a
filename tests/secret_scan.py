"""Looks for secrets in what a run leaves behind: streams, files as bytes, and the text inside them.

Raw bytes are not enough on their own: gzip and Parquet files compress their
contents, and DuckDB may compress the strings it stores. So, besides its bytes,
a gzip file is read decompressed, a Parquet file and every table of a DuckDB or
SQLite database are read as rows.
"""

from __future__ import annotations

import gzip
import os
import re
import sqlite3
import zlib
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import duckdb
import pyarrow.parquet as pq

SQLITE_MAGIC = b"SQLite format 3\x00"
DUCKDB_MAGIC = b"DUCK"  # at byte 8 of a DuckDB file
PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
# Tokens a client signs itself (Icareus: 8 hex digits of time, then an MD5) are looked
# for among the hex runs of what is scanned: there are too many candidates to search each.
HEX_RUN = re.compile(rb"[0-9a-f]{40,}")
HEX_TOKEN_LENGTH = 40
SHOWN_CONTEXT = 40


def forms(secret: str) -> set[str]:
    """A secret as it could be written: as is, URL-encoded (path, query, form) and JSON-escaped."""
    return {secret, quote(secret), quote(secret, safe=""), quote_plus(secret), secret.replace("/", "\\/")}


@dataclass(frozen=True)
class Finding:
    where: str
    what: str
    offset: int
    context: str

    def __str__(self) -> str:
        return f"{self.what} in {self.where} at {self.offset}: …{self.context}…"


@dataclass
class Scan:
    """Needles (label -> text) and hex tokens (token -> label); what was found and how much was read."""

    needles: Mapping[str, str]
    hex_tokens: Mapping[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    tables: int = 0
    rows: int = 0

    def text(self, where: str, text: str) -> None:
        self.data(where, text.encode("utf-8", "surrogateescape"))

    def data(self, where: str, data: bytes) -> None:
        self.bytes += len(data)
        for label, needle in self.needles.items():
            offset = data.find(needle.encode())
            if offset >= 0:
                self._found(where, label, data, offset)
        if self.hex_tokens:
            for run in HEX_RUN.finditer(data):
                for start in range(run.start(), run.end() - HEX_TOKEN_LENGTH + 1):
                    label = self.hex_tokens.get(data[start:start + HEX_TOKEN_LENGTH].decode())
                    if label:
                        self._found(where, label, data, start)

    def tree(self, root: Path, newer_than: float | None = None, skip: Iterable[str] = ()) -> None:
        """Every file under root, but in folders named in `skip` (only files modified
        since `newer_than`, when given)."""
        for folder, subfolders, names in os.walk(root):
            subfolders[:] = sorted(name for name in subfolders if name not in skip)
            for name in sorted(names):
                path = Path(folder, name)
                try:
                    if not path.is_file() or (newer_than is not None and path.stat().st_mtime < newer_than):
                        continue
                except FileNotFoundError:
                    continue  # removed while walking (another process's scratch file)
                self.file(path)

    def file(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        self.files += 1
        self.scanned.append(str(path))
        self.data(str(path), data)
        if data.startswith(GZIP_MAGIC):
            self._gzip(path, data)
        elif data.startswith(SQLITE_MAGIC):
            self._sqlite(path)
        elif data.startswith(PARQUET_MAGIC):
            self._rows(f"{path} (Parquet rows)", pq.read_table(path).to_pylist())
        elif data[8:12] == DUCKDB_MAGIC:
            self._duckdb(path)

    def _gzip(self, path: Path, data: bytes) -> None:
        try:
            self.data(f"{path} (decompressed)", gzip.decompress(data))
        except (OSError, EOFError, zlib.error):
            pass  # not a whole gzip stream: its bytes were scanned already

    def _sqlite(self, path: Path) -> None:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            tables = [name for (name,) in con.execute("select name from sqlite_master where type = 'table'")]
            for table in tables:
                self._rows(f"{path} table {table}", con.execute(f'select * from "{table}"').fetchall())

    def _duckdb(self, path: Path) -> None:
        with duckdb.connect(str(path), read_only=True) as con:
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' and table_catalog = current_database()"
            ).fetchall()
            for schema, table in tables:
                rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
                self._rows(f"{path} table {schema}.{table}", rows)

    def _rows(self, where: str, rows: Iterable[Any]) -> None:
        self.tables += 1
        chunks = []
        for row in rows:
            self.rows += 1
            values = row.values() if isinstance(row, dict) else row
            chunks.append(b"\t".join(_as_bytes(value) for value in values))
        self.data(where, b"\n".join(chunks))

    def _found(self, where: str, label: str, data: bytes, offset: int) -> None:
        context = data[max(0, offset - SHOWN_CONTEXT):offset + SHOWN_CONTEXT].decode("utf-8", "replace")
        self.findings.append(Finding(where, label, offset, " ".join(context.split())))


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "surrogateescape")

