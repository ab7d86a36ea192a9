#!/usr/bin/env python3
"""Checks every relative link and image in README.md and docs/: the file
it points at exists, and a `#anchor` names a heading of the target (or an
HTML id or name in it), made into an anchor as GitHub makes one. Links
with a scheme (https:, mailto:) are not followed. Prints each broken link
as file:line and exits non-zero if there is one.

Python 3.11's standard library only. Run from anywhere:
    python3 scripts/check-docs.py
"""

import re
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent

# Pictures the end-to-end tests take when asked (end2end/, `SCREENSHOTS=1
# npx playwright test`): committed, but should one be missing, the check
# only says so. Each is named here with the spec file
# that saves it; that file must still name the picture.
TAKEN_BY_THE_TESTS = {
    # booking.spec.ts, 'browse movies, pick seats, book, and see the
    # booking': the seat map with two seats selected, desktop width.
    "docs/images/seat-map.png": "end2end/tests/booking.spec.ts",
    # monitor.spec.ts, 'the system monitor shows the three-node cluster
    # live and starts a Ring election': the monitor, three nodes healthy.
    "docs/images/monitor.png": "end2end/tests/monitor.spec.ts",
}

FENCE = re.compile(r"^ {0,3}(```|~~~)")
ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)\s*$")
CODE_SPAN = re.compile(r"(`+)((?:(?!\n[ \t]*\n).)+?)\1", re.DOTALL)
# [text](target "title") and ![alt](target), the text possibly over lines
# and holding one level of brackets.
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.MULTILINE)
HTML_ATTRIBUTE = re.compile(r"<(?:img|a|source)\b[^>]*?\b(?:src|href|srcset)\s*=\s*\"([^\"]+)\"", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"<[a-z][^>]*?\b(?:id|name)\s*=\s*\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def blank(match: re.Match) -> str:
    """The matched text with every character but newlines made a space, so
    offsets and line numbers stay as they were."""
    return re.sub(r"[^\n]", " ", match.group(0))


def without_fences(text: str) -> str:
    """The text with fenced code blocks blanked out."""
    lines = text.split("\n")
    fenced = False
    for i, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
            lines[i] = " " * len(line)
        elif fenced:
            lines[i] = " " * len(line)
    return "\n".join(lines)


def without_code(text: str) -> str:
    """The text with fenced code blocks and code spans blanked out: links
    written as code are examples, not links."""
    return CODE_SPAN.sub(blank, without_fences(text))


def headings(text: str) -> list[str]:
    """The headings of a markdown text, in order (ATX and setext)."""
    found = []
    previous = ""
    for line in without_fences(text).split("\n"):
        atx = ATX_HEADING.match(line)
        if atx:
            found.append(atx.group(1) or "")
            previous = ""
            continue
        underline = SETEXT_UNDERLINE.match(line)
        if underline and previous.strip() and "|" not in previous:
            found.append(previous.strip())
            previous = ""
            continue
        previous = line
    return found


def code_text(text: str) -> str:
    """A heading's text as GitHub renders it: code spans keep their
    content, links their text, HTML tags go."""
    text = re.sub(r"(`+)(.+?)\1", r"\2", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"<[^>]+>", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation and symbols
    removed (letters, digits, spaces, hyphens and underscores stay),
    spaces made hyphens."""
    text = code_text(heading).strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path: Path, cache: dict[Path, set[str]]) -> set[str]:
    """Every anchor a markdown file offers: its headings' (a repeated one
    numbered -1, -2, ... as GitHub does) and its HTML ids and names."""
    if path not in cache:
        text = path.read_text(encoding="utf-8")
        found: set[str] = set()
        seen: dict[str, int] = {}
        for heading in headings(text):
            base = slug(heading)
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(HTML_ANCHOR.findall(text))
        cache[path] = found
    return cache[path]


def targets(text: str) -> list[tuple[int, str]]:
    """Every link and image target of a markdown text, with its line."""
    plain = without_code(text)
    found = []
    for pattern in (INLINE_LINK, REFERENCE, HTML_ATTRIBUTE):
        for match in pattern.finditer(plain):
            target = match.group(1).strip("<>")
            line = plain.count("\n", 0, match.start(1)) + 1
            if pattern is HTML_ATTRIBUTE and "srcset" in match.group(0).lower():
                for candidate in target.split(","):
                    found.append((line, candidate.strip().split(" ")[0]))
            else:
                found.append((line, target))
    return sorted(found)


def check(document: Path, cache: dict[Path, set[str]], notes: list[str]) -> list[str]:
    """The broken links of one document, each as 'file:line: why'."""
    broken = []
    name = document.relative_to(ROOT).as_posix()
    for line, target in targets(document.read_text(encoding="utf-8")):
        if SCHEME.match(target) or target.startswith("//"):
            continue
        path_part, _, anchor = target.partition("#")
        path_part = unquote(path_part.split("?")[0])
        where = f"{name}:{line}: {target}"
        if path_part.startswith("/"):
            broken.append(f"{where}: an absolute path; write it relative to {name}")
            continue
        resolved = (document.parent / path_part).resolve() if path_part else document
        try:
            relative = resolved.relative_to(ROOT).as_posix()
        except ValueError:
            broken.append(f"{where}: points outside the repository")
            continue
        if not resolved.exists():
            if relative in TAKEN_BY_THE_TESTS:
                notes.append(
                    f"{where}: not there yet; {TAKEN_BY_THE_TESTS[relative]} saves it when the end-to-end tests run"
                )
            else:
                broken.append(f"{where}: no such file ({relative})")
            continue
        if anchor and resolved.suffix == ".md":
            if unquote(anchor) not in anchors(resolved, cache):
                broken.append(f"{where}: {relative} has no heading with the anchor #{anchor}")
    return broken


def main() -> int:
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    cache: dict[Path, set[str]] = {}
    broken: list[str] = []
    notes: list[str] = []
    for picture, spec in TAKEN_BY_THE_TESTS.items():
        spec_path = ROOT / spec
        if not spec_path.exists() or Path(picture).name not in spec_path.read_text(encoding="utf-8"):
            broken.append(f"{spec}: should save {picture} (listed in scripts/check-docs.py), and does not name it")
    for document in documents:
        if document.exists():
            broken.extend(check(document, cache, notes))
    for note in notes:
        print(f"note: {note}")
    for problem in broken:
        print(problem, file=sys.stderr)
    if broken:
        print(f"{len(broken)} broken link(s) in README.md and docs/", file=sys.stderr)
        return 1
    print(f"docs: every relative link of {len(documents)} files checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
