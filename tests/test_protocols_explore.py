"""The ITCH layout explorer of notebook 13, headless: the byte map is the layout table's."""

import pytest

from labsupport.protocols import explore
from labsupport.protocols.itch import LAYOUTS, MESSAGE_TYPES, iter_tuples


@pytest.mark.parametrize("letter", MESSAGE_TYPES)
def test_every_type_has_an_example_that_parses_with_its_layout(letter):
    msg = explore.example_message(letter)
    assert len(msg) == LAYOUTS[letter].size and msg[:1] == letter.encode()
    (t,) = list(iter_tuples(len(msg).to_bytes(2, "big") + msg))
    assert t[0] == letter


def test_layout_table_rows_are_the_fields_at_their_offsets():
    table = explore.layout_table("A")
    lay = LAYOUTS["A"]
    assert list(table.index) == list(lay.names)
    assert table["offset"].tolist() == [f.offset for f in lay.fields]
    assert table.loc["price", "length"] == 4 and table.loc["price", "kind"] == "p4"
    assert table.loc["message_type", "value"] == "A"


def test_show_layout_prints_the_hexdump_and_returns_the_table(capsys):
    table = explore.show_layout("E")
    out = capsys.readouterr().out
    assert out.startswith("0000  45 ") and len(out.splitlines()) == 2  # 31 bytes: two rows
    assert list(table.index) == list(LAYOUTS["E"].names)
    with pytest.raises(KeyError, match="not an ITCH 5.0 message type"):
        explore.example_message("z")


def test_the_explorer_builds_headless():
    pytest.importorskip("ipywidgets")
    box = explore.layout_explorer()
    pick = box.children[0]
    assert pick.value == "A" and len(pick.options) == 23
