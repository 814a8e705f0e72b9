"""A Jepsen-style checker of the DNC invariant, on the real servers.

proxy.py    FaultProxy: a TCP proxy that passes, delays, drops replies or cuts.
history.py  History: every operation with invoke and complete times and its answer.
checker.py  The invariant as a pure function over a History.
numbers.py  The forms one number can be typed in.
runner.py   run(seed, duration_s, clients): servers, proxies, two app instances,
            random clients, a fault thread, then cache-vs-record verification.

`pytest tests/chaos` runs a short seeded run (CHAOS_SECONDS, at most 60);
`make chaos` runs a long one (CHAOS_SECONDS=600 by default) and prints the report.
"""
