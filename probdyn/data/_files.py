"""Where dataset files live, checksums, and fetching a file into the data directory."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import urllib.request
from pathlib import Path
from typing import BinaryIO

ENV_VAR = "PROBDYN_DATA_DIR"
_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A data file's sha256 differs from the one recorded in the registry."""


def data_dir() -> Path:
    """The directory dataset files are read from (and downloaded into).

    ``$PROBDYN_DATA_DIR`` when set (tests and CI point it at ``shared/data``); otherwise the user
    cache ``$XDG_CACHE_HOME/probdyn``, i.e. ``~/.cache/probdyn`` by default. Files sit at their
    registry path below it, e.g. ``<data_dir>/statsmodels/nile.csv``.

    Returns
    -------
    pathlib.Path
        The directory (it need not exist yet).
    """
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "probdyn"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, sha256: str) -> str:
    """Check ``path`` against ``sha256``; return the digest or raise :class:`ChecksumError`."""
    got = sha256_file(path)
    if got != sha256:
        raise ChecksumError(
            f"checksum mismatch for {path}: expected sha256 {sha256}, got {got}. The file is "
            "corrupt or a different version; delete it and fetch it again "
            "(probdyn.data.load(name, download=True)), or pass verify=False to read it anyway."
        )
    return got


def _copy_verified(src: BinaryIO, dest: Path, sha256: str, origin: str) -> None:
    """Stream ``src`` into ``dest`` through a ``.part`` file; keep it only if the sha256 matches."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    try:
        with open(part, "wb") as out:
            for chunk in iter(lambda: src.read(_CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
        got = h.hexdigest()
        if got != sha256:
            raise ChecksumError(
                f"checksum mismatch for {origin}: expected sha256 {sha256}, got {got}; "
                f"the file was not kept (nothing written to {dest})."
            )
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def package_file_path(package: str, relpath: str) -> Path | None:
    """Path of ``relpath`` inside an installed (importable) package, or None if absent."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relpath
        if candidate.is_file():
            return candidate
    return None


def fetch_url(url: str, dest: Path, sha256: str, timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest``, verifying ``sha256`` (a bad download is deleted)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http/file)
        _copy_verified(response, dest, sha256, url)


def fetch_local(src: Path, dest: Path, sha256: str) -> None:
    """Copy a local file (e.g. from an installed package) to ``dest``, verifying ``sha256``."""
    with open(src, "rb") as f:
        _copy_verified(f, dest, sha256, str(src))
