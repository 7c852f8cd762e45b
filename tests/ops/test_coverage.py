"""Coverage by name: every in-scope name of Keras 3's ``keras.ops`` exists in ``cnnkit.ops``.

The names are kept here (Keras 3.15), so the test runs without Keras; when Keras is installed,
a second test compares against the live ``dir(keras.ops)``, so an upgrade shows what is new.
"""

from __future__ import annotations

import pytest

from cnnkit import ops

# Out of scope, by group (each with the reason).
EXCLUDED = {
    # complex numbers: cnnkit computes in real floats only
    "angle": "complex numbers",
    "conj": "complex numbers",
    "conjugate": "complex numbers",
    "imag": "complex numbers",
    "real": "complex numbers",
    "isreal": "complex numbers",
    "view_as_complex": "complex numbers",
    "view_as_real": "complex numbers",
    "polar": "complex numbers",
    # float8/int saturating casts for quantisation: no quantised dtypes here
    "saturate_cast": "quantisation casts",
}

KERAS_OPS = """
abs absolute adaptive_average_pool adaptive_max_pool add all allclose amax amin angle any
append arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax argmin
argpartition argsort array array_split associative_scan average average_pool bartlett
batch_normalization binary_crossentropy bincount bitwise_and bitwise_invert
bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift bitwise_xor blackman
broadcast_to cast categorical_crossentropy cbrt cdist ceil celu cholesky cholesky_inverse
clip concatenate cond conj conjugate conv conv_transpose convert_to_numpy
convert_to_tensor copy corrcoef correlate cos cosh count_nonzero cross ctc_decode ctc_loss
cumprod cumsum custom_gradient deg2rad depth_to_space depthwise_conv det diag diagflat
diagonal diff digitize divide divide_no_nan dot dot_product_attention dsplit dstack dtype
eig eigh einsum elu empty empty_like equal erf erfc erfinv exp exp2 expand_dims expm1
extract_sequences eye fabs fft fft2 flip fliplr flipud floor floor_divide fmax fmin fmod
fold fori_loop full full_like gcd gelu geomspace get_item glu greater greater_equal
hamming hanning hard_shrink hard_sigmoid hard_silu hard_swish hard_tanh heaviside
histogram hsplit hstack hypot i0 identity ifft2 imag image in_top_k inner inv irfft
is_tensor isclose isfinite isin isinf isnan isneginf isposinf isreal istft jvp kaiser kron
layer_normalization lcm ldexp leaky_relu left_shift less less_equal linalg linspace log
log10 log1p log2 log_sigmoid log_softmax logaddexp logaddexp2 logdet logical_and
logical_not logical_or logical_xor logspace logsumexp lstsq lu_factor map matmul
matrix_rank max max_pool maximum mean median meshgrid min minimum mod moments moveaxis
multi_hot multiply nan_to_num nanargmax nanargmin nancumprod nancumsum nanmax nanmean
nanmedian nanmin nanpercentile nanprod nanquantile nanstd nansum nanvar ndim negative
nextafter nn nonzero norm normalize not_equal numpy one_hot ones ones_like outer pad
percentile pinv polar power prod psnr ptp qr quantile rad2deg ravel real rearrange
reciprocal relu relu6 repeat reshape rfft right_shift rms_normalization roll rot90 round
rsqrt saturate_cast scan scatter scatter_update searchsorted segment_max segment_min
segment_prod segment_sum select selu separable_conv shape sigmoid sign signbit silu sin
sinc sinh size slice slice_update slogdet soft_shrink softmax softplus softsign solve
solve_triangular sort space_to_depth sparse_categorical_crossentropy sparse_plus
sparse_sigmoid sparsemax split sqrt square squareplus squeeze stack std stft stop_gradient
subtract sum svd swapaxes swish switch take take_along_axis tan tanh tanh_shrink tensordot
threshold tile top_k trace transpose trapezoid tri tril triu true_divide trunc unfold
unique unravel_index unstack vander var vdot vectorize vectorized_map view view_as_complex
view_as_real vsplit vstack where while_loop zeros zeros_like
""".split()

KERAS_OPS_NUMPY = """
abs absolute add all allclose amax amin angle any append arange arccos arccosh arcsin
arcsinh arctan arctan2 arctanh argmax argmin argpartition argsort array array_split
average bartlett bincount bitwise_and bitwise_invert bitwise_left_shift bitwise_not
bitwise_or bitwise_right_shift bitwise_xor blackman broadcast_to cbrt ceil clip
concatenate conj conjugate copy corrcoef correlate cos cosh count_nonzero cross cumprod
cumsum deg2rad diag diagflat diagonal diff digitize divide divide_no_nan dot dsplit dstack
einsum empty empty_like equal exp exp2 expand_dims expm1 eye fabs flip fliplr flipud floor
floor_divide fmax fmin fmod full full_like gcd geomspace get_item greater greater_equal
hamming hanning heaviside histogram hsplit hstack hypot i0 identity imag inner isclose
isfinite isin isinf isnan isneginf isposinf isreal kaiser kron lcm ldexp left_shift less
less_equal linspace log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not
logical_or logical_xor logspace matmul max maximum mean median meshgrid min minimum mod
moveaxis multiply nan_to_num nanargmax nanargmin nancumprod nancumsum nanmax nanmean
nanmedian nanmin nanpercentile nanprod nanquantile nanstd nansum nanvar ndim negative
nextafter nonzero not_equal ones ones_like outer pad percentile power prod ptp quantile
rad2deg ravel real reciprocal repeat reshape right_shift roll rot90 round searchsorted
select sign signbit sin sinc sinh size slogdet sort split sqrt square squeeze stack std
subtract sum swapaxes take take_along_axis tan tanh tensordot tile trace transpose
trapezoid tri tril triu true_divide trunc unique unravel_index vander var vdot vectorize
view vsplit vstack where zeros zeros_like
""".split()

KERAS_OPS_LINALG = """
cholesky cholesky_inverse det eig eigh inv jvp lstsq lu_factor matrix_rank norm pinv qr
solve solve_triangular svd
""".split()

KERAS_OPS_NN = """
adaptive_average_pool adaptive_max_pool average_pool batch_normalization
binary_crossentropy categorical_crossentropy celu conv conv_transpose ctc_decode ctc_loss
depth_to_space depthwise_conv dot_product_attention elu fold gelu glu hard_shrink
hard_sigmoid hard_silu hard_swish hard_tanh layer_normalization leaky_relu log_sigmoid
log_softmax max_pool moments multi_hot normalize one_hot polar psnr relu relu6
rms_normalization selu separable_conv sigmoid silu soft_shrink softmax softplus softsign
space_to_depth sparse_categorical_crossentropy sparse_plus sparse_sigmoid sparsemax
squareplus swish tanh_shrink threshold unfold
""".split()

SUBMODULES = {"numpy": KERAS_OPS_NUMPY, "linalg": KERAS_OPS_LINALG, "nn": KERAS_OPS_NN}


def _missing(module, names):
    return sorted(n for n in names if n not in EXCLUDED and not hasattr(module, n))


def test_every_in_scope_top_level_name_exists():
    assert _missing(ops, KERAS_OPS) == []


@pytest.mark.parametrize("name", sorted(SUBMODULES))
def test_every_in_scope_submodule_name_exists(name):
    module = getattr(ops, name)
    assert _missing(module, SUBMODULES[name]) == []


def test_exclusions_are_not_provided_and_are_real_keras_names():
    assert sorted(n for n in EXCLUDED if n not in KERAS_OPS) == []
    assert sorted(n for n in EXCLUDED if hasattr(ops, n)) == []


def test_every_exported_name_is_callable_or_a_submodule():
    for name in ops.__all__:
        value = getattr(ops, name)
        assert callable(value) or name in SUBMODULES or name in ("core", "image"), name


def test_static_lists_match_the_installed_keras():
    keras = pytest.importorskip("keras")
    live = sorted(n for n in dir(keras.ops) if not n.startswith("_"))
    assert _missing(ops, live) == [], "new in-scope names in the installed Keras"
    for name in SUBMODULES:
        live_sub = [n for n in dir(getattr(keras.ops, name)) if not n.startswith("_")]
        assert _missing(getattr(ops, name), live_sub) == [], name


def test_signatures_match_the_installed_keras():
    """Same parameter names, kinds and defaults as ``keras.ops`` (so keywords work)."""
    import inspect

    keras = pytest.importorskip("keras")
    different = []
    for name in KERAS_OPS:
        if name in EXCLUDED or name in SUBMODULES or name == "image":
            continue
        expected = inspect.signature(getattr(keras.ops, name))
        got = inspect.signature(getattr(ops, name))
        strip = [(p.name, p.kind, p.default) for p in expected.parameters.values()]
        if strip != [(p.name, p.kind, p.default) for p in got.parameters.values()]:
            different.append(f"{name}{got} != keras {expected}")
    assert different == []
