"""Build step for the one C extension (everything else is in pyproject.toml).

``evidence.synth._fw_c`` is the Frank-Wolfe loop of the SDID weights in C (src/evidence/synth/_fw_c.c; why: see
src/evidence/synth/_fw_compiled.py). It is optional: where no C compiler is found the install goes on without it and
the package uses numba, or numpy, for the same loop.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("evidence.synth._fw_c", ["src/evidence/synth/_fw_c.c"], optional=True, extra_compile_args=["-O2", "-std=c99"])])
