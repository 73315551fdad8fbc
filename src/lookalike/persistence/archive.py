"""The zip container of a model file: opening it and reading its members within limits.

Every check that can be made on the zip's central directory is made before a
single byte is decompressed, in this order:

1. the path names a regular file (not a FIFO, a device or a directory, which
   would block or never end), checked before and after opening it without
   blocking;
2. the end-of-central-directory record declares at most :data:`MAX_MEMBERS`
   members (so that even listing the members is bounded);
3. member names are ``manifest.json`` or ``arrays/<n>.npy``, none twice; no
   encryption; stored or deflated only;
4. each member's declared size and the *total* declared size of all members
   are at most ``max_bytes``; a member over 1 MiB, and the archive as a whole,
   expand at most :data:`MAX_RATIO` times their compressed size (deflate tops
   out near 1032:1, reached by runs of zeros: a zip bomb's signature);
5. the manifest declares at most :data:`MAX_MANIFEST_BYTES`.

Reading never takes more than a member's declared size: arrays are read straight
into their final buffer (the ``.npy`` header is parsed and checked against the
declared size first), so loading an array of ``s`` bytes costs ``s`` bytes of
memory and time linear in ``s``; the CRC is verified at the end of each member.
"""

from __future__ import annotations

import math
import os
import re
import stat
import struct
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from lookalike.exceptions import ModelFileError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_MEMBERS",
    "MAX_RATIO",
    "check_members",
    "open_regular_file",
    "read_array_member",
    "read_member",
]

DEFAULT_MAX_BYTES = 4 * 1024**3
MAX_RATIO = 1000
MAX_MEMBERS = 100_000
#: The largest manifest accepted: 8 MiB. A manifest holds hyper-parameters, shapes and
#: short strings (feature and category names); a model's numbers live in the arrays.
MAX_MANIFEST_BYTES = 8 * 1024**2
MANIFEST = "manifest.json"
ARRAY_MEMBER = re.compile(r"arrays/(0|[1-9][0-9]{0,8})\.npy")
ARRAY_KINDS = frozenset("biufcmMUS")

_RATIO_FROM = 1024**2  # members smaller than this are too small to matter
_READ_BLOCK = 4 * 1024**2
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


# --------------------------------------------------------------------------------------
# The file


def open_regular_file(path: Path) -> IO[bytes]:
    """Open ``path`` for reading if it is a regular file; else ModelFileError.

    A FIFO would block ``open`` until a writer comes, and a device such as
    ``/dev/urandom`` never ends: both are refused from ``stat`` before opening,
    and the opened descriptor is checked again (the path may have changed in
    between). ``O_NONBLOCK`` keeps even that open from waiting on a FIFO.
    """
    _require_regular(os.stat(path).st_mode, path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        _require_regular(os.fstat(descriptor).st_mode, path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _require_regular(mode: int, path: Path) -> None:
    if stat.S_ISREG(mode):
        return
    kind = (
        "a directory"
        if stat.S_ISDIR(mode)
        else "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise ModelFileError(
        f"cannot load {str(path)!r}: it is {kind}, not a regular file (a model file is a "
        "file written by lookalike.save)"
    )


def file_size(handle: IO[bytes]) -> int:
    return os.fstat(handle.fileno()).st_size


def check_member_count(handle: IO[bytes], size: int) -> None:
    """Refuse an archive whose end record declares more than MAX_MEMBERS members.

    Read from the end-of-central-directory record (and its zip64 extension)
    before ``zipfile`` lists the members; a file without one is left to
    ``zipfile`` to reject.
    """
    try:
        count = _declared_member_count(handle, size)
    finally:
        handle.seek(0)
    if count > MAX_MEMBERS:
        raise ModelFileError(f"too many members ({count} > {MAX_MEMBERS})")


def _declared_member_count(handle: IO[bytes], size: int) -> int:
    tail = min(size, _EOCD.size + 0xFFFF)
    handle.seek(size - tail)
    data = handle.read(tail)
    position = data.rfind(b"PK\x05\x06")
    if position < 0 or position + _EOCD.size > len(data):
        return 0
    count = max(_EOCD.unpack_from(data, position)[3:5])
    locator = position - _ZIP64_LOCATOR.size
    if locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        offset = _ZIP64_LOCATOR.unpack_from(data, locator)[2]
        if 0 <= offset <= size - _ZIP64_EOCD.size:
            handle.seek(offset)
            record = handle.read(_ZIP64_EOCD.size)
            if record[:4] == b"PK\x06\x06":
                count = max(count, *_ZIP64_EOCD.unpack(record)[6:8])
    return count


# --------------------------------------------------------------------------------------
# The members


def check_members(
    infos: list[zipfile.ZipInfo], max_bytes: int, archive_size: int
) -> dict[str, zipfile.ZipInfo]:
    """The members by name, after the checks on names, methods and declared sizes."""
    if len(infos) > MAX_MEMBERS:
        raise ModelFileError(f"too many members ({len(infos)} > {MAX_MEMBERS})")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        if name != MANIFEST and not ARRAY_MEMBER.fullmatch(name):
            raise ModelFileError(
                f"unexpected member {name!r} (a model file holds only manifest.json and "
                "arrays/<n>.npy)"
            )
        if name in members:
            raise ModelFileError(f"duplicate member {name!r}")
        if info.flag_bits & 0x1:
            raise ModelFileError(f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(f"member {name!r} uses an unsupported compression method")
        size = info.file_size
        if size > max_bytes:
            raise ModelFileError(
                f"member {name!r} declares {size} bytes, more than max_bytes={max_bytes}"
            )
        if size > _RATIO_FROM and size > MAX_RATIO * max(info.compress_size, 1):
            raise ModelFileError(
                f"member {name!r} expands {size} bytes from {info.compress_size}: a "
                f"compression ratio above {MAX_RATIO} looks like a zip bomb"
            )
        total += size
        members[name] = info
    if total > max_bytes:
        raise ModelFileError(
            f"the members declare {total} bytes in all, more than max_bytes={max_bytes}"
        )
    if total > _RATIO_FROM and total > MAX_RATIO * max(archive_size, 1):
        raise ModelFileError(
            f"the members declare {total} bytes in all from a file of {archive_size}: a "
            f"compression ratio above {MAX_RATIO} looks like a zip bomb"
        )
    if MANIFEST in members and members[MANIFEST].file_size > MAX_MANIFEST_BYTES:
        raise ModelFileError(
            f"manifest.json declares {members[MANIFEST].file_size} bytes, more than the "
            f"{MAX_MANIFEST_BYTES} a manifest may hold"
        )
    return members


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes (a small one: the manifest); CRC checked."""
    with archive.open(info) as stream:
        data = stream.read(info.file_size)
        _expect_end(stream, info, len(data))
    return data


def _expect_end(stream: Any, info: zipfile.ZipInfo, got: int) -> None:
    extra = stream.read(1)  # reaching the end makes zipfile check the CRC
    if got != info.file_size or extra:
        raise ModelFileError(f"member {info.filename!r} is truncated or corrupted")


def read_array_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """The array of an ``.npy`` member, read straight into its own buffer.

    The header's dtype (no object, structured or sub-array dtypes) and shape
    are checked against the member's declared size before the array is
    allocated; the payload is then streamed into it block by block.
    """
    from numpy.lib import format as npy

    name = info.filename
    with archive.open(info) as stream:
        version = npy.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(stream)
        else:
            raise ModelFileError(f"{name}: unsupported .npy version {version}")
        if dtype.hasobject or dtype.kind not in ARRAY_KINDS or dtype.names or dtype.subdtype:
            raise ModelFileError(f"{name}: dtype {dtype} is not allowed in a model file")
        if dtype.itemsize == 0:
            raise ModelFileError(f"{name}: dtype {dtype} has no size")
        count = math.prod(int(n) for n in shape)
        payload = info.file_size - stream.tell()
        if count * dtype.itemsize != payload:
            raise ModelFileError(
                f"{name}: header declares shape {tuple(shape)} of {dtype} "
                f"({count * dtype.itemsize} bytes) but the member holds {payload}"
            )
        array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        target = memoryview(array.reshape(-1, order="A").view(np.uint8).data)
        done = 0
        while done < payload:
            block = stream.read(min(_READ_BLOCK, payload - done))
            if not block:
                break
            target[done : done + len(block)] = block
            done += len(block)
        _expect_end(stream, info, stream.tell())
    return array


def open_archive(handle: IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        raise ModelFileError(
            "not a lookalike model file (not a zip archive; old pickle files cannot be "
            "loaded safely: refit the model and save it with lookalike.save)"
        ) from None
