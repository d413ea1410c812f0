"""Build of the one compiled extension, ``labsupport.fastbook._cyengine`` (Lab 11).

Everything else about the package is in ``pyproject.toml``; setuptools reads both. Cython is a
build requirement (``[build-system] requires``), so ``pip install -e .`` fetches it into the
isolated build environment, generates the C file under ``build/cython/`` (never next to the
source) and compiles it with the system C compiler.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("labsupport.fastbook._cyengine", ["labsupport/fastbook/_cyengine.pyx"],
                   extra_compile_args=["-O3"])],
        build_dir="build/cython",
        compiler_directives={"language_level": "3"},
    ),
)
