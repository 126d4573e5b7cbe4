"""Kernelspec installation, shared by pykernel and every language built on it.

Theory of operation
- A kernelspec is a directory named after the kernel, holding `kernel.json` and optional logos. Frontends
  look for it in the `kernels/` folder of each Jupyter data directory. This module writes and removes
  such directories; it never starts a kernel.
- Where it goes: `--user` -> the per-user Jupyter data directory; `--sys-prefix` -> sys.prefix's
  share/jupyter; `--prefix P` -> P/share/jupyter; no flag -> the first system-wide directory. The rules
  are jupyter_core's, restated here because neither jupyter_core nor jupyter_client is a runtime
  dependency; the tests check that both read them the same way. Paths are computed at call time, from
  the environment as it is then.
- kernel.json is built from arguments, not copied from a template: its argv names the interpreter that
  ran the install, so the kernel starts in the environment it was installed from. Only the logos are
  copied from a resource directory.
- That argv never imports from the frontend's working directory (see `launcher_argv`): a `pykernel/`
  folder or a `json.py` where Jupyter was started must not replace the installed code.
- A reinstall replaces the whole directory: the new spec is written beside it, then swapped in.
- `install --remote ENGINE` writes a spec for Enterprise Gateway or gateway_provisioners to launch on
  other hosts (the engine-specific parts live in remotespec.py).
- A language author calls `main(sys.argv[1:], module=..., ...)` from their `__main__` and gets the same
  `install` / `uninstall` subcommands and flags as pykernel.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import site
import sys
import tempfile
from pathlib import Path

from . import remotespec
from .wire import PROTOCOL_VERSION

LOGO_FILES = ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg")
INTERRUPT_MODES = ("signal", "message")

_NAME = re.compile(r"[a-z0-9._-]+")
# Values jupyter_core reads as "off" for its boolean environment variables.
_OFF = ("no", "n", "false", "off", "0", "0.0")


class KernelspecError(ValueError):
    """A kernelspec cannot be installed or removed as asked (bad name, nothing to remove)."""


# -- where Jupyter looks ---------------------------------------------------------------------------


def _flag(name: str) -> bool:
    value = os.environ.get(name)
    return value is not None and value.lower() not in _OFF


def _app_name() -> str:
    # jupyter_core capitalizes only where the platform's convention is capitalized folders.
    if sys.platform == "win32" or (sys.platform == "darwin" and not sys.prefix.startswith("/opt/homebrew")):
        return "Jupyter"
    return "jupyter"


def _xdg(var: str, default: str) -> str:
    return os.environ.get(var, "").strip() or default


def user_data_dir() -> str:
    """The per-user Jupyter data directory (`jupyter --data-dir`): JUPYTER_DATA_DIR wins."""
    if os.environ.get("JUPYTER_DATA_DIR"):
        return os.environ["JUPYTER_DATA_DIR"]
    if _flag("JUPYTER_PLATFORM_DIRS"):
        if sys.platform == "darwin":
            return os.path.expanduser("~/Library/Application Support/" + _app_name())
        if sys.platform == "win32":
            return os.path.join(os.environ.get("LOCALAPPDATA", ""), _app_name())
        return os.path.join(_xdg("XDG_DATA_HOME", os.path.expanduser("~/.local/share")), _app_name())
    home = str(Path("~").expanduser().resolve())
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Jupyter")
    if sys.platform == "win32":
        if os.environ.get("APPDATA"):
            return str(Path(os.environ["APPDATA"], "jupyter").resolve())
        return os.path.join(os.environ.get("JUPYTER_CONFIG_DIR") or os.path.join(home, ".jupyter"), "data")
    return os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share"), "jupyter")


def env_data_dir(prefix: str | None = None) -> str:
    """The Jupyter data directory of a Python environment (default: the running one)."""
    return os.path.join(os.path.abspath(sys.prefix if prefix is None else prefix), "share", "jupyter")


def system_data_dirs() -> list[str]:
    """The system-wide Jupyter data directories; installing with no flag uses the first."""
    if os.name == "nt":
        programdata = os.environ.get("PROGRAMDATA")
        if _flag("JUPYTER_USE_PROGRAMDATA") and programdata:
            return [os.path.join(programdata, "jupyter")]
        return [env_data_dir()]
    if _flag("JUPYTER_PLATFORM_DIRS"):
        if sys.platform == "darwin":
            return ["/Library/Application Support/" + _app_name()]
        roots = _xdg("XDG_DATA_DIRS", "/usr/local/share" + os.pathsep + "/usr/share")
        return [os.path.join(root, _app_name()) for root in roots.split(os.pathsep)]
    return ["/usr/local/share/jupyter", "/usr/share/jupyter"]


def search_path() -> list[str]:
    """Every Jupyter data directory, as a set: JUPYTER_PATH, user, user site, environment, system."""
    dirs = [p.rstrip(os.sep) for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    dirs.append(user_data_dir())
    if site.ENABLE_USER_SITE and site.getuserbase():
        dirs.append(os.path.join(site.getuserbase(), "share", "jupyter"))
    dirs += [env_data_dir(), *system_data_dirs()]
    return list(dict.fromkeys(dirs))


def kernels_dir(*, user: bool = False, sys_prefix: bool = False, prefix: str | None = None) -> str:
    """The `kernels/` folder one of --user, --sys-prefix, --prefix (or none: system-wide) names."""
    if sum((bool(user), bool(sys_prefix), prefix is not None)) > 1:
        raise KernelspecError("choose at most one of --user, --sys-prefix and --prefix")
    if prefix == "":
        raise KernelspecError("--prefix needs a directory")
    if user:
        data_dir = user_data_dir()
    elif sys_prefix or prefix is not None:
        data_dir = env_data_dir(prefix)
    else:
        data_dir = system_data_dirs()[0]
    return os.path.join(data_dir, "kernels")


def check_name(name: str) -> str:
    """Return the kernel name as Jupyter stores it (lowercase), or raise KernelspecError."""
    lowered = name.lower()
    if not _NAME.fullmatch(lowered) or set(lowered) == {"."}:
        raise KernelspecError(
            f"invalid kernel name {name!r}: use ASCII letters, digits and the separators - . _"
        )
    return lowered


def resource_dir() -> str | None:
    """pykernel's own logos and kernel.json template: package data when installed, else the checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_kernelspec", here.parent / "kernelspec"):
        if (candidate / "logo-svg.svg").is_file():
            return str(candidate)
    return None


# -- install / uninstall ---------------------------------------------------------------------------


def launcher_argv(module: str, python: str | None = None,
                  version: tuple[int, int] | None = None) -> list[str]:
    """The command that runs `module` as `__main__` without the working directory on sys.path.

    `python -m module` puts the current directory first on sys.path, and a kernel's current directory
    is wherever the frontend was started (or the notebook's folder): a `pykernel/` checkout or a
    `zmq.py` there would be imported instead of the installed code. Python 3.11 has `-P` for exactly
    this. On 3.10 a one-line `-c` program drops sys.path[0] (`''` for `-c`, the current directory)
    and then runs the module as `-m` would. `version` is that of `python` (default: this interpreter,
    which is also the default `python`).
    """
    python = python or sys.executable
    if (version or sys.version_info[:2]) >= (3, 11):
        return [python, "-P", "-m", module]
    bootstrap = ("import runpy, sys; del sys.path[0]; "
                 f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)")
    return [python, "-c", bootstrap]


def kernel_json(
    *,
    module: str,
    display_name: str,
    language: str,
    env: dict | None = None,
    interrupt_mode: str = "signal",
    metadata: dict | None = None,
    protocol_version: str = PROTOCOL_VERSION,
    extra_argv: list | None = None,
    debug: bool = False,
    launch_argv: list | None = None,
) -> dict:
    """The contents of kernel.json for a kernel run as `python -m module` (see `launcher_argv`).
    `launch_argv` replaces `-f {connection_file}` (remote launch: see remotespec.py)."""
    if interrupt_mode not in INTERRUPT_MODES:
        raise ValueError(f"interrupt_mode must be one of {INTERRUPT_MODES}, not {interrupt_mode!r}")
    launch = ["-f", "{connection_file}"] if launch_argv is None else list(launch_argv)
    argv = [*launcher_argv(module), *launch, *(extra_argv or [])]
    spec: dict = {
        "argv": argv + ["--debug"] * bool(debug),
        "display_name": display_name,
        "language": language,
        "interrupt_mode": interrupt_mode,
    }
    if env is not None:
        spec["env"] = dict(env)
    spec["metadata"] = dict(metadata or {})
    spec["kernel_protocol_version"] = protocol_version
    return spec


def install(
    *,
    module: str,
    name: str,
    display_name: str,
    language: str,
    user: bool = False,
    sys_prefix: bool = False,
    prefix: str | None = None,
    env: dict | None = None,
    interrupt_mode: str = "signal",
    metadata: dict | None = None,
    logo_dir: str | None = None,
    protocol_version: str = PROTOCOL_VERSION,
    extra_argv: list | None = None,
    debug: bool = False,
    launch_argv: list | None = None,
) -> str:
    """Write the kernelspec `name` for `python -m module` and return its directory.

    The destination follows --user / --sys-prefix / --prefix (system-wide when none is given). An
    existing spec of the same name there is replaced. Logos found in `logo_dir` are copied beside
    kernel.json.
    """
    name = check_name(name)
    spec = kernel_json(
        module=module,
        display_name=display_name,
        language=language,
        env=env,
        interrupt_mode=interrupt_mode,
        metadata=metadata,
        protocol_version=protocol_version,
        extra_argv=extra_argv,
        debug=debug,
        launch_argv=launch_argv,
    )
    if logo_dir is not None and not os.path.isdir(logo_dir):
        raise ValueError(f"logo_dir {logo_dir!r} is not a directory")
    parent = kernels_dir(user=user, sys_prefix=sys_prefix, prefix=prefix)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{name}-", dir=parent)
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a system-wide spec must be readable by all
        with open(os.path.join(staging, "kernel.json"), "w", encoding="utf-8") as f:
            json.dump(spec, f, indent=1)
            f.write("\n")
        for logo in LOGO_FILES if logo_dir else ():
            if os.path.isfile(os.path.join(logo_dir, logo)):
                shutil.copyfile(os.path.join(logo_dir, logo), os.path.join(staging, logo))
        destination = os.path.join(parent, name)
        _remove(destination)
        os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def _remove(path: str) -> bool:
    if os.path.islink(path):
        os.remove(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)
    else:
        return False
    return True


def _specs_named(kernels: str, name: str) -> list[str]:
    # Jupyter matches spec directories case-insensitively, so a hand-made "PyKernel/" counts too.
    if not os.path.isdir(kernels):
        return []
    return [
        os.path.join(kernels, entry)
        for entry in sorted(os.listdir(kernels))
        if entry.lower() == name and os.path.isfile(os.path.join(kernels, entry, "kernel.json"))
    ]


def uninstall(
    name: str, *, user: bool = False, sys_prefix: bool = False, prefix: str | None = None
) -> list[str]:
    """Remove the kernelspec `name` from the place a flag names, or from everywhere Jupyter looks.

    Returns the removed directories; raises KernelspecError when there was nothing to remove.
    """
    name = check_name(name)
    if user or sys_prefix or prefix is not None:
        places = [kernels_dir(user=user, sys_prefix=sys_prefix, prefix=prefix)]
    else:
        places = [os.path.join(d, "kernels") for d in search_path()]
    found = [path for place in places for path in _specs_named(place, name)]
    if not found:
        raise KernelspecError(f"no kernelspec named {name!r} in {os.pathsep.join(places)}")
    return [path for path in found if _remove(path)]


# -- command line ----------------------------------------------------------------------------------


def _add_location(parser: argparse.ArgumentParser, verb: str) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help=f"{verb} the per-user Jupyter data directory")
    where.add_argument(
        "--sys-prefix", action="store_true", help=f"{verb} this Python environment (sys.prefix/share/jupyter)"
    )
    where.add_argument("--prefix", metavar="P", help=f"{verb} P/share/jupyter")


def build_parser(prog: str, default_name: str, default_display_name: str) -> argparse.ArgumentParser:
    """The parser of the `install` subcommand (without the word `install` itself)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Install the kernelspec, system-wide unless a location is given.",
    )
    _add_location(parser, "install into")
    parser.add_argument("--name", default=default_name, help=f"kernelspec name (default: {default_name})")
    parser.add_argument(
        "--display-name",
        default=default_display_name,
        help=f"name shown by frontends (default: {default_display_name})",
    )
    parser.add_argument(
        "--env",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="set an environment variable for the kernel; repeat for more",
    )
    parser.add_argument(
        "--interrupt-mode",
        choices=INTERRUPT_MODES,
        help="how frontends interrupt the kernel: SIGINT (signal) or interrupt_request (message)",
    )
    parser.add_argument("--debug", action="store_true", help="start the kernel with --debug logging")
    parser.add_argument(
        "--remote",
        choices=remotespec.ENGINES,
        help="a spec for remote launch by this engine's distributed (ssh) launcher",
    )
    parser.add_argument("--remote-hosts", metavar="H1,H2", help="hosts for --remote (default: the engine's)")
    return parser


def _uninstall_parser(prog: str, default_name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Remove the kernelspec from the location given, or from everywhere Jupyter looks.",
    )
    parser.add_argument("--name", default=default_name, help=f"kernelspec name (default: {default_name})")
    _add_location(parser, "remove from")
    return parser


def _not_on_search_path(kernels: str) -> bool:
    data_dir = os.path.realpath(os.path.dirname(kernels))
    return data_dir not in {os.path.realpath(d) for d in search_path()}


def main(
    argv: list[str],
    *,
    module: str,
    default_name: str,
    default_display_name: str,
    language: str,
    interrupt_mode: str = "signal",
    metadata: dict | None = None,
    logo_dir: str | None = None,
    protocol_version: str = PROTOCOL_VERSION,
) -> int:
    """Run `install ...` or `uninstall ...` for `python -m module`; return the exit code.

    `argv` starts with the subcommand. The keyword arguments are the language's fixed facts and the
    defaults of its flags; `interrupt_mode` is the default of --interrupt-mode.
    """
    prog = f"{os.path.basename(sys.executable)} -m {module}"
    command, rest = (argv[0], argv[1:]) if argv else (None, [])
    if command not in ("install", "uninstall"):
        print(f"usage: {prog} {{install,uninstall}} [--help | options]", file=sys.stderr)
        return 2
    try:
        if command == "uninstall":
            args = _uninstall_parser(f"{prog} uninstall", default_name).parse_args(rest)
            for path in uninstall(args.name, user=args.user, sys_prefix=args.sys_prefix, prefix=args.prefix):
                print(f"Removed {path}")
            return 0
        args = build_parser(f"{prog} install", default_name, default_display_name).parse_args(rest)
        if args.remote_hosts and not args.remote:
            raise KernelspecError("--remote-hosts needs --remote")
        remote = remotespec.spec_options(args.remote, args.remote_hosts, metadata) if args.remote else {}
        if args.interrupt_mode:
            remote.pop("interrupt_mode", None)
        path = install(
            module=module,
            name=args.name,
            display_name=args.display_name,
            language=language,
            user=args.user,
            sys_prefix=args.sys_prefix,
            prefix=args.prefix,
            env=dict(args.env) if args.env else None,
            logo_dir=logo_dir,
            protocol_version=protocol_version,
            debug=args.debug,
            **{"interrupt_mode": args.interrupt_mode or interrupt_mode, "metadata": metadata, **remote},
        )
    except SystemExit as exc:  # argparse's way to end after --help or a usage error
        return exc.code if isinstance(exc.code, int) else 2
    except KernelspecError as exc:
        print(f"{prog} {command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        hint = "; try --user or --sys-prefix" if isinstance(exc, PermissionError) else ""
        print(f"{prog} {command}: error: {exc}{hint}", file=sys.stderr)
        return 1
    print(f"Installed kernelspec {os.path.basename(path)} in {path}")
    if _not_on_search_path(os.path.dirname(path)):
        data_dir = os.path.dirname(os.path.dirname(path))
        print(f"Note: Jupyter does not search {data_dir}; add it to JUPYTER_PATH.", file=sys.stderr)
    return 0
