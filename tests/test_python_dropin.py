"""pykernel as a drop-in for ipykernel: real libraries that look for ipykernel, driven through real
kernel processes, and the habits of ipykernel users.

The library tests run twice: in a kernel where the real ipykernel is importable (it is installed in
the test environment) and in one where it is hidden (`pykernel-without-ipykernel`, see
tests/without_ipykernel/sitecustomize.py); the first test of each checks which of the two it is.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest
from corefixtures import send, wait_pid_exit
from pyfixtures import (execute, iopub_for, outputs, reply_for, run_ok, running_kernel, stdout_of,
                        wait_for_iopub)

pytestmark = pytest.mark.timeout(300)
# A first import of these libraries reads thousands of files (plotly loads nbformat and jsonschema):
# on a loaded machine it has taken 45 s. Cells that import them may take this long (a bound that
# proves "it did not hang", not a measure).
SLOW = 120

for _lib in ("tqdm", "rich", "plotly", "pandas", "bokeh", "pyviz_comms", "ipywidgets", "matplotlib"):
    pytest.importorskip(_lib, reason=f"{_lib} (in the `test` extra) drives these tests")

WITH, WITHOUT = "pykernel", "pykernel-without-ipykernel"


@pytest.fixture(scope="module", params=[WITH, WITHOUT],
                ids=["with-ipykernel", "without-ipykernel"])
def lib_kernel(request):
    with running_kernel(request.param) as (km, kc):
        yield request.param, kc


@pytest.fixture
def kc(lib_kernel):
    client = lib_kernel[1]
    reply, _ = execute(client, "", silent=True, store_history=False)  # idle, nothing left over
    assert reply["content"]["status"] == "ok"
    return client


def of_type(msgs: list[dict], *types: str) -> list[dict]:
    return [m for m in msgs if m["msg_type"] in types]


def send_comm(kc, msg_type: str, content: dict) -> str:
    msg = kc.session.msg(msg_type, content)
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


# ---- the environment, and what start-up loads ------------------------------------------------------


def test_the_real_ipykernel_is_importable_only_in_the_run_that_says_so(lib_kernel):
    name, kc = lib_kernel
    code = ("import sys, ipykernel\n"
            "print(ipykernel.__file__)\n"
            "print(sorted(m for m in sys.modules if m.partition('.')[0] in "
            "('tornado', 'jupyter_client', 'pdb')))\n"
            "try:\n"
            "    import ipykernel.kernelbase as real\n"
            "    print(real.__file__)\n"
            "except ModuleNotFoundError as e:\n"
            "    print('hidden', e.name)\n")
    ours, loaded, real = stdout_of(run_ok(kc, code, timeout=SLOW)).splitlines()
    assert ours.endswith(os.path.join("pykernel", "python", "ipykernel_api", "__init__.py"))
    assert loaded == "[]"  # nothing of ipykernel's own dependencies, nor pdb, at start-up
    if name == WITH:
        assert real.endswith(os.path.join("site-packages", "ipykernel", "kernelbase.py"))
    else:
        assert real == "hidden ipykernel.kernelbase"


def test_code_that_imports_ipykernel_gets_usable_objects(kc):
    code = ("import ipykernel, ipykernel.zmqshell, ipykernel.comm, ipykernel.connect, json\n"
            "print(isinstance(get_ipython(), ipykernel.zmqshell.ZMQInteractiveShell))\n"
            "print(ipykernel.version_info >= (6, 18))\n"
            "print(json.loads(ipykernel.get_connection_info())['shell_port'] > 0)\n"
            "c = ipykernel.comm.Comm(target_name='t', data={'x': 1})\n"
            "print(c.comm_id in get_ipython().kernel.comm_manager.comms)")
    msgs = run_ok(kc, code, timeout=SLOW)
    assert stdout_of(msgs) == "True\nTrue\nTrue\nTrue\n"
    [opened] = of_type(msgs, "comm_open")
    assert opened["content"]["target_name"] == "t" and opened["content"]["data"] == {"x": 1}


def test_the_checks_libraries_make(kc):
    code = ("import sys, os, importlib, pyviz_comms\n"
            "ip = get_ipython()\n"
            "print('ipykernel.zmqshell' in sys.modules)\n"  # tqdm
            "print(type(ip).__name__, type(ip).__module__)\n"  # rich, plotly
            "print('zmq' in str(type(ip)))\n"  # pandas
            "print('IPKernelApp' in ip.config)\n"
            "print(sys.argv[0].endswith('ipykernel_launcher.py'), os.path.isfile(sys.argv[0]))\n"
            "os.environ.pop('_PYVIZ_COMMS_INSTALLED', None)\n"
            "importlib.reload(pyviz_comms)\n"  # its check runs at import
            "print(os.environ.get('_PYVIZ_COMMS_INSTALLED'))")
    assert stdout_of(run_ok(kc, code, timeout=SLOW)).splitlines() == [
        "True", "ZMQInteractiveShell ipykernel.zmqshell", "True", "True", "True True", "None"]


# ---- the libraries, as the frontend sees them ------------------------------------------------------


def test_tqdm_auto_shows_a_progress_widget(kc):
    msgs = run_ok(kc, "from tqdm.auto import tqdm\nfor i in tqdm(range(3)):\n    pass",
                  timeout=SLOW)
    models = [m["content"]["data"]["state"]["_model_name"] for m in of_type(msgs, "comm_open")
              if m["content"]["target_name"] == "jupyter.widget"]
    assert "FloatProgressModel" in models
    [shown] = of_type(msgs, "display_data")
    assert "application/vnd.jupyter.widget-view+json" in shown["content"]["data"]
    assert "\x1b[" not in stdout_of(msgs, "stderr")  # no text progress bar


def test_rich_prints_html(kc):
    msgs = run_ok(kc, "from rich import print as rprint\nrprint('[bold]strong[/bold]')",
                  timeout=SLOW)
    [shown] = of_type(msgs, "display_data")
    html = shown["content"]["data"]["text/html"]
    assert "font-weight: bold" in html and "strong" in html
    assert stdout_of(msgs) == ""


def test_plotly_uses_its_mimetype_renderer_without_the_js_bundle(kc):
    msgs = run_ok(kc, "import plotly.io as pio, plotly.graph_objects as go\n"
                      "print(pio.renderers.default)\n"
                      "go.Figure(go.Scatter(x=[1, 2], y=[3, 4])).show()", timeout=SLOW)
    assert stdout_of(msgs) == "plotly_mimetype\n"
    [shown] = of_type(msgs, "display_data")
    assert "application/vnd.plotly.v1+json" in shown["content"]["data"]
    assert not any("text/html" in m["content"]["data"] for m in of_type(msgs, "display_data"))
    assert sum(len(json.dumps(m["content"])) for m in msgs) < 100_000  # plotly.js is 4.8 MB


def test_pandas_sees_a_notebook_frontend(kc):
    msgs = run_ok(kc, "import pandas as pd\nprint(pd.io.formats.console.in_ipython_frontend())",
                  timeout=SLOW)
    assert stdout_of(msgs) == "True\n"


def test_bokeh_push_notebook_sends_comm_messages(kc):
    msgs = run_ok(kc, "from bokeh.plotting import figure, show\n"
                      "from bokeh.io import output_notebook, push_notebook\n"
                      "output_notebook(hide_banner=True)\n"
                      "p = figure()\nr = p.line([1, 2], [3, 4])\n"
                      "handle = show(p, notebook_handle=True)", timeout=SLOW)
    [opened] = of_type(msgs, "comm_open")
    comm_id = opened["content"]["comm_id"]
    msgs = run_ok(kc, "r.data_source.data = {'x': [1, 2], 'y': [5, 6]}\n"
                      "push_notebook(handle=handle)", timeout=SLOW)
    pushed = of_type(msgs, "comm_msg")
    assert pushed and all(m["content"]["comm_id"] == comm_id for m in pushed)
    assert any("ColumnDataChanged" in json.dumps(m["content"]["data"]) for m in pushed)


def test_pyviz_comms_server_and_client_comms(kc):
    msgs = run_ok(kc, "from pyviz_comms import JupyterComm, JupyterCommJS\n"
                      "server = JupyterComm(id='pv-server')\nserver.send({'a': 1})\n"
                      "got = []\nclient = JupyterCommJS(id='pv-client', on_msg=got.append)", timeout=SLOW)
    [opened] = of_type(msgs, "comm_open")
    assert opened["content"]["target_name"] == "pv-server"
    [sent] = of_type(msgs, "comm_msg")
    assert sent["content"]["data"] == {"a": 1}
    # the frontend opens a comm to the target the client comm registered, and sends on it
    comm_id = uuid.uuid4().hex
    iopub_for(kc, send_comm(kc, "comm_open", {"comm_id": comm_id, "target_name": "pv-client",
                                              "data": {}}))
    msg_id = send_comm(kc, "comm_msg", {"comm_id": comm_id, "data": {"value": 7}})
    ready = wait_for_iopub(kc, msg_id, lambda m: m["msg_type"] == "comm_msg", SLOW)
    assert ready["content"]["comm_id"] == comm_id and ready["metadata"]["msg_type"] == "Ready"
    iopub_for(kc, msg_id)
    assert stdout_of(run_ok(kc, "print([m['value'] for m in got])", timeout=SLOW)) == "[7]\n"


def test_kernel_session_send_publishes_with_the_running_request_as_parent(kc):
    msg_id = kc.execute("k = get_ipython().kernel\n"
                        "_ = k.session.send(k.iopub_socket, 'display_data', {'data': {'text/plain': "
                        "'sent'}, 'metadata': {}}, parent=k.get_parent('shell'))\n"
                        "print(k.session.session == k.session.session_id)")
    msgs = outputs(iopub_for(kc, msg_id))
    assert [m["msg_type"] for m in msgs] == ["display_data", "stream"]  # in program order
    assert msgs[0]["content"]["data"] == {"text/plain": "sent"}
    assert msgs[0]["parent_header"]["msg_id"] == msg_id
    assert stdout_of(msgs) == "True\n"


def test_matplotlib_notebook_backend_talks_over_a_comm(kc):
    run_ok(kc, "%matplotlib notebook", timeout=SLOW)
    msgs = run_ok(kc, "import matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot([1, 2])\n"
                      "plt.show()", timeout=SLOW)
    [opened] = [m for m in of_type(msgs, "comm_open") if m["content"]["target_name"] == "matplotlib"]
    comm_id = opened["content"]["comm_id"]
    # the browser's side: ask for a draw; the figure comes back as an image over the comm
    msg_id = send_comm(kc, "comm_msg", {"comm_id": comm_id, "data": json.dumps(
        {"type": "draw", "figure_id": "x"})})
    image = wait_for_iopub(kc, msg_id, lambda m: m["msg_type"] == "comm_msg" and (
        m["content"]["data"].get("blob") == "image/png" or
        m["content"]["data"].get("data", "").startswith("data:image/png")), SLOW)
    assert image["content"]["comm_id"] == comm_id
    iopub_for(kc, msg_id)
    run_ok(kc, "plt.close('all')", timeout=SLOW)


# ---- habits --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stdout", "stderr"])
def test_undoing_a_redirect_with_sys_dunder_stream_keeps_output_in_the_notebook(kc, name):
    msgs = run_ok(kc, f"import io, sys\nsys.{name} = io.StringIO()\nprint('lost', file=sys.{name})\n"
                      f"sys.{name} = sys.__{name}__\nprint('shown', file=sys.{name})")
    assert stdout_of(msgs, name) == "shown\n"
    assert stdout_of(run_ok(kc, f"print('later', file=sys.{name})"), name) == "later\n"


def answer_debugger(kc, msg_id: str, answers: list[str]) -> list[str]:
    """Answer the debugger's prompts in turn; return the prompts seen."""
    prompts = []
    for answer in answers:
        request = kc.get_stdin_msg(timeout=SLOW)
        assert request["parent_header"]["msg_id"] == msg_id
        prompts.append(request["content"]["prompt"])
        kc.input(answer)
    return prompts


@pytest.mark.parametrize("stop", ["breakpoint()", "import pdb; pdb.set_trace()"])
def test_breakpoint_and_set_trace_start_ipythons_debugger(kc, stop):
    msg_id = kc.execute(f"def f():\n    x = 41\n    {stop}\n    x += 1\n    print('x is', x)\nf()",
                        allow_stdin=True)
    assert answer_debugger(kc, msg_id, ["p x", "c"]) == ["ipdb> ", "ipdb> "]
    assert reply_for(kc, msg_id)["content"]["status"] == "ok"
    msgs = iopub_for(kc, msg_id)
    out = stdout_of(msgs)
    assert "41\n" in out and out.endswith("x is 42\n")
    assert "\x1b[" in out  # the source listing is coloured
    assert stdout_of(run_ok(kc, "import sys\nprint(sys.gettrace())")) == "None\n"


@pytest.mark.parametrize("stop", ["breakpoint()", "import pdb; pdb.set_trace()"])
def test_interrupt_at_the_debugger_prompt_ends_the_cell(fresh_pykernel, stop):
    km, kc = fresh_pykernel
    msg_id = kc.execute(f"x = 41\n{stop}\nx += 1\nprint('ran', 'on')", allow_stdin=True)
    request = kc.get_stdin_msg(timeout=SLOW)
    assert request["content"]["prompt"] == "ipdb> "
    km.interrupt_kernel()
    reply = reply_for(kc, msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert "ran on\n" not in stdout_of(iopub_for(kc, msg_id))
    assert stdout_of(run_ok(kc, "import sys\nprint(x, sys.gettrace())")) == "41 None\n"


def test_python_breakpoint_env_chooses_another_debugger():
    with running_kernel("pykernel", env={"PYTHONBREAKPOINT": "0"}) as (_, kc):
        assert stdout_of(run_ok(kc, "breakpoint()\nprint('not stopped')")) == "not stopped\n"


def test_exit_ends_the_kernel_process_when_the_frontend_does_not(fresh_pykernel):
    km, kc = fresh_pykernel  # as JupyterLab: it ignores ask_exit, and restarts a kernel that died
    pid = km.provisioner.process.pid
    reply, _ = execute(kc, "quit()")
    assert reply["content"]["payload"] == [{"source": "ask_exit", "keepkernel": False}]
    assert wait_pid_exit(pid)


def test_exit_keep_kernel_keeps_it(kc):
    reply, _ = execute(kc, "exit(keep_kernel=True)")
    assert reply["content"]["payload"] == [{"source": "ask_exit", "keepkernel": True}]
    assert stdout_of(run_ok(kc, "print('still here')")) == "still here\n"


def test_a_shutdown_request_after_exit_is_answered(fresh_pykernel):
    km, kc = fresh_pykernel
    pid = km.provisioner.process.pid
    execute(kc, "exit")
    shutdown = send(kc, "control", "shutdown_request", {"restart": False})
    assert reply_for(kc, shutdown, channel="control")["content"]["status"] == "ok"
    assert wait_pid_exit(pid)


def test_session_name_from_jupyter_server():
    with running_kernel("pykernel", env={"JPY_SESSION_NAME": "/work/analysis.ipynb"}) as (_, kc):
        assert stdout_of(run_ok(kc, "print(__session__)")) == "/work/analysis.ipynb\n"
        run_ok(kc, "%reset -f")
        assert stdout_of(run_ok(kc, "print(__session__)")) == "/work/analysis.ipynb\n"


def test_a_refused_gui_backend_leaves_matplotlib_as_it_was(fresh_pykernel):
    _, kc = fresh_pykernel
    reply, msgs = execute(kc, "%matplotlib tk", timeout=SLOW)
    assert reply["content"]["status"] == "error"
    assert "no 'tk' event loop integration" in stdout_of(msgs, "stderr")
    out = run_ok(kc, "import matplotlib\nprint(matplotlib.get_backend())\n"
                     "print(get_ipython().pylab_gui_select)", timeout=SLOW)
    assert stdout_of(out) == "module://matplotlib_inline.backend_inline\nNone\n"
    shown = run_ok(kc, "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",
                   timeout=SLOW)
    assert any("image/png" in m["content"]["data"] for m in of_type(shown, "display_data"))


def test_exit_under_a_restarting_manager_gives_a_fresh_kernel():
    """JupyterLab's side: jupyter-server's kernel manager restarts a kernel whose process ended."""
    import asyncio

    from jupyter_client.ioloop import AsyncIOLoopKernelManager

    async def scenario() -> str:
        km = AsyncIOLoopKernelManager(kernel_name="pykernel")
        await km.start_kernel()
        restarted = asyncio.Event()
        km.add_restart_callback(restarted.set, "restart")
        km.start_restarter()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=30)
            await kc.execute_interactive("x = 1\nexit()", timeout=30)
            await asyncio.wait_for(restarted.wait(), 30)
            kc.stop_channels()
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=30)
            out: list[str] = []
            await kc.execute_interactive("print('x' in dir())", timeout=30, output_hook=lambda m: (
                m["msg_type"] == "stream" and out.append(m["content"]["text"])))
            return "".join(out)
        finally:
            kc.stop_channels()
            km.stop_restarter()
            await km.shutdown_kernel(now=True)

    assert asyncio.run(scenario()) == "False\n"
