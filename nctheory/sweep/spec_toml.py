"""Sweep specifications in TOML: :func:`load_toml` / :func:`parse_toml` -> :class:`~nctheory.sweep.spec.Sweep`.

The format (docs/sweeps.md is the reference)::

    name = "my_grid"              # optional; default: the file's stem
    model = "ufm"                 # top-level keys: settings shared by every run
    steps = 300
    metrics = ["nc0", "loss", "verdict"]

    [[product]]                   # blocks; the sweep is their union, in file order
    optimizer = ["A", "B"]        # a list is an axis, a single value an axis of length one
    lr = { geomspace = [1e-3, 1e-1, 3] }   # generators: range, linspace, geomspace
    seed = { range = [0, 3] }
    [[product.zip]]               # a zip inside the product: lists advanced together
    weight_decay = [0.0, 5e-3]
    label_smoothing = [0.0, 0.1]

    [[zip]]                       # a block of its own
    ...

The file is parsed by :mod:`tomllib` (``tomli`` before Python 3.11); since tomllib keeps no
positions, :func:`key_lines` scans the source for table headers and ``key =`` lines (outside
strings and multi-line arrays) so that every refusal names the file, the line and the key.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.sweep.spec import Origin, Product, Sweep, SweepSpecError, Zip

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Top-level keys that describe the sweep rather than its runs.
SWEEP_KEYS = ("name", "description")
#: Top-level arrays of tables: the blocks, and what each may contain.
BLOCK_TABLES = {"product": ("zip",), "zip": ()}
GENERATORS = ("range", "linspace", "geomspace")

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*(\]\]?)\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _key_parts(text: str) -> tuple:
    return tuple(p.strip().strip("\"'") for p in re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text))


def _scan(line: str, state: dict) -> None:
    """Advance ``state`` (open multi-line string, bracket depth) over one line."""
    i = 0
    while i < len(line):
        if state["string"]:
            end = line.find(state["string"], i)
            if end < 0:
                return
            i, state["string"] = end + len(state["string"]), None
            continue
        c = line[i]
        if c == "#":
            return
        if line.startswith(('"""', "'''"), i):
            state["string"], i = line[i:i + 3], i + 3
            continue
        if c in "\"'":
            j = i + 1
            while j < len(line) and line[j] != c:
                j += 2 if (c == '"' and line[j] == "\\") else 1
            i = j + 1
            continue
        if c in "[{":
            state["depth"] += 1
        elif c in "]}":
            state["depth"] -= 1
        i += 1


def key_lines(text: str) -> tuple[dict, dict]:
    """``(keys, headers)``: ``{(table path, key): line}`` and ``{table path: line}``.

    A table path is a tuple such as ``()``, ``("product", 0)`` or ``("product", 0, "zip", 1)``:
    ``[[...]]`` entries are numbered from 0 in file order, as tomllib's lists are.
    """
    keys, headers, counts, arrays = {}, {(): 1}, {}, set()
    path, state = (), {"string": None, "depth": 0}
    for number, line in enumerate(text.splitlines(), start=1):
        top = state["string"] is None and state["depth"] == 0
        if top:
            header = _HEADER.match(line)
            if header and len(header.group(1)) == len(header.group(3)):
                parts, resolved = _key_parts(header.group(2)), ()
                for part in parts[:-1]:
                    resolved += (part,)
                    if resolved in arrays:
                        resolved += (counts[resolved] - 1,)
                resolved += (parts[-1],)
                if header.group(1) == "[[":
                    arrays.add(resolved)
                    counts[resolved] = counts.get(resolved, 0) + 1
                    resolved += (counts[resolved] - 1,)
                path = resolved
                headers[path] = number
                continue
            match = _KEY.match(line)
            if match:
                parts = _key_parts(match.group(1))
                keys.setdefault((path + parts[:-1], parts[-1]), number)
                _scan(line[match.end():], state)
                continue
        _scan(line, state)
    return keys, headers


def _decode_error(error: Exception, source: str) -> SweepSpecError:
    match = re.search(r"line (\d+)", str(error))
    return SweepSpecError(f"not valid TOML: {error}", Origin(None, "the file", source,
                                                              int(match.group(1)) if match else None))


def _generated(value: dict, origin: Origin) -> list:
    """The values of a generator table ``{range = [a, b(, step)]}``, ``{linspace = [a, b, n]}``,
    ``{geomspace = [a, b, n]}`` (both ends included; geomspace: a and b > 0)."""
    if len(value) != 1 or next(iter(value)) not in GENERATORS:
        raise SweepSpecError(f"a table value must be one generator, {{range = [start, stop(, step)]}}, "
                             f"{{linspace = [a, b, n]}} or {{geomspace = [a, b, n]}}; got {value!r}", origin)
    kind, args = next(iter(value.items()))
    ok_numbers = isinstance(args, list) and all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                                and math.isfinite(a) for a in args)
    if kind == "range":
        if not ok_numbers or len(args) not in (2, 3) or not all(isinstance(a, int) for a in args) or \
                (len(args) == 3 and args[2] == 0):
            raise SweepSpecError(f"range needs [start, stop] or [start, stop, step] integers (step != 0), "
                                 f"got {args!r}", origin)
        return list(range(*args))
    if not ok_numbers or len(args) != 3 or not isinstance(args[2], int) or args[2] < 1:
        raise SweepSpecError(f"{kind} needs [a, b, n] with n a positive integer, got {args!r}", origin)
    a, b, n = args
    if kind == "geomspace":
        if a <= 0 or b <= 0:
            raise SweepSpecError(f"geomspace needs a > 0 and b > 0, got {args!r}", origin)
        return [float(v) for v in np.geomspace(a, b, n)]
    return [float(v) for v in np.linspace(a, b, n)]


def _values(table: dict, path: tuple, where: str, keys: dict, headers: dict, source: str, nested=()) -> tuple:
    """``(axes, origins)`` of one table, generators expanded."""
    axes, origins = {}, {}
    for key, value in table.items():
        if key in nested:
            continue
        origin = Origin(key, where, source, keys.get((path, key)) or headers.get(path) or keys.get(((), path[0])))
        if isinstance(value, dict):
            value = _generated(value, origin)
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            raise SweepSpecError("a list of tables is not a value; use a list of numbers or strings", origin)
        axes[key], origins[key] = value, origin
    return axes, origins


def parse_toml(text: str, source: str = "<string>", default_name: str = "sweep") -> Sweep:
    """The :class:`Sweep` of TOML text; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _decode_error(error, source) from None
    keys, headers = key_lines(text)
    blocks = []
    for table, allowed_children in BLOCK_TABLES.items():
        entries = data.get(table, [])
        if not isinstance(entries, list):
            raise SweepSpecError(f"{table} must be an array of tables, written [[{table}]]",
                                 Origin(table, "the file", source, keys.get(((), table))))
        for index, entry in enumerate(entries):
            path = (table, index)
            where = f"[[{table}]] #{index + 1}"
            line = headers.get(path) or keys.get(((), table))  # [[table]], or table = [{...}]
            children = []
            for name, child_entries in entry.items():
                if isinstance(child_entries, list) and child_entries and all(isinstance(c, dict) for c in child_entries):
                    if name not in allowed_children:
                        raise SweepSpecError(f"[[{table}.{name}]] is not a block here; allowed inside [[{table}]]: "
                                             f"{', '.join(f'[[{table}.{c}]]' for c in allowed_children) or 'none'}",
                                             Origin(name, where, source, headers.get(path + (name, 0), line)))
                    for j, child in enumerate(child_entries):
                        cpath = path + (name, j)
                        cwhere = f"[[{table}.{name}]] #{j + 1} of {where}"
                        axes, origins = _values(child, cpath, cwhere, keys, headers, source)
                        children.append(Zip(axes, origins=origins, label=cwhere))
            nested = {c for c in entry if isinstance(entry[c], list) and entry[c]
                      and all(isinstance(x, dict) for x in entry[c])}
            axes, origins = _values(entry, path, where, keys, headers, source, nested)
            cls = Product if table == "product" else Zip
            blocks.append((line or 0, cls(axes, children, origins=origins, label=where)))
    blocks.sort(key=lambda item: item[0])  # file order
    settings, setting_origins, meta = {}, {}, {}
    for key, value in data.items():
        if key in BLOCK_TABLES:
            continue
        origin = Origin(key, "the top level", source, keys.get(((), key)) or headers.get((key,)))
        if key in SWEEP_KEYS:
            if not isinstance(value, str):
                raise SweepSpecError(f"{key} must be a string, got {value!r}", origin)
            meta[key] = value
            continue
        if isinstance(value, dict):
            raise SweepSpecError(f"[{key}] is not a section of a sweep; top-level keys are settings shared by every "
                                 f"run, blocks are [[product]] and [[zip]]", origin)
        settings[key], setting_origins[key] = value, origin
    return Sweep(*[b for _, b in blocks], name=meta.get("name", default_name),
                 description=meta.get("description", ""), source=source, setting_origins=setting_origins, **settings)


def load_toml(path) -> Sweep:
    """The :class:`Sweep` of a TOML file (its name defaults to the file's stem)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NCTheoryError(f"SPEC: no such file {str(path)!r}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise NCTheoryError(f"SPEC: cannot read {str(path)!r}: {error}") from None
    return parse_toml(text, source=str(path), default_name=path.stem)
