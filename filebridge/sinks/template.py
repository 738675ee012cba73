"""Any text output from a Jinja2 template: XML/JSON feeds, odd CSV dialects, reports.

The template sees ``records`` (an iterator over the mapped records as dicts with
their typed values: Decimal, date, int, str; None renders empty), ``count`` (how
many), ``file`` (the input's name), ``profile``, ``now`` (local time) and
``secrets.NAME`` (the ``secrets`` option, revealed only while rendering, for feeds
that must embed a token). ``records`` can be looped over once.

Templates run in Jinja's immutable sandbox with strict undefined names; includes
resolve only inside the template file's own folder (inline ``text`` has none).
Output paths ending in .xml, .html or .htm are autoescaped. Records are spooled
to an Arrow IPC stream in a temporary folder and the output is streamed, so
memory does not grow with the file.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator

from filebridge.crashpoints import crash_point
from filebridge.errors import Bug, OutputError
from filebridge.lazy import lazy
from filebridge.options import Encoding, ProfilePath, Secret
from filebridge.records import Batch
from filebridge.registry import REGISTRY
from filebridge.sinks.base import FileSink, FileSinkOptions, SinkContext

if TYPE_CHECKING:  # the real modules for the types; at run time, on first use
    import jinja2
    from jinja2 import sandbox
else:
    jinja2 = lazy("jinja2")
    sandbox = lazy("jinja2.sandbox")

INLINE = "<text>"
ESCAPED = (".xml", ".html", ".htm")


class TemplateSinkOptions(FileSinkOptions):
    """A file rendered from a Jinja2 template."""

    format: Literal["template"] = Field(description="a Jinja2 template (sandboxed)")
    template: ProfilePath | None = Field(None, description="the template file; includes "
                                         "are looked up in its folder")
    text: str | None = Field(None, description="an inline template, instead of a file")
    encoding: Encoding = Field("utf-8", description="output encoding")
    secrets: dict[str, Secret] = Field(default_factory=dict, description="name -> ${ENV} or "
                                       "file:PATH, available as secrets.NAME while rendering")

    @model_validator(mode="after")
    def _compiles(self) -> TemplateSinkOptions:
        if (self.template is None) == (self.text is None):
            raise ValueError("give exactly one of template (a file) or text (inline)")
        compile_template(self)  # syntax errors show up in `filebridge check`
        return self


def _finalize(value: Any) -> Any:
    return "" if value is None else value  # a null field is an empty cell, not "None"


def compile_template(o: TemplateSinkOptions) -> jinja2.Template:
    env = sandbox.ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(o.template.parent) if o.template else None,
        autoescape=o.path.lower().endswith(ESCAPED), undefined=jinja2.StrictUndefined,
        finalize=_finalize, keep_trailing_newline=True, auto_reload=False)
    try:
        if o.template is not None:
            return env.get_template(o.template.name)
        return env.from_string(o.text or "")
    except jinja2.TemplateSyntaxError as e:
        where = e.filename or e.name or (str(o.template) if o.template else INLINE)
        raise ValueError(f"template {where}, line {e.lineno}: {e.message}") from None
    except jinja2.TemplateError as e:  # e.g. the file is missing
        raise ValueError(f"template {o.template}: cannot be read ({e.message or e})") from None


def _line(err: BaseException, folder: Path | None) -> str:
    """Where in the template a render error happened: Jinja rewrites the traceback so
    template frames carry the template's file name and line."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if f.filename == "<template>" or folder and f.filename.startswith(str(folder))]
    if not frames:
        return ""
    name = f" ({frames[-1].filename})" if folder and len({f.filename for f in frames}) > 1 \
        else ""
    return f", line {frames[-1].lineno}{name}"


@REGISTRY.sink("template")
class TemplateSink(FileSink):
    Options = TemplateSinkOptions

    def __init__(self, options: TemplateSinkOptions):
        super().__init__(options)
        self.tmpl = compile_template(options)
        self.where = str(options.template) if options.template else INLINE

    def start(self, ctx: SinkContext) -> None:
        super().start(ctx)
        self.scratch = ctx.scratch("template")
        self.parts: list[Path] = []
        self.schema: pa.Schema | None = None
        self.writer: Any = None
        self.count = 0

    def write(self, batch: Batch) -> None:
        mask = self.changed(batch)
        self.sent(batch, mask)
        if mask is not None:
            batch = batch.filter(mask)
        if not len(batch):
            return
        table = batch.table
        if self.writer is None or table.schema != self.schema:
            # A batch typed differently (e.g. an all-null column) starts a new stream.
            self._close_writer()
            path = Path(self.scratch.name) / f"{len(self.parts)}.arrows"
            self.parts.append(path)
            self.schema = table.schema
            self.writer = pa.ipc.new_stream(str(path), table.schema)
        self.writer.write_table(table)
        self.count += len(batch)
        crash_point("template.part")

    def _close_writer(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _records(self) -> Iterator[dict[str, Any]]:
        for path in self.parts:
            with pa.memory_map(str(path)) as src, pa.ipc.open_stream(src) as reader:
                for rb in reader:
                    yield from rb.to_pylist()

    def _secrets(self) -> dict[str, str]:
        out = {}
        for name, secret in self.o.secrets.items():
            try:
                out[name] = secret.reveal()
            except LookupError as e:
                raise OutputError(f"secret {name} ({secret.describe()}): {e}") from None
        return out

    def finish(self) -> None:
        if self.ctx is None:
            raise Bug("expected self.ctx is not None")
        try:
            self._close_writer()
            if not self.count and (not self.o.empty or self.keeps_earlier()):
                return  # nothing to render: no file (the ack says what happened)
            self.staged = self.ctx.stage(self.o.path, self.o.done_file)
            context = {"records": self._records(), "count": self.count,
                       "file": self.ctx.vars.get("name", ""),
                       "profile": self.ctx.vars.get("profile", ""),
                       "now": datetime.now().astimezone(), "secrets": self._secrets()}
            self._render(context)
        finally:
            self.close()

    def close(self) -> None:
        self._close_writer()
        self.scratch.cleanup()

    def _render(self, context: dict[str, Any]) -> None:
        try:
            with self.staged.open("w", encoding=self.o.encoding, newline="") as out:
                for chunk in self.tmpl.generate(**context):
                    out.write(chunk)
        except UnicodeEncodeError as e:
            raise OutputError(f"template {self.where}: {e.object[e.start:e.end]!r} cannot be "
                              f"written in {self.o.encoding}") from None
        except Exception as e:  # whatever the template does wrong rejects this file only
            if isinstance(e, OSError) and not isinstance(e, jinja2.TemplateError):
                raise  # the disk's trouble, not this file's (TemplateNotFound is an OSError)
            kind = "unsafe, refused" if isinstance(e, sandbox.SecurityError) else type(e).__name__
            folder = self.o.template.parent if self.o.template else None
            msg = e.message if isinstance(e, jinja2.TemplateError) and e.message else str(e)
            raise OutputError(f"template {self.where}{_line(e, folder)}: {kind}: {msg}") from None
