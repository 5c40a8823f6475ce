"""MkDocs hooks for the probdyn site (registered in mkdocs.yml under ``hooks:``).

- Adds the notebooks of ``tutorials/`` (at the repository root, outside ``docs/``) to the site
  as ``tutorials/<name>.ipynb``, before mkdocs-jupyter converts them (event priority 100), so a
  tutorial is published by one nav line in mkdocs.yml.
- Replaces the marker ``<!-- probdyn:datasets-table -->`` by a table built from the dataset
  registry, so the docs list exactly what ``probdyn.data`` registers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
DATASETS_MARKER = "<!-- probdyn:datasets-table -->"


@event_priority(100)
def on_files(files, config):
    for notebook in sorted(TUTORIALS.glob("*.ipynb")):
        uri = f"tutorials/{notebook.name}"
        if files.get_file_from_path(uri) is None:
            files.append(
                File(uri, str(ROOT), config["site_dir"], config["use_directory_urls"])
            )
    return files


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _datasets_table() -> str:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from probdyn import data

    lines = [
        "| name | description | frequency | size | file | licence | cite |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in data.list_datasets():
        info = data.describe(name)
        cells = [f"`{name}`", info.description, info.frequency, info.size,
                 f"`{info.path}`", info.licence, info.citation]  # fmt: skip
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    if DATASETS_MARKER in markdown:
        markdown = markdown.replace(DATASETS_MARKER, _datasets_table())
    return markdown
