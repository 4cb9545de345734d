"""specdiag.torch initializers with the real PyTorch: per-gate-block laws, torch.nn.init conventions,
every recurrent layer type, and the refusal of the paper's s_n at n <= 163."""

import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install torch (CI installs the CPU wheel)")
from torch import nn  # noqa: E402

import specdiag as sd  # noqa: E402
import specdiag.torch as sdt  # noqa: E402
from specdiag._errors import InputError  # noqa: E402
from specdiag._inits import InitOptions, make_ensemble  # noqa: E402
from specdiag._theory import paper_scale  # noqa: E402
from tests.conftest import within_se  # noqa: E402


def block_radii(weight, gates):
    w = weight.detach().double().numpy()
    h = w.shape[0] // gates
    return [float(np.abs(np.linalg.eigvals(w[g * h : (g + 1) * h])).max()) for g in range(gates)]


@pytest.mark.parametrize(
    ("method", "layer", "hidden", "count"),
    [
        ("rescaled", nn.LSTM, 180, 3),
        ("glorot", nn.GRU, 48, 30),
        ("half", nn.LSTM, 40, 20),
        ("calibrated", nn.GRU, 32, 60),
    ],
)
def test_sampled_gate_blocks_follow_the_law_specdiag_radius_reports(method, layer, hidden, count):
    """Each gate block's radius has the law `specdiag radius --init ... --n hidden` reports (mean within 4 SE)."""
    generator = torch.Generator().manual_seed(7)
    radii = []
    for _ in range(count):
        model = layer(3, hidden)
        sdt.init_recurrent_(model, method=method, coverage=0.9, generator=generator)
        radii += block_radii(model.weight_hh_l0, 4 if layer is nn.LSTM else 3)
    # the law `specdiag radius --init ... --n hidden` reports (calibrated: --init rescaled --rescale calibrated)
    options = (
        {"init": "rescaled", "rescale": "calibrated", "coverage": 0.9} if method == "calibrated" else {"init": method}
    )
    law = sd.radius_law(hidden, field="real", **options)
    radii = np.asarray(radii)
    # blocks of one cell are independent draws: the SE of the mean is the law's sd / sqrt(blocks)
    within_se(radii.mean(), float(law.mean()), float(law.std()) / math.sqrt(radii.size))
    if method == "calibrated":
        within_se(float(np.mean(radii <= 1)), 0.9, math.sqrt(0.9 * 0.1 / radii.size))


def test_blocks_use_their_own_width_not_the_fused_kernels():
    """A (4h x h) kernel: entry variance 1/h (Glorot at the block width), not 2/(4h + h) (Glorot of the fused shape)."""
    w = sdt.glorot_(torch.empty(4 * 300, 300), gates=4, generator=torch.Generator().manual_seed(0))
    variance = float(w.double().var()) * 300
    within_se(variance, 1.0, math.sqrt(2.0 / w.numel()))


def test_in_place_under_no_grad_and_generator_honoured():
    lstm = nn.LSTM(4, 170)
    weight = lstm.weight_hh_l0
    out = sdt.rescaled_glorot_(weight, gates=4, generator=torch.Generator().manual_seed(3))
    assert out is weight and weight.requires_grad and weight.grad_fn is None
    first = weight.detach().clone()
    sdt.rescaled_glorot_(weight, gates=4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, weight.detach())
    sdt.rescaled_glorot_(weight, gates=4, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(first, weight.detach())
    # the std is Glorot / s_n at the block width n = 170
    within_se(
        float(weight.detach().double().std()), 170**-0.5 / paper_scale(170), 170**-0.5 / math.sqrt(2 * weight.numel())
    )


def test_rescaled_is_refused_at_widths_up_to_163_with_the_reason_and_the_way_out():
    with pytest.raises(InputError, match=r"n = 128.*n <= 163.*calibrated") as err:
        sdt.rescaled_glorot_(torch.empty(4 * 128, 128), gates=4)
    assert err.value.param == "method"
    with pytest.raises(InputError, match="n = 163"):
        sdt.init_recurrent_(nn.GRU(2, 163), method="rescaled")
    sdt.rescaled_glorot_(torch.empty(164, 164), gates=1)  # the first width where s_n exists
    w = sdt.calibrated_(torch.empty(3 * 128, 128), gates=3, coverage=0.99)
    assert torch.isfinite(w).all()


def test_bad_shapes_methods_and_coverages_are_input_errors():
    with pytest.raises(InputError, match="gates=3 does not divide"):
        sdt.glorot_(torch.empty(8, 4), gates=3)
    with pytest.raises(InputError, match="cannot be inferred"):
        sdt.glorot_(torch.empty(10, 4))
    with pytest.raises(InputError, match="method"):
        sdt.init_recurrent_(nn.RNN(2, 8), method="orthogonal")
    with pytest.raises(InputError, match="coverage"):
        sdt.calibrated_(torch.empty(8, 8), coverage=1.5)
    with pytest.raises(InputError, match="nothing to initialize"):
        sdt.init_recurrent_(nn.Linear(3, 3))


def test_init_recurrent_covers_every_layer_and_cell_and_leaves_the_rest_alone():
    model = nn.ModuleDict(
        {
            "rnn": nn.RNN(3, 16, num_layers=2, bidirectional=True),
            "gru": nn.GRU(3, 16),
            "lstm": nn.LSTM(3, 16),
            "rnn_cell": nn.RNNCell(3, 16),
            "gru_cell": nn.GRUCell(3, 16),
            "lstm_cell": nn.LSTMCell(3, 16),
            "head": nn.Linear(16, 16),
        }
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = sdt.init_recurrent_(model, method="calibrated", coverage=0.9, generator=torch.Generator().manual_seed(1))
    assert names == [
        "rnn.weight_hh_l0",
        "rnn.weight_hh_l0_reverse",
        "rnn.weight_hh_l1",
        "rnn.weight_hh_l1_reverse",
        "gru.weight_hh_l0",
        "lstm.weight_hh_l0",
        "rnn_cell.weight_hh",
        "gru_cell.weight_hh",
        "lstm_cell.weight_hh",
    ]
    after = model.state_dict()
    for key in before:
        assert torch.equal(before[key], after[key]) == (key not in names), key
    assert [g for _, _, g in sdt.recurrent_layers(model)] == [1, 3, 4, 1, 3, 4]


def test_projected_lstm_blocks_get_fan_in_proj_size():
    lstm = nn.LSTM(3, 64, proj_size=16)
    assert sdt.init_recurrent_(lstm, method="glorot", generator=torch.Generator().manual_seed(2)) == [
        "weight_hh_l0",
        "weight_hr_l0",
    ]
    within_se(float(lstm.weight_hh_l0.detach().double().var()) * 16, 1.0, math.sqrt(2.0 / lstm.weight_hh_l0.numel()))
    within_se(float(lstm.weight_hr_l0.detach().double().var()) * 64, 1.0, math.sqrt(2.0 / lstm.weight_hr_l0.numel()))


def test_complex_tensors_get_the_complex_law():
    w = sdt.calibrated_(
        torch.empty(64, 64, dtype=torch.complex128), coverage=0.9, generator=torch.Generator().manual_seed(5)
    )
    gain = make_ensemble("rescaled", 64, "complex", InitOptions(rescale="calibrated", coverage=0.9)).gain
    within_se(float((w.abs() ** 2).mean()) * 64, gain**2, gain**2 * math.sqrt(1.0 / w.numel()))


def test_importing_specdiag_and_its_adapters_imports_no_framework():
    code = (
        "import sys, specdiag, specdiag.torch, specdiag.keras, specdiag.jax; print(sorted({'torch', 'keras', 'jax'} "
        "& set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_readme_pytorch_snippet_runs_as_printed():
    from tests.readme_blocks import readme_blocks

    (code,) = readme_blocks("### PyTorch")
    scope: dict = {}
    exec(compile(code, "README.md (PyTorch)", "exec"), scope)
    assert sdt.init_recurrent_(scope["model"], method="calibrated") == ["enc.weight_hh_l0", "dec.weight_hh"]
    assert max(block_radii(scope["layer"].weight_hh_l0, 4)) < 1.1


# --- SpectralMonitor ---------------------------------------------------------------------------------


def _chaotic_and_calm_model():
    torch.manual_seed(0)
    model = nn.ModuleDict({"hot": nn.RNN(3, 64), "calm": nn.GRU(3, 8, bidirectional=True)})
    with (
        torch.no_grad()
    ):  # tanh RNN, iid W of gain 3, zero biases: radius about 3, chaotic (SPEC section 8: lambda = +0.27)
        model.hot.weight_hh_l0.copy_(torch.randn(64, 64) * 3 / 8)
        model.hot.bias_hh_l0.zero_()
        model.hot.bias_ih_l0.zero_()
    return model


def test_monitor_writes_json_lines_every_k_steps_and_warns_once(tmp_path):
    import json
    import warnings

    model = _chaotic_and_calm_model()
    monitor = sdt.SpectralMonitor(model, every=2, log=tmp_path / "runs" / "spectra.jsonl", max_radius=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [monitor.step(s) for s in range(5)]
    assert [r is None for r in results] == [False, True, False, True, False]
    lines = [json.loads(line) for line in (tmp_path / "runs" / "spectra.jsonl").read_text().splitlines()]
    assert [(row["step"], row["tensor"]) for row in lines] == [
        (s, t) for s in (0, 2, 4) for t in ("hot.weight_hh_l0", "calm.weight_hh_l0", "calm.weight_hh_l0_reverse")
    ]
    hot = [row for row in lines if row["tensor"] == "hot.weight_hh_l0"]
    assert hot[0]["radius"] == pytest.approx(
        float(np.abs(np.linalg.eigvals(model.hot.weight_hh_l0.detach().double().numpy())).max())
    )
    assert lines[1]["radius_of"] == "candidate block n" and lines[1]["radius"] < 1
    radius_warnings = [str(w.message) for w in caught if "crossed max_radius" in str(w.message)]
    assert len(radius_warnings) == 1 and "hot.weight_hh_l0" in radius_warnings[0]
    for row in lines:
        assert (row["lyapunov"] is None) == (row["lyapunov_note"] is not None)
    if hot[0]["lyapunov"] is not None:  # the estimator: chaotic tanh RNN positive, calm GRU negative (SPEC section 8)
        assert (
            hot[0]["lyapunov"] - 4 * hot[0]["lyapunov_se"] > 0
            and lines[1]["lyapunov"] + 4 * lines[1]["lyapunov_se"] < 0
        )
        assert len([w for w in caught if "Lyapunov exponent" in str(w.message)]) == 1


def test_monitor_tensorboard_writer_and_a_missing_tensorboard(tmp_path, caplog):
    class Writer:
        def __init__(self):
            self.calls = []

        def add_scalar(self, tag, value, step):
            self.calls.append((tag, value, step))

    writer = Writer()
    monitor = sdt.SpectralMonitor(nn.LSTM(3, 8), every=5, log=None, tensorboard=writer, lyapunov=False)
    monitor.step(10)
    assert [(tag, step) for tag, _, step in writer.calls] == [("specdiag/weight_hh_l0/radius", 10)]
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        with caplog.at_level("WARNING", logger="specdiag"):
            monitor = sdt.SpectralMonitor(
                nn.LSTM(3, 8), every=1, log=tmp_path / "s.jsonl", tensorboard=True, lyapunov=False
            )
        assert "pip install tensorboard" in caplog.text
        monitor.step(0)
        assert (tmp_path / "s.jsonl").read_text().count("\n") == 1


def test_monitor_refuses_a_model_without_recurrence():
    with pytest.raises(InputError, match="nothing to monitor"):
        sdt.SpectralMonitor(nn.Linear(2, 2))
    with pytest.raises(InputError, match="every"):
        sdt.SpectralMonitor(nn.RNN(2, 4), every=0)


def test_lightning_callback():
    pl = pytest.importorskip("lightning.pytorch", reason="Lightning is not installed: pip install lightning")
    assert issubclass(sdt.LightningSpectralMonitor, pl.Callback)


def test_hugging_face_callback(tmp_path):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed: pip install transformers")
    callback = sdt.HFSpectralMonitor(every=1, log=tmp_path / "s.jsonl", lyapunov=False)
    assert isinstance(callback, transformers.TrainerCallback)
    state = type("State", (), {"global_step": 0})()
    callback.on_step_end(None, state, None, model=nn.GRU(2, 4))
    assert (tmp_path / "s.jsonl").read_text().count("\n") == 1


def test_callbacks_without_their_library_say_what_to_install():
    import importlib.util

    if importlib.util.find_spec("transformers") is None:
        with pytest.raises(InputError, match="pip install transformers"):
            sdt.HFSpectralMonitor  # noqa: B018


def test_readme_monitor_snippet_runs_as_printed(tmp_path, monkeypatch):
    import json

    from tests.readme_blocks import readme_blocks

    (code,) = readme_blocks("### Monitoring recurrent spectra during training")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (monitor)", "exec"), {})
    rows = [json.loads(line) for line in (tmp_path / "runs" / "spectra.jsonl").read_text().splitlines()]
    assert [(r["step"], r["tensor"]) for r in rows] == [
        (s, t) for s in (0, 100, 200) for t in ("weight_hh_l0", "weight_hh_l1")
    ]
