"""The benchmark workloads of docs/benchmarks.md, built for deepcore and, as twins, for PyTorch."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    name: str
    input_shape: tuple  # without the batch axis
    batch: int
    kind: str = "train"  # "train": forward + cross-entropy + backward + Adam; "matmul": one GEMM


WORKLOADS = {
    "mlp": Workload("mlp", (784,), 128),
    "mlp_big": Workload("mlp_big", (784,), 4096),
    "cnn": Workload("cnn", (1, 28, 28), 128),
    "convblock": Workload("convblock", (64, 32, 32), 64),
    "lstm": Workload("lstm", (32, 16), 64),
    "matmul": Workload("matmul", (), 1, kind="matmul"),
}


def matmul_size(device_type: str) -> int:
    """n of the square float32 GEMM: 4096 on the GPU, 1024 on the CPU."""
    return 4096 if device_type == "cuda" else 1024


def build_deepcore(name: str):
    """The deepcore model of a workload."""
    from .. import nn

    if name in ("mlp", "mlp_big"):
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(128, 10))
    if name == "convblock":
        return nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    if name == "lstm":
        class LastStepLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(16, 128, batch_first=True)
                self.fc = nn.Linear(128, 10)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.fc(out[:, -1])
        return LastStepLSTM()
    raise ValueError(f"unknown workload {name!r}; accepted: {', '.join(WORKLOADS)}")


def build_torch(name: str, torch):
    """The PyTorch twin of a workload (same layers, same shapes)."""
    tnn = torch.nn
    if name in ("mlp", "mlp_big"):
        return tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 512), tnn.ReLU(), tnn.Linear(512, 10))
    if name == "cnn":
        return tnn.Sequential(tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.Conv2d(32, 64, 3), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Dropout(0.25), tnn.Flatten(), tnn.Linear(9216, 128), tnn.ReLU(), tnn.Dropout(0.5),
                              tnn.Linear(128, 10))
    if name == "convblock":
        return tnn.Sequential(tnn.Conv2d(64, 64, 3, padding=1), tnn.ReLU(), tnn.Conv2d(64, 64, 3, padding=1),
                              tnn.ReLU(), tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(64, 10))
    if name == "lstm":
        class LastStepLSTM(tnn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = tnn.LSTM(16, 128, batch_first=True)
                self.fc = tnn.Linear(128, 10)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.fc(out[:, -1])
        return LastStepLSTM()
    raise ValueError(f"unknown workload {name!r}; accepted: {', '.join(WORKLOADS)}")
