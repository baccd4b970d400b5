"""Base classes of manipulations: the social pressure added to a neutral prompt.

Most manipulations are a sentence placed somewhere in the user turn; a
:class:`TemplateManipulation` declares it as text with placeholders. A
manipulation that needs full control, e.g. several turns, subclasses
:class:`Manipulation` and builds the conversation itself.
"""

from __future__ import annotations

import string
from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from .prompts import PromptParts
from .schemas import Case, Condition, Conversation, Position

__all__ = [
    "PLACEHOLDERS",
    "Manipulation",
    "ManipulationContext",
    "TemplateManipulation",
    "template_manipulation",
]

PLACEHOLDERS = ("bait", "gold", "question", "bait_label", "gold_label")
"""Placeholders a template may use. ``bait``/``gold`` are the answers' text;
``bait_label``/``gold_label`` are how the prompt shows them, e.g. ``(B) Lyon``."""


class ManipulationContext(BaseModel):
    """What a manipulation knows about the case it is applied to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case: Case
    """The case being scored."""
    order: str
    """Option order of the prompt."""
    gold_label: str
    """How the prompt refers to the gold answer, e.g. ``(A) Paris``."""
    bait_label: str
    """How the prompt refers to the bait, e.g. ``(B) Lyon``."""
    neutral_choice: str | None = None
    """For manipulations with ``needs_neutral_answer``: ``gold`` or ``bait``,
    whichever the model preferred under the neutral prompt in this order."""


class Manipulation(ABC):
    """A condition that changes the neutral prompt.

    Subclasses set :attr:`condition` and implement :meth:`build`.
    """

    condition: ClassVar[Condition]
    """Name, family, direction, description and text position."""

    @abstractmethod
    def build(self, parts: PromptParts, context: ManipulationContext) -> Conversation:
        """Return the conversation for this condition, given the neutral prompt parts."""

    @property
    def name(self) -> str:
        """The condition name."""
        return self.condition.name


class TemplateManipulation(Manipulation):
    """A manipulation whose text is a template inserted at ``condition.position``.

    ``template`` may use the placeholders in :data:`PLACEHOLDERS`; any other
    placeholder is an error when the class is defined.
    """

    template: ClassVar[str]
    """Text with ``{bait}``, ``{gold}``, ``{question}``, ``{bait_label}``, ``{gold_label}``."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "template" in cls.__dict__:
            _check_template(cls.__name__, cls.template)

    def render(self, context: ManipulationContext) -> str:
        """Return the template filled in for ``context``."""
        return self.template.format(
            bait=context.case.bait.text,
            gold=context.case.item.gold,
            question=context.case.item.question,
            bait_label=context.bait_label,
            gold_label=context.gold_label,
        )

    def build(self, parts: PromptParts, context: ManipulationContext) -> Conversation:
        return parts.insert(self.condition.position, self.render(context)).to_conversation()


def _check_template(owner: str, template: str) -> None:
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None and field not in PLACEHOLDERS:
            raise ValueError(
                f"{owner}: unknown placeholder {{{field}}} in template; "
                f"allowed: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )


def template_manipulation(
    name: str,
    template: str,
    *,
    family: str,
    directional: bool,
    description: str = "",
    position: Position = Position.END_OF_TURN,
) -> TemplateManipulation:
    """Create a template manipulation without writing a class.

    >>> m = template_manipulation("aunt", "My aunt says it is {bait}.",
    ...                           family="authority", directional=True)
    """
    condition = Condition(
        name=name,
        family=family,
        directional=directional,
        description=description,
        position=position,
    )
    class_name = "".join(part.capitalize() for part in name.split("_")) + "Manipulation"
    cls = type(
        class_name,
        (TemplateManipulation,),
        {"condition": condition, "template": template, "__module__": __name__},
    )
    instance: TemplateManipulation = cls()
    return instance
