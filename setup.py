"""Build step for the one C extension (everything else is in pyproject.toml).

``evidence.synth._fw_c`` is the Frank-Wolfe loop of the SDID weights in C (src/evidence/synth/_fw_c.c; why: see
src/evidence/synth/_fw_compiled.py). It is optional: where no C compiler is found the install goes on without it and
the package uses numba, or numpy, for the same loop.
"""

from setuptools import Extension, setup

# -O3 with portable code (no -march=native: the module may be built on one machine and run on another); no fused
# multiply-adds, so the C loop rounds as the numba and numpy loops do (their weights agree to 1e-10; tested).

setup(ext_modules=[Extension("evidence.synth._fw_c", ["src/evidence/synth/_fw_c.c"], optional=True, extra_compile_args=["-O3", "-std=c99", "-ffp-contract=off"])])
