"""``cython -a`` for the engine's extension: the annotated HTML, and a summary of its yellow lines.

Cython's annotation colours every source line by how much Python C-API the generated C calls
for it: white lines are plain C, yellow lines touch Python objects (reference counts, boxing,
exception checks), and the darker the yellow the more. For a kernel the lesson is where the
yellow is: here only at the boundary (argument unpacking of ``def``/``cpdef`` functions,
building the ``(status, result)`` tuples), paid once per call, never inside the event loop.

:func:`annotate` runs the Cython compiler (the ``cython -a`` of the command line, no make
needed) on ``_cyengine.pyx`` into ``build/cython-annotate/`` and returns an :class:`Annotation`
with the HTML's path and every non-white line with its score. An HTML newer than the source is
reused (the compile takes seconds; the page only changes when the source does).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from labsupport.measure.paths import build_dir

SOURCE = Path(__file__).with_name("_cyengine.pyx")
_LINE = re.compile(r'<pre class="cython line score-(\d+)"[^>]*>.*?<span class="">(\d+)</span>: '
                   r"(.*?)</pre>", re.S)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class AnnotatedLine:
    line: int
    score: int  # Cython's count of Python C-API interactions on that line (0 = white)
    code: str


@dataclass(frozen=True)
class Annotation:
    html_path: Path
    lines: int
    yellow: tuple[AnnotatedLine, ...]

    def function_of(self, line: int) -> str:
        """The ``def``/``cdef``/``cpdef`` the line belongs to."""
        src = SOURCE.read_text(encoding="utf-8").splitlines()
        for i in range(line - 1, -1, -1):
            m = re.match(r"\s*(?:cpdef|cdef|def)\s+(?:inline\s+)?(?:\w+\s+)?(\w+)\s*\(", src[i])
            if m:
                return m.group(1)
        return "(module)"

    def summary(self) -> list[dict]:
        """One row per yellow line: line, score, enclosing function, code."""
        return [{"line": y.line, "score": y.score, "function": self.function_of(y.line),
                 "code": y.code.strip()[:70]} for y in self.yellow]

    def white_fraction(self) -> float:
        return 1 - len(self.yellow) / self.lines


def annotate(out_dir: str | Path | None = None) -> Annotation:
    """Compile ``_cyengine.pyx`` with annotation into ``out_dir`` (default
    ``build/cython-annotate``) and parse the HTML. Needs Cython (the ``fast`` extra)."""
    from Cython.Compiler.Main import CompilationOptions, compile, default_options

    out = Path(out_dir) if out_dir is not None else build_dir() / "cython-annotate"
    out.mkdir(parents=True, exist_ok=True)
    c_file = out / "_cyengine.c"
    page = c_file.with_suffix(".html")
    if not page.exists() or page.stat().st_mtime < SOURCE.stat().st_mtime:
        options = CompilationOptions(default_options, annotate=True, output_file=str(c_file),
                                     language_level=3)
        result = compile(str(SOURCE), options)
        if result.num_errors:
            raise RuntimeError(f"cython reported {result.num_errors} errors on {SOURCE.name}")
    rows = _LINE.findall(page.read_text(encoding="utf-8"))
    yellow = tuple(AnnotatedLine(int(n), int(s), html.unescape(_TAG.sub("", code)))
                   for s, n, code in rows if int(s) > 0)
    return Annotation(page, len(rows), yellow)
