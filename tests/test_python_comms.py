"""Comms on the Python kernel: the `comm` package's API, both directions, buffers, ipywidgets."""

from __future__ import annotations

import uuid

from pyfixtures import iopub_for, request, run_ok, stdout_of, wait_for_iopub


def send_comm(kc, msg_type: str, content: dict, buffers: list | None = None) -> str:
    """Send comm_open / comm_msg / comm_close on shell (no reply comes); return its msg_id."""
    msg = kc.session.msg(msg_type, content)
    kc.session.send(kc.shell_channel.socket, msg, buffers=buffers or [])
    return msg["header"]["msg_id"]


def comm_ids(kc, target_name: str | None = None) -> dict:
    content = {} if target_name is None else {"target_name": target_name}
    reply = request(kc, "comm_info_request", content)
    assert reply["content"]["status"] == "ok"
    return reply["content"]["comms"]


def test_kernel_opened_comm_sends_open_msg_close_with_buffers(kc):
    code = ("import comm\n"
            "c = comm.create_comm(target_name='from_kernel', data={'a': 1})\n"
            "c.send({'b': 2}, buffers=[b'xyz', memoryview(b'uvw')])")
    msgs = run_ok(kc, code)
    opened, sent = msgs
    assert opened["msg_type"] == "comm_open"
    assert opened["content"]["target_name"] == "from_kernel"
    assert opened["content"]["data"] == {"a": 1}
    comm_id = opened["content"]["comm_id"]
    assert sent["msg_type"] == "comm_msg"
    assert sent["content"] == {"data": {"b": 2}, "comm_id": comm_id}
    assert [bytes(b) for b in sent["buffers"]] == [b"xyz", b"uvw"]
    assert comm_ids(kc, "from_kernel") == {comm_id: {"target_name": "from_kernel"}}
    [closed] = run_ok(kc, "c.close()")
    assert closed["msg_type"] == "comm_close" and closed["content"]["comm_id"] == comm_id
    assert comm_ids(kc, "from_kernel") == {}


def test_frontend_opened_comm_reaches_its_target_and_replies(kc):
    run_ok(kc, "import comm\n"
               "events = []\n"
               "def target(c, msg):\n"
               "    events.append(('open', msg['content']['data']))\n"
               "    c.send({'echo': msg['content']['data']})\n"
               "    @c.on_msg\n"
               "    def _(m):\n"
               "        print('got', m['content']['data'])\n"
               "        c.send({'n': len(m['buffers'])}, buffers=[bytes(m['buffers'][0])[::-1]])\n"
               "    c.on_close(lambda m: events.append(('close', m['content']['data'])))\n"
               "comm.get_comm_manager().register_target('echo', target)")
    comm_id = uuid.uuid4().hex
    open_id = send_comm(kc, "comm_open", {"comm_id": comm_id, "target_name": "echo",
                                          "data": {"x": 1}})
    echoed = wait_for_iopub(kc, open_id, lambda m: m["msg_type"] == "comm_msg")
    assert echoed["content"] == {"data": {"echo": {"x": 1}}, "comm_id": comm_id}
    iopub_for(kc, open_id)
    assert comm_ids(kc, "echo") == {comm_id: {"target_name": "echo"}}
    assert comm_id in comm_ids(kc)
    assert comm_id not in comm_ids(kc, "other")

    msg_id = send_comm(kc, "comm_msg", {"comm_id": comm_id, "data": {"y": 2}}, buffers=[b"abc"])
    msgs = iopub_for(kc, msg_id)
    assert stdout_of(msgs) == "got {'y': 2}\n"
    [reply] = [m for m in msgs if m["msg_type"] == "comm_msg"]
    assert reply["content"]["data"] == {"n": 1}
    assert [bytes(b) for b in reply["buffers"]] == [b"cba"]

    close_id = send_comm(kc, "comm_close", {"comm_id": comm_id, "data": {"bye": True}})
    iopub_for(kc, close_id)
    assert comm_id not in comm_ids(kc)
    [result] = run_ok(kc, "events")
    assert result["content"]["data"]["text/plain"] == "[('open', {'x': 1}), ('close', {'bye': True})]"


def test_comm_open_for_an_unknown_target_is_closed_again(kc):
    comm_id = uuid.uuid4().hex
    msg_id = send_comm(kc, "comm_open", {"comm_id": comm_id, "target_name": "no-such-target",
                                         "data": {}})
    msgs = iopub_for(kc, msg_id)
    assert [m["content"]["comm_id"] for m in msgs if m["msg_type"] == "comm_close"] == [comm_id]
    assert comm_id not in comm_ids(kc)


def test_messages_for_unknown_comms_are_ignored(kc):
    msg_id = send_comm(kc, "comm_msg", {"comm_id": "nope", "data": {}})
    assert [m["msg_type"] for m in iopub_for(kc, msg_id)] == ["status", "status"]
    assert run_ok(kc, "'alive'")


def test_widget_state_syncs_both_ways(kc):
    msgs = run_ok(kc, "import ipywidgets as widgets\n"
                      "slider = widgets.IntSlider(value=3)\n"
                      "slider.observe(lambda change: print('now', change['new']), 'value')\n"
                      "slider")
    opens = [m for m in msgs if m["msg_type"] == "comm_open"]
    assert {m["content"]["target_name"] for m in opens} == {"jupyter.widget"}
    [model] = [m for m in opens if m["content"]["data"]["state"]["_model_name"] == "IntSliderModel"]
    comm_id = model["content"]["comm_id"]
    assert model["content"]["data"]["state"]["value"] == 3
    [result] = [m for m in msgs if m["msg_type"] == "execute_result"]
    view = result["content"]["data"]["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == comm_id
    assert comm_id in comm_ids(kc, "jupyter.widget")

    msg_id = send_comm(kc, "comm_msg", {"comm_id": comm_id, "data": {
        "method": "update", "state": {"value": 7}, "buffer_paths": []}})
    assert stdout_of(iopub_for(kc, msg_id)) == "now 7\n"
    [result] = run_ok(kc, "slider.value")
    assert result["content"]["data"]["text/plain"] == "7"

    # a change made by the kernel is sent to the frontend
    msgs = run_ok(kc, "slider.value = 9")
    updates = [m for m in msgs if m["msg_type"] == "comm_msg"]
    assert updates[0]["content"]["data"]["state"] == {"value": 9}


def test_output_widget_captures_under_the_running_request(kc):
    msg_id = kc.execute("import ipywidgets as widgets\n"
                        "out = widgets.Output()\n"
                        "with out:\n"
                        "    print(out.msg_id)")
    msgs = iopub_for(kc, msg_id)
    assert stdout_of(msgs) == f"{msg_id}\n"
    [result] = run_ok(kc, "out.msg_id")
    assert result["content"]["data"]["text/plain"] == "''"
