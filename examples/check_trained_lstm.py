"""Train a tiny LSTM (next value of a noisy sine), save its state dict, and check it (README worked example).

Run: python examples/check_trained_lstm.py  (about a minute on one core); prints the check table.
"""

import subprocess
import sys

import torch

torch.manual_seed(0)
lstm, head = torch.nn.LSTM(1, 32, num_layers=2), torch.nn.Linear(32, 1)
opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-2)
t = torch.arange(0, 64, dtype=torch.float32)
for _step in range(300):
    phase = 6.28 * torch.rand(16, 1)
    x = torch.sin(0.3 * t[:, None] + phase.T)[..., None] + 0.05 * torch.randn(64, 16, 1)
    out, _ = lstm(x[:-1])
    loss = torch.mean((head(out) - x[1:]) ** 2)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"trained: mse {loss.item():.4f}", file=sys.stderr)
torch.save({"lstm": lstm.state_dict(), "head": head.state_dict()}, "trained_lstm.pt")
sys.exit(subprocess.call(["specdiag", "check", "trained_lstm.pt", "--verbose"]))
