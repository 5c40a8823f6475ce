"""Where dataset files live, checksums, and fetching a file into the data directory."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import urllib.request
import warnings
from pathlib import Path
from typing import BinaryIO

ENV_VAR = "PROBDYN_DATA_DIR"
_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A data file's sha256 differs from the one recorded in the registry."""


class UnverifiedDatasetWarning(UserWarning):
    """A dataset file was read or fetched although its sha256 is not recorded in the registry,
    so it could not be verified; the message gives the digest of the file."""


def warn_unverified(name: str, path: Path | str, digest: str, action: str) -> None:
    """Warn that ``path`` (dataset ``name``) was ``action`` without a recorded checksum."""
    warnings.warn(
        f"dataset {name!r}: {action} {path} without verifying it: the registry has no sha256 "
        f"for this file yet. Its sha256 is {digest}; compare it with a trusted copy and report "
        "it so it can be recorded.",
        UnverifiedDatasetWarning,
        stacklevel=3,
    )


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


def _copy_verified(src: BinaryIO, dest: Path, sha256: str | None, origin: str) -> str:
    """Stream ``src`` into ``dest`` through a ``.part`` file; keep it only if the sha256 matches
    (``sha256=None``: not recorded, kept unverified). Returns the digest of the bytes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    try:
        with open(part, "wb") as out:
            for chunk in iter(lambda: src.read(_CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
        got = h.hexdigest()
        if sha256 is not None and got != sha256:
            raise ChecksumError(
                f"checksum mismatch for {origin}: expected sha256 {sha256}, got {got}; "
                f"the file was not kept (nothing written to {dest})."
            )
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return got


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


def fetch_url(url: str, dest: Path, sha256: str | None, timeout: float = 60.0) -> str:
    """Download ``url`` to ``dest``, verifying ``sha256`` (a bad download is deleted; None:
    not recorded, nothing to verify). Returns the digest of the downloaded bytes."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http/file)
        return _copy_verified(response, dest, sha256, url)


def fetch_local(src: Path, dest: Path, sha256: str | None) -> str:
    """Copy a local file (e.g. from an installed package) to ``dest``, verifying ``sha256``;
    returns the digest."""
    with open(src, "rb") as f:
        return _copy_verified(f, dest, sha256, str(src))
