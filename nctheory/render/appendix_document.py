r"""The appendix as files a paper can ``\input``: assembly, layout and safe writing.

:func:`render_files` returns the text files of the appendix (path -> text):

* ``appendix.tex`` -- a standalone wrapper (preamble, the macros, ``\input`` of the sections,
  the bibliography) that compiles on its own;
* ``nctheory-macros.tex`` -- the notation macros (:data:`MACROS`) and the theorem
  environments, each defined only if the including paper has not defined it;
* ``sections/introduction.tex``, ``notation.tex``, ``theorems.tex``, ``optimizers.tex``, ``evidence.tex`` (not in
  the symbolic-only appendix) and ``verification.tex`` (the machine verification log; the
  wrapper inputs it only when asked, so by default it is a separate, optional file);
* ``nctheory.bib`` -- :func:`nctheory.render.bibliography.bibliography`.

The theorems come from the theorem objects (``paper_tex``: statement and a proof whose
displays are the sympy objects ``prove()`` verifies; ``verification_tex``: the step-by-step
log), the optimizer sections from the specs (:mod:`nctheory.render.appendix_optimizers`),
the evidence from :mod:`nctheory.render.appendix_evidence`, which runs the checks and writes
the figures. Nothing here depends on a clock or on hash order, so the same request gives
byte-identical ``.tex`` and ``.bib`` files.

:func:`write_appendix` builds everything in a hidden sibling folder and renames it into
place at the end: an error (or an interrupt) leaves no folder that looks complete.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nctheory.errors import NCTheoryError
from nctheory.render.bibliography import bibliography
from nctheory.theorems.tex import NOTATION_MACROS

#: The shared notation (one macro per quantity; see the notation table), each defined only
#: where the including document has not defined it already. The weight decay is ``\wdecay``:
#: ``\wd`` is a TeX primitive (a box's width) that LaTeX itself uses, so it can be neither
#: redefined nor used as notation. The generators write ``\wdecay``; :func:`portable` remains as a
#: safety net for a section text from elsewhere.
MACROS = NOTATION_MACROS + r"""
\makeatletter
\@ifundefined{norm}{\DeclarePairedDelimiter{\norm}{\lVert}{\rVert}}{}
\@ifundefined{theorem}{\newtheorem{theorem}{Theorem}[section]}{}
\@ifundefined{lemma}{\newtheorem{lemma}[theorem]{Lemma}}{}
\@ifundefined{proposition}{\newtheorem{proposition}[theorem]{Proposition}}{}
\@ifundefined{corollary}{\newtheorem{corollary}[theorem]{Corollary}}{}
\theoremstyle{definition}
\@ifundefined{definition}{\newtheorem{definition}[theorem]{Definition}}{}
\theoremstyle{remark}
\@ifundefined{remark}{\newtheorem{remark}[theorem]{Remark}}{}
\theoremstyle{plain}
\makeatother
"""

#: The standalone wrapper's preamble: ICLR's text block (5.5in = 397.48pt wide, 9in high), so the
#: pages count as they will in the paper. ``cmap`` and ``glyphtounicode`` give every glyph a
#: Unicode meaning, so ligatures (fi, fl, ff) extract as letters and the PDF's text is searchable.
#: The wrapper starts the verification log, and after the evidence's figures the references, on a
#: new page (``\clearpage`` places the pending figures first, so none floats among the references).
PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage{cmap}
\usepackage[letterpaper,textwidth=397.48pt,textheight=9in,centering]{geometry}
\usepackage{amsmath,amssymb,amsthm,mathtools}
\usepackage{graphicx,booktabs}
\usepackage[round]{natbib}
\usepackage[hidelinks]{hyperref}
\ifdefined\pdfgentounicode\input{glyphtounicode}\pdfgentounicode=1\fi
\input{nctheory-macros}
\allowdisplaybreaks[1]
"""

SECTION_ORDER = ("introduction", "notation", "theorems", "optimizers", "evidence", "verification")
LABELS = {name: f"sec:appendix-{name}" for name in SECTION_ORDER}
BIB_NAME = "nctheory"
WRAPPER = "appendix.tex"


@dataclass(frozen=True)
class Request:
    """What to put in the appendix: theorem objects, optimizer specs, and the options."""

    theorems: tuple
    specs: tuple
    numerics: bool = True
    verification_log: bool = False
    seed: int = 0


def resolve(theorem_names=None, optimizer_names=None, numerics: bool = True, verification_log: bool = False,
            seed: int = 0) -> Request:
    """A :class:`Request` from names (None: all); unknown names raise :class:`NCTheoryError`
    naming every unknown one and listing the known ones."""
    from nctheory.optimizers import REGISTRY
    from nctheory.theorems import THEOREMS

    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise NCTheoryError(f"--seed must be a non-negative integer, got {seed!r}")
    chosen = []
    for kind, names, registry in (("theorem", theorem_names, THEOREMS), ("optimizer", optimizer_names, REGISTRY)):
        names = list(registry) if names is None else list(dict.fromkeys(names))
        unknown = [name for name in names if name not in registry]
        if unknown:
            raise NCTheoryError(f"unknown {kind}{'s' if len(unknown) > 1 else ''} "
                                f"{', '.join(repr(n) for n in unknown)}; known {kind}s: {', '.join(registry)}")
        chosen.append(tuple(registry[name] for name in names))
    return Request(chosen[0], chosen[1], bool(numerics), bool(verification_log), seed)


_PRIMITIVE_WD = re.compile(r"\\wd(?![A-Za-z@])")


def portable(text: str) -> str:
    r"""``text`` with the weight-decay macro written ``\wdecay``: the shared notation's name for it,
    ``\wd``, is the TeX primitive for a box's width (``$\wd$`` stops pdflatex with "Missing
    number"), and no generated section measures boxes."""
    return _PRIMITIVE_WD.sub(r"\\wdecay", text)


# ---------------------------------------------------------------------- the sections
def introduction_tex(request: Request, labels: dict | None = None) -> str:
    """What the appendix is, the setting and notation in two sentences, and a map of it.

    ``labels``: section name -> the label its section carries, where it differs from :data:`LABELS`."""
    labels = {**LABELS, **(labels or {})}
    names = {theorem.name for theorem in request.theorems}
    parts = [(r"\section{Optimizer choice and the \texorpdfstring{{\boldmath$\NCzero$}}{NC0} diagnostic}"
              rf"\label{{{LABELS['introduction']}}}"),
             "",
             r"This appendix collects the exact results on the row sums of the last-layer weights behind "
             r"\citet{zhao2026optimizer}. The last layer of a network with $K \ge 2$ classes is "
             r"$z = W h + b$ with $W \in \R^{K \times d}$; the features $h$ come from any network, or are "
             r"free variables in the unconstrained features model \citep{mixon2022neural}. The row sum is "
             r"$\rowsum = W^\top \ones_K \in \R^d$ and the diagnostic is $\NCzero(W) = \norm{W^\top \ones_K}_2$. "
             r"Under Neural Collapse in the sense of \citet{papyan2020prevalence} the rows of $W$ tend to a "
             r"simplex equiangular tight frame (equal norms, pairwise cosines $-1/(K-1)$), and such rows sum to "
             r"zero, so $\NCzero \to 0$ is necessary for Neural Collapse"
             + (r" (Lemma~\ref{thm:lemma0})" if "lemma0" in names else "") + ".",
             ""]
    guide = []
    if request.theorems:
        guide.append(rf"Section~\ref{{{labels['theorems']}}} states the theorems and proves them; every displayed "
                     r"formula of a proof is printed from the exact symbolic object that a computer algebra "
                     r"system checked")
    if request.specs:
        guide.append(rf"Section~\ref{{{labels['optimizers']}}} gives, for each optimizer, its update rule and "
                     r"what it implies for the row sums, in the notation of Table~\ref{tab:notation}")
    if request.numerics:
        guide.append(rf"Section~\ref{{{labels['evidence']}}} compares the predictions with float64 training "
                     r"runs, predicted against measured")
    if request.verification_log and request.theorems:
        guide.append(rf"Section~\ref{{{labels['verification']}}} is the machine verification log: each "
                     r"proof step and the exact computation that decided it")
    if guide:
        parts.append("; ".join(guide) + ".")
    if request.theorems and not request.verification_log:
        parts.append(r"The machine verification log (each proof step and the exact computation that decided it) "
                     r"is written alongside this appendix as the separate file \texttt{sections/verification.tex}, "
                     r"which a document may \verb|\input|.")
    return "\n".join(parts) + "\n"


def theorems_tex(request: Request) -> str:
    """Every theorem as a paper states it, with its proof."""
    from nctheory.theorems.prose import in_document

    parts = [rf"\section{{Theorems and proofs}}\label{{{LABELS['theorems']}}}", ""]
    labels = [f"thm:{theorem.name}" for theorem in request.theorems] + [f"opt:{spec.name}" for spec in request.specs]
    log = LABELS["verification"] if request.verification_log else "sections/verification.tex"
    if request.verification_log:
        labels.append(log)
    with in_document(labels, log):  # objects shown in an optimizer's section are referred to, not repeated
        for theorem in request.theorems:
            parts += [theorem.paper_tex().strip(), ""]
    return "\n".join(parts)


def optimizers_tex(request: Request) -> str:
    """The optimizers by family, from their specs; references only to theorems present."""
    from nctheory.render.appendix_families import optimizers_section

    labels = {f"thm:{theorem.name}" for theorem in request.theorems}
    return optimizers_section(request.specs, labels, LABELS["optimizers"])


def evidence_tex(request: Request, figure_dir: Path) -> str:
    """The numerical evidence (a section of its own); runs the checks and writes the figures into
    ``figure_dir``, which the document reaches as ``figures/``."""
    from nctheory.render.appendix_evidence import evidence_section

    figure_dir.mkdir(parents=True, exist_ok=True)
    text = evidence_section(figure_dir, seed=request.seed).strip() + "\n"
    if not text.startswith("\\section"):
        text = rf"\section{{Numerical evidence}}\label{{{LABELS['evidence']}}}" + "\n\n" + text
    return text


def section_label(text: str) -> str | None:
    r"""The label of the first ``\section`` of ``text`` (``\section{...}\label{...}``), if any."""
    match = re.search(r"\\section\*?\{.*?\}\s*\\label\{([^}]+)\}", text)
    return match.group(1) if match else None


def verification_tex(request: Request) -> str:
    """The machine verification log of every theorem (optional reading)."""
    parts = [rf"\section{{Verification log}}\label{{{LABELS['verification']}}}", "",
             (r"For each theorem, the steps of its proof as the computer algebra system decided them: an "
              r"identity holds when the difference of its sides simplifies to $0$ exactly, an inequality when "
              r"it is decided in exact arithmetic; no step rests on a floating-point tolerance."), ""]
    for theorem in request.theorems:
        parts += [theorem.verification_tex().strip(), ""]
    return "\n".join(parts)


def wrapper_tex(sections: tuple[str, ...]) -> str:
    """The standalone document: preamble, the listed sections, the bibliography."""
    inputs = "\n".join(("\\clearpage\n" if name == "verification" else "") + rf"\input{{sections/{name}}}"
                       for name in sections)
    return (PREAMBLE + "\n" + r"\begin{document}" + "\n" + r"\appendix" + "\n" + inputs + "\n\n"
            + (r"\clearpage" + "\n" if "evidence" in sections else "") + r"\bibliographystyle{plainnat}" + "\n" + rf"\bibliography{{{BIB_NAME}}}" + "\n"
            + r"\end{document}" + "\n")


def render_files(request: Request, figure_dir: Path | None) -> dict[str, str]:
    """Relative path -> text of every text file of the appendix. The evidence section (and its
    figures, written into ``figure_dir``) is made only if ``request.numerics``."""
    from nctheory.optimizers import REGISTRY

    sections = {"introduction": "", "notation": _notation_tex(request).strip() + "\n"}
    if request.theorems:
        sections["theorems"] = theorems_tex(request)
    if request.specs:
        sections["optimizers"] = optimizers_tex(request)
    if request.numerics:
        if figure_dir is None:
            raise NCTheoryError("the evidence section writes figures: give a figure folder (--out DIR)")
        sections["evidence"] = evidence_tex(request, figure_dir)
    found = {name: section_label(text) for name, text in sections.items()}
    sections["introduction"] = introduction_tex(request, {name: label for name, label in found.items() if label})
    if request.theorems:
        sections["verification"] = verification_tex(request)
    included = tuple(name for name in SECTION_ORDER
                     if name in sections and (name != "verification" or request.verification_log))
    files = {WRAPPER: wrapper_tex(included), "nctheory-macros.tex": MACROS,
             f"{BIB_NAME}.bib": bibliography(REGISTRY.values())}
    files.update({f"sections/{name}.tex": portable(text) for name, text in sections.items()})
    return files


def body_tex(request: Request) -> str:
    """The sections the wrapper would input, concatenated (no figures: no evidence section)."""
    files = render_files(Request(request.theorems, request.specs, False, request.verification_log, request.seed),
                         None)
    wanted = [name for name in SECTION_ORDER if name != "verification" or request.verification_log]
    return "\n".join(files[f"sections/{name}.tex"] for name in wanted if f"sections/{name}.tex" in files)


# ---------------------------------------------------------------------- writing
@dataclass(frozen=True)
class Written:
    """The folder written and its files (relative paths, sorted)."""

    folder: Path
    files: tuple[str, ...]


def check_output_folder(out: Path) -> Path:
    """``out`` resolved; raises :class:`NCTheoryError` unless it can be (re)written: its parent
    is a writable folder, and ``out`` is absent, empty, or an earlier appendix folder."""
    out = Path(out).expanduser().absolute()
    parent = out.parent
    if not parent.is_dir():
        raise NCTheoryError(f"--out {out}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise NCTheoryError(f"--out {out}: the folder {parent} is not writable")
    if out.exists():
        if not out.is_dir():
            raise NCTheoryError(f"--out {out}: exists and is not a folder")
        if any(out.iterdir()) and not (out / WRAPPER).is_file():
            raise NCTheoryError(f"--out {out}: a non-empty folder that holds no {WRAPPER}; refusing to replace it "
                                f"(give a new or empty folder, or an earlier appendix folder)")
    return out


def write_appendix(out: Path, request: Request) -> Written:
    """Write the appendix into the folder ``out`` (replacing an earlier appendix there).

    Everything is built in a hidden sibling folder first and renamed into place at the end.
    """
    out = check_output_folder(out)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as error:
        raise NCTheoryError(f"--out {out}: cannot create a folder next to it ({error.strerror})") from error
    try:
        files = render_files(request, staging / "figures")
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        written = tuple(sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file()))
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Written(out, written)


def _replace(staging: Path, out: Path) -> None:
    """Rename ``staging`` to ``out``; an earlier ``out`` is moved aside first and removed after."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / "previous")
    try:
        os.rename(staging, out)
    except OSError:
        if old is not None:
            os.rename(old / "previous", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------- the pieces
def _notation_tex(request: Request) -> str:
    from nctheory.render.appendix_optimizers import notation_section

    return notation_section({f"thm:{theorem.name}" for theorem in request.theorems})
