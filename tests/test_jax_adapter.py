"""specdiag.jax with the real JAX (CPU): init(key, shape, dtype) per gate block, laws, refusals.

JAX runs in one child process per module: once JAX has started its threads, any later os.fork in
the test process (the process pools of other tests) draws JAX's RuntimeWarning, an error here.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import specdiag as sd
from specdiag._inits import InitOptions, make_ensemble
from tests.conftest import within_se
from tests.readme_blocks import readme_blocks

if importlib.util.find_spec("jax") is None:
    pytest.skip("JAX is not installed: pip install 'specdiag[jax]'", allow_module_level=True)

# one child process with JAX costs seconds: the module is in the slow set
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, sys
import numpy as np
import jax, jax.numpy as jnp
import specdiag.jax as sj
from specdiag._errors import InputError

def radii_of_columns(k, gates):
    k = np.asarray(k, dtype=np.float64); h = k.shape[0]
    return [float(np.abs(np.linalg.eigvals(k[:, g * h:(g + 1) * h])).max()) for g in range(gates)]

out = {}
init = sj.rescaled_glorot()
kernels = [init(jax.random.key(seed), (170, 4 * 170)) for seed in range(3)]
out["dtype_shape"] = [str(kernels[0].dtype), list(kernels[0].shape)]
out["rescaled_radii"] = sum((radii_of_columns(k, 4) for k in kernels), [])
out["same_key_same_draw"] = bool(np.array_equal(np.asarray(init(jax.random.key(9), (170, 170))),
                                                np.asarray(init(jax.random.key(9), (170, 170)))))
out["var_times_n"] = {name: float(np.asarray(f(gates=3)(jax.random.key(1), (100, 300)), dtype=np.float64).var() * 100)
                      for name, f in (("glorot", sj.glorot), ("half", sj.half))}
c = np.asarray(sj.calibrated(0.9)(jax.random.key(2), (64, 64), jnp.complex64))
out["complex"] = [str(c.dtype), float(np.mean(np.abs(c) ** 2) * 64)]
errors = {}
for label, call in (("rescaled_128", lambda: sj.rescaled_glorot()(jax.random.key(0), (128, 128))),
                    ("method", lambda: sj.recurrent("orthogonal")),
                    ("shape", lambda: sj.glorot()(jax.random.key(0), (10, 25)))):
    try:
        call()
        errors[label] = None
    except InputError as exc:
        errors[label] = [str(exc), exc.param]
out["errors"] = errors
scope = {}
exec(compile(sys.argv[1], "README.md (JAX)", "exec"), scope)
out["readme"] = [list(scope["kernel"].shape), list(scope["small"].shape)]
try:
    import flax.linen  # noqa: F401
except ImportError:
    out["flax"] = None
else:
    exec(compile(sys.argv[2], "README.md (Flax)", "exec"), scope)
    carry = scope["cell"].initialize_carry(jax.random.key(0), (1, 3))
    params = scope["cell"].init(jax.random.key(1), carry, np.zeros((1, 3), np.float32))
    out["flax"] = radii_of_columns(params["params"]["hf"]["kernel"], 1)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def child():
    jax_code, flax_code = readme_blocks("### JAX / Flax")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, jax_code, flax_code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_rescaled_blocks_follow_the_law_and_keys_are_honoured(child):
    assert child["dtype_shape"] == ["float32", [170, 680]]
    radii = child["rescaled_radii"]
    law = sd.radius_law(170, init="rescaled", field="real")
    within_se(float(np.mean(radii)), float(law.mean()), float(law.std()) / math.sqrt(len(radii)))
    assert child["same_key_same_draw"]


def test_half_and_glorot_variances_at_the_block_width(child):
    for name, factor in (("glorot", 1.0), ("half", 0.5)):
        within_se(child["var_times_n"][name], factor, factor * math.sqrt(2.0 / 30000))


def test_calibrated_complex_dtype_draws_the_complex_law(child):
    dtype, mean_sq = child["complex"]
    gain = make_ensemble("rescaled", 64, "complex", InitOptions(rescale="calibrated", coverage=0.9)).gain
    assert dtype == "complex64"
    within_se(mean_sq, gain**2, gain**2 * math.sqrt(1.0 / 64**2))


def test_refusals_name_the_cause_and_the_parameter(child):
    message, param = child["errors"]["rescaled_128"]
    assert "n = 128" in message and "163" in message and "calibrated" in message and param == "method"
    assert child["errors"]["method"][1] == "method"
    assert "cannot be inferred" in child["errors"]["shape"][0]


def test_readme_jax_snippets_run_as_printed(child):
    assert child["readme"] == [[256, 1024], [64, 64]]
    if child["flax"] is None:
        pytest.skip("Flax is not installed: pip install flax (the Flax snippet was not run)")
    assert child["flax"][0] < 1.2
