"""The HTML page of a map, rendered as branca does but without compiling rendered text again.

branca wraps the header, body and script that an element's macros render in an ``Element``,
whose constructor compiles that text as a Jinja template, to render it once more with the
page. For a siting map that is a few hundred compilations, the largest over the GeoJSON of a
layer: about two thirds of the time the page took to render. The text holds no template
syntax (it was rendered already), and where a feature's name or popup did hold ``{{`` or
``{#`` the second pass changed or broke it. Here each part goes into the page as it is.

Imported only when a page is rendered: ``maps.export`` stays free of branca and folium.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from branca.element import Element, Figure, MacroElement

from layers.errors import FoncierError

if TYPE_CHECKING:
    import folium

__all__ = ["render_page"]

_NEWLINE_RE = re.compile(r"\r\n|\r|\n")


class _Text(Element):
    """A part of the page that renders as the text it was given."""

    def __init__(self, text: str) -> None:
        super().__init__()
        # What branca's Element(text) gives after its Jinja pass over plain text: line
        # ends made "\n" and one final line end dropped.
        lines = _NEWLINE_RE.split(text)
        if lines and lines[-1] == "":
            lines.pop()
        self._text = "\n".join(lines)

    def render(self, **kwargs: Any) -> str:
        return self._text


class _TextParts(MacroElement):
    """``MacroElement.render`` that adds the rendered parts to the page as :class:`_Text`."""

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # as MacroElement.render
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise FoncierError(f"{self.get_name()} is not on a page: it cannot be rendered")
        module = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = module.get(part)
            if macro is not None:
                target = getattr(figure, part)
                target.add_child(_Text(macro(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


_TEXT_PARTS_CLASSES: dict[type, type | None] = {MacroElement: _TextParts}


def _text_parts_class(cls: type) -> type | None:
    """``cls`` with :class:`_TextParts` just above ``MacroElement`` in its method order."""
    if cls not in _TEXT_PARTS_CLASSES:
        try:
            sub = type(cls.__name__, (cls, _TextParts), {"__module__": cls.__module__})
        except TypeError:  # no consistent method order: left as branca renders it
            sub = None
        _TEXT_PARTS_CLASSES[cls] = sub
    return _TEXT_PARTS_CLASSES[cls]


def render_page(m: folium.Map) -> str:
    """Return the full HTML page of ``m`` (see the module's description).

    Each element of the map has its class replaced by a subclass with
    :class:`_TextParts` just above ``MacroElement`` during the rendering, and given back
    afterwards.

    Parameters
    ----------
    m : folium.Map
        Map to render.

    Returns
    -------
    str
        The HTML page.
    """
    root = m.get_root()
    swapped: list[tuple[Element, type]] = []
    stack: list[Element] = [root]
    while stack:
        element = stack.pop()
        stack.extend(element._children.values())
        cls = type(element)
        if isinstance(element, MacroElement) and not isinstance(element, _TextParts):
            sub = _text_parts_class(cls)
            if sub is not None:
                element.__class__ = sub
                swapped.append((element, cls))
    try:
        return str(root.render())
    finally:
        for element, cls in swapped:
            element.__class__ = cls
