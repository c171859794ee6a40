"""Every document the code cites is in the repository (users and CI have nothing else).

A citation is any ``name.md`` in a .py file of the shipped packages (coordinator/, functions/,
infra/, app.py) or of the tests. It must resolve to a file: as a path from the repository root
(``docs/schemes.md``, ``data/bench/simulate.md``) or as a name under docs/. The only exception
is a Markdown file the code itself writes (``folder / "demo.md"``): an output, not a citation.
A quoted section after a docs/ citation (``docs/schemes.md, "M-SGC"``) must be a heading there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCANNED = [*(ROOT / d for d in ("coordinator", "functions", "infra", "tests")), ROOT / "app.py"]
CITATION = re.compile(r"[\w./-]*\w\.md\b")
WRITTEN = re.compile(r"/\s*[\"']([\w.-]+\.md)[\"']")  # path / "name.md": a file the code writes
SECTIONS = re.compile(r"(docs/[\w-]+\.md)((?:(?:,| and) \"[^\"]+\")+)")
DOCUMENTS = ("schemes.md", "contracts.md", "aws.md", "coldstart.md")


def python_files() -> list[Path]:
    files = []
    for place in SCANNED:
        files += sorted(place.rglob("*.py")) if place.is_dir() else [place]
    return [f for f in files if f.resolve() != Path(__file__).resolve()]


def outputs(texts: list[str]) -> set[str]:
    return {name for text in texts for name in WRITTEN.findall(text)}


def headings(document: Path) -> list[str]:
    return [line.lstrip("#").strip() for line in document.read_text().splitlines()
            if line.startswith("#")]


def problems(source: str, where: str, written: set[str], root: Path = ROOT) -> list[str]:
    """Citations in ``source`` that resolve to no file or section, as readable messages."""
    found = []
    for line_number, line in enumerate(source.splitlines(), start=1):
        for name in CITATION.findall(line):
            if name in written or (root / name).is_file() or (root / "docs" / name).is_file():
                continue
            found.append(f"{where}:{line_number}: cites {name}, which is not in the repository")
        for document, quoted in SECTIONS.findall(line):
            path = root / document
            if not path.is_file():
                continue  # reported above
            titles = headings(path)
            for section in re.findall(r"\"([^\"]+)\"", quoted):
                if not any(title.startswith(section) for title in titles):
                    found.append(f"{where}:{line_number}: {document} has no section {section!r}")
    return found


def test_every_cited_document_is_in_the_repository():
    files = python_files()
    texts = [f.read_text() for f in files]
    written = outputs(texts)
    found = [p for f, text in zip(files, texts, strict=True)
             for p in problems(text, str(f.relative_to(ROOT)), written)]
    assert not found, "\n".join(found)


def test_the_four_documents_exist_and_the_readme_lists_them():
    readme = (ROOT / "README.md").read_text()
    for name in DOCUMENTS:
        assert (DOCS / name).is_file(), f"docs/{name} is missing"
        assert f"docs/{name}" in readme, f"README does not list docs/{name}"


def test_the_code_cites_each_document():
    cited = " ".join(f.read_text() for f in python_files())
    for name in DOCUMENTS:
        assert f"docs/{name}" in cited, f"no code cites docs/{name}"


def test_links_between_documents_resolve():
    for document in sorted(DOCS.glob("*.md")):
        for target in re.findall(r"\]\(([\w-]+\.md)(?:#[\w-]*)?\)", document.read_text()):
            assert (DOCS / target).is_file(), f"{document.name} links to missing {target}"


@pytest.mark.parametrize("source, expected", [
    ('"""Straggler models (sgc.md, "Straggler models")."""', "cites sgc.md"),
    ("# see docs/nowhere.md", "cites docs/nowhere.md"),
    ('"""(docs/schemes.md, "No such section")"""', "has no section 'No such section'"),
])
def test_the_check_reports_a_missing_document_or_section(source, expected):
    found = problems(source, "example.py", written=set())
    assert len(found) == 1 and expected in found[0], found


def test_the_check_accepts_real_citations_and_written_outputs():
    source = ('"""docs/schemes.md, "M-SGC"; docs/aws.md, "Lambda" and "Step Functions";\n'
              'contracts.md; data/bench/simulate.md."""\n(out / "report.md").write_text(table)\n')
    assert problems(source, "example.py", written=outputs([source])) == []


MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md")),
            ROOT / "examples" / "data" / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")
PATH_MENTION = re.compile(r"(?<![\w/.-])((?:docs|examples|tests)/[\w./-]*\w)")


def slug(title: str) -> str:
    """A heading's anchor as GitHub makes it."""
    title = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return title.replace(" ", "-")


def link_problems(document: Path) -> list[str]:
    """Relative links (and docs/, examples/, tests/ paths) in ``document`` that resolve to no file
    or no heading."""
    found = []
    text = document.read_text()
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        if not file.exists():
            found.append(f"{document.relative_to(ROOT)}: links to missing {target}")
        elif anchor and file.suffix == ".md" and anchor not in map(slug, headings(file)):
            found.append(f"{document.relative_to(ROOT)}: {path or document.name} has no #{anchor}")
    for mention in PATH_MENTION.findall(text):
        if not (ROOT / mention).exists() and not any(ch in mention for ch in "*<"):
            found.append(f"{document.relative_to(ROOT)}: names missing {mention}")
    return found


@pytest.mark.parametrize("document", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_in_the_readme_and_the_docs_resolves(document):
    assert link_problems(document) == []


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert "    make demo " in readme and "    make test " in readme
    for document in DOCS.glob("*.md"):
        assert f"docs/{document.name}" in readme, f"README does not list docs/{document.name}"


@pytest.mark.parametrize("document", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_issue_numbers_in_user_facing_text(document):
    assert not re.search(r"\bissue\b", document.read_text(), re.IGNORECASE), document
