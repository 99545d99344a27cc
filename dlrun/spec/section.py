"""The base of every spec section, and the type of a section that comes in several forms."""

from __future__ import annotations

from typing import Annotated, Any, Callable, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Tag
from pydantic.json_schema import SkipJsonSchema


class Section(BaseModel):
    """A part of the spec that forbids unknown keys, so a typo is reported instead of ignored.
    Every number in it must be finite: NaN, .inf and -.inf are refused in every float field."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


def one_of_forms(name: str, forms: dict[str, type], pick: Callable[[Any], str | None], hidden: str) -> Any:
    """A section with several forms, as a type: `pick` reads the data and names the form's tag.

    The `hidden` form takes what fits no form and only reports the mistake, so it is left out
    of the JSON Schema. Anything but a mapping is refused with the message pydantic gives a
    single section, naming `name`. The tags appear in error locations after the section's path.
    """
    members = [Annotated[SkipJsonSchema[cls] if tag == hidden else cls, Tag(tag)] for tag, cls in forms.items()]
    return Annotated[Union[tuple(members)],
                     Discriminator(pick, custom_error_type=f"{name}_form",
                                   custom_error_message=f"Input should be a valid dictionary or instance of {name}")]
