"""The layout ARCHITECTURE.md asks for: ``src/`` shows the kernel, the four domains and the assembly; the kernel
imports no domain; every first-party import is absolute."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
DOMAINS = ("guide", "booking", "payments", "search")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.level if hasattr(node, "level") else 0, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_src_shows_the_architecture() -> None:
    entries = {p.name for p in SRC.iterdir() if p.name != "__pycache__"}
    assert entries == {"__init__.py", "kernel", *DOMAINS, "app.py", "cli.py", "models.py", "migrations"}


def test_kernel_imports_no_domain() -> None:
    offenders = [
        f"{path.relative_to(SRC)} imports {module}"
        for path in (SRC / "kernel").rglob("*.py")
        for _, module in _imports(path)
        if any(module == f"src.{d}" or module.startswith(f"src.{d}.") for d in DOMAINS)
    ]
    assert offenders == []


def test_first_party_imports_are_absolute() -> None:
    relative = [str(path.relative_to(SRC)) for path in SRC.rglob("*.py") for level, _ in _imports(path) if level > 0]
    assert relative == []
