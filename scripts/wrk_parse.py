#!/usr/bin/env python3
"""Reads wrk --latency output on stdin; prints `rps p50_ms p99_ms errors` on one line."""
import re
import sys

text = sys.stdin.read()


def ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
errors = 0
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
if non2xx:
    errors += int(non2xx.group(1))
sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
if sockets:
    errors += sum(int(g) for g in sockets.groups())
print(f"{rps:.0f} {p50:.3f} {p99:.3f} {errors}")
