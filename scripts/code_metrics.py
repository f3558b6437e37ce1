#!/usr/bin/env python3
"""Figures of the code's shape that issue #14 tracks, from an ``ast`` pass over ``src/assay``.

    python scripts/code_metrics.py [SRC] [--json] [--list]

- functions with more than 8 parameters outside the CLI (``self``/``cls`` not counted);
- imports of another package's private module (``assay.a._b`` imported from outside ``assay.a``);
- registries: classes named ``*Registry``, and module-level dicts the module's functions fill by
  name without looking the key up first (that is a cache), a dict filled under a computed key
  (``CACHE[id(engine)] = ...``) being a cache too; listed with ``--list`` to check by eye;
- ``# type: ignore`` comments;
- the longest function (lines, from ``def`` to its last line; migrations left out).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    return len([n for n in names if n not in ("self", "cls")])


def _package_of(module: str) -> str:
    """``assay.judges`` for ``assay.judges.rubric``; the top level module itself for ``assay.records``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _private_targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The private modules or names of another package this import statement reaches (one per statement)."""
    if isinstance(node, ast.Import):
        bases, names = [a.name for a in node.names], []
    else:
        base = node.module or ""
        if node.level:
            pkg = module.split(".") if is_package else module.split(".")[:-1]
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join(pkg + ([base] if base else []))
        bases, names = [base], [a.name for a in node.names]
    out = []
    for base in bases:
        if not base.startswith("assay.") or _package_of(base) == _package_of(module):
            continue
        if any(p.startswith("_") and not p.startswith("__") for p in base.split(".")[2:]):
            out.append(base)
        else:
            out += [f"{base}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
    return out


def _registries(tree: ast.Module) -> list[str]:
    """Module-level dicts that functions of the module fill by name (``REG[name] = ...``): registries."""
    dicts = set()
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        targets = (node.targets if isinstance(node, ast.Assign) else [node.target]) if value is not None else []
        is_dict = isinstance(value, ast.Dict) or (isinstance(value, ast.Call) and getattr(value.func, "id", "") == "dict")
        if is_dict:
            dicts |= {t.id for t in targets if isinstance(t, ast.Name)}
    filled, cached = set(), set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            here = set()
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign):
                    for t in node.targets:
                        # keyed by a name, not by a computed value (``CACHE[id(engine)] = ...`` is a cache)
                        if (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in dicts
                                and not isinstance(t.slice, ast.Call)):
                            here.add(t.value.id)
            filled |= here
            for node in ast.walk(fn):  # a function that looks a key up before filling it is a cache
                if isinstance(node, ast.Compare) and any(isinstance(o, (ast.In, ast.NotIn)) for o in node.ops):
                    cached |= {c.id for c in node.comparators if isinstance(c, ast.Name)} & here
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                        and isinstance(node.func.value, ast.Name)):
                    cached |= {node.func.value.id} & here
    return sorted(filled - cached)


def measure(src: Path) -> dict:
    many, private, registries, longest = [], [], [], (0, "")
    ignores = 0
    for path in sorted(src.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        ignores += len(re.findall(r"#\s*type:\s*ignore", text))
        module = _module_name(src, path)
        is_package = path.name == "__init__.py"
        tree = ast.parse(text, filename=str(path))
        in_cli = module.startswith("assay.cli")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = _params(node)
                if n > 8 and not in_cli:
                    many.append(f"{module}.{node.name} ({n})")
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > longest[0] and ".migrations." not in module:  # schema listings, not logic
                    longest = (length, f"{module}.{node.name}")
            elif isinstance(node, ast.ClassDef) and node.name.endswith("Registry"):
                registries.append(f"{module}.{node.name}")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                private += [f"{module} -> {t}" for t in _private_targets(node, module, is_package)]
        registries += [f"{module}.{name}" for name in _registries(tree)]
    return {
        "functions_over_8_params_outside_cli": len(many),
        "private_imports_across_packages": len(sorted(set(private))),
        "registries": len(registries),
        "type_ignores": ignores,
        "longest_function": {"lines": longest[0], "name": longest[1]},
        "lists": {"functions": many, "private_imports": sorted(set(private)), "registries": registries},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", nargs="?", default=str(Path(__file__).resolve().parents[1] / "src" / "assay"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--list", action="store_true", help="also list what each figure counts")
    args = ap.parse_args(argv)
    m = measure(Path(args.src))
    if args.json:
        print(json.dumps(m if args.list else {k: v for k, v in m.items() if k != "lists"}, indent=2))
        return 0
    print(f"functions with more than 8 parameters outside the CLI: {m['functions_over_8_params_outside_cli']}")
    print(f"imports of another package's private module:           {m['private_imports_across_packages']}")
    print(f"registries:                                            {m['registries']}")
    print(f"# type: ignore:                                        {m['type_ignores']}")
    print(f"longest function:                                      {m['longest_function']['lines']} lines, "
          f"{m['longest_function']['name']}")
    if args.list:
        for key, items in m["lists"].items():
            print(f"\n{key}:")
            for x in items:
                print(f"  {x}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
