"""specdiag.keras with the real Keras 3 (torch backend): gate blocks in columns, laws, serialization."""

import math
import os
import sys

import numpy as np
import pytest

import specdiag as sd
import specdiag.keras as sk
from specdiag._errors import InputError
from tests.conftest import within_se

# importing Keras costs seconds (inside the tests, not at collection): the whole module is in the slow set
pytestmark = pytest.mark.slow
keras = None


@pytest.fixture(autouse=True, scope="module")
def _keras():
    """Keras on the torch backend (set before its first import; this environment has no TensorFlow)."""
    global keras
    pytest.importorskip("torch", reason="the Keras tests use the torch backend: pip install torch")
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras", reason="Keras 3 is not installed: pip install 'specdiag[keras]'")


def to_numpy(x):
    """A torch-backend tensor or Variable as NumPy (keras.ops.convert_to_numpy warns under NumPy 2)."""
    x = getattr(x, "value", x)
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def column_block_radii(kernel, gates):
    k = np.asarray(to_numpy(kernel), dtype=np.float64)
    h = k.shape[0]
    return [float(np.abs(np.linalg.eigvals(k[:, g * h : (g + 1) * h])).max()) for g in range(gates)]


def test_lstm_recurrent_kernel_blocks_follow_the_rescaled_law():
    radii = []
    for seed in range(3):
        layer = keras.layers.LSTM(180, recurrent_initializer=sk.RescaledGlorot(seed=seed))
        layer.build((None, 5, 3))
        assert tuple(layer.cell.recurrent_kernel.shape) == (180, 720)
        radii += column_block_radii(layer.cell.recurrent_kernel, 4)
    law = sd.radius_law(180, init="rescaled", field="real")
    within_se(float(np.mean(radii)), float(law.mean()), float(law.std()) / math.sqrt(len(radii)))


def test_calibrated_gru_blocks_cover_the_requested_probability():
    radii = []
    for seed in range(40):
        kernel = sk.CalibratedGlorot(coverage=0.9, seed=seed)((32, 96))
        radii += column_block_radii(kernel, 3)
    radii = np.asarray(radii)
    law = sd.radius_law(32, init="rescaled", field="real", rescale="calibrated", coverage=0.9)
    within_se(radii.mean(), float(law.mean()), float(law.std()) / math.sqrt(radii.size))
    within_se(float(np.mean(radii <= 1)), 0.9, math.sqrt(0.09 / radii.size))


def test_int_seed_is_deterministic_like_keras_initializers():
    a = to_numpy(sk.RescaledGlorot(seed=1)((170, 680)))
    b = to_numpy(sk.RescaledGlorot(seed=1)((170, 680)))
    c = to_numpy(sk.RescaledGlorot(seed=2)((170, 680)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_config_round_trips_through_keras_serialization():
    for init in (
        sk.RescaledGlorot(seed=3),
        sk.CalibratedGlorot(coverage=0.95, seed=4),
        sk.HalfGlorot(seed=5),
        sk.RecurrentInitializer("glorot", seed=6, gates=4),
    ):
        config = keras.initializers.serialize(init)
        again = keras.initializers.deserialize(config)
        assert type(again) is type(init) and again.get_config() == init.get_config()
    layer = keras.layers.GRU(8, recurrent_initializer=sk.CalibratedGlorot(coverage=0.95, seed=4))
    rebuilt = keras.layers.GRU.from_config(layer.get_config())
    assert isinstance(rebuilt.cell.recurrent_initializer, sk.CalibratedGlorot)
    assert rebuilt.cell.recurrent_initializer.coverage == 0.95


def test_rescaled_is_refused_below_164_units():
    layer = keras.layers.SimpleRNN(64, recurrent_initializer=sk.RescaledGlorot(seed=0))
    with pytest.raises(InputError, match="n = 64.*calibrated"):
        layer.build((None, 5, 3))
    with pytest.raises(InputError, match="coverage"):
        sk.CalibratedGlorot(coverage=0.0)


def test_readme_keras_snippet_runs_as_printed():
    from tests.readme_blocks import readme_blocks

    (code,) = readme_blocks("### Keras 3")
    scope: dict = {}
    exec(compile(code, "README.md (Keras 3)", "exec"), scope)
    scope["gru"].build((None, 4, 3))
    assert max(column_block_radii(scope["gru"].cell.recurrent_kernel, 3)) < 1.2
    assert keras.initializers.deserialize(scope["config"]).get_config() == {"seed": 0, "gates": None}


def test_spectral_monitor_callback_during_fit(tmp_path):
    import json

    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            keras.layers.GRU(8, return_sequences=True, recurrent_initializer=sk.CalibratedGlorot(seed=0)),
            keras.layers.LSTM(8),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    callback = sk.SpectralMonitorCallback(every=2, log=tmp_path / "spectra.jsonl")
    x, y = np.random.default_rng(0).standard_normal((20, 6, 3)).astype("float32"), np.zeros((20, 1), "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[callback])  # 5 batches: steps 0, 2, 4 measured
    rows = [json.loads(line) for line in (tmp_path / "spectra.jsonl").read_text().splitlines()]
    assert [(r["step"], r["cell"]) for r in rows] == [(s, c) for s in (0, 2, 4) for c in ("gru", "lstm")]
    gru = model.layers[0].cell
    k = np.asarray(to_numpy(gru.recurrent_kernel), dtype=np.float64)
    assert rows[-2]["radius_of"] == "candidate block n"
    assert rows[-2]["radius"] == pytest.approx(
        float(np.abs(np.linalg.eigvals(k[:, 16:24])).max())
    )  # Keras h block = PyTorch n
    for row in rows:
        assert row["lyapunov"] is None or row["lyapunov"] < 0.5
