"""Request and response bodies of the prediction API (separate from the tables)."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from champion.types import ABMode, Variant

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Label = bool | int | FiniteFloat | Annotated[str, Field(max_length=256)]
#: A user id: a string of 1–256 characters or a 64-bit integer — never a boolean or a
#: float (strict: ``true`` is not user "1").
UserId = (
    Annotated[str, Field(strict=True, min_length=1, max_length=256)]
    | Annotated[int, Field(strict=True, ge=-(2**63), le=2**63 - 1)]
)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: UserId | None = Field(
        None, description="Routes the user to the same variant for the whole experiment."
    )
    features: dict[str, Any] = Field(description="Feature name -> value (null if unknown).")


class Item(NamedTuple):
    """A request already checked to be what :class:`PredictRequest` accepts unchanged
    (the ``/predict`` fast path's; building a model instance costs more than serving
    needs)."""

    user_id: str | int | None
    features: dict[str, Any]


class PredictResponse(BaseModel):
    request_id: str
    experiment_id: str
    variant: Variant
    model_version: str
    prediction: Any
    probability: float | None = Field(
        None, description="Binary: P(positive class); multiclass: P(predicted class)."
    )
    ignored_features: list[str] = Field(
        default_factory=list, description="Keys of `features` the answering model does not use."
    )


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[PredictRequest] = Field(min_length=1)


class BatchResponse(BaseModel):
    predictions: list[PredictResponse]


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(min_length=1, max_length=36)
    label: Label


class FeedbackRequest(BaseModel):
    """One label (``request_id`` + ``label``) or several (``items``)."""

    model_config = ConfigDict(extra="forbid")
    request_id: str | None = Field(None, min_length=1, max_length=36)
    label: Label | None = None
    items: list[FeedbackItem] | None = Field(None, min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _one_form(self) -> FeedbackRequest:
        single = self.request_id is not None or self.label is not None
        if single == (self.items is not None):
            raise ValueError("give either request_id and label, or items")
        if single and (self.request_id is None or self.label is None):
            raise ValueError("request_id and label go together")
        return self

    def pairs(self) -> list[tuple[str, Any]]:
        if self.items is not None:
            return [(i.request_id, i.label) for i in self.items]
        return [(self.request_id, self.label)]  # type: ignore[list-item]


class FeedbackResponse(BaseModel):
    inserted: int
    duplicates: int


class ABConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: ABMode
    split_b: Annotated[float, Field(ge=0, le=1)] = 0.5
    experiment_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")] | None = Field(
        None, description="Default: keep the current experiment id."
    )
    note: Annotated[str, Field(max_length=1000)] = ""


class ABConfigOut(BaseModel):
    experiment_id: str
    mode: ABMode
    split_b: float
    phase: int = Field(0, description="Every change of the configuration starts a phase.")
    updated_at: str
    updated_by: str
    note: str


class VariantOut(BaseModel):
    variant: str
    model_versions: list[str]
    predictions: int
    labelled: int
    label_coverage: float
    accuracy: float | None
    mae: float | None
    mean_latency_ms: float | None


class ABReport(BaseModel):
    experiment_id: str
    mode: ABMode
    split_b: float
    variants: list[VariantOut]
