"""Show the real source of a function or class from the package, highlighted, in a notebook.

Notebooks teach from the code that runs, never from a pasted copy that can drift: ``show(obj)``
displays ``inspect.getsource(obj)`` with its file and line, highlighted with Pygments. The plain
text form (what nbval compares) is the source itself, so a notebook whose shown code changed
fails its check until it is re-executed.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from .paths import display_path


@dataclass(frozen=True, slots=True)
class Source:
    """A piece of source code with where it lives; renders as highlighted HTML in Jupyter."""

    title: str
    code: str

    def __repr__(self) -> str:
        return f"# {self.title}\n{self.code}"

    def _repr_html_(self) -> str:
        body = highlight(self.code, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True))
        return f"<div><b><code>{self.title}</code></b>{body}</div>"


def source_of(obj: Any) -> Source:
    """The :class:`Source` of a function, method, class or module."""
    target = inspect.unwrap(obj) if callable(obj) else obj
    target = getattr(target, "__func__", target)  # bound methods -> their function
    try:
        lines, start = inspect.getsourcelines(target)
        filename = inspect.getsourcefile(target) or "<unknown>"
    except (OSError, TypeError) as exc:
        raise TypeError(f"no Python source for {obj!r}: {exc}") from None
    name = getattr(target, "__qualname__", getattr(target, "__name__", repr(target)))
    where = f"{display_path(filename)}:{start}" if start else display_path(filename)
    return Source(title=f"{name}  ({where})", code="".join(lines).rstrip("\n"))


def show(*objs: Any) -> None:
    """Display the highlighted source of each object (prints it outside IPython)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is part of the lab extra
        get_ipython = None  # type: ignore[assignment]
    in_ipython = get_ipython is not None and get_ipython() is not None
    for obj in objs:
        src = source_of(obj)
        if in_ipython:
            display(src)
        else:
            print(repr(src))
