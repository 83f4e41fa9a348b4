r"""Plain-text mathematics of the proof logs as LaTeX: ``||W^T 1||`` -> ``$\norm{W^\top \ones}$``.

The steps of a proof describe themselves in plain text (``str(proof)`` prints them on a
terminal). The verification log of the appendix shows the same descriptions, so they are
translated here: the text is cut into words, maximal runs of "mathematical" words (those
with an operator, a digit, a single letter, a Greek or function name) become math spans,
and each span is rewritten with the shared macros (:mod:`nctheory.theorems.tex`). Internal
names (the package's modules, its documents, Python dictionaries of hyperparameters,
registry names with underscores) are replaced by what they mean. The translation is a
heuristic over a finite set of descriptions; the tests compile every one of them and
check the extracted text for the defects of :func:`nctheory.theorems.tex.find_defects`.
"""

from __future__ import annotations

import functools
import re

#: Registry names of losses as words (optimizers are named by their spec's ``title``).
LOSS_WORDS = {"cross_entropy": "cross-entropy", "label_smoothing": "label smoothing", "soft_labels": "soft labels",
              "focal": "focal loss", "crammer_singer": "the Crammer--Singer hinge", "mse": "squared error",
              "sigmoid_ovr": "the one-vs-rest sigmoid loss"}


@functools.lru_cache(maxsize=1)
def words() -> dict:
    """Registry names (losses and optimizers) -> the words a reader sees."""
    from nctheory.optimizers import REGISTRY

    return {**LOSS_WORDS, **{name: spec.title or name for name, spec in REGISTRY.items()}}
HYPERPARAMETERS = {"lr": r"\lr", "weight_decay": r"\wdecay", "momentum": r"\mom", "dampening": r"\damp", "nu": r"\nu"}

#: Plain phrases -> what they mean on the page (applied before the mathematics).
PHRASES = (
    (r"\s*\(nctheory\.[\w.]+\)", ""),
    (r"nctheory\.[\w.]+", "the package"),
    (r"THEORY\.md's", "the stated"),
    (r"\s*;\s*THEORY\.md\)", ")"),
    (r"THEORY\.md", "the statement"),
    (r"[Tt]he engine's numerical spec\.rate\(\)", "the floating-point rate"),
    (r"[Tt]he engine's", "the derived"),
    (r"[Tt]he engine (says|decides|derives|refuses)", r"the derivation \1"),
    (r"[Tt]he engine", "the derivation"),
    (r"\s*\(expand\(difference\) == 0\)", " (the difference expands to 0)"),
    (r"MatrixSymbols?", "symbolic matrices"),
    (r"\(sympy summation\)", "(symbolic summation)"),
    (r"sympy's ", ""),
    (r"Sum\.reorder, ", ""),
    (r"invariant = (True|False), claimed (True|False)", r"invariant: \1, claimed: \2"),
    (r"applies = (True|False), claimed (True|False)", r"applies: \1, claimed: \2"),
    (r"\bTrue\b", "yes"), (r"\bFalse\b", "no"),
    (r" \* \(certified positive factor ", " times (certified positive factor "),
    (r"min \|sum\|", "the smallest absolute sum"),
    (r"theorem bfloat16_floor", "the proposition on the bfloat16 floor"),
    (r"see lemma1", "see Lemma 1"),
    (r"\bthe spec's\b", "the optimizer's"), (r"\bspec\b", "optimizer"),
)

_GREEK = {"eta": r"\lr", "lambda": r"\wdecay", "mu": r"\mom", "tau": r"\damp", "nu": r"\nu", "sigma": r"\sigma",
          "theta": r"\theta", "rho": r"\rate", "kappa": r"\kappa", "alpha": r"\alpha", "gamma": r"\gamma",
          "epsilon": r"\varepsilon", "eps": r"\varepsilon", "delta": r"\delta", "Omega": r"\Omega", "omega": r"\omega",
          "xi": r"\xi", "chi": r"\chi", "beta1": r"\beta_1", "beta2": r"\beta_2"}
_FUNCTIONS = {"sqrt", "log", "exp", "max", "min", "det", "cos", "sign", "Max", "diag", "ln", "grad", "sum", "mod"}
_MATHWORD = re.compile(r"^(?:(?:" + "|".join(sorted(_GREEK, key=len, reverse=True)) + r")(?:[_^*(/]\S*)?|(?:"
                       + "|".join(_FUNCTIONS) + r")[_^(]\S*)$")
#: Words that are names, not mathematics (acronyms, hyphenated names, number formats).
_NAME = re.compile(r"^(?:[A-Z][A-Za-z]*-[A-Z][A-Za-z]*|[A-Z]{2,}[A-Za-z]*(?:'s)?|bfloat16|float64|torch\S*)$")
_PROSE = re.compile(r"^[A-Za-z][a-z]+(?:-[a-z]+)*'?s?$")  # an English word (digits and operators excluded)


def _core(token: str) -> str:
    return token.lstrip("([").rstrip(")],;:.")


def _is_math(token: str, before: str, after: str) -> bool:
    core = _core(token)
    if not core:
        return token in ("(", ")") or bool(re.fullmatch(r"[=<>+\-*/|^~]+", token))
    if core in ("a",):  # the article or a = eta lambda
        return bool(re.search(r"[=<>+\-*/^]$", before)) or bool(re.match(r"^[=<>+\-*/^]", after)) \
            or token.rstrip(",;:.").endswith(")")
    if core in ("I", "A", "cos") or re.match(r"NC\d", core):
        return True
    if _NAME.match(core):
        return False
    if _MATHWORD.match(core):
        return True
    if _PROSE.match(core) and len(core) > 1:
        return False
    return True


def _balanced(text: str, name: str, open_with: str, close_with: str) -> str:
    """Replace ``name(...)`` (balanced parentheses) by ``open_with ... close_with``."""
    out, i = "", 0
    pattern = re.compile(rf"(?<![A-Za-z\\]){name}\(")
    while True:
        match = pattern.search(text, i)
        if not match:
            return out + text[i:]
        depth, j = 1, match.end()
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        inner = text[match.end():j - 1] if depth == 0 else text[match.end():]
        out += text[i:match.start()] + open_with + inner + close_with
        i = j


def math(span: str) -> str:
    """One span of plain-text mathematics as LaTeX math (without the dollars)."""
    s = span.replace("G_1-theta", "G_{1-theta}")
    s = re.sub(r"(\d)e-(\d+)\b", r"\1 \\cdot 10^{-\2}", s)
    s = re.sub(r"\b(\d+|[A-Za-z]) x (\d+|[A-Za-z])\b", r"\1 \\times \2", s)
    s = re.sub(r"_\(([^()]*)\)", r"_{\1}", s)
    s = re.sub(r"\.\.\.?", r"\\dots ", s)
    s = re.sub(r"\|\|([^|]+)\|\|", r"\\norm{\1}", s)
    s = re.sub(r"\|([^|]+)\|", r"\\lvert \1\\rvert ", s)
    s = re.sub(r"\*\*\(([^()]*)\)", r"^{\1}", s)
    s = re.sub(r"\*\*(-?\w+)", r"^{\1}", s)
    s = re.sub(r"(\w|\))\*\^(\d)", r"\1^{\\star \2}", s)
    s = re.sub(r"(\w|\))\*(?![\w(])", r"\1^{\\star}", s)
    s = re.sub(r"(?<=[\w)}])\*(?=[\w(\\])", " ", s)
    s = re.sub(r"\bNC0\b", r"\\NCzero ", s)
    s = re.sub(r"\bNC(\d)\b", r"\\mathrm{NC}_\1", s)
    s = s.replace("<-", r"\leftarrow ")
    s = re.sub(r"\bd/d(\w+)", r"\\tfrac{d}{d\1}", s)
    s = re.sub(r"\bd(l|z_\w+|p)/d(\w+)", lambda m: rf"\partial {m.group(1)}/\partial {m.group(2)}", s)
    s = re.sub(r"\bgrad_(\w)", r"\\nabla_{\1}", s)
    s = re.sub(r"\bgrad\b", r"\\nabla", s)
    s = re.sub(r"\^\(([^()]*)\)", r"^{\1}", s)
    s = re.sub(r"\b1\^T", r"\\ones^{\\top}", s)
    s = re.sub(r"\^T\b", r"^{\\top}", s)
    s = re.sub(r"\b1_K\b", r"\\ones_K", s)
    s = re.sub(r"(?<=[A-Za-z)}] )1\b(?![.\d/])", r"\\ones", s)  # "G 1", "(W W^T) 1", "c 1": the ones vector
    s = re.sub(r"(?<=\\top\}\s)1\b(?![.\d])", r"\\ones", s)
    s = re.sub(r"(?<=[(+-] )1 1\^", r"\\ones\\ones^", s)
    s = _balanced(s, "sqrt", r"\sqrt{", "}")
    for name in ("log", "exp", "max", "min", "det", "cos", "ln"):
        s = re.sub(rf"(?<![A-Za-z\\]){name}\b", rf"\\{name}", s)
    s = re.sub(r"(?<![A-Za-z\\])Max\(", r"\\max(", s)
    s = re.sub(r"(?<![A-Za-z\\])(sign|diag)\b", r"\\operatorname{\1}", s)
    s = re.sub(r"(?<![A-Za-z\\])sum(?=[_ ({]|$)", r"\\sum", s)
    for word, macro in sorted(_GREEK.items(), key=lambda kv: -len(kv[0])):
        s = re.sub(rf"(?<![A-Za-z\\]){word}(?![A-Za-z])", lambda m, macro=macro: macro + " ", s)
    s = re.sub(r"(?<![A-Za-z\\_])l(?![A-Za-z])", r"\\ell ", s)
    s = re.sub(r"_([A-Za-z0-9]{2,}|\\\w+ ?)(?![{\w])", lambda m: "_{" + m.group(1).strip() + "}", s)
    s = re.sub(r"_(-?\w[\w-]*-\w+)", r"_{\1}", s)
    s = s.replace(">=", r"\ge ").replace("<=", r"\le ").replace("!=", r"\ne ").replace("->", r"\to ")
    s = s.replace("-+", r"\mp ").replace("~", r"\sim ").replace("%", r"\%").replace("&", r"\&")
    s = re.sub(r"\bin\b", r"\\in", s)
    while re.search(r"\^\{([^{}]*)\}\^\{([^{}]*)\}", s):
        s = re.sub(r"\^\{([^{}]*)\}\^\{([^{}]*)\}", r"^{\1 \2}", s)
    s = re.sub(r"\^\{([^{}]*)\}\^(\w)", r"^{\1 \2}", s)
    return re.sub(r" +", " ", s).strip()


def _escape(text: str) -> str:
    return (text.replace("\\", r"\textbackslash{}").replace("&", r"\&").replace("%", r"\%")
            .replace("#", r"\#").replace("_", r"\_").replace("$", r"\$").replace("~", r"\textasciitilde{}")
            .replace("{", r"\{").replace("}", r"\}"))


def _dictionary(match) -> str:
    pairs = re.findall(r"'(\w+)': ([^,}]+)", match.group(0))
    return "$" + r",\ ".join(f"{HYPERPARAMETERS.get(k, k)} = {v.strip()}" for k, v in pairs) + "$"


def plain_to_tex(text: str) -> str:
    """A plain-text description with ASCII mathematics as LaTeX (prose with ``$...$`` spans)."""
    for pattern, replacement in PHRASES:
        text = re.sub(pattern, replacement, text)
    dictionaries = []

    def keep(match):
        dictionaries.append(_dictionary(match))
        return f"\x00{len(dictionaries) - 1}\x00"

    text = re.sub(r"\{'[^}]*\}", keep, text)
    text = re.sub(r"^(\d)\. ", r"(step \1) ", text)
    names = words()
    text = re.sub(r"\b(" + "|".join(sorted(names, key=len, reverse=True)) + r")\b(?!_)",
                  lambda m: names[m.group(1)], text)
    tokens = text.split(" ")
    flags = [not token.startswith("\x00") and _is_math(token, tokens[i - 1] if i else "",
                                                       tokens[i + 1] if i + 1 < len(tokens) else "")
             for i, token in enumerate(tokens)]
    out, i = [], 0
    while i < len(tokens):
        if not flags[i]:
            token = tokens[i]
            out.append(token if token.startswith("\x00") else _escape(token))
            i += 1
            continue
        j = i
        while j < len(tokens) and flags[j]:
            j += 1
        out.append(_span(" ".join(tokens[i:j])))
        i = j
    result = " ".join(out)
    return re.sub("\x00(\\d+)\x00", lambda m: dictionaries[int(m.group(1))], result)


def _span(span: str) -> str:
    """A run of mathematical words: punctuation outside, unbalanced parentheses outside."""
    lead, tail = "", ""
    while True:
        if span and span[-1] in ",;:." and not span.endswith(".."):
            tail, span = span[-1] + tail, span[:-1]
        elif span.endswith(")") and _unmatched(span) == len(span) - 1:
            tail, span = ")" + tail, span[:-1]
        elif span.startswith("(") and _unmatched(span) == 0:
            lead, span = lead + "(", span[1:]
        else:
            break
    if not span:
        return lead + tail
    cut = _unmatched(span)
    if cut is not None:  # a parenthesis of the prose inside the span: split there
        return lead + _span(span[:cut]) + span[cut] + _span(span[cut + 1:]) + tail
    depth = 0
    for index, char in enumerate(span):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if depth == 0 and char in ":;" and span[index + 1:index + 2] == " ":
            return lead + _span(span[:index]) + char + " " + _span(span[index + 2:]) + tail
    return f"{lead}${math(span)}${tail}"


def _unmatched(span: str):
    """Index of the first parenthesis without partner (brackets pair with parentheses:
    intervals such as ``[0, 1)``), or None."""
    stack = []
    for index, char in enumerate(span):
        if char in "([":
            stack.append(index)
        elif char in ")]":
            if not stack:
                return index
            stack.pop()
    return stack[0] if stack else None


__all__ = ["HYPERPARAMETERS", "PHRASES", "LOSS_WORDS", "words", "math", "plain_to_tex"]
