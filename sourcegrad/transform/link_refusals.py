"""Refusals of a write through one name while another may share its memory (a mixin of the
normalize pass's builder, used by :mod:`.lower_statements`): the message names the line
where the two were linked and the way out that fits the link."""

from __future__ import annotations

import gast

from . import syntax as S
from .fresh_values import fresh_rebinding_line, link_dropped, rebound_before_read


class LinkRefusals:
    """Expects of the builder: ``fn``, ``lineno``, ``alias_checks``, ``element_names`` and
    the methods ``refuse``, ``is_dict`` and ``link_holds``."""

    def refuse_shared_links(
        self, user_name: str, target, links, through_item=False, updated=None
    ) -> None:
        """Refuse the write ``target = ...`` into ``user_name`` where one of ``links`` (``(other
        name, line, element)``) may still share its memory; an element link is refused in
        analysis only if ``other`` turns out to be more than a number. ``through_item``: the
        write changes the item in place (``x[k][j] = w``), which an item read before shares;
        ``updated``: the name of the item ``x[k] += w`` updates, refused in analysis only if
        it turns out to be more than a number (a number item is rebound, as Python does)."""
        write_line = getattr(target, "lineno", self.lineno)
        for other, line, element in links:
            fresh = fresh_rebinding_line(self.fn, user_name, write_line)
            if not self.link_holds(line, write_line, fresh):
                continue  # made after this write, or `user_name` holds a new array since
            if rebound_before_read(self.fn, other, write_line):
                continue  # `other` is given a new value before it is read again
            if line > write_line and not self.link_holds(
                line, write_line, fresh_rebinding_line(self.fn, other, write_line)
            ):
                continue  # linked in an earlier pass of a loop: `other` holds a new object since
            if not element and link_dropped(self.fn, other, line, write_line):
                continue  # `h = x`, then `h = np.sin(h)`: `h` holds a new array since
            if element and (
                (self.is_dict(S.name(user_name)) and not through_item)
                or line <= write_line
                and line < fresh_rebinding_line(self.fn, other, write_line)
            ):
                # a new item put into a dict leaves the item read before (`v = d.get("v")`)
                # as it was; and `other`, read out of `user_name`, holds a new array since
                continue
            written = f"{user_name}[...]" if through_item else S.text(target)
            message = (
                f"`{written} = ...` while `{self.shown(other)}` may share {user_name}'s "
                f"memory (they are linked at line {line}): sourcegrad writes into a copy of "
                f"{user_name}, so `{self.shown(other)}` would not see the change; "
                + self.way_out_of_link(
                    user_name,
                    other,
                    line,
                    f"make the value made at line {line} an explicit copy (add `.copy()` there"
                    + (
                        f"; a copy of a list holds the same items: copy the item, `item = "
                        f"{user_name}[k].copy()`, write into it, then `{user_name}[k] = item`"
                        if through_item
                        else ""
                    )
                    + "), or write through one name only",
                )
            )
            if updated is not None:
                site = (updated.id, write_line)
                self.element_names[site] = updated.id
                self.alias_checks.append((site, message, write_line))
                continue
            if not element:
                self.refuse(message, target)
            # allowed if `other` turns out to be a number (ranks decide, in analysis)
            self.alias_checks.append(((other, line), message, write_line))

    def shown(self, name: str) -> str:
        """How a refusal names ``name``: what the user wrote where normalize made the name
        (``next(iter([z, x]))`` for the list ``items`` it reads the first item of)."""
        return getattr(self, "written_as", {}).get(name, name)

    def way_out_of_link(self, name: str, other: str, line: int, otherwise: str) -> str:
        """The advice for a write through ``name`` while ``other`` shares its memory since
        ``line``: where ``name`` is the variable of a loop over ``other`` starting at ``line``,
        change ``other`` through an index; else ``otherwise``."""
        loops = [n for n in S.walk(self.fn) if isinstance(n, gast.For) and n.lineno == line]
        loops = [loop for loop in loops if name in S.names_in(loop.target)]
        if not loops:
            return otherwise
        if any(_over_dict_items(loop.iter) for loop in loops):
            return (
                f"change `{other}` through its keys (`for k in {other}: {other}[k] = ...`), "
                f"or compute the new values whole (`{other} = {{k: ... for k in {other}}}`)"
            )
        return (
            f"change `{other}` through an index (`for i in range(len({other})): "
            f"{other}[i] = ...`), or compute the new array whole (`{other} = ...`)"
        )


def _over_dict_items(iterated) -> bool:
    """Whether a loop runs over ``d.values()`` or ``d.items()`` (also inside ``enumerate``,
    ``sorted``, ``list`` and the like)."""
    return any(
        isinstance(n, gast.Call)
        and isinstance(n.func, gast.Attribute)
        and n.func.attr in ("values", "items")
        and not n.args
        for n in S.walk(iterated)
    )
