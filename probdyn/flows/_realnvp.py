"""RealNVP over the series dimension, assembled from nflows' affine couplings and MLPs."""

import torch
from nflows.nn.nets import MLP
from nflows.transforms import AffineCouplingTransform, CompositeTransform
from torch import nn

from ._base import Flow


class _Conditioner(nn.Module):
    """nflows' MLP with the ``(inputs, context)`` call signature couplings use (no context)."""

    def __init__(self, in_features, out_features, hidden_features, num_layers, activation):
        super().__init__()
        self.mlp = MLP((in_features,), (out_features,), [hidden_features] * num_layers,
                       activation=activation)
        # zero output layer: every block starts as the identity map (scale 1, shift 0)
        nn.init.zeros_(self.mlp._output_layer.weight)
        nn.init.zeros_(self.mlp._output_layer.bias)

    def forward(self, inputs, context=None):
        return self.mlp(inputs)


class _BoundedAffineCoupling(AffineCouplingTransform):
    """Affine coupling with log-scale ``c * tanh(s / c)``: scale in (e^-c, e^c), 1 at s = 0.

    nflows' own parametrisation (``sigmoid(s + 2) + 1e-3``) can only contract and is 0.88 at
    initialisation, so nine blocks would not start near the identity.
    """

    def __init__(self, mask, transform_net_create_fn, max_log_scale):
        super().__init__(mask, transform_net_create_fn)
        self.max_log_scale = float(max_log_scale)

    def _scale_and_shift(self, transform_params):
        n = self.num_transform_features
        c = self.max_log_scale
        log_scale = c * torch.tanh(transform_params[:, n:] / c)
        return torch.exp(log_scale), transform_params[:, :n]


class RealNVP(Flow):
    """RealNVP (Dinh et al. 2017) on ``R^N``: a stack of affine coupling blocks.

    Block ``k`` rescales and shifts the series ``i`` with ``(i + k)`` odd, conditioned on the
    others (alternating parity masks, no permutation layers), so every series is transformed
    in every second block and conditions the others in between. Conditioners are nflows
    ``MLP``s (``num_layers`` hidden layers of ``hidden_features`` units, ``activation``), no
    batch norm; their output layer starts at zero, so the flow starts as the identity. The
    same map is applied at every time step.

    The paper's configuration (de Bézenac et al. 2020) is the default: 9 blocks, 2-layer
    16-unit conditioners, no batch norm.

    Parameters
    ----------
    num_series : int
        N >= 2 (a coupling needs something to condition on; use an element-wise flow for N = 1).
    num_blocks : int
        Number of coupling blocks.
    hidden_features, num_layers : int
        Width and depth of each conditioner MLP.
    activation : callable
        Hidden activation of the conditioners (``torch.tanh``: smooth densities).
    max_log_scale : float
        Bound c on each block's log-scale, |log s| < c (keeps the map well conditioned).
    """

    def __init__(self, num_series, num_blocks=9, hidden_features=16, num_layers=2,
                 activation=torch.tanh, max_log_scale=3.0):
        super().__init__(num_series)
        if self.num_series < 2:
            raise ValueError("RealNVP needs num_series >= 2 (a coupling conditions one part of "
                             "y_t on the other); use an element-wise flow for one series")
        for name, value in (("num_blocks", num_blocks), ("hidden_features", hidden_features),
                            ("num_layers", num_layers)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if not max_log_scale > 0:
            raise ValueError(f"max_log_scale must be positive, got {max_log_scale}")
        self.num_blocks = int(num_blocks)

        def conditioner(n_in, n_out):
            return _Conditioner(n_in, n_out, int(hidden_features), int(num_layers), activation)

        idx = torch.arange(self.num_series)
        blocks = [_BoundedAffineCoupling((idx + k) % 2, conditioner, max_log_scale)
                  for k in range(self.num_blocks)]
        self.transform = CompositeTransform(blocks)

    def _run(self, x, inverse):
        flat = x.reshape(-1, self.num_series)
        out, ld = (self.transform.inverse if inverse else self.transform)(flat)
        return out.reshape(x.shape), ld.reshape(x.shape[:-1])

    def _forward_log_det(self, z):
        return self._run(z, inverse=False)

    def _inverse_log_det(self, y):
        return self._run(y, inverse=True)

    def extra_repr(self) -> str:
        return f"num_series={self.num_series}, num_blocks={self.num_blocks}"
