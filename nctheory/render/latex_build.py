"""Compile a LaTeX document with latexmk and read what went wrong from its logs.

:func:`compile_pdf` runs ``latexmk -pdf`` (pdflatex, BibTeX, as many passes as references
need) in the document's folder and parses the last pass's ``.log`` and BibTeX's ``.blg``
into a :class:`LatexLog`: errors, undefined references and citations, BibTeX warnings,
overfull boxes with how far they stick out, the page count. :func:`text_defects` reads the
text of the PDF (``pdftotext``) as a reviewer would and lists what reads as a machine log
rather than mathematics: plain-text formulas (``||``, ``>=``, ``_{``, ``^T``), elided
displays, tautologies, Python dictionaries, internal module names, double numbering.

TeX wraps its log at 79 characters, which splits file names and warnings; the run sets
``max_print_line`` so every message is one line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nctheory.errors import NCTheoryError

#: What a test or ``--compile`` allows: an overfull box is a defect when it sticks out by
#: more than this (TeX reports boxes from 0.1pt; up to ~2pt is invisible in print).
OVERFULL_TOLERANCE_PT = 2.0


class LatexNotFoundError(NCTheoryError):
    """latexmk, pdflatex, bibtex or pdftotext is not installed."""


def require_tools(*names: str) -> None:
    """Raise :class:`LatexNotFoundError` naming every tool of ``names`` not on the PATH."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise LatexNotFoundError(
            f"--compile needs {', '.join(missing)} on the PATH (TeX Live: apt-get install latexmk "
            f"texlive-latex-extra texlive-science); the .tex and .bib files do not need them")


@dataclass(frozen=True)
class Overfull:
    """An overfull box: ``box`` is "hbox" or "vbox", ``amount_pt`` how far it sticks out."""

    box: str
    amount_pt: float
    where: str


@dataclass(frozen=True)
class LatexLog:
    """What the final pdflatex pass and BibTeX reported."""

    errors: tuple[str, ...]
    undefined_references: tuple[str, ...]
    undefined_citations: tuple[str, ...]
    bibtex_warnings: tuple[str, ...]
    overfull: tuple[Overfull, ...]
    pages: int | None

    @property
    def worst_overfull_pt(self) -> float:
        return max((box.amount_pt for box in self.overfull), default=0.0)

    def overfull_wider_than(self, points: float = OVERFULL_TOLERANCE_PT) -> tuple[Overfull, ...]:
        return tuple(box for box in self.overfull if box.amount_pt > points)

    def problems(self, overfull_pt: float = OVERFULL_TOLERANCE_PT) -> list[str]:
        """One line per defect (empty when the document is clean)."""
        out = [f"error: {e}" for e in self.errors]
        out += [f"undefined reference: {r}" for r in self.undefined_references]
        out += [f"undefined citation: {c}" for c in self.undefined_citations]
        out += [f"BibTeX: {w}" for w in self.bibtex_warnings]
        out += [f"overfull \\{b.box} by {b.amount_pt:g}pt {b.where}" for b in self.overfull_wider_than(overfull_pt)]
        return out

    def summary(self) -> str:
        return (f"{self.pages} pages, {len(self.errors)} errors, {len(self.undefined_references)} undefined "
                f"references, {len(self.undefined_citations)} undefined citations, {len(self.overfull)} overfull "
                f"boxes (worst {self.worst_overfull_pt:g}pt)")


_OVERFULL = re.compile(r"^Overfull \\([hv]box) \((\d+(?:\.\d+)?)pt too (?:wide|high)\)\s*(.*)$", re.MULTILINE)
_REFERENCE = re.compile(r"Reference `([^']+)' on page \d+ undefined")
_CITATION = re.compile(r"Citation `([^']+)' on page \d+ undefined")
_OPENED = re.compile(r"\(\./([^\s()]+\.tex)")
_PAGES = re.compile(r"^Output written on .*?\((\d+) pages?", re.MULTILINE)


def _overfull(log: str):
    """The overfull boxes, each with the file TeX was reading (the last one it opened)."""
    current = ""
    for line in log.splitlines():
        opened = _OPENED.findall(line)
        if opened:
            current = opened[-1]
        match = _OVERFULL.match(line)
        if match:
            box, amount, where = match.groups()
            yield Overfull(box, float(amount), f"{where.strip()} of {current}" if current else where.strip())


def parse_log(log: str, blg: str = "") -> LatexLog:
    """Parse a pdflatex ``.log`` (and optionally BibTeX's ``.blg``)."""
    lines = log.splitlines()
    errors = []
    for index, line in enumerate(lines):
        if line.startswith("! "):
            context = next((ln for ln in lines[index + 1:index + 8] if re.match(r"^l\.\d+ ", ln)), "")
            errors.append(f"{line[2:]} {context}".strip())
    bibtex = [line.strip() for line in blg.splitlines()
              if line.startswith(("Warning--", "I couldn't open")) or "error message" in line]
    pages = _PAGES.search(log)
    return LatexLog(
        errors=tuple(errors),
        undefined_references=tuple(dict.fromkeys(_REFERENCE.findall(log))),
        undefined_citations=tuple(dict.fromkeys(_CITATION.findall(log))),
        bibtex_warnings=tuple(bibtex),
        overfull=tuple(_overfull(log)),
        pages=int(pages.group(1)) if pages else None,
    )


@dataclass(frozen=True)
class BuildResult:
    """A latexmk run: the PDF (None if none was made), the parsed logs, latexmk's status."""

    pdf: Path | None
    log: LatexLog
    returncode: int
    output: str


def compile_pdf(tex: Path, timeout: float = 600) -> BuildResult:
    """``latexmk -pdf`` on ``tex`` in its own folder; the logs parsed.

    Raises :class:`LatexNotFoundError` if latexmk, pdflatex or bibtex is missing and
    :class:`NCTheoryError` if ``tex`` does not exist or the run exceeds ``timeout`` seconds.
    """
    tex = Path(tex)
    if not tex.is_file():
        raise NCTheoryError(f"compile_pdf: {tex} is not a file")
    require_tools("latexmk", "pdflatex", "bibtex")
    env = dict(os.environ, max_print_line="10000", error_line="254", half_error_line="238")
    command = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", tex.name]
    try:
        run = subprocess.run(command, cwd=tex.parent, env=env, capture_output=True, text=True, timeout=timeout,
                             errors="replace", check=False)
    except subprocess.TimeoutExpired as error:
        raise NCTheoryError(f"latexmk on {tex} took longer than {timeout:g} s") from error
    log_path, blg_path, pdf = tex.with_suffix(".log"), tex.with_suffix(".blg"), tex.with_suffix(".pdf")
    read = lambda path: path.read_text(errors="replace") if path.is_file() else ""
    log = parse_log(read(log_path), read(blg_path))
    if run.returncode != 0 and not log.errors:
        log = LatexLog((f"latexmk exited with status {run.returncode}",), log.undefined_references,
                       log.undefined_citations, log.bibtex_warnings, log.overfull, log.pages)
    return BuildResult(pdf if pdf.is_file() and run.returncode == 0 else None, log, run.returncode,
                       (run.stdout + run.stderr)[-4000:])


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


#: Ligatures as pdftotext may extract them: Unicode's presentation forms (U+FB00-FB04), and the
#: slots of TeX's T1 (Cork) encoding (0x1B-0x1F) where a font carries no Unicode mapping.
LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
             "\x1b": "ff", "\x1c": "fi", "\x1d": "fl", "\x1e": "ffi", "\x1f": "ffl"}
_LIGATURE = re.compile("|".join(LIGATURES))


def searchable(text: str) -> str:
    """Extracted text with ligatures spelt out, so that words (and defects) are found whatever
    the fonts' Unicode mapping: "\\ufb01nite" and "\\x1cnite" both read "finite"."""
    return _LIGATURE.sub(lambda m: LIGATURES[m.group(0)], text)


def pdf_text(pdf: Path) -> str:
    """The text of a PDF as ``pdftotext`` extracts it (reading order, no layout), ligatures
    spelt out (:func:`searchable`)."""
    require_tools("pdftotext")
    run = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                         timeout=120, errors="replace", check=False)
    if run.returncode != 0:
        raise NCTheoryError(f"pdftotext failed on {pdf}: {run.stderr.strip()}")
    return searchable(run.stdout)


#: Text that a reader would object to in a typeset appendix, as it shows in ``pdftotext``'s
#: output: mathematics left in plain text, elided or tautological displays, code, internal
#: names. Typeset mathematics extracts differently (``‖``, ``≥``, ``⊤``, subscripts without
#: braces), so none of these match it.
READER_DEFECTS: tuple[tuple[str, re.Pattern], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("plain-text norm ||", r"\|\|"),
    ("plain-text >= or <=", r">=|<="),
    ("plain-text subscript _{", r"_\{"),
    ("plain-text superscript ^", r"\^\s*[A-Za-z0-9{(]"),
    ("plain-text power **", r"\*\*"),
    ("plain-text sqrt(", r"\bsqrt\("),
    ("Greek letter spelt out", r"\b(?:alpha|eta|lambda|mu|rho|tau)\b"),
    ("elided display", r"operations, omitted"),
    ("tautology 0 = 0", r"(?<![\w.])0 = 0(?![\w.])"),
    ("Python dictionary", r"\{['‘’]"),  # the quote as a typewriter font may extract it
    ("internal module name", r"\bnctheory\.[A-Za-z_]"),
    ("internal document THEORY.md", r"THEORY\.md"),
    ("the engine", r"(?i)\bthe engine\b"),
    ("double numbering", r"(?m)(?<![\d.])\d+\.\s+\d+\.\s+[A-Za-z]"),
))


def text_defects(text: str) -> list[tuple[str, str]]:
    """``(defect, excerpt)`` for every match of :data:`READER_DEFECTS` in ``text``."""
    found = []
    for name, pattern in READER_DEFECTS:
        for match in pattern.finditer(text):
            start, end = max(0, match.start() - 40), min(len(text), match.end() + 40)
            found.append((name, text[start:end].replace("\n", " ")))
    return found
