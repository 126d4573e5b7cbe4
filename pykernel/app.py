"""The kernel process: command line, config, connection file, logging, and `launch`.

`launch(KernelClass)` is the entry point of every language built on pykernel:

    python -m LANGUAGE -f CONNECTION_FILE [--debug] [--ip IP] [--transport tcp|ipc] [--Class.trait=V]
    python -m LANGUAGE -f REGISTRATION_FILE ...    (JEP 66: binds its own ports; see handshake.py)
    python -m LANGUAGE --kernel-id ID --response-address IP:PORT --public-key K [--port-range L..H]
                                                   (Enterprise Gateway, gateway_provisioners: remote.py)
    python -m LANGUAGE install [--user | --sys-prefix | --prefix P] [--name N] [--display-name D] ...
    python -m LANGUAGE uninstall [--name N]

Anything else on the command line (a misspelt command, an unknown option or Class.trait) is an error
with exit status 2, found before a socket is bound or a connection file written (see cli.py).
Config comes from `pykernel_config.py` / `.json` in the Jupyter config path, `--config FILE`, and
`--Class.trait=value` on the command line, as with any traitlets application.

Before anything is bound the connection is checked (transport.security_check): an empty key on an
address other machines can reach is refused (exit status 2), weaker set-ups are warned about on
stderr. README.md, Security, says why.
"""

from __future__ import annotations

import logging
import os
import select
import sys
from typing import Sequence

from traitlets import Bool, CaselessStrEnum, Float, Integer, Unicode
from traitlets.config import Application

from . import __version__
from . import cli, handshake, kernelspec, procs, remote
from .kernelspec import user_data_dir
from .transport import (IOPUB_HWM, IOPUB_STALL_TIMEOUT, ConnectionInfo, Transport,
                        security_check)
from .wire import Session

log = logging.getLogger("pykernel")


def jupyter_config_path() -> list[str]:
    """Where Jupyter looks for config files, most specific first."""
    home = os.environ.get("JUPYTER_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".jupyter")
    extra = [p for p in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    system = [os.path.join(sys.prefix, "etc", "jupyter"), "/usr/local/etc/jupyter", "/etc/jupyter"]
    return [home, *extra, *system]


def jupyter_runtime_dir() -> str:
    return os.environ.get("JUPYTER_RUNTIME_DIR") or os.path.join(user_data_dir(), "runtime")


class KernelApp(Application):
    name = "pykernel"
    version = __version__
    description = "A Jupyter kernel. Frontends start it with a connection file (-f)."

    connection_file = Unicode("", help="The connection file to read; written with fresh ports "
                              "and key if it does not exist.").tag(config=True)
    ip = Unicode("127.0.0.1", help="The address to bind when writing a new connection file."
                 ).tag(config=True)
    transport = CaselessStrEnum(["tcp", "ipc"], "tcp", help="Transport when writing a new "
                                "connection file.").tag(config=True)
    config_file = Unicode("", help="A config file to load beside the default ones.").tag(config=True)
    parent_pid = Integer(0, help="Exit when this process dies (default: $JPY_PARENT_PID)."
                         ).tag(config=True)
    watch_parent = Bool(True, help="Exit when the parent process dies.").tag(config=True)
    iopub_hwm = Integer(IOPUB_HWM, help="iopub messages queued for one subscriber before the "
                        "kernel waits for it (see pykernel/transport.py).").tag(config=True)
    iopub_stall_timeout = Float(IOPUB_STALL_TIMEOUT, help="Seconds output waits for an iopub "
                                "subscriber that does not read before it is skipped until it "
                                "reads again (the request then ends with a notice on stderr)."
                                ).tag(config=True)
    registration_timeout = Float(10.0, help="Seconds to wait for the launcher's acknowledgement "
                                 "when started with a registration file (JEP 66).").tag(config=True)

    aliases = {
        "f": "KernelApp.connection_file",
        "connection-file": "KernelApp.connection_file",
        "ip": "KernelApp.ip",
        "transport": "KernelApp.transport",
        "config": "KernelApp.config_file",
        "parent-pid": "KernelApp.parent_pid",
        "log-level": "Application.log_level",
    }
    flags = {
        "debug": ({"Application": {"log_level": logging.DEBUG}}, "Log everything, to stderr."),
        "no-parent-watch": ({"KernelApp": {"watch_parent": False}},
                            "Keep running when the parent process dies."),
    }

    def __init__(self, kernel_class: type, **kwargs):
        super().__init__(**kwargs)
        self.kernel_class = kernel_class
        self.classes = [KernelApp, kernel_class, *kernel_class.configurables()]

    def initialize(self, argv: Sequence[str] | None = None, **kernel_kwargs) -> None:
        """Read the command line and config, then build the transport and the kernel
        (`kernel_kwargs` go to the kernel class)."""
        self.parse_command_line(argv)
        if self.extra_args:  # a word that is no option: launch() reports it, nothing starts
            return
        cl_config = self.config
        for path in jupyter_config_path()[::-1]:
            self.load_config_file("pykernel_config", path=path)
        if self.config_file:
            self.load_config_file(os.path.abspath(self.config_file))
        self.update_config(cl_config)  # the command line wins over files
        self._setup_logging()
        info, wrote = self._connection_info()
        refusal, warnings = security_check(info)
        if refusal:
            log.error("%s", refusal)
            self.exit(2)
        for text in warnings:
            log.warning("%s", text)
        self.session = Session(info.key.encode(), info.signature_scheme)
        port_range = self.remote_options.port_range if self.remote_options else None
        self.transport_ = Transport(info, self.session, port_range, iopub_hwm=self.iopub_hwm,
                                    iopub_stall_timeout=self.iopub_stall_timeout)
        if self.registration is not None:
            self._register()
        if wrote:
            info.write(self.connection_file)
            print(f"To connect a client: --existing {self.connection_file}", file=sys.stderr)
        self.kernel = self.kernel_class(transport=self.transport_, session=self.session,
                                        parent=self, **kernel_kwargs)
        if self.remote_options is not None:
            self._announce()

    def _setup_logging(self) -> None:
        handler = logging.StreamHandler(sys.__stderr__)
        handler.setFormatter(logging.Formatter("[%(name)s %(levelname)s %(asctime)s] %(message)s"))
        log.handlers[:] = [handler]
        log.setLevel(self.log_level)
        log.propagate = False

    registration: handshake.Registration | None = None
    remote_options: remote.RemoteOptions | None = None  # set by `launch` (see remote.py)
    comm_port: remote.CommPort | None = None

    def _connection_info(self) -> tuple[ConnectionInfo, bool]:
        if self.remote_options is not None:
            # reachable from the engine's host unless --ip says otherwise
            ip = self.ip if "ip" in self.config.get("KernelApp", {}) else "0.0.0.0"
            return ConnectionInfo.new(ip, self.transport), False
        if self.connection_file and os.path.exists(self.connection_file):
            data = handshake.read_file(self.connection_file)
            if handshake.Registration.is_registration(data):
                self.registration = handshake.Registration.from_dict(data, self.connection_file)
                return self.registration.connection_info(), False
            return ConnectionInfo.read(self.connection_file), False
        if not self.connection_file:
            runtime = jupyter_runtime_dir()
            os.makedirs(runtime, mode=0o700, exist_ok=True)
            self.connection_file = os.path.join(runtime, f"kernel-{os.getpid()}.json")
        return ConnectionInfo.new(self.ip, self.transport), True

    def _register(self) -> None:
        """The JEP 66 handshake: report the ports just bound, or exit if the launcher never
        acknowledges them (nobody would ever connect)."""
        reg = self.registration
        try:
            handshake.register(reg, self.transport_.info, self.registration_timeout)
        except handshake.HandshakeError as e:
            log.error("registration failed, exiting: %s", e)
            self.transport_.close()
            sys.exit(1)
        log.info("registered kernel %s with the launcher at %s", reg.kernel_id, reg.url)

    def _announce(self) -> None:
        """Remote launch: bind the comm port, send the engine our connection info, or exit."""
        opts, info = self.remote_options, self.transport_.info
        for ignored in opts.ignored:
            log.warning("remote launch: ignoring %s (Spark options do not apply to pykernel)",
                        ignored)
        try:
            opts.check()
            self.comm_port = remote.CommPort(info.ip, opts.port_range)
            payload = {**{k: v for k, v in vars(info).items() if k != "extra" and v is not None},
                       "kernel_name": info.kernel_name or self.kernel_class.kernel_name,
                       "pid": os.getpid(), "pgid": os.getpgid(0),
                       "comm_port": self.comm_port.port, "kernel_id": opts.kernel_id}
            payload.pop("curve_secretkey", None)  # never leaves this host
            remote.send_response(opts, payload)
        except remote.RemoteLaunchError as e:
            log.error("remote launch failed, exiting: %s", e)
            if self.comm_port is not None:
                self.comm_port.close()
            self.transport_.close()
            sys.exit(1)
        log.info("remote launch: connection info sent to %s, comm port %d",
                 opts.response_address, self.comm_port.port)

    def start(self) -> None:
        kernel = self.kernel
        if self.comm_port is not None:
            procs.start_internal_thread(self.comm_port.serve, "pykernel-comm-port",
                                        (lambda: kernel.send_interrupt(children=True), kernel.stop))
        kernel.install_signal_handlers()
        pid = self.parent_pid or int(os.environ.get("JPY_PARENT_PID", "0") or 0)
        if self.watch_parent and pid > 1:
            procs.start_internal_thread(_watch_parent, "pykernel-parent", (pid, kernel))
        try:
            kernel.start()
        finally:
            kernel.cleanup()
            if self.comm_port is not None:
                self.comm_port.close()
            self.transport_.close()


def _watch_parent(pid: int, kernel) -> None:
    """Stop the kernel when process `pid` ends (a pidfd wakes us; no polling where it exists)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        fd = None
    except (AttributeError, OSError):  # no pidfd: poll the parent id instead
        while os.getppid() == pid or _exists(pid):
            kernel.stopping.wait(1.0)
            if kernel.stopping.is_set():
                return
        fd = None
    if fd is not None:
        select.select([fd], [], [])
        os.close(fd)
    log.warning("parent process %d is gone; shutting down", pid)
    kernel.stop()


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def launch(kernel_class: type, argv: Sequence[str] | None = None) -> None:
    """Run `kernel_class` as a kernel process, or install/uninstall its kernelspec.

    This is the whole `__main__` of a language: `python -m LANGUAGE -f FILE` runs the kernel,
    `python -m LANGUAGE install|uninstall ...` manages its kernelspec. `pykernel.wrapper.launch` is
    the same function. A command line it does not understand ends the process with status 2 before
    anything is bound or written.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    defaults = kernel_class.kernelspec_defaults()
    if argv and argv[0] in cli.COMMANDS:
        sys.exit(kernelspec.main(argv, **defaults))
    prog = f"{os.path.basename(sys.executable)} -m {defaults['module']}"
    try:
        remote_options, argv = remote.split_args(argv)
    except remote.RemoteLaunchError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    app = KernelApp(kernel_class)
    app.remote_options = remote_options
    app.description = cli.description(prog, app.description)
    problem = cli.problem(argv, app)
    if problem is None:
        app.initialize(argv)
        problem = cli.leftover(app.extra_args)
    if problem is not None:
        print(f"{prog}: error: {problem}\nSee `{prog} --help`.", file=sys.stderr)
        sys.exit(2)
    app.start()
