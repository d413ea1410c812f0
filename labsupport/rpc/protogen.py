"""Generate the ``*_pb2.py`` modules of :mod:`labsupport.rpc.proto` with grpcio-tools' protoc.

The generated modules are committed (the lab needs only the protobuf runtime);
``tests/test_rpc_wire.py`` compiles the ``.proto`` again and checks the schema it describes is
the one the committed module holds, so a ``.proto`` edit without regeneration fails CI (the
comparison ignores what differs between protoc versions, such as computed JSON names).
Run ``python -m labsupport.rpc.protogen`` after editing a ``.proto``.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent / "proto"


def generate(out_dir: Path = PROTO_DIR) -> list[Path]:
    """Run protoc on every ``.proto`` of the package; return the generated files."""
    from grpc_tools import protoc  # a build-time tool, imported only here

    sources = sorted(PROTO_DIR.glob("*.proto"))
    args = ["protoc", f"-I{PROTO_DIR}", f"--python_out={out_dir}", *map(str, sources)]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {', '.join(s.name for s in sources)}")
    outputs = [out_dir / f"{s.stem}_pb2.py" for s in sources]
    for path in outputs:  # generated code is not held to the project's lint rules
        path.write_text("# ruff: noqa\n" + path.read_text())
    return outputs


if __name__ == "__main__":
    for path in generate():
        print(path.name)
    sys.exit(0)
