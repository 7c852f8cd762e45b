"""Differentiable array kernels: each a :class:`cnnkit.autodiff.Function`, forward and backward.

One module per op family: ``conv`` (2-D, depthwise and transposed convolution), ``dense``
(affine maps, bias), ``activations`` (element-wise non-linearities and softmax), ``pool``
(NHWC max/average pooling), ``norm`` (batch normalisation), ``shape`` (flatten, reshape,
padding, cropping, up-sampling, concatenation, dropout), ``resize`` (bilinear and nearest
image resizing) and ``losses`` (per-sample losses). Their heavy work comes from the
implementation :func:`cnnkit.kernels.dispatch.ops` hands out: ``numpy_ops`` (the default;
its array module, CPU threads, workspace budget and ``chunked`` come from ``threads``) or
``reference_ops`` (single-threaded loops, for checking it).
Layers and the public ``cnnkit.activations`` / ``cnnkit.losses`` modules build on these; an op
never imports a layer.
"""
