"""What every benchmark module shares: the Section it returns, timing, memory and formatting.

A benchmark module exposes `run(quick: bool) -> Section`; `bench/__main__.py` runs the modules
listed in its MODULES and writes their sections to docs/benchmarks.md.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Section:
    """One benchmark's part of docs/benchmarks.md: what was measured and how, and the results."""

    title: str
    method: str  # Markdown: what is measured, the baseline, anything about the machine
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)  # Markdown bullets shown under the table

    def to_markdown(self) -> str:
        """The section as Markdown, starting with its `## title` heading."""
        parts = [f"## {self.title}", "", self.method.strip(), "", table(self.header, self.rows)]
        if self.notes:
            parts += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(parts)


@dataclass(frozen=True)
class Timing:
    """The median of several timed runs and their spread, in seconds."""

    median_s: float
    min_s: float
    max_s: float
    repeats: int
    samples: tuple[float, ...] = ()  # every run, in the order they ran

    def __str__(self) -> str:
        return fmt_timing(self)


def median_of(
    fn: Callable[[], object],
    repeats: int,
    *,
    setup: Callable[[], object] | None = None,
    warmup: int = 0,
) -> Timing:
    """Time `fn` `repeats` times (after `warmup` untimed calls); `setup` runs untimed before each.

    A garbage collection runs before each timed call so that one call does not pay for the
    garbage of the one before it.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    samples: list[float] = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        gc.collect()
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return Timing(statistics.median(samples), min(samples), max(samples), repeats, tuple(samples))


def medians_interleaved(
    fns: Sequence[Callable[[], object]], repeats: int, *, warmup: int = 1
) -> list[Timing]:
    """Time several functions round-robin (a, b, c, a, b, c, ...): one Timing each.

    On a shared machine the load drifts; interleaving spreads it evenly over the functions
    compared, so their ratio holds even when the absolute numbers wobble.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    for _ in range(warmup):
        for fn in fns:
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, runs in zip(fns, samples, strict=True):
            gc.collect()
            started = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - started)
    return [
        Timing(statistics.median(runs), min(runs), max(runs), repeats, tuple(runs))
        for runs in samples
    ]


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """One timed call: (seconds, what `fn` returned)."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def cpu_s() -> float:
    """User + system CPU seconds of this process and its finished children so far.

    On a busy machine wall time grows with the load; CPU time much less so.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def reset_peak_rss() -> bool:
    """Restart this process's peak-RSS counter (Linux: /proc/self/clear_refs); False if unable."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (since start, or since reset_peak_rss)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux (bytes on macOS, where /proc is missing anyway).
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if os.uname().sysname == "Darwin" else maxrss / 1024


def children_peak_rss_mb() -> float:
    """Largest peak resident memory of any finished child process (worker pools), in MiB."""
    maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return maxrss / (1024 * 1024) if os.uname().sysname == "Darwin" else maxrss / 1024


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else platform.processor(), else 'unknown'."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1-minute load average (other work on the machine skews timings), or '?'."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def fmt_s(seconds: float) -> str:
    """A duration with a unit that keeps three significant digits: 812 µs, 4.21 ms, 13.4 s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        value, unit = seconds * 1e3, "ms"
    else:
        value, unit = seconds, "s"
    digits = 2 if value < 10 else 1 if value < 100 else 0
    return f"{value:.{digits}f} {unit}"


def fmt_timing(timing: Timing) -> str:
    """'4.21 ms' for the median."""
    return fmt_s(timing.median_s)


def fmt_spread(timing: Timing) -> str:
    """'4.10–4.60 ms' (min–max), or '–' for a single run."""
    if timing.repeats == 1:
        return "–"
    return f"{fmt_s(timing.min_s)} – {fmt_s(timing.max_s)}"


def fmt_runs(timing: Timing) -> str:
    """Every run in order, 'runs 21.1 s, 28.4 s, 37.0 s': shows warm-up effects and outliers."""
    return "runs " + ", ".join(fmt_s(sample) for sample in timing.samples)


def fmt_mb(mebibytes: float) -> str:
    return f"{mebibytes:.0f} MiB"


def fmt_int(value: int) -> str:
    """1,000 rather than 1000."""
    return f"{value:,}"


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}×"


def verdict(seconds: float, target_s: float) -> str:
    """'yes (< 50 ms)' or 'NO: 2.3× the 50 ms target'."""
    target = fmt_s(target_s).replace(".0 ", " ")
    if seconds < target_s:
        return f"yes (< {target})"
    return f"NO: {seconds / target_s:.1f}× the {target} target"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; `|` in cells is escaped."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row has {len(row)} cells, header {len(header)}: {row!r}")
    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)])
