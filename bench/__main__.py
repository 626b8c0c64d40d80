"""`python -m bench` runs every benchmark and writes bench/results.md; `python -m bench NAME …` runs some and prints."""

from __future__ import annotations

import argparse
import importlib
import logging
import time

from bench.report import RESULTS_FILE, machine, render, write_results

BENCHMARKS = {  # name -> module with `run(quick: bool) -> list[Row]`, in the order
    "grid": "bench.grid",
    "memory": "bench.memory",
    "generate": "bench.generate",
    "shot_cpu": "bench.shot_cpu",
    "listing": "bench.listing",
    "uploads": "bench.uploads",
    "upload_memory": "bench.upload_memory",
    "s3_reload": "bench.s3_reload",
    "api_waits": "bench.api_waits",
    "click_to_image": "bench.click_to_image",
    "review_clicks": "bench.review_clicks",
    "scaleout": "bench.scaleout",
    "export_memory": "bench.export_memory",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help="any of: " + ", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for trying the benchmarks out")
    parser.add_argument("--write", action="store_true", help="write bench/results.md even for a partial or quick run")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    logging.basicConfig(level=logging.WARNING)
    names = args.names or list(BENCHMARKS)
    rows, seconds = [], {}
    print(machine())
    for name in names:
        print(f"\n== {name} ==", flush=True)
        start = time.perf_counter()
        found = importlib.import_module(BENCHMARKS[name]).run(quick=args.quick)
        seconds[name] = time.perf_counter() - start
        print(render(found), flush=True)
        print(f"({seconds[name]:.0f} s)")
        rows.extend(found)
    missed = [r for r in rows if r.met is False]
    print(
        f"\n{len(rows)} results, {sum(r.met is True for r in rows)} targets met, {len(missed)} missed; "
        f"{sum(seconds.values()):.0f} s in all"
    )
    if (not args.names and not args.quick) or args.write:
        write_results(rows, seconds)
        print(f"Wrote {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
