"""Your solutions to notebook 05's exercises. Check them with `python -m labsupport check 05`."""


class Gcra:
    """05.1: GCRA for one client key, with nginx `limit_req rate=R burst=B nodelay` semantics.

    Emission interval T = 1 / rate_per_s, tolerance tau = burst * T. Keep one number, the
    theoretical arrival time `tat`. A request at `now_s` is allowed when max(tat, now) - now
    <= tau, and then tat = max(tat, now) + T; a rejected request changes nothing. Work in
    integer nanoseconds if you want exact answers on long traces.
    """

    def __init__(self, rate_per_s, burst):
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.last_s = None

    def allow(self, now_s):
        # A first try: at most one request per interval, burst ignored.
        if self.last_s is None or now_s - self.last_s >= 1 / self.rate_per_s:
            self.last_s = now_s
            return True
        return False


class Ring:
    """05.2: a consistent-hash ring over server names (e.g. "10.0.0.1:8080").

    `owner(key, available)` returns the name that serves `key` (bytes), choosing only among
    `available` (a set of names; None means all). When a server leaves `available`, only the
    keys it owned may move. Hint: several points per server on a ring of 64-bit hashes
    (hashlib, not Python's salted hash()), then the first point clockwise whose server is
    available.
    """

    def __init__(self, names):
        self.names = sorted(names)

    def owner(self, key, available=None):
        names = [n for n in self.names if available is None or n in available]
        return names[hash(key) % len(names)]  # modulo hashing: almost every key moves


def ttl(route_ttl_s, cache_control):
    """05.3: seconds to cache a 200 answer (0: do not store).

    `cache_control` is the upstream's Cache-Control value (bytes) or None. Directives are
    comma-separated, case-insensitive; no-store, private and no-cache mean 0; s-maxage, then
    max-age, win over `route_ttl_s`; a value that is not digits means 0.
    """
    return route_ttl_s  # ignores the upstream
