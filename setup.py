"""The one compiled part: the latents' decoder (sirencodec/format/_wavefront.c, see
sirencodec/format/wavefront.py).  Everything else is in pyproject.toml.  ``optional``: where no
C compiler is available the package still installs and decodes with numpy, slower."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("sirencodec.format._wavefront", ["sirencodec/format/_wavefront.c"],
                             extra_compile_args=["-O2"], optional=True)])
