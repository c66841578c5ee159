"""Two caches AutoGen 0.7.5 lacks, found with py-spy on a loaded worker (bench/scale_load.py):

- every tool's JSON schema is built again (pydantic `model_json_schema()`) on every model call, since
  `StaticWorkbench.list_tools()` reads `BaseTool.schema`, a property that regenerates it: a quarter of the
  worker's CPU. A tool's schema depends only on what it was built with, so it is computed once per
  (argument model, name, description, strict) and copied out;
- every `FunctionTool` builds a pydantic model of its arguments (`create_model`), and a team is built per
  session with the same functions (the Manager's delegate/finish, the Developer's tools): a fifth of the
  worker's CPU when sessions are new. The model depends only on the function's name and signature, so one
  model is made per signature and shared (it only validates arguments and describes them).
"""

from __future__ import annotations

import copy
import inspect
from collections import OrderedDict
from functools import lru_cache
from typing import Any, cast

from autogen_core.tools import BaseTool, ToolSchema
from autogen_core.tools import _function_tool as function_tool_module
from pydantic import BaseModel

_ORIGINAL = cast(property, vars(BaseTool)["schema"])


_SCHEMAS: OrderedDict[tuple[Any, ...], ToolSchema] = OrderedDict()  # LRU, shared by the tools of every team
_MAX_SCHEMAS = 512


def _cached_schema(tool: BaseTool[Any, Any]) -> ToolSchema:
    key = (tool.args_type(), tool.name, tool.description, getattr(tool, "_strict", None), type(tool))
    cached = _SCHEMAS.get(key)
    if cached is None:
        assert _ORIGINAL.fget is not None
        cached = _ORIGINAL.fget(tool)
        _SCHEMAS[key] = cached
        if len(_SCHEMAS) > _MAX_SCHEMAS:
            _SCHEMAS.popitem(last=False)
    else:
        _SCHEMAS.move_to_end(key)
    return copy.deepcopy(cached)  # callers may change what they get; the cache stays as built


_ARGS_MODEL_BUILDER = "args_base_model_from_signature"  # the name FunctionTool.__init__ calls
_BUILD_ARGS_MODEL = getattr(function_tool_module, _ARGS_MODEL_BUILDER)


@lru_cache(maxsize=512)
def _shared_args_model(name: str, signature: inspect.Signature) -> type[BaseModel]:
    built: type[BaseModel] = _BUILD_ARGS_MODEL(name, signature)
    return built


def _args_model(name: str, signature: inspect.Signature) -> type[BaseModel]:
    try:
        return _shared_args_model(name, signature)
    except TypeError:  # an unhashable default or annotation: build it as AutoGen would
        built: type[BaseModel] = _BUILD_ARGS_MODEL(name, signature)
        return built


def cache_tool_schemas() -> None:
    """Install both caches (idempotent). Tools that define their own `schema` are left alone."""
    if vars(BaseTool)["schema"] is _ORIGINAL:
        BaseTool.schema = property(_cached_schema)  # type: ignore[method-assign,assignment]  # see module docstring
    setattr(function_tool_module, _ARGS_MODEL_BUILDER, _args_model)
