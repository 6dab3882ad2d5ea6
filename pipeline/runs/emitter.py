"""The typed ``emit``: one overload per event type over that type's fields (pipeline.runs.vocabulary).

``ctx.emit(EventType.PROGRESS, 0, total_step=10)`` (a typo), a missing required field or a wrong value
type is a mypy error at the call; at run time every type and field is written as given.
"""

from __future__ import annotations

from typing import Any, Literal, Unpack, overload

from pipeline.runs.vocabulary import (
    AbliterateChosenFields,
    AbliterateSetupFields,
    AlertFields,
    AttemptFields,
    BaselineFields,
    BranchFields,
    ChainFields,
    CheckpointFields,
    ComparisonFields,
    DatagenFields,
    EvalFields,
    EventType,
    ExportFields,
    JudgeFields,
    MergeFields,
    MetricsFields,
    ProgressFields,
    ResourcesFields,
    ResumeFields,
    StatusFields,
    TrialFields,
)


class Emitter:
    """``emit(type, step, **fields)`` checked per type; a subclass writes the event in :meth:`_emit`.

    ``step`` is the optimizer step (None: an event outside the step count); fields that are None are
    left out of the line.
    """

    @overload
    def emit(self, type: Literal[EventType.METRICS], step: int | None = None,
             **fields: Unpack[MetricsFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.PROGRESS], step: int | None = None,
             **fields: Unpack[ProgressFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.ALERT], step: int | None = None,
             **fields: Unpack[AlertFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.CHECKPOINT], step: int | None = None,
             **fields: Unpack[CheckpointFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.STATUS], step: int | None = None,
             **fields: Unpack[StatusFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.ATTEMPT], step: int | None = None,
             **fields: Unpack[AttemptFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.CHAIN], step: int | None = None,
             **fields: Unpack[ChainFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.RESUME], step: int | None = None,
             **fields: Unpack[ResumeFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.BRANCH], step: int | None = None,
             **fields: Unpack[BranchFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.MERGE], step: int | None = None,
             **fields: Unpack[MergeFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.COMPARISON], step: int | None = None,
             **fields: Unpack[ComparisonFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.EXPORT], step: int | None = None,
             **fields: Unpack[ExportFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.DATAGEN], step: int | None = None,
             **fields: Unpack[DatagenFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.JUDGE], step: int | None = None,
             **fields: Unpack[JudgeFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.EVAL], step: int | None = None,
             **fields: Unpack[EvalFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.ABLITERATE_SETUP], step: int | None = None,
             **fields: Unpack[AbliterateSetupFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.BASELINE], step: int | None = None,
             **fields: Unpack[BaselineFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.TRIAL], step: int | None = None,
             **fields: Unpack[TrialFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.ABLITERATE_CHOSEN], step: int | None = None,
             **fields: Unpack[AbliterateChosenFields]) -> None: ...
    @overload
    def emit(self, type: Literal[EventType.RESOURCES], step: int | None = None,
             **fields: Unpack[ResourcesFields]) -> None: ...

    def emit(self, type: EventType, step: int | None = None, **fields: Any) -> None:
        self._emit(type, step, fields)

    def _emit(self, type: EventType, step: int | None, fields: dict[str, Any]) -> None:
        raise NotImplementedError
