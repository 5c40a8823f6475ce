"""The ``probdyn`` command line: datasets, reproductions and the demo.

``probdyn datasets [NAME] [--download]``, ``probdyn reproduce NAME [--quick] [--seed S]
[--json PATH] [--out DIR]``, ``probdyn reproduce --list`` and ``probdyn demo [--out DIR]
[--quick]``. Unknown dataset or experiment names print the valid names and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__

EXIT_USAGE = 2


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text table with left-aligned columns."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _error(message: str) -> int:
    print(f"probdyn: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"seed must be a non-negative integer, got {value}")
    return value


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


# ------------------------------------------------------------------------------------ datasets


def _cmd_datasets(args: argparse.Namespace) -> int:
    from . import data

    if args.name is None:
        rows = []
        for name in data.list_datasets():
            info = data.describe(name)
            avail = "yes" if info.available() else "no"
            rows.append([name, info.frequency, info.size, avail, info.description])
        print(_table(["name", "frequency", "size", "available", "description"], rows))
        print(f"\ndata directory: {data.data_dir()} (set ${data.ENV_VAR} to change it)")
        return 0

    try:
        info = data.describe(args.name)
    except data.UnknownDatasetError as err:
        return _error(str(err))
    if args.download and not info.available():
        try:
            print(f"fetched {data.fetch(args.name)}")
        except (OSError, data.ChecksumError) as err:  # no network, bad download, no source
            print(f"probdyn: error: could not fetch {args.name!r}: {err}", file=sys.stderr)
            return 1
    fields = [
        ("name", info.name),
        ("description", info.description),
        ("frequency", info.frequency),
        ("size", info.size),
        ("units", info.units),
        ("source", info.source),
        ("licence", info.licence),
        ("citation", info.citation),
        ("file", str(info.local_path())),
        ("sha256", info.sha256 or "not yet recorded (the file cannot be verified)"),
        ("url", info.url or "-"),
        ("available", "yes" if info.available() else "no"),
    ]
    width = max(len(k) for k, _ in fields)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in fields))
    if not info.available():
        print(f"\nto get the file: {info.how_to_obtain()}")
        return 0
    try:
        ds = data.load(args.name)
    except data.ChecksumError as err:
        print(f"probdyn: error: {err}", file=sys.stderr)
        return 1
    print("\ndims: " + ", ".join(f"{d}={n}" for d, n in ds.sizes.items()))
    for var_name, var in ds.data_vars.items():
        units = var.attrs.get("units", "")
        print(f"\n{var_name} ({units}), first rows:")
        print(var.to_pandas().head(args.head).to_string())
    return 0


# ----------------------------------------------------------------------------------- reproduce


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from . import reproduce

    experiments = reproduce.list_experiments()
    if args.list:
        if not experiments:
            print("no experiments registered")
            return 0
        print(_table(["name", "description"], [[e.name, e.description] for e in experiments]))
        return 0
    if args.name is None:
        names = ", ".join(e.name for e in experiments) or "(none registered)"
        return _error(f"give an experiment name or --list; valid names: {names}")
    try:
        reproduce.get_experiment(args.name)
    except reproduce.UnknownExperimentError as err:
        return _error(str(err))

    out = Path(args.out) if args.out is not None else Path("probdyn-output") / args.name
    result = reproduce.run_experiment(args.name, quick=args.quick, seed=args.seed, out=out)
    print(f"experiment {args.name}  (quick={args.quick}, seed={args.seed})")
    print("settings: " + json.dumps(result.settings, sort_keys=True))
    rows = []
    for row in result.rows:
        measured, published = row["measured"], row["published"]
        rel = "-"
        if published is not None and published != 0:
            rel = f"{100 * (measured - published) / abs(published):+.1f}%"
        rows.append([row["method"], row["metric"], _fmt(measured), _fmt(published), rel])
    print(_table(["method", "metric", "measured", "published", "rel. diff"], rows))
    for path in result.write_datasets(args.name, out):
        print(f"wrote {path}")
    if args.json is not None:
        print(f"wrote {result.write_json(args.name, args.json)}")
    return 0


# ---------------------------------------------------------------------------------------- demo


def _cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    try:
        summary = demo.run(out_dir=Path(args.out), quick=args.quick)
    except OSError as e:  # the CO2 file is neither in the data directory nor downloadable
        print(f"probdyn demo: cannot get the Mauna Loa CO2 data: {e}", file=sys.stderr)
        print("Set PROBDYN_DATA_DIR to a folder with the probdyn datasets (see `probdyn "
              "datasets co2`), or run once with network access.", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, default=str))
    return 0


# ---------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``probdyn`` command."""
    parser = argparse.ArgumentParser(
        prog="probdyn",
        description="Probabilistic modelling of dynamical systems on Pyro.",
    )
    parser.add_argument("--version", action="version", version=f"probdyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("datasets", help="list registered datasets, or describe one")
    p.add_argument("name", nargs="?", help="dataset to describe (attrs, dims, first rows)")
    p.add_argument("--download", action="store_true", help="fetch the file if it is missing")
    p.add_argument("--head", type=int, default=5, help="rows to show (default 5)")
    p.set_defaults(handler=_cmd_datasets)

    p = sub.add_parser("reproduce", help="run a reproduction of published results")
    p.add_argument("name", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--json", type=Path, metavar="PATH", help="write settings and rows as JSON")
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default ./probdyn-output/NAME)"
    )
    p.set_defaults(handler=_cmd_reproduce)

    p = sub.add_parser("demo", help="run the demo (main job) and print its summary")
    p.add_argument("--out", default="probdyn-output/demo", metavar="DIR", help="output folder")
    p.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    p.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``probdyn`` command; returns the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return args.handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
