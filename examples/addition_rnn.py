"""Learning to add with a sequence-to-sequence LSTM (the classic Keras "addition RNN" example).

Questions such as ``"123+45 "`` (padded to 7 characters) are fed one-hot, character by character, to an
LSTM encoder; its final hidden state is repeated once per answer character (4 steps) and decoded by a
second LSTM whose outputs a shared Linear layer maps to the 12-character vocabulary. The loss is the
cross-entropy of every answer character. The network never sees a digit's value: it learns addition
from examples alone.

    python examples/addition_rnn.py                 # full run (50 000 questions, prints samples each epoch)
    python examples/addition_rnn.py --smoke         # seconds: 500 questions, 1 epoch
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
from _common import base_parser, check_device

import deepcore as dc  # importable from a source checkout once _common is imported
import deepcore.nn.functional as F
from deepcore import nn

DIGITS = 3                      # operands have 1..3 digits
MAXLEN = DIGITS + 1 + DIGITS    # "123+456"
ANSLEN = DIGITS + 1             # "1000" at most
CHARS = "0123456789+ "


class CharTable:
    """One-hot encoding of strings over a fixed alphabet, and decoding of (probability) arrays back."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def encode(self, strings, length):
        """``(N, length, V)`` float32 one-hot array of ``strings`` (each already padded to ``length``)."""
        idx = self.indices(strings, length)
        return np.eye(len(self.chars), dtype=np.float32)[idx]

    def indices(self, strings, length):
        """``(N, length)`` int64 character indices."""
        out = np.empty((len(strings), length), dtype=np.int64)
        for i, s in enumerate(strings):
            out[i] = [self.index[c] for c in s]
        return out

    def decode(self, idx):
        """Characters of a 1-D array of indices."""
        return "".join(self.chars[int(i)] for i in idx)


def make_questions(n, seed=0, reverse=True):
    """``n`` distinct "a+b" questions (operand order ignored) and answers, padded with spaces.

    With ``reverse`` the question string is fed backwards ("54+321" for "123+45"), which puts the
    low-order digits, whose sum is needed first, close to the decoder: it trains much faster.
    """
    rng = np.random.default_rng(seed)
    seen, questions, answers = set(), [], []
    while len(questions) < n:
        a, b = (int("".join(rng.choice(list("0123456789"), size=rng.integers(1, DIGITS + 1)))) for _ in range(2))
        key = (min(a, b), max(a, b))
        if key in seen:
            continue
        seen.add(key)
        q = f"{a}+{b}".ljust(MAXLEN)
        questions.append(q[::-1] if reverse else q)
        answers.append(str(a + b).ljust(ANSLEN))
    return questions, answers


class AdditionRNN(nn.Module):
    """LSTM encoder -> final state repeated ANSLEN times -> LSTM decoder -> per-step Linear to characters."""

    def __init__(self, vocab, hidden=128, out_len=ANSLEN):
        super().__init__()
        self.out_len = out_len
        self.encoder = nn.LSTM(vocab, hidden, batch_first=True)
        self.decoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x):                       # x: (N, MAXLEN, V) one-hot
        _, (h, _) = self.encoder(x)             # h: (1, N, H)
        z = h[0]
        n, hidden = z.shape
        repeated = dc.broadcast_to(z.unsqueeze(1), (n, self.out_len, hidden))   # Keras' RepeatVector
        out, _ = self.decoder(repeated)         # (N, out_len, H)
        return self.head(out)                   # (N, out_len, V) logits


def predict_indices(model, x, device, batch_size=1024):
    """Most likely character index at each answer position, ``(N, ANSLEN)``."""
    model.eval()
    outs = []
    with dc.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(dc.tensor(x[i:i + batch_size], device=device))
            outs.append(logits.numpy().argmax(-1))
    model.train()
    return np.concatenate(outs) if outs else np.empty((0, ANSLEN), dtype=np.int64)


def show_samples(table, questions, answers, guesses, k, rng, reverse):
    for i in rng.choice(len(questions), size=min(k, len(questions)), replace=False):
        q = questions[i][::-1] if reverse else questions[i]
        guess = table.decode(guesses[i])
        mark = "\u2713" if guess == answers[i] else "\u2717"
        print(f"  Q {q.strip():>7} = {answers[i].strip():<4}  guess {guess.strip():<4} {mark}")


def main(argv=None):
    p = base_parser(__doc__, "training epochs (default: 40, smoke: 1)", "tiny run for tests: 500 questions, 1 epoch")
    p.add_argument("--questions", type=int, default=None, help="number of questions (default: 50000)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--target", type=float, default=0.99,
                   help="stop early once validation whole-answer accuracy reaches this (default: 0.99)")
    p.add_argument("--no-reverse", action="store_true", help="feed questions left to right")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    device = check_device(args.device)
    epochs = args.epochs if args.epochs is not None else (1 if args.smoke else 40)
    n = args.questions if args.questions is not None else (600 if args.smoke else 50000)
    reverse = not args.no_reverse

    dc.manual_seed(args.seed)
    table = CharTable(CHARS)
    questions, answers = make_questions(n, seed=args.seed, reverse=reverse)
    x = table.encode(questions, MAXLEN)
    y = table.indices(answers, ANSLEN)
    split = n - max(n // 10, 1)                 # 90 % train, 10 % held out
    x_train, y_train, x_val, y_val = x[:split], y[:split], x[split:], y[split:]
    q_val, a_val = questions[split:], answers[split:]
    print(f"addition RNN: {len(x_train)} training and {len(x_val)} held-out questions "
          f"(inputs {'reversed' if reverse else 'as written'}), device {device}")

    V = len(table.chars)
    model = AdditionRNN(V, hidden=args.hidden).to(device)
    opt = dc.optim.Adam(model.parameters(), lr=args.lr)
    # Halve the learning rate whenever held-out accuracy stalls: a high rate learns fast, a lower one settles.
    plateau = dc.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1)
    rng = np.random.default_rng(args.seed + 1)
    history = {"loss": [], "val_accuracy": [], "val_char_accuracy": []}
    t_start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        perm = rng.permutation(len(x_train))
        total = dc.zeros((), device=device)
        steps = 0
        for i in range(0, len(perm), args.batch_size):
            idx = perm[i:i + args.batch_size]
            xb = dc.tensor(x_train[idx], device=device)
            yb = dc.tensor(y_train[idx], device=device)
            logits = model(xb)
            loss = F.cross_entropy(logits.reshape(-1, V), yb.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total = total + loss.detach()
            steps += 1
        guesses = predict_indices(model, x_val, device)
        whole = float((guesses == y_val).all(axis=1).mean())
        char = float((guesses == y_val).mean())
        history["loss"].append(total.item() / max(steps, 1))
        history["val_accuracy"].append(whole)
        history["val_char_accuracy"].append(char)
        print(f"epoch {epoch:3d}/{epochs}  loss {history['loss'][-1]:.4f}  held-out accuracy: answers "
              f"{whole:6.1%}, characters {char:6.1%}  lr {opt.param_groups[0]['lr']:.2g}  "
              f"({time.perf_counter() - t0:.1f}s)")
        if not args.smoke:
            show_samples(table, q_val, a_val, guesses, 5, rng, reverse)
        if whole >= args.target:
            print(f"reached {args.target:.0%} held-out accuracy, stopping")
            break
        plateau.step(whole)
    seconds = time.perf_counter() - t_start

    guesses = predict_indices(model, x_val, device)
    accuracy = float((guesses == y_val).all(axis=1).mean())
    print("samples from the held-out questions:")
    show_samples(table, q_val, a_val, guesses, 10, rng, reverse)
    print(f"held-out whole-answer accuracy: {accuracy:.2%} after {len(history['loss'])} epochs "
          f"({seconds:.0f}s)")
    return {"accuracy": accuracy, "char_accuracy": float((guesses == y_val).mean()),
            "epochs": len(history["loss"]), "seconds": seconds, "history": history,
            "n_train": len(x_train), "n_val": len(x_val)}


if __name__ == "__main__":
    main()
