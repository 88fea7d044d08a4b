"""Names shared by every module: columns, dimensions and defaults.

Keeping them in one place is the contract that lets predictions, plots and saved files agree.
"""

from __future__ import annotations

# Columns of a validated runs table.
N = "N"  #: model size, parameters
D = "D"  #: training tokens
C = "C"  #: training compute, FLOPs
LOSS = "loss"  #: final loss (nats/token)
GROUP = "group"  #: optional grouping column (model family, data set, configuration)
RUN_ID = "run"  #: training curves: the run a checkpoint belongs to (many rows per run)
RUN_TOKENS = "run_tokens"  #: training curves: the run's planned total tokens
LR = "lr"  #: training curves: the learning rate at the checkpoint
SCHEDULE = "schedule"  #: curve fits: the part of the run's anneal still to come (1 -> 0)
REQUIRED_COLUMNS = (N, D, C, LOSS)

# Dimensions of every ArviZ / xarray object bayescale returns.
CHAIN = "chain"
DRAW = "draw"
RUN = "run"  #: one training run (a row of the runs table)
COMPUTE = "compute"  #: a compute budget, FLOPs
PARAM = "param"

# Defaults.
FLOPS_PER_PARAM_TOKEN = 6.0  #: k in C = k * N * D
DEFAULT_INTERVAL = 0.9  #: central posterior interval reported by summaries and predictions
RHAT_MAX = 1.01  #: R-hat above this triggers a convergence warning
ESS_MIN = 400  #: bulk / tail ESS below this triggers a convergence warning

# Relative deviation of C from k*N*D above which load_runs warns.
COMPUTE_MISMATCH_TOL = 0.25

# Samplers, the one list (the CLI's choices and the manifests' check read it too).
SAMPLERS = ("nutpie", "pymc", "numpyro", "blackjax")
#: Samplers that run through PyMC's JAX path (optional extra ``bayescale[jax]``; GPU capable).
JAX_SAMPLERS = {"numpyro": "numpyro", "blackjax": "blackjax"}
