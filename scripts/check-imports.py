#!/usr/bin/env python3
"""Checks that every import of the Rust code points down (issue 25): no
module imports, directly or through others, from a module that imports
from it, in any crate (server/, app/, cluster/, frontend/); and no module
of server/src imports from a module of a higher layer, or of its own
layer. The layers are read from the table under "Layers" in
docs/architecture.md, so the document and the check cannot drift: a
top-level module of server/src the table does not name, or a name in the
table that is no module there, fails the check too. So does a circle the
table of circles left there names, once it is gone, for the row to go.

What counts as module B importing from module A (a module is a file:
`foo/mod.rs` and `foo.rs` are module `foo`; an inline `mod x { ... }`
belongs to its file):

- a path in a `use` declaration, nested groups (`use crate::{a, b::c}`)
  included, or a path in code (`crate::x::y(...)`), that starts with
  `crate`, `super`, `self`, the name of a child module, a name a `use`
  brought in, or in a binary its library's name, and names something in
  A. A name a module only imports or re-exports (`pub use child::Name`)
  leads on to the module that defines it;
- but not a module's import from its own descendants: a parent (a
  `mod.rs`, or `foo.rs` over `foo/`) declares its children and puts them
  together, as a crate root does, and that relation is not an import. A
  child importing from its parent (`super::Shared`) does count, as do
  imports between siblings and from a module to any module outside its
  folder. Were the parent's imports from its children counted too, every
  child's `super::` would close a circle with its parent.

Method calls are not imports: a module may call methods of a type
another module implements without naming that module. The code under
`#[cfg(test)]` (test modules, inline or in files of their own, and any
item so marked) is left out: tests reach into what they test and into
each other's helpers, are not part of the program built and run, and
cannot make its modules circular. Comments, strings and character
literals are blanked before anything is read, so a path in a doc comment
or a log filter is not an import.

Prints each circle as a path of files, with the imports that make each
step of it (file:line and the path written, the first few), and each
import that points up or across a layer; exits 1 if there is either, or
if the tables and the modules disagree.

Python 3.11's standard library only. Run from anywhere:
    python3 scripts/check-imports.py
"""

import re
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRATES = ["server", "app", "cluster", "frontend"]
# The crate whose top-level modules are layered, and where the layers are.
LAYERED = "server"
LAYERS_DOC = ROOT / "docs" / "architecture.md"
LAYERS_HEADING = "Layers"
# The columns that tell the two tables under that heading apart: the
# layers, and the circles left for now (each its files, comma-separated).
LAYER_COLUMNS = ("layer", "modules")
CIRCLE_COLUMN = "circle"

# Of the imports that make one step of a circle, how many are shown.
SHOWN_PER_STEP = 4

IDENT = r"(?:r#)?[A-Za-z_][A-Za-z0-9_]*"
CFG_TEST = re.compile(r"#\s*\[\s*cfg\s*\(\s*(?:all\s*\(\s*)?test\b")
TEST_MOD = re.compile(rf"\s*(?:#\s*\[[^\]]*\]\s*)*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+({IDENT})\s*;")
VISIBILITY_PATH = re.compile(r"\bpub\s*\(\s*in\s+[^)]*\)")
MOD_DECL = re.compile(rf"(?<![\w:$])mod\s+({IDENT})\s*([;{{])")
USE_DECL = re.compile(r"(?<![\w:$#])use\s+([^;]*);")
CODE_PATH = re.compile(rf"(?<![\w:$#])({IDENT}(?:\s*::\s*{IDENT})+)")
USE_TOKEN = re.compile(rf"::|[{{}},*]|{IDENT}")
RAW_STRING = re.compile(r'b?r(#*)"')
CHAR_LITERAL = re.compile(r"b?'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.)|[^\\'\n])'")
WORD = re.compile(r"\w")


def blank(text: str) -> str:
    """Every character but newlines made a space, so offsets and line
    numbers stay as they were."""
    return re.sub(r"[^\n]", " ", text)


def strip(source: str) -> str:
    """The source with comments, string and character literals blanked
    (lifetimes, which look like an unclosed character, stay)."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        starts_word = i == 0 or not WORD.match(source[i - 1])
        if source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
        elif source.startswith("/*", i):
            depth, end = 1, i + 2
            while end < n and depth:
                if source.startswith("/*", end):
                    depth, end = depth + 1, end + 2
                elif source.startswith("*/", end):
                    depth, end = depth - 1, end + 2
                else:
                    end += 1
        elif starts_word and (raw := RAW_STRING.match(source, i)):
            closing = '"' + raw.group(1)
            end = source.find(closing, raw.end())
            end = n if end < 0 else end + len(closing)
        elif source[i] == '"' or (starts_word and source.startswith('b"', i)):
            end = source.index('"', i) + 1
            while end < n and source[end] != '"':
                end += 2 if source[end] == "\\" else 1
            end += 1
        elif starts_word and (char := CHAR_LITERAL.match(source, i)):
            end = char.end()
        else:
            out.append(source[i])
            i += 1
            continue
        out.append(blank(source[i:end]))
        i = end
    return "".join(out)


def matching_brace(text: str, opening: int) -> int:
    """The offset of the brace that closes the one at `opening`."""
    depth = 0
    for i in range(opening, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text) - 1


def item_end(text: str, start: int) -> int:
    """Where the item starting at `start` ends: its `;`, or the brace that
    closes its body (brackets and parentheses skipped, for `[u8; 4]`)."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and c == ";":
            return i
        elif depth == 0 and c == "{":
            return matching_brace(text, i)
    return len(text) - 1


def attribute_end(text: str, start: int) -> int:
    """The offset just past the attribute `#[...]` starting at `start`."""
    depth = 0
    for i in range(text.index("[", start), len(text)):
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def without_tests(code: str) -> tuple[str, set[str]]:
    """The code with every item under `#[cfg(test)]` blanked, and the
    names of the test modules it declares in files of their own."""
    test_files: set[str] = set()
    while match := CFG_TEST.search(code):
        after = attribute_end(code, match.start())
        end = item_end(code, after)
        if declared := TEST_MOD.match(code, after):
            test_files.add(declared.group(1).removeprefix("r#"))
        code = code[: match.start()] + blank(code[match.start() : end + 1]) + code[end + 1 :]
    return code, test_files


@dataclass
class UseItem:
    segments: list[str]
    alias: str | None  # the name it brings in; None for a glob or `as _`
    line: int


def parse_use_tree(text: str, line: int) -> list[UseItem]:
    """Every path of one `use` declaration's tree, each with the name it
    brings in (`self` in a group names the group's prefix). A path from
    the extern prelude (`::name`) starts with the segment "::"."""
    tokens = USE_TOKEN.findall(text)
    items: list[UseItem] = []
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def tree(prefix: list[str]) -> None:
        nonlocal position
        path = list(prefix)
        if peek() == "::" and not path:
            path.append("::")
        while (token := peek()) is not None:
            if token == "::":
                position += 1
            elif token == "{":
                position += 1
                while peek() not in ("}", None):
                    tree(path)
                    if peek() == ",":
                        position += 1
                position += 1
                return
            elif token == "*":
                position += 1
                items.append(UseItem(path, None, line))
                return
            elif token in (",", "}", "as"):
                break
            else:
                path.append(token.removeprefix("r#"))
                position += 1
                if peek() != "::":
                    break
        alias = path[-1] if path else None
        if peek() == "as":
            position += 1
            alias = (peek() or "_").removeprefix("r#")
            position += 1
        if path and path[-1] == "self":
            path = path[:-1]
            if alias == "self":
                alias = path[-1] if path else None
        if path:
            items.append(UseItem(path, None if alias == "_" else alias, line))

    tree([])
    return items


@dataclass
class Scope:
    """A module as written: a file, or an inline `mod x { ... }` in one."""

    crate: "Crate"
    path: tuple[str, ...]
    file: Path
    uses: list[UseItem] = field(default_factory=list)
    # (line, segments) of every path in code that may name another module.
    code_paths: list[tuple[int, list[str]]] = field(default_factory=list)

    def binding(self, name: str) -> UseItem | None:
        return next((item for item in self.uses if item.alias == name), None)


@dataclass
class Crate:
    name: str
    root: Path
    is_library: bool
    library: "Crate | None" = None  # a binary's library, reached by its name
    scopes: dict[tuple[str, ...], Scope] = field(default_factory=dict)
    # Each file's own module path (an inline module's is longer).
    file_paths: dict[Path, tuple[str, ...]] = field(default_factory=dict)


def load_file(crate: Crate, file: Path, path: tuple[str, ...], folder: Path, problems: list[str]) -> None:
    """Reads one file of the crate's module tree, and the files of the
    child modules it declares (but those under `#[cfg(test)]`)."""
    code, test_files = without_tests(strip(file.read_text(encoding="utf-8")))
    code = VISIBILITY_PATH.sub(lambda m: blank(m.group(0)), code)
    # The file and its inline modules: each one's span; the innermost
    # holding an offset is the scope there.
    spans: list[tuple[int, int, tuple[str, ...]]] = [(0, len(code), path)]

    def scope_at(offset: int) -> Scope:
        *_, scope_path = max((s for s in spans if s[0] <= offset <= s[1]), key=lambda s: s[0])
        return crate.scopes[scope_path]

    crate.file_paths[file] = path
    crate.scopes[path] = Scope(crate, path, file)
    taken = bytearray(len(code))  # offsets in `mod` and `use` declarations
    for match in MOD_DECL.finditer(code):
        name = match.group(1).removeprefix("r#")
        parent = scope_at(match.start())
        taken[match.start() : match.end()] = b"\1" * (match.end() - match.start())
        child_path = parent.path + (name,)
        if match.group(2) == "{":
            opening = match.end() - 1
            spans.append((opening, matching_brace(code, opening), child_path))
            crate.scopes[child_path] = Scope(crate, child_path, file)
            continue
        if name in test_files:
            continue
        child_folder = folder.joinpath(*parent.path[len(path) :])
        candidates = [child_folder / f"{name}.rs", child_folder / name / "mod.rs"]
        child = next((c for c in candidates if c.exists()), None)
        if child is None:
            problems.append(f"{file.relative_to(ROOT)}: mod {name}: no {candidates[0].relative_to(ROOT)}")
            continue
        load_file(crate, child, child_path, child.parent if child.name == "mod.rs" else child.parent / name, problems)
    for match in USE_DECL.finditer(code):
        line = code.count("\n", 0, match.start()) + 1
        scope_at(match.start()).uses.extend(parse_use_tree(match.group(1), line))
        taken[match.start() : match.end()] = b"\1" * (match.end() - match.start())
    for match in CODE_PATH.finditer(code):
        if not taken[match.start()]:
            segments = [s.removeprefix("r#") for s in re.split(r"\s*::\s*", match.group(1))]
            line = code.count("\n", 0, match.start()) + 1
            scope_at(match.start()).code_paths.append((line, segments))


def resolve(scope: Scope, segments: list[str], depth: int = 0) -> tuple[Crate, tuple[str, ...]] | None:
    """The module (its crate and path) that defines what `segments`,
    written in `scope`, names; None if that is nothing of this crate (an
    item of another crate, a local name)."""
    if not segments or depth > 32:
        return None
    crate, first, rest = scope.crate, segments[0], segments[1:]
    if first == "crate":
        base: tuple[str, ...] = ()
    elif first == "self":
        base = scope.path
    elif first == "super":
        base = scope.path[:-1]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif crate.library and first == crate.library.name:
        crate, base = crate.library, ()
    elif scope.path + (first,) in crate.scopes:
        base = scope.path + (first,)
    elif (binding := scope.binding(first)) and binding.segments[0] != first:
        # (A `use` path never starts with the name it brings in: such a
        # first segment is another crate.)
        return resolve(scope, binding.segments + rest, depth + 1)
    else:
        return None
    # Down the modules, as far as the path names modules; then, if the
    # module reached only imports the next name, on to where it points.
    for i, segment in enumerate(rest):
        if base + (segment,) in crate.scopes:
            base += (segment,)
            continue
        here = crate.scopes[base]
        if (binding := here.binding(segment)) and (onward := resolve(here, binding.segments + rest[i + 1 :], depth + 1)):
            return onward
        break
    return crate, base


@dataclass(frozen=True)
class Edge:
    source: Path
    target: Path
    line: int
    path: str


def edges_of(crate: Crate) -> list[Edge]:
    """Every import from one file of `crate` to another (or, from a
    binary, to its library) that counts: not a module's from its own
    descendants."""
    found: list[Edge] = []
    for scope in crate.scopes.values():
        own_path = crate.file_paths[scope.file]
        written = [(item.line, item.segments) for item in scope.uses] + scope.code_paths
        for line, segments in written:
            resolved = resolve(scope, segments)
            if resolved is None:
                continue
            target_crate, target_path = resolved
            target = target_crate.scopes[target_path].file
            if target == scope.file:
                continue
            if target_crate is crate and target_path[: len(own_path)] == own_path:
                continue  # a parent's import from its own descendant
            found.append(Edge(scope.file, target, line, "::".join(segments)))
    return found


def components(graph: dict[Path, set[Path]]) -> list[set[Path]]:
    """The strongly connected components of more than one file (Tarjan's
    algorithm, without recursion)."""
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    on_stack: set[Path] = set()
    found: list[set[Path]] = []
    for start in sorted(graph):
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(sorted(graph[start])))]
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def circles_in(component: set[Path], graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """Circles through a component, enough to show every import in it:
    for each import not yet shown, the shortest way back from its target
    to its source."""
    shown: set[tuple[Path, Path]] = set()
    found: list[list[Path]] = []
    for source in sorted(component):
        for target in sorted(graph[source] & component):
            if (source, target) in shown:
                continue
            previous: dict[Path, Path | None] = {target: None}
            queue = deque([target])
            while queue and source not in previous:
                node = queue.popleft()
                for after in sorted(graph[node] & component):
                    if after not in previous:
                        previous[after] = node
                        queue.append(after)
            back: list[Path] = []
            step: Path | None = source
            while step is not None:
                back.append(step)
                step = previous[step]
            circle = [source, *reversed(back)]
            shown.update(zip(circle, circle[1:]))
            found.append(circle)
    return found


def tables_under_heading(problems: list[str]) -> list[list[list[str]]]:
    """The tables of the "Layers" section: each a list of rows of cells,
    its header first (the delimiter row left out)."""
    where = LAYERS_DOC.relative_to(ROOT).as_posix()
    lines = LAYERS_DOC.read_text(encoding="utf-8").split("\n")
    start = next((i for i, line in enumerate(lines) if re.match(rf"^#+\s+{LAYERS_HEADING}\s*$", line)), None)
    if start is None:
        problems.append(f"{where}: no heading {LAYERS_HEADING!r}")
        return []
    level = len(lines[start]) - len(lines[start].lstrip("#"))
    tables: list[list[list[str]]] = []
    rows: list[list[str]] = []
    for line in lines[start + 1 :] + [""]:
        heading = re.match(r"^(#+)\s", line)
        if heading and len(heading.group(1)) <= level:
            line = ""
        if line.strip().startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            tables.append([rows[0], *rows[2:]])
            rows = []
        if heading and len(heading.group(1)) <= level:
            break
    return tables


def layers(problems: list[str]) -> tuple[dict[str, int], list[set[str]]]:
    """From the "Layers" section: each layered name's layer (a top-level
    module of the layered crate, `main.rs`, or a folder such as
    `bin/bench/`), and the circles left for now, each as its files."""
    where = LAYERS_DOC.relative_to(ROOT).as_posix()
    by_name: dict[str, int] = {}
    circles: list[set[str]] = []
    for header, *rows in tables_under_heading(problems):
        if all(column in header for column in LAYER_COLUMNS):
            layer_column, modules_column = (header.index(c) for c in LAYER_COLUMNS)
            for row in rows:
                if not row[layer_column].isdigit():
                    problems.append(f"{where}: layer {row[layer_column]!r} is not a number")
                    continue
                for name in re.findall(r"`([^`]+)`", row[modules_column]):
                    by_name[name] = int(row[layer_column])
        elif CIRCLE_COLUMN in header:
            column = header.index(CIRCLE_COLUMN)
            circles.extend(set(re.findall(r"`([^`]+)`", row[column])) for row in rows)
    if not by_name:
        problems.append(f"{where}: no table with columns {' and '.join(LAYER_COLUMNS)} under {LAYERS_HEADING!r}")
    return by_name, circles


def layer_of_files(crates: list[Crate], by_name: dict[str, int], problems: list[str]) -> dict[Path, tuple[int, str]]:
    """Every file of the layered crate's library and binaries, with its
    layer and the name the table gives it (the library's root, which only
    declares the modules, has none)."""
    src = ROOT / LAYERED / "src"
    layered: dict[Path, tuple[int, str]] = {}
    unnamed: dict[str, str] = {}  # a name the table lacks: its first file
    if not by_name:
        return layered
    for crate in crates:
        if src not in crate.root.parents:
            continue
        # A binary is named by its file (`main.rs`), or by its folder
        # (`bin/bench/`) when it has one.
        root = crate.root.relative_to(src).as_posix()
        binary = root if crate.root.name != "main.rs" or crate.root.parent == src else root.removesuffix("main.rs")
        for file, path in crate.file_paths.items():
            relative = file.relative_to(src).as_posix()
            if crate.is_library and not path:
                continue
            name = path[0] if crate.is_library else binary
            if name in by_name:
                layered[file] = (by_name[name], name)
            else:
                unnamed.setdefault(name, relative)
    for name, relative in unnamed.items():
        problems.append(
            f"{LAYERED}/src/{relative}: `{name}` has no layer in the table under "
            f"{LAYERS_HEADING!r} in {LAYERS_DOC.relative_to(ROOT).as_posix()}"
        )
    for name in sorted(set(by_name) - {name for _, name in layered.values()}):
        problems.append(
            f"{LAYERS_DOC.relative_to(ROOT).as_posix()}: layer {by_name[name]} names `{name}`, "
            f"which is no module of {LAYERED}/src"
        )
    return layered


def crates_of(directory: str) -> list[Crate]:
    """The crates whose sources are in `directory`/src: its library and
    its binaries (`main.rs`, `bin/*.rs`, `bin/*/main.rs`)."""
    src = ROOT / directory / "src"
    if not src.is_dir():
        return []
    manifest = (ROOT / directory / "Cargo.toml").read_text(encoding="utf-8")
    named = re.search(r'^\[lib\][^\[]*?^name\s*=\s*"([^"]+)"', manifest, re.MULTILINE | re.DOTALL) or re.search(
        r'^name\s*=\s*"([^"]+)"', manifest, re.MULTILINE
    )
    name = named.group(1).replace("-", "_") if named else directory
    library = Crate(name, src / "lib.rs", True) if (src / "lib.rs").exists() else None
    roots = [src / "main.rs", *sorted((src / "bin").glob("*.rs")), *sorted((src / "bin").glob("*/main.rs"))]
    binaries = [Crate(root.relative_to(ROOT).as_posix(), root, False, library) for root in roots if root.exists()]
    return ([library] if library else []) + binaries


def main() -> int:
    problems: list[str] = []
    crates = [crate for directory in CRATES for crate in crates_of(directory)]
    for crate in crates:
        load_file(crate, crate.root, (), crate.root.parent, problems)
    edges = [edge for crate in crates for edge in edges_of(crate)]
    graph: dict[Path, set[Path]] = {}
    by_step: dict[tuple[Path, Path], list[Edge]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
        by_step.setdefault((edge.source, edge.target), []).append(edge)

    def name(path: Path) -> str:
        return path.relative_to(ROOT).as_posix()

    by_name, circles_left = layers(problems)
    found = components(graph)
    cycles = 0
    for component in found:
        if {name(file) for file in component} in circles_left:
            continue
        for circle in circles_in(component, graph):
            cycles += 1
            problems.append("import cycle: " + " -> ".join(name(file) for file in circle))
            for source, target in zip(circle, circle[1:]):
                step = by_step[(source, target)]
                problems.extend(f"    {name(source)}:{edge.line}: {edge.path}" for edge in step[:SHOWN_PER_STEP])
                if len(step) > SHOWN_PER_STEP:
                    problems.append(f"    {name(source)}: {len(step) - SHOWN_PER_STEP} more")
    for files in circles_left:
        if files not in ({name(file) for file in component} for component in found):
            problems.append(
                f"{LAYERS_DOC.relative_to(ROOT).as_posix()}: the circle {', '.join(sorted(files))} is "
                "left for now, says the table; it is not (or no longer just those files): update the row"
            )

    layered = layer_of_files(crates, by_name, problems)
    violations = 0
    for (source, target), step in sorted(by_step.items()):
        if source not in layered or target not in layered:
            continue
        (source_layer, source_name), (target_layer, target_name) = layered[source], layered[target]
        if source_name == target_name or target_layer < source_layer:
            continue
        why = "a higher layer" if target_layer > source_layer else "another module of its layer"
        for edge in step:
            violations += 1
            problems.append(
                f"{name(source)}:{edge.line}: `{source_name}` (layer {source_layer}) imports {edge.path} "
                f"from `{target_name}` (layer {target_layer}), {why}"
            )

    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"imports: {cycles} cycle(s), {violations} import(s) pointing up or across a layer", file=sys.stderr)
        return 1
    files = sum(len(crate.file_paths) for crate in crates)
    left = f" but the {len(circles_left)} the Layers section leaves for now" if circles_left else ""
    print(f"imports: {files} files, {len(edges)} imports between modules: no cycle{left}, every layer's pointing down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
