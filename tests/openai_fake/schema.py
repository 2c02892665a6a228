"""The checker that keeps the fake OpenAI server honest: OpenAI's official OpenAPI document
(../shared/openai-openapi/openapi.json) as JSON Schema validators, for requests, responses and batch files.

The document uses OpenAPI's `nullable: true`, which JSON Schema validators do not know: it is rewritten to
`anyOf: [<schema>, {"type": "null"}]` first (and 3.0-style boolean `exclusiveMinimum` to the numeric form).
One documented gap is patched: the API returns status "paused" after /pause, which the document's
FineTuningJob.status enum does not list yet. Used by tests/backends/openai/test_openai_schema.py and the
batch tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from openai_fake.server import FakeOpenAI

BASE = "urn:openai-openapi"


def _rewrite_nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _rewrite_nullable(value) for key, value in node.items()}
    # OpenAPI 3.0 style `exclusiveMinimum: true` next to `minimum` -> JSON Schema's numeric form.
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if node.get(exclusive) is True and bound in node:
            node[exclusive] = node.pop(bound)
        elif isinstance(node.get(exclusive), bool):
            node.pop(exclusive)
    if node.pop("nullable", False) is True:
        return {"anyOf": [node, {"type": "null"}]}
    node.pop("nullable", None)
    return node


@pytest.fixture(scope="module")
def spec(openapi_path: Path) -> dict[str, Any]:
    document = _rewrite_nullable(json.loads(openapi_path.read_text(encoding="utf-8")))
    status = document["components"]["schemas"]["FineTuningJob"]["properties"]["status"]
    assert "paused" not in status["enum"], "the document now lists 'paused': drop this patch"
    status["enum"] = [*status["enum"], "paused"]
    return document


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class SpecChecker:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(BASE, resource)

    def problems(self, instance: Any, *pointer: str) -> list[str]:
        validator = Draft202012Validator({"$ref": BASE + _pointer(*pointer)}, registry=self.registry)
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in validator.iter_errors(instance)
        ]

    def check(self, exchange: Any) -> list[str]:
        method = exchange.method.lower()
        operation = self.document["paths"][exchange.template][method]
        where = f"{exchange.method} {exchange.template} -> {exchange.status}"
        found: list[str] = []
        body = operation.get("requestBody", {}).get("content", {})
        if exchange.request is not None:
            assert body, f"{where}: the server got a body for an operation that takes none"
            content_type = next(iter(body))
            found += self.problems(
                exchange.request,
                "paths",
                exchange.template,
                method,
                "requestBody",
                "content",
                content_type,
                "schema",
            )
        params = {
            p["name"]: i for i, p in enumerate(operation.get("parameters", [])) if p.get("in") == "query"
        }
        for name, value in exchange.query.items():
            assert name in params, f"{where}: query parameter {name!r} is not in the document"
            schema = operation["parameters"][params[name]].get("schema", {})
            typed = int(value) if schema.get("type") == "integer" else value
            found += self.problems(
                typed, "paths", exchange.template, method, "parameters", str(params[name]), "schema"
            )
        if exchange.status == 200:
            content = operation["responses"]["200"]["content"]
            content_type = "application/json" if "application/json" in content else next(iter(content))
            found += self.problems(
                exchange.response,
                "paths",
                exchange.template,
                method,
                "responses",
                "200",
                "content",
                content_type,
                "schema",
            )
        else:
            found += self.problems(exchange.response, "components", "schemas", "ErrorResponse")
        return [f"{where}: {p}" for p in found]


def batch_file_problems(checker: SpecChecker, server: FakeOpenAI) -> list[str]:
    """The Batch API's request lines (in the uploaded files) and answers (in the output files) against the
    document: they never pass through an HTTP exchange of their own."""
    problems: list[str] = []
    for info in [f for f in server.files.values() if f["purpose"] in ("batch", "batch_output")]:
        for line in server.contents[info["id"]].decode("utf-8").splitlines():
            item = json.loads(line)
            if info["purpose"] == "batch":
                path = item["url"].removeprefix("/v1")
                problems += checker.problems(
                    item["body"],
                    "paths",
                    path,
                    "post",
                    "requestBody",
                    "content",
                    "application/json",
                    "schema",
                )
            elif item["response"]["status_code"] == 200:
                problems += checker.problems(
                    item["response"]["body"],
                    "components",
                    "schemas",
                    "CreateChatCompletionResponse"
                    if "chatcmpl" in item["response"]["body"]["id"]
                    else "CreateCompletionResponse",
                )
    return problems
