"""How fast the Run page draws a large run: 50k training-curve points (plus accuracy every 100
steps and ~1000 CID points with 40 per-probe values), in headless Chromium.

    .venv/bin/python benchmarks/dashboard/run_page_50k.py [--points 50000] [--repeats 5]

Starts the API and the dashboard on a temporary data directory, writes the run straight into
the store, then loads /run/<id> `repeats` times. "Rendered" is the moment (measured in the page,
from navigation start) when the CID figure, the loss curve and the accuracy curves are all
drawn as SVG. The baseline, in the same run: the same page for a 200-point run; the last line
prints the ratio of the medians (large / small), the figure to read on a shared machine. Also
times the API calls behind it: the thinned curves the page asks for and the full series the CSV
button downloads. (The browser test of the 50k-point run checks the thinning and the CSV, and no
longer asserts a render time.)
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from dashboard.series import DISPLAY_POINTS  # noqa: E402
from tests.dashboard.stack import Stack, ensure_browser, seed_large_run, start_browser  # noqa: E402

DRAWN = """
window.__drawn = null;
(function watch() {
  const drawn = id => document.querySelectorAll('#' + id + ' .scatterlayer .trace path.js-line').length > 0;
  if (drawn('run-cid-graph') && drawn('run-loss-graph') && drawn('run-acc-graph')) {
    window.__drawn = performance.now();
  } else {
    requestAnimationFrame(watch);
  }
})();
"""


def render_times(driver, url: str, repeats: int) -> list[float]:
    """Seconds from navigation start until the run's figures are drawn, per load of `url`."""
    times = []
    for _ in range(repeats):
        driver.get(url)
        deadline = time.monotonic() + 60
        drawn = None
        while drawn is None and time.monotonic() < deadline:
            drawn = driver.execute_script("return window.__drawn")
            time.sleep(0.05)
        if drawn is None:
            raise RuntimeError(f"{url} did not draw within 60 s")
        times.append(drawn / 1000)
    return times


def requests_of(driver) -> str:
    """The last load's callback requests: start and duration in ms (what the time went on)."""
    entries = driver.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.includes('_dash-update-component'))"
        ".map(e => [Math.round(e.startTime), Math.round(e.duration), e.transferSize])")
    return ", ".join(f"@{start}+{duration}ms ({size / 1e3:.0f} kB)" for start, duration, size in entries)


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    ensure_browser()
    with tempfile.TemporaryDirectory() as root:
        stack = Stack(Path(root))
        try:
            stack.start_api()
            job_id = seed_large_run(stack.database_url, points=args.points)
            small_id = seed_large_run(stack.database_url, points=200, cid_every=20, round_every=100)
            stack.start_dashboard()
            with httpx.Client(base_url=stack.api_url, timeout=60) as api:
                thin_s, thin = timed(lambda: api.get(f"/api/jobs/{job_id}/metrics",
                                                     params={"max_points": DISPLAY_POINTS}))
                full_s, full = timed(lambda: api.get(f"/api/jobs/{job_id}/metrics"))
                cid_s, cid = timed(lambda: api.get(f"/api/jobs/{job_id}/cid"))
                shown_cid_s, shown_cid = timed(lambda: api.get(f"/api/jobs/{job_id}/cid/display",
                                                               params={"max_points": DISPLAY_POINTS}))
            points = sum(len(s["steps"]) for s in full.json()["series"].values())
            shown = sum(len(s["steps"]) for s in thin.json()["series"].values())
            print(f"run: {points} curve points, {len(cid.json()['points'])} CID points; "
                  f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
            print(f"API /metrics?max_points={DISPLAY_POINTS}: {shown} points, {len(thin.content) / 1e3:.0f} kB, "
                  f"{thin_s * 1e3:.0f} ms")
            print(f"API /metrics full (CSV):  {points} points, {len(full.content) / 1e6:.1f} MB, {full_s * 1e3:.0f} ms")
            print(f"API /cid (CSV): {len(cid.content) / 1e3:.0f} kB, {cid_s * 1e3:.0f} ms; /cid/display (figure): "
                  f"{len(shown_cid.content) / 1e3:.0f} kB, {shown_cid_s * 1e3:.0f} ms")

            driver = start_browser()
            try:
                driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DRAWN})
                small = render_times(driver, f"{stack.dashboard_url}/run/{small_id}", args.repeats)
                times = render_times(driver, f"{stack.dashboard_url}/run/{job_id}", args.repeats)
                print(f"callback requests of the last load: {requests_of(driver)}")
            finally:
                driver.quit()
            for name, values in ((f"{args.points} points", times), ("200 points (baseline)", small)):
                print(f"Run page with {name} rendered (navigation start -> CID, loss and accuracy drawn): "
                      + ", ".join(f"{t:.2f}" for t in values) + f" s; median {statistics.median(values):.2f} s, "
                      f"best {min(values):.2f} s")
            print(f"ratio {args.points} points / 200 points (medians, same browser and stack): "
                  f"{statistics.median(times) / statistics.median(small):.2f}")
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
