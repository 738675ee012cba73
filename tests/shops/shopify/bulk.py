"""Bulk mutations of the loopback Shopify [doc: shopify.dev "Perform bulk operations
with the GraphQL Admin API", "bulk mutations"].

``stagedUploadsCreate`` (resource BULK_MUTATION_VARIABLES) answers a target at
``{url}/staged-uploads`` (a multipart POST of ``key`` and ``file``, at most 20 MB
[doc]); ``bulkOperationRunMutation(mutation, stagedUploadPath)`` runs the mutation
(productSet is the one modelled) once per JSONL line of variables, with the same
version rules and checks as a direct call but outside the cost bucket (bulk
operations are not rate-limited per call [doc]); ``node(id)`` of the BulkOperation
is RUNNING for ``bulk_polls`` polls, then COMPLETED with ``url``; the result JSONL at
``{url}/bulk-results/N.jsonl`` has one ``{"data": …, "__lineNumber": i}`` (or
``{"errors": …}``) per line.
"""

from __future__ import annotations

import json
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from shops.graphql import Operation, SyntaxErr, flatten, parse
from shops.shopify.base import Call, GqlError, user_error
from shops.shopify.staged import StagedMedia

MAX_UPLOAD = 20 * 1024 * 1024


class Bulk(StagedMedia):
    def __init__(self, *, bulk_polls: int = 1, **kw: Any):
        super().__init__(**kw)
        self.uploads: dict[str, bytes] = {}
        self.bulk: dict[str, dict[str, Any]] = {}
        self.bulk_polls = bulk_polls

    def run(self, op: Operation, variables: dict[str, Any], version: str) -> dict[str, Any]:
        """Validate and execute one operation without the cost bucket (the server's)."""
        raise NotImplementedError

    def mutation_stagedUploadsCreate(self, call: Call) -> dict[str, Any]:
        targets, errors = [], []
        for i, inp in enumerate(call.arg("input", [])):
            if inp.get("resource") == "IMAGE":  # staged.py
                target, error = self.stage_image(i, inp)
                if target is not None:
                    targets.append(target)
                if error is not None:
                    errors.append(error)
                continue
            if inp.get("resource") != "BULK_MUTATION_VARIABLES":
                errors.append(user_error(["input", str(i), "resource"], "Only "
                                         "BULK_MUTATION_VARIABLES and IMAGE are modelled by "
                                         "this test server", "INVALID"))
                continue
            key = f"tmp/bulk/{uuid.uuid4()}/{inp.get('filename') or 'upload.jsonl'}"
            targets.append({"url": f"{self.url}/staged-uploads", "resourceUrl": None,
                            "parameters": [{"name": "key", "value": key},
                                           {"name": "Content-Type", "value": "text/jsonl"},
                                           {"name": "success_action_status", "value": "201"},
                                           {"name": "policy", "value": "test-policy"}]})
        return {"stagedTargets": targets, "userErrors": errors}

    def upload(self, content_type: str, body: bytes) -> tuple[int, Any]:
        """The staged target: a multipart form with ``key`` and ``file``."""
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        msg = BytesParser(policy=HTTP).parsebytes(head + body)
        ordered: list[tuple[str, bytes]] = []
        for part in msg.iter_parts() if msg.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            ordered.append((str(name), payload if isinstance(payload, bytes) else b""))
        image = self.upload_image(ordered)  # an image's target (staged.py)
        if image is not None:
            return image
        fields = dict(ordered)
        if "key" not in fields or "file" not in fields:
            return 400, "<Error><Code>InvalidArgument</Code></Error>"
        if len(fields["file"]) > MAX_UPLOAD:
            return 400, "<Error><Code>EntityTooLarge</Code></Error>"
        with self.lock:
            self.uploads[fields["key"].decode()] = fields["file"]
        return 201, "<PostResponse><Key>" + fields["key"].decode() + "</Key></PostResponse>"

    def results(self, name: str) -> tuple[int, Any]:
        op = self.bulk.get(name.removesuffix(".jsonl"))
        return (200, op["jsonl"]) if op else (404, {"errors": "Not Found"})

    def mutation_bulkOperationRunMutation(self, call: Call) -> dict[str, Any]:
        text, path = str(call.arg("mutation", "")), call.arg("stagedUploadPath")

        def refused(field: str, message: str, code: str) -> dict[str, Any]:
            return {"bulkOperation": None, "userErrors": [user_error([field], message, code)]}
        try:
            inner = parse(text)
        except SyntaxErr as e:
            return refused("mutation", str(e), "INVALID_MUTATION")
        roots = [f.name for f in flatten(inner.selections, inner.fragments)]
        if inner.kind != "mutation" or roots != ["productSet"]:
            return refused("mutation", "This test server runs only productSet in bulk",
                           "INVALID_MUTATION")
        if path not in self.uploads:
            return refused("stagedUploadPath", "The JSONL file could not be found. Try "
                           "uploading the file again.", "NO_SUCH_FILE")
        lines = []
        for i, line in enumerate(self.uploads.pop(path).decode().splitlines()):
            try:
                variables = json.loads(line)
            except ValueError:
                return refused("stagedUploadPath", f"Invalid JSON on line {i + 1}",
                               "INVALID_STAGED_UPLOAD_FILE")
            try:
                row: dict[str, Any] = {"data": self.run(inner, variables, call.version)}
            except GqlError as e:
                row = {"errors": [e.error]}
            lines.append(json.dumps({**row, "__lineNumber": i}))
        op_id = self._gid("BulkOperation")
        n = op_id.rsplit("/", 1)[-1]
        self.bulk[n] = {"id": op_id, "n": n, "polls": self.bulk_polls, "count": len(lines),
                        "jsonl": "\n".join(lines) + "\n"}
        return {"bulkOperation": {"__typename": "BulkOperation", "id": op_id,
                                  "status": "CREATED"}, "userErrors": []}

    def node_BulkOperation(self, call: Call, gid: str) -> dict[str, Any] | None:
        op = self.bulk.get(gid.rsplit("/", 1)[-1])
        if op is None:
            return None
        if op["polls"] > 0:
            op["polls"] -= 1
            status, url = "RUNNING", None
        else:
            status, url = "COMPLETED", f"{self.url}/bulk-results/{op['n']}.jsonl"
        return {"__typename": "BulkOperation", "id": op["id"], "status": status,
                "errorCode": None, "objectCount": str(op["count"]), "url": url,
                "partialDataUrl": None}
