"""Checks payledger's OpenAPI document and real answers against it.

Usage: check.py DOCUMENT_YAML SERVED_JSON EXCHANGES_JSON

- DOCUMENT_YAML (deploy/openapi.yaml) must be a valid OpenAPI 3.0 document
  (openapi-spec-validator) and equal SERVED_JSON, the body of
  `GET /openapi.json`;
- every exchange of EXCHANGES_JSON (`[{method, path, status, contentType,
  body}]`, recorded by tests/e2e/openapi.rs) must match a documented path,
  method and status; its content type must be documented for that answer,
  and a JSON body must validate against the answer's schema
  (openapi-schema-validator's OAS 3.0 dialect of JSON Schema).

Prints one line per exchange, then `N passed, N failed`; exits 1 on any
failure.
"""

import json
import re
import sys

import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

PARAMETER = re.compile(r"\{[^}/]+\}")


def segment_pattern(segment):
    """A template segment (`{id}`, `key={key}`, `events`) as a regex."""
    parts = PARAMETER.split(segment)
    return re.compile("[^/]+".join(re.escape(p) for p in parts) + r"\Z")


def match_path(paths, path):
    """The documented template that serves `path`: the one whose literal
    text is longest among those that match (`key={key}` before `{id}`)."""
    best, best_score = None, -1
    wanted = path.split("?")[0].strip("/").split("/")
    for template in paths:
        segments = template.strip("/").split("/")
        if len(segments) != len(wanted):
            continue
        if all(segment_pattern(s).match(w) and w for s, w in zip(segments, wanted)):
            score = sum(len(PARAMETER.sub("", s)) for s in segments)
            if score > best_score:
                best, best_score = template, score
    return best


def resolve(document, node):
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def check_exchange(document, exchange):
    """Returns None when `exchange` matches the document, else why not."""
    method, path, status = exchange["method"].lower(), exchange["path"], str(exchange["status"])
    template = match_path(document["paths"], path)
    if template is None:
        return f"no documented path serves {path}"
    operation = document["paths"][template].get(method)
    if operation is None:
        return f"{template} documents no {method.upper()}"
    responses = operation["responses"]
    if status not in responses:
        return f"{method.upper()} {template} documents no status {status} (only {sorted(responses)})"
    response = resolve(document, responses[status])
    content = response.get("content")
    body = exchange["body"]
    if not content:
        if body:
            return f"{status} of {method.upper()} {template} is documented without a body, got {body[:200]!r}"
        return None
    media = (exchange.get("contentType") or "").split(";")[0].strip()
    if media not in content:
        if method == "head" and not body:
            return None
        return f"content type {media!r} is not documented for {status} of {method.upper()} {template} ({sorted(content)})"
    schema = content[media].get("schema")
    if media != "application/json" or schema is None:
        return None
    try:
        instance = json.loads(body)
    except ValueError as error:
        return f"the body is not JSON ({error}): {body[:200]!r}"
    root = {"components": document["components"], "allOf": [schema]}
    errors = sorted(OAS30Validator(root).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        details = "\n    ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors[:10])
        return f"{status} of {method.upper()} {template} does not match its schema:\n    {details}"
    return None


def main(argv):
    document_path, served_path, exchanges_path = argv[1:4]
    with open(document_path) as f:
        document = yaml.safe_load(f)
    with open(served_path) as f:
        served = json.load(f)
    with open(exchanges_path) as f:
        exchanges = json.load(f)
    failures = []
    try:
        validate(document)
        print("ok   the document is valid OpenAPI 3.0")
    except Exception as error:  # the validator's own exception types vary by version
        failures.append(f"the document is not valid OpenAPI: {str(error)[:2000]}")
    if served != document:
        failures.append("GET /openapi.json does not serve deploy/openapi.yaml")
    else:
        print("ok   GET /openapi.json serves deploy/openapi.yaml")
    passed = 2 - len(failures)
    for exchange in exchanges:
        name = f"{exchange['method']} {exchange['path']} -> {exchange['status']}"
        why = check_exchange(document, exchange)
        if why is None:
            passed += 1
            print(f"ok   {name}")
        else:
            failures.append(f"{name}: {why}")
            print(f"FAIL {name}: {why}")
    for failure in failures:
        print(f"failure: {failure}", file=sys.stderr)
    print(f"{passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv)
