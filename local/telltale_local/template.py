"""Reads ``template.yaml``: the functions, their HTTP routes, queue sources and schedules.

The local gateway, queue pollers and scheduler are all driven by this reading, so a route or schedule
added to the template is served locally with no other change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !GetAtt, !Sub ...) read as their long forms."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    public: bool
    pattern: re.Pattern[str]
    params: tuple[str, ...]


@dataclass
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    environment: dict[str, Any] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    queues: list[dict[str, Any]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The function's folder name (``functions/<name>``), the name ``telltale invoke`` takes."""
        parts = Path(self.handler).parts
        return parts[0] if len(parts) > 1 else self.code_uri.name

    @property
    def module_path(self) -> Path:
        module, _ = self.handler.rsplit(".", 1)
        return self.code_uri / (module + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


def _route_pattern(path: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    params: list[str] = []
    out = "^"
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            if name.endswith("+"):
                name = name[:-1]
                out += f"(?P<{name}>.+)"
            else:
                out += f"(?P<{name}>[^/]+)"
            params.append(name)
        else:
            out += re.escape(part)
    return re.compile(out + "$"), tuple(params)


@dataclass
class Template:
    raw: dict[str, Any]
    functions: dict[str, Function]

    @property
    def routes(self) -> list[Route]:
        routes = [r for f in self.functions.values() for r in f.routes]
        # Literal segments win over parameters, as in API Gateway: most literal characters first.
        return sorted(routes, key=lambda r: (-len(re.sub(r"\{[^}]+\}", "", r.path)), r.path))

    def function(self, name: str) -> Function:
        for f in self.functions.values():
            if name in (f.name, f.logical_id):
                return f
        known = ", ".join(sorted(f.name for f in self.functions.values()))
        raise KeyError(f"no function '{name}' in template.yaml; known: {known}")

    def queue_properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.raw["Resources"][logical_id].get("Properties") or {})


def load(path: Path = TEMPLATE) -> Template:
    raw = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    glob = (raw.get("Globals") or {}).get("Function") or {}
    global_env = ((glob.get("Environment") or {}).get("Variables")) or {}
    functions: dict[str, Function] = {}
    for logical_id, res in (raw.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.get("Properties") or {}
        env = dict(global_env)
        env.update(((props.get("Environment") or {}).get("Variables")) or {})
        fn = Function(
            logical_id=logical_id,
            code_uri=(path.parent / props["CodeUri"]).resolve(),
            handler=props["Handler"],
            timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
            environment=env,
        )
        for event in (props.get("Events") or {}).values():
            eprops = event.get("Properties") or {}
            kind = event.get("Type")
            if kind == "HttpApi":
                auth = (eprops.get("Auth") or {}).get("Authorizer")
                pattern, params = _route_pattern(eprops["Path"])
                fn.routes.append(Route(eprops["Method"].upper(), eprops["Path"], logical_id, auth == "NONE",
                                       pattern, params))
            elif kind == "SQS":
                queue = eprops["Queue"]
                queue_id = queue["Fn::GetAtt"][0] if isinstance(queue, dict) else str(queue)
                fn.queues.append({"queue": queue_id, "batch_size": int(eprops.get("BatchSize", 10)),
                                  "window": float(eprops.get("MaximumBatchingWindowInSeconds", 0)),
                                  "partial": "ReportBatchItemFailures" in (eprops.get("FunctionResponseTypes") or [])})
            elif kind in ("Schedule", "ScheduleV2"):
                fn.schedules.append({"expression": eprops.get("Schedule") or eprops.get("ScheduleExpression"),
                                     "input": eprops.get("Input"), "name": eprops.get("Name") or logical_id,
                                     "enabled": eprops.get("Enabled", True) is not False
                                     and eprops.get("State", "ENABLED") != "DISABLED"})
        functions[logical_id] = fn
    return Template(raw, functions)
