"""The event vocabulary: one member and one field set per type, the docs table made from it, and no
event type spelled as a bare string anywhere a writer or reader could use one."""

from __future__ import annotations

import ast
import json
import typing

import pytest

from pipeline.config.fields import FIELD_TYPES
from pipeline.runs.emitter import Emitter
from pipeline.runs.events import EventWriter, iter_events
from pipeline.runs.vocabulary import FIELDS, EventType, markdown_table, objective_fields, with_table
from tests.support.paths import REPO as ROOT

# Benchmarks fabricate events.jsonl files as any writer could (their dict literals are the file format);
# their reads and emits are still checked.
SCANNED = {"pipeline": True, "aba_tui": True, "benchmarks": False}


def test_every_type_has_fields_and_an_emit_overload():
    assert set(FIELDS) == set(EventType)
    overloads = typing.get_overloads(Emitter.emit)
    kinds = [typing.get_args(typing.get_type_hints(o)["type"]) for o in overloads]
    assert sorted(k for (k,) in kinds) == sorted(EventType)  # one overload per type, none twice


def test_docs_table_is_the_vocabulary():
    doc = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert with_table(doc) == doc, "docs/events.md: run `python -m pipeline.runs.vocabulary --write docs/events.md`"
    for t in EventType:
        assert f"| `{t}` |" in markdown_table()


def test_writer_writes_the_type_as_a_plain_string_and_leaves_none_out(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as w:
        w.emit(EventType.TRIAL, 3, trial=2, **objective_fields({"refusals": 4.0, "kl": 0.2, "score": 9.0}),
               arm=None)
    raw = json.loads(path.read_text())
    assert raw["type"] == "trial" and type(raw["type"]) is str
    assert raw["refusals"] == 4.0 and raw["kl"] == 0.2
    assert "arm" not in raw and "score" not in raw  # None is absent; a non-objective is no objective field
    ((_end, ev),) = iter_events(path)
    assert ev["type"] == EventType.TRIAL  # a reader compares with the member


# -- the scan: no bare event-type strings ------------------------------------------------------------------
KNOWN = {str(t) for t in EventType}


def _is_type_read(node: ast.AST, names: set[str]) -> bool:
    """``x.get("type", …)``, ``x["type"]`` or a name bound to one of them."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "type"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "type"
    return isinstance(node, ast.Name) and node.id in names


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for e in node.elts for s in _strings(e)]
    return []


def bare_event_types(source: str, filename: str = "<src>", literals: bool = True) -> list[str]:
    """Where ``source`` spells an event type as a string: ``emit("…")`` (or ``type="…"``), a comparison of a
    type read (``ev.get("type")``, ``ev["type"]``, a name bound to one) with a string, the default of
    ``ev.get("type", "…")``, and ``{"type": "<an event type>"}`` literals. A config field's ``type``
    (pipeline.config.schema.FieldType, compared in the launch form) is not an event type."""
    tree = ast.parse(source, filename)
    names = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and _is_type_read(n.value, set())
             for t in n.targets if isinstance(t, ast.Name)}
    found = []
    for n in ast.walk(tree):
        where = f"{filename}:{getattr(n, 'lineno', 0)}"
        if isinstance(n, ast.Call):
            fn = n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
            if fn == "emit":
                args = n.args[:1] + [k.value for k in n.keywords if k.arg == "type"]
                found += [f"{where}: emit({s!r})" for a in args for s in _strings(a)]
            if _is_type_read(n, set()) and len(n.args) > 1:
                found += [f"{where}: .get('type', {s!r})" for s in _strings(n.args[1])]
        elif isinstance(n, ast.Compare):
            sides = [n.left, *n.comparators]
            if any(_is_type_read(s, names) for s in sides):
                found += [f"{where}: compared with {s!r}" for side in sides for s in _strings(side)
                          if s not in FIELD_TYPES]
        elif isinstance(n, ast.Dict) and literals:
            for k, v in zip(n.keys, n.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == "type":
                    found += [f"{where}: {{'type': {s!r}}}" for s in _strings(v) if s in KNOWN]
    return found


def test_the_scan_finds_each_kind_of_bare_event_type():
    src = '''
ctx.emit("metrics", 1, loss=0.5)
writer.emit(type="brand_new", step=2)
if ev.get("type") == "progress": pass
if ev["type"] in ("alert", "checkpoint"): pass
kind = ev.get("type", "metrics")
if kind != "status": pass
lines.append({"type": "trial", "trial": 1})
'''
    found = bare_event_types(src)
    for expected in ("emit('metrics')", "emit('brand_new')", "compared with 'progress'", "compared with 'alert'",
                     "compared with 'checkpoint'", ".get('type', 'metrics')", "compared with 'status'",
                     "{'type': 'trial'}"):
        assert any(expected in f for f in found), (expected, found)
    assert len(found) == 8


def test_the_scan_leaves_members_and_other_types_alone():
    src = '''
ctx.emit(EventType.METRICS, 1, loss=0.5)
if ev.get("type") == EventType.PROGRESS: pass
if f["type"] == "bool": pass
schema = {"type": "object", "properties": {"turns": {"type": "array"}}}
'''
    assert bare_event_types(src) == []


@pytest.mark.parametrize("package", SCANNED)
def test_no_bare_event_type_strings(package):
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        found += bare_event_types(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), SCANNED[package])
    assert not found, "name event types with pipeline.runs.vocabulary.EventType:\n" + "\n".join(found)
