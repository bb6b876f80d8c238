#!/usr/bin/env python3
"""Source files over 600 lines and functions over 120 lines (issue 24's limits).

Integration tests (`tests/`, `*/tests.rs`) and the indices' reference oracle are exempt, as
the issue says; a file's own unit tests count towards its length. A function is measured from its `fn` line to the closing
brace at the same indentation. Exit status 1 when something is over.
"""
import os
import re
import subprocess
import sys

FN = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def exempt(path):
    return path.startswith("tests/") or "/tests/" in path or path.endswith("/tests.rs") or path.endswith("reference.rs")


def main():
    files = subprocess.run(["git", "ls-files", "*.rs"], capture_output=True, text=True, check=True).stdout.split()
    files += subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "*.rs"], capture_output=True, text=True, check=True).stdout.split()
    bad = 0
    for path in sorted(set(files)):
        if exempt(path) or path.startswith("fuzz/") or not os.path.exists(path):
            continue
        lines = open(path, encoding="utf-8").read().split("\n")
        if len(lines) - 1 > 600:
            bad += 1
            print(f"{path}: {len(lines) - 1} lines")
        for i, line in enumerate(lines):
            m = FN.match(line)
            if not m or line.rstrip().endswith(";"):
                continue
            indent = m.group(1)
            for j in range(i + 1, len(lines)):
                if lines[j] == indent + "}":
                    if j - i + 1 > 120:
                        bad += 1
                        print(f"{path}:{i + 1}: fn {m.group(7)} is {j - i + 1} lines")
                    break
    print(f"{bad} over")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
