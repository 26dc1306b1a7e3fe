"""Parses a Prometheus text exposition with the Prometheus project's own Python client.

Usage: python3 parse_metrics.py  < metrics.txt

Prints, as JSON, {"families": {name: type}, "samples": [{"name", "labels", "value"}]},
and exits 0 only when the whole text parses; exits 3 when the library is not installed
(pip install prometheus-client).
"""

import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("the prometheus-client package is not installed", file=sys.stderr)
    sys.exit(3)


def main() -> int:
    text = sys.stdin.read()
    families = {}
    samples = []
    try:
        for family in text_string_to_metric_families(text):
            if family.name in families:
                print(f"metric family {family.name} appears twice", file=sys.stderr)
                return 1
            families[family.name] = family.type
            for sample in family.samples:
                value = sample.value
                samples.append(
                    {
                        "name": sample.name,
                        "labels": sample.labels,
                        "value": value if math.isfinite(value) else str(value),
                    }
                )
    except Exception as error:  # the parser raises ValueError and friends
        print(f"not valid Prometheus text: {error!r}", file=sys.stderr)
        return 1
    json.dump({"families": families, "samples": samples}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
