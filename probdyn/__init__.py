"""probdyn: probabilistic modelling of dynamical systems on Pyro.

Layers (dependencies point down only): ``cli`` > ``models`` > ``infer`` > ``distributions`` >
``ssm``/``flows``/``dynamics``/``physics`` > ``ops``; ``data``, ``metrics``, ``io`` and ``plot``
are the edges.
"""

__version__ = "0.1.0"
