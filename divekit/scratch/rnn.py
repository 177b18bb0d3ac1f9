"""Recurrent cells from scratch (D2L §9.5, §10.1-10.2): RNN, GRU and LSTM.

Weights follow the book's layout, ``X W_x* + H W_h* + b_*`` with ``X`` (batch, inputs), ``H`` (batch, hidden),
``W_x*`` (inputs, hidden), ``W_h*`` (hidden, hidden), ``b_*`` (hidden,). ``params_from_torch`` builds them
from an ``nn.RNN/GRU/LSTM`` (whose weights are stacked and transposed), differentiably, so that gradients
flow back into the torch module's own parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

Params = dict[str, Tensor]
State = Tensor | tuple[Tensor, Tensor]


def rnn_cell(X: Tensor, H: Tensor, P: Params) -> Tensor:
    """Vanilla RNN: ``H' = tanh(X W_xh + H W_hh + b_h)``; (b, i), (b, h) -> (b, h)."""
    return torch.tanh(X @ P["W_xh"] + H @ P["W_hh"] + P["b_h"])


def gru_cell(X: Tensor, H: Tensor, P: Params) -> Tensor:
    """Gated recurrent unit; (b, i), (b, h) -> (b, h).

    Reset ``R = sigma(X W_xr + H W_hr + b_r)``, update ``Z = sigma(X W_xz + H W_hz + b_z)``,
    candidate ``H~ = tanh(X W_xn + b_xn + R * (H W_hn + b_hn))``, new state ``H' = Z * H + (1 - Z) * H~``.
    The reset gate multiplies ``H W_hn + b_hn`` (as in cuDNN and ``nn.GRU``); the book applies it to ``H``
    before the product, a slightly different model.
    """
    R = torch.sigmoid(X @ P["W_xr"] + H @ P["W_hr"] + P["b_r"])
    Z = torch.sigmoid(X @ P["W_xz"] + H @ P["W_hz"] + P["b_z"])
    H_tilde = torch.tanh(X @ P["W_xn"] + P["b_xn"] + R * (H @ P["W_hn"] + P["b_hn"]))
    return Z * H + (1 - Z) * H_tilde


def lstm_cell(X: Tensor, state: tuple[Tensor, Tensor], P: Params) -> tuple[Tensor, Tensor]:
    """Long short-term memory; (b, i), ((b, h), (b, h)) -> (H', C').

    Input, forget and output gates ``I, F, O = sigma(X W_x* + H W_h* + b_*)``, candidate cell
    ``C~ = tanh(X W_xc + H W_hc + b_c)``, cell ``C' = F * C + I * C~``, hidden state ``H' = O * tanh(C')``.
    """
    H, C = state
    I = torch.sigmoid(X @ P["W_xi"] + H @ P["W_hi"] + P["b_i"])
    F = torch.sigmoid(X @ P["W_xf"] + H @ P["W_hf"] + P["b_f"])
    O = torch.sigmoid(X @ P["W_xo"] + H @ P["W_ho"] + P["b_o"])
    C_tilde = torch.tanh(X @ P["W_xc"] + H @ P["W_hc"] + P["b_c"])
    C = F * C + I * C_tilde
    return O * torch.tanh(C), C


CELLS: dict[str, Callable] = {"rnn": rnn_cell, "gru": gru_cell, "lstm": lstm_cell}
# gate names in the order torch stacks them in weight_ih_l0 / weight_hh_l0
_GATES = {"rnn": ("h",), "gru": ("r", "z", "n"), "lstm": ("i", "f", "c", "o")}


def run(
    kind: str, inputs: Tensor, state: State | None, P: Params, batch_first: bool = False
) -> tuple[Tensor, State]:
    """Apply a cell along time: returns all hidden states and the final state.

    Args:
        kind: ``"rnn"``, ``"gru"`` or ``"lstm"``.
        inputs: (T, b, i), or (b, T, i) when ``batch_first``.
        state: initial (b, h) state, ``(H, C)`` for the LSTM, or None for zeros.
        P: parameters as returned by ``init_params`` or ``params_from_torch``.

    Returns:
        ``(outputs, state)``: outputs (T, b, h) or (b, T, h), final state as given.
    """
    if kind not in CELLS:
        raise ValueError(f"kind must be one of {sorted(CELLS)}, got {kind!r}")
    if inputs.dim() != 3:
        raise ValueError(f"inputs must be 3-D (T, b, i) or (b, T, i), got {tuple(inputs.shape)}")
    X_seq = inputs.transpose(0, 1) if batch_first else inputs
    if state is None:
        zeros = X_seq.new_zeros(
            X_seq.shape[1], P["W_hh" if kind == "rnn" else f"W_h{_GATES[kind][0]}"].shape[0]
        )
        state = (zeros, zeros) if kind == "lstm" else zeros
    outputs = []
    for X in X_seq:
        state = CELLS[kind](X, state, P)
        outputs.append(state[0] if kind == "lstm" else state)
    out = torch.stack(outputs, 0)
    return (out.transpose(0, 1) if batch_first else out), state


def init_params(kind: str, num_inputs: int, num_hiddens: int, sigma: float = 0.01) -> Params:
    """Book-style parameters: every ``W`` from ``N(0, sigma^2)``, every ``b`` zero, all requiring grad."""
    P = _build(
        kind,
        lambda g: torch.randn(num_inputs, num_hiddens) * sigma,
        lambda g: torch.randn(num_hiddens, num_hiddens) * sigma,
        lambda g, which: torch.zeros(num_hiddens),
    )
    return {k: v.requires_grad_(True) for k, v in P.items()}


def params_from_torch(module: nn.RNN | nn.GRU | nn.LSTM) -> Params:
    """Book-style parameters computed (differentiably) from a one-layer torch recurrent module.

    torch stores ``weight_ih_l0`` (gates * h, i) and ``weight_hh_l0`` (gates * h, h) with the gates
    stacked in the order r, z, n (GRU) or i, f, g, o (LSTM) and two bias vectors that are simply added,
    except for the GRU candidate where ``b_hn`` sits inside the reset product.
    """
    kind = {nn.RNN: "rnn", nn.GRU: "gru", nn.LSTM: "lstm"}.get(type(module))
    if kind is None or module.num_layers != 1 or module.bidirectional or not module.bias:
        raise ValueError("params_from_torch supports one-layer, unidirectional nn.RNN/GRU/LSTM with biases")
    if kind == "rnn" and module.nonlinearity != "tanh":
        raise ValueError("params_from_torch supports nn.RNN with nonlinearity='tanh' only")
    n = len(_GATES[kind])
    w_ih, w_hh = module.weight_ih_l0.chunk(n, 0), module.weight_hh_l0.chunk(n, 0)
    b_ih, b_hh = module.bias_ih_l0.chunk(n, 0), module.bias_hh_l0.chunk(n, 0)
    gate = dict(zip(_GATES[kind], range(n), strict=True))

    def bias(g: str, which: str) -> Tensor:
        b_x, b_h = b_ih[gate[g]], b_hh[gate[g]]
        return b_x if which == "x" else b_h if which == "h" else b_x + b_h

    return _build(kind, lambda g: w_ih[gate[g]].T, lambda g: w_hh[gate[g]].T, bias)


def _build(kind: str, w_x: Callable, w_h: Callable, bias: Callable) -> Params:
    """Name the parameters of ``kind``; ``bias(gate, which)`` with which in x / h / both (their sum)."""
    if kind not in _GATES:
        raise ValueError(f"kind must be one of {sorted(_GATES)}, got {kind!r}")
    P: Params = {}
    for g in _GATES[kind]:
        P[f"W_x{g}"], P[f"W_h{g}"] = w_x(g), w_h(g)
        if kind == "gru" and g == "n":
            P["b_xn"], P["b_hn"] = bias(g, "x"), bias(g, "h")
        else:
            P[f"b_{g}"] = bias(g, "both")
    return P


class RNNModel(nn.Module):
    """A recurrent layer from scratch followed by a linear read-out ``Y = H W_hq + b_q`` at every step.

    Input (b, T, i) (batch first), output (b, T, q).
    """

    def __init__(
        self, kind: str, num_inputs: int, num_hiddens: int, num_outputs: int, sigma: float = 0.1
    ) -> None:
        super().__init__()
        self.kind = kind
        self.cell_params = nn.ParameterDict(init_params(kind, num_inputs, num_hiddens, sigma))
        self.W_hq = nn.Parameter(torch.randn(num_hiddens, num_outputs) * sigma)
        self.b_q = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, X: Tensor) -> Tensor:
        H, _ = run(self.kind, X, None, dict(self.cell_params), batch_first=True)
        return H @ self.W_hq + self.b_q
