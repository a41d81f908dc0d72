"""`Flow[I, O]`: workflows as typed values that compile to Programs.

Leaves (`step`, `actor`, `call`, `pure`, `identity`) and combinators (``>>``, `Flow.map`,
`zip_all`, `race`, `branch`, `loop`, `at_least`, ...) build an immutable tree; `Flow.to_program`
compiles it, so every interpreter runs it and the simulator explores it; `run_flow` runs it on
asyncio. Flows save to dict/JSON/YAML through a `Registry` of named functions and draw as
Mermaid.

>>> from playbill.flow import run_flow, step
>>> run_flow(step(lambda text: text.split()) >> step(len), "to be or not to be")
6
"""

from playbill.flow._compile import FlowEvent
from playbill.flow._errors import (
    FilteredOut,
    FlowError,
    FlowSpecError,
    LoopLimitExceeded,
    NoBranchMatched,
    QuorumNotReached,
    WrongInput,
)
from playbill.flow._mermaid import to_mermaid
from playbill.flow._nodes import (
    Continue,
    Done,
    Flow,
    QuorumResult,
    actor,
    and_then,
    at_least,
    branch,
    branch_on,
    call,
    identity,
    loop,
    loop_with_state,
    pure,
    race,
    step,
    zip_all,
)
from playbill.flow._registry import Registry
from playbill.flow._run import run_flow
from playbill.flow._serialise import (
    FORMAT,
    from_dict,
    from_json,
    from_yaml,
    to_dict,
    to_json,
    to_yaml,
)
from playbill.flow._spans import span_tree

__all__ = [
    "FORMAT",
    "Continue",
    "Done",
    "FilteredOut",
    "Flow",
    "FlowError",
    "FlowEvent",
    "FlowSpecError",
    "LoopLimitExceeded",
    "NoBranchMatched",
    "QuorumNotReached",
    "QuorumResult",
    "Registry",
    "WrongInput",
    "actor",
    "and_then",
    "at_least",
    "branch",
    "branch_on",
    "call",
    "from_dict",
    "from_json",
    "from_yaml",
    "identity",
    "loop",
    "loop_with_state",
    "pure",
    "race",
    "run_flow",
    "span_tree",
    "step",
    "to_dict",
    "to_json",
    "to_mermaid",
    "to_yaml",
    "zip_all",
]
