#!/usr/bin/env python3
"""openapi_check.py — checks docs/openapi.yaml, and an answer against it.

usage: openapi_check.py SPEC                              validate the document
       openapi_check.py SPEC METHOD PATH STATUS BODYFILE  validate one answer
       openapi_check.py SPEC --answers LIST               validate the answers listed,
                                                          one "METHOD PATH STATUS BODYFILE"
                                                          a line

The first form validates the document with openapi-spec-validator when it is
installed, else only parses it (PyYAML) and resolves every $ref. The second
finds the operation for METHOD and PATH (templates such as {mrn} match one
segment), requires STATUS to be one of its documented responses, and, when
that response has an application/json schema and openapi-schema-validator is
installed, validates the body against it.
Exit 0 valid, 1 invalid, 77 the needed Python modules are missing.
"""
import json
import re
import sys

try:
    import yaml
except ImportError:
    print("PyYAML not installed: skipping")
    sys.exit(77)


def resolve_refs(doc):
    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "$ref":
                    node = doc
                    for part in v[2:].split("/"):
                        node = node[part]
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(doc)


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    if len(sys.argv) == 2:
        resolve_refs(spec)
        try:
            from openapi_spec_validator import validate
        except ImportError:
            print("openapi-spec-validator not installed: parsed and resolved the $refs only")
            return 0
        validate(spec)
        return 0
    if sys.argv[2] == "--answers":
        bad = 0
        for line in open(sys.argv[3]):
            if line.strip():
                bad += check_answer(spec, *line.split())
        return 1 if bad else 0
    return check_answer(spec, *sys.argv[2:6])


def check_answer(spec, method, path, status, body_file):
    path = path.split("?")[0]
    op = None
    for template, item in spec["paths"].items():
        rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(rx, path) and method.lower() in item:
            op = item[method.lower()]
            break
    if op is None:
        print(f"{method} {path}: no such operation in the document")
        return 1
    resp = op["responses"].get(status)
    if resp is None:
        print(f"{method} {path}: status {status} is not documented")
        return 1
    if "$ref" in resp:
        node = spec
        for part in resp["$ref"][2:].split("/"):
            node = node[part]
        resp = node
    schema = resp.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return 0
    try:
        from openapi_schema_validator import OAS30Validator
    except ImportError:
        return 0
    body = json.load(open(body_file))
    v = OAS30Validator({"allOf": [schema], "components": spec["components"]})
    errors = sorted(v.iter_errors(body), key=lambda e: list(e.path))
    for e in errors:
        print(f"{method} {path} {status} ({body_file}): {'/'.join(map(str, e.path))}: {e.message}")
    return 1 if errors else 0


sys.exit(main())
