"""Join the results of the benchmark and robustness tools (results/<name>.md) into results/benchmarks.md.

    .venv/bin/python tools/bench/report.py
"""

import os

from tools.bench.kit import RESULTS

ORDER = ("size", "heap", "heap-mpy", "heap-unix32", "hot", "latency", "cpu", "http", "logs", "update", "fuzz",
         "fuzz-512k", "faults")


def main():
    parts = []
    for name in ORDER:
        path = os.path.join(RESULTS, name + ".md")
        if os.path.exists(path):
            with open(path) as f:
                parts.append(f.read().strip())
    out = os.path.join(RESULTS, "benchmarks.md")
    with open(out, "w") as f:
        f.write("# Measured figures\n\nMade by the tools named in each section (`make bench`, `make fuzz`, "
                "`make faults`); raw figures in the .json files next to this one.\n\n" + "\n\n".join(parts) + "\n")
    print("wrote " + os.path.relpath(out))


if __name__ == "__main__":
    main()
