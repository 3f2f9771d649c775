"""Settings are declared once (`marathon.service.settings.SETTINGS`): `Settings.from_env` reads
through the declaration, `--help` and docs/configuration.md are generated from it, and every
variable the code reads is in it."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from marathon.cli import ENVIRONMENT_HELP, build_parser
from marathon.lab import coach
from marathon.lab.exercises import config
from marathon.service.settings import SETTINGS, Setting, Settings
from tools import docs_site

ROOT = Path(__file__).parent.parent
# Where variables are read: the package, and the exercises' harness (wherever it lives); not
# the learner's answers, their work in progress (maybe not even Python yet).
_ANSWERS = {config.read(e.path).solution for e in coach.exercises(ROOT / "exercises")}
SCANNED = [
    *(ROOT / "marathon").rglob("*.py"),
    *(p for p in (ROOT / "exercises").rglob("*.py") if p not in _ANSWERS),
]
OURS = re.compile(r"^(MARATHON_|DATABASE_URL$|RESEND_|JAEGER_|OTEL_)")
READERS = {"get", "getenv", "setdefault", "pop", "read", "read_setting"}
DECLARED = {s.env: s for s in SETTINGS}

# A value per parser that differs from every field's default.
SAMPLES = {
    "_text": "x",
    "_url": "http://example.test/",
    "_int": "7",
    "_path": "/tmp/elsewhere",
    "_flag": "1",
    "_on_off": "off",
    "_positive": "3",
    "_names": "class.example, Lab.Example.",
}


def reads(source: str) -> set[str]:
    """The variables of ours this source reads: `environ.get("X")`, `os.getenv("X")`,
    `os.environ["X"]`, `settings.read("X")`, the name also through a module-level constant."""
    tree = ast.parse(source)
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            pairs = (
                zip(target.elts, value.elts, strict=False)
                if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
                else [(target, value)]
            )
            for t, v in pairs:
                if isinstance(t, ast.Name) and isinstance(v, ast.Constant):
                    constants[t.id] = v.value

    def name_of(node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        return constants.get(node.id) if isinstance(node, ast.Name) else None

    found: set[Any] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in READERS:
                found.add(name_of(node.args[0]))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "environ"
        ):
            found.add(name_of(node.slice))
    return {n for n in found if isinstance(n, str) and OURS.match(n)}


def test_the_scan_finds_reads_in_every_shape() -> None:
    source = (
        'import os\nVARIABLE = "MARATHON_A"\nB, C = "MARATHON_B", "x"\n'
        'os.environ.get(VARIABLE)\nos.getenv("RESEND_C")\nos.environ["JAEGER_D"]\n'
        'os.environ.setdefault(B, "1")\nenv.get("DATABASE_URL")\nread_setting("OTEL_E")\n'
        'os.environ["MARATHON_WRITTEN"] = "1"\nheaders.get("content-type")\n'
    )
    assert reads(source) == {
        "MARATHON_A",
        "MARATHON_B",
        "RESEND_C",
        "JAEGER_D",
        "DATABASE_URL",
        "OTEL_E",
    }


def test_every_variable_the_code_reads_is_declared() -> None:
    undeclared = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in SCANNED
        for name in reads(path.read_text())
        if name not in DECLARED
    }
    assert not undeclared, f"declare these in marathon/service/settings.py SETTINGS: {undeclared}"


def _module_source(dotted: str) -> str:
    spec = importlib.util.find_spec(dotted)
    assert spec and spec.origin, dotted
    return Path(spec.origin).read_text()


@pytest.mark.parametrize(
    "setting",
    [s for s in SETTINGS if s.field is None and "marathon." in s.read_by],
    ids=lambda s: s.env,
)
def test_a_setting_read_outside_settings_is_read_where_declared(setting: Setting) -> None:
    module = re.search(r"marathon(?:\.\w+)+", setting.read_by)
    assert module
    assert setting.env in reads(_module_source(module.group(0))), setting.read_by


def test_every_settings_field_comes_from_one_declared_variable() -> None:
    filled = [s.field for s in SETTINGS if s.field]
    from_environment = {f.name for f in dataclasses.fields(Settings)} - {"bind_host"}
    assert sorted(filled) == sorted(from_environment)


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.field], ids=lambda s: s.env)
def test_from_env_reads_each_field_through_its_declaration(setting: Setting) -> None:
    assert setting.field
    value = SAMPLES[setting.parse.__name__]
    changed = getattr(Settings.from_env({setting.env: value}), setting.field)
    assert changed != getattr(Settings.from_env({}), setting.field), setting.env
    assert changed == setting.parse(setting.env, value)
    assert Settings.from_env({setting.env: ""}) == Settings.from_env({}), "empty is unset"


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.field], ids=lambda s: s.env)
def test_the_default_a_user_reads_is_the_default(setting: Setting) -> None:
    default = getattr(Settings, str(setting.field))
    if isinstance(default, bool):  # on/off switches: the parser's word for the default
        assert setting.parse(setting.env, setting.default.strip("`")) is default, setting.env
    elif isinstance(default, str | int) and setting.field != "data_dir":  # data_dir: XDG
        assert f"`{default}`" in setting.default, setting.env


def test_the_data_dir_follows_xdg() -> None:
    assert Settings.from_env({"XDG_DATA_HOME": "/x"}).data_dir == Path("/x/marathon")
    assert Settings.from_env({}).data_dir == Path.home() / ".local/share/marathon"


def test_the_semantic_conventions_default_is_the_one_tracing_sets() -> None:
    setup = importlib.import_module("marathon.tracing.setup")
    assert f"`{setup.SEMCONV_DEFAULT}`" == DECLARED[setup.SEMCONV_VARIABLE].default


def test_help_lists_every_declared_setting() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for text in (parser.format_help(), sub.choices["serve"].format_help()):
        missing = [s.env for s in SETTINGS if not re.search(rf"^  {s.env}\s", text, flags=re.M)]
        assert not missing, f"not in --help: {missing}"
    assert "[the API's port + 25] port of the embedded sandbox" in ENVIRONMENT_HELP


def test_the_docs_table_is_generated_from_the_declaration() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert "<!-- marathon:settings -->" in page, "docs/configuration.md lost its settings table"
    text = docs_site.expand(page, "configuration.md")
    for s in SETTINGS:
        assert re.search(rf"^\| `{s.env}` \| .*\|$", text, flags=re.M), s.env
    assert "| `JAEGER_QUERY_URL` | unset: the marathon API |" in text


def test_marathon_trace_reads_jaeger_query_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """The setting, not a field nobody read: `marathon trace` asks the Jaeger it names."""
    from marathon.cli import commands
    from marathon.tracing import jaeger_json

    asked: list[str] = []

    def fetch(base_url: str, trace_id: str, **_: object) -> dict[str, Any]:
        asked.append(base_url)
        raise jaeger_json.Unavailable("stop here", status=404)

    monkeypatch.setattr(jaeger_json, "fetch", fetch)
    args = build_parser().parse_args(["trace", "ab" * 16])
    for env, expected in [
        ("http://jaeger.test:16686/", "http://jaeger.test:16686"),
        (None, "http://127.0.0.1:8000"),
    ]:
        if env is None:
            monkeypatch.delenv("JAEGER_QUERY_URL", raising=False)
        else:
            monkeypatch.setenv("JAEGER_QUERY_URL", env)
        with pytest.raises(jaeger_json.Unavailable):
            commands._traces(args)
        assert asked.pop() == expected
    assert not hasattr(Settings(), "jaeger_query_url")
