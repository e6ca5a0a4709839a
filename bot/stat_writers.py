"""Streaming writers of SPSS (.sav) and Stata (.dta) files, memory flat in the number of rows.

pyreadstat writes a file from one whole data frame, so memory grows with the responses. These
writers take the rows batch by batch instead, in two passes over a private temporary spool:

1. `Spool.add` keeps each batch on disk (numbers as one float64 block, texts as UTF-8 bytes) and
   notes the longest text of each string variable (both formats fix a string's width in the
   dictionary, before the data);
2. `write_sav` / `write_dta` write the dictionary, then turn the spooled batches into the data
   section with numpy (whole batches at a time, no Python loop per number).

SPSS: bytecode-compressed system file (`$FL2`, compression 1), UTF-8 (character code 65001),
long variable names (record 7.13), strings over 255 bytes as very long strings (7.14, segments of
255 bytes), user-missing values declared per variable, value labels (records 3 and 4), variable
display parameters (7.11). The layout follows the SPSS system-file description of the GNU PSPP
manual.

Stata: format 118 (Stata 14 and later), little-endian; numbers as byte (0/1 flags), long (codes) or
double (numbers, and codes that may be skipped); the skipped answers as the extended missing value
`.a`; strings as str# up to 2045 bytes, longer ones as strL (their contents in the `<strls>`
section after the data, spooled to a second temporary file while the data is written).
Layout: Stata's `help dta`.
"""

from __future__ import annotations

import os
import pickle
import struct
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

NUMERIC_KINDS = frozenset({"code", "flag", "integer", "number"})
CHUNK_BYTES = 2 << 20
"""The data written at a time (before compression), whatever the batches' size."""


@dataclass(frozen=True, slots=True)
class Field:
    """What the writers need of a variable (`bot.stat_formats.Variable`)."""

    name: str
    label: str
    kind: str
    value_labels: dict[int, str]
    skippable: bool

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


class Spool:
    """The batches between the two passes, in an unnamed temporary file beside the output."""

    def __init__(self, fields: Sequence[Field], directory: Path) -> None:
        self.fields = fields
        self.numeric = [j for j, f in enumerate(fields) if f.numeric]
        self.strings = [j for j, f in enumerate(fields) if not f.numeric]
        self.widths = [0] * len(self.strings)
        """The longest value, in UTF-8 bytes, of each string variable."""
        self.rows = 0
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=directory, prefix=".spool-")  # noqa: SIM115 (closed by close())

    def add(self, columns: Sequence[Sequence[Any]]) -> None:
        """One batch: a list of values per variable (None: missing)."""
        count = len(columns[0]) if columns else 0
        if not count:
            return
        numbers = np.empty((len(self.numeric), count), dtype=np.float64)
        for i, j in enumerate(self.numeric):
            numbers[i] = np.array(columns[j], dtype=np.float64)  # None → NaN
        texts: list[list[bytes]] = []
        for i, j in enumerate(self.strings):
            encoded = [b"" if v is None else v.encode("utf-8") for v in columns[j]]
            longest = max(map(len, encoded))
            if longest > self.widths[i]:
                self.widths[i] = longest
            texts.append(encoded)
        pickle.dump((count, numbers, texts), self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.rows += count

    def batches(self) -> Iterator[tuple[int, Any, list[list[bytes]]]]:
        self._file.flush()
        self._file.seek(0)
        while True:
            try:
                yield pickle.load(self._file)
            except EOFError:
                return

    def chunks(self, row_bytes: int) -> Iterator[tuple[int, Any, list[list[bytes]]]]:
        """The spooled rows again, in slices of at most `CHUNK_BYTES` once written out
        (`row_bytes` a row): the longest text fixes a row's width, and it grows with the data."""
        step = max(16, CHUNK_BYTES // max(row_bytes, 1))
        for count, numbers, texts in self.batches():
            for start in range(0, count, step):
                end = min(count, start + step)
                yield end - start, numbers[:, start:end], [t[start:end] for t in texts]

    def close(self) -> None:
        self._file.close()


def _utf8_cut(text: str, limit: int) -> bytes:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore").encode("utf-8")


# -- SPSS ----------------------------------------------------------------------------------------

SAV_SYSMIS = struct.unpack("<d", struct.pack("<Q", 0xFFEFFFFFFFFFFFFF))[0]
SAV_HIGHEST = struct.unpack("<d", struct.pack("<Q", 0x7FEFFFFFFFFFFFFF))[0]
SAV_LOWEST = struct.unpack("<d", struct.pack("<Q", 0xFFEFFFFFFFFFFFFE))[0]
SAV_BIAS = 100
SPACES = 0x2020202020202020


def _sav_segments(width: int) -> int:
    return (width + 251) // 252 if width > 255 else 1


def _sav_storage(width: int) -> int:
    """Bytes a string of `width` takes in a case (a multiple of 8)."""
    if width <= 255:
        return (width + 7) // 8 * 8
    segments = _sav_segments(width)
    last = width - (segments - 1) * 252
    return (segments - 1) * 256 + (last + 7) // 8 * 8


def _sav_format(kind: str, width: int = 0) -> int:
    if kind == "string":
        return (1 << 16) | (min(width, 255) << 8)  # A<width>
    decimals = 2 if kind == "number" else 0
    return (5 << 16) | (8 << 8) | decimals  # F8.<decimals>


def _sav_cells(values: list[bytes], width: int, storage: int) -> Any:
    """The string cells of a batch as a (rows, storage / 8) array of 8-byte units."""
    if width <= 255:
        joined = b"".join(v.ljust(storage) for v in values)
    else:
        segments = _sav_segments(width)
        parts = []
        for v in values:
            padded = v.ljust(255 * segments)
            parts.append(
                b" ".join(padded[k * 255 : (k + 1) * 255] for k in range(segments)).ljust(storage)[
                    :storage
                ]
            )
        joined = b"".join(parts)
    return np.frombuffer(joined, dtype="<u8").reshape(len(values), storage // 8)


def _compress(codes: Any, units: Any) -> bytes:
    """SPSS bytecode compression of whole cases: groups of 8 command bytes, each followed by the
    8-byte units its 253 codes announce. The last group is padded with 0 (ignored) codes."""
    flat_codes = codes.ravel()
    flat_units = units.ravel()
    pad = (-len(flat_codes)) % 8
    if pad:
        flat_codes = np.concatenate([flat_codes, np.zeros(pad, dtype=np.uint8)])
        flat_units = np.concatenate([flat_units, np.zeros(pad, dtype=np.uint64)])
    groups = len(flat_codes) // 8
    literal = (flat_codes == 253).reshape(groups, 8)
    per_group = literal.sum(axis=1)
    starts = np.arange(groups) + np.concatenate([[0], np.cumsum(per_group)[:-1]])
    out = np.empty(groups + int(per_group.sum()), dtype="<u8")
    out[starts] = np.ascontiguousarray(flat_codes).view("<u8")
    rank = np.cumsum(literal, axis=1) - 1
    positions = (starts[:, None] + 1 + rank)[literal]
    out[positions] = flat_units.reshape(groups, 8)[literal]
    return out.tobytes()


def write_sav(out: Path, spool: Spool, title: str, measures: Sequence[str]) -> None:
    """The SPSS file of the spooled rows (`measures`: "nominal" or "scale" per variable)."""
    fields = spool.fields
    width_of = dict(zip(spool.strings, (max(1, w) for w in spool.widths), strict=True))
    now = datetime.now()
    with open(out, "wb") as handle:
        w = handle.write
        units_of: list[int] = []
        for j, f in enumerate(fields):
            units_of.append(1 if f.numeric else _sav_storage(width_of[j]) // 8)
        w(
            struct.pack(
                "<4s60siiiiid9s8s64s3x",
                b"$FL2",
                b"@(#) SPSS DATA FILE - consultbot".ljust(60),
                2,
                sum(units_of),
                1,
                0,
                spool.rows,
                float(SAV_BIAS),
                now.strftime("%d %b %y").encode("ascii"),
                now.strftime("%H:%M:%S").encode("ascii"),
                _utf8_cut(title, 64).ljust(64),
            )
        )
        short: list[bytes] = []
        ghost = 0
        offsets: list[int] = []
        offset = 0
        segments_total = 0
        for j, f in enumerate(fields):
            name = f"V{j + 1}_A".encode("ascii")
            short.append(name)
            offsets.append(offset)
            offset += units_of[j]
            label = _utf8_cut(f.label, 255)
            missing = [-1.0] if f.skippable and f.numeric else []
            width = 0 if f.numeric else width_of[j]
            first = min(width, 255)
            fmt = _sav_format("string" if width else f.kind, first)
            w(
                struct.pack(
                    "<iiiiii8s", 2, first, 1 if label else 0, len(missing), fmt, fmt, name.ljust(8)
                )
            )
            if label:
                w(struct.pack("<i", len(label)) + label.ljust((len(label) + 3) // 4 * 4, b" "))
            for value in missing:
                w(struct.pack("<d", value))
            segments = _sav_segments(width) if width else 1
            segments_total += segments
            sizes = [first] if segments == 1 else [255] * (segments - 1)
            if segments > 1:
                sizes.append(width - (segments - 1) * 252)
            for k, size in enumerate(sizes):
                if k:
                    ghost += 1
                    fmt = _sav_format("string", size)
                    w(
                        struct.pack(
                            "<iiiiii8s",
                            2,
                            size,
                            0,
                            0,
                            fmt,
                            fmt,
                            f"G{ghost}_A".encode("ascii").ljust(8),
                        )
                    )
                extra = min(31, (max(size, 1) + 7) // 8 - 1) if width else 0
                for _ in range(extra):
                    w(struct.pack("<iiiiii8s", 2, -1, 0, 0, 0x011D01, 0x011D01, b" " * 8))
        for j, f in enumerate(fields):
            if not f.value_labels:
                continue
            w(struct.pack("<ii", 3, len(f.value_labels)))
            for code, text in f.value_labels.items():
                label = _utf8_cut(text, 120)
                w(struct.pack("<dB", float(code), len(label)))
                w(label.ljust((len(label) + 1 + 7) // 8 * 8 - 1, b" "))
            w(struct.pack("<iii", 4, 1, 1 + offsets[j]))
        w(struct.pack("<iiii8i", 7, 3, 4, 8, 20, 0, 0, -1, 1, 1, 2, 65001))
        w(struct.pack("<iiii3d", 7, 4, 8, 3, SAV_SYSMIS, SAV_HIGHEST, SAV_LOWEST))
        display = []
        for j, f in enumerate(fields):
            measure = 3 if measures[j] == "scale" else 1
            alignment = 1 if f.numeric else 0
            segments = 1 if f.numeric else _sav_segments(width_of[j])
            display += [measure, 8, alignment] * segments
        w(struct.pack(f"<iiii{len(display)}i", 7, 11, 4, len(display), *display))
        names = b"\t".join(
            s + b"=" + f.name.encode("utf-8") for s, f in zip(short, fields, strict=True)
        )
        w(struct.pack("<iiii", 7, 13, 1, len(names)) + names)
        long_strings = b"".join(
            short[j] + b"=" + str(width_of[j]).encode("ascii") + b"\x00\t"
            for j in spool.strings
            if width_of[j] > 255
        )
        if long_strings:
            w(struct.pack("<iiii", 7, 14, 1, len(long_strings)) + long_strings)
        w(struct.pack("<iiii", 7, 20, 1, 5) + b"UTF-8")
        w(struct.pack("<ii", 999, 0))

        string_at = {j: i for i, j in enumerate(spool.strings)}
        total_units = sum(units_of)
        for count, numbers, texts in spool.chunks(total_units * 8 * 3):
            command = np.full(numbers.shape, 253, dtype=np.uint8)
            small = (numbers == np.round(numbers)) & (numbers >= -99) & (numbers <= 151)
            command[small] = (numbers[small] + SAV_BIAS).astype(np.uint8)
            command[np.isnan(numbers)] = 255
            bits = numbers.view("<u8")
            codes = np.empty((count, total_units), dtype=np.uint8)
            units = np.empty((count, total_units), dtype="<u8")
            number = 0
            for j, f in enumerate(fields):
                at = offsets[j]
                if f.numeric:
                    codes[:, at] = command[number]
                    units[:, at] = bits[number]
                    number += 1
                else:
                    width = width_of[j]
                    cells = _sav_cells(texts[string_at[j]], width, _sav_storage(width))
                    end = at + units_of[j]
                    codes[:, at:end] = np.where(cells == SPACES, 254, 253)
                    units[:, at:end] = cells
            w(_compress(codes, units))


# -- Stata ---------------------------------------------------------------------------------------

STR_MAX = 2045
STRL = 32768
DOUBLE, LONG, INT, BYTE = 65526, 65528, 65529, 65530
_MISSING = {BYTE: (101, 102), INT: (32741, 32742), LONG: (2147483621, 2147483622)}
"""Stata's system missing `.` and extended missing `.a` of the integer types."""
DOUBLE_MISSING = 0x7FE0000000000000
DOUBLE_MISSING_A = 0x7FE0010000000000


def _dta_type(f: Field, width: int) -> int:
    if f.kind == "flag":
        return BYTE
    if f.kind == "code" and not f.skippable:
        return LONG  # a skippable one is double: pyreadstat (1.3) reads a missing long as garbage
    if f.kind == "code":  # beside a tagged `.a` (user_missing=True)
        return DOUBLE
    if f.numeric:
        return DOUBLE
    return width if width <= STR_MAX else STRL


def _dta_dtype(code: int) -> str:
    return {BYTE: "i1", INT: "<i2", LONG: "<i4", DOUBLE: "<u8", STRL: "<u8"}.get(code, f"S{code}")


def _dta_format(code: int, kind: str) -> bytes:
    if code == STRL:
        return b"%9s"
    if code <= STR_MAX:
        return f"%{min(code, 244)}s".encode("ascii")
    if kind == "number":
        return b"%10.0g"
    return b"%9.0g" if code == DOUBLE else b"%8.0g"


def _tag(name: str, content: bytes) -> bytes:
    return f"<{name}>".encode("ascii") + content + f"</{name}>".encode("ascii")


def write_dta(out: Path, spool: Spool, title: str) -> None:
    """The Stata file of the spooled rows (skipped answers as `.a`)."""
    fields = spool.fields
    width_of = dict(zip(spool.strings, (max(1, w) for w in spool.widths), strict=True))
    types = [_dta_type(f, width_of.get(j, 0)) for j, f in enumerate(fields)]
    count = len(fields)
    label = _utf8_cut(title, 320)
    now = datetime.now().strftime("%d %b %Y %H:%M").encode("ascii")
    header = _tag(
        "header",
        _tag("release", b"118")
        + _tag("byteorder", b"LSF")
        + _tag("K", struct.pack("<H", count))
        + _tag("N", struct.pack("<Q", spool.rows))
        + _tag("label", struct.pack("<H", len(label)) + label)
        + _tag("timestamp", bytes([len(now)]) + now),
    )
    sections = [
        ("variable_types", struct.pack(f"<{count}H", *types)),
        ("varnames", b"".join(f.name.encode("utf-8")[:128].ljust(129, b"\0") for f in fields)),
        ("sortlist", b"\0\0" * (count + 1)),
        (
            "formats",
            b"".join(
                _dta_format(t, f.kind).ljust(57, b"\0") for t, f in zip(types, fields, strict=True)
            ),
        ),
        (
            "value_label_names",
            b"".join(
                (f.name.encode("utf-8") if f.value_labels and f.numeric else b"").ljust(129, b"\0")
                for f in fields
            ),
        ),
        ("variable_labels", b"".join(_utf8_cut(f.label, 320).ljust(321, b"\0") for f in fields)),
        ("characteristics", b""),
    ]
    dtype = np.dtype([(f"v{j}", _dta_dtype(t)) for j, t in enumerate(types)])
    string_at = {j: i for i, j in enumerate(spool.strings)}
    strl_columns = [j for j, t in enumerate(types) if t == STRL]
    with open(out, "wb") as handle, tempfile.TemporaryFile(dir=out.parent) as strls:
        w = handle.write
        w(b"<stata_dta>" + header)
        map_at = handle.tell()
        w(b"<map>" + b"\0" * 8 * 14 + b"</map>")
        offsets = [0, map_at]
        for name, content in sections:
            offsets.append(handle.tell())
            w(_tag(name, content))
        offsets.append(handle.tell())
        w(b"<data>")
        first = 1
        for rows, numbers, texts in spool.chunks(dtype.itemsize * 2):
            record = np.zeros(rows, dtype=dtype)
            number = 0
            for j, f in enumerate(fields):
                column = f"v{j}"
                kind = types[j]
                if f.numeric:
                    values = numbers[number]
                    number += 1
                    missing = np.isnan(values)
                    skipped = (values == -1) if f.skippable else np.zeros(rows, dtype=bool)
                    if kind == DOUBLE:
                        bits = values.view("<u8").copy()
                        bits[missing] = DOUBLE_MISSING
                        bits[skipped] = DOUBLE_MISSING_A
                        record[column] = bits
                    else:
                        system, extended = _MISSING[kind]
                        filled = np.where(missing, system, np.where(skipped, extended, values))
                        record[column] = filled.astype(record.dtype[column])
                elif kind != STRL:
                    record[column] = texts[string_at[j]]
            if strl_columns:
                found: list[tuple[int, int, bytes]] = []
                for j in strl_columns:
                    references = np.zeros(rows, dtype="<u8")
                    for i, value in enumerate(texts[string_at[j]]):
                        if value:
                            references[i] = (j + 1) | ((first + i) << 16)
                            found.append((first + i, j + 1, value))
                    record[f"v{j}"] = references
                found.sort(key=lambda item: (item[0], item[1]))
                strls.write(
                    b"".join(
                        b"GSO" + struct.pack("<IQBI", v, o, 130, len(value) + 1) + value + b"\0"
                        for o, v, value in found
                    )
                )
            w(record.tobytes())
            first += rows
        w(b"</data>")
        offsets.append(handle.tell())
        w(b"<strls>")
        strls.seek(0)
        while chunk := strls.read(1 << 20):
            w(chunk)
        w(b"</strls>")
        offsets.append(handle.tell())
        w(b"<value_labels>")
        for f in fields:
            if not (f.value_labels and f.numeric):
                continue
            pairs = [
                (code, text.encode("utf-8")[:32000])
                for code, text in f.value_labels.items()
                if code != -1
            ]
            text = b""
            starts = []
            for _, encoded in pairs:
                starts.append(len(text))
                text += encoded + b"\0"
            table = (
                struct.pack(
                    f"<ii{len(pairs)}i{len(pairs)}i",
                    len(pairs),
                    len(text),
                    *starts,
                    *(code for code, _ in pairs),
                )
                + text
            )
            w(
                _tag(
                    "lbl",
                    struct.pack("<i", len(table))
                    + f.name.encode("utf-8")[:128].ljust(129, b"\0")
                    + b"\0\0\0"
                    + table,
                )
            )
        w(b"</value_labels>")
        offsets.append(handle.tell())
        w(b"</stata_dta>")
        offsets.append(handle.tell())
        handle.seek(map_at + len(b"<map>"))
        handle.write(struct.pack("<14Q", *offsets))


def staged(out: Path) -> Path:
    """The private temporary name an output is written under before it is renamed into place."""
    return out.with_name(f".{out.name}.{os.getpid()}.tmp")
