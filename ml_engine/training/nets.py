"""The sequence models: a GRU and a small Transformer encoder over a window of feature rows.

Both read the normalized window [N, W, F] and output [N, 4] in OUTPUT_COLUMNS order: the range
high / low in percent and the two TP probabilities (through a sigmoid inside the exported graph).
The range head predicts multiples of the as-of ATR (atr_pct of the last row, de-normalized with
buffers saved in the state_dict): one scale-free head serves EURUSD hours and GOOG days alike, the
same idea as the ATR baseline, which a model has to beat.
"""

from __future__ import annotations

import torch
from torch import nn

from ml_engine.predictions.domain.features import FEATURE_NAMES

FAMILIES = ("gru", "transformer")
HIDDEN = 32
LAYERS = 1
HEADS = 4
ATR_FEATURE = FEATURE_NAMES.index("atr_pct")


class SequenceNet(nn.Module):
    """Shared head: ATR-scaled range and TP logits from an encoding of the window."""

    atr_mean: torch.Tensor
    atr_std: torch.Tensor

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.head = nn.Linear(HIDDEN, 4)
        # De-normalization of atr_pct (its training mean / std), loaded with the state_dict.
        self.register_buffer("atr_mean", torch.zeros(()))
        self.register_buffer("atr_std", torch.ones(()))
        self.n_features = n_features

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(range in ATR multiples [N, 2], TP logits [N, 2], atr in percent [N, 1])."""
        out = self.head(self.encode(x))
        atr_pct = (
            torch.clamp(x[:, -1, ATR_FEATURE : ATR_FEATURE + 1] * self.atr_std + self.atr_mean, min=0.0)
            * 100.0
        )
        return out[:, :2], out[:, 2:], atr_pct

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ranges, logits, atr_pct = self.raw(x)
        return torch.cat([ranges * atr_pct, torch.sigmoid(logits)], dim=1)


class GruNet(SequenceNet):
    def __init__(self, n_features: int) -> None:
        super().__init__(n_features)
        self.gru = nn.GRU(n_features, HIDDEN, num_layers=LAYERS, batch_first=True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return out[:, -1, :]


class TransformerNet(SequenceNet):
    def __init__(self, n_features: int, window: int) -> None:
        super().__init__(n_features)
        self.embed = nn.Linear(n_features, HIDDEN)
        self.position = nn.Parameter(torch.zeros(1, window, HIDDEN))
        layer = nn.TransformerEncoderLayer(
            d_model=HIDDEN, nhead=HEADS, dim_feedforward=2 * HIDDEN, dropout=0.0, batch_first=True
        )
        # enable_nested_tensor off: the fast path is not exportable and warns.
        self.encoder = nn.TransformerEncoder(layer, num_layers=LAYERS, enable_nested_tensor=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(x) + self.position)
        return h[:, -1, :]


def as_sequence_net(net: nn.Module) -> SequenceNet:
    if not isinstance(net, SequenceNet):
        raise TypeError(f"{type(net).__name__} is not a sequence net")
    return net


def build_net(family: str, n_features: int, window: int) -> nn.Module:
    """The architecture of `family` (fixed hyper-parameters above); load a torch_state.pt into it."""
    if family == "gru":
        return GruNet(n_features)
    if family == "transformer":
        return TransformerNet(n_features, window)
    raise ValueError(f"unknown sequence family {family!r}; use {', '.join(FAMILIES)}")
