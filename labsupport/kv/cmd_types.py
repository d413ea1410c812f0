"""Registers the data-type command modules added beside the original strings, hashes and lists.

Importing this module imports each of them, and each registers its commands in
:data:`.commands.COMMANDS` with the ``@command`` decorator; the engine imports this one
module, so a new command module is added here and nowhere else.
"""

from __future__ import annotations

from . import (  # noqa: F401
    cmd_bits,
    cmd_hashes,
    cmd_keyspace,
    cmd_lists,
    cmd_sets,
    cmd_string_ops,
    cmd_zalgebra,
    cmd_zranges,
    cmd_zsets,
)
