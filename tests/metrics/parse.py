"""Parses an OpenMetrics exposition (stdin) with the Prometheus project's
own parser and prints its samples as JSON lines: name, labels, value.

A malformed exposition makes the parser raise, and this script exit
non-zero with the parser's message."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = text_string_to_metric_families(sys.stdin.read())
for family in families:
    for sample in family.samples:
        print(json.dumps({
            "family": family.name,
            "type": family.type,
            "unit": family.unit,
            "name": sample.name,
            "labels": sample.labels,
            "value": sample.value,
        }))
