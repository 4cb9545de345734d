"""Regenerate the image baselines of tests/test_reproduce.py (run after an intended visual change)."""

from pathlib import Path

from specdiag.plots import save_figure
from tests.test_reproduce import BASELINES, deterministic_panels

if __name__ == "__main__":
    BASELINES.mkdir(exist_ok=True)
    for name, fig in deterministic_panels().items():
        print(save_figure(fig, Path(BASELINES) / f"{name}.png", dpi=72))
