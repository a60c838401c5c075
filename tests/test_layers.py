"""Layers import one way: only the parser imports lark, only the CLI typer, only render/cli rich."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "autodiff_cli"
ALLOWED = {"lark": {"grammar.py"}, "typer": {"cli.py", "session.py"},
           "prompt_toolkit": {"session_prompt.py"}, "rich": {"render.py", "render_fit.py", "cli.py"}}
NEVER_PRINT = {"graph.py", "ops.py", "arrays.py", "builder.py", "grammar.py", "printing.py", "parse.py",
               "engine.py", "formulas.py", "api.py", "errors.py"}


def imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_third_party_imports_stay_in_their_layer():
    for path in PACKAGE.glob("*.py"):
        used = imports(path)
        for lib, files in ALLOWED.items():
            if lib in used:
                assert path.name in files, f"{path.name} imports {lib}"


def test_library_modules_never_print_or_eval():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        calls = {n.func.id for n in ast.walk(tree)
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert not calls & {"eval", "exec"}, path.name
        if path.name in NEVER_PRINT:
            assert "print" not in calls, path.name


# The layers, lowest first: a module imports only from layers below its own.
LAYERS = [["errors", "generated_parser", "lalr"], ["graph", "kernels", "layout"],
          ["numfmt", "arrays", "datafiles"], ["initialisers"],
          ["ops"], ["builder", "algebra"], ["printing"], ["codegen"], ["grammar"], ["symbolic", "formulas"],
          ["parse"], ["engine"], ["plan", "optimizers", "rewrite"], ["inputs", "node_rows"], ["checks"],
          ["training"], ["results"], ["api"], ["chain", "chain_writers"],
          ["batch", "visual", "plot", "steps"], ["render"], ["render_fit"], ["session"], ["session_prompt"],
          ["cli"]]


def test_imports_go_one_way_down_the_layers():
    level = {name: i for i, names in enumerate(LAYERS) for name in names}
    for path in PACKAGE.glob("*.py"):
        if path.stem.startswith("__"):
            continue
        assert path.stem in level, f"{path.name} is not in LAYERS"
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names = [node.module] if node.module else [a.name for a in node.names]
                for name in names:
                    assert level[name] < level[path.stem], f"{path.name} imports {name}, a layer above it"
