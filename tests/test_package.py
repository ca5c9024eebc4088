"""The shape of the package: the core never imports the UI, and its layers only import down."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import workbench
from tests.domain import LAB_WORDS


def test_core_never_imports_streamlit() -> None:
    modules = [
        m.name
        for m in pkgutil.walk_packages(workbench.__path__, "workbench.")
        if not m.name.endswith("__main__")
    ]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'streamlit')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
    assert len(modules) >= 5


def test_cli_help_lists_subcommands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "--help"], capture_output=True, text=True, check=True
    )
    assert "info" in out.stdout


LAYERS = (
    {
        "errors",
        "settings",
        "markup",
        "diffing",
        "background",
        "yamlfiles",
        "store",
        "workspace",
        "upgrade",
        "urls",
        "bounds",
    },
    {"llm", "sql", "dates"},
    {"prompts"},
    {"pipeline"},
    {"cases"},
    {"smoke", "diagnosis"},
    {"experiments"},
    {"commands"},
    {"cli", "__main__"},
)
"""The core's layers, lowest first: a module imports from its own layer or lower ones."""


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return next(i for i, names in enumerate(LAYERS) if top in names)


def workbench_imports(path: Path) -> set[str]:
    """The ``workbench.*`` modules a file imports, wherever the import statement stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {n for n in names if n.startswith("workbench.")}
    return found


def test_no_import_runs_back_up_a_layer() -> None:
    root = Path(workbench.__file__).parent
    upward = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(("workbench", *path.relative_to(root).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        if module == "workbench":
            continue
        for imported in workbench_imports(path):
            if _layer(imported) > _layer(module):
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_every_layer_is_a_real_part_of_the_package() -> None:
    root = Path(workbench.__file__).parent
    tops = {p.stem if p.is_file() else p.name for p in root.iterdir() if p.name != "__pycache__"}
    tops = {t for t in tops if t != "__init__"}
    assert tops == set().union(*LAYERS)


def test_a_planted_upward_import_is_found(tmp_path: Path) -> None:
    planted = tmp_path / "check.py"
    planted.write_text("def f():\n    from workbench.smoke.runner import run_suite\n")
    assert workbench_imports(planted) == {"workbench.smoke.runner"}
    assert _layer("workbench.smoke.runner") > _layer("workbench.sql.check")


def test_the_core_and_the_pages_speak_of_no_domain() -> None:
    """Everything about the lab demo lives in its own folders (prompts/, fixtures/)."""
    root = Path(workbench.__file__).resolve().parent.parent
    files = [*sorted((root / "workbench").rglob("*.py")), *sorted((root / "pages").rglob("*.py"))]
    files += [root / "app.py", root / "webapp.py"]
    found = [
        f"{path.relative_to(root)}:{number}: {match.group(0)}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for match in LAB_WORDS.finditer(line)
    ]
    assert len(files) > 100
    assert found == []
