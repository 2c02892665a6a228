"""The house rules, read from the code (docs/architecture.md explains them):

1. `finsent.ui` and `finsent.cli` (and streamlit_app.py) import from finsent only `finsent.service` and their
   own subpackage (plus `finsent.__version__`): everything they show goes through the service's facade.
2. Backend plugins (plugins/*) import from finsent only `finsent.contract` and `finsent.support`.
3. No module under finsent/ names a concrete backend: what differs per backend is asked of the backend.
4. At most a handful of loose modules lie directly in finsent/.

Each rule is a function that returns its violations, so the tests also prove that a deliberate violation
is caught.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOOSE_MODULES = {"__init__.py", "__main__.py", "settings.py"}
#: names of the built-in backends' packages and of the providers they talk to
BACKEND_WORDS = re.compile(r"openai|finsent_local|finsent_mock|finsent_transformers", re.I)
#: the one place the core names its built-in backends: the list of plugins it loads first
BUILTIN_LIST = re.compile(r"^DEFAULT_PLUGINS\b")


def finsent_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import of a finsent module in `path`; `from finsent import x` gives
    "finsent.x" when x is a module, "finsent" for a name such as __version__ or hookimpl."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "finsent" or alias.name.startswith("finsent."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "finsent":
                for alias in node.names:
                    is_module = (ROOT / "finsent" / alias.name).is_dir() or (
                        ROOT / "finsent" / f"{alias.name}.py"
                    ).is_file()
                    yield node.lineno, f"finsent.{alias.name}" if is_module else "finsent"
            elif node.module.startswith("finsent."):
                yield node.lineno, node.module


def _within(module: str, allowed: tuple[str, ...]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


def shell_violations(root: Path = ROOT) -> list[str]:
    """Rule 1: the UI and the CLI reach the core through finsent.service only."""
    found = []
    shells = {"ui": ("finsent.ui",), "cli": ("finsent.cli",)}
    files = [(p, "ui") for p in (root / "finsent" / "ui").rglob("*.py")]
    files += [(p, "cli") for p in (root / "finsent" / "cli").rglob("*.py")]
    if (root / "streamlit_app.py").is_file():
        files.append((root / "streamlit_app.py", "ui"))
    for path, shell in files:
        allowed = ("finsent.service", *shells[shell])
        for line, module in finsent_imports(path):
            if module == "finsent" or module == "finsent.service" or _within(module, shells[shell]):
                continue
            if module.startswith("finsent.service."):
                found.append(f"{path.relative_to(root)}:{line} imports {module} (use finsent.service)")
            elif not _within(module, allowed):
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


def plugin_violations(root: Path = ROOT) -> list[str]:
    """Rule 2: a backend plugin depends on finsent.contract and finsent.support, nothing else of finsent."""
    found = []
    for path in sorted((root / "plugins").rglob("*.py")) + sorted((root / "examples").rglob("*.py")):
        for line, module in finsent_imports(path):
            if not _within(module, ("finsent.contract", "finsent.support")):
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


#: (file, text) where the core may name a provider: the completion-format note of every preparation
#: report describes the legacy prompt/completion files that `prepare_data` wrote for OpenAI; rewording it
#: would change every prepared dataset's report.json/report.txt, which must stay byte-identical
KNOWN_MENTIONS = {("finsent/prep/textchecks.py", "as OpenAI's completion models expect")}


def backend_name_violations(root: Path = ROOT) -> list[str]:
    """Rule 3: no code under finsent/ names a concrete backend (docstrings and comments count too: a
    core module that explains itself through one backend is one that knows it)."""
    found = []
    for path in sorted((root / "finsent").rglob("*.py")):
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            known = any(
                str(path.relative_to(root)) == name and phrase in text for name, phrase in KNOWN_MENTIONS
            )
            if BACKEND_WORDS.search(text) and not BUILTIN_LIST.match(text) and not known:
                found.append(f"{path.relative_to(root)}:{number}: {text.strip()[:80]}")
    return found


def loose_module_violations(root: Path = ROOT) -> list[str]:
    """Rule 4: finsent/ holds packages, and only these loose modules."""
    return sorted(p.name for p in (root / "finsent").glob("*.py") if p.name not in LOOSE_MODULES)


def test_the_ui_and_the_cli_go_through_the_service() -> None:
    assert shell_violations() == []


def test_plugins_import_only_the_contract_and_the_support_helpers() -> None:
    assert plugin_violations() == []


def test_the_core_names_no_backend() -> None:
    assert backend_name_violations() == []


def test_finsent_holds_packages_not_loose_modules() -> None:
    assert loose_module_violations() == []


def test_a_deliberate_violation_of_each_rule_is_caught(tmp_path: Path) -> None:
    (tmp_path / "finsent" / "ui").mkdir(parents=True)
    (tmp_path / "finsent" / "cli").mkdir()
    (tmp_path / "finsent" / "ingest").mkdir()
    (tmp_path / "plugins" / "finsent_x").mkdir(parents=True)
    (tmp_path / "finsent" / "ui" / "page.py").write_text(
        "from finsent.service import charts\nfrom finsent.ingest.reading import read_table\n"
    )
    (tmp_path / "finsent" / "cli" / "cmd.py").write_text(
        "from finsent.service.facade import FinsentService\n"
    )
    (tmp_path / "plugins" / "finsent_x" / "backend.py").write_text(
        "from finsent.contract import Backend\nfrom finsent.store import Store\n"
    )
    (tmp_path / "finsent" / "pricing.py").write_text('PRICES = "openai price list"\n')
    assert sorted(v.split(" imports ")[1] for v in shell_violations(tmp_path)) == [
        "finsent.ingest.reading",
        "finsent.service.facade (use finsent.service)",
    ]
    assert [v.split(" imports ")[1] for v in plugin_violations(tmp_path)] == ["finsent.store"]
    assert backend_name_violations(tmp_path) == ['finsent/pricing.py:1: PRICES = "openai price list"']
    assert loose_module_violations(tmp_path) == ["pricing.py"]


def test_the_type_checker_covers_every_package_the_ui_views_included() -> None:
    import tomllib

    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert set(mypy["files"]) == {"finsent", "plugins"} and not mypy.get("exclude")
