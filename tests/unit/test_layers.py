"""The dependency rule of the design handbook, read from the source: every import counts,
including the lazy ones inside functions and those only for type checking.

    ui  →  people  →  evaluation  →  ingest  →  rag

(``people``: people's data and administration, the accounts, audit trail, feedback and
document administration behind the admin area)

and inside ``rag`` the stages of the data flow, lowest first:

    basics (errors, settings, passage, offline, text)  →  providers  →  retrieval  →  answering

A layer imports only itself and what is below it; nothing imports ``tests`` or
``benchmarks``, and the layers do not import ``loopback`` (the real servers that tests and
benchmarks share). Callers outside a package take its names from the package itself (its
``__init__`` and ``__all__``), not from its modules.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("rag", "ingest", "evaluation", "people", "ui")
LAYERS = {
    "rag": {"rag"},
    "ingest": {"rag", "ingest"},
    "evaluation": {"rag", "ingest", "evaluation"},
    "people": {"rag", "ingest", "evaluation", "people"},
    "ui": {"rag", "ingest", "evaluation", "people", "ui"},
}
PROJECT = {*PACKAGES, "tests", "benchmarks", "loopback"}
# rag's own stages: each may import the ones listed (and itself)
STAGE_OF_BASICS = "basics"
RAG_STAGES = {
    STAGE_OF_BASICS: {STAGE_OF_BASICS},
    "providers": {STAGE_OF_BASICS, "providers"},
    "retrieval": {STAGE_OF_BASICS, "providers", "retrieval"},
    "answering": {STAGE_OF_BASICS, "providers", "retrieval", "answering"},
}
# packages whose modules are private: outsiders import from the package
SURFACES = ("rag.text", "rag.providers.embedding", "rag.providers.vectorstore",
            "rag.providers.keyword", "rag.providers.llm", "rag.retrieval", "rag.answering",
            "evaluation", "ingest", "ingest.readers", "people")


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[Import]:
    source = module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [Import(source, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                package = source.split(".")
                if path.name != "__init__.py":
                    package.pop()
                base = ".".join(package[: len(package) - node.level + 1])
                if not node.module:  # "from . import x": x is a module of the package
                    found += [Import(source, f"{base}.{alias.name}", node.lineno)
                              for alias in node.names]
                    continue
                target = f"{base}.{node.module}"
            else:
                target = node.module or ""
            found.append(Import(source, target, node.lineno))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append(Import(source, node.args[0].value, node.lineno))
    return found


def project_files(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (REPO / package).rglob("*.py"))


ALL_IMPORTS = [imp for path in project_files(*PACKAGES) for imp in imports_of(path)]


def rag_stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in RAG_STAGES:
        return parts[1]
    return STAGE_OF_BASICS


def test_the_reader_sees_every_kind_of_import(tmp_path: Path) -> None:
    # the rule is only as good as the import reader: lazy, type-only and dynamic imports
    sample = REPO / "rag" / "_layers_sample.py"
    try:
        sample.write_text(
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from ingest.pipeline import Ingestor\n"
            "def later():\n    import ui.cli\n    from . import errors\n"
            "    import importlib\n    importlib.import_module('evaluation.golden')\n",
            encoding="utf-8")
        targets = {imp.target for imp in imports_of(sample)}
    finally:
        sample.unlink()
    assert {"ingest.pipeline", "ui.cli", "rag.errors", "evaluation.golden"} <= targets


@pytest.mark.parametrize("package", PACKAGES)
def test_a_layer_imports_only_itself_and_what_is_below(package: str) -> None:
    allowed = LAYERS[package]
    broken = [str(imp) for imp in ALL_IMPORTS
              if imp.source.split(".")[0] == package
              and imp.target.split(".")[0] in PROJECT
              and imp.target.split(".")[0] not in allowed]
    assert broken == []


def test_only_ui_renders() -> None:
    # below ui, functions return data: no Gradio, and no German text taken from ui
    rendering = [str(imp) for imp in ALL_IMPORTS
                 if imp.source.split(".")[0] != "ui" and imp.target.split(".")[0] == "gradio"]
    assert rendering == []


def test_rag_stages_follow_the_data_flow() -> None:
    broken = [str(imp) for imp in ALL_IMPORTS
              if imp.source.split(".")[0] == "rag" and imp.target.split(".")[0] == "rag"
              and rag_stage(imp.target) not in RAG_STAGES[rag_stage(imp.source)]]
    assert broken == []


def test_benchmarks_and_tests_are_imported_by_nobody() -> None:
    leaks = [str(imp) for path in project_files(*PACKAGES, "benchmarks", "loopback")
             for imp in imports_of(path)
             if imp.target.split(".")[0] == "tests"
             or (imp.target.split(".")[0] == "benchmarks"
                 and imp.source.split(".")[0] != "benchmarks")]
    assert leaks == []


def surface_reached_into(target: str) -> str | None:
    """The package whose private module ``target`` is, if it is one."""
    if target in SURFACES:
        return None
    owners = [s for s in SURFACES if target.startswith(s + ".")]
    return max(owners, key=len) if owners else None


def test_callers_outside_a_package_use_its_surface() -> None:
    reaching_in = []
    for imp in ALL_IMPORTS:
        owner = surface_reached_into(imp.target)
        if owner and not (imp.source == owner or imp.source.startswith(owner + ".")):
            reaching_in.append(str(imp))
    assert reaching_in == []


@pytest.mark.parametrize("package", SURFACES)
def test_every_surface_names_what_it_exports(package: str) -> None:
    init = REPO / Path(*package.split(".")) / "__init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8"))
    exported = next((node.value for node in tree.body if isinstance(node, ast.Assign)
                     and any(getattr(t, "id", "") == "__all__" for t in node.targets)), None)
    assert isinstance(exported, ast.List | ast.Tuple), f"{package} has no __all__"
    names = {elt.value for elt in exported.elts if isinstance(elt, ast.Constant)}
    # resolved at run time: a surface may load a heavy module's names on first use
    module = importlib.import_module(package)
    missing = sorted(name for name in names if not hasattr(module, name))
    assert names and missing == [], missing


# the two halves of an index generation: neither knows the other, and
# ``rag.providers.index_generation`` is where they meet
INDEPENDENT_HALVES = ("rag.providers.keyword", "rag.providers.vectorstore")


@pytest.mark.parametrize("half", INDEPENDENT_HALVES)
def test_keyword_and_vector_halves_do_not_import_each_other(half: str) -> None:
    (other,) = (h for h in INDEPENDENT_HALVES if h != half)
    crossing = [str(imp) for imp in ALL_IMPORTS
                if (imp.source == half or imp.source.startswith(half + "."))
                and (imp.target == other or imp.target.startswith(other + "."))]
    assert crossing == []


# ``Any`` in product code, as a ratchet: lower it as annotations get precise types (the
# aim is below 60), never raise it. ``python -m tests.unit.test_layers`` prints the count.
ANY_LIMIT = 55


def any_annotations() -> dict[str, int]:
    """Module -> how often it names ``typing.Any``."""
    counts: dict[str, int] = {}
    for path in project_files(*PACKAGES):
        found = sum(1 for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                    if (isinstance(node, ast.Name) and node.id == "Any")
                    or (isinstance(node, ast.Attribute) and node.attr == "Any"
                        and isinstance(node.value, ast.Name) and node.value.id == "typing"))
        if found:
            counts[module_name(path)] = found
    return counts


def test_any_in_product_code_does_not_grow() -> None:
    total = sum(any_annotations().values())
    print(f"Any in product code: {total}")
    assert total <= ANY_LIMIT


if __name__ == "__main__":
    counts = any_annotations()
    for module, found in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"{found:4d} {module}")
    print(f"{sum(counts.values()):4d} in all")
