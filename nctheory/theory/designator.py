"""Theory designators: ``"NAME"`` or ``"NAME:key=value,key=value"``, the text form of a spec
with some hyperparameters set (the command line's ``--theory``, and the ``theory=`` argument
of ``check_record`` and ``Tracker.verdict``).

Only the text is read here; which spec a name means, and which values the others take, is
decided where a theory is resolved against a run (:func:`nctheory.verdict.theory.judged_spec`).
"""

from __future__ import annotations

from nctheory.errors import NCTheoryError


def parse_theory(text: str) -> tuple[str, dict]:
    """``"NAME"`` or ``"NAME:key=value,key=value"`` -> ``(name, overrides)``; ``-`` in a key
    reads as ``_``, values as floats.

    >>> parse_theory("NAME:momentum=0.8, weight-decay=1e-2")
    ('NAME', {'momentum': 0.8, 'weight_decay': 0.01})
    """
    if not isinstance(text, str) or not text.strip():
        raise NCTheoryError(f"theory must be an optimizer name, optionally NAME:key=value,..., got {text!r}")
    name, _, rest = text.partition(":")
    overrides = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise NCTheoryError(f"theory {text!r}: expected key=value after ':', got {item!r}")
        try:
            overrides[key.strip().replace("-", "_")] = float(value)
        except ValueError:
            raise NCTheoryError(f"theory {text!r}: {key.strip()} must be a number, got {value!r}") from None
    return name.strip(), overrides
