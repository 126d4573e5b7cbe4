"""The notebooks in examples/notebooks run headless: nbclient top to bottom, papermill with
parameters, nbconvert to HTML.

papermill and nbconvert run as the commands users type (`python -m papermill`, `python -m nbconvert`);
nbclient runs in the test process, as a library. All three find the kernels by the names stored in
the notebooks, through the test kernelspecs (tests/conftest.py) or, for bash, the spec the bash
kernel installs itself (tests/e2e/kernels.py).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from e2e.kernels import BASH, install_bash_kernelspec, require_bash
from nbclient import NotebookClient

from corefixtures import ipc_config

pytest.importorskip("papermill")
pytest.importorskip("nbconvert")

pytestmark = pytest.mark.timeout(180)

NOTEBOOKS = Path(__file__).resolve().parents[1] / "examples" / "notebooks"


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=150, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{argv[0]} exited {done.returncode}:\n{done.stderr[-4000:]}"
    return done


def papermill(notebook: str, kernel: str, tmp_path: Path, **parameters) -> dict:
    out = tmp_path / f"out-{notebook}"
    args = [a for name, value in parameters.items() for a in ("-p", name, str(value))]
    run(["papermill", str(NOTEBOOKS / notebook), str(out), "-k", kernel, "--cwd", str(tmp_path),
         *args], tmp_path)
    return json.loads(out.read_text())


def stdout_of(cell: dict) -> str:
    return "".join("".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                   for o in cell["outputs"] if o["output_type"] == "stream" and o["name"] == "stdout")


def injected_after_parameters(nb: dict) -> tuple[int, dict]:
    tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
    params = next(i for i, t in enumerate(tags) if "parameters" in t)
    injected = nb["cells"][params + 1]
    assert "injected-parameters" in injected["metadata"].get("tags", []), tags
    return params + 1, injected


@pytest.fixture(scope="module")
def bash_reason(jupyter_path) -> str | None:
    """Why the bash kernel cannot run (None when it can)."""
    return install_bash_kernelspec(jupyter_path)


def text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


#: notebook -> what its run must show: (kind of output, the text or mime type it holds) in order
NBCLIENT_EXPECTED = {
    "parameters_python.ipynb": [("stdout", "hello, world\n"),
                                ("execute_result", "{'name': 'world', 'repeat': 1}")],
    "parameters_bash.ipynb": [("stdout", "hello, world\n")],
    "plot.ipynb": [("display_data", "image/png")],
}


def test_every_example_notebook_has_expectations():
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == set(NBCLIENT_EXPECTED)


@pytest.mark.parametrize("notebook", sorted(NBCLIENT_EXPECTED))
def test_nbclient_runs_example(notebook, tmp_path, bash_reason):
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    kernel = nb.metadata.kernelspec.name
    if kernel == BASH:
        require_bash(bash_reason)
    NotebookClient(nb, timeout=60, config=ipc_config(),
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    seen = []
    for output in (o for c in code for o in c.outputs):
        assert output.output_type != "error", "\n".join(output.traceback)
        if output.output_type == "stream":
            seen.append((output.name, text(output.text)))
        elif output.output_type == "execute_result":
            seen.append(("execute_result", text(output.data["text/plain"])))
        elif output.output_type == "display_data":
            mime = "image/png" if "image/png" in output.data else sorted(output.data)[0]
            seen.append(("display_data", mime))
    assert seen == NBCLIENT_EXPECTED[notebook]
    if notebook == "plot.ipynb":
        png = code[-1].outputs[-1].data["image/png"]
        assert base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_papermill_python_parameters(tmp_path):
    nb = papermill("parameters_python.ipynb", "pykernel", tmp_path, name="Ada", repeat=3)
    i, injected = injected_after_parameters(nb)
    source = "".join(injected["source"])
    assert 'name = "Ada"' in source and "repeat = 3" in source, source
    greet, summary = nb["cells"][i + 1], nb["cells"][i + 2]
    assert stdout_of(greet) == "hello, Ada\n" * 3
    result = next(o for o in summary["outputs"] if o["output_type"] == "execute_result")
    assert "".join(result["data"]["text/plain"]) == "{'name': 'Ada', 'repeat': 3}"
    assert nb["metadata"]["papermill"]["parameters"] == {"name": "Ada", "repeat": 3}


def test_papermill_python_defaults(tmp_path):
    nb = papermill("parameters_python.ipynb", "pykernel", tmp_path)
    greet = next(c for c in nb["cells"] if "for _ in range(repeat)" in "".join(c["source"]))
    assert stdout_of(greet) == "hello, world\n"


def test_papermill_bash_parameters(tmp_path, bash_reason):
    kernel = require_bash(bash_reason)
    nb = papermill("parameters_bash.ipynb", kernel, tmp_path, name="Ada Lovelace", repeat=2)
    i, injected = injected_after_parameters(nb)
    assert "Ada Lovelace" in "".join(injected["source"])
    assert stdout_of(nb["cells"][i + 1]) == "hello, Ada Lovelace\n" * 2


def test_nbconvert_execute_html_has_the_plot(tmp_path):
    # ipc endpoints in the test's own folder: no tcp ports picked before the kernel binds them
    run(["nbconvert", "--KernelManager.transport=ipc", f"--KernelManager.ip={tmp_path / 'k'}",
         "--execute", "--to", "html",
         "--output-dir", str(tmp_path), str(NOTEBOOKS / "plot.ipynb")], tmp_path)
    page = (tmp_path / "plot.html").read_text()
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=\s]+)"', page)
    assert images, "no inline PNG in the exported page"
    assert len(images[0]) > 1000  # a real figure, not an empty placeholder
    assert "Traceback" not in page
