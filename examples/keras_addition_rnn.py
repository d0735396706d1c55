"""Keras's "Sequence to sequence learning for performing number addition", on deepcore with only the imports
changed.

Questions such as "535+61" are fed one-hot (reversed, 7 characters) to an LSTM; its last output is repeated
once per answer character (RepeatVector) and decoded by a second LSTM and a softmax Dense layer, trained with
categorical cross-entropy on one-hot answers. The data generation, model and training loop (one ``fit``
epoch at a time, printing ten validation samples) are those of the Keras example
(keras.io/examples/nlp/addition_rnn): 50 000 questions, batch 32, Adam. The Keras example reports about 99 %
validation accuracy (per character) after 30 epochs; this script can stop once ``--target`` is reached.

    python examples/keras_addition_rnn.py
    python examples/keras_addition_rnn.py --smoke       # seconds: 300 questions, 1 epoch
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
import numpy as np
from _common import base_parser, check_device

# The Keras example imports `keras` and `from keras import layers`; only these two lines differ.
from deepcore import keras
from deepcore.keras import layers


class CharacterTable:
    """Given a set of characters:
    + Encode them to a one-hot integer representation
    + Decode the one-hot or integer representation to their character output
    + Decode a vector of probabilities to their character output
    """

    def __init__(self, chars):
        """Initialize character table.
        # Arguments
            chars: Characters that can appear in the input.
        """
        self.chars = sorted(set(chars))
        self.char_indices = dict((c, i) for i, c in enumerate(self.chars))  # noqa: C402 - as in Keras
        self.indices_char = dict((i, c) for i, c in enumerate(self.chars))  # noqa: C402

    def encode(self, C, num_rows):
        """One-hot encode given string C.
        # Arguments
            C: string, to be encoded.
            num_rows: Number of rows in the returned one-hot encoding. This is
                used to keep the # of rows for each data the same.
        """
        x = np.zeros((num_rows, len(self.chars)))
        for i, c in enumerate(C):
            x[i, self.char_indices[c]] = 1
        return x

    def decode(self, x, calc_argmax=True):
        """Decode the given vector or 2D array to their character output.
        # Arguments
            x: A vector or a 2D array of probabilities or one-hot representations;
                or a vector of character indices (used with `calc_argmax=False`).
            calc_argmax: Whether to find the character index with maximum
                probability, defaults to `True`.
        """
        if calc_argmax:
            x = x.argmax(axis=-1)
        return "".join(self.indices_char[x] for x in x)


def main(argv=None):
    p = base_parser(__doc__, "most epochs (default: 30 as in the Keras example, smoke: 1)",
                    "fast run for tests: 300 questions, 1 epoch")
    p.add_argument("--questions", type=int, default=None, help="training-set size (default: 50000)")
    p.add_argument("--target", type=float, default=None,
                   help="stop once val_accuracy (per character) reaches this, e.g. 0.99 (default: run all epochs)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    device = check_device(args.device)
    keras.utils.set_random_seed(args.seed)
    np.random.seed(args.seed)

    # --- from here on, the Keras example -------------------------------------------------------------
    # Parameters for the model and dataset.
    TRAINING_SIZE = args.questions or (300 if args.smoke else 50000)
    DIGITS = 3
    REVERSE = True

    # Maximum length of input is 'int + int' (e.g., '345+678'). Maximum length of
    # int is DIGITS.
    MAXLEN = DIGITS + 1 + DIGITS

    # All the numbers, plus sign and space for padding.
    chars = "0123456789+ "
    ctable = CharacterTable(chars)

    questions = []
    expected = []
    seen = set()
    print("Generating data...")
    while len(questions) < TRAINING_SIZE:
        f = lambda: int(
            "".join(
                np.random.choice(list("0123456789"))
                for i in range(np.random.randint(1, DIGITS + 1))
            )
        )
        a, b = f(), f()
        # Skip any addition questions we've already seen
        # Also skip any such that x+Y == Y+x (hence the sorting).
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        # Pad the data with spaces such that it is always MAXLEN.
        q = f"{a}+{b}"
        query = q + " " * (MAXLEN - len(q))
        ans = str(a + b)
        # Answers can be of maximum size DIGITS + 1.
        ans += " " * (DIGITS + 1 - len(ans))
        if REVERSE:
            # Reverse the query, e.g., '12+345  ' becomes '  543+21'. (Note the
            # space used for padding.)
            query = query[::-1]
        questions.append(query)
        expected.append(ans)
    print("Total questions:", len(questions))

    print("Vectorization...")
    x = np.zeros((len(questions), MAXLEN, len(chars)), dtype=bool)
    y = np.zeros((len(questions), DIGITS + 1, len(chars)), dtype=bool)
    for i, sentence in enumerate(questions):
        x[i] = ctable.encode(sentence, MAXLEN)
    for i, sentence in enumerate(expected):
        y[i] = ctable.encode(sentence, DIGITS + 1)

    # Shuffle (x, y) in unison as the later parts of x will almost all be larger
    # digits.
    indices = np.arange(len(y))
    np.random.shuffle(indices)
    x = x[indices]
    y = y[indices]

    # Explicitly set apart 10% for validation data that we never train over.
    split_at = len(x) - len(x) // 10
    (x_train, x_val) = x[:split_at], x[split_at:]
    (y_train, y_val) = y[:split_at], y[split_at:]

    print("Training Data:")
    print(x_train.shape)
    print(y_train.shape)

    print("Validation Data:")
    print(x_val.shape)
    print(y_val.shape)

    print("Build model...")
    num_layers = 1  # Try to add more LSTM layers!

    model = keras.Sequential()
    # "Encode" the input sequence using a LSTM, producing an output of size 128.
    # Note: In a situation where your input sequences have a variable length,
    # use input_shape=(None, num_feature).
    model.add(layers.Input((MAXLEN, len(chars))))
    model.add(layers.LSTM(128))
    # As the decoder RNN's input, repeatedly provide with the last output of
    # RNN for each time step. Repeat 'DIGITS + 1' times as that's the maximum
    # length of output, e.g., when DIGITS=3, max output is 999+999=1998.
    model.add(layers.RepeatVector(DIGITS + 1))
    # The decoder RNN could be multiple layers stacked or a single layer.
    for _ in range(num_layers):
        # By setting return_sequences to True, return not only the last output but
        # all the outputs so far in the form of (num_samples, timesteps,
        # output_dim). This is necessary as TimeDistributed in the below expects
        # the first dimension to be the timesteps.
        model.add(layers.LSTM(128, return_sequences=True))

    # Apply a dense layer to the every temporal slice of an input. For each of step
    # of the output sequence, decide which character should be chosen.
    model.add(layers.Dense(len(chars), activation="softmax"))
    model.to(device)  # deepcore: where to train (--device); the Keras example has no such line
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.summary()

    epochs = args.epochs if args.epochs is not None else (1 if args.smoke else 30)
    batch_size = 32
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    t_start = time.perf_counter()

    # Train the model each generation and show predictions against the validation
    # dataset.
    for epoch in range(1, epochs + 1):
        print()
        print("Iteration", epoch)
        h = model.fit(
            x_train,
            y_train,
            batch_size=batch_size,
            epochs=1,
            validation_data=(x_val, y_val),
            verbose=0 if args.smoke else 1,
        )
        for k in history:
            history[k] += h.history[k]
        # Select 10 samples from the validation set at random so we can visualize
        # errors.
        for i in range(10):
            ind = np.random.randint(0, len(x_val))
            rowx, rowy = x_val[np.array([ind])], y_val[np.array([ind])]
            preds = np.argmax(model.predict(rowx, verbose=0), axis=-1)
            q = ctable.decode(rowx[0])
            correct = ctable.decode(rowy[0])
            guess = ctable.decode(preds[0], calc_argmax=False)
            print("Q", q[::-1] if REVERSE else q, end=" ")
            print("T", correct, end=" ")
            if correct == guess:
                print("☑ " + guess)
            else:
                print("☒ " + guess)
    # --- end of the Keras example ---------------------------------------------------------------------
        if args.target is not None and history["val_accuracy"][-1] >= args.target:
            print(f"val_accuracy {history['val_accuracy'][-1]:.4f} >= {args.target}: stopping")
            break
    seconds = time.perf_counter() - t_start
    guesses = np.argmax(model.predict(x_val, verbose=0), axis=-1)
    whole = float((guesses == y_val.argmax(-1)).all(axis=1).mean())
    print(f"validation accuracy: {history['val_accuracy'][-1]:.2%} per character, {whole:.2%} whole answers, "
          f"after {len(history['loss'])} epochs ({seconds:.0f}s)")
    return {"history": history, "val_accuracy": history["val_accuracy"][-1], "answer_accuracy": whole,
            "epochs": len(history["loss"]), "n_train": len(x_train), "n_val": len(x_val), "seconds": seconds}


if __name__ == "__main__":
    main()
