"""The OpenAPI schema generator: drf-spectacular's, with unique names for nested serializers."""
from __future__ import annotations

from drf_spectacular.openapi import AutoSchema


class ZooAutoSchema(AutoSchema):
    """Names a nested ``InputSerializer`` after its view (``ExportViewSetInput``).

    Every API view nests classes called InputSerializer and OutputSerializer; by their bare
    class names they would collide, and the schema would describe one view's body with another's.
    """

    def get_serializer_name(self, serializer, direction) -> str:
        qualname = type(serializer).__qualname__
        return qualname.replace(".", "") if "." in qualname else super().get_serializer_name(serializer, direction)
