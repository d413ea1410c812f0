"""labsupport: the implementations behind the trading-infrastructure lab notebooks.

One subpackage per lab (``http``, ``orderbook``, ``kv``, ``protocols``, ``tsdb``, ...) plus the
shared instruments in :mod:`labsupport.measure` and the synthetic market data in
:mod:`labsupport.marketdata`. ``python -m labsupport`` lists the labs and runs one.
"""

__version__ = "0.1.0"
