"""Every notebook in tutorials/ runs end to end in smoke mode (PROBDYN_TUTORIAL_SMOKE=1: the same
code at tiny sizes), so the tutorials never rot. A notebook lists the datasets it reads in its
metadata (``{"probdyn": {"datasets": [...]}}``); it is skipped when one is not available."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from probdyn import data

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("*.ipynb"))


def test_tutorials_exist():
    assert TUTORIALS, "tutorials/ has no notebooks"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_smoke_mode(path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    needed = nb.metadata.get("probdyn", {}).get("datasets", [])
    missing = [name for name in needed if not data.describe(name).available()]
    if missing:
        pytest.skip(f"datasets {missing} not available (set PROBDYN_DATA_DIR)")
    monkeypatch.setenv("PROBDYN_TUTORIAL_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel is a new process: as in conftest
    # the kernel runs in tutorials/: without this it would import an installed probdyn (e.g.
    # another checkout's editable install) instead of the one under test
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, with the failing cell, on any error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
