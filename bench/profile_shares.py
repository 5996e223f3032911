"""The share of CPU samples under each part of a request, from perf's folded stacks.

A sample counts for a part when any frame of its stack matches the part's pattern, so the
shares overlap (a Redis call made from the session lookup counts for both) and need not add
up to 100 %. Usage: python3 profile_shares.py folded.txt
"""

import re
import sys
from collections import Counter

PARTS = {
    "allocator (mimalloc)": r"(^|;)_?mi_",
    "kernel (network, scheduling)": r"_\[k\]",
    "hyper (HTTP)": r"hyper::",
    "redis client": r"(^|;)<?redis::",
    "todo cache (Redis adapter)": r"driven_redis::cache",
    "session store (Redis adapter)": r"driven_redis::sessions",
    "stored records to domain (driven_records)": r"driven_records::",
    "serde_json": r"serde_json::",
    "chrono (timestamps)": r"chrono::",
    "HTTP layers: span, metrics (driving_http)": r"driving_http::",
    "tracing": r"tracing(_core|_subscriber)?::",
    "metrics (prometheus_client)": r"prometheus_client::",
    "response body (axum Json)": r"axum::json",
}


def main(path: str) -> None:
    total = 0
    shares: Counter[str] = Counter()
    patterns = {part: re.compile(p) for part, p in PARTS.items()}
    with open(path) as folded:
        for line in folded:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            n = int(count)
            total += n
            for part, pattern in patterns.items():
                if pattern.search(stack):
                    shares[part] += n
    for part, n in shares.most_common():
        print(f"{100 * n / total:5.1f} %  {part}")


if __name__ == "__main__":
    main(sys.argv[1])
