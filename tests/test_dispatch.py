"""The kernel core's dispatch, with an in-memory transport: no processes, no sockets."""

import threading

import pytest

from pykernel.kernel import Kernel, error_content
from pykernel.transport import ConnectionInfo, Wakeup
from pykernel.wire import Message, Session


class MemoryTransport:
    """What the core needs of a transport, kept in lists."""

    def __init__(self, session):
        self.session = session
        self.info = ConnectionInfo.new()
        self.published, self.shell_sent, self.control_sent = [], [], []
        self.queued: list = []
        self.shell_wakeup, self.control_wakeup = Wakeup(), Wakeup()

    def publish(self, frames):
        self.published.append(self.session.deserialize(frames))

    def send_shell(self, frames):
        self.shell_sent.append(self.session.deserialize(frames))

    def send_control(self, frames):
        self.control_sent.append(self.session.deserialize(frames))

    def claim_shell(self):
        pass

    def recv_shell_nowait(self):
        out, self.queued = self.queued, []
        return out


class Lang(Kernel):
    def do_execute(self, ex):
        if ex.code == "fail":
            return error_content("Failed", "as asked")
        if ex.code == "crash":
            raise RuntimeError("a bug in the language")
        self.publish_stream("stdout", ex.code)
        return {"status": "ok"}


@pytest.fixture
def kernel():
    session = Session(b"")
    k = Lang(MemoryTransport(session), session)
    yield k
    k.streams.close()


client = Session(b"")


def request(msg_type, **content):
    return Message(client.header(msg_type), {}, {}, content, identities=[b"client"])


def states(kernel):
    return [(m.msg_type, m.content.get("execution_state")) for m in kernel.transport.published]


def test_busy_handler_idle_for_every_request(kernel):
    kernel.dispatch(request("kernel_info_request"), "shell", kernel.shells.main)
    assert states(kernel) == [("status", "busy"), ("status", "idle")]
    reply, = kernel.transport.shell_sent
    assert reply.msg_type == "kernel_info_reply"
    assert reply.identities == [b"client"]


def test_output_is_flushed_before_reply_and_idle(kernel):
    req = request("execute_request", code="hello")
    kernel.dispatch(req, "shell", kernel.shells.main)
    assert [m.msg_type for m in kernel.transport.published] == [
        "status", "execute_input", "stream", "status"]
    assert all(m.parent_header["msg_id"] == req.msg_id for m in kernel.transport.published)


def test_language_bug_becomes_an_error_reply_and_error_output(kernel):
    kernel.dispatch(request("execute_request", code="crash"), "shell", kernel.shells.main)
    reply, = kernel.transport.shell_sent
    assert reply.content["status"] == "error"
    assert reply.content["ename"] == "RuntimeError"
    assert "error" in [m.msg_type for m in kernel.transport.published]


def test_control_refuses_execute(kernel):
    kernel.dispatch(request("execute_request", code="x"), "control")
    reply, = kernel.transport.control_sent
    assert reply.content["status"] == "error"
    assert reply.content["ename"] == "UnknownMessageType"


def test_comm_messages_get_no_reply(kernel):
    kernel.dispatch(request("comm_msg", comm_id="x", data={}), "shell", kernel.shells.main)
    assert kernel.transport.shell_sent == []
    assert states(kernel) == [("status", "busy"), ("status", "idle")]


def test_stop_on_error_aborts_only_queued_executes(kernel):
    queued = [request("execute_request", code="a"), request("kernel_info_request"),
              request("execute_request", code="b")]
    kernel.transport.queued = list(queued)
    kernel.dispatch(request("execute_request", code="fail"), "shell", kernel.shells.main)
    statuses = [m.content["status"] for m in kernel.transport.shell_sent]
    assert statuses == ["error", "aborted", "aborted"]
    assert [m.msg_type for m in kernel.shells.main.pending] == ["kernel_info_request"]
    kernel.shells.main.run_pending()
    assert kernel.transport.shell_sent[-1].msg_type == "kernel_info_reply"


def test_stop_on_error_never_aborts_what_arrives_after_the_error_reply(kernel):
    """A frontend that sends its next cell the moment it sees the error reply: that cell must run.
    Here it becomes readable on the socket exactly when the reply is sent."""
    transport = kernel.transport
    answer = request("execute_request", code="next")
    pipelined = request("execute_request", code="queued before")
    transport.queued = [pipelined]
    send_shell = transport.send_shell

    def send_and_answer(frames):
        send_shell(frames)
        if transport.shell_sent[-1].content.get("status") == "error":
            transport.queued.append(answer)
    transport.send_shell = send_and_answer
    kernel.dispatch(request("execute_request", code="fail"), "shell", kernel.shells.main)
    assert [m.content["status"] for m in transport.shell_sent] == ["error", "aborted"]
    assert transport.shell_sent[1].parent_header["msg_id"] == pipelined.msg_id
    assert transport.queued == [answer]  # still unread: it runs as the next request
    kernel.dispatch(transport.recv_shell_nowait()[0], "shell", kernel.shells.main)
    assert transport.shell_sent[-1].content["status"] == "ok"


def test_execution_count_is_shared_and_thread_safe(kernel):
    def run():
        for _ in range(200):
            kernel.dispatch(request("execute_request", code=""), "shell", kernel.shells.main)
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kernel.execution_count == 800
    counts = sorted(m.content["execution_count"] for m in kernel.transport.shell_sent)
    assert counts == list(range(1, 801))


# ---- names: core and language never share one ------------------------------------------------------

def public_methods(cls) -> set[str]:
    """The public methods and properties of a class (its API), inherited ones included."""
    return {name for name in dir(cls) if not name.startswith("_") and (
        callable(getattr(cls, name, None)) or isinstance(getattr(cls, name, None), property))}


def test_core_tiers_are_disjoint_and_cover_the_core():
    from pykernel import kernel as core
    tiers = [core.HANDLERS, core.HOOKS, core.ACTIONS, core.PLUMBING]
    for i, a in enumerate(tiers):
        for b in tiers[i + 1:]:
            assert not a & b
    everything = set().union(*tiers)
    assert everything <= public_methods(Kernel)
    # a new public method must be given a tier (Configurable's own methods are not the core's)
    from traitlets.config import Configurable
    assert public_methods(Kernel) - public_methods(Configurable) <= everything
    session = Session(b"")
    k = Kernel(MemoryTransport(session), session)
    assert set(k.shell_handlers) | set(k.control_handlers) == core.HANDLERS
    k.streams.close()


def test_wrapper_hooks_and_api_never_equal_a_core_name():
    from pykernel import kernel as core
    from pykernel.wrapper import WrapperKernel
    from pykernel.wrapper import kernel as wrapper
    core_names = core.HANDLERS | core.HOOKS | core.ACTIONS | core.PLUMBING
    assert not wrapper.HOOKS & wrapper.API
    assert not (wrapper.HOOKS | wrapper.API) & core_names
    assert not (wrapper.HOOKS | wrapper.API) & public_methods(Kernel)
    assert wrapper.HOOKS | wrapper.API <= public_methods(WrapperKernel)
    from traitlets.config import Configurable
    added = public_methods(WrapperKernel) - public_methods(Kernel) - public_methods(Configurable)
    assert added <= wrapper.HOOKS | wrapper.API
    # WrapperKernel implements core hooks, and overrides no core action or handler
    overridden = {name for name in vars(WrapperKernel) if name in core_names}
    assert overridden <= core.HOOKS | core.PLUMBING
    assert not overridden & (core.ACTIONS | core.HANDLERS)


def test_a_wrapper_language_cannot_replace_a_core_action():
    from pykernel.wrapper import WrapperKernel
    with pytest.raises(TypeError, match="send_interrupt"):
        type("Bad", (WrapperKernel,), {"send_interrupt": lambda self: None})
    with pytest.raises(TypeError, match="execute_request"):
        type("Bad", (WrapperKernel,), {"execute_request": lambda self, req: None})
    # its own hooks are fine
    type("Good", (WrapperKernel,), {"interrupt": lambda self: None, "shutdown": lambda self, r: 0})
