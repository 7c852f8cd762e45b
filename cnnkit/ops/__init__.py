"""Differentiable array ops: each a :class:`cnnkit.autodiff.Function`, forward and backward.

One module per op family: ``activations`` (element-wise non-linearities and softmax), ``pool``
(NHWC max/average pooling), ``shape`` (flatten, dropout) and ``losses`` (per-sample losses).
Layers and the public ``cnnkit.activations`` / ``cnnkit.losses`` modules build on these; an op
never imports a layer.
"""
