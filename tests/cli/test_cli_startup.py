"""`finsent --version` and the help of commands that need no backend must not load the plugins: importing
scikit-learn or the openai SDK costs seconds. `finsent train` still gets one flag per backend option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from finsent.cli import build_parser

HEAVY = ("sklearn", "openai", "finsent_local", "finsent_openai")


def imported_modules(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "finsent", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # -X importtime writes "import time: self | cumulative | module" lines to stderr
    return {
        line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")
    }


@pytest.mark.parametrize("argv", [("--version",), ("prepare", "--help"), ("--help",)])
def test_commands_without_a_backend_do_not_import_the_plugins(argv: tuple[str, ...]) -> None:
    modules = imported_modules(*argv)
    assert "finsent.cli" in modules, "the measurement sees finsent's own imports"
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []


@pytest.mark.parametrize("argv", [("--version",), ("--help",), ("classify", "--help")])
def test_parsing_flags_does_not_import_pandas_or_pydantic(argv: tuple[str, ...]) -> None:
    """`finsent --version` took half a second when the record types pulled in pandas and pydantic."""
    modules = imported_modules(*argv)
    assert "finsent.cli" in modules
    assert sorted(m for m in modules if m.split(".")[0] in ("pandas", "pydantic", "numpy")) == []


def test_train_still_gets_a_flag_per_backend_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    shown = capsys.readouterr().out
    assert "--duration-seconds" in shown and "[mock]" in shown and "--n-epochs" in shown
    args = build_parser().parse_args(["train", "--backend", "mock", "--data", "d", "--duration-seconds", "0"])
    assert args.opt__duration_seconds == "0"


def _program(tmp_path: Path, before: str) -> subprocess.CompletedProcess[str]:
    """`finsent` (no command: its help) as `run` ends it, after `before` ran in the process."""
    code = f"import sys\n{before}\nfrom finsent.cli import run\nsys.argv = ['finsent']\nrun()\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


def test_the_program_ends_after_what_is_registered_to_run_at_exit_and_with_its_output(tmp_path: Path) -> None:
    """`run` ends the process itself (skipping the interpreter's object-by-object teardown), but only
    after the exit handlers and with everything printed, also what sat in the output's buffer."""
    log = tmp_path / "finsent.log"
    done = _program(
        tmp_path,
        "import atexit, logging\n"
        f"handler = logging.FileHandler({str(log)!r})\n"
        "logging.getLogger('probe').addHandler(handler)\n"
        "logging.getLogger('probe').warning('logged before the end')\n"
        f"atexit.register(lambda: open({str(tmp_path / 'ran')!r}, 'w').write('ran'))\n"
        "print('buffered, not flushed', end='')",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("buffered, not flushed") and "workflow:" in done.stdout
    assert (tmp_path / "ran").read_text() == "ran" and "logged before the end" in log.read_text()


def test_the_program_waits_for_a_thread_still_running(tmp_path: Path) -> None:
    done = _program(
        tmp_path,
        "import threading, time\n"
        f"threading.Thread(target=lambda: (time.sleep(0.3), open({str(tmp_path / 'late')!r}, 'w').write('x'))).start()",
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "late").read_text() == "x"
