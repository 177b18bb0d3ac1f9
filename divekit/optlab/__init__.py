"""Optimization lab: GD, SGD, Newton, momentum, Adagrad, RMSProp, Adadelta and Adam on small
problems and on the airfoil regression, each update rule checked against its ``torch.optim`` twin.

Modules: ``rules`` (pure update rules), ``traces`` (1-D/2-D traces), ``convexity``, ``plots``,
``airfoil`` (data and ``train_ch11``) and ``experiments`` (what ``divekit optim …`` runs).
Importing this package is cheap; import the submodules you need.
"""
