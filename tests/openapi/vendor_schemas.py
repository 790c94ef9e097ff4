"""The commercetools schemas that deploy/openapi.yaml copies.

payledger's OpenAPI document reuses the vendor's component schemas for the
commercetools-compatible routes. They are copied, not referenced, so that
`GET /openapi.json` is one self-contained document: this script takes the
schemas named in ROOTS and every schema they reference from the vendor's
description (`../shared/conformance/commercetools/openapi.yaml`, see its
SOURCE.md) and writes them after the marker line of deploy/openapi.yaml.

Three repairs are applied, each to an artefact of the vendor's RAML to
OpenAPI conversion, so that real responses can validate:

- a RAML pattern property (`/^[a-z]{2}$/: string`) became a `required`
  entry named after the pattern: such entries are dropped;
- for FieldContainer, ErrorObject and the *Error schemas that conversion
  also typed every further property as a string, while the RAML type is
  `any`: their `additionalProperties` is dropped;
- discriminator mappings name every subtype of the whole API: entries
  naming schemas that are not copied are dropped.

Usage: vendor_schemas.py VENDOR_YAML DOCUMENT [--write]
Without --write it exits 1 when the copy differs from what it would write.
"""

import sys

import yaml

ROOTS = [
    "Payment", "PaymentDraft", "PaymentUpdate", "PaymentPagedQueryResponse",
    "Message", "MessagePagedQueryResponse",
    "Type", "TypeDraft", "TypeUpdate", "TypePagedQueryResponse",
    "State", "StateDraft", "StateUpdate", "StatePagedQueryResponse",
    "Subscription", "SubscriptionDraft", "SubscriptionUpdate",
    "SubscriptionPagedQueryResponse",
    "Order", "Money", "CentPrecisionMoney", "PaymentResourceIdentifier",
    "ErrorResponse", "AuthErrorResponse",
]

MARKER = "    # ---- commercetools schemas, copied by tests/openapi/vendor_schemas.py; do not edit below ----"
PREFIX = "#/components/schemas/"


def references(value, found):
    if isinstance(value, dict):
        target = value.get("$ref")
        if isinstance(target, str) and target.startswith(PREFIX):
            found.add(target[len(PREFIX):])
        for child in value.values():
            references(child, found)
    elif isinstance(value, list):
        for child in value:
            references(child, found)


def closure(schemas, roots):
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            found = set()
            references(schemas[name], found)
            todo.extend(found - seen)
    return seen


def relaxes_additional(name):
    return name in ("FieldContainer", "ErrorObject") or name.endswith("Error")


def repair(value, relax, copied):
    if isinstance(value, dict):
        required = value.get("required")
        if isinstance(required, list):
            kept = [r for r in required if not (r.startswith("/") and r.endswith("/"))]
            if kept:
                value["required"] = kept
            else:
                del value["required"]
        if relax:
            value.pop("additionalProperties", None)
        mapping = value.get("discriminator", {}).get("mapping")
        if isinstance(mapping, dict):
            for key in [k for k, v in mapping.items() if v[len(PREFIX):] not in copied]:
                del mapping[key]
            if not mapping:
                del value["discriminator"]["mapping"]
        for child in value.values():
            repair(child, relax, copied)
    elif isinstance(value, list):
        for child in value:
            repair(child, relax, copied)


def copied_schemas(vendor_path):
    with open(vendor_path) as f:
        vendor = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schemas = vendor["components"]["schemas"]
    names = closure(schemas, ROOTS)
    out = {}
    for name in sorted(names):
        schema = schemas[name]
        repair(schema, relaxes_additional(name), names)
        out[name] = schema
    return out


def section(vendor_path):
    text = yaml.safe_dump(copied_schemas(vendor_path), sort_keys=False, width=100,
                          allow_unicode=True, default_flow_style=False)
    return "".join("    " + line + "\n" if line else "\n" for line in text.splitlines())


def main(argv):
    vendor_path, document_path = argv[1], argv[2]
    with open(document_path) as f:
        document = f.read()
    head, marker, _ = document.partition(MARKER + "\n")
    if not marker:
        sys.exit(f"{document_path} has no marker line:\n{MARKER}")
    wanted = head + MARKER + "\n" + section(vendor_path)
    if "--write" in argv:
        with open(document_path, "w") as f:
            f.write(wanted)
    elif wanted != document:
        sys.exit(f"the commercetools schemas in {document_path} differ from the vendor's; "
                 f"run: python3 {argv[0]} {vendor_path} {document_path} --write")


if __name__ == "__main__":
    main(sys.argv)
