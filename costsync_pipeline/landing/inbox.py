"""The inbox and the raw zone, on any fsspec filesystem (a local folder by default).

Files are identified by the SHA-256 of their content, never by name: the same content dropped
twice or renamed is one file. Every landed file is copied, content-addressed, into the raw
zone, so any day can be rebuilt later without the inbox. Files whose names start with ``.``
or ``~`` or end in ``.tmp``/``.part`` are still being written and are ignored until renamed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
import uuid
from dataclasses import dataclass

import fsspec
from fsspec.core import url_to_fs

IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".error.txt")
FAILED_DIR = "failed"


@dataclass(frozen=True)
class InboxFile:
    path: str
    name: str
    size: int
    modified_at: dt.datetime
    checksum: str


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, root = url_to_fs(str(url))
    return fs, root.rstrip("/")


def sha256_file(fs: fsspec.AbstractFileSystem, path: str) -> str:
    digest = hashlib.sha256()
    with fs.open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _modified(info: dict) -> dt.datetime:
    raw = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
    if isinstance(raw, dt.datetime):
        return raw.astimezone(dt.UTC)
    return dt.datetime.fromtimestamp(float(raw), tz=dt.UTC)


def list_inbox(
    inbox_url: str, kind: str, known: dict[str, tuple[int, float, str]] | None = None
) -> list[InboxFile]:
    """Files directly in ``<inbox>/<kind>/``, oldest first, with their checksums.

    ``known`` maps path -> (size, mtime, checksum) from an earlier scan so unchanged files are
    not hashed again.
    """
    fs, root = filesystem(inbox_url)
    folder = posixpath.join(root, kind)
    if not fs.exists(folder):
        return []
    found = []
    for info in fs.ls(folder, detail=True):
        if info.get("type") != "file":
            continue
        name = posixpath.basename(info["name"])
        if name.startswith((".", "~")) or name.endswith(IGNORED_SUFFIXES):
            continue
        modified = _modified(info)
        size = int(info.get("size") or 0)
        cached = (known or {}).get(info["name"])
        if cached and cached[0] == size and cached[1] == modified.timestamp():
            checksum = cached[2]
        else:
            checksum = sha256_file(fs, info["name"])
        found.append(InboxFile(info["name"], name, size, modified, checksum))
    return sorted(found, key=lambda f: (f.modified_at, f.name))


def read_bytes(url_or_path: str) -> bytes:
    fs, path = filesystem(url_or_path)
    with fs.open(path, "rb") as fh:
        return fh.read()


def raw_zone_path(raw_zone_url: str, kind: str, checksum: str) -> str:
    return posixpath.join(str(raw_zone_url).rstrip("/"), kind, checksum[:2], checksum)


def copy_to_raw_zone(file: InboxFile, inbox_url: str, raw_zone_url: str, kind: str) -> str:
    """Content-addressed copy; idempotent and atomic (write a temp file, then rename)."""
    target = raw_zone_path(raw_zone_url, kind, file.checksum)
    fs_raw, target_path = filesystem(target)
    if fs_raw.exists(target_path):
        return target
    fs_in, _ = filesystem(inbox_url)
    fs_raw.makedirs(posixpath.dirname(target_path), exist_ok=True)
    # Every writer has its own temporary name: runs for several days of one file copy it at
    # the same moment, and whichever renames last simply replaces identical content.
    tmp = f"{target_path}.{uuid.uuid4().hex}.tmp"
    try:
        with fs_in.open(file.path, "rb") as src, fs_raw.open(tmp, "wb") as dst:
            for block in iter(lambda: src.read(1 << 20), b""):
                dst.write(block)
        fs_raw.mv(tmp, target_path)
    finally:
        if fs_raw.exists(tmp):
            fs_raw.rm(tmp)
    return target


def set_aside(inbox_url: str, kind: str, file: InboxFile, message: str) -> str:
    """Move an unreadable file to ``<inbox>/<kind>/failed/`` beside a ``.error.txt`` message."""
    fs, root = filesystem(inbox_url)
    failed = posixpath.join(root, kind, FAILED_DIR)
    fs.makedirs(failed, exist_ok=True)
    target = posixpath.join(failed, file.name)
    if fs.exists(target) and not fs.exists(file.path):
        return target  # a concurrent run moved it already
    if fs.exists(target):
        target = posixpath.join(failed, f"{file.checksum[:12]}-{file.name}")
    with fs.open(f"{target}.error.txt", "w") as fh:
        fh.write(f"{file.name} (sha256 {file.checksum}) was set aside: {message}\n")
    if fs.exists(file.path):
        fs.mv(file.path, target)
    return target


def stat_file(path_or_url: str) -> InboxFile | None:
    """An inbox file by path, or None when it is gone (set aside by another run)."""
    fs, path = filesystem(path_or_url)
    if not fs.exists(path):
        return None
    info = fs.info(path)
    return InboxFile(
        info["name"],
        posixpath.basename(info["name"]),
        int(info.get("size") or 0),
        _modified(info),
        sha256_file(fs, path),
    )
