"""First-call time of certify_valley (tanh, then ELU) and of the σ inverse on 200 tanh values.

Usage: PYTHONPATH=<package root> python benchmarks/bench_certificate.py <label>
("old": the inverse called once per value, as before issue-4 follow-up; anything else: one vectorised
call). The inverse is ``theory.invert_activation`` (``theory.invert`` before issue 9).
"""
import sys, time
import jax; jax.config.update("jax_enable_x64", True)
import numpy as np
from landscape import theory as th
t=time.perf_counter(); c=th.certify_valley(th.Theorem6(), "tanh", n_perturbations=400); t1=time.perf_counter()-t
t=time.perf_counter(); c2=th.certify_valley(th.Theorem6(), "elu", n_perturbations=400); t2=time.perf_counter()-t
vs=np.linspace(-0.9,0.9,200)
inv = getattr(th, "invert_activation", None) or th.invert
t=time.perf_counter(); z=[inv("tanh", v) for v in vs] if sys.argv[1]=="old" else inv("tanh", vs); t3=time.perf_counter()-t
print(sys.argv[1], f"{t1:.3f} {t2:.3f} {t3:.4f}", c.passed, float(c.hessian_eigs.min()))
