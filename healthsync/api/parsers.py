"""The JSON parser of the API (``DEFAULT_PARSER_CLASSES``): DRF's, with a limit on nesting.

Python's decoder recurses once per level of ``[`` or ``{``: a body of a few hundred kilobytes of
brackets ends in ``RecursionError`` (a 500), and anything deeper than a few levels that does parse
is walked recursively again by serializers and the error handler. Bodies nested deeper than
``MAX_DEPTH`` are refused before decoding with 400 ``parse_error``, in the API's error shape.
"""

import codecs
import re

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

# No request of HealthSync nests more than a few levels (a FHIR-like body, a list of objects).
MAX_DEPTH = 32

# A JSON string (skipped whole: brackets inside strings do not nest) or one bracket.
_TOKENS = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)


def nesting_depth(text: str, limit: int) -> int:
    """How deeply ``text``'s arrays and objects nest, counting no further than ``limit`` + 1."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif token == "]" or token == "}":
            depth -= 1
    return deepest


class JSONParser(parsers.JSONParser):
    max_depth = MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            if nesting_depth(text, self.max_depth) > self.max_depth:
                raise ParseError(
                    f"JSON parse error - the body nests more than {self.max_depth} levels of arrays and objects."
                )
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except (ValueError, LookupError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {exc}") from None
