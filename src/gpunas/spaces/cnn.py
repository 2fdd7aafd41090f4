"""CNN search spaces (``kind: cnn``): GPUNet-style stages as data, and the integer-vector encoding.

A space file (``gpunas/data/spaces/*.yaml``, or your own) lists global choices and one entry per stage. Each field
with more than one choice that is neither ``fixed`` nor ``tied`` (see the file's ``encoding``
section) is one integer of a candidate's vector: the **index** of the chosen value in the field's
choice list. Field order is resolution first, then for each stage in order
``kernel, layers, act, expansion, filters, se`` (skipping constants), then ``head_width``.
For ``gpunet.yaml`` this gives the 41 integers
``[resolution, stem filters, stage 1: kernel, layers, act, stages 2..7: kernel, layers, act,
expansion, filters, se]``.

A stage whose ``layers`` choice is 0 vanishes. Its other fields then carry no information, so a
vector is *canonical* when those fields are at index 0; :meth:`SearchSpace.encode` always returns
the canonical vector, and samplers emit canonical vectors only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from importlib import resources
from typing import Any

import jsonschema
import numpy as np
import yaml

from gpunas.arch import Architecture, StageConfig
from gpunas.errors import GpunasError
from gpunas.spaces.base import Field, Space

STAGE_FIELDS = ("kernel", "layers", "act", "expansion", "filters", "se")


def _expand(spec: Any, where: str) -> tuple[Any, ...]:
    """Turn a choices spec (list, scalar or {min,max,step}) into a tuple of values."""
    if isinstance(spec, dict):
        lo, hi, step = spec["min"], spec["max"], spec.get("step", 1)
        if lo > hi:
            raise GpunasError(f"{where}: min {lo} > max {hi}")
        if (hi - lo) % step:
            raise GpunasError(f"{where}: max {hi} is not min {lo} plus a multiple of step {step}")
        return tuple(range(lo, hi + 1, step))
    if isinstance(spec, list):
        if not spec:
            raise GpunasError(f"{where}: empty choice list")
        return tuple(spec)
    return (spec,)


class SearchSpace(Space):
    """A validated CNN search space with encode/decode of integer vectors."""

    kind = "cnn"

    def __init__(self, data: dict[str, Any], source: str = "<dict>") -> None:
        self.source = source
        self.data = data
        _validate_schema(data, source)
        self.name: str = data["name"]
        self.resolution = _expand(data["resolution"], f"{source}: resolution")
        self.head_width = _expand(data["head_width"], f"{source}: head_width")
        self.stages: list[dict[str, Any]] = []
        for i, st in enumerate(data["stages"]):
            where = f"{source}: stages[{i}]"
            block = st["block"]
            entry: dict[str, Any] = {"block": block, "stride": st["stride"]}
            for key in STAGE_FIELDS:
                if key == "expansion" and block == "conv":
                    if "expansion" in st:
                        raise GpunasError(f"{where}.expansion: conv stages take no expansion")
                    entry[key] = (1,)
                    continue
                if key == "se" and block == "conv":
                    if st.get("se") not in (None, 0, [0]):
                        raise GpunasError(f"{where}.se: conv stages take no SE")
                    entry[key] = (0,)
                    continue
                if key not in st:
                    if key in ("expansion", "se"):
                        raise GpunasError(f"{where}: missing '{key}' for block {block}")
                    raise GpunasError(f"{where}: missing '{key}'")
                entry[key] = _expand(st[key], f"{where}.{key}")
            for k in entry["kernel"]:
                if k < 1 or k % 2 == 0:
                    raise GpunasError(f"{where}.kernel: {k} is not a positive odd kernel size")
            for key in ("filters", "expansion"):
                if min(entry[key]) < 1:
                    raise GpunasError(f"{where}.{key}: values must be >= 1, got {min(entry[key])}")
            if min(entry["layers"]) < 0:
                raise GpunasError(f"{where}.layers: values must be >= 0")
            if i == 0 and 0 in entry["layers"]:
                raise GpunasError(f"{where}.layers: the stem (stage 0) cannot vanish")
            self.stages.append(entry)
        self._fixed, self._tied = self._read_encoding(data.get("encoding", {}))
        self.fields: tuple[Field, ...] = tuple(self._build_fields())
        self._index = {f.name: i for i, f in enumerate(self.fields)}

    # ----------------------------------------------------------------- construction helpers
    def _all_choices(self, name: str) -> tuple[Any, ...]:
        if name in ("resolution", "head_width"):
            return getattr(self, name)
        stage, _, key = name.partition(".")
        if not stage.startswith("stage") or key not in STAGE_FIELDS:
            raise GpunasError(f"{self.source}: encoding: unknown field {name!r} (use 'stageN.<field>')")
        try:
            idx = int(stage[5:])
            return self.stages[idx][key]
        except (ValueError, IndexError):
            raise GpunasError(
                f"{self.source}: encoding: unknown stage in {name!r} (0..{len(self.stages) - 1})"
            ) from None

    def _read_encoding(self, enc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        fixed = dict(enc.get("fixed", {}))
        tied = dict(enc.get("tied", {}))
        for name, value in fixed.items():
            choices = self._all_choices(name)
            if value not in choices:
                raise GpunasError(
                    f"{self.source}: encoding.fixed.{name}: {value!r} is not one of {list(choices)}"
                )
        for name, src in tied.items():
            if self._all_choices(name) != self._all_choices(src):
                raise GpunasError(
                    f"{self.source}: encoding.tied.{name}: choices differ from those of {src!r}"
                )
            if src in tied or src in fixed:
                raise GpunasError(f"{self.source}: encoding.tied.{name}: source {src!r} is not free")
        return fixed, tied

    def _build_fields(self) -> list[Field]:
        fields = []
        names = ["resolution"]
        names += [f"stage{i}.{k}" for i in range(len(self.stages)) for k in STAGE_FIELDS]
        names.append("head_width")
        for name in names:
            choices = self._all_choices(name)
            if len(choices) > 1 and name not in self._fixed and name not in self._tied:
                fields.append(Field(name, choices))
        return fields

    # ---------------------------------------------------------------------------- properties
    def cardinality(self) -> int:
        """Number of distinct architectures (vanished stages counted once)."""
        res = len(self.resolution) * self._free_size("head_width")
        for i, st in enumerate(self.stages):
            others = math.prod(self._free_size(f"stage{i}.{k}") for k in STAGE_FIELDS if k != "layers")
            n_layers = self._free_size(f"stage{i}.layers")
            zero = 1 if 0 in st["layers"] and n_layers > 1 else 0
            res *= (n_layers - zero) * others + zero
        return res

    def _free_size(self, name: str) -> int:
        return self.fields[self._index[name]].size if name in self._index else 1

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "dim": self.dim,
            "cardinality": self.cardinality(),
            "cardinality_log10": round(math.log10(self.cardinality()), 3),
            "fields": [
                {"index": i, "name": f.name, "size": f.size, "choices": list(f.choices)}
                for i, f in enumerate(self.fields)
            ],
            "fixed": self._fixed,
            "tied": self._tied,
            "stages": [
                {"index": i, "block": s["block"], "stride": s["stride"]}
                | {k: list(s[k]) for k in STAGE_FIELDS}
                for i, s in enumerate(self.stages)
            ],
        }

    # ------------------------------------------------------------------------------ encoding
    def describe(self, vector: Any) -> str:
        """The arch string of a vector."""
        return self.decode(vector).to_string()

    def _value(self, name: str, vec: list[int]) -> Any:
        if name in self._fixed:
            return self._fixed[name]
        if name in self._tied:
            return self._value(self._tied[name], vec)
        if name in self._index:
            f = self.fields[self._index[name]]
            return f.choices[vec[self._index[name]]]
        return self._all_choices(name)[0]

    def decode(self, vector: Any) -> Architecture:
        vec = self.check_vector(vector)
        stages = []
        for i, st in enumerate(self.stages):
            vals = {k: self._value(f"stage{i}.{k}", vec) for k in STAGE_FIELDS}
            if vals["layers"] == 0:
                continue
            stages.append(
                StageConfig(
                    index=i,
                    block=st["block"],
                    layers=int(vals["layers"]),
                    kernel=int(vals["kernel"]),
                    stride=int(st["stride"]),
                    out_channels=int(vals["filters"]),
                    act=str(vals["act"]),
                    expansion=int(vals["expansion"]),
                    se=bool(vals["se"]),
                )
            )
        return Architecture(
            resolution=int(self._value("resolution", vec)),
            stages=tuple(stages),
            head_width=int(self._value("head_width", vec)),
        )

    def encode(self, arch: Architecture, where: Callable[[int], str] | None = None) -> list[int]:
        """The canonical vector of ``arch``; ``ValueError`` if ``arch`` is not in the space.

        The error names the layer that falls outside (``where(i)`` names layer ``i``, e.g. the
        record of an NVIDIA file), the field and the value.
        """
        name_of = where or (lambda i: f"layer {i}")
        if arch.distill:
            raise GpunasError(
                f"{name_of(0)}: NVIDIA's distilled block set is not part of space {self.name!r}"
            )
        by_index, first = self._stages_by_index(arch, name_of)
        values, where_of = self._field_values(arch, by_index, first, name_of)
        for name, value in values.items():
            self._check_value(name, value, values, where_of.get(name, f"stage {name.split('.')[0][5:]}"))
        # a field of a vanished stage takes the canonical index 0
        return [f.choices.index(values[f.name]) if f.name in values else 0 for f in self.fields]

    def _stages_by_index(
        self, arch: Architecture, name_of: Callable[[int], str]
    ) -> tuple[dict[int, StageConfig], dict[int, int]]:
        """Each stage index's one configuration, and the position of its first layer; refuses a
        stage whose layers differ (this space has one configuration per stage) or that does not exist."""
        by_index: dict[int, StageConfig] = {}
        first: dict[int, int] = {}
        pos = 0
        for st in arch.stages:
            first.setdefault(st.index, pos)
            if st.index in by_index:
                ref = by_index[st.index]
                diff = [
                    f"{k} {getattr(ref, k)} -> {getattr(st, k)}"
                    for k in ("block", "kernel", "expansion", "out_channels", "act", "se")
                    if getattr(ref, k) != getattr(st, k)
                ]
                what = ", ".join(diff) or f"stride {st.stride} inside the stage"
                raise GpunasError(
                    f"{name_of(pos)} (stage {st.index}): {what}: space {self.name!r} has one configuration "
                    "per stage"
                )
            by_index[st.index] = st
            pos += st.layers
        if max(by_index) >= len(self.stages):
            raise GpunasError(
                f"{name_of(first[max(by_index)])}: stage {max(by_index)} does not exist in space "
                f"{self.name!r} (stages 0..{len(self.stages) - 1})"
            )
        return by_index, first

    def _field_values(
        self,
        arch: Architecture,
        by_index: dict[int, StageConfig],
        first: dict[int, int],
        name_of: Callable[[int], str],
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """(field -> value, field -> where it came from) of ``arch``'s stages against the space's."""
        values: dict[str, Any] = {"resolution": arch.resolution, "head_width": arch.head_width}
        where_of: dict[str, str] = {"resolution": "resolution", "head_width": "head width"}
        for i, st in enumerate(self.stages):
            s = by_index.get(i)
            if s is None:
                if 0 not in st["layers"]:
                    raise GpunasError(f"stage {i} is missing but space {self.name!r} does not allow 0 layers")
                values[f"stage{i}.layers"] = 0
                continue
            layer = f"{name_of(first[i])} (stage {i})"
            if s.block != st["block"] or s.stride != st["stride"]:
                raise GpunasError(
                    f"{layer}: {s.block} stride {s.stride} does not match space {self.name!r} "
                    f"({st['block']} stride {st['stride']})"
                )
            fields = {
                "kernel": s.kernel,
                "layers": s.layers,
                "act": s.act,
                "expansion": s.expansion,
                "filters": s.out_channels,
                "se": int(s.se),
            }
            for key, value in fields.items():
                values[f"stage{i}.{key}"] = value
                where_of[f"stage{i}.{key}"] = layer
        return values, where_of

    def _check_value(self, name: str, value: Any, values: dict[str, Any], where: str) -> None:
        """A field's value is one of its choices, equals its fixed value and its tie source."""
        choices = self._all_choices(name)
        if value not in choices:
            raise GpunasError(
                f"{where}: {name}: {value!r} is not in space {self.name!r} (allowed {_describe_choices(choices)})"
            )
        if name in self._fixed and value != self._fixed[name]:
            raise GpunasError(
                f"{where}: {name}: {value!r} differs from the fixed value {self._fixed[name]!r}"
            )
        if name in self._tied and value != values.get(self._tied[name], value):
            raise GpunasError(
                f"{where}: {name}: {value!r} must equal {self._tied[name]} "
                f"({values[self._tied[name]]!r}) in space {self.name!r}"
            )

    def vanishing_groups(self) -> list[tuple[str, list[int]]]:
        """For each stage that can vanish (0 among its layers): its other encoded fields."""
        groups = []
        for i, st in enumerate(self.stages):
            if 0 in st["layers"] and f"stage{i}.layers" in self._index:
                idx = [
                    self._index[f"stage{i}.{k}"]
                    for k in STAGE_FIELDS
                    if k != "layers" and f"stage{i}.{k}" in self._index
                ]
                groups.append((f"stage{i}", idx))
        return groups

    def _vanished(self, vectors: np.ndarray, stage: int) -> np.ndarray:
        lname = f"stage{stage}.layers"
        zero_idx = self.fields[self._index[lname]].choices.index(0)
        return np.asarray(vectors)[:, self._index[lname]] == zero_idx

    def absent(self, vectors: np.ndarray) -> np.ndarray:
        """True for the fields of vanished stages (they carry no information)."""
        vectors = np.atleast_2d(vectors)
        out = np.zeros(vectors.shape, dtype=bool)
        for name, idx in self.vanishing_groups():
            out[np.ix_(self._vanished(vectors, int(name.removeprefix("stage"))), idx)] = True
        return out

    def canonicalize(self, vectors: np.ndarray) -> np.ndarray:
        """Vectorised: set the fields of vanished stages to index 0 (rows of a 2-D array)."""
        out = np.array(vectors, copy=True)
        out[self.absent(out)] = 0
        return out

    @property
    def tied(self) -> dict[str, str]:
        return dict(self._tied)

    @property
    def fixed(self) -> dict[str, Any]:
        return dict(self._fixed)

    def choices_of(self, name: str) -> tuple[Any, ...]:
        """Values field ``name`` can take (a fixed field has one; a tied one its source's)."""
        if name in self._fixed:
            return (self._fixed[name],)
        if name in self._tied:
            return self.choices_of(self._tied[name])
        return self._all_choices(name)

    def field_values(self, vectors: np.ndarray, name: str, convert: Any = None) -> np.ndarray:
        """Vectorised: the value of field ``name`` for every row of ``vectors``.

        ``convert`` maps each choice to a number first (e.g. ``lambda a: a == "swish"``), so that
        string-valued fields are looked up as numbers, not as arrays of strings.
        """
        n = len(vectors)
        if name in self._tied:
            return self.field_values(vectors, self._tied[name], convert)
        conv = convert or (lambda v: v)
        if name in self._fixed:
            return np.full(n, conv(self._fixed[name]))
        if name in self._index:
            table = np.asarray([conv(c) for c in self.fields[self._index[name]].choices])
            return table[np.asarray(vectors)[:, self._index[name]]]
        return np.full(n, conv(self._all_choices(name)[0]))

    def field_index(self, name: str) -> int:
        return self._index[name]


def _describe_choices(choices: tuple[Any, ...]) -> str:
    vals = list(choices)
    numeric = all(isinstance(v, int) and not isinstance(v, bool) for v in vals)
    steps = {b - a for a, b in itertools.pairwise(vals)} if numeric else set()
    if numeric and len(vals) > 3 and len(steps) == 1:
        return f"{vals[0]}..{vals[-1]} step {steps.pop()}"
    return str(vals)


def _validate_schema(data: Any, source: str) -> None:
    schema = yaml.safe_load(resources.files("gpunas.data").joinpath("space.schema.yaml").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = ".".join(str(p) for p in err.absolute_path) or "<top level>"
        msg = err.message
        if err.validator == "oneOf":  # give the reason of the closest alternative
            best = jsonschema.exceptions.best_match(err.context) if err.context else None
            msg = best.message if best is not None else msg
        raise GpunasError(f"{source}: {path}: {msg}")
