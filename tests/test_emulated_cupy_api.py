"""Every ``cupy``/``cupyx`` name the emulated CUDA device provides exists in real CuPy 14, with the same signature.

The stand-in under ``tests/emulated_cuda`` lists what it provides in ``cupy_emulation.provided()``: dotted
names (``"cupy.ndarray.reshape"``, ``"cupyx.scatter_add"``) mapped to its objects. Real CuPy imports without a
GPU; ``.ci/run`` installs it into a folder of its own, named by ``$DEEPCORE_REAL_CUPY`` (it must never be
importable in the test process: the CPU run needs no CuPy, the emulated run shadows ``cupy``). So this file,
run as a script with that folder on PYTHONPATH, describes real CuPy's objects. The same ``describe`` describes
the emulated ones: in the test process under ``--emulate-cuda``, else in a fresh interpreter that activates the
stand-in. The test process compares the two, name by name.

A description is the object's kind and, for callables and classes, its parameters (name, kind, default);
a leading ``self`` is dropped. Ufuncs (CuPy's ``ufunc`` and ``_GUFunc``, or an emulated object with ``nin`` and
``nout``) are compared by ``nin``/``nout`` only. CuPy's Cython objects often have no ``inspect.signature``;
their signature is then the first line of ``__doc__`` that Cython's ``embedsignature`` writes, C types dropped.

Real CuPy's signatures, by hand: ``PYTHONPATH=$DEEPCORE_REAL_CUPY python tests/test_emulated_cupy_api.py NAME ...``
"""
import ast
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

EMULATED_DIR = Path(__file__).resolve().parent / "emulated_cuda"
P = inspect.Parameter
KINDS = {k: k.name.lower() for k in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD, P.VAR_POSITIONAL, P.KEYWORD_ONLY,
                                     P.VAR_KEYWORD)}
REQUIRED = "<required>"


# ---- describing an object (runs in both processes; standard library only) ----

def resolve(dotted: str):
    """The object named ``dotted`` (``"cupy.cuda.Stream.begin_capture"``); raises AttributeError/ImportError."""
    first, *rest = dotted.split(".")
    obj = importlib.import_module(first)
    for i, part in enumerate(rest):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            if not isinstance(obj, types.ModuleType):
                raise
            try:  # a submodule not imported yet
                obj = importlib.import_module(".".join([first, *rest[:i + 1]]))
            except ModuleNotFoundError as e:
                if e.name != ".".join([first, *rest[:i + 1]]):
                    raise
                raise AttributeError(f"module {obj.__name__!r} has no attribute {part!r}") from None
    return obj


def _default(value) -> str:
    """A default as text that both sides write alike: classes by name (``numpy.float64`` -> ``float64``)."""
    if value is inspect.Parameter.empty:
        return REQUIRED
    return value.__name__ if isinstance(value, type) else repr(value)


def _doc_default(text: str) -> str:
    """A default written in an embedded signature, normalised like ``_default``."""
    try:
        return repr(ast.literal_eval(text))
    except (ValueError, SyntaxError):
        return text.rsplit(".", 1)[-1]  # a name such as numpy.float64 or float


def _split_top_level(text: str) -> list[str]:
    """``text`` split at the commas that are not inside brackets or quotes."""
    parts, depth, quote, current = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    return [p.strip() for p in parts + [current] if p.strip()]


def _doc_signature(obj) -> list | None:
    """Parameters from the ``name(params)`` first line that Cython's embedsignature puts in ``__doc__``."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    match = re.match(r"[\w.]*\((.*)\)\s*(->.*)?$", doc.splitlines()[0] if doc else "")
    if not match:
        return None
    params, kind = [], "positional_or_keyword"
    for part in _split_top_level(match.group(1)):
        if part == "/":
            params = [[n, "positional_only", d] for n, _, d in params]
        elif part == "*":
            kind = "keyword_only"
        else:
            left, _, default = part.partition("=")
            name = re.sub(r":.*", "", left).split()[-1]  # drops "str " of "str code" and ": int" annotations
            if name.startswith("**"):
                params.append([name[2:], "var_keyword", REQUIRED])
            elif name.startswith("*"):
                params.append([name[1:], "var_positional", REQUIRED])
                kind = "keyword_only"
            else:
                params.append([name, kind, _doc_default(default.strip()) if default else REQUIRED])
    return params


def _cython_class_signature(cls) -> list | None:
    """A Cython extension class's ``__init__`` parameters, from the class docstring (``RawKernel(str code, ...)``).

    Cython writes ``self``-less class signatures with a bare ``*`` one parameter too late (CuPy 14.2
    ``RawKernel``: ``..., str backend='nvrtc', *, bint translate_cucomplex=False`` in cupy/_core/raw.pyx, documented
    as ``..., translate_cucomplex=False, *, ...``; ``RawModule``: ``(self, *, str code=None`` documented as
    ``(str code=None, *, ...``), so the first keyword-only parameter is moved back.
    """
    doc = (cls.__doc__ or "").strip()
    if not doc.startswith(cls.__name__ + "(") or not isinstance(vars(cls).get("__init__"), types.WrapperDescriptorType):
        return None
    params = _doc_signature(cls)
    kinds = [k for _, k, _ in params]
    if "keyword_only" in kinds and "var_positional" not in kinds:
        first = kinds.index("keyword_only")
        if first > 0:
            params[first - 1][1] = "keyword_only"
    return params


def _parameters(obj) -> list | None:
    """``[name, kind, default]`` of each parameter of a callable or of a class's constructor, ``self`` dropped.

    ``inspect.signature`` first; the embedded docstring signature where it fails (Cython) or where a class
    shows only a generic ``*args`` constructor (``cupy.ndarray``'s ``__new__``; its doc: ``__init__(shape, ...)``).
    """
    try:
        params = [[p.name, KINDS[p.kind], _default(p.default)] for p in inspect.signature(obj).parameters.values()]
    except (TypeError, ValueError):
        params = None
    if params is None or (isinstance(obj, type) and any(k == "var_positional" for _, k, _ in params)):
        from_doc = (_cython_class_signature(obj) if isinstance(obj, type) else None) or _doc_signature(obj)
        params = from_doc if from_doc is not None else params
    if params and params[0][0] == "self":
        params = params[1:]
    return params


def describe(obj) -> dict:
    """What is compared between real and emulated CuPy: the kind, and parameters or ``nin``/``nout``."""
    if isinstance(obj, types.ModuleType):
        return {"kind": "module"}
    for nin, nout in (("nin", "nout"), ("_nin", "_nout")):  # ufunc; CuPy's _GUFunc (cupy.matmul) has _nin/_nout
        if not isinstance(obj, type) and isinstance(getattr(obj, nin, None), int) \
                and isinstance(getattr(obj, nout, None), int):
            return {"kind": "ufunc", "nin": getattr(obj, nin), "nout": getattr(obj, nout)}
    if isinstance(obj, (property, types.GetSetDescriptorType, types.MemberDescriptorType)):
        return {"kind": "attribute"}
    if isinstance(obj, type) or callable(obj):
        return {"kind": "class" if isinstance(obj, type) else "callable", "parameters": _parameters(obj)}
    return {"kind": "value", "type": type(obj).__name__}


def documented_attributes(cls) -> set[str]:
    """Instance attributes that a class documents in its docstring's ``Attributes:`` section
    (``~Stream.ptr (intptr_t): ...``): set in ``__init__``, so not found on the class itself."""
    section = re.split(r"\n\s*Attributes:\s*\n", cls.__doc__ or "", maxsplit=1)[1:]
    lines = section[0].splitlines() if section else []
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    found = set()
    for line in lines:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break  # the next section
        match = re.match(r"\s*~?(?:[\w.]+\.)?(\w+)\s*\(", line) if len(line) - len(line.lstrip()) == indent else None
        if match:
            found.add(match.group(1))
    return found


def describe_names(names) -> dict:
    """``{name: description}``; a name that does not resolve is ``{"kind": "missing", "error": ...}``."""
    out = {}
    for name in names:
        try:
            out[name] = describe(resolve(name))
        except (AttributeError, ImportError) as e:
            out[name] = {"kind": "missing", "error": f"{type(e).__name__}: {e}"}
            parent, _, attr = name.rpartition(".")
            try:
                cls = resolve(parent)
            except (AttributeError, ImportError):
                continue
            if isinstance(cls, type) and attr in documented_attributes(cls):
                out[name] = {"kind": "attribute"}
    return out


def _format(desc: dict) -> str:
    """A description as one line, parameters written like a Python signature."""
    if desc.get("parameters") is None:
        return json.dumps(desc)
    params, text = desc["parameters"], []
    last_positional_only = max((i for i, p in enumerate(params) if p[1] == "positional_only"), default=None)
    for i, (name, kind, default) in enumerate(params):
        if kind == "keyword_only" and not any(k in ("keyword_only", "var_positional") for _, k, _ in params[:i]):
            text.append("*")
        prefix = {"var_positional": "*", "var_keyword": "**"}.get(kind, "")
        text.append(prefix + name + ("" if default == REQUIRED else "=" + default))
        if i == last_positional_only:
            text.append("/")
    return f"{desc['kind']} ({', '.join(text)})"


# ---- the test (pytest is only imported here, so the script half needs nothing but the standard library) ----

def _run_self(flag: str, pythonpath: str, names=None):
    """The JSON that this file prints when run as a script with ``flag`` and ``pythonpath`` (and nothing else)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = pythonpath
    proc = subprocess.run([sys.executable, __file__, flag], input=json.dumps(names), env=env, check=False,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(__file__).name} {flag} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def emulated_descriptions() -> dict:
    """The stand-in's descriptions of what ``cupy_emulation.provided()`` lists: in this process under
    ``--emulate-cuda`` (the stand-in is active), else from a fresh interpreter that activates it (an active
    stand-in must be imported before deepcore, which this process has already imported)."""
    emulation = sys.modules.get("cupy_emulation")
    if emulation is not None and emulation.is_active():
        return {name: describe(obj) for name, obj in emulation.provided().items()}
    return _run_self("--emulated", str(EMULATED_DIR))


def _emulated_main() -> dict:
    import cupy_emulation

    cupy_emulation.activate()
    return {name: describe(obj) for name, obj in cupy_emulation.provided().items()}


def _parameter_diff(mine: dict, theirs: dict) -> list[str]:
    """Which parameters differ, when both sides have parameters."""
    if mine.get("parameters") is None or theirs.get("parameters") is None:
        return []
    ours, real = ({n: (k, d) for n, k, d in desc["parameters"]} for desc in (mine, theirs))
    lines = [f"{n}: real has it ({k}, default {d}), emulated does not" for n, (k, d) in real.items() if n not in ours]
    lines += [f"{n}: emulated has it, real does not" for n in ours if n not in real]
    lines += [f"{n}: emulated {ours[n][0]}, default {ours[n][1]}; real {real[n][0]}, default {real[n][1]}"
              for n in ours if n in real and ours[n] != real[n]]
    if not lines and [p[0] for p in mine["parameters"]] != [p[0] for p in theirs["parameters"]]:
        lines.append("the same parameters in another order")
    return lines


def compare(emulated: dict, real: dict) -> list[str]:
    """One readable paragraph per name whose emulated description differs from real CuPy's."""
    problems = []
    for name in sorted(emulated):
        mine, theirs = emulated[name], real[name]
        if theirs["kind"] == "missing":
            problems.append(f"{name}: not in real CuPy ({theirs['error']})")
        elif mine != theirs:
            problems.append(f"{name}:\n    emulated  {_format(mine)}\n    real      {_format(theirs)}"
                            + "".join(f"\n      {line}" for line in _parameter_diff(mine, theirs)))
    return problems


def test_emulated_names_exist_in_real_cupy_with_the_same_signature():
    import pytest

    real_dir = os.environ.get("DEEPCORE_REAL_CUPY")
    if not real_dir:
        pytest.skip("DEEPCORE_REAL_CUPY is not set (.ci/run sets it to a folder holding real CuPy 14)")
    emulated = emulated_descriptions()
    assert emulated, "cupy_emulation.provided() is empty"
    version, real = _run_self("--real", real_dir, sorted(emulated))
    assert version.startswith("14."), f"expected CuPy 14 in {real_dir}, found {version}"
    problems = compare(emulated, real)
    if problems:
        pytest.fail(f"{len(problems)} of {len(emulated)} emulated names differ from real CuPy {version}:\n"
                    + "\n".join(problems), pytrace=False)


if __name__ == "__main__":
    if sys.argv[1:] == ["--real"]:  # used by the test: CuPy's version and the descriptions of the names on stdin
        import cupy
        print(json.dumps([cupy.__version__, describe_names(json.load(sys.stdin))]))
    elif sys.argv[1:] == ["--emulated"]:  # used by the test: describe what the stand-in provides
        print(json.dumps(_emulated_main()))
    else:  # by hand: real CuPy's signatures, readable
        import cupy
        print(f"# CuPy {cupy.__version__} from {Path(cupy.__file__).parent}")
        for name, desc in describe_names(sys.argv[1:]).items():
            print(f"{name}: {_format(desc)}")
