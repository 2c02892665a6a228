"""A plugin cannot take finsent down: sys.exit(), BaseException subclasses and hangs at import, in its hook
or in its backend are reported in one line and skipped. Only KeyboardInterrupt (Ctrl-C) still stops finsent.
The plugins are real files in FINSENT_PLUGINS_DIR or a real (tiny) installed distribution with entry points."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from core_fixtures import write_prepared

from finsent.plugins import BackendRegistry, get_plugin_manager
from finsent.service import FinsentService
from finsent.settings import Settings

HOOK = """
from finsent import hookimpl
from finsent_mock.backend import MockBackend

{body}

@hookimpl
def register_backends(register):
{hook}
"""


def backend_plugin(name: str, methods: str = "    pass") -> str:
    """A plugin file registering a MockBackend subclass called `name` with `methods` in its body."""
    cls = name.capitalize()
    body = f"class {cls}(MockBackend):\n    name = {name!r}\n    label = {cls!r}\n{methods}\n"
    return HOOK.format(body=body, hook=f"    register({cls})")


def hook_plugin(hook: str, body: str = "") -> str:
    return HOOK.format(body=body, hook=hook)


EXITS_AT_IMPORT = "import sys\n\nsys.exit(3)\n"
BOOM_AT_IMPORT = "class Boom(BaseException):\n    pass\n\n\nraise Boom('kaboom')\n"
HANGS_SLEEPING = "import time\n\ntime.sleep(10**6)\n"
HANGS_READING = (
    "import socket\n\nreader, writer = socket.socketpair()\nreader.recv(1)  # nobody ever writes\n"
)

#: plugins-dir files that misbehave, each with the one-line problem it must be reported with
FAULTY_FILES = {
    "exits": (EXITS_AT_IMPORT, "called sys.exit(3) while loading; skipped"),
    "boom": (BOOM_AT_IMPORT, "failed to load: Boom: kaboom"),
    "genexit": ("raise GeneratorExit\n", "failed to load: GeneratorExit"),
    "hookexit": (hook_plugin("    raise SystemExit"), "failed in register_backends: called sys.exit()"),
    "hookboom": (
        hook_plugin("    raise Boom('in the hook')", "class Boom(BaseException):\n    pass\n"),
        "failed in register_backends: Boom: in the hook",
    ),
}
#: backends whose class misbehaves once registered, and the reason `finsent backends` gives
FAULTY_BACKENDS = {
    "exiting": (
        "    def availability(self):\n        import sys\n        sys.exit(4)\n",
        "called sys.exit(4)",
    ),
    "unbuildable": (
        "    def __init__(self, context, clock=None):\n        raise SystemExit(5)\n",
        "called sys.exit(5)",
    ),
}


def write_plugins(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for stem, source in files.items():
        (directory / f"{stem}.py").write_text(source)
    return directory


def faulty_plugins_dir(directory: Path) -> Path:
    files = {stem: source for stem, (source, _) in FAULTY_FILES.items()}
    files |= {name: backend_plugin(name, methods) for name, (methods, _) in FAULTY_BACKENDS.items()}
    files["fine"] = backend_plugin("fine")  # after the broken ones alphabetically: loading goes on
    return write_plugins(directory, files)


def write_distribution(site: Path, entry_points: dict[str, str]) -> Path:
    """A real installed distribution (dist-info with entry points) whose modules are `entry_points`."""
    dist_info = site / "finsent_faulty-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: finsent-faulty\nVersion: 0.1\n")
    lines = [f"{name} = finsent_faulty_{name}" for name in entry_points]
    (dist_info / "entry_points.txt").write_text("[finsent]\n" + "\n".join(lines) + "\n")
    for name, source in entry_points.items():
        (site / f"finsent_faulty_{name}.py").write_text(source)
    return site


def line_with(text: str, needle: str) -> str:
    """The one line of `text` that contains `needle` (the whole problem must be on it)."""
    found = [line for line in text.splitlines() if needle in line]
    assert len(found) == 1, (needle, text)
    return found[0]


# -- in the process: the loader and the registry ---------------------------------------------------------


def test_exits_and_base_exceptions_are_reported_and_the_builtins_still_work(tmp_path: Path) -> None:
    plugins = faulty_plugins_dir(tmp_path / "plugins")
    names = ("finsent_mock", *(p.stem for p in plugins.glob("*.py")))
    settings = Settings(home=tmp_path / "home", plugins_dir=plugins, load_plugins=names)
    registry = BackendRegistry.from_plugin_manager(get_plugin_manager(settings))
    problems = "\n".join(registry.problems)
    for stem, (_, expected) in FAULTY_FILES.items():
        assert f"plugin {stem!r}" in line_with(problems, expected), problems
    assert f"({plugins / 'exits.py'})" in line_with(problems, "'exits'")  # where it came from
    assert registry.names() == ["mock", "exiting", "fine", "unbuildable"]

    svc = FinsentService(settings, registry=registry)
    infos = {info.name: info for info in svc.backends()}
    for name, (_, reason) in FAULTY_BACKENDS.items():
        assert (infos[name].available, str(infos[name].reason)) == (False, reason)
    with pytest.raises(Exception, match=r"cannot be used: called sys.exit\(4\)"):
        svc.classify("exiting", "mock-keywords", ["x"])
    with pytest.raises(Exception, match=r"could not be started: called sys.exit\(5\)"):
        svc.classify("unbuildable", "mock-keywords", ["x"])
    # the built-in backend still trains and classifies, in the same process
    assert infos["mock"].available and infos["fine"].available
    dataset = svc.register_dataset(write_prepared(tmp_path / "prepared"))
    job = svc.start_training("mock", dataset.id, {"duration_seconds": 0})
    final = svc.follow_job(job.id, lambda _job: None, interval=0)
    assert final.status.value == "succeeded" and final.fine_tuned_model
    [prediction] = svc.classify("mock", final.fine_tuned_model, ["영업이익 급증"])
    assert prediction.label in {"positive", "negative", "neutral"} and 0 <= prediction.confidence <= 1


def test_entry_point_that_exits_or_raises_a_base_exception_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = write_distribution(tmp_path / "site", {"exits": EXITS_AT_IMPORT, "boom": BOOM_AT_IMPORT})
    monkeypatch.syspath_prepend(str(site))
    pm = get_plugin_manager(Settings(home=tmp_path, load_plugins=("finsent_mock", "exits", "boom")))
    problems = "\n".join(pm.problems)
    assert "entry point finsent_faulty_exits) called sys.exit(3) while loading; skipped" in problems
    assert "entry point finsent_faulty_boom) failed to load: Boom: kaboom" in problems
    assert [p.name for p in pm.loaded] == ["finsent_mock"]


def test_keyboard_interrupt_still_stops_finsent(tmp_path: Path) -> None:
    at_import = write_plugins(tmp_path / "a", {"ctrlc": "raise KeyboardInterrupt\n"})
    with pytest.raises(KeyboardInterrupt):
        get_plugin_manager(Settings(home=tmp_path, plugins_dir=at_import, load_plugins=("ctrlc",)))
    in_hook = write_plugins(tmp_path / "b", {"ctrlc": hook_plugin("    raise KeyboardInterrupt")})
    pm = get_plugin_manager(Settings(home=tmp_path, plugins_dir=in_hook, load_plugins=("ctrlc",)))
    with pytest.raises(KeyboardInterrupt):
        BackendRegistry.from_plugin_manager(pm)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """An event a plugin file waits on at import (`from finsent_fault_gate import gate; gate.wait()`)."""
    event = threading.Event()
    module = type(sys)("finsent_fault_gate")
    module.gate = event  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "finsent_fault_gate", module)
    yield event
    event.set()  # never leave a thread of ours hanging in the test process


def importing(path: Path) -> list[threading.Thread]:
    """The threads still importing the plugin file at `path`."""
    return [t for t in threading.enumerate() if t.name.endswith(str(path.resolve())) and t.is_alive()]


def test_hanging_import_is_skipped_in_time_and_never_imported_twice(
    tmp_path: Path, gate: threading.Event
) -> None:
    waits = "from finsent_fault_gate import gate\n\ngate.wait()\n"
    plugins = write_plugins(
        tmp_path / "plugins", {"hangs": waits + backend_plugin("late"), "zeta": backend_plugin("zeta")}
    )
    settings = Settings(
        home=tmp_path,
        plugins_dir=plugins,
        load_plugins=("finsent_mock", "hangs", "zeta"),
        plugin_import_timeout=0.5,
    )
    started = time.monotonic()
    pm = get_plugin_manager(settings)
    assert time.monotonic() - started < 0.5 + 3
    expected = f"plugin 'hangs' ({plugins / 'hangs.py'}) did not finish importing within 0.5 s; skipped"
    assert expected in pm.problems
    assert pm.is_blocked("hangs") and not pm.has_plugin("hangs")
    assert BackendRegistry.from_plugin_manager(pm).names() == ["mock", "zeta"]
    stuck = importing(plugins / "hangs.py")
    assert len(stuck) == 1 and stuck[0].daemon

    # A new manager (the dashboard builds one per service) does not wait again nor start a second import.
    started = time.monotonic()
    again = get_plugin_manager(settings)
    assert time.monotonic() - started < 0.5 and expected in again.problems
    assert importing(plugins / "hangs.py") == stuck

    # Once the import finishes after all, the next manager takes its result.
    gate.set()
    stuck[0].join(5)
    late = BackendRegistry.from_plugin_manager(get_plugin_manager(settings))
    assert late.names() == ["mock", "late", "zeta"], late.problems


def test_import_timeout_setting_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().plugin_import_timeout == 10
    monkeypatch.setenv("FINSENT_PLUGIN_IMPORT_TIMEOUT", "2.5")
    assert Settings.from_env().plugin_import_timeout == 2.5
    for wrong in ("soon", "0", "-1", "inf", "nan"):
        monkeypatch.setenv("FINSENT_PLUGIN_IMPORT_TIMEOUT", wrong)
        assert Settings.from_env().plugin_import_timeout == 10, wrong


# -- the command line, as a user runs it ----------------------------------------------------------------


def run_finsent(tmp_path: Path, *argv: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    full_env = {**os.environ, "FINSENT_HOME": str(tmp_path / "home"), **env}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "finsent", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
    )
    return done, time.monotonic() - started


def cli_env(tmp_path: Path) -> dict[str, str]:
    """Every kind of faulty plugin (two hang), in the plugins dir and as entry points, with a 1 s limit."""
    plugins = faulty_plugins_dir(tmp_path / "plugins")
    write_plugins(plugins, {"hang_sleep": HANGS_SLEEPING, "hang_socket": HANGS_READING})
    site = write_distribution(tmp_path / "site", {"ep_exit": EXITS_AT_IMPORT, "ep_hang": HANGS_SLEEPING})
    names = ["finsent_mock", "ep_exit", "ep_hang", *(p.stem for p in plugins.glob("*.py"))]
    return {
        "FINSENT_PLUGINS_DIR": str(plugins),
        "FINSENT_LOAD_PLUGINS": ",".join(names),
        "FINSENT_PLUGIN_IMPORT_TIMEOUT": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
    }


#: three plugins hang for 1 s each; the rest is Python and finsent starting (slow CI machines included)
PROMPT = 3 * 1 + 10


@pytest.mark.slow
def test_backends_command_reports_every_faulty_plugin_and_exits_0(tmp_path: Path) -> None:
    done, elapsed = run_finsent(tmp_path, "backends", **cli_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert elapsed < PROMPT
    assert "Traceback" not in done.stderr + done.stdout
    for stem, (_, expected) in FAULTY_FILES.items():
        assert expected in line_with(done.stderr, f"warning: plugin {stem!r} ")
    for stem in ("hang_sleep", "hang_socket"):
        assert "did not finish importing within 1 s; skipped" in line_with(done.stderr, f"'{stem}'")
    assert line_with(done.stderr, "'ep_exit'").endswith(
        "(entry point finsent_faulty_ep_exit) called sys.exit(3) while loading; skipped"
    )
    assert line_with(done.stderr, "'ep_hang'").endswith(
        "(entry point finsent_faulty_ep_hang) did not finish importing within 1 s; skipped"
    )
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[2:]}
    assert set(rows) == {"mock", "exiting", "fine", "unbuildable"}
    assert rows["mock"].endswith("yes") and rows["fine"].endswith("yes")
    for name, (_, reason) in FAULTY_BACKENDS.items():
        assert rows[name].endswith(f"no: {reason}")


@pytest.mark.slow
def test_jobs_and_classify_commands_survive_faulty_plugins(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    done, elapsed = run_finsent(tmp_path, "jobs", **env)
    assert (done.returncode, done.stdout.split(".")[0]) == (0, "No jobs yet"), done.stderr
    assert elapsed < PROMPT and "Traceback" not in done.stderr
    done, elapsed = run_finsent(
        tmp_path, "classify", "--backend", "mock", "--model", "mock-keywords", "영업이익 급증", **env
    )
    assert done.returncode == 0 and done.stdout.split()[0] in ("positive", "negative", "neutral"), done.stderr
    assert elapsed < PROMPT
    done, _ = run_finsent(tmp_path, "classify", "--backend", "exiting", "--model", "m", "x", **env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert line_with(done.stderr, "error:").endswith("cannot be used: called sys.exit(4).")


def test_keyboard_interrupt_in_a_plugin_still_stops_the_command(tmp_path: Path) -> None:
    plugins = write_plugins(tmp_path / "plugins", {"ctrlc": "raise KeyboardInterrupt\n"})
    done, _ = run_finsent(
        tmp_path, "backends", FINSENT_PLUGINS_DIR=str(plugins), FINSENT_LOAD_PLUGINS="finsent_mock,ctrlc"
    )
    assert (done.returncode, done.stderr.strip()) == (130, "interrupted")
