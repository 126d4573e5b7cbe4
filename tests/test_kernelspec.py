"""Kernelspec install/uninstall: every flag, through `kernelspec.main` as a user's command line would.

Every Jupyter location is moved into a temporary directory through the environment (HOME, the
JUPYTER_* and XDG_* variables) and sys.prefix. jupyter_client's KernelSpecManager, the code frontends
use to find kernels, then reads back what was written; where it fixes its paths at import time, it runs
in a child process given the same environment.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import jupyter_core.paths
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from packaging_helpers import assert_licensed
from pykernel import kernelspec

REPO = Path(__file__).resolve().parent.parent
METADATA = {"debugger": True, "supported_encryption": ["curve"]}


@pytest.fixture(autouse=True)
def dirs(tmp_path, monkeypatch):
    """Temporary user, environment and system data directories; returns their kernels/ folders."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("JUPYTER_DATA_DIR", "JUPYTER_PATH", "XDG_DATA_HOME", "JUPYTER_PREFER_ENV_PATH"):
        monkeypatch.delenv(var, raising=False)
    # With platform dirs on, Linux's system-wide directories follow XDG_DATA_DIRS.
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("XDG_DATA_DIRS", f"{tmp_path / 'system'}{os.pathsep}{tmp_path / 'system2'}")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    # jupyter_core reads sys.prefix once, at import: without this, a spec installed in the test
    # venv itself (`./quickstart` does that) would be found before the one a test installs.
    monkeypatch.setattr(jupyter_core.paths, "ENV_JUPYTER_PATH",
                        [str(tmp_path / "env" / "share" / "jupyter")])
    monkeypatch.setattr(site, "ENABLE_USER_SITE", False)
    return {
        "user": home / ".local" / "share" / "jupyter" / "kernels",
        "sys_prefix": tmp_path / "env" / "share" / "jupyter" / "kernels",
        "system": tmp_path / "system" / "jupyter" / "kernels",
    }


def run(*argv, **overrides) -> int:
    options = dict(
        module="pykernel",
        default_name="pykernel",
        default_display_name="Python 3 (pykernel)",
        language="python",
        metadata=METADATA,
        logo_dir=kernelspec.resource_dir(),
    )
    return kernelspec.main(list(argv), **{**options, **overrides})


def read_spec(spec_dir: Path) -> dict:
    return json.loads((spec_dir / "kernel.json").read_text(encoding="utf-8"))


def run_python(code: str, python: str = sys.executable) -> dict:
    """Run `code` in a fresh interpreter (current environment); it prints one JSON value."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    cmd = [python, "-c", textwrap.dedent(code)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


# -- install: where ------------------------------------------------------------------------------


def test_user_install_writes_the_whole_kernel_json(dirs, capsys):
    assert run("install", "--user") == 0
    spec_dir = dirs["user"] / "pykernel"
    assert read_spec(spec_dir) == {
        "argv": [*kernelspec.launcher_argv("pykernel"), "-f", "{connection_file}"],
        "display_name": "Python 3 (pykernel)",
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": METADATA,
        "kernel_protocol_version": "5.6",
    }
    assert str(spec_dir) in capsys.readouterr().out


def test_user_install_follows_jupyter_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    assert run("install", "--user") == 0
    assert (tmp_path / "data" / "kernels" / "pykernel" / "kernel.json").is_file()


@pytest.mark.parametrize("platform_dirs", ["1", "0"])
def test_user_install_follows_xdg_data_home(tmp_path, monkeypatch, platform_dirs):
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", platform_dirs)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert run("install", "--user") == 0
    assert (tmp_path / "xdg" / "jupyter" / "kernels" / "pykernel" / "kernel.json").is_file()


def test_sys_prefix_install(dirs):
    assert run("install", "--sys-prefix") == 0
    assert read_spec(dirs["sys_prefix"] / "pykernel")["language"] == "python"


def test_prefix_install_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("install", "--prefix", "relative") == 0
    spec_dir = tmp_path / "relative" / "share" / "jupyter" / "kernels" / "pykernel"
    assert read_spec(spec_dir)["display_name"] == "Python 3 (pykernel)"


def test_no_flag_installs_system_wide(dirs):
    assert run("install") == 0
    assert (dirs["system"] / "pykernel" / "kernel.json").is_file()


def test_default_system_dir_is_usr_local(monkeypatch):
    monkeypatch.delenv("JUPYTER_PLATFORM_DIRS")
    assert kernelspec.kernels_dir() == "/usr/local/share/jupyter/kernels"


def test_location_flags_exclude_each_other(dirs, tmp_path, capsys):
    assert run("install", "--user", "--prefix", str(tmp_path)) == 2
    assert "not allowed with" in capsys.readouterr().err
    with pytest.raises(kernelspec.KernelspecError):
        kernelspec.kernels_dir(user=True, sys_prefix=True)


def test_prefix_outside_the_search_path_gets_a_note(tmp_path, monkeypatch, capsys):
    assert run("install", "--prefix", str(tmp_path / "p")) == 0
    assert "JUPYTER_PATH" in capsys.readouterr().err
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "p" / "share" / "jupyter"))
    assert run("install", "--prefix", str(tmp_path / "p")) == 0
    assert capsys.readouterr().err == ""


def test_unwritable_destination_is_an_error_not_a_traceback(tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    assert run("install", "--prefix", str(tmp_path / "file")) == 1
    assert "error:" in capsys.readouterr().err


# -- install: what -------------------------------------------------------------------------------


def test_name_is_lowercased_and_display_name_kept(dirs):
    assert run("install", "--user", "--name", "My-Kernel.2_b", "--display-name", "Mine (dev)") == 0
    spec = read_spec(dirs["user"] / "my-kernel.2_b")
    assert spec["display_name"] == "Mine (dev)"


@pytest.mark.parametrize("name", ["has space", "a/b", "..", ".", "", "café", "x\\y"])
def test_invalid_names_are_rejected_before_writing(dirs, name, capsys):
    assert run("install", "--user", "--name", name) == 1
    assert "invalid kernel name" in capsys.readouterr().err
    assert not dirs["user"].exists()
    with pytest.raises(kernelspec.KernelspecError, match="invalid kernel name"):
        kernelspec.uninstall(name, user=True)


def test_env_repeats(dirs):
    assert run("install", "--user", "--env", "A", "1", "--env", "B", "two words", "--env", "A", "3") == 0
    assert read_spec(dirs["user"] / "pykernel")["env"] == {"A": "3", "B": "two words"}


def test_env_needs_key_and_value(dirs, capsys):
    assert run("install", "--user", "--env", "ONLY") == 2
    assert "--env" in capsys.readouterr().err
    assert not dirs["user"].exists()


def test_interrupt_mode_flag_and_language_default(dirs):
    assert run("install", "--user", "--interrupt-mode", "message") == 0
    assert read_spec(dirs["user"] / "pykernel")["interrupt_mode"] == "message"
    assert run("install", "--user", interrupt_mode="message") == 0
    assert read_spec(dirs["user"] / "pykernel")["interrupt_mode"] == "message"
    assert run("install", "--user", "--interrupt-mode", "signal", interrupt_mode="message") == 0
    assert read_spec(dirs["user"] / "pykernel")["interrupt_mode"] == "signal"


def test_interrupt_mode_rejects_other_values(capsys):
    assert run("install", "--user", "--interrupt-mode", "sigint") == 2
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(ValueError):
        kernelspec.install(module="m", name="n", display_name="N", language="l", interrupt_mode="x")


def test_debug_appends_flag_to_argv(dirs):
    assert run("install", "--user", "--debug") == 0
    assert read_spec(dirs["user"] / "pykernel")["argv"][-1] == "--debug"


def test_language_facts_come_from_the_caller(dirs):
    path = kernelspec.install(
        module="bash_kernel",
        name="bash",
        display_name="Bash",
        language="bash",
        user=True,
        protocol_version="5.4",
        extra_argv=["--quiet"],
        debug=True,
    )
    spec = read_spec(Path(path))
    assert spec["argv"] == [*kernelspec.launcher_argv("bash_kernel"), "-f", "{connection_file}",
                            "--quiet", "--debug"]
    assert spec["argv"][0] == sys.executable
    assert (spec["language"], spec["kernel_protocol_version"], spec["metadata"]) == ("bash", "5.4", {})
    assert "env" not in spec


def test_logos_are_copied(dirs):
    assert run("install", "--user") == 0
    for logo in kernelspec.LOGO_FILES:
        assert (dirs["user"] / "pykernel" / logo).read_bytes() == (REPO / "kernelspec" / logo).read_bytes()


def test_only_present_logos_are_copied(dirs, tmp_path):
    (tmp_path / "logos").mkdir()
    (tmp_path / "logos" / "logo-svg.svg").write_text("<svg/>")
    assert run("install", "--user", logo_dir=str(tmp_path / "logos")) == 0
    assert sorted(os.listdir(dirs["user"] / "pykernel")) == ["kernel.json", "logo-svg.svg"]
    assert run("install", "--user", logo_dir=None) == 0
    assert os.listdir(dirs["user"] / "pykernel") == ["kernel.json"]


def test_reinstall_replaces_the_whole_directory(dirs):
    assert run("install", "--user", "--env", "OLD", "1") == 0
    (dirs["user"] / "pykernel" / "stale.txt").write_text("left over")
    assert run("install", "--user") == 0
    assert "env" not in read_spec(dirs["user"] / "pykernel")
    assert not (dirs["user"] / "pykernel" / "stale.txt").exists()
    assert os.listdir(dirs["user"]) == ["pykernel"]  # no staging directory left behind


def test_resource_dir_is_the_checkout_kernelspec_folder():
    assert Path(kernelspec.resource_dir()) == REPO / "kernelspec"
    assert json.loads((REPO / "kernelspec" / "kernel.json").read_text())["argv"][-1] == "{connection_file}"


# -- uninstall -----------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--user", "--sys-prefix", "--prefix", None])
def test_uninstall_from_the_place_given(dirs, tmp_path, flag, capsys):
    flags = {"--prefix": ["--prefix", str(tmp_path / "p")], None: []}.get(flag, [flag])
    assert run("install", *flags) == 0
    installed = capsys.readouterr().out.split(" in ", 1)[1].strip()
    assert run("uninstall", *flags) == 0
    assert f"Removed {installed}" in capsys.readouterr().out
    assert not os.path.exists(installed)


def test_uninstall_with_a_flag_leaves_other_places(dirs):
    assert run("install", "--user") == run("install", "--sys-prefix") == 0
    assert run("uninstall", "--user") == 0
    assert not (dirs["user"] / "pykernel").exists()
    assert (dirs["sys_prefix"] / "pykernel").is_dir()


def test_uninstall_without_flag_removes_it_everywhere(dirs, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "p" / "share" / "jupyter"))
    for flags in (["--user"], ["--sys-prefix"], [], ["--prefix", str(tmp_path / "p")]):
        assert run("install", "--name", "Dup", *flags) == 0
    (dirs["system"] / "keep").mkdir()
    (dirs["system"] / "keep" / "kernel.json").write_text("{}")
    removed = kernelspec.uninstall("dup")
    assert len(removed) == 4
    assert not any(os.path.exists(path) for path in removed)
    assert (dirs["system"] / "keep").is_dir()


def test_uninstall_name_matches_like_jupyter_does(dirs):
    (dirs["user"] / "MyKernel").mkdir(parents=True)
    (dirs["user"] / "MyKernel" / "kernel.json").write_text("{}")
    (dirs["user"] / "mykernel-notes").mkdir()  # no kernel.json: not a kernelspec, never touched
    assert run("uninstall", "--user", "--name", "mykernel") == 0
    assert os.listdir(dirs["user"]) == ["mykernel-notes"]


def test_uninstall_of_a_missing_spec_is_an_error(dirs, capsys):
    assert run("uninstall", "--name", "absent") == 1
    assert "no kernelspec named 'absent'" in capsys.readouterr().err


def test_usage_and_help(capsys):
    assert run() == 2
    assert "{install,uninstall}" in capsys.readouterr().err
    assert run("install", "--help") == 0
    help_text = capsys.readouterr().out
    for flag in ("--user", "--sys-prefix", "--prefix", "--name", "--display-name", "--env", "--debug"):
        assert flag in help_text
    assert "--interrupt-mode {signal,message}" in help_text
    assert run("uninstall", "--help") == 0
    assert "--sys-prefix" in capsys.readouterr().out


# -- agreement with jupyter_core / jupyter_client --------------------------------------------------


def test_kernel_spec_manager_reads_back_a_user_install(dirs):
    assert run("install", "--user", "--env", "K", "V", "--interrupt-mode", "message", "--debug") == 0
    ksm = KernelSpecManager()
    assert ksm.user_kernel_dir == kernelspec.kernels_dir(user=True)
    spec = ksm.get_kernel_spec("pykernel")
    assert spec.resource_dir == str(dirs["user"] / "pykernel")
    assert spec.to_dict() == {**read_spec(dirs["user"] / "pykernel"), "metadata": METADATA}
    assert spec.argv[-1] == "--debug"
    assert spec.env == {"K": "V"}
    assert spec.interrupt_mode == "message"
    assert spec.kernel_protocol_version == "5.6"


def test_kernel_spec_manager_finds_a_prefix_install_on_jupyter_path(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "p" / "share" / "jupyter"))
    assert run("install", "--prefix", str(tmp_path / "p"), "--name", "pk-prefix") == 0
    found = KernelSpecManager().find_kernel_specs()
    assert found["pk-prefix"] == str(tmp_path / "p" / "share" / "jupyter" / "kernels" / "pk-prefix")


def test_kernel_spec_manager_finds_a_system_wide_install(dirs):
    found = run_python("""
        import json
        from jupyter_client.kernelspec import KernelSpecManager
        from pykernel import kernelspec
        path = kernelspec.install(module="pykernel", name="pk-system", display_name="S", language="python")
        print(json.dumps([path, KernelSpecManager().find_kernel_specs().get("pk-system")]))
    """)
    assert found == [str(dirs["system"] / "pk-system")] * 2


def test_kernel_spec_manager_finds_a_sys_prefix_install_in_a_real_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / ("Scripts" if os.name == "nt" else "bin") / "python")
    found = run_python(
        """
        import json, sys
        from jupyter_client.kernelspec import KernelSpecManager
        from pykernel import kernelspec
        assert kernelspec.main(["install", "--sys-prefix"], module="pykernel", default_name="pykernel",
                               default_display_name="P", language="python") == 0
        spec = KernelSpecManager().get_kernel_spec("pykernel")
        print(json.dumps([sys.prefix, spec.resource_dir, spec.argv[0], sys.executable]))
        """,
        python=python,
    )
    prefix, resource_dir, argv0, executable = found
    assert resource_dir == os.path.join(prefix, "share", "jupyter", "kernels", "pykernel")
    assert Path(prefix) == venv and argv0 == executable


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"JUPYTER_PLATFORM_DIRS": "0"},
        {"JUPYTER_PLATFORM_DIRS": "1", "XDG_DATA_DIRS": "", "XDG_DATA_HOME": "/x"},
        {"JUPYTER_PLATFORM_DIRS": "", "XDG_DATA_DIRS": "/a:/b/"},
        {"JUPYTER_DATA_DIR": "/d", "JUPYTER_PATH": "/p1:/p2/"},
        {"XDG_DATA_HOME": "/x", "JUPYTER_PREFER_ENV_PATH": "1"},
    ],
)
def test_paths_agree_with_jupyter_core(monkeypatch, env):
    monkeypatch.delenv("JUPYTER_PLATFORM_DIRS")
    monkeypatch.delenv("XDG_DATA_DIRS")
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    ours, theirs = run_python("""
        import json, os
        from jupyter_core import paths
        from jupyter_client.kernelspec import KernelSpecManager
        from pykernel import kernelspec as k
        ours = [k.user_data_dir(), k.system_data_dirs(), sorted(k.search_path()), k.kernels_dir(user=True),
                k.kernels_dir()]
        theirs = [paths.jupyter_data_dir(), paths.SYSTEM_JUPYTER_PATH, sorted(paths.jupyter_path()),
                  KernelSpecManager().user_kernel_dir, os.path.join(paths.SYSTEM_JUPYTER_PATH[0], "kernels")]
        print(json.dumps([ours, theirs]))
    """)
    assert ours == theirs


# -- packaging -----------------------------------------------------------------------------------



def test_the_wheel_ships_the_logos_and_the_licence(tmp_path):
    """A non-editable install has no checkout beside it: the logos must travel inside the package."""
    source = tmp_path / "src"
    source.mkdir()
    for item in ("pyproject.toml", "setup.py", "README.md", "LICENSE", "pykernel", "kernelspec"):
        if (REPO / item).is_dir():
            shutil.copytree(REPO / item, source / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(REPO / item, source / item)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", "dist", "."]
    subprocess.run(cmd, cwd=source, check=True)
    (wheel,) = (source / "dist").glob("jupyter_pykernel-*.whl")
    site_dir = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site_dir)
    assert_licensed(site_dir, "jupyter_pykernel")
    shipped = site_dir / "pykernel" / "_kernelspec"
    for logo in kernelspec.LOGO_FILES:
        assert (shipped / logo).read_bytes() == (REPO / "kernelspec" / logo).read_bytes()
    # kernelspec.py needs only the standard library, so it runs from the unpacked wheel alone (-S: no site).
    code = f"""if True:
        from pykernel import kernelspec as k
        print(k.install(module="pykernel", name="w", display_name="W", language="python",
                        prefix={str(tmp_path / "x")!r}, logo_dir=k.resource_dir()))
    """
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(site_dir)}
    cmd = [sys.executable, "-S", "-c", code]
    out = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(out.stdout.strip())) == ["kernel.json", *sorted(kernelspec.LOGO_FILES)]
