#!/usr/bin/env python3
"""Whole commands timed in interleaved rounds: a warm-up run of each, then RUNS rounds that run
each command once, the order rotated each round (A B C, B C A, C A B, ...).

    interleaved.py RUNS OUT.json NAME=COMMAND [NAME=COMMAND ...]

hyperfine runs all of one command's runs before the next command's. On a shared VM whose speed
drifts for minutes at a time (the bench VM's same `predio compute` took 1.9 s in one minute
and 2.6 s in another), that lets a slow spell fall on one side of a ratio. Interleaved, every
spell falls on every command alike, and the ratio of medians holds.

Writes OUT.json in hyperfine's shape (results: command, times, median, mean, min, max) and
prints each command's median, min and max. A command that fails stops the run.
"""
import json
import statistics
import subprocess
import sys
import time


def main() -> int:
    runs, out = int(sys.argv[1]), sys.argv[2]
    commands = [a.split("=", 1) for a in sys.argv[3:]]
    times = {name: [] for name, _ in commands}

    def run(name: str, command: str) -> float:
        started = time.perf_counter()
        done = subprocess.run(command, shell=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        took = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{name} failed ({done.returncode}): {command}\n"
                     + done.stderr.decode(errors="replace")[-2000:])
        return took

    for name, command in commands:
        run(name, command)  # warm-up
    for r in range(runs):
        order = commands[r % len(commands):] + commands[:r % len(commands)]
        for name, command in order:
            times[name].append(run(name, command))
    results = [{"command": name, "times": times[name],
                "median": statistics.median(times[name]),
                "mean": statistics.fmean(times[name]),
                "min": min(times[name]), "max": max(times[name])}
               for name, _ in commands]
    with open(out, "w") as f:
        json.dump({"results": results}, f, indent=1)
    for r in results:
        print(f"{r['command']:<11} median {r['median']:.3f} s   min {r['min']:.3f}   "
              f"max {r['max']:.3f}   ({runs} runs, interleaved)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
