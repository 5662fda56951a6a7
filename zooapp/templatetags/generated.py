"""``{% generated_examples version %}``: a model version's generated training images, marked as generated."""
from __future__ import annotations

from django import template

from zooapp.services.generated import generated_examples as examples_of

register = template.Library()


@register.inclusion_tag("zooapp/_generated_examples.html")
def generated_examples(version, n: int = 4) -> dict:
    return {"version": version, "examples": examples_of(version=version, n=n)}
