"""The codec explorer of notebook 08, headless: its numbers are the codecs' own."""

import numpy as np
import pytest

from labsupport.tsdb import codecs, explore
from labsupport.tsdb.segment import encode_column


def test_codec_sizes_are_the_encoded_bytes_per_point():
    v = explore.column_values("price", 20_000)
    sizes = explore.codec_sizes(v, "float", 1000)
    blocks = [v[a : a + 1000] for a in range(0, v.size, 1000)]
    assert sizes["raw (8 bytes)"] == pytest.approx(sum(len(codecs.encode_raw(b)) for b in blocks) / v.size)
    assert sizes["the store's choice"] == pytest.approx(sum(len(encode_column(b, "float")) for b in blocks) / v.size)
    assert sizes["the store's choice"] == min(sizes.values())  # the store picks the smallest here
    assert sizes["tick grid + bit packing"] < sizes["Gorilla XOR"] < 8.1  # cent prices: the grid wins


def test_a_longer_block_spreads_its_header_over_more_points():
    v = explore.column_values("ts", 20_000)
    small, large = (explore.codec_sizes(v, "ts", b)["the store's choice"] for b in (256, 8192))
    assert large < small
    with pytest.raises(ValueError):
        explore.codec_sizes(v, "ts", 0)


def test_show_codec_sizes_returns_the_chosen_block_table(capsys):
    table = explore.show_codec_sizes("size", "bit-packed integers", 2048, n_ticks=20_000)
    assert list(table.index) == explore.codec_names("size")
    assert table.index.name.startswith("size (") and "blocks of 2048" in table.index.name
    assert np.isclose(table.loc["raw (8 bytes)", "bytes/point"], 8.0, atol=0.01)


def test_the_explorer_builds_headless():
    pytest.importorskip("ipywidgets")
    box = explore.codec_explorer(n_ticks=20_000)
    column, codec, block = box.children[0].children
    assert codec.options[0] == "the store's choice"
    column.value = "price"  # the codec list follows the column
    assert "Gorilla XOR" in codec.options and "delta, best fixed bucket table" not in codec.options
    assert block.value == 8192
