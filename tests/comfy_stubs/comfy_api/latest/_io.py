"""Stand-in for ``comfy_api.latest.io`` (ComfyUI 0.33.0), the parts this pack uses.

Same names, constructor parameters and ``as_dict`` output as ComfyUI's module for: Schema, Hidden,
HiddenHolder, NodeOutput, ComfyNode (with the V1 view ComfyUI's server and executor read),
Boolean / Int / Float / String / Combo / Image / Mask / BoundingBox inputs and outputs, Custom types
and FolderType. Anything else is absent on purpose: a node that uses it fails here first.
"""
from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


def _prune(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


class _classproperty:
    def __init__(self, f):
        self.f = f

    def __get__(self, obj, owner):
        return self.f(owner)


class FolderType(str, Enum):
    input = "input"
    output = "output"
    temp = "temp"


class NumberDisplay(str, Enum):
    number = "number"
    slider = "slider"


class _UIOutput:
    def as_dict(self) -> dict:
        raise NotImplementedError


# ----------------------------------------------------------------------------- inputs / outputs

class Input:
    io_type: str = None

    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, extra_dict=None,
                 raw_link=None, advanced=None):
        self.id, self.display_name, self.optional, self.tooltip, self.lazy = id, display_name, optional, tooltip, lazy
        self.extra_dict = extra_dict or {}
        self.rawLink, self.advanced = raw_link, advanced

    def as_dict(self):
        return _prune({"display_name": self.display_name, "optional": self.optional, "tooltip": self.tooltip,
                       "lazy": self.lazy, "rawLink": self.rawLink, "advanced": self.advanced}) | _prune(self.extra_dict)

    def get_io_type(self):
        return self.io_type


class WidgetInput(Input):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None,
                 socketless=None, widget_type=None, force_input=None, extra_dict=None, raw_link=None, advanced=None):
        super().__init__(id, display_name, optional, tooltip, lazy, extra_dict, raw_link, advanced)
        self.default, self.socketless, self.widget_type, self.force_input = default, socketless, widget_type, force_input

    def as_dict(self):
        return super().as_dict() | _prune({"default": self.default, "socketless": self.socketless,
                                           "widgetType": self.widget_type, "forceInput": self.force_input})


class Output:
    io_type: str = None

    def __init__(self, id=None, display_name=None, tooltip=None, is_output_list=False):
        self.id = id
        self.display_name = display_name if display_name else id
        self.tooltip = tooltip
        self.is_output_list = is_output_list


class _Type:
    """A ComfyType: ``io_type`` and its Input / Output classes bound to it."""
    io_type: str = None


def _bind(io_type: str, input_base=Input, output_base=Output, name=None):
    input_cls = type("Input", (input_base,), {"io_type": io_type})
    output_cls = type("Output", (output_base,), {"io_type": io_type})
    return type(name or io_type, (_Type,), {"io_type": io_type, "Input": input_cls, "Output": output_cls})


def Custom(io_type: str):
    return _bind(io_type)


Image = _bind("IMAGE", name="Image")
Mask = _bind("MASK", name="Mask")


class _BooleanInput(WidgetInput):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None,
                 label_on=None, label_off=None, socketless=None, force_input=None, extra_dict=None,
                 raw_link=None, advanced=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                         extra_dict, raw_link, advanced)
        self.label_on, self.label_off = label_on, label_off

    def as_dict(self):
        return super().as_dict() | _prune({"label_on": self.label_on, "label_off": self.label_off})


class _IntInput(WidgetInput):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, min=None,
                 max=None, step=None, control_after_generate=None, display_mode=None, socketless=None,
                 force_input=None, extra_dict=None, raw_link=None, advanced=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                         extra_dict, raw_link, advanced)
        self.min, self.max, self.step = min, max, step
        self.control_after_generate, self.display_mode = control_after_generate, display_mode

    def as_dict(self):
        return super().as_dict() | _prune({"min": self.min, "max": self.max, "step": self.step,
                                           "control_after_generate": self.control_after_generate,
                                           "display": self.display_mode.value if self.display_mode else None})


class _FloatInput(WidgetInput):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, min=None,
                 max=None, step=None, round=None, display_mode=None, gradient_stops=None, socketless=None,
                 force_input=None, extra_dict=None, raw_link=None, advanced=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                         extra_dict, raw_link, advanced)
        self.min, self.max, self.step, self.round = min, max, step, round
        self.display_mode, self.gradient_stops = display_mode, gradient_stops

    def as_dict(self):
        return super().as_dict() | _prune({"min": self.min, "max": self.max, "step": self.step, "round": self.round,
                                           "display": self.display_mode, "gradient_stops": self.gradient_stops})


class _StringInput(WidgetInput):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, multiline=False,
                 placeholder=None, default=None, dynamic_prompts=None, socketless=None, force_input=None,
                 extra_dict=None, raw_link=None, advanced=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                         extra_dict, raw_link, advanced)
        self.multiline, self.placeholder, self.dynamic_prompts = multiline, placeholder, dynamic_prompts

    def as_dict(self):
        return super().as_dict() | _prune({"multiline": self.multiline, "placeholder": self.placeholder,
                                           "dynamicPrompts": self.dynamic_prompts})


class _ComboInput(WidgetInput):
    def __init__(self, id, options=None, display_name=None, optional=False, tooltip=None, lazy=None, default=None,
                 control_after_generate=None, upload=None, image_folder=None, remote=None, socketless=None,
                 extra_dict=None, raw_link=None, advanced=None):
        if isinstance(options, type) and issubclass(options, Enum):
            options = [v.value for v in options]
        if isinstance(default, Enum):
            default = default.value
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, None, extra_dict,
                         raw_link, advanced)
        self.multiselect = False
        self.options, self.control_after_generate = options, control_after_generate
        self.upload, self.image_folder, self.remote = upload, image_folder, remote

    def as_dict(self):
        return super().as_dict() | _prune({
            "multiselect": self.multiselect, "options": self.options,
            "control_after_generate": self.control_after_generate,
            **({self.upload.value: True} if self.upload is not None else {}),
            "image_folder": self.image_folder.value if self.image_folder else None,
            "remote": self.remote.as_dict() if self.remote else None})


class _BoundingBoxInput(WidgetInput):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, socketless=True, default=None,
                 component=None, force_input=None):
        super().__init__(id, display_name, optional, tooltip, None, default, socketless)
        self.component, self.force_input = component, force_input
        if default is None:
            self.default = {"x": 0, "y": 0, "width": 512, "height": 512}

    def as_dict(self):
        d = super().as_dict()
        if self.component:
            d["component"] = self.component
        if self.force_input is not None:
            d["forceInput"] = self.force_input
        return d


Boolean = _bind("BOOLEAN", _BooleanInput, name="Boolean")
Int = _bind("INT", _IntInput, name="Int")
Float = _bind("FLOAT", _FloatInput, name="Float")
String = _bind("STRING", _StringInput, name="String")
Combo = _bind("COMBO", _ComboInput, name="Combo")
BoundingBox = _bind("BOUNDING_BOX", _BoundingBoxInput, name="BoundingBox")


# ----------------------------------------------------------------------------- schema

class Hidden(str, Enum):
    unique_id = "UNIQUE_ID"
    prompt = "PROMPT"
    extra_pnginfo = "EXTRA_PNGINFO"
    dynprompt = "DYNPROMPT"
    auth_token_comfy_org = "AUTH_TOKEN_COMFY_ORG"
    api_key_comfy_org = "API_KEY_COMFY_ORG"
    comfy_usage_source = "COMFY_USAGE_SOURCE"


class HiddenHolder:
    def __init__(self, unique_id=None, prompt=None, extra_pnginfo=None, dynprompt=None, **_kwargs):
        self.unique_id, self.prompt, self.extra_pnginfo, self.dynprompt = unique_id, prompt, extra_pnginfo, dynprompt

    def __getattr__(self, key):
        return None

    @classmethod
    def from_dict(cls, d):
        d = d or {}
        return cls(unique_id=d.get(Hidden.unique_id), prompt=d.get(Hidden.prompt),
                   extra_pnginfo=d.get(Hidden.extra_pnginfo), dynprompt=d.get(Hidden.dynprompt))


@dataclass
class NodeInfoV1:
    input: dict = None
    input_order: dict = None
    is_input_list: bool = None
    output: list = None
    output_is_list: list = None
    output_name: list = None
    output_tooltips: list = None
    output_matchtypes: list = None
    name: str = None
    display_name: str = None
    description: str = None
    python_module: Any = None
    category: str = None
    output_node: bool = None
    deprecated: bool = None
    experimental: bool = None
    dev_only: bool = None
    api_node: bool = None
    price_badge: dict = None
    search_aliases: list = None
    essentials_category: str = None
    has_intermediate_output: bool = None


@dataclass
class Schema:
    node_id: str
    display_name: str = None
    category: str = "sd"
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    hidden: list = field(default_factory=list)
    description: str = ""
    search_aliases: list = field(default_factory=list)
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_dev_only: bool = False
    is_api_node: bool = False
    not_idempotent: bool = False
    enable_expand: bool = False
    accept_all_inputs: bool = False
    essentials_category: str = None
    has_intermediate_output: bool = False

    def validate(self):
        ids = [i.id for i in self.inputs]
        out_ids = [o.id for o in self.outputs]
        if len(set(ids)) != len(ids) or len(set(out_ids)) != len(out_ids):
            raise ValueError("Input and output ids must be unique.")

    def finalize(self):
        self.inputs, self.outputs, self.hidden = self.inputs or [], self.outputs or [], self.hidden or []
        if self.is_output_node:
            for h in (Hidden.prompt, Hidden.extra_pnginfo):
                if h not in self.hidden:
                    self.hidden.append(h)
        for i, output in enumerate(self.outputs):
            if output.id is None:
                output.id = f"_{i}_{output.io_type}_"

    def get_v1_info(self, cls) -> NodeInfoV1:
        spec = {"required": {}}
        for i in self.inputs:
            options = i.as_dict()
            options.pop("optional", None)
            spec.setdefault("optional" if i.optional else "required", {})[i.id] = (i.get_io_type(), options)
        for h in self.hidden:
            spec.setdefault("hidden", {})[h.name] = (h.value,)
        return NodeInfoV1(
            input=spec, input_order={k: list(v) for k, v in spec.items()}, is_input_list=self.is_input_list,
            output=[o.io_type for o in self.outputs], output_is_list=[o.is_output_list for o in self.outputs],
            output_name=[o.display_name or o.io_type for o in self.outputs],
            output_tooltips=[o.tooltip or None for o in self.outputs], name=self.node_id,
            display_name=self.display_name, description=self.description, category=self.category,
            output_node=self.is_output_node, has_intermediate_output=self.has_intermediate_output,
            deprecated=self.is_deprecated, experimental=self.is_experimental, dev_only=self.is_dev_only,
            api_node=self.is_api_node, python_module=getattr(cls, "RELATIVE_PYTHON_MODULE", "nodes"),
            search_aliases=self.search_aliases or None, essentials_category=self.essentials_category)


class NodeOutput:
    def __init__(self, *args, ui=None, expand=None, block_execution=None):
        self.args, self.ui, self.expand, self.block_execution = args, ui, expand, block_execution

    @property
    def result(self):
        return self.args if len(self.args) > 0 else None

    @classmethod
    def from_dict(cls, data):
        return cls(*data.get("result", ()), ui=data.get("ui"), expand=data.get("expand"))

    def __getitem__(self, index):
        return self.args[index]


def _overridden(cls, name) -> bool:
    """ComfyUI's first_real_override: the node defines ``name`` itself (not ComfyNode's placeholder)."""
    return getattr(cls, name).__func__ is not getattr(ComfyNode, name).__func__


class ComfyNode:
    RELATIVE_PYTHON_MODULE = None
    SCHEMA = None
    hidden: HiddenHolder = None

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError

    @classmethod
    def execute(cls, **kwargs) -> NodeOutput:
        raise NotImplementedError

    @classmethod
    def validate_inputs(cls, **kwargs):
        raise NotImplementedError

    @classmethod
    def fingerprint_inputs(cls, **kwargs):
        raise NotImplementedError

    @classmethod
    def check_lazy_status(cls, **kwargs):
        return [name for name in kwargs if kwargs[name] is None]

    @classmethod
    def VALIDATE_CLASS(cls):
        for name in ("define_schema", "execute"):
            if not _overridden(cls, name):
                raise Exception(f"No {name} function was defined for node class {cls.__name__}.")

    @classmethod
    def GET_SCHEMA(cls) -> Schema:
        cls.VALIDATE_CLASS()
        schema = cls.define_schema()
        schema.finalize()
        schema.validate()
        cls.SCHEMA = schema
        return schema

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        schema = cls.define_schema()
        schema.finalize()
        return schema.get_v1_info(cls).input

    @classmethod
    def GET_NODE_INFO_V1(cls) -> dict:
        return asdict(cls.GET_SCHEMA().get_v1_info(cls))

    # what the executor and server read as class attributes
    CATEGORY = _classproperty(lambda cls: cls.GET_SCHEMA().category)
    DESCRIPTION = _classproperty(lambda cls: cls.GET_SCHEMA().description)
    OUTPUT_NODE = _classproperty(lambda cls: cls.GET_SCHEMA().is_output_node)
    HAS_INTERMEDIATE_OUTPUT = _classproperty(lambda cls: cls.GET_SCHEMA().has_intermediate_output)
    NOT_IDEMPOTENT = _classproperty(lambda cls: cls.GET_SCHEMA().not_idempotent)
    RETURN_TYPES = _classproperty(lambda cls: [o.io_type for o in cls.GET_SCHEMA().outputs])
    RETURN_NAMES = _classproperty(lambda cls: [o.display_name or o.io_type for o in cls.GET_SCHEMA().outputs])
    OUTPUT_TOOLTIPS = _classproperty(lambda cls: [o.tooltip or None for o in cls.GET_SCHEMA().outputs])

    @_classproperty
    def FUNCTION(cls):
        return "EXECUTE_NORMALIZED_ASYNC" if inspect.iscoroutinefunction(cls.execute) else "EXECUTE_NORMALIZED"

    @classmethod
    def PREPARE_CLASS_CLONE(cls, v3_data):
        clone = type(f"{cls.__name__}Clone", (cls,) + cls.__bases__, dict(cls.__dict__))
        clone.hidden = HiddenHolder.from_dict((v3_data or {}).get("hidden_inputs"))
        return clone

    @classmethod
    def EXECUTE_NORMALIZED(cls, *args, **kwargs) -> NodeOutput:
        out = cls.execute(*args, **kwargs)
        if out is None:
            return NodeOutput()
        if isinstance(out, NodeOutput):
            return out
        if isinstance(out, tuple):
            return NodeOutput(*out)
        if isinstance(out, dict):
            return NodeOutput.from_dict(out)
        raise Exception(f"Invalid return type from node: {type(out)}")
