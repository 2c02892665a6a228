"""`finsent --version` and the help of commands that need no backend must not load the plugins: importing
scikit-learn or the openai SDK costs seconds. `finsent train` still gets one flag per backend option."""

from __future__ import annotations

import subprocess
import sys

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
