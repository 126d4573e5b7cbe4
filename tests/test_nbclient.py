"""The Python example notebooks (examples/*.ipynb) run top to bottom under nbclient."""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from corefixtures import ipc_config

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PYTHON_NOTEBOOKS = sorted(p for p in EXAMPLES.glob("*.ipynb")
                          if nbformat.read(p, as_version=4).metadata.get("kernelspec", {})
                          .get("name") == "pykernel")


# nbclient's asyncio client now and then notices an execute_reply only when its wait for it times
# out (ipykernel's notebooks show the same stall); the notebook then goes on normally. A short
# per-cell timeout keeps such a stall from using up the test's own timeout.
CELL_TIMEOUT = 20
pytestmark = pytest.mark.timeout(150)


def run(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="pykernel", config=ipc_config(),
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def outputs(nb, output_type: str | None = None) -> list:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
            if output_type is None or o.output_type == output_type]


def test_there_are_python_examples():
    names = {p.name for p in PYTHON_NOTEBOOKS}
    assert {"python_tour.ipynb", "python_plots.ipynb", "python_widgets.ipynb"} <= names


@pytest.mark.parametrize("path", PYTHON_NOTEBOOKS, ids=lambda p: p.name)
def test_example_runs_without_unexpected_errors(path):
    nb = run(path)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            assert errors, cell.source
        else:
            assert not errors, (cell.source, errors)
        assert cell.execution_count is not None


def test_tour_shows_every_kind_of_output():
    nb = run(EXAMPLES / "python_tour.ipynb")
    kinds = {o.output_type for o in outputs(nb)}
    assert kinds == {"stream", "execute_result", "display_data", "error"}
    mimes = {m for o in outputs(nb) if "data" in o for m in o.data}
    assert {"text/html", "text/markdown", "text/latex", "application/json"} <= mimes
    [error] = outputs(nb, "error")
    assert error.ename == "ZeroDivisionError"
    streams = "".join(o.text for o in outputs(nb, "stream"))
    assert "bash says hello, 42" in streams
    assert "output of a child process" in streams
    assert "the kernel is still here: 0.5" in streams
    # the updated display shows its last state
    assert any(o.get("data", {}).get("text/markdown") == "step **3** of 3" for o in outputs(nb))
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))


def test_plots_are_images():
    nb = run(EXAMPLES / "python_plots.ipynb")
    images = [o.data for o in outputs(nb) if "data" in o and
              ("image/png" in o.data or "image/svg+xml" in o.data)]
    assert len(images) == 4
    assert any("image/svg+xml" in d for d in images)
    png = next(d["image/png"] for d in images if "image/png" in d)
    assert base64.b64decode(png).startswith(b"\x89PNG")


def test_widgets_are_saved_with_their_state():
    nb = run(EXAMPLES / "python_widgets.ipynb")
    views = [o for o in outputs(nb) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) >= 3
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    for view in views:
        assert view.data["application/vnd.jupyter.widget-view+json"]["model_id"] in state
    assert any(s["model_name"] == "IntSliderModel" and s["state"]["value"] == 8
               for s in state.values())
    last = nb.cells[-1].outputs[-1]
    assert last.data["text/plain"] == "'n squared is 64'"
