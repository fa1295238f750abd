"""The inverse of σ before and after issue 9 (NumPy bisection `theory.invert` -> traceable
`theory.invert_activation`), and Figure 5's slice, which now uses the same inverse.

Usage: PYTHONPATH=<package root> python benchmarks/bench_invert.py <label>
Prints: cold and warm (median of 5) time of the inverse on 200 tanh values, cold and warm
`valley_point` (ELU), first and second `figure5("tanh")` (201 x 201), and writes the grid to
/tmp/bench_invert_<label>.npy so two versions can be compared value by value.
"""
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)
import numpy as np  # noqa: E402

from landscape import theory as th  # noqa: E402
from landscape.experiments import valley_slice as vs  # noqa: E402

inv = getattr(th, "invert_activation", None) or th.invert
values = np.linspace(-0.9, 0.9, 200)
ts = []
for _ in range(6):
    t = time.perf_counter()
    np.asarray(inv("tanh", values))
    ts.append(time.perf_counter() - t)
t = time.perf_counter(); th.valley_point(th.Theorem6(), "elu", a=3.0); tv1 = time.perf_counter() - t  # noqa: E702
t = time.perf_counter(); th.valley_point(th.Theorem6(), "elu", a=5.0); tv2 = time.perf_counter() - t  # noqa: E702
t = time.perf_counter(); g = vs.figure5("tanh"); tf1 = time.perf_counter() - t  # noqa: E702
t = time.perf_counter(); vs.figure5("tanh", a_range=(1.26, 10.0, 201)); tf2 = time.perf_counter() - t  # noqa: E702
np.save(f"/tmp/bench_invert_{sys.argv[1]}.npy", g.values)
print(f"{sys.argv[1]}: inverse(200) cold {ts[0]:.3f} s warm {np.median(ts[1:]):.4f} s; valley_point(elu) cold {tv1:.3f} s "
      f"warm {tv2:.4f} s; figure5 first {tf1:.2f} s second {tf2:.2f} s")
