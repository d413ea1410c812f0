"""Lab 13: the wire protocols of a trading system, NASDAQ ITCH 5.0 and FIX 4.4."""
