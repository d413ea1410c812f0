"""Lab 13: the two wire protocols of a trading system, NASDAQ TotalView-ITCH 5.0 and FIX 4.4.

* :mod:`.itch`: the specification's 23 message layouts as one data table (``itch.layout``),
  and everything derived from it: the streaming parser with 2-byte-length and MoldUDP64
  framing (``itch.parser``), the vectorised numpy/numba decoder (``itch.vector``, its numba gather generated from the
  table by ``itch.kernelgen``), the encoder
  (``itch.encode``), an ITCH day generated from ``labsupport.marketdata`` order flow through
  Lab 02's engine (``itch.gen``), the ITCH-driven L3/L2 book (``itch.book``) and the command
  line ``python -m labsupport.protocols.itch dump|stats|book FILE``.
* :mod:`.fix`: tag=value parse/encode with BodyLength and CheckSum (``fix.message``), a
  resynchronising stream parser (``fix.stream``), repeating groups from a small dictionary,
  the D/F/G -> 8/9 gateway in front of Lab 02's matching engine (``fix.engine``), and
  ``python -m labsupport.protocols.fix dump FILE``.
* :mod:`.errors`: :class:`ProtocolError`, the base of both protocols' errors.
* :mod:`.bench` (rates, comparison with simplefix), :mod:`.display` (notebook helpers),
  :mod:`.explore` (the notebook's message-layout explorer),
  :mod:`.samples` (rebuilds ``data/protocols``).
"""

from .errors import ProtocolError, in_file

__all__ = ["ProtocolError", "in_file"]
