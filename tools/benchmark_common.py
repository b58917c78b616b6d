"""What the loss benchmarks (``benchmark_cirkd.py``, ``benchmark_mcl.py``) share: each
measurement in a fresh worker subprocess of the calling script, optionally with competing
busy-loop processes on the cores, and the value comparison against a reference."""
import json
import os
import subprocess
import sys

# values of mcl_mm and the reference agree when |ours - ref| / max(1, |ref|) stays below this
TOLERANCE = 1e-5
# a competing CPU-bound process: a pure-Python busy loop (one core)
COMPETITOR = 'while True:\n    pass\n'


def compare(ours, ref, keys=None):
    """Relative differences ``|ours - ref| / max(1, |ref|)`` of ``keys`` (default: all of
    ``ref``'s) -> (diffs, ok); ok is False if any exceeds TOLERANCE or is not finite (a NaN on
    either side, or a key missing from ``ours``)."""
    diffs = {}
    for k in (ref if keys is None else keys):
        a, b = ours.get(k, float('nan')), ref[k]
        diffs[k] = abs(a - b) / max(1.0, abs(b))
    ok = all(d <= TOLERANCE for d in diffs.values())  # a NaN compares False
    return diffs, ok


def start_competitors(count):
    """``count`` busy-loop processes, started now."""
    return [subprocess.Popen([sys.executable, '-c', COMPETITOR]) for _ in range(count)]


def stop_competitors(procs):
    """Kill and reap the competitors; returns the CPU seconds each used."""
    cpu = []
    for proc in procs:
        proc.kill()
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = -9  # reaped here: Popen must not wait for it again
        cpu.append(usage.ru_utime + usage.ru_stime)
    return cpu


def run_worker(script, spec, compete=0, env=None):
    """``python script --worker SPEC`` (``compete`` busy-loop processes alongside, ``env``
    added to its environment) -> the JSON of its last output line, with ``competitor_cpu``
    (their CPU seconds) and the load averages (1, 5, 15 minutes) before and after."""
    load_before = os.getloadavg()
    competitors = start_competitors(compete)
    try:
        proc = subprocess.run([sys.executable, script, '--worker', json.dumps(spec)],
                              capture_output=True, text=True, env={**os.environ, **(env or {})})
    finally:
        competitor_cpu = stop_competitors(competitors)
    if proc.returncode != 0:
        raise RuntimeError(f'worker {spec} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}')
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(competitor_cpu=competitor_cpu, load_before=load_before,
                  load_after=os.getloadavg())
    return result
