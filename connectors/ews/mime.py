"""GetItem with ``MimeContent``, decoded while the response streams in.

exchangelib's ordinary GetItem reads the whole SOAP response into an lxml tree, so a message with
a 1 GiB attachment would sit in memory base64-encoded and again decoded. This service does for
``t:MimeContent`` what exchangelib's own ``GetAttachment.stream_file_content`` does for an
attachment's ``t:Content``: the HTTP response is read as a stream, a SAX parser hands over the
element's base64 text as it arrives, and it is decoded in blocks of four characters. A response
without ``MimeContent`` (an EWS error: item not found, server busy ...) is parsed again the normal
way, so exchangelib raises its usual exception for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from exchangelib.fields import FieldPath
from exchangelib.items import Item
from exchangelib.properties import ItemId
from exchangelib.services import GetItem
from exchangelib.util import (
    TNS,
    DummyResponse,
    ElementNotFound,
    StreamingBase64Parser,
    StreamingContentHandler,
)

_MIME_FIELD = FieldPath(field=Item.get_field_by_fieldname("mime_content"))


class StreamingMimeGetItem(GetItem):  # type: ignore[misc]
    """``GetItem`` of one item's ``MimeContent``, yielded as decoded byte blocks."""

    def _update_api_version(self, api_version: Any, header: Any) -> None:
        if not self.streaming:
            super()._update_api_version(api_version, header)

    def _get_soap_parts(self, response: Any) -> Any:
        if not self.streaming:
            return super()._get_soap_parts(response)
        return None, response  # the raw response, for the streaming parser

    def _get_soap_messages(self, body: Any) -> Any:
        if not self.streaming:
            return super()._get_soap_messages(body)
        parser = StreamingBase64Parser()
        handler = StreamingContentHandler(parser=parser, ns=TNS, element_name="MimeContent")
        parser.setContentHandler(handler)
        return parser.parse(body)

    def stream_mime(self, item_id: str, changekey: str | None = None) -> Iterator[bytes]:
        payload = self.get_payload(
            items=[ItemId(id=item_id, changekey=changekey)],
            additional_fields=[_MIME_FIELD],
            shape="IdOnly",
        )
        self.streaming = True
        try:
            for block in self._get_response_xml(payload=payload):
                if block:
                    yield block
        except ElementNotFound as missing:
            # No MimeContent in the answer: let the ordinary parser raise the EWS error it holds.
            # A SOAP fault comes as HTTP 500, whose body exchangelib's response check has already
            # read (``response.content``), so the stream had nothing left: take it from there.
            data = missing.data
            if not data and self._streaming_response is not None:
                data = self._streaming_response.content
            self.stop_streaming()
            self.streaming = False
            _, body = super()._get_soap_parts(response=DummyResponse(content=data))
            messages = super()._get_soap_messages(body=body)
            for element in self._get_elements_in_response(response=messages):
                if isinstance(element, Exception):
                    raise element from None
            raise
        finally:
            if self.streaming:
                self.stop_streaming()
            self.streaming = False
