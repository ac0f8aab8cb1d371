"""Request and response bodies (pydantic), with examples for the OpenAPI page."""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

__all__ = [
    "BasketRequest",
    "BatchRecommendations",
    "Deleted",
    "ErrorBody",
    "Explanation",
    "InteractionsAccepted",
    "InteractionsRequest",
    "ModelInfo",
    "PredictRequest",
    "Predictions",
    "RecommendRequest",
    "Recommendations",
    "ReloadRequest",
    "Reloaded",
    "SimilarItems",
    "SimilarUsers",
]

#: a raw id: JSON string or integer (as in the training data)
Id = Union[StrictInt, StrictStr]  # noqa: UP007 (pydantic needs the runtime Union)
_HARD_MAX = 100_000  # the service's own --max-ids is checked on top of this


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every 4xx/5xx reply: one clear message."""

    error: str = Field(examples=["user 'nobody' is not known (not in the model, ...)"])
    status: int = Field(examples=[404])


class Recommendations(BaseModel):
    user: Id = Field(examples=[196])
    items: list[Id] = Field(examples=[[50, 181, 100]])
    scores: list[float] = Field(examples=[[4.61, 4.52, 4.49]])
    fallback: Literal["popular"] | None = Field(
        None, description="'popular' when the user is unknown and fallback=popular was asked for"
    )
    source: Literal["model", "live", "popular"] = Field(
        "model",
        description="model: a training user; live: folded in from posted "
        "interactions; popular: the popularity fallback",
    )
    model_version: int = Field(1, examples=[1])


class RecommendRequest(_Body):
    users: list[Id] = Field(max_length=_HARD_MAX, examples=[[196, 186]])
    n: int = Field(10, ge=1, examples=[10])
    exclude_seen: bool = True
    items: list[Id] | None = Field(None, max_length=_HARD_MAX, description="allow-list")
    exclude: list[Id] | None = Field(None, max_length=_HARD_MAX)
    fallback: Literal["none", "popular"] = "none"


class BatchRecommendations(BaseModel):
    results: list[Recommendations]
    model_version: int


class BasketRequest(_Body):
    items: list[Id] = Field(min_length=1, max_length=_HARD_MAX, examples=[[50, 172, 181]])
    ratings: list[float] | None = Field(None, examples=[[5, 4, 5]])
    weights: list[float] | None = None
    n: int = Field(10, ge=1)
    exclude_seen: bool = True
    allow: list[Id] | None = Field(None, max_length=_HARD_MAX, description="allow-list")
    exclude: list[Id] | None = Field(None, max_length=_HARD_MAX)


class BasketRecommendations(BaseModel):
    items: list[Id]
    scores: list[float]
    unknown_items: list[Id] = Field(description="basket items the model does not know (ignored)")
    model_version: int


class SimilarItems(BaseModel):
    item: Id
    items: list[Id]
    similarities: list[float]
    model_version: int


class SimilarUsers(BaseModel):
    user: Id
    users: list[Id]
    similarities: list[float]
    model_version: int


class Prediction(BaseModel):
    user: Id = Field(examples=[196])
    item: Id = Field(examples=[242])
    score: float = Field(examples=[3.9])
    fallback: bool = Field(
        False,
        description="True when the user or item is unknown and the "
        "score is the global mean plus the known bias",
    )
    model_version: int = 1


class PredictRequest(_Body):
    users: list[Id] = Field(max_length=_HARD_MAX, examples=[[196, 186]])
    items: list[Id] = Field(max_length=_HARD_MAX, examples=[[242, 302]])


class Predictions(BaseModel):
    users: list[Id]
    items: list[Id]
    scores: list[float]
    fallback: list[bool]
    model_version: int


class Part(BaseModel):
    kind: str = Field(examples=["factor"])
    name: str = Field(examples=["factor 3"])
    contribution: float = Field(examples=[0.42])


class Explanation(BaseModel):
    user: Id
    item: Id
    score: float
    note: str = ""
    parts: list[Part]
    model_version: int


class InteractionsRequest(_Body):
    items: list[Id] = Field(min_length=1, max_length=_HARD_MAX, examples=[[50, 172, 181]])
    ratings: list[float] | None = Field(
        None, examples=[[5, 4, 5]], description="for rating models: one per item"
    )
    weights: list[float] | None = Field(None, description="for implicit models (default 1)")


class InteractionsAccepted(BaseModel):
    user: Id
    accepted: int = Field(description="interactions stored (committed before this reply)")
    unknown_items: list[Id] = Field(
        description="items the model does not know: stored (a refit "
        "learns them) but not folded in (first 100)"
    )
    n_unknown_items: int
    stored_interactions: int = Field(description="all interactions stored for this user")
    live: bool = Field(description="whether the user now has folded-in factors")
    model_version: int


class Deleted(BaseModel):
    user: Id
    deleted_interactions: int
    deleted: bool
    note: str = ""


class ReloadRequest(_Body):
    path: str | None = Field(
        None,
        description="model file to load (default: re-read the file being served)",
        examples=["models/svd-v2.lfm"],
    )


class Reloaded(BaseModel):
    model_version: int
    previous_version: int
    path: str
    live_users: int
    sha256: str
    note: str = ""


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    model_class: str
    version: int
    n_users: int
    n_items: int
