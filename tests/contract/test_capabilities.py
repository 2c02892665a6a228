"""Meta-tests over every registered backend and every hook (in the style of datasette's): a declared
capability is a promise the class keeps by overriding the methods behind it, and a class that overrides
them declares it; every hook has a test and a documentation entry."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from finsent.contract import Backend, Capability, hookspecs
from finsent.plugins import load_backends

ROOT = Path(__file__).resolve().parents[2]
#: capability -> the optional methods of `Backend` a backend declaring it must override
CAPABILITY_METHODS: dict[Capability, tuple[str, ...]] = {
    Capability.CANCEL: ("cancel_job",),
    Capability.PAUSE: ("pause_job", "resume_job"),
    Capability.BATCH: ("submit_batch", "batch_progress", "batch_results", "cancel_batch"),
    Capability.SHOTS: ("shot_model",),
    Capability.RESUME: ("resume_interrupted",),
    Capability.READY: ("ready_model_ref",),
}


def _overrides(backend_class: type[Backend], method: str) -> bool:
    return getattr(backend_class, method) is not getattr(Backend, method)


def registered_backends() -> list[type[Backend]]:
    return list(load_backends().backends.values())


def capability_mismatches(backend_class: type[Backend]) -> list[str]:
    found = []
    for capability, methods in CAPABILITY_METHODS.items():
        overridden = [m for m in methods if _overrides(backend_class, m)]
        declared = capability in backend_class.capabilities
        if declared and overridden != list(methods):
            missing = sorted(set(methods) - set(overridden))
            found.append(f"declares {capability.value} but does not override {missing}")
        elif not declared and overridden:
            found.append(f"overrides {overridden} without declaring {capability.value}")
    return found


@pytest.mark.parametrize("backend_class", registered_backends(), ids=lambda c: c.name)
def test_declared_capabilities_match_the_methods_a_backend_overrides(backend_class: type[Backend]) -> None:
    assert capability_mismatches(backend_class) == []


def test_a_broken_promise_is_caught_both_ways() -> None:
    mock = next(c for c in registered_backends() if c.name == "mock")

    class Promises(mock):  # type: ignore[valid-type,misc]
        capabilities = frozenset({*mock.capabilities, Capability.BATCH})

    class Hides(mock):  # type: ignore[valid-type,misc]
        capabilities = frozenset(mock.capabilities - {Capability.CANCEL})

    assert capability_mismatches(Promises)[0].startswith("declares batch")
    assert capability_mismatches(Hides) == ["overrides ['cancel_job'] without declaring cancel"]


def test_the_built_in_and_example_backends_are_all_checked() -> None:
    names = {c.name for c in registered_backends()}
    assert {"local", "mock", "openai"} <= names


def test_every_hook_has_a_test_and_a_documentation_entry() -> None:
    hooks = [
        name for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if not name.startswith("_")
    ]
    assert hooks == ["register_backends"]
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    for hook in hooks:
        assert f"`{hook}`" in docs, f"docs/plugins.md does not document {hook}"
        assert f"def {hook}(" in tests, f"no test implements {hook}"
