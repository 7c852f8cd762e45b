"""oneDNN's kernels against cnnkit's NumPy reference (``cnnkit[fast]``).

Every case runs the same float32 op (convolution, depthwise convolution, pooling, batch
normalisation), forward and backward, once with ``set_kernels("numpy")`` and once with
``set_kernels("onednn")``, and compares values and gradients. Skipped with the reason where
oneDNN 3.2 is not installed.
"""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

from cnnkit import layers
from cnnkit.autodiff import Tensor
from cnnkit.kernels import conv, dispatch
from cnnkit.kernels.onednn import library

needs_onednn = pytest.mark.skipif(
    library.load() is None, reason=f"oneDNN not available: {library.why_unavailable()}"
)


@pytest.fixture
def kernels():
    def use(name):
        dispatch.set_kernels(name)

    yield use
    dispatch.set_kernels(dispatch.DEFAULT)


def _run(x, k, b, strides, padding, dilation, relu, g):
    xt, kt = Tensor(x, requires_grad=True), Tensor(k, requires_grad=True)
    bt = None if b is None else Tensor(b, requires_grad=True)
    out = conv.conv2d(xt, kt, bt, strides, padding, dilation, relu=relu)
    out.backward(g)
    return out.data, xt.grad, kt.grad, None if bt is None else bt.grad


CASES = [
    # (N, H, W, C), (KH, KW, F), strides, padding, dilation, bias, relu
    ((4, 12, 12, 3), (3, 3, 8), (1, 1), "same", (1, 1), True, True),
    ((4, 12, 12, 3), (3, 3, 8), (1, 1), "valid", (1, 1), False, False),
    ((3, 11, 10, 5), (3, 3, 7), (2, 2), "same", (1, 1), True, False),  # asymmetric padding
    ((3, 11, 10, 5), (2, 2, 4), (1, 1), "same", (1, 1), True, True),  # even kernel
    ((2, 9, 9, 4), (3, 3, 6), (1, 1), "full", (1, 1), True, False),
    ((2, 13, 13, 4), (3, 3, 6), (1, 1), "same", (2, 2), True, True),  # dilation
    ((2, 10, 12, 3), (5, 3, 4), (2, 1), "valid", (1, 1), True, False),
    ((2, 1, 20, 6), (1, 3, 5), (1, 1), "same", (1, 1), True, False),  # Conv1D's height-1 images
    ((8, 16, 16, 32), (3, 3, 32), (1, 1), "same", (1, 1), True, True),  # VGG-like
]


def _assert_like_numpy(reference, fast, rtol, atol):
    """oneDNN's (out, dx, dkernel, dbias) against NumPy's: float32, same shapes, close values
    (``atol`` relative to each array's largest value), ``None`` where NumPy gives ``None``."""
    for name, want, got in zip(("out", "dx", "dkernel", "dbias"), reference, fast, strict=True):
        if want is None:
            assert got is None, name
            continue
        assert got.dtype == np.float32 and got.shape == want.shape, name
        np.testing.assert_allclose(
            got, want, rtol=rtol, atol=atol * np.abs(want).max(), err_msg=name
        )


@needs_onednn
@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_onednn_convolution_matches_numpy(kernels, case):
    shape, (kh, kw, f), strides, padding, dilation, bias, relu = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype("float32")
    k = (rng.standard_normal((kh, kw, shape[3], f)) / np.sqrt(kh * kw * shape[3])).astype("float32")
    b = rng.standard_normal(f).astype("float32") if bias else None
    oh = conv.conv_output_length(shape[1], kh, strides[0], padding, dilation[0])
    ow = conv.conv_output_length(shape[2], kw, strides[1], padding, dilation[1])
    g = rng.standard_normal((shape[0], oh, ow, f)).astype("float32")
    kernels("numpy")
    reference = _run(x, k, b, strides, padding, dilation, relu, g)
    kernels("onednn")
    dispatch.kernels_report(reset=True)
    fast = _run(x, k, b, strides, padding, dilation, relu, g)
    assert dispatch.kernels_report() == {"conv2d": {"onednn": 1}}
    _assert_like_numpy(reference, fast, rtol=2e-4, atol=2e-4)


@needs_onednn
def test_slow_implementations_are_declined(kernels, monkeypatch):
    kernels("auto")
    monkeypatch.setattr(library.Library, "impl_info", lambda self, pd: "ref:any")
    from cnnkit.kernels.onednn import runtime

    monkeypatch.setattr(runtime._STATE, "plans", {}, raising=False)
    x = np.ones((1, 5, 5, 2), "float32")
    k = np.ones((3, 3, 2, 1), "float32")
    dispatch.kernels_report(reset=True)
    out = conv.conv2d(Tensor(x), Tensor(k)).data
    assert dispatch.kernels_report() == {"conv2d": {"numpy": 1}}
    assert out.shape == (1, 3, 3, 1) and np.all(out == 18.0)


def test_missing_library_falls_back_to_numpy(kernels, monkeypatch):
    monkeypatch.setattr(library, "load", lambda: None)
    monkeypatch.setattr(library, "why_unavailable", lambda: "libdnnl.so.3 not found")
    kernels("auto")
    dispatch.kernels_report(reset=True)
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    out = conv.conv2d(Tensor(x), Tensor(np.ones((2, 2, 1, 1), "float32"))).data
    np.testing.assert_array_equal(out[0, :, :, 0], [[10, 14, 18], [26, 30, 34], [42, 46, 50]])
    assert dispatch.kernels_report() == {"conv2d": {"numpy": 1}}
    with pytest.raises(ValueError, match="oneDNN kernels are not available here: libdnnl"):
        dispatch.set_kernels("onednn")


def test_numpy_is_the_default():
    assert dispatch.DEFAULT == "numpy" and dispatch.kernels() == "numpy"


def test_set_kernels_names_the_choices():
    choices = r"\('auto', 'numpy', 'onednn', 'reference'\)"
    with pytest.raises(ValueError, match=rf"one of {choices}. Received: 'mkl'"):
        dispatch.set_kernels("mkl")


@needs_onednn
def test_nan_survives_the_fused_relu(kernels):
    kernels("onednn")
    x = np.ones((1, 4, 4, 1), "float32")
    k = np.full((2, 2, 1, 1), np.nan, "float32")
    out = conv.conv2d(Tensor(x), Tensor(k), relu=True).data
    assert np.isnan(out).all()  # a NaN loss stays visible (TerminateOnNaN, the CLI)


def test_float64_stays_on_numpy(kernels):
    kernels("auto")
    dispatch.kernels_report(reset=True)
    conv.conv2d(Tensor(np.ones((1, 4, 4, 1))), Tensor(np.ones((2, 2, 1, 1))))
    assert dispatch.kernels_report() == {"conv2d": {"numpy": 1}}


@needs_onednn
def test_a_model_trains_and_predicts_the_same_on_both(kernels):
    import cnnkit as keras

    rng = np.random.default_rng(1)
    x = rng.random((64, 12, 12, 1), dtype=np.float32)
    y = rng.integers(0, 3, 64)
    results = []
    for name in ("numpy", "onednn"):
        kernels(name)
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                layers.Input((12, 12, 1)),
                layers.Conv2D(6, 3, activation="relu", padding="same"),
                layers.Conv2D(8, 3, strides=2, activation="relu"),
                layers.Flatten(),
                layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
        results.append((model.get_weights(), model.predict(x, batch_size=64, verbose=0)))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-3, atol=1e-5)


def _header() -> str | None:
    for prefix in (sys.prefix, sys.base_prefix):
        path = os.path.join(prefix, "include", "oneapi", "dnnl", "dnnl_types.h")
        if os.path.isfile(path):
            return path
    return None


@pytest.mark.skipif(
    _header() is None, reason="oneDNN headers not installed (onednn-devel-cpu-gomp)"
)
def test_enum_values_match_the_installed_header():
    folder = os.path.dirname(_header())
    text = ""
    for name in ("dnnl_common_types.h", "dnnl_types.h"):
        with open(os.path.join(folder, name)) as f:
            text += f.read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    values: dict = {}
    for body in re.findall(r"typedef enum\s*\{(.*?)\}", text, flags=re.S):
        current = -1
        for item in filter(None, (i.strip() for i in body.split(","))):
            name, _, value = (p.strip() for p in item.partition("="))
            if not value:
                current = None if current is None else current + 1
            elif re.fullmatch(r"-?(0x[0-9a-fA-F]+|\d+)[uU]?", value):
                current = int(value.rstrip("uU"), 0)
            else:
                current = values.get(value)  # another enumerator's name, or an expression
            values[name] = current
    defines = dict(re.findall(r"#define (DNNL_ARG_\w+) (\d+)", text))
    expected = {
        "dnnl_f32": library.F32,
        "dnnl_format_tag_any": library.TAG_ANY,
        "dnnl_nhwc": library.TAG_NHWC,
        "dnnl_hwio": library.TAG_HWIO,
        "dnnl_hwigo": library.TAG_HWIGO,
        "dnnl_x": library.TAG_X,
        "dnnl_ab": library.TAG_AB,
        "dnnl_ba": library.TAG_BA,
        "dnnl_backward": library.BACKWARD,
        "dnnl_use_global_stats": library.USE_GLOBAL_STATS,
        "dnnl_use_scale": library.USE_SCALE,
        "dnnl_use_shift": library.USE_SHIFT,
        "dnnl_forward_training": library.FORWARD_TRAINING,
        "dnnl_forward_inference": library.FORWARD_INFERENCE,
        "dnnl_convolution_direct": library.CONVOLUTION_DIRECT,
        "dnnl_cpu": library.ENGINE_CPU,
        "dnnl_query_impl_info_str": library.QUERY_IMPL_INFO_STR,
        "dnnl_query_weights_md": library.QUERY_WEIGHTS_MD,
        "dnnl_query_diff_weights_md": library.QUERY_DIFF_WEIGHTS_MD,
        "dnnl_query_scratchpad_md": library.QUERY_SCRATCHPAD_MD,
        "dnnl_query_workspace_md": library.QUERY_WORKSPACE_MD,
        "dnnl_pooling_max": library.POOLING_MAX,
        "dnnl_pooling_avg_exclude_padding": library.POOLING_AVG_EXCLUDE_PADDING,
    }
    for name, value in expected.items():
        assert values[name] == value, name
    assert int(defines["DNNL_ARG_SCRATCHPAD"]) == library.ARG_SCRATCHPAD
    assert int(defines["DNNL_ARG_BIAS"]) == library.ARG_BIAS
    for name in ("MEAN", "VARIANCE", "SCALE", "SHIFT", "DIFF_SCALE", "DIFF_SHIFT", "WORKSPACE"):
        assert int(defines[f"DNNL_ARG_{name}"]) == getattr(library, f"ARG_{name}"), name


@needs_onednn
def test_auto_races_each_shape_and_every_candidate_gives_the_same_values(kernels):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 10, 10, 3)).astype("float32")
    k = (rng.standard_normal((3, 3, 3, 8)) / 5).astype("float32")
    b = rng.standard_normal(8).astype("float32")
    g = rng.standard_normal((4, 10, 10, 8)).astype("float32")
    kernels("numpy")
    reference = _run(x, k, b, (1, 1), "same", (1, 1), True, g)
    kernels("auto")
    dispatch.tuning_report(reset=True)
    dispatch.kernels_report(reset=True)
    runs = 4 * (dispatch._Trial.ROUNDS + 1)
    for _ in range(runs):  # three candidates race, then the winner runs
        for want, got in zip(reference, _run(x, k, b, (1, 1), "same", (1, 1), True, g)):
            np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 * np.abs(want).max())
    (key, race), *others = dispatch.tuning_report(reset=True).items()
    assert not others and key[0] == "conv2d" and key[1][:2] == ((4, 10, 10, 3), (3, 3, 3, 8))
    assert set(race["ms"]) == {"onednn", "onednn:1", "numpy"}
    assert race["choice"] == min(race["ms"], key=race["ms"].get)
    counts = dispatch.kernels_report(reset=True)["conv2d"]
    assert sum(counts.values()) == runs and counts["numpy"] >= dispatch._Trial.ROUNDS + 1


@needs_onednn
def test_openblas_stays_single_threaded_while_onednn_runs_in_a_step(kernels):
    from cnnkit.kernels import threads

    libs = threads._blas()
    if not libs:
        pytest.skip("no BLAS thread control (threadpoolctl) here")
    before = [lib.num_threads for lib in libs]
    kernels("onednn")
    x = np.ones((2, 6, 6, 4), "float32")
    with threads.parallel_region():
        conv.conv2d(Tensor(x), Tensor(np.ones((3, 3, 4, 2), "float32")))
        inside = [lib.num_threads for lib in libs]
    assert inside == [1] * len(libs)  # its idle threads would spin on oneDNN's cores
    assert [lib.num_threads for lib in libs] == before


def test_openmp_threads_sleep_when_idle_unless_the_user_says_otherwise():
    import subprocess

    code = (
        "import os; from cnnkit.kernels.onednn import library; library.load(); "
        "print(os.environ.get('OMP_WAIT_POLICY'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "PASSIVE", out.stderr
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ACTIVE", out.stderr


BN_CASES = [
    # shape, axis, has_scale, has_offset
    ((8, 6, 6, 16), -1, True, True),
    ((8, 6, 6, 16), 1, True, True),  # another axis: moved last first
    ((32, 10), -1, False, True),
    ((5, 7, 3), -1, True, False),
    ((4, 3, 3, 2, 5), -1, False, False),
]


def _batch_norm(x, gamma, beta, axis, has_scale, has_offset, g):
    from cnnkit.kernels import norm

    xt = Tensor(x, requires_grad=True)
    params = [Tensor(p, requires_grad=True) for p in (gamma, beta) if p is not None]
    stats = {}
    out = norm.BatchNormTraining.apply(
        xt, *params, axis=axis % x.ndim, epsilon=1e-3, has_scale=has_scale,
        has_offset=has_offset, stats=stats,
    )  # fmt: skip
    out.backward(g)
    return [out.data, stats["mean"], stats["variance"], xt.grad, *[p.grad for p in params]]


@needs_onednn
@pytest.mark.parametrize("case", BN_CASES, ids=[f"case{i}" for i in range(len(BN_CASES))])
def test_onednn_batch_norm_matches_numpy(kernels, case):
    shape, axis, has_scale, has_offset = case
    rng = np.random.default_rng(2)
    x = (3 * rng.standard_normal(shape) + 1).astype("float32")
    c = shape[axis]
    gamma = (rng.random(c) + 0.5).astype("float32") if has_scale else None
    beta = rng.standard_normal(c).astype("float32") if has_offset else None
    g = rng.standard_normal(shape).astype("float32")
    kernels("numpy")
    reference = _batch_norm(x, gamma, beta, axis, has_scale, has_offset, g)
    kernels("onednn")
    dispatch.kernels_report(reset=True)
    fast = _batch_norm(x, gamma, beta, axis, has_scale, has_offset, g)
    assert dispatch.kernels_report() == {"batch_norm": {"onednn": 1}}
    for i, (want, got) in enumerate(zip(reference, fast, strict=True)):
        assert got.dtype == np.float32 and got.shape == want.shape, i
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


@needs_onednn
def test_batch_norm_stays_on_numpy_where_onednn_cannot_run_it(kernels):
    from cnnkit.kernels import norm

    kernels("onednn")
    dispatch.kernels_report(reset=True)
    x = np.random.default_rng(0).standard_normal((6, 4))
    norm.BatchNormTraining.apply(
        Tensor(x), axis=1, epsilon=1e-3, has_scale=False, has_offset=False, stats={}
    )  # float64
    norm.BatchNormTraining.apply(
        Tensor(x.astype("float32")), axis=1, epsilon=1e-3, has_scale=False,
        has_offset=False, stats={}, sum_across=lambda a: a,
    )  # synchronized over processes  # fmt: skip
    assert dispatch.kernels_report() == {"batch_norm": {"numpy": 2}}
    with pytest.raises(ValueError, match="needs a non-empty batch"):
        norm.BatchNormTraining.apply(
            Tensor(np.zeros((0, 4), "float32")), axis=1, epsilon=1e-3, has_scale=False,
            has_offset=False, stats={},
        )  # fmt: skip


@needs_onednn
def _train_both_ways(kernels, layers, input_shape, classes, seed):
    """One epoch of a small model on the NumPy kernels, then on the "auto" ones: the races
    run, the losses and weights agree. Returns ``(tuning report, kernels report)`` of the
    "auto" run."""
    import cnnkit as keras

    def train():
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input(input_shape), *layers(keras.layers)])
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
        rng = np.random.default_rng(0)
        x = rng.random((160, *input_shape), dtype=np.float32)
        y = rng.integers(0, classes, 160)
        history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
        return history.history["loss"][0], model.get_weights()

    kernels("numpy")
    loss, weights = train()
    kernels("auto")
    dispatch.tuning_report(reset=True)
    dispatch.kernels_report(reset=True)
    fast_loss, fast_weights = train()
    assert abs(fast_loss - loss) < 1e-4
    for want, got in zip(weights, fast_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
    return dispatch.tuning_report(reset=True), dispatch.kernels_report(reset=True)


@needs_onednn
def test_a_vgg_block_trains_the_same_with_auto_kernels(kernels):
    races, _ = _train_both_ways(
        kernels,
        lambda layers: [
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(4),
        ],
        (8, 8, 3),
        classes=4,
        seed=3,
    )
    assert {op for op, _ in races} == {"conv2d", "batch_norm", "max_pool2d", "dense"}
    assert all(race["choice"] is not None for race in races.values())  # 20 steps decide


POOL_CASES = [
    # shape, pool, strides, padding
    ((4, 8, 8, 5), 2, None, "valid"),
    ((3, 7, 9, 4), 3, 2, "same"),  # overlapping windows, padding that never wins
    ((2, 7, 7, 3), (2, 3), (1, 2), "valid"),
    ((2, 5, 5, 6), 2, None, "same"),
]


@needs_onednn
@pytest.mark.parametrize("ties", [False, True], ids=["random", "ties"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[f"case{i}" for i in range(len(POOL_CASES))])
def test_onednn_max_pooling_matches_numpy_and_breaks_ties_alike(kernels, case, ties):
    from cnnkit.kernels import pool

    shape, size, strides, padding = case
    rng = np.random.default_rng(4)
    x = rng.integers(0, 2, shape) if ties else rng.standard_normal(shape)
    x = x.astype("float32")

    def run():
        xt = Tensor(x, requires_grad=True)
        out = pool.max_pool2d(xt, size, strides, padding)
        out.backward(np.arange(out.data.size, dtype="float32").reshape(out.shape))
        return out.data, xt.grad

    kernels("numpy")
    reference = run()
    kernels("onednn")
    dispatch.kernels_report(reset=True)
    fast = run()
    assert dispatch.kernels_report() == {"max_pool2d": {"onednn": 1}}
    for want, got in zip(reference, fast, strict=True):
        np.testing.assert_array_equal(got, want)


@needs_onednn
@pytest.mark.parametrize("case", BN_CASES, ids=[f"case{i}" for i in range(len(BN_CASES))])
def test_onednn_batch_norm_inference_matches_numpy(kernels, case):
    from cnnkit.kernels import norm

    shape, axis, has_scale, has_offset = case
    rng = np.random.default_rng(5)
    x = (2 * rng.standard_normal(shape) - 1).astype("float32")
    c = shape[axis]
    stats = [rng.standard_normal(c).astype("float32"), (rng.random(c) + 0.1).astype("float32")]
    params = [(rng.random(c) + 0.5).astype("float32")] if has_scale else []
    params += [rng.standard_normal(c).astype("float32")] if has_offset else []

    def run():
        return norm.BatchNormInference.apply(
            x, *stats, *params, axis=axis % x.ndim, epsilon=1e-3, has_scale=has_scale,
            has_offset=has_offset,
        ).data  # fmt: skip

    kernels("numpy")
    want = run()
    kernels("onednn")
    dispatch.kernels_report(reset=True)
    got = run()
    used = "onednn" if axis % x.ndim == x.ndim - 1 else "numpy"  # channels last only
    assert dispatch.kernels_report() == {"batch_norm_inference": {used: 1}}
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


AVG_POOL_CASES = [
    *POOL_CASES,
    ((2, 9, 8, 3), (3, 2), 1, "same"),  # odd sizes: uneven padding, windows of 4 to 6 pixels
    ((3, 7, 5, 8), 3, None, "same"),  # windows overhanging by 2 at the bottom and right
]


def _avg_pool(x, size, strides, padding, g=None):
    from cnnkit.kernels import pool

    xt = Tensor(x, requires_grad=True)
    out = pool.avg_pool2d(xt, size, strides, padding)
    out.backward(np.arange(out.data.size, dtype="float32").reshape(out.shape) if g is None else g)
    return out.data, xt.grad


@needs_onednn
@pytest.mark.parametrize(
    "case", AVG_POOL_CASES, ids=[f"case{i}" for i in range(len(AVG_POOL_CASES))]
)
def test_onednn_average_pooling_matches_numpy_and_counts_real_pixels(kernels, case):
    shape, size, strides, padding = case
    x = np.random.default_rng(6).standard_normal(shape).astype("float32")
    kernels("numpy")
    reference = _avg_pool(x, size, strides, padding)
    kernels("onednn")
    dispatch.kernels_report(reset=True)
    fast = _avg_pool(x, size, strides, padding)
    assert dispatch.kernels_report() == {"avg_pool2d": {"onednn": 1}}
    for want, got in zip(reference, fast, strict=True):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
    ones = _avg_pool(np.ones(shape, "float32"), size, strides, padding)[0]
    np.testing.assert_allclose(ones, 1.0, rtol=1e-6)  # "same" never averages in the padding


DEPTHWISE_CASES = [
    # (N, H, W, C), (KH, KW, M), strides, padding, dilation, bias
    ((4, 12, 12, 3), (3, 3, 1), (1, 1), "same", (1, 1), True),
    ((3, 11, 10, 5), (3, 3, 2), (2, 2), "same", (1, 1), True),  # odd sizes, multiplier 2
    ((3, 11, 10, 5), (2, 2, 3), (1, 1), "same", (1, 1), False),  # even kernel
    ((2, 9, 9, 16), (3, 3, 1), (2, 2), "same", (1, 1), True),
    ((2, 10, 12, 8), (5, 3, 1), (1, 1), "valid", (1, 1), True),
    ((2, 1, 20, 6), (1, 3, 1), (1, 1), "same", (1, 1), True),  # DepthwiseConv1D's images
    ((4, 14, 14, 32), (3, 3, 1), (1, 1), "same", (1, 1), False),  # MobileNet-like
]


def _depthwise(x, k, b, strides, padding, dilation, g):
    xt, kt = Tensor(x, requires_grad=True), Tensor(k, requires_grad=True)
    bt = None if b is None else Tensor(b, requires_grad=True)
    out = conv.depthwise_conv2d(xt, kt, bt, strides, padding, dilation)
    out.backward(g)
    return out.data, xt.grad, kt.grad, None if bt is None else bt.grad


def _depthwise_case(case, seed=7):
    shape, (kh, kw, m), strides, padding, dilation, bias = case
    rng = np.random.default_rng(seed)
    c = shape[3]
    x = rng.standard_normal(shape).astype("float32")
    k = (rng.standard_normal((kh, kw, c, m)) / np.sqrt(kh * kw)).astype("float32")
    b = rng.standard_normal(c * m).astype("float32") if bias else None
    oh = conv.conv_output_length(shape[1], kh, strides[0], padding, dilation[0])
    ow = conv.conv_output_length(shape[2], kw, strides[1], padding, dilation[1])
    g = rng.standard_normal((shape[0], oh, ow, c * m)).astype("float32")
    return x, k, b, strides, padding, dilation, g


def _assert_close(reference, fast, rtol=2e-5):
    for i, (want, got) in enumerate(zip(reference, fast, strict=True)):
        if want is None:
            assert got is None, i
            continue
        assert got.dtype == np.float32 and got.shape == want.shape, i
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@needs_onednn
@pytest.mark.parametrize(
    "case", DEPTHWISE_CASES, ids=[f"case{i}" for i in range(len(DEPTHWISE_CASES))]
)
def test_onednn_depthwise_convolution_matches_numpy(kernels, case):
    args = _depthwise_case(case)
    kernels("numpy")
    reference = _depthwise(*args)
    kernels("onednn")
    dispatch.kernels_report(reset=True)
    fast = _depthwise(*args)
    assert dispatch.kernels_report() == {"depthwise_conv2d": {"onednn": 1}}
    _assert_close(reference, fast)


def test_gemm_and_reference_implementations_are_declined_by_name():
    from cnnkit.kernels.onednn import runtime

    for name in ("ref:any", "ref_int8:any", "gemm:jit", "x64:gemm:jit"):
        assert runtime.declines(name), name
    for name in ("jit:avx2", "jit_dw:avx2", "brdgmm_dw:avx2", "brgemm:avx2", "brgconv:avx512_core"):
        assert not runtime.declines(name), name


@needs_onednn
def test_declined_pooling_and_depthwise_shapes_run_on_numpy_alike(kernels, monkeypatch):
    from cnnkit.kernels.onednn import runtime

    dw = _depthwise_case(DEPTHWISE_CASES[1])
    pool_case = AVG_POOL_CASES[1]
    x = np.random.default_rng(8).standard_normal(pool_case[0]).astype("float32")
    kernels("numpy")
    reference = _depthwise(*dw), _avg_pool(x, *pool_case[1:])
    kernels("onednn")
    monkeypatch.setattr(library.Library, "impl_info", lambda self, pd: "x64:gemm:jit")
    monkeypatch.setattr(runtime._STATE, "plans", {}, raising=False)
    dispatch.kernels_report(reset=True)
    fast = _depthwise(*dw), _avg_pool(x, *pool_case[1:])
    assert dispatch.kernels_report() == {
        "avg_pool2d": {"numpy": 1},
        "depthwise_conv2d": {"numpy": 1},
    }
    for want, got in zip(reference, fast, strict=True):
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(b, a)


@needs_onednn
def test_a_declined_depthwise_backward_pass_runs_on_numpy(kernels, monkeypatch):
    from cnnkit.kernels.onednn import conv as onednn_conv
    from cnnkit.kernels.onednn import runtime

    def declined(plan):
        raise runtime.Declined("ref:any")

    args = _depthwise_case(DEPTHWISE_CASES[1])
    kernels("numpy")
    reference = _depthwise(*args)
    kernels("onednn")
    monkeypatch.setattr(onednn_conv._Plan, "backward_data", declined)
    dispatch.kernels_report(reset=True)
    fast = _depthwise(*args)
    assert dispatch.kernels_report() == {"depthwise_conv2d": {"onednn": 1}}  # the forward pass
    _assert_close(reference[:1], fast[:1])
    for want, got in zip(reference[1:], fast[1:], strict=True):
        np.testing.assert_array_equal(got, want)  # NumPy's backward, from the same arrays


@needs_onednn
def test_a_backward_pass_oneDNN_declined_is_not_asked_for_again(kernels, monkeypatch):
    from cnnkit.kernels.onednn import conv as onednn_conv
    from cnnkit.kernels.onednn import runtime

    asked = []

    def declined(plan):
        asked.append(plan)
        raise runtime.Declined("ref:any")

    args = _depthwise_case(DEPTHWISE_CASES[2])
    kernels("numpy")
    reference = _depthwise(*args)
    kernels("onednn")
    monkeypatch.setattr(onednn_conv._Plan, "_make_backward_data", declined)
    monkeypatch.setattr(runtime._STATE, "plans", {}, raising=False)  # plans made afresh
    for _ in range(3):
        fast = _depthwise(*args)
        for want, got in zip(reference[1:], fast[1:], strict=True):
            np.testing.assert_array_equal(got, want)  # NumPy's backward every time
    assert len(asked) == 1
    report = onednn_conv.implementations()
    assert any(
        isinstance(parts, dict) and parts.get("backward_data") == onednn_conv.DECLINED
        for parts in report.values()
    )


def test_float64_depthwise_and_average_pooling_stay_on_numpy(kernels):
    kernels("auto")
    dispatch.kernels_report(reset=True)
    conv.depthwise_conv2d(Tensor(np.ones((1, 4, 4, 2))), Tensor(np.ones((2, 2, 2, 1))))
    _avg_pool(np.ones((1, 4, 4, 2)), 2, None, "valid", g=np.ones((1, 2, 2, 2)))
    assert dispatch.kernels_report() == {
        "avg_pool2d": {"numpy": 1},
        "depthwise_conv2d": {"numpy": 1},
    }


@needs_onednn
def test_a_separable_block_trains_the_same_with_auto_kernels(kernels):
    races, counts = _train_both_ways(
        kernels,
        lambda layers: [
            layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2),
            layers.SeparableConv2D(6, 3, strides=2, padding="same", activation="relu"),
            layers.AveragePooling2D(2, padding="same"),
            layers.Flatten(),
            layers.Dense(3),
        ],
        (9, 9, 4),
        classes=3,
        seed=4,
    )
    assert {op for op, _ in races} >= {"depthwise_conv2d", "avg_pool2d"}
    for (op, _), race in races.items():
        if op in ("depthwise_conv2d", "avg_pool2d"):
            assert race["choice"] is not None and set(race["ms"]) == set(dispatch.CANDIDATES)
    assert counts["depthwise_conv2d"].get("onednn", 0) >= 2 * dispatch._Trial.ROUNDS
    assert counts["avg_pool2d"].get("onednn", 0) >= 2 * dispatch._Trial.ROUNDS


def _transposed(x, k, b, strides, padding, output_padding, dilation, g, needs=(True, True)):
    xt, kt = Tensor(x, requires_grad=needs[0]), Tensor(k, requires_grad=needs[1])
    bt = None if b is None else Tensor(b, requires_grad=True)
    out = conv.conv2d_transpose(xt, kt, bt, strides, padding, output_padding, dilation)
    out.backward(g)
    return out.data, xt.grad, kt.grad, None if bt is None else bt.grad


TRANSPOSED_CASES = [
    # (N, H, W, C), (KH, KW, F), strides, padding, output_padding, dilation, bias
    ((4, 7, 7, 64), (3, 3, 32), (2, 2), "same", None, (1, 1), True),  # DCGAN 7x7 -> 14x14
    ((4, 7, 7, 64), (4, 4, 32), (2, 2), "same", None, (1, 1), True),  # even kernel
    ((4, 7, 7, 64), (5, 5, 32), (2, 2), "same", None, (1, 1), False),
    ((3, 5, 6, 4), (3, 3, 5), (2, 2), "valid", None, (1, 1), True),
    ((3, 5, 6, 4), (2, 2, 5), (3, 3), "valid", None, (1, 1), True),  # stride > kernel
    ((3, 5, 6, 4), (3, 3, 5), (2, 2), "valid", (1, 1), (1, 1), True),
    ((3, 5, 6, 4), (3, 2, 5), (2, 3), "same", (1, 0), (1, 1), True),  # odd output padding
    ((2, 6, 6, 3), (3, 3, 4), (1, 1), "same", None, (2, 2), True),  # dilation (its kernel
    # gradient has only oneDNN's GEMM: NumPy runs that backward pass)
    ((2, 1, 9, 3), (1, 3, 4), (1, 2), "same", None, (1, 1), True),  # Conv1DTranspose's rows
]


@needs_onednn
@pytest.mark.parametrize("needs", [(True, True), (False, True), (True, False)])
@pytest.mark.parametrize(
    "case", TRANSPOSED_CASES, ids=[f"case{i}" for i in range(len(TRANSPOSED_CASES))]
)
def test_onednn_transposed_convolution_matches_numpy(kernels, case, needs):
    shape, (kh, kw, f), strides, padding, output_padding, dilation, bias = case
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape).astype("float32")
    k = (rng.standard_normal((kh, kw, f, shape[3])) / np.sqrt(kh * kw * f)).astype("float32")
    b = rng.standard_normal(f).astype("float32") if bias else None
    op = (None, None) if output_padding is None else output_padding
    oh = conv.conv_transpose_output_length(shape[1], kh, strides[0], padding, op[0], dilation[0])
    ow = conv.conv_transpose_output_length(shape[2], kw, strides[1], padding, op[1], dilation[1])
    g = rng.standard_normal((shape[0], oh, ow, f)).astype("float32")
    args = (x, k, b, strides, padding, output_padding, dilation, g, needs)
    kernels("numpy")
    reference = _transposed(*args)
    kernels("onednn")
    dispatch.kernels_report(reset=True)
    fast = _transposed(*args)
    assert dispatch.kernels_report() == {"conv2d_transpose": {"onednn": 1}}
    _assert_like_numpy(reference, fast, rtol=2e-4, atol=2e-4)


@needs_onednn
def test_transposed_convolutions_onednn_cannot_run_stay_on_numpy(kernels):
    from cnnkit import ops

    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 5, 5, 3)).astype("float32")
    k = rng.standard_normal((3, 3, 4, 3)).astype("float32")
    kernels("numpy")
    want = ops.conv_transpose(x, k, 2, "valid", output_padding=2)  # no mirror convolution
    want64 = ops.conv_transpose(x.astype("float64"), k.astype("float64"), 2, "same")
    dilated = ops.conv_transpose(x, k, 2, "valid", dilation_rate=(2, 1))  # GEMM only
    kernels("onednn")
    dispatch.kernels_report(reset=True)
    got = ops.conv_transpose(x, k, 2, "valid", output_padding=2)
    got64 = ops.conv_transpose(x.astype("float64"), k.astype("float64"), 2, "same")
    got_dilated = ops.conv_transpose(x, k, 2, "valid", dilation_rate=(2, 1))
    assert dispatch.kernels_report() == {"conv2d_transpose": {"numpy": 3}}
    assert got.shape == (2, 13, 13, 4) and got64.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    np.testing.assert_array_equal(np.asarray(got64), np.asarray(want64))
    np.testing.assert_array_equal(np.asarray(got_dilated), np.asarray(dilated))


def _dense(x, k, b, relu, g, needs=(True, True, True)):
    from cnnkit.kernels import dense

    xt, kt = Tensor(x, requires_grad=needs[0]), Tensor(k, requires_grad=needs[1])
    bt = None if b is None else Tensor(b, requires_grad=needs[2])
    out = dense.dense(xt, kt, bt, relu=relu)
    out.backward(g)
    return out.data, xt.grad, kt.grad, None if bt is None else bt.grad


DENSE_CASES = [
    # N, K, M, bias, relu
    (32, 1600, 128, True, True),
    (32, 128, 10, True, False),
    (5, 7, 3, False, False),
    (1, 4, 1, True, True),
]


@needs_onednn
@pytest.mark.parametrize("needs", [(True, True, True), (True, False, True), (False, True, False)])
@pytest.mark.parametrize("case", DENSE_CASES, ids=[f"case{i}" for i in range(len(DENSE_CASES))])
def test_onednn_inner_product_matches_numpy(kernels, case, needs):
    n, k, m, bias, relu = case
    rng = np.random.default_rng(8)
    x = rng.standard_normal((n, k)).astype("float32")
    w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype("float32")
    b = rng.standard_normal(m).astype("float32") if bias else None
    g = rng.standard_normal((n, m)).astype("float32")
    kernels("numpy")
    reference = _dense(x, w, b, relu, g, needs)
    kernels("onednn")
    dispatch.kernels_report(reset=True)
    fast = _dense(x, w, b, relu, g, needs)
    assert dispatch.kernels_report() == {"dense": {"onednn": 1}}
    _assert_like_numpy(reference, fast, rtol=1e-4, atol=1e-5)


@needs_onednn
def test_dense_stays_on_numpy_beyond_two_dimensional_float32_inputs(kernels):
    rng = np.random.default_rng(9)
    w = rng.standard_normal((4, 3)).astype("float32")
    x3 = rng.standard_normal((2, 5, 4)).astype("float32")
    x64 = rng.standard_normal((6, 4))
    kernels("onednn")
    dispatch.kernels_report(reset=True)
    out3 = _dense(x3, w, None, False, np.ones((2, 5, 3), "float32"))
    out64 = _dense(x64, w.astype("float64"), None, False, np.ones((6, 3)))
    assert dispatch.kernels_report() == {"dense": {"numpy": 2}}
    np.testing.assert_allclose(out3[0], x3 @ w, rtol=1e-6)
    np.testing.assert_allclose(out3[2], x3.reshape(-1, 4).T @ np.ones((10, 3)), rtol=1e-6)
    assert out64[0].dtype == np.float64


@needs_onednn
def test_declined_dense_and_transposed_convolution_run_on_numpy(kernels, monkeypatch):
    from cnnkit.kernels.onednn import runtime

    kernels("onednn")
    monkeypatch.setattr(library.Library, "impl_info", lambda self, pd: "ref:any")
    monkeypatch.setattr(runtime._STATE, "plans", {})
    dispatch.kernels_report(reset=True)
    x = np.ones((3, 4), "float32")
    out, dx, dk, db = _dense(x, np.ones((4, 2), "float32"), np.ones(2, "float32"), False, x[:, :2])
    np.testing.assert_array_equal(out, np.full((3, 2), 5.0))
    np.testing.assert_array_equal(dk, np.full((4, 2), 3.0))
    np.testing.assert_array_equal(db, [3.0, 3.0])
    g = np.ones((1, 4, 4, 1), "float32")
    ones = np.ones((1, 2, 2, 1), "float32")
    out, dx, dk, _ = _transposed(ones, ones.reshape(2, 2, 1, 1), None, (2, 2), "valid", None,
                                 (1, 1), g)  # fmt: skip
    np.testing.assert_array_equal(out, g)  # each input pixel covers its own 2x2 block
    np.testing.assert_array_equal(dx, np.full((1, 2, 2, 1), 4.0))
    assert dispatch.kernels_report() == {"conv2d_transpose": {"numpy": 1}, "dense": {"numpy": 1}}


@needs_onednn
def test_auto_races_dense_and_transposed_convolution_with_the_same_values(kernels):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((8, 6, 6, 16)).astype("float32")
    k = (rng.standard_normal((3, 3, 8, 16)) / 12).astype("float32")
    g = rng.standard_normal((8, 12, 12, 8)).astype("float32")
    xd = rng.standard_normal((16, 40)).astype("float32")
    w, b = rng.standard_normal((40, 5)).astype("float32"), np.ones(5, "float32")
    gd = rng.standard_normal((16, 5)).astype("float32")

    def step():
        return [
            *_transposed(x, k, None, (2, 2), "same", None, (1, 1), g),
            *_dense(xd, w, b, True, gd),
        ]

    kernels("numpy")
    reference = step()
    kernels("auto")
    dispatch.tuning_report(reset=True)
    dispatch.kernels_report(reset=True)
    runs = 3 * (dispatch._Trial.ROUNDS + 1) + 2  # three candidates race, then the winner runs
    for _ in range(runs):
        for want, got in zip(reference, step(), strict=True):
            if want is None:
                assert got is None
            else:
                np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 * np.abs(want).max())
    races = dispatch.tuning_report(reset=True)
    assert sorted(op for op, _ in races) == ["conv2d_transpose", "dense"]
    for race in races.values():
        assert set(race["ms"]) == {"onednn", "onednn:1", "numpy"}
        assert race["choice"] == min(race["ms"], key=race["ms"].get)
    counts = dispatch.kernels_report(reset=True)
    assert {op: sum(c.values()) for op, c in counts.items()} == {
        "conv2d_transpose": runs,
        "dense": runs,
    }


@needs_onednn
def test_a_decoder_with_transposed_convolutions_trains_the_same_on_both(kernels):
    import cnnkit as keras

    rng = np.random.default_rng(11)
    x = rng.random((32, 10), dtype=np.float32)
    y = rng.random((32, 8, 8, 1), dtype=np.float32)
    y1 = rng.random((32, 14, 2), dtype=np.float32)  # (6 - 1) * 2 + 3 + 1 steps
    results = []
    for name in ("numpy", "onednn"):
        kernels(name)
        keras.utils.set_random_seed(0)
        z = keras.Input((10,))
        h = layers.Reshape((2, 2, 8))(layers.Dense(32, activation="relu")(z))
        h = layers.Conv2DTranspose(6, 4, strides=2, padding="same", activation="relu")(h)
        image = layers.Conv2DTranspose(1, 3, strides=2, padding="same")(h)
        row = layers.Reshape((6, 5))(layers.Dense(30)(z))
        sequence = layers.Conv1DTranspose(2, 3, strides=2, padding="valid", output_padding=1)(row)
        model = keras.Model(z, [image, sequence])
        model.compile("adam", ["mse", "mse"])
        dispatch.kernels_report(reset=True)
        model.fit(x, [y, y1], batch_size=8, epochs=2, verbose=0, shuffle=False)
        used = dispatch.kernels_report(reset=True)
        assert {op: set(c) for op, c in used.items()} == {
            "conv2d_transpose": {name},
            "dense": {name},
        }
        results.append((model.get_weights(), model.predict(x, batch_size=32, verbose=0)))
    for a, b in zip(results[0][0], results[1][0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


@needs_onednn
def test_a_transposed_convolution_runs_one_plan_of_the_convolution_it_transposes(
    kernels, monkeypatch
):
    from cnnkit.kernels.onednn import conv as onednn_conv
    from cnnkit.kernels.onednn import runtime

    monkeypatch.setattr(runtime._STATE, "plans", {})
    kernels("onednn")
    x = np.ones((2, 7, 7, 16), "float32")
    _transposed(x, np.ones((4, 4, 8, 16), "float32"), None, (2, 2), "same", None, (1, 1),
                np.ones((2, 14, 14, 8), "float32"))  # fmt: skip
    ((key, stages),) = onednn_conv.implementations().items()
    assert key[:9] == (2, 14, 14, 8, 4, 4, 16, 7, 7)  # Conv2D from 14x14x8 to 7x7x16
    assert set(stages) == {"forward", "backward_data", "backward_weights"}


@needs_onednn
def test_a_float64_run_does_not_settle_the_race_of_the_same_float32_shape(kernels):
    kernels("auto")
    dispatch.tuning_report(reset=True)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 8, 8, 3))
    k = rng.standard_normal((3, 3, 3, 4))
    conv.conv2d(Tensor(x), Tensor(k))  # float64: oneDNN declines, NumPy runs it
    for _ in range(16):
        conv.conv2d(Tensor(x.astype("float32")), Tensor(k.astype("float32")))
    races = dispatch.tuning_report(reset=True)
    by_dtype = {key[-1]: race for (op, key), race in races.items() if op == "conv2d"}
    assert by_dtype["<f8"]["choice"] == "numpy"
    assert {"onednn", "onednn:1", "numpy"} <= set(by_dtype["<f4"]["ms"])  # raced in full
