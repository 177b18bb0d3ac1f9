"""From-scratch teaching core: short implementations on plain tensors, each checked against torch.

Autograd is used, ``torch.nn`` layers are not (``nn.Module``/``nn.Parameter`` only serve as containers
so that ``.train()``/``.eval()``/``.parameters()`` work). Modules:

- ``linear``: synthetic data, minibatches, linear regression, squared loss, minibatch SGD.
- ``softmax``: naive and stable softmax, cross-entropy by indexing, accuracy, Fashion-MNIST tensors.
- ``mlp``: activations and their derivatives, a multilayer perceptron with optional dropout.
- ``dropout``: inverted dropout.
- ``batchnorm``: batch normalisation for fully connected and convolutional inputs.
- ``conv``: cross-correlation, padding, stride, channels, pooling.
- ``rnn``: RNN, GRU and LSTM cells and a loop over time.
- ``init``: parameter initialisation schemes and two demonstrations.
- ``losses``: L1, MSE, Huber, binary and multi-class cross-entropy.
- ``optimizers``: SGD, momentum, Nesterov, Adagrad, RMSProp, Adadelta, Adam, AdamW.
- ``training``: a small classification loop shared by the lessons.
- ``lessons`` (registry) and ``lessons_*``: the demonstrations run by ``divekit scratch LESSON``.

This package file imports nothing heavy, so ``divekit scratch`` without a lesson stays fast.
"""
