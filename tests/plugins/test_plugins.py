from __future__ import annotations

import sys
from pathlib import Path

import pytest
from core_fixtures import CORE_PLUGINS

from finsent import hookimpl
from finsent.contract.backend import Backend
from finsent.contract.errors import NotFoundError
from finsent.plugins import DEFAULT_PLUGINS, BackendRegistry, get_plugin_manager
from finsent.settings import Settings

GOOD_PLUGIN = """
from finsent import hookimpl
from finsent_plugins_dir_base import Base

class {cls}(Base):
    name = "{name}"
    label = "{label}"

@hookimpl
def register_backends(register):
    register({cls})
"""


@pytest.fixture
def base_backend(monkeypatch: pytest.MonkeyPatch) -> type[Backend]:
    """A concrete Backend class the plugin files below subclass (importable as a module, like a library)."""
    scripted = get_plugin_manager(
        Settings(home=Path("."), plugins_dir=CORE_PLUGINS, load_plugins=("scripted",))
    )
    base = BackendRegistry.from_plugin_manager(scripted).get("scripted")
    module = type(sys)("finsent_plugins_dir_base")
    module.Base = base  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "finsent_plugins_dir_base", module)
    return base


def settings_for(
    home: Path, plugins_dir: Path | None = None, load: tuple[str, ...] | None = None
) -> Settings:
    return Settings(home=home, plugins_dir=plugins_dir, load_plugins=load)


def test_builtins_load_through_the_hook_and_missing_ones_are_reported(tmp_path: Path) -> None:
    pm = get_plugin_manager(settings_for(tmp_path, load=DEFAULT_PLUGINS))
    registry = BackendRegistry.from_plugin_manager(pm)
    loaded = {p.name for p in pm.loaded}
    for name in DEFAULT_PLUGINS:
        # every built-in either loaded (and registers through the hook) or is reported, never both/neither
        reported = any(f"plugin {name!r}" in problem for problem in registry.problems)
        assert (name in loaded) != reported
    for backend_name, provider in registry.providers.items():
        assert provider in DEFAULT_PLUGINS, backend_name
    assert {p.source for p in pm.loaded} <= {"builtin"}


def test_entry_point_plugin_loads_and_can_be_excluded(tmp_path: Path) -> None:
    registry = BackendRegistry.from_plugin_manager(
        get_plugin_manager(settings_for(tmp_path, load=("hello",)))
    )
    assert registry.names() == ["hello"], registry.problems
    assert registry.providers["hello"] == "hello"
    assert registry.get("hello").__module__ == "finsent_hello.backend"
    everything = get_plugin_manager(settings_for(tmp_path))
    assert ("hello", "entrypoint") in {(p.name, p.source) for p in everything.loaded}
    excluded = BackendRegistry.from_plugin_manager(
        get_plugin_manager(settings_for(tmp_path, load=("finsent_mock", "finsent_local")))
    )
    assert "hello" not in excluded.names()
    nothing = BackendRegistry.from_plugin_manager(get_plugin_manager(settings_for(tmp_path, load=())))
    assert nothing.names() == [] and nothing.problems == []


def test_plugins_dir_loads_real_files_and_reports_broken_ones(
    tmp_path: Path, base_backend: type[Backend]
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "alpha.py").write_text(GOOD_PLUGIN.format(cls="Alpha", name="alpha", label="Alpha"))
    (plugins / "broken.py").write_text("import finsent_no_such_module\n")
    (plugins / "syntax.py").write_text("def register_backends(:\n")
    (plugins / "misspelt.py").write_text(
        "from finsent import hookimpl\n\n@hookimpl\ndef register_backend(register):\n    pass\n"
    )
    (plugins / "badsig.py").write_text(
        "from finsent import hookimpl\n\n@hookimpl\ndef register_backends(register, extra):\n    pass\n"
    )
    (plugins / "raises.py").write_text(
        "from finsent import hookimpl\n\n@hookimpl\ndef register_backends(register):\n    raise RuntimeError('boom')\n"
    )
    (plugins / "notabackend.py").write_text(
        "from finsent import hookimpl\n\n@hookimpl\ndef register_backends(register):\n    register(dict)\n"
    )
    (plugins / "zeta.py").write_text(GOOD_PLUGIN.format(cls="Zeta", name="zeta", label="Zeta"))
    pm = get_plugin_manager(
        settings_for(tmp_path, plugins_dir=plugins, load=tuple(p.stem for p in plugins.glob("*.py")))
    )
    registry = BackendRegistry.from_plugin_manager(pm)
    assert registry.names() == ["alpha", "zeta"]
    problems = "\n".join(registry.problems)
    assert "'broken' (" in problems and "ModuleNotFoundError" in problems
    assert "'syntax' (" in problems and "SyntaxError" in problems
    assert "'misspelt' (" in problems and "unknown hook 'register_backend'" in problems
    assert "'badsig' (" in problems and "extra" in problems
    assert "'raises' failed in register_backends: RuntimeError: boom" in problems
    assert "'notabackend' registered <class 'dict'>" in problems
    assert not pm.has_plugin("misspelt")  # unregistered, so later checks do not trip over it
    assert {p.source for p in pm.loaded} == {"plugins_dir"}


def test_duplicate_backend_names_are_reported_and_skipped(
    tmp_path: Path, base_backend: type[Backend]
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "first.py").write_text(GOOD_PLUGIN.format(cls="One", name="twin", label="First"))
    (plugins / "second.py").write_text(GOOD_PLUGIN.format(cls="Two", name="twin", label="Second"))
    registry = BackendRegistry.from_plugin_manager(
        get_plugin_manager(settings_for(tmp_path, plugins, ("first", "second")))
    )
    assert registry.names() == ["twin"] and registry.get("twin").label == "First"
    assert any(
        "'second' registers a backend named 'twin', already provided by 'first'" in p
        for p in registry.problems
    )


def test_load_plugins_restricts_plugins_dir_files(tmp_path: Path, base_backend: type[Backend]) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "alpha.py").write_text(GOOD_PLUGIN.format(cls="Alpha", name="alpha", label="Alpha"))
    (plugins / "beta.py").write_text(GOOD_PLUGIN.format(cls="Beta", name="beta", label="Beta"))
    registry = BackendRegistry.from_plugin_manager(
        get_plugin_manager(settings_for(tmp_path, plugins, ("beta",)))
    )
    assert registry.names() == ["beta"]


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FINSENT_PLUGINS_DIR", str(CORE_PLUGINS))
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "scripted, hello")
    registry = BackendRegistry.from_plugin_manager(get_plugin_manager(Settings.from_env()))
    assert sorted(registry.names()) == ["hello", "scripted"]
    missing_dir = BackendRegistry.from_plugin_manager(
        get_plugin_manager(settings_for(tmp_path, tmp_path / "nope", ()))
    )
    assert any("is not a folder" in p for p in missing_dir.problems)


def test_test_plugin_object_registered_temporarily(tmp_path: Path, base_backend: type[Backend]) -> None:
    class Plugin:
        @staticmethod
        @hookimpl
        def register_backends(register):  # type: ignore[no-untyped-def]
            register(type("Temp", (base_backend,), {"name": "temp", "label": "Temp"}))

    pm = get_plugin_manager(settings_for(tmp_path, load=()))
    pm.register(Plugin, name="temp-plugin")
    assert BackendRegistry.from_plugin_manager(pm).names() == ["temp"]
    pm.unregister(name="temp-plugin")
    registry = BackendRegistry.from_plugin_manager(pm)
    assert registry.names() == []
    with pytest.raises(NotFoundError, match="Unknown backend 'temp'"):
        registry.get("temp")


def test_hello_example_backend_trains_and_classifies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The installed example plugin is a real backend: it goes through the service's whole workflow."""
    from core_fixtures import write_prepared

    from finsent.service import FinsentService

    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "hello")
    svc = FinsentService(Settings.from_env())
    dataset = svc.register_dataset(write_prepared(tmp_path / "prepared", copies=4))
    job = svc.start_training("hello", dataset.id, {"words_per_label": 20, "min_count": 1})
    final = svc.follow_job(job.id, lambda _job: None, interval=0)
    assert final.status.value == "succeeded" and final.fine_tuned_model
    (model,) = svc.models("hello")
    assert model.path and Path(model.path).is_relative_to(svc.settings.models_dir) and model.sha256
    evaluation = svc.evaluation(job.id)
    assert evaluation is not None and evaluation.accuracy > 0.5
    predictions = svc.classify(
        "hello", final.fine_tuned_model, ["매출 상승 기대감 0", "영업이익 하락 우려 1", ""]
    )
    assert [p.label for p in predictions[:2]] == ["positive", "negative"]
    assert all(abs(sum(p.scores.values()) - 1) < 1e-9 for p in predictions)
    Path(model.path).write_text("{}")  # tampered model file: refused, with a message
    with pytest.raises(Exception, match="changed after training"):
        FinsentService(Settings.from_env()).classify("hello", final.fine_tuned_model, ["x"])
