"""Run a command and print its wall time, CPU time (it and its children) and the peak summed RSS of its process tree.

    python benchmarks/treemem.py python -m assay --db sqlite:////tmp/rank10m.db rank --comparisons

`/usr/bin/time -v` reports the largest single process; a SQLite store is read by ADBC in a child
process, so the sum over the tree (sampled from /proc every 0.1 s) is the figure that counts.
The command's output goes to $OUT (default /dev/null). Linux only.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time


def tree_rss(pid: int) -> int:
    """Bytes resident in this process and all its descendants."""
    kids = {}
    for p in os.listdir('/proc'):
        if p.isdigit():
            try:
                with open(f'/proc/{p}/stat') as f:
                    parts = f.read().rsplit(')', 1)[1].split()
                kids.setdefault(int(parts[1]), []).append(int(p))
            except OSError:
                pass
    total, todo = 0, [pid]
    while todo:
        q = todo.pop()
        try:
            with open(f'/proc/{q}/statm') as f:
                total += int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
        except OSError:
            pass
        todo += kids.get(q, [])
    return total


def main() -> None:
    t0 = time.perf_counter()
    p = subprocess.Popen(sys.argv[1:], stdout=open(os.environ.get('OUT', '/dev/null'), 'w'))
    peak = 0
    while p.poll() is None:
        peak = max(peak, tree_rss(p.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"exit {p.returncode}; wall {wall:.1f} s; cpu user {ru.ru_utime:.1f} s sys {ru.ru_stime:.1f} s; "
          f"peak RSS of the tree {peak/1e9:.2f} GB; max single-process RSS {ru.ru_maxrss/1e6:.2f} GB; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
