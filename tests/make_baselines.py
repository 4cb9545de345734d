"""Regenerate the image baselines of tests/test_reproduce.py (run after an intended visual change).

Usage, from the repository root: ``python tests/make_baselines.py``. Then look at every PNG in
tests/baselines/ before committing them.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests` importable when run as a script

from specdiag._plots import save_figure  # noqa: E402
from tests.test_reproduce import BASELINES, deterministic_panels  # noqa: E402

if __name__ == "__main__":
    BASELINES.mkdir(exist_ok=True)
    for name, fig in deterministic_panels().items():
        print(save_figure(fig, Path(BASELINES) / f"{name}.png", dpi=72))
